"""Signal degradations that real uploads suffer.

Noise, lossy codecs, band-limiting, gain, clipping, small tempo/pitch changes and room reverb.

Every degradation is a pure function ``f(y, sr, *, <strength>, ...) -> y`` on float32 mono audio of shape
``(n_samples,)`` that returns a new float32 array of the same length (:func:`time_stretch` is the one
exception: it changes the length by ``1 / rate``; :func:`fix_length` brings it back when needed). Random
degradations take an explicit ``np.random.Generator``.

The registry :data:`DEGRADATIONS` names each degradation with its strength parameter and the levels the
robustness evaluation uses, ordered from mild to severe; :func:`apply` runs one by name and level, and
:func:`resolve` expands group names (``noise``, ``codec``, ``bandlimit``, ``gain``, ``all``) into
degradation names. The same functions serve as training-time augmentation
(:class:`genrekit.features.augmenting.AugmentingExtractor`).

Measured behaviour (see ``tests/test_degrade.py``): the SNR of :func:`add_noise` is exact (the realised
noise is scaled, not its expectation); the codec round trip keeps the length and the alignment (the
LAME encoder delay of constant-bitrate MP3 is found by cross-correlation and removed); :func:`lowpass`
(8th-order Butterworth run forwards and backwards, zero phase) attenuates by more than 50 dB from 1.5x
its cut-off.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrekit.errors import AudioError, ConfigError, unknown_name

__all__ = [
    "DEGRADATIONS",
    "GROUPS",
    "Degradation",
    "add_noise",
    "apply",
    "codec",
    "encode",
    "fix_length",
    "gain_clip",
    "lowpass",
    "measure_snr_db",
    "pink_noise",
    "phase_vocoder_stretch",
    "pitch_shift",
    "resolve",
    "reverb",
    "telephone",
    "time_stretch",
]

#: Pink noise is 1/f above this frequency and flat below it (so that inaudible rumble does not take
#: half of the noise power on long signals).
PINK_FLOOR_HZ = 20.0
#: Sample rates an MPEG-1/2 layer III stream can carry; other rates are resampled to 22050 Hz and back.
MP3_RATES: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: The MP3 bitrate of :func:`encode` and :func:`codec` when none is given (kbps).
DEFAULT_MP3_KBPS = 64.0
#: Largest lag (samples) searched when re-aligning a decoded stream with its input.
MAX_CODEC_LAG = 4096
#: 60 dB of energy decay = a factor 1000 in amplitude: ln(1000).
_LN_1000 = float(np.log(1000.0))


# ---------------------------------------------------------------------------------------------- helpers
def _check_signal(y: Any, name: str = "y") -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(f"{name} must be mono audio of shape (n_samples,); got shape {y.shape}")
    if y.size == 0:
        raise AudioError(f"{name} is empty; a degradation needs at least one sample")
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{name} contains NaN or infinite samples")
    return y


def _check_sr(sr: int) -> int:
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ConfigError(f"sr must be a positive integer sample rate in Hz; got {sr!r}")
    return int(sr)


def fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Trim ``y`` to ``n`` samples, or extend it by repeating it from its start (no silent gap).

    Parameters
    ----------
    y : np.ndarray, shape (m,)
    n : int
        Target length (>= 0).

    Returns
    -------
    np.ndarray, float32, shape (n,)
    """
    y = np.asarray(y, dtype=np.float32)
    if len(y) >= n:
        return y[:n].copy()
    if len(y) == 0:
        return np.zeros(n, dtype=np.float32)
    reps = -(-n // len(y))
    return np.tile(y, reps)[:n].astype(np.float32)


def measure_snr_db(clean: np.ndarray, degraded: np.ndarray) -> float:
    """Signal-to-noise ratio of ``degraded`` against ``clean`` in dB: ``10 log10(sum c^2 / sum (d - c)^2)``.

    Returns ``inf`` when the two are identical.
    """
    c = np.asarray(clean, dtype=np.float64)
    d = np.asarray(degraded, dtype=np.float64)
    if c.shape != d.shape:
        raise ConfigError(f"clean and degraded must have the same shape; got {c.shape} and {d.shape}")
    noise = float(np.sum((d - c) ** 2))
    signal = float(np.sum(c**2))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * float(np.log10(signal / noise))


# ------------------------------------------------------------------------------------------------ noise
def pink_noise(n: int, sr: int, rng: np.random.Generator, *, floor_hz: float = PINK_FLOOR_HZ) -> np.ndarray:
    """Gaussian noise with a 1/f power spectrum (flat below ``floor_hz``), unit mean power.

    White Gaussian noise is shaped in the frequency domain by ``1 / sqrt(max(f, floor_hz))`` (power
    ``1/f``: equal power per octave) with the DC bin removed.

    Returns
    -------
    np.ndarray, float64, shape (n,)
    """
    white = rng.standard_normal(n)
    if n < 2:
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, d=1.0 / sr)
    spec *= 1.0 / np.sqrt(np.maximum(f, floor_hz))
    spec[0] = 0.0
    out = np.fft.irfft(spec, n=n)
    power = float(np.mean(out**2))
    return out / np.sqrt(power) if power > 0 else out


def add_noise(
    y: np.ndarray,
    sr: int,
    *,
    snr_db: float,
    color: str = "white",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Add white or pink Gaussian noise at an exact signal-to-noise ratio.

    The realised noise is scaled so that ``10 log10(sum y^2 / sum noise^2) == snr_db`` (the power of the
    whole signal, silences included, is the reference). A silent signal is returned unchanged (its SNR
    is undefined).

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
    sr : int
    snr_db : float
        Target SNR in dB (lower = noisier).
    color : {"white", "pink"}
    rng : np.random.Generator, optional
        Source of the noise (default: seeded with 0).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        No clipping is applied.
    """
    y = _check_signal(y)
    sr = _check_sr(sr)
    if not np.isfinite(snr_db):
        raise ConfigError(f"snr_db must be a finite number of dB; got {snr_db!r}")
    if color not in ("white", "pink"):
        raise unknown_name("noise color", color, ("white", "pink"))
    rng = rng if rng is not None else np.random.default_rng(0)
    y64 = y.astype(np.float64)
    p_signal = float(np.mean(y64**2))
    if p_signal == 0.0:
        return y.copy()
    noise = rng.standard_normal(len(y)) if color == "white" else pink_noise(len(y), sr, rng)
    p_noise = float(np.mean(noise**2))
    if p_noise == 0.0:  # pragma: no cover - a one-sample pink noise can be exactly 0
        return y.copy()
    noise *= np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (y64 + noise).astype(np.float32)


# ------------------------------------------------------------------------------------------------ codec
def _mp3_compression(bitrate_kbps: float, sr: int) -> float:
    """The libsndfile compression level that makes LAME use ``bitrate_kbps`` in constant-bitrate mode.

    libsndfile 1.2 maps compression ``c`` in [0, 1] linearly onto the bitrate range of the MPEG version
    the sample rate implies: [32, 320] kbps from 32 kHz, [8, 160] from 16 kHz, [8, 64] below.
    LAME then rounds to the nearest bitrate the stream allows.
    """
    lo, hi = _mp3_bitrate_range(sr)
    if not lo <= bitrate_kbps <= hi:
        raise ConfigError(
            f"bitrate_kbps {bitrate_kbps:g} is outside the MP3 range for {sr} Hz audio ({lo:g}-{hi:g} kbps)"
        )
    # the very lowest bitrate (c = 1.0) is refused by libsndfile's LAME setup; stay a hair above it
    return float(min((hi - bitrate_kbps) / (hi - lo), 0.99))


def _mp3_kbps(bitrate_kbps: float | None) -> float:
    """The MP3 bitrate asked for, or :data:`DEFAULT_MP3_KBPS`."""
    return DEFAULT_MP3_KBPS if bitrate_kbps is None else float(bitrate_kbps)


def _mp3_bitrate_range(sr: int) -> tuple[float, float]:
    return (32.0, 320.0) if sr >= 32000 else (8.0, 160.0) if sr >= 16000 else (8.0, 64.0)


def _mp3_rate(sr: int, bitrate_kbps: float) -> int:
    """``sr`` when MP3 carries it at ``bitrate_kbps``, else the highest MP3 rate below ``sr`` that does."""

    def ok(rate: int) -> bool:
        lo, hi = _mp3_bitrate_range(rate)
        return lo <= bitrate_kbps <= hi

    if sr in MP3_RATES and ok(sr):
        return sr
    for rate in sorted(MP3_RATES, reverse=True):
        if rate <= max(sr, MP3_RATES[0]) and ok(rate):
            return rate
    return sr  # no rate offers it: encode() names the valid range


def encode(
    y: np.ndarray,
    sr: int,
    *,
    format: str = "mp3",
    bitrate_kbps: float | None = None,
    quality: float | None = None,
) -> bytes:
    """Encode mono audio to MP3 (constant bitrate) or Ogg Vorbis bytes with soundfile (libsndfile >= 1.1).

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
    sr : int
        Must be an MP3 rate (:data:`MP3_RATES`) for ``format="mp3"``.
    format : {"mp3", "ogg"}
    bitrate_kbps : float, optional
        MP3 only: nominal constant bitrate (default :data:`DEFAULT_MP3_KBPS`, 64).
    quality : float, optional
        Ogg only: Vorbis quality in [0, 1] (libsndfile's ``1 - compression_level``; 0 is the lowest,
        about 30 kbps for mono 22.05 kHz; default 0.4).

    Returns
    -------
    bytes
    """
    import soundfile as sf

    y = np.clip(_check_signal(y), -1.0, 1.0)
    sr = _check_sr(sr)
    if format == "mp3":
        if sr not in MP3_RATES:
            raise ConfigError(
                f"MP3 cannot carry {sr} Hz audio; valid rates: {', '.join(map(str, MP3_RATES))}"
            )
        kw: dict[str, Any] = {
            "format": "MP3",
            "subtype": "MPEG_LAYER_III",
            "compression_level": _mp3_compression(_mp3_kbps(bitrate_kbps), sr),
            "bitrate_mode": "CONSTANT",
        }
    elif format == "ogg":
        q = 0.4 if quality is None else float(quality)
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"Vorbis quality must be in [0, 1]; got {q:g}")
        kw = {"format": "OGG", "subtype": "VORBIS", "compression_level": 1.0 - q}
    else:
        raise unknown_name("codec format", format, ("mp3", "ogg"))
    buf = io.BytesIO()
    try:
        sf.write(buf, y, sr, **kw)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"soundfile could not encode {format} ({exc}); it needs libsndfile >= 1.1 with MP3/Vorbis "
            f"support (have {sf.__libsndfile_version__})"
        ) from None
    return buf.getvalue()


def _align(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cut ``decoded`` to ``reference``'s length, removing a leading codec delay found by correlation."""
    n, m = len(reference), len(decoded)
    if m > n:
        from scipy.signal import correlate

        max_lag = min(m - n, MAX_CODEC_LAG)
        win = min(n, 10 * MAX_CODEC_LAG)
        c = correlate(
            decoded[: win + max_lag].astype(np.float64),
            reference[:win].astype(np.float64),
            mode="valid",
            method="fft",
        )
        lag = int(np.argmax(c[: max_lag + 1])) if np.any(c) else 0
        return decoded[lag : lag + n].astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    out[:m] = decoded
    return out


def codec(
    y: np.ndarray,
    sr: int,
    *,
    format: str = "mp3",
    bitrate_kbps: float | None = None,
    quality: float | None = None,
) -> np.ndarray:
    """Lossy re-encoding round trip: encode with :func:`encode`, decode, re-align to the input.

    Constant-bitrate MP3 streams from libsndfile carry the LAME encoder delay (1105 samples) and
    padding; it is located by cross-correlation (lags 0-4096) and cut, and the result trimmed or
    zero-padded to the input length. Audio at a rate MP3 cannot carry, or at a rate whose MPEG version
    does not offer the bitrate (16 kbps at 44.1 kHz), is resampled to the highest MP3 rate below it that
    does (24000 Hz there; what LAME itself does for low bitrates) and back.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
    sr : int
    format : {"mp3", "ogg"}
    bitrate_kbps, quality : float, optional
        See :func:`encode`.

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    import soundfile as sf

    from genrekit.audio import resample

    y = _check_signal(y)
    sr = _check_sr(sr)
    work_sr = _mp3_rate(sr, _mp3_kbps(bitrate_kbps)) if format == "mp3" else sr
    x = resample(y, sr, work_sr)
    data = encode(x, work_sr, format=format, bitrate_kbps=bitrate_kbps, quality=quality)
    try:
        z, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except sf.LibsndfileError as exc:  # pragma: no cover - our own stream should always decode
        raise AudioError(f"the {format} round trip did not decode ({exc})") from None
    z = np.asarray(z, dtype=np.float32)
    if z.ndim == 2:
        z = z.mean(axis=1)
    z = _align(z, x)
    return fix_length(resample(z, work_sr, sr), len(y)) if work_sr != sr else z


# ------------------------------------------------------------------------------------------- filtering
def lowpass(y: np.ndarray, sr: int, *, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass: ``order`` poles run forwards and backwards (twice the slope).

    A cut-off at or above Nyquist returns a copy.

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    from scipy.signal import butter, sosfiltfilt

    y = _check_signal(y)
    sr = _check_sr(sr)
    if not cutoff_hz > 0:
        raise ConfigError(f"cutoff_hz must be > 0; got {cutoff_hz!r}")
    if cutoff_hz >= sr / 2:
        return y.copy()
    sos = butter(int(order), float(cutoff_hz), btype="lowpass", fs=sr, output="sos")
    return _filtfilt(sos, y, sosfiltfilt)


def _filtfilt(sos: np.ndarray, y: np.ndarray, sosfiltfilt: Callable[..., np.ndarray]) -> np.ndarray:
    padlen = min(len(y) - 1, 3 * (2 * len(sos) + 1))
    return np.asarray(sosfiltfilt(sos, y.astype(np.float64), padlen=max(padlen, 0)), dtype=np.float32)


def telephone(
    y: np.ndarray, sr: int, *, high_hz: float = 3400.0, low_hz: float = 300.0, order: int = 4
) -> np.ndarray:
    """Telephone-like band-limiting: zero-phase Butterworth band-pass ``low_hz``-``high_hz`` (300-3400 Hz).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    from scipy.signal import butter, sosfiltfilt

    y = _check_signal(y)
    sr = _check_sr(sr)
    if not 0 < low_hz < high_hz:
        raise ConfigError(f"need 0 < low_hz < high_hz; got {low_hz!r}, {high_hz!r}")
    if high_hz >= sr / 2:
        sos = butter(int(order), float(low_hz), btype="highpass", fs=sr, output="sos")
    else:
        sos = butter(int(order), (float(low_hz), float(high_hz)), btype="bandpass", fs=sr, output="sos")
    return _filtfilt(sos, y, sosfiltfilt)


# --------------------------------------------------------------------------------------- level, timing
def gain_clip(y: np.ndarray, *, gain_db: float) -> np.ndarray:
    """Apply ``gain_db`` and hard-clip to [-1, 1] (positive gains clip loud passages).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    y = _check_signal(y)
    if not np.isfinite(gain_db):
        raise ConfigError(f"gain_db must be finite; got {gain_db!r}")
    return np.clip(y.astype(np.float64) * 10.0 ** (gain_db / 20.0), -1.0, 1.0).astype(np.float32)


def _stft(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred Hann-window STFT, shape (n_fft // 2 + 1, n_frames) (librosa's framing and zero padding).

    Zero (not reflect) padding matters to the phase vocoder: a reflected first frame gives the bins of
    one sinusoid inconsistent phases, and the stretched output then partly cancels itself.
    """
    pad = n_fft // 2
    yp = np.pad(y.astype(np.float64), pad)
    if len(yp) < n_fft:
        yp = np.pad(yp, (0, n_fft - len(yp)))
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]
    return np.fft.rfft(frames * _hann(n_fft), axis=1).T


def _hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)  # periodic, as librosa/scipy use for STFTs


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft` (``n_fft`` a multiple of ``hop``), ``length`` samples."""
    win = _hann(n_fft)
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * win
    n_frames, k = frames.shape[0], n_fft // hop
    out = np.zeros((n_frames + k - 1, hop))
    wsum = np.zeros((n_frames + k - 1, hop))
    for j in range(k):
        out[j : j + n_frames] += frames[:, j * hop : (j + 1) * hop]
        wsum[j : j + n_frames] += (win[j * hop : (j + 1) * hop] ** 2)[None, :]
    out, wsum = out.reshape(-1), wsum.reshape(-1)
    out = np.divide(out, wsum, out=np.zeros_like(out), where=wsum > 1e-10)
    out = out[n_fft // 2 : n_fft // 2 + length]
    return np.pad(out, (0, length - len(out))) if len(out) < length else out


def phase_vocoder_stretch(y: np.ndarray, *, rate: float, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """Phase-vocoder time stretch (the algorithm of ``librosa.effects.time_stretch``, vectorised numpy).

    librosa's own version JIT-compiles with numba on its first call in every process (20-30 s here),
    which a test run or a worker pool cannot afford; this one has no compile step.

    Returns
    -------
    np.ndarray, float32, shape (round(n_samples / rate),)
    """
    spec = _stft(y, n_fft, hop)
    n_bins, n_frames = spec.shape
    steps = np.arange(0.0, n_frames, rate)
    padded = np.pad(spec, [(0, 0), (0, 2)])
    i0 = np.floor(steps).astype(np.int64)
    alpha = steps - i0
    s0, s1 = padded[:, i0], padded[:, i0 + 1]
    mag = (1.0 - alpha) * np.abs(s0) + alpha * np.abs(s1)
    advance = np.linspace(0.0, np.pi * hop, n_bins)[:, None]  # expected phase advance per hop
    dphase = np.angle(s1) - np.angle(s0) - advance
    dphase -= 2.0 * np.pi * np.round(dphase / (2.0 * np.pi))
    increments = np.cumsum(advance + dphase, axis=1)
    phase = np.angle(spec[:, :1]) + np.concatenate([np.zeros((n_bins, 1)), increments[:, :-1]], axis=1)
    out = _istft(mag * np.exp(1j * phase), n_fft, hop, int(round(len(y) / rate)))
    return out.astype(np.float32)


def time_stretch(y: np.ndarray, sr: int, *, rate: float) -> np.ndarray:
    """Change the tempo by ``rate`` (> 1 faster) keeping the pitch: phase vocoder, n_fft 2048, hop 512.

    Returns
    -------
    np.ndarray, float32, shape (round(n_samples / rate),)
        The length changes; use :func:`fix_length` for a fixed length.
    """
    y = _check_signal(y)
    _check_sr(sr)
    if not 0.25 <= rate <= 4.0:
        raise ConfigError(f"rate must be in [0.25, 4]; got {rate!r}")
    if rate == 1.0:
        return y.copy()
    return phase_vocoder_stretch(y, rate=float(rate))


def pitch_shift(y: np.ndarray, sr: int, *, semitones: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` keeping the tempo.

    The signal is stretched by ``2**(-semitones/12)`` and resampled (soxr) back to its original duration
    (librosa's method).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    import soxr

    y = _check_signal(y)
    sr = _check_sr(sr)
    if not -24 <= semitones <= 24:
        raise ConfigError(f"semitones must be in [-24, 24]; got {semitones!r}")
    if semitones == 0:
        return y.copy()
    rate = 2.0 ** (-float(semitones) / 12.0)
    stretched = phase_vocoder_stretch(y, rate=rate)
    out = soxr.resample(stretched, sr / rate, sr, quality="HQ")
    return fix_length(np.asarray(out, dtype=np.float32), len(y))


def reverb(
    y: np.ndarray,
    sr: int,
    *,
    rt60_s: float,
    rng: np.random.Generator | None = None,
    drr_db: float = 0.0,
    predelay_s: float = 0.01,
) -> np.ndarray:
    """Room-like reverb: convolve with a direct path plus an exponentially decaying noise tail.

    The impulse response is a unit impulse at 0 followed, after ``predelay_s``, by Gaussian noise
    whose amplitude decays by 60 dB in ``rt60_s`` and whose energy is ``drr_db`` below the direct
    path (direct-to-reverberant ratio). The output is cut to the input length and scaled to the input's
    RMS level (peaks may then slightly exceed 1; nothing is clipped).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
    """
    from scipy.signal import fftconvolve

    y = _check_signal(y)
    sr = _check_sr(sr)
    if not 0 < rt60_s <= 10:
        raise ConfigError(f"rt60_s must be in (0, 10] seconds; got {rt60_s!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    pre = int(round(predelay_s * sr))
    n_tail = max(1, int(round(rt60_s * sr)))
    t = np.arange(n_tail) / sr
    tail = rng.standard_normal(n_tail) * np.exp(-_LN_1000 * t / rt60_s)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
    h = np.zeros(pre + n_tail)
    h[0] = 1.0
    h[pre:] += tail
    out = fftconvolve(y.astype(np.float64), h)[: len(y)]
    rms_in, rms_out = float(np.sqrt(np.mean(y.astype(np.float64) ** 2))), float(np.sqrt(np.mean(out**2)))
    if rms_out > 0:
        out *= rms_in / rms_out
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------- registry
Fn = Callable[[np.ndarray, int, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Degradation:
    """A named degradation with its strength parameter and evaluation levels.

    Attributes
    ----------
    name : str
    fn : callable
        ``fn(y, sr, level, rng) -> y``.
    levels : tuple of float
        Strengths the robustness evaluation uses, ordered from mild to severe.
    unit : str
        Unit of the level, for labels (``"dB SNR"``, ``"kbps"``, ...).
    param : str
        The keyword of the underlying function the level sets.
    description : str
    augment_range : tuple of (float, float)
        Interval a training-time augmentation draws its level from (uniformly).
    """

    name: str
    fn: Fn
    levels: tuple[float, ...]
    unit: str
    param: str
    description: str
    augment_range: tuple[float, float]

    def label(self, level: float) -> str:
        """``"10 dB SNR"``, ``"32 kbps"``, ... for tables and plots."""
        return f"{level:g} {self.unit}".strip()

    def sample_level(self, rng: np.random.Generator) -> float:
        """A level drawn uniformly from :attr:`augment_range`."""
        lo, hi = self.augment_range
        return float(lo if lo == hi else rng.uniform(lo, hi))


def _reg(
    name: str,
    fn: Fn,
    levels: Sequence[float],
    unit: str,
    param: str,
    description: str,
    augment_range: tuple[float, float] | None = None,
) -> Degradation:
    lv = tuple(float(v) for v in levels)
    rng_ = augment_range if augment_range is not None else (min(lv), max(lv))
    return Degradation(name, fn, lv, unit, param, description, (float(rng_[0]), float(rng_[1])))


#: A table on purpose, one degradation a row: name, ``fn(y, sr, level, rng)``, levels, unit, parameter,
#: description and augmentation range (default: the levels' span); the rows are alike in shape only.
DEGRADATIONS: dict[str, Degradation] = {
    d.name: d
    for d in (
        _reg("noise_white", lambda y, sr, v, rng: add_noise(y, sr, snr_db=v, color="white", rng=rng),
             (30, 20, 10), "dB SNR", "snr_db", "additive white Gaussian noise", (5.0, 35.0)),
        _reg("noise_pink", lambda y, sr, v, rng: add_noise(y, sr, snr_db=v, color="pink", rng=rng),
             (30, 20, 10), "dB SNR", "snr_db", "additive pink (1/f) Gaussian noise", (5.0, 35.0)),
        _reg("mp3", lambda y, sr, v, rng: codec(y, sr, format="mp3", bitrate_kbps=v),
             (64, 32, 16), "kbps", "bitrate_kbps",
             "MP3 constant-bitrate round trip (LAME via libsndfile)", (16.0, 96.0)),
        _reg("ogg", lambda y, sr, v, rng: codec(y, sr, format="ogg", quality=v),
             (0.5, 0.2, 0.0), "Vorbis q", "quality",
             "Ogg Vorbis round trip (quality 0 = lowest)", (0.0, 0.6)),
        _reg("lowpass", lambda y, sr, v, rng: lowpass(y, sr, cutoff_hz=v),
             (8000, 4000, 2000), "Hz", "cutoff_hz", "Butterworth low-pass", (1500.0, 8000.0)),
        _reg("telephone", lambda y, sr, v, rng: telephone(y, sr, high_hz=v),
             (3400,), "Hz", "high_hz", "telephone band-pass 300 Hz to the level"),
        _reg("quiet", lambda y, sr, v, rng: gain_clip(y, gain_db=v),
             (-10, -20, -30), "dB", "gain_db", "attenuation (a quiet recording)", (-30.0, -3.0)),
        _reg("clip", lambda y, sr, v, rng: gain_clip(y, gain_db=v),
             (6, 12, 20), "dB", "gain_db", "gain then hard clipping to [-1, 1]", (3.0, 20.0)),
        _reg("time_stretch", lambda y, sr, v, rng: time_stretch(y, sr, rate=v),
             (0.9, 0.95, 1.05, 1.1), "x tempo", "rate", "tempo change keeping the pitch", (0.88, 1.12)),
        _reg("pitch_shift", lambda y, sr, v, rng: pitch_shift(y, sr, semitones=v),
             (-2, -1, 1, 2), "semitones", "semitones", "pitch change keeping the tempo", (-2.0, 2.0)),
        _reg("reverb", lambda y, sr, v, rng: reverb(y, sr, rt60_s=v, rng=rng),
             (0.3, 0.6, 1.2), "s RT60", "rt60_s",
             "room reverb (decaying-noise impulse response)", (0.2, 1.5)),
    )
}
"""Every degradation by name; levels ordered mild to severe."""

#: Group names accepted wherever a list of degradations is (``--augment noise,codec``).
GROUPS: dict[str, tuple[str, ...]] = {
    "noise": ("noise_white", "noise_pink"),
    "codec": ("mp3", "ogg"),
    "bandlimit": ("lowpass", "telephone"),
    "gain": ("quiet", "clip"),
    "stretch": ("time_stretch",),
    "pitch": ("pitch_shift",),
    "all": tuple(DEGRADATIONS),
}


def resolve(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """Expand a comma-separated string or list of degradation and group names, keeping order, no repeats.

    ``None`` or ``""`` gives ``()``. Group names: :data:`GROUPS`.

    Raises
    ------
    ConfigError
        An unknown name (the message lists degradations and groups).
    """
    if spec is None:
        return ()
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    out: list[str] = []
    for item in items:
        if not item:
            continue
        names = GROUPS.get(item, (item,))
        for name in names:
            if name not in DEGRADATIONS:
                raise unknown_name("degradation", item, [*DEGRADATIONS, *GROUPS])
            if name not in out:
                out.append(name)
    return tuple(out)


def apply(
    name: str, level: float, y: np.ndarray, sr: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Apply the degradation ``name`` at strength ``level`` (in its unit, see :data:`DEGRADATIONS`).

    Returns
    -------
    np.ndarray, float32
        Same length as ``y`` except for ``time_stretch``.

    Raises
    ------
    ConfigError
        Unknown name (listing the valid ones) or a level out of the function's range.
    AudioError
        ``y`` is not finite mono audio.
    """
    if name not in DEGRADATIONS:
        raise unknown_name("degradation", name, list(DEGRADATIONS))
    rng = rng if rng is not None else np.random.default_rng(0)
    return DEGRADATIONS[name].fn(_check_signal(y), _check_sr(sr), float(level), rng)
