"""musicnn input: log-compressed mel power spectrogram at 16 kHz, cut into patches of 187 frames.

As ``musicnn.extractor.batch_data`` of ``musicnn==0.1.0`` computes it: ``librosa.feature.melspectrogram``
with ``sr=16000, n_fft=512, hop_length=256, n_mels=96`` and librosa's other defaults (periodic Hann
window, centred frames, power 2, Slaney mel scale and Slaney area normalisation, fmin 0, fmax 8 kHz),
transposed to ``(time, freq)``, then ``log10(10000 * x + 1)``. The same numbers are computed here with
numpy/scipy (tested against librosa), which avoids librosa's first-call import of numba (seconds) and
uses the sparsity of the mel bank. Two deliberate differences from the original:

- the frame padding at both ends is ``"reflect"``, the librosa 0.6/0.7 default the models were trained
  with (librosa >= 0.10 pads with zeros unless told);
- everything stays float32: the original casts the mel power to float16 first, which makes
  ``10000 * x`` overflow to ``inf`` for any mel power above 6.55 (moderately loud music).

A patch of 187 frames covers ``186 * 256 + 512`` samples, about 3 s, the models' training input length.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import scipy.sparse

from genrekit.audio import segment_bounds
from genrekit.errors import AudioError, ConfigError

__all__ = [
    "FFT_HOP",
    "FFT_SIZE",
    "N_MELS",
    "PATCH_FRAMES",
    "SR",
    "frames_span",
    "logmel",
    "logmel_window",
    "mel_patches",
    "n_frames",
    "patch_bounds",
    "patches_from_logmel",
]

SR = 16000
FFT_SIZE = 512
FFT_HOP = 256
N_MELS = 96
PATCH_FRAMES = 187


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's auditory-toolbox mel scale (librosa ``htk=False``): linear to 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mels = f / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    above = f >= 1000.0
    return np.where(above, 15.0 + np.log(np.maximum(f, 1000.0) / 1000.0) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), (200.0 / 3) * m)


@functools.lru_cache(maxsize=1)
def _mel_basis_sparse() -> scipy.sparse.csr_matrix:
    """:func:`_mel_basis_t` transposed back to (96, 257) as a sparse matrix: 502 non-zeros of 24,672."""
    return scipy.sparse.csr_matrix(_mel_basis_t().T)


@functools.lru_cache(maxsize=1)
def _mel_basis_t() -> np.ndarray:
    """Slaney mel filter bank with Slaney area normalisation, transposed: (257, 96) float32.

    The same matrix as ``librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)`` (what
    ``librosa.feature.melspectrogram`` uses), computed here with numpy so that the musicnn path does not
    pay librosa's multi-second first-call import of numba and scipy.signal.
    """
    fft_freqs = np.fft.rfftfreq(FFT_SIZE, d=1.0 / SR)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SR / 2.0), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return np.ascontiguousarray(weights.T, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """Periodic Hann window of 512 samples (``scipy.signal.get_window("hann", 512)``), float32."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FFT_SIZE) / FFT_SIZE)).astype(np.float32)


def n_frames(n_samples: int) -> int:
    """Number of centred STFT frames for ``n_samples`` (``1 + n_samples // 256``; 0 for no samples)."""
    return 0 if n_samples <= 0 else 1 + n_samples // FFT_HOP


def logmel(y16k: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram of a 16 kHz signal.

    Parameters
    ----------
    y16k : np.ndarray, float32, shape (n_samples,)
        Mono audio at 16 kHz, finite.

    Returns
    -------
    np.ndarray, float32, shape (n_frames(n_samples), 96)
        ``log10(10000 * mel_power + 1)``, time first as the network expects.

    Raises
    ------
    AudioError
        ``y16k`` is not 1-D or holds NaN or infinity.
    """
    y = np.asarray(y16k, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(f"musicnn needs mono audio of shape (n_samples,), got shape {y.shape}")
    if y.size == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    if not np.isfinite(y).all():
        raise AudioError("audio holds NaN or infinite samples")
    # centred frames: pad n_fft // 2 at both ends by reflection ("reflect" needs more samples than
    # the pad; a shorter signal is zero-padded, as librosa would have to)
    half = FFT_SIZE // 2
    y_pad = np.pad(y, half, mode="reflect" if y.size > half else "constant")
    return _logmel_of_frames(np.lib.stride_tricks.sliding_window_view(y_pad, FFT_SIZE)[::FFT_HOP])


def _logmel_of_frames(frames: np.ndarray) -> np.ndarray:
    """``log10(10000 * mel_power + 1)`` of ``(n_frames, 512)`` signal frames: ``(n_frames, 96)`` float32."""
    spec = scipy.fft.rfft(frames * _window(), axis=1)  # (n_frames, 257) complex64
    power = (spec.real**2 + spec.imag**2).astype(np.float32, copy=False)
    mel = (_mel_basis_sparse() @ power.T).T  # (n_frames, 96); the bank is 98 % zeros
    out = np.log10(np.float32(10000.0) * mel + np.float32(1.0)).astype(np.float32, copy=False)
    return np.ascontiguousarray(out)


def frames_span(first: int, count: int, n_samples: int) -> tuple[int, int]:
    """Samples ``[start, end)`` of a 16 kHz signal of ``n_samples`` read by frames ``first .. first+count-1``.

    Frame ``i`` of :func:`logmel` reads ``[256 i - 256, 256 i + 256)``, cut to the signal.
    """
    half = FFT_SIZE // 2
    return max(0, first * FFT_HOP - half), min(n_samples, (first + count - 1) * FFT_HOP + half)


def logmel_window(piece: np.ndarray, *, start: int, n_samples: int, first: int, count: int) -> np.ndarray:
    """Frames ``first .. first+count-1`` of ``logmel(y)`` computed from a piece of ``y`` only.

    Parameters
    ----------
    piece : np.ndarray, float32, shape (m,)
        ``y[start : start + m]`` of a 16 kHz signal ``y`` of ``n_samples`` samples (more than 256); it must
        hold :func:`frames_span` ``(first, count, n_samples)``.
    start, n_samples : int
    first, count : int
        The frames wanted.

    Returns
    -------
    np.ndarray, float32, shape (count, 96)
        ``logmel(y)[first : first + count]`` (to float32 rounding): the reflection padding at the signal's
        ends is applied when the piece reaches them.
    """
    y = np.asarray(piece, dtype=np.float32)
    lo, hi = frames_span(first, count, n_samples)
    half = FFT_SIZE // 2
    wanted_ok = n_samples > half and count >= 1 and 0 <= first and first + count <= n_frames(n_samples)
    if not wanted_ok or start > lo or start + len(y) < hi:
        raise ConfigError(
            f"a piece of samples [{start}, {start + len(y)}) of {n_samples} cannot give frames "
            f"{first}..{first + count - 1} (they read [{lo}, {hi}))"
        )
    if not np.isfinite(y).all():
        raise AudioError("audio holds NaN or infinite samples")
    left = half if start == 0 else 0
    right = half if start + len(y) == n_samples else 0
    y_pad = np.pad(y, (left, right), mode="reflect")
    offset = first * FFT_HOP - half - start + left  # index in y_pad of frame ``first``'s first sample
    frames = np.lib.stride_tricks.sliding_window_view(y_pad, FFT_SIZE)[offset::FFT_HOP][:count]
    return _logmel_of_frames(frames)


def patch_bounds(
    n: int, *, patch_frames: int = PATCH_FRAMES, hop_frames: int | None = None, pad: str = "repeat"
) -> np.ndarray:
    """Which frames each patch covers, by the library's segment rule (:func:`genrekit.audio.segment_bounds`).

    Full patches every ``hop_frames``; a clip shorter than one patch gives one padded patch, and a tail of
    at least half a patch after the last full one gives one more padded patch (never with ``pad="drop"``).
    For clips of at least one patch the original musicnn extractor keeps only the full patches; the
    difference is at most that one extra tail patch.

    Returns
    -------
    np.ndarray, int64, shape (n_patches, 2)
        ``[start, end)`` frame indices of the real frames of each patch.
    """
    if patch_frames < 1 or (hop_frames is not None and hop_frames < 1):
        raise ConfigError(f"patch_frames and hop_frames must be >= 1, got {patch_frames}, {hop_frames}")
    return segment_bounds(n, 1, segment_s=patch_frames, hop_s=hop_frames, pad=pad)


def patches_from_logmel(
    spec: np.ndarray, *, patch_frames: int = PATCH_FRAMES, hop_frames: int | None = None, pad: str = "repeat"
) -> np.ndarray:
    """Cut a log-mel spectrogram into patches, padding short ones.

    Parameters
    ----------
    spec : np.ndarray, float32, shape (n_frames, 96)
    patch_frames, hop_frames : int
        Patch length and distance between patch starts in frames (``hop_frames=None``: no overlap).
    pad : {"repeat", "zero", "drop"}
        A partial patch is filled by repeating its frames cyclically (the musicnn training recipe's
        "repeat-pad"), with zeros (log-mel of silence), or not kept.

    Returns
    -------
    np.ndarray, float32, shape (n_patches, patch_frames, 96)
    """
    spec = np.asarray(spec, dtype=np.float32)
    bounds = patch_bounds(len(spec), patch_frames=patch_frames, hop_frames=hop_frames, pad=pad)
    out = np.zeros((len(bounds), patch_frames, spec.shape[1]), dtype=np.float32)
    for i, (s, e) in enumerate(bounds):
        part = spec[s:e]
        if len(part) == patch_frames:
            out[i] = part
        elif pad == "repeat":
            out[i] = part[np.arange(patch_frames) % len(part)]
        else:
            out[i, : len(part)] = part
    return out


def mel_patches(
    y16k: np.ndarray,
    *,
    patch_frames: int = PATCH_FRAMES,
    hop_frames: int | None = PATCH_FRAMES,
    pad: str = "repeat",
) -> np.ndarray:
    """Musicnn input patches of a 16 kHz signal.

    Parameters
    ----------
    y16k : np.ndarray, float32, shape (n_samples,)
        Mono audio at 16 kHz.
    patch_frames : int
        Frames per patch; 187 (about 3 s) is what the pretrained models were trained on.
    hop_frames : int or None
        Frames between patch starts; 187 (or None) for no overlap, as the original extractor's default.
    pad : {"repeat", "zero", "drop"}
        How a clip shorter than one patch (and a tail of at least half a patch) is filled.

    Returns
    -------
    np.ndarray, float32, shape (n_patches, patch_frames, 96)
        ``n_patches`` is ``len(patch_bounds(n_frames(n_samples), ...))``; 0 for an empty signal.
    """
    return patches_from_logmel(logmel(y16k), patch_frames=patch_frames, hop_frames=hop_frames, pad=pad)
