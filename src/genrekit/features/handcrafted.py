"""The GTZAN hand-crafted feature set (the Kaggle ``features_30_sec.csv`` / ``features_3_sec.csv`` table).

57 values per segment, in the table's column order (:func:`handcrafted_names`): mean and variance over
the frames of chroma_stft, rms, spectral centroid, bandwidth and rolloff, zero-crossing rate; mean and
variance over the *samples* of the harmonic and percussive signals of ``librosa.effects.hpss``
(``harmony``, ``perceptr``); the tempo of ``librosa.beat.beat_track``; mean and variance of each of 20
MFCCs. All at 22050 Hz, ``n_fft=2048``, ``hop_length=512`` and the defaults of each librosa function.

Exactness: the values equal those of the straightforward script that calls every librosa function on
the segment's samples (``benchmarks/bench_handcrafted.py: naive_features``) to 1e-4 relative, but
compute them ~5x faster:

* **one STFT** per segment. ``chroma_stft(S=|X|**2)``, ``spectral_centroid/bandwidth/rolloff(S=|X|)``,
  ``melspectrogram(S=|X|**2)`` and the STFT inside ``effects.hpss`` are all the same Hann/2048/512/
  centred/zero-padded transform, so feeding ``S`` gives identical values. Centroid and bandwidth come
  from the spectral moments ``sum S``, ``sum S f``, ``sum S f**2`` (one matrix product, float64),
  rolloff from the same float32 cumulative sum librosa uses.
* **rms and zero-crossing rate are computed from the samples**, not from ``S``: ``rms(S=)`` sums a
  *windowed* spectrum (Parseval on the Hann-windowed frame), which is not ``rms(y=)``'s plain mean of
  squares over the frame; both are cheap on samples (rms is ``librosa.feature.rms(y=)`` itself; the
  zero-crossing count uses a cumulative sum instead of librosa's numba kernel, same integer counts).
* **one log-mel for MFCC and tempo**: ``beat_track(y=)`` builds its onset envelope from
  ``power_to_db(melspectrogram(y))`` (median over bands) -- the very log-mel that ``mfcc(y=)`` takes the
  DCT of. The tempo is ``feature.tempo`` on that envelope (what ``beat_track`` returns; its beat
  positions are not needed). An all-zero envelope gives tempo 0, as ``beat_track`` does.
* **HPSS on the shared STFT**, with the two median filters (31 frames along time, 31 bins along
  frequency, ``mode="reflect"``) run as a single 1-D ``scipy.ndimage.median_filter`` over all rows
  laid end to end, each row first padded with its own mirror image: the same medians as the 2-D
  ``median_filter(S, size=(1, 31))`` librosa calls, ~10x faster (scipy's fast path is 1-D only). Soft
  masks as ``librosa.util.softmask(power=2, split_zeros=True)``, applied to the complex STFT (librosa
  applies them to ``|X|`` and multiplies the phase back: equal up to rounding), one ``istft`` each.
* **segments batched**: every segment of a track goes through each step at once (leading batch axis);
  what librosa would pool across a batch is kept per segment (the ``top_db`` clip of ``power_to_db``,
  the tuning estimate of ``chroma_stft``, which is re-implemented here without numba from
  ``librosa.piptrack`` + ``librosa.pitch_tuning``).

The reference is the librosa installed (0.11); the Kaggle table itself was made years earlier with an
older librosa, so a real GTZAN clip may not give exactly the table's numbers, but every column has the
table's definition and scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.ndimage

from genrekit.config import HOP_LENGTH, N_FFT, N_MFCC, SAMPLE_RATE, SEGMENT_S
from genrekit.errors import ConfigError
from genrekit.features.base import Extractor, check_segment_config, config_segments
from genrekit.features.spectrogram import (
    delta,
    log_mel_from_power,
    mfcc_from_log_mel,
    single_threaded_blas,
    stft,
)

#: Columns before the MFCCs, in the order of the Kaggle GTZAN table.
BASE_COLUMNS: tuple[str, ...] = (
    "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var",
    "spectral_centroid_mean", "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var",
    "rolloff_mean", "rolloff_var", "zero_crossing_rate_mean", "zero_crossing_rate_var",
    "harmony_mean", "harmony_var", "perceptr_mean", "perceptr_var", "tempo",
)
#: HPSS median-filter length (frames along time for the harmonic part, bins for the percussive part).
HPSS_KERNEL = 31
#: Spectral rolloff fraction (``librosa.feature.spectral_rolloff`` default).
ROLL_PERCENT = 0.85
#: Segments per vectorised batch: bounds memory (~10 MB of spectrogram per 3 s segment at 22050 Hz).
CHUNK_SEGMENTS = 16


#: Spectral-contrast sub-bands (``librosa.feature.spectral_contrast``: 6 octave bands from 200 Hz, + 1).
N_CONTRAST_BANDS = 6
#: Tempo range (BPM) searched by the pulse-clarity feature.
PULSE_BPM = (40.0, 200.0)


def handcrafted_names(n_mfcc: int = N_MFCC) -> list[str]:
    """Column names: the 17 base columns then ``mfcc{i}_mean``, ``mfcc{i}_var`` for i = 1..n_mfcc."""
    return [*BASE_COLUMNS, *(f"mfcc{i}_{s}" for i in range(1, n_mfcc + 1) for s in ("mean", "var"))]


def extended_names(n_mfcc: int = N_MFCC) -> list[str]:
    """Names of the columns ``extended=True`` appends after :func:`handcrafted_names`.

    The standard deviation of each MFCC's delta, mean and standard deviation of each spectral-contrast
    band and of the six tonnetz dimensions, spectral flatness, onset-strength mean and standard
    deviation, pulse clarity (the strongest normalised autocorrelation of the onset envelope between
    40 and 200 BPM) and the low-energy fraction (frames whose rms is below the segment's mean rms).
    """
    return [
        *(f"mfcc{i}_delta_std" for i in range(1, n_mfcc + 1)),
        *(f"contrast{b}_{s}" for b in range(1, N_CONTRAST_BANDS + 2) for s in ("mean", "std")),
        *(f"tonnetz{k}_{s}" for k in range(1, 7) for s in ("mean", "std")),
        "flatness_mean", "flatness_std", "onset_mean", "onset_std", "pulse_clarity", "low_energy",
    ]


#: Feature groups for ablations: group name -> predicate on a column name (summary suffixes ignored).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "mfcc": ("mfcc",),
    "chroma": ("chroma", "tonnetz"),
    "spectral shape": ("spectral_", "rolloff", "zero_crossing", "contrast", "flatness"),
    "rhythm": ("tempo", "onset", "pulse", "perceptr"),
    "energy": ("rms", "harmony", "low_energy"),
}


def feature_group(name: str) -> str:
    """The :data:`FEATURE_GROUPS` entry a column name belongs to (``"other"`` for none)."""
    for group, prefixes in FEATURE_GROUPS.items():
        if name.startswith(prefixes):
            return group
    return "other"


# ---- building blocks (pure, batched over leading axes) ----------------------------------------------
def median_filter_last_axis(x: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.median_filter(x, size=(1, ..., 1, size), mode="reflect")``, computed fast.

    Every row is padded with its own mirror image (``np.pad(mode="symmetric")`` is ndimage's
    ``"reflect"``) and all rows are filtered as one long 1-D signal, where scipy has a fast path; the
    windows of the kept samples never reach into a neighbouring row, so the medians are identical.

    Parameters
    ----------
    x : np.ndarray, shape (..., n)
    size : int
        Odd window length.

    Returns
    -------
    np.ndarray, same shape and dtype as ``x``
    """
    h = size // 2
    n = x.shape[-1]
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(h, h)], mode="symmetric")
    flat = scipy.ndimage.median_filter(padded.reshape(-1), size=size, mode="reflect")
    return flat.reshape(padded.shape)[..., h : h + n]


def hpss_masks(mag: np.ndarray, *, kernel_size: int = HPSS_KERNEL) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive soft masks of ``librosa.decompose.hpss`` (power 2, margin 1).

    Parameters
    ----------
    mag : np.ndarray, float32, shape (..., n_bins, n_frames)
        Magnitude spectrogram.

    Returns
    -------
    mask_harm, mask_perc : np.ndarray, float32, shape like ``mag``
        ``H**2 / (H**2 + P**2)`` and ``P**2 / (H**2 + P**2)`` of the median-filtered spectrograms, 0.5
        where both are zero (``split_zeros``).
    """
    harm = median_filter_last_axis(mag, kernel_size)
    perc_t = median_filter_last_axis(np.ascontiguousarray(np.swapaxes(mag, -1, -2)), kernel_size)
    perc = np.swapaxes(perc_t, -1, -2)
    z = np.maximum(harm, perc)
    bad = z < np.finfo(mag.dtype).tiny
    z[bad] = 1
    mh = (harm / z) ** 2
    mp = (perc / z) ** 2
    denom = mh + mp
    denom[bad] = 1
    mask_h = mh / denom
    mask_p = mp / denom
    mask_h[bad] = 0.5
    mask_p[bad] = 0.5
    return mask_h, mask_p


def zero_crossing_rate(x: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(x, frame_length=..., hop_length=...)`` without numba.

    Centred frames (edge padding), samples within 1e-10 of zero count as positive zeros, a crossing
    is a sign-bit change between consecutive samples inside a frame, divided by ``frame_length``.

    Parameters
    ----------
    x : np.ndarray, shape (..., n_samples)

    Returns
    -------
    np.ndarray, float64, shape (..., 1 + n_samples // hop_length)
    """
    half = frame_length // 2
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="edge")
    threshold = np.asarray(1e-10, dtype=xp.dtype)
    sign = np.signbit(np.where(np.abs(xp) <= threshold, 0, xp))
    cross = sign[..., 1:] != sign[..., :-1]  # cross[k]: between samples k and k+1
    csum = np.concatenate([np.zeros(x.shape[:-1] + (1,), np.int64), np.cumsum(cross, axis=-1)], axis=-1)
    n_frames = 1 + (xp.shape[-1] - frame_length) // hop_length
    starts = np.arange(n_frames) * hop_length
    counts = csum[..., starts + frame_length - 1] - csum[..., starts]
    return counts / frame_length


def estimate_tuning(S_power: np.ndarray, *, sr: int, n_fft: int) -> np.ndarray:
    """``librosa.estimate_tuning(S=S, sr=sr, n_fft=n_fft)`` (12 bins per octave) for each leading item.

    ``chroma_stft(y=)`` runs this on its power spectrogram; librosa's ``piptrack`` uses a numba
    stencil whose shared cache breaks when processes compile it at the same time, and on a batch it
    would pool all items, so it is re-done here in numpy with the same arithmetic (parabolic peak
    interpolation, peaks over 10 % of the frame maximum between 150 and 4000 Hz, those at or above the
    median peak magnitude, ``librosa.pitch_tuning`` histogram). Below 8000 Hz sampling the Nyquist bin
    is not considered as a peak (librosa's edge rule for it is not reproduced).

    Parameters
    ----------
    S_power : np.ndarray, float32, shape (n, n_bins, n_frames)

    Returns
    -------
    np.ndarray, float64, shape (n,)
        Tuning offsets in fractions of a bin, on librosa's 0.01 grid.
    """
    import librosa

    S = np.abs(S_power)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    fmax = min(4000.0, float(sr) / 2)
    in_band = np.flatnonzero((150.0 <= freqs) & (freqs < fmax))
    out = np.zeros(len(S), dtype=np.float64)
    if in_band.size == 0:
        return out
    lo, hi = max(int(in_band[0]), 1), min(int(in_band[-1]), S.shape[-2] - 2)
    k = np.arange(lo, hi + 1)
    x0 = S[:, lo : hi + 1]
    xm1 = S[:, lo - 1 : hi]
    xp1 = S[:, lo + 1 : hi + 2]
    # librosa.core.pitch._pi_stencil (numba promotes `2 * x[0]` and `/ 2` to float64)
    a = (xp1 + xm1).astype(np.float64) - 2.0 * x0.astype(np.float64)
    b = (xp1 - xm1).astype(np.float64) / 2
    ok = np.abs(b) < np.abs(a)
    shift = np.zeros(a.shape, dtype=S.dtype)
    np.divide(-b, a, out=a, where=ok)
    shift[ok] = a[ok]
    avg = (xp1 - xm1) / 2.0  # np.gradient, interior
    dskew = 0.5 * avg * shift
    ref = 0.1 * S.max(axis=-2, keepdims=True)
    thresholded = S[:, lo - 1 : hi + 2] * (S[:, lo - 1 : hi + 2] > ref)
    t0 = thresholded[:, 1:-1]
    peak = (t0 > thresholded[:, :-2]) & (t0 >= thresholded[:, 2:])
    for i in range(len(S)):
        seg_k, seg_t = np.nonzero(peak[i])
        if seg_k.size == 0:
            continue
        pitch = ((k[seg_k] + shift[i, seg_k, seg_t].astype(np.float64)) * float(sr) / n_fft)
        pitch = pitch.astype(S.dtype)
        mag = S[i, lo + seg_k, seg_t] + dskew[i, seg_k, seg_t]
        positive = pitch > 0
        if not positive.any():
            continue
        threshold = np.median(mag[positive])
        chosen = pitch[(mag >= threshold) & positive]
        if np.any(chosen[chosen > 0]):
            out[i] = librosa.pitch_tuning(chosen, resolution=0.01, bins_per_octave=12)
    return out


@lru_cache(maxsize=256)
def _chroma_filterbank(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    import librosa

    fb = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=12)
    fb.setflags(write=False)
    return fb


def chroma_stft(S_power: np.ndarray, *, sr: int, n_fft: int) -> np.ndarray:
    """``librosa.feature.chroma_stft(S=S_power, sr=sr)`` with the tuning estimated per leading item.

    Parameters
    ----------
    S_power : np.ndarray, float32, shape (n, n_bins, n_frames)

    Returns
    -------
    np.ndarray, float32, shape (n, 12, n_frames)
        Each frame scaled to a maximum of 1 (``norm=inf``); all-zero frames stay zero.
    """
    import librosa

    tunings = estimate_tuning(S_power, sr=sr, n_fft=n_fft)
    raw = np.empty((len(S_power), 12, S_power.shape[-1]), dtype=np.float32)
    for tuning in np.unique(tunings):
        sel = np.flatnonzero(tunings == tuning)
        raw[sel] = np.matmul(_chroma_filterbank(sr, n_fft, float(tuning)), S_power[sel])
    return librosa.util.normalize(raw, norm=np.inf, axis=-2)


def spectral_shape(mag: np.ndarray, *, sr: int, n_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral centroid, bandwidth (p=2) and rolloff (85 %) of a magnitude spectrogram.

    The same definitions as ``librosa.feature.spectral_centroid/bandwidth/rolloff(S=mag)``, computed
    from the moments ``sum S``, ``sum S f``, ``sum S f**2`` in float64 (one pass, no ``(bins, frames)``
    temporaries); frames with no energy give 0 for all three, as librosa does.

    Parameters
    ----------
    mag : np.ndarray, float32, shape (..., n_bins, n_frames)

    Returns
    -------
    centroid, bandwidth, rolloff : np.ndarray, float64, shape (..., n_frames)
    """
    import librosa

    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    basis = np.stack([np.ones_like(freqs), freqs, freqs**2])  # (3, n_bins)
    m0, m1, m2 = np.moveaxis(np.matmul(basis, mag.astype(np.float64)), -2, 0)
    has_energy = m0 >= np.finfo(mag.dtype).tiny
    safe = np.where(has_energy, m0, 1.0)
    centroid = np.where(has_energy, m1 / safe, 0.0)
    spread = np.where(has_energy, m2 / safe - centroid**2, 0.0)
    bandwidth = np.sqrt(np.maximum(spread, 0.0))
    total = np.cumsum(mag, axis=-2)  # float32, as librosa
    threshold = ROLL_PERCENT * total[..., -1:, :]
    rolloff = freqs[np.argmax(total >= threshold, axis=-2)]
    return centroid, bandwidth, rolloff


def tempo_from_log_mel(log_mel_db: np.ndarray, *, sr: int, hop_length: int, n_fft: int) -> np.ndarray:
    """Tempo (BPM) as ``librosa.beat.beat_track(y=)`` returns it, from the segment's log-mel.

    Parameters
    ----------
    log_mel_db : np.ndarray, shape (n, n_mels, n_frames)
        ``power_to_db(melspectrogram(y))`` of each segment.

    Returns
    -------
    np.ndarray, float64, shape (n,)
        0 for a segment without onsets (silence, constant tone).
    """
    import librosa

    env = librosa.onset.onset_strength(
        S=log_mel_db, sr=sr, hop_length=hop_length, n_fft=n_fft, aggregate=np.median
    )
    bpm = librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop_length, start_bpm=120.0)
    bpm = np.asarray(bpm, dtype=np.float64).reshape(len(env), -1)[:, 0]
    return np.where(env.any(axis=-1), bpm, 0.0)


def _mean_var(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    x64 = np.asarray(x, dtype=np.float64)
    return x64.mean(axis=axes), x64.var(axis=axes)


def pulse_clarity(env: np.ndarray, *, sr: int, hop_length: int) -> np.ndarray:
    """Strongest normalised autocorrelation of onset envelopes at lags of 40-200 BPM.

    Parameters
    ----------
    env : np.ndarray, shape (n, n_frames)

    Returns
    -------
    np.ndarray, float64, shape (n,), in [-1, 1]; 0 for a flat envelope.
    """
    x = np.asarray(env, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    n_frames = x.shape[-1]
    fps = sr / hop_length
    lo = max(1, int(np.floor(60.0 * fps / PULSE_BPM[1])))
    hi = min(n_frames - 1, int(np.ceil(60.0 * fps / PULSE_BPM[0])))
    out = np.zeros(len(x))
    if hi < lo:
        return out
    spec = np.fft.rfft(x, n=2 * n_frames, axis=-1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=-1)[..., : n_frames]
    zero = ac[..., 0]
    ok = zero > 1e-12
    out[ok] = ac[ok, lo : hi + 1].max(axis=-1) / zero[ok]
    return out


def handcrafted_features(
    segs: np.ndarray,
    *,
    sr: int,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mfcc: int = N_MFCC,
    extended: bool = False,
) -> np.ndarray:
    """The 17 + 2 * n_mfcc GTZAN features of each equal-length segment (and the extended ones).

    Parameters
    ----------
    segs : np.ndarray, float32, shape (n_segments, n_samples)
    extended : bool
        Append the :func:`extended_names` columns.

    Returns
    -------
    np.ndarray, float64, shape (n_segments, 17 + 2 * n_mfcc [+ len(extended_names(n_mfcc))])
        Columns in :func:`handcrafted_names` (then :func:`extended_names`) order.
    """
    import librosa

    segs = np.ascontiguousarray(segs, dtype=np.float32)
    n, length = segs.shape
    n_base = len(BASE_COLUMNS) + 2 * n_mfcc
    n_ext = len(extended_names(n_mfcc)) if extended else 0
    out = np.empty((n, n_base + n_ext), dtype=np.float64)
    if n == 0:
        return out

    D = stft(segs, n_fft=n_fft, hop_length=hop_length)  # (n, bins, frames), the one STFT
    mag = np.abs(D)
    power = mag**2

    chroma = chroma_stft(power, sr=sr, n_fft=n_fft)
    out[:, 0], out[:, 1] = _mean_var(chroma, (-2, -1))
    ext = out[:, n_base:]
    if extended:
        col = n_mfcc
        contrast = librosa.feature.spectral_contrast(
            S=mag, sr=sr, n_fft=n_fft, hop_length=hop_length, n_bands=N_CONTRAST_BANDS
        )
        ext[:, col : col + 14 : 2] = contrast.mean(axis=-1)
        ext[:, col + 1 : col + 14 : 2] = contrast.std(axis=-1)
        col += 14
        tonnetz = librosa.feature.tonnetz(chroma=chroma, sr=sr)
        ext[:, col : col + 12 : 2] = tonnetz.mean(axis=-1)
        ext[:, col + 1 : col + 12 : 2] = tonnetz.std(axis=-1)
        col += 12
        log_power = np.log(np.maximum(power, 1e-10, dtype=np.float32), dtype=np.float32)
        flatness = np.exp(log_power.mean(axis=-2)) / np.maximum(power.mean(axis=-2), 1e-10)
        ext[:, col], ext[:, col + 1] = flatness.mean(axis=-1), flatness.std(axis=-1)
        del log_power

    rms = librosa.feature.rms(y=segs, frame_length=n_fft, hop_length=hop_length)[:, 0]
    out[:, 2], out[:, 3] = _mean_var(rms, (-1,))
    if extended:
        ext[:, -1] = (rms < rms.mean(axis=-1, keepdims=True)).mean(axis=-1)

    centroid, bandwidth, rolloff = spectral_shape(mag, sr=sr, n_fft=n_fft)
    out[:, 4], out[:, 5] = _mean_var(centroid, (-1,))
    out[:, 6], out[:, 7] = _mean_var(bandwidth, (-1,))
    out[:, 8], out[:, 9] = _mean_var(rolloff, (-1,))

    zcr = zero_crossing_rate(segs, frame_length=n_fft, hop_length=hop_length)
    out[:, 10], out[:, 11] = _mean_var(zcr, (-1,))

    mask_h, mask_p = hpss_masks(mag)
    del mag
    for col, mask in ((12, mask_h), (14, mask_p)):
        y_part = librosa.istft(D * mask, n_fft=n_fft, hop_length=hop_length, length=length, dtype=np.float32)
        out[:, col], out[:, col + 1] = _mean_var(y_part, (-1,))
    del D, mask_h, mask_p

    log_mel_db = log_mel_from_power(power, sr=sr, n_fft=n_fft)
    del power
    out[:, 16] = tempo_from_log_mel(log_mel_db, sr=sr, hop_length=hop_length, n_fft=n_fft)

    mfccs = mfcc_from_log_mel(log_mel_db, n_mfcc=n_mfcc)
    mean, var = _mean_var(mfccs, (-1,))
    out[:, 17:n_base:2], out[:, 18:n_base:2] = mean, var
    if extended:
        ext[:, :n_mfcc] = delta(mfccs).std(axis=-1)
        env = librosa.onset.onset_strength(
            S=log_mel_db, sr=sr, hop_length=hop_length, n_fft=n_fft, aggregate=np.median
        )
        col = n_mfcc + 14 + 12 + 2
        ext[:, col], ext[:, col + 1] = env.mean(axis=-1), env.std(axis=-1)
        ext[:, col + 2] = pulse_clarity(env, sr=sr, hop_length=hop_length)
    return out


# ---- the extractor ----------------------------------------------------------------------------------
#: Track summaries of ``summary=``: how the segment rows of one track become its one row.
SUMMARIES: tuple[str, ...] = ("mean_std",)
#: Options a bundle written before they existed lacks, with the value that reproduces its features.
LEGACY_OPTIONS: dict[str, object] = {"extended": False, "summary": None}


@dataclass(frozen=True)
class HandcraftedConfig:
    """Configuration of :class:`HandcraftedExtractor`.

    ``extended=False, summary=None`` gives exactly the Kaggle GTZAN table's 57 columns per segment
    (:meth:`kaggle`); the defaults add the :func:`extended_names` columns and summarise each track by
    the mean and standard deviation of its segment rows (one row per track), which ranked best on real
    music (docs/benchmarks.md, "Real music").
    """

    sr: int = SAMPLE_RATE
    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    n_mfcc: int = N_MFCC
    segment_s: float | None = SEGMENT_S  # None: one row for the whole track
    hop_s: float | None = None
    pad: str = "repeat"
    extended: bool = True
    summary: str | None = "mean_std"  # one row per track: mean and std of its segment rows; None: per segment

    def __post_init__(self) -> None:
        check_segment_config(self)
        if not isinstance(self.n_mfcc, (int, np.integer)) or not 1 <= self.n_mfcc <= 128:
            raise ConfigError(f"n_mfcc must be an integer in [1, 128] (the mel bands), got {self.n_mfcc!r}")
        if not isinstance(self.extended, (bool, np.bool_)):
            raise ConfigError(f"extended must be true or false, got {self.extended!r}")
        if self.summary is not None and self.summary not in SUMMARIES:
            raise ConfigError(f"summary must be one of {', '.join(SUMMARIES)} or None, got {self.summary!r}")

    @classmethod
    def kaggle(cls, **overrides: object) -> HandcraftedConfig:
        """The Kaggle GTZAN table's 57 columns per segment (no extended columns, no track summary)."""
        return cls(**{**LEGACY_OPTIONS, **overrides})


class HandcraftedExtractor(Extractor):
    """GTZAN hand-crafted features (``"handcrafted"``): the Kaggle table's columns, optionally extended.

    See the module docstring for the definitions and how they are computed. With ``summary="mean_std"``
    a track gives one row: the mean then the standard deviation over its segments of every column
    (names suffixed ``.mean`` / ``.std``).
    """

    name = "handcrafted"
    config_cls = HandcraftedConfig

    @property
    def segment_names(self) -> list[str]:
        """Names of the per-segment columns (before any track summary)."""
        names = handcrafted_names(self.config.n_mfcc)
        if self.config.extended:
            names += extended_names(self.config.n_mfcc)
        return names

    @property
    def names(self) -> list[str]:
        names = self.segment_names
        if self.config.summary == "mean_std":
            return [f"{n}.mean" for n in names] + [f"{n}.std" for n in names]
        return names

    @classmethod
    def from_config_dict(cls, d: dict) -> Extractor:
        # a bundle saved before an option existed was made without it: rebuild its features, not today's
        return super().from_config_dict({**LEGACY_OPTIONS, **d})

    def segment_times(self, n_samples: int, sr: int) -> np.ndarray:
        if self.config.summary is not None:
            return np.array([[0.0, n_samples / sr]])
        return super().segment_times(n_samples, sr)

    def _extract(self, y: np.ndarray) -> np.ndarray:
        cfg = self.config
        segs = config_segments(y, cfg)
        if len(segs) == 0 or segs.shape[-1] == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with single_threaded_blas():
            parts = [
                handcrafted_features(
                    segs[i : i + CHUNK_SEGMENTS], sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                    n_mfcc=cfg.n_mfcc, extended=bool(cfg.extended),
                )
                for i in range(0, len(segs), CHUNK_SEGMENTS)
            ]
        rows = np.concatenate(parts)
        if cfg.summary == "mean_std":
            rows = np.concatenate([rows.mean(axis=0), rows.std(axis=0)])[None, :]
        return rows.astype(np.float32)
