"""Pure operations on decoded samples.

Resampling, mixing to mono, the audibility and sample-range checks, equal-length segments and the
middle crop.
"""

from __future__ import annotations

import numpy as np
import soxr

from genrekit.config import (
    RESAMPLE_QUALITY,
)
from genrekit.errors import AudioError, ConfigError

#: Tail segments shorter than this fraction of a segment are dropped (a 30.01 s clip gives 10 x 3 s).
MIN_TAIL_FRACTION = 0.5


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample with soxr at the library's one fixed quality.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,) or (n_samples, channels)
    sr_in, sr_out : int
        Input and output sample rates in Hz.

    Returns
    -------
    np.ndarray, float32, shape (round(n_samples * sr_out / sr_in),) or with channels
    """
    if sr_in == sr_out:
        return np.asarray(y, dtype=np.float32)
    out = soxr.resample(np.asarray(y, dtype=np.float32), sr_in, sr_out, quality=RESAMPLE_QUALITY)
    return np.asarray(out, dtype=np.float32)


def to_mono(frames: np.ndarray) -> np.ndarray:
    """Mix ``(n_samples, channels)`` frames down to ``(n_samples,)`` by averaging the channels.

    Channels are added one strided column at a time, which is several times faster than a
    ``mean(axis=1)`` reduction over the short channel axis.
    """
    if frames.ndim == 1:
        return frames.astype(np.float32, copy=False)
    y = frames[:, 0].astype(np.float32, copy=True)
    for c in range(1, frames.shape[1]):
        y += frames[:, c]
    if frames.shape[1] > 1:
        y *= np.float32(1.0 / frames.shape[1])
    return y


#: Peak below which audio counts as silent (-120 dBFS): nothing to classify.
SILENCE_PEAK = 1e-6


def check_audible(y: np.ndarray, name: str | None = None) -> None:
    """Refuse audio with nothing in it.

    Every sample below -120 dBFS: digital silence, or channels that cancelled out in the mono mix. A
    genre of silence would be a confident-looking guess.

    Raises
    ------
    AudioError
    """
    if y.size == 0 or float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(
            "is silent (every sample below -120 dBFS): there is no music to classify", source=name
        )


#: Largest sample magnitude taken (+80 dB over full scale). Float files may go a little over 1.0; far
#: beyond it the powers of the features overflow float32.
MAX_SAMPLE_ABS = 1e4


def check_samples(frames: np.ndarray, name: str | None = None) -> None:
    """Refuse non-finite samples and samples far beyond full scale (without numpy warnings)."""
    if not np.all(np.isfinite(frames)):
        raise AudioError("contains non-finite samples (NaN or infinity)", source=name)
    peak = float(np.max(np.abs(frames))) if frames.size else 0.0
    if peak > MAX_SAMPLE_ABS:
        raise AudioError(
            f"samples reach {peak:.3g}, far beyond full scale (1.0); the limit is {MAX_SAMPLE_ABS:g} "
            "(+80 dBFS): rescale the file",
            source=name,
        )


def segment_bounds(
    n_samples: int, sr: int, *, segment_s: float, hop_s: float | None = None, pad: str = "repeat"
) -> np.ndarray:
    """Start and end sample of every segment :func:`segments` returns.

    Full segments are taken every ``hop_s`` from the start. When the audio after the last full segment
    is at least ``MIN_TAIL_FRACTION`` of a segment (or the whole signal is shorter than one segment), one
    more segment starts a hop later and is padded; with ``pad="drop"`` partial segments are never kept.

    Returns
    -------
    np.ndarray, int64, shape (n_segments, 2)
        ``[start, end)`` in samples of the real (unpadded) audio each segment covers.
    """
    if pad not in ("repeat", "zero", "drop"):
        raise ConfigError(f"pad must be one of 'repeat', 'zero', 'drop', got {pad!r}")
    if segment_s <= 0 or (hop_s is not None and hop_s <= 0):
        raise ConfigError(f"segment_s and hop_s must be > 0, got {segment_s}, {hop_s}")
    seg = max(1, int(round(segment_s * sr)))
    hop = seg if hop_s is None else max(1, int(round(hop_s * sr)))
    if n_samples <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    starts = list(range(0, n_samples - seg + 1, hop)) if n_samples >= seg else []
    bounds = [(s, s + seg) for s in starts]
    if pad != "drop":
        next_start = starts[-1] + hop if starts else 0
        uncovered = n_samples - (starts[-1] + seg if starts else 0)
        if next_start < n_samples and (not starts or uncovered >= MIN_TAIL_FRACTION * seg):
            bounds.append((next_start, n_samples))
    return np.asarray(bounds, dtype=np.int64).reshape(-1, 2)


def segments(
    y: np.ndarray, sr: int, *, segment_s: float, hop_s: float | None = None, pad: str = "repeat"
) -> np.ndarray:
    """Cut a signal into equal-length segments.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    segment_s : float
        Segment length in seconds.
    hop_s : float or None
        Distance between segment starts; ``None`` for ``segment_s`` (no overlap).
    pad : {"repeat", "zero", "drop"}
        How a partial segment is filled: by repeating its own audio, with zeros, or not kept at all.

    Returns
    -------
    np.ndarray, float32, shape (n_segments, round(segment_s * sr))
        See :func:`segment_bounds` for which segments exist.
    """
    y = np.asarray(y, dtype=np.float32)
    seg = max(1, int(round(segment_s * sr)))
    bounds = segment_bounds(len(y), sr, segment_s=segment_s, hop_s=hop_s, pad=pad)
    out = np.zeros((len(bounds), seg), dtype=np.float32)
    for i, (s, e) in enumerate(bounds):
        part = y[s:e]
        if len(part) == seg:
            out[i] = part
        elif pad == "repeat":
            out[i] = np.resize(part, seg)  # np.resize repeats the array cyclically
        else:
            out[i, : len(part)] = part
    return out


def check_crop(crop_s: float | None) -> None:
    """Refuse a crop window that is not above 0 seconds (None: no crop)."""
    if crop_s is not None and not crop_s > 0:
        raise ConfigError(f"crop_s must be > 0 seconds, got {crop_s}")


def center_crop(y: np.ndarray, sr: int, *, duration_s: float) -> np.ndarray:
    """Return the ``duration_s`` window around the middle of ``y`` (``y`` itself when shorter).

    Returns
    -------
    np.ndarray, shape (min(n_samples, round(duration_s * sr)),)
    """
    if duration_s <= 0:
        raise ConfigError(f"duration_s must be > 0, got {duration_s}")
    n = int(round(duration_s * sr))
    if len(y) <= n:
        return y
    start = (len(y) - n) // 2
    return y[start : start + n]
