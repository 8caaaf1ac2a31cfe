"""Log-mel spectrograms and MFCCs: pure functions and the ``logmel`` / ``mfcc`` extractors.

Definitions (librosa defaults, so the values equal ``librosa.feature.mfcc(y=...)`` per segment):

* power spectrogram ``|STFT|**2``: Hann window, ``center=True`` with constant (zero) padding, so a
  signal of ``n`` samples gives ``1 + n // hop_length`` frames;
* mel power ``mel_basis @ S`` with the Slaney-style, area-normalised filterbank of
  ``librosa.filters.mel`` (``fmin=0``, ``fmax=sr/2``);
* decibels ``10 * log10(max(mel, 1e-10))`` (``ref=1.0``, so -100 dB is the floor), then clipped from
  below at ``top_db=80`` dB under the maximum **of each segment** (each leading-axis item). Silence gives
  a constant -100 dB, never NaN or -inf;
* MFCC: orthonormal DCT-II of the log-mel bands, first ``n_mfcc`` coefficients (``librosa.feature.mfcc``).

Every function accepts leading batch axes (``y`` of shape ``(..., n_samples)``) and treats each item
on its own, as if it had been computed alone (librosa's own ``power_to_db`` would clip a batch
relative to the loudest item).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft

from genrekit.config import HOP_LENGTH, N_FFT, N_MELS, N_MFCC, SAMPLE_RATE, SEGMENT_S
from genrekit.errors import ConfigError
from genrekit.features.base import Extractor, check_segment_config, config_segments

#: Power floor of the dB conversion (-100 dB) and the dynamic range kept under each segment's maximum.
AMIN = 1e-10
TOP_DB = 80.0
#: Half-width (frames) of the delta (first-derivative) filter of the MFCC summary.
DELTA_WIDTH = 9


_BLAS_LOCK = threading.Lock()
_blas_state: dict[str, Any] = {"depth": 0, "controller": None, "limit": None}


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (re-entrant, thread-safe; no-op without threadpoolctl).

    The matrix products here are small (a filterbank times a few hundred frames); multi-threaded
    OpenBLAS gains nothing on them and, on a busy machine, its spinning threads made the hand-crafted
    features 3x slower. Parallelism comes from processing files in parallel (:mod:`genrekit.features.cache`).
    """
    with _BLAS_LOCK:
        if _blas_state["depth"] == 0:
            try:
                if _blas_state["controller"] is None:
                    from threadpoolctl import ThreadpoolController

                    _blas_state["controller"] = ThreadpoolController()
                _blas_state["limit"] = _blas_state["controller"].limit(limits=1, user_api="blas")
            except Exception:  # threadpoolctl missing or failing: run as is
                _blas_state["limit"] = None
        _blas_state["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_state["depth"] -= 1
            if _blas_state["depth"] == 0 and _blas_state["limit"] is not None:
                _blas_state["limit"].restore_original_limits()
                _blas_state["limit"] = None


# ---- pure functions ---------------------------------------------------------------------------------
def n_frames(n_samples: int, hop_length: int) -> int:
    """Number of STFT frames of ``n_samples`` with ``center=True``: ``1 + n_samples // hop_length``."""
    return 1 + int(n_samples) // int(hop_length)


def stft(y: np.ndarray, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Complex STFT as librosa computes it by default (Hann, ``center=True``, zero padding).

    Parameters
    ----------
    y : np.ndarray, float32, shape (..., n_samples)

    Returns
    -------
    np.ndarray, complex64, shape (..., 1 + n_fft // 2, 1 + n_samples // hop_length)
    """
    import librosa

    return librosa.stft(np.asarray(y, dtype=np.float32), n_fft=n_fft, hop_length=hop_length)


@lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)``, cached; read-only float32 array.

    Returns
    -------
    np.ndarray, float32, shape (n_mels, 1 + n_fft // 2)
    """
    import librosa

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    basis.setflags(write=False)
    return basis


def power_to_db(S: np.ndarray, *, amin: float = AMIN, top_db: float | None = TOP_DB) -> np.ndarray:
    """Power to decibels (``ref=1.0``), clipped ``top_db`` under the maximum of each 2-D item.

    Parameters
    ----------
    S : np.ndarray, shape (..., bands, frames)
        Non-negative power.

    Returns
    -------
    np.ndarray, same shape and float dtype as ``S``
        ``10 * log10(max(S, amin))``, then ``max(., item_max - top_db)`` per leading-axis item.
    """
    S = np.asarray(S)
    log_spec = 10.0 * np.log10(np.maximum(amin, S))
    if top_db is not None:
        if top_db < 0:
            raise ConfigError(f"top_db must be >= 0, got {top_db}")
        peak = log_spec.max(axis=(-2, -1), keepdims=True)
        log_spec = np.maximum(log_spec, peak - top_db)
    return log_spec


def log_mel_from_power(S_power: np.ndarray, *, sr: int, n_fft: int, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel (dB) bands from a power spectrogram ``|STFT|**2``.

    Parameters
    ----------
    S_power : np.ndarray, float32, shape (..., 1 + n_fft // 2, frames)

    Returns
    -------
    np.ndarray, float32, shape (..., n_mels, frames)
    """
    mel = np.matmul(mel_filterbank(sr, n_fft, n_mels), S_power)
    return power_to_db(mel).astype(np.float32, copy=False)


def mfcc_from_log_mel(log_mel_db: np.ndarray, *, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCCs: orthonormal DCT-II over the bands of a log-mel spectrogram, first ``n_mfcc`` rows.

    Parameters
    ----------
    log_mel_db : np.ndarray, shape (..., n_mels, frames)

    Returns
    -------
    np.ndarray, shape (..., n_mfcc, frames)
    """
    return scipy.fft.dct(log_mel_db, axis=-2, type=2, norm="ortho")[..., :n_mfcc, :]


def log_mel(
    y: np.ndarray, sr: int, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, n_mels: int = N_MELS
) -> np.ndarray:
    """Log-power mel spectrogram in dB (see the module docstring for the exact definition).

    Parameters
    ----------
    y : np.ndarray, float32, shape (..., n_samples)
    sr : int
        Sample rate of ``y`` in Hz.

    Returns
    -------
    np.ndarray, float32, shape (..., n_mels, 1 + n_samples // hop_length)
        Values in ``[max - 80, max]`` dB per item, never below -100 dB; finite for silence.
    """
    S_power = np.abs(stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    return log_mel_from_power(S_power, sr=sr, n_fft=n_fft, n_mels=n_mels)


def mfcc(
    y: np.ndarray,
    sr: int,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    n_mfcc: int = N_MFCC,
) -> np.ndarray:
    """MFCCs, equal to ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc)`` for each item of ``y``.

    Parameters
    ----------
    y : np.ndarray, float32, shape (..., n_samples)
    sr : int

    Returns
    -------
    np.ndarray, float32, shape (..., n_mfcc, 1 + n_samples // hop_length)
    """
    lm = log_mel(y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return mfcc_from_log_mel(lm, n_mfcc=n_mfcc)


def delta(x: np.ndarray, *, width: int = DELTA_WIDTH) -> np.ndarray:
    """First-order delta along the last (time) axis, as ``librosa.feature.delta`` (mode ``"interp"``).

    The window shrinks to the largest odd width <= the number of frames when the input is shorter than
    ``width``; fewer than 3 frames give zeros.

    Parameters
    ----------
    x : np.ndarray, shape (..., frames)

    Returns
    -------
    np.ndarray, same shape as ``x``
    """
    import librosa

    frames = x.shape[-1]
    w = min(width, frames if frames % 2 else frames - 1)
    if w < 3:
        return np.zeros_like(x)
    return librosa.feature.delta(x, width=w, order=1, axis=-1)


# ---- extractors -------------------------------------------------------------------------------------
def _check_common(cfg: Any) -> None:
    check_segment_config(cfg)
    if not isinstance(cfg.n_mels, (int, np.integer)) or cfg.n_mels <= 0:
        raise ConfigError(f"n_mels must be a positive integer, got {cfg.n_mels!r}")
    if cfg.segment_s is None and not cfg.summary:
        raise ConfigError(
            "summary=False (one flattened (bands, frames) matrix per row) needs a fixed segment_s; "
            "set segment_s (e.g. 3.0) or summary=True"
        )


@dataclass(frozen=True)
class _BandConfig:
    """The fields and checks :class:`LogMelConfig` and :class:`MFCCConfig` share."""

    sr: int = SAMPLE_RATE
    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    segment_s: float | None = SEGMENT_S
    hop_s: float | None = None
    pad: str = "repeat"
    summary: bool = False

    def __post_init__(self) -> None:
        _check_common(self)


@dataclass(frozen=True)
class LogMelConfig(_BandConfig):
    """Configuration of :class:`LogMelExtractor`."""


@dataclass(frozen=True)
class MFCCConfig(_BandConfig):
    """Configuration of :class:`MFCCExtractor`."""

    n_mfcc: int = N_MFCC

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.n_mfcc, (int, np.integer)) or not 1 <= self.n_mfcc <= self.n_mels:
            raise ConfigError(f"n_mfcc must be an integer in [1, n_mels={self.n_mels}], got {self.n_mfcc!r}")


class _BandExtractor(Extractor):
    """Shared logic: cut segments, compute a (bands, frames) matrix each, flatten or summarise."""

    _prefix: str
    #: Fewest digits of the band number in names (``mel000``, ``mfcc00``).
    _band_digits: int = 2

    @property
    def n_bands(self) -> int:
        raise NotImplementedError

    @property
    def frames_per_segment(self) -> int | None:
        """Frames of every segment (``1 + segment_samples // hop_length``); None for whole tracks."""
        cfg = self.config
        if cfg.segment_s is None:
            return None
        seg_len = max(1, int(round(cfg.segment_s * cfg.sr)))
        return n_frames(seg_len, cfg.hop_length)

    @property
    def frame_shape(self) -> tuple[int, int] | None:
        if self.config.summary:
            return None
        return (self.n_bands, int(self.frames_per_segment))

    def _band_names(self) -> list[str]:
        width = max(self._band_digits, len(str(self.n_bands - 1)))
        return [f"{self._prefix}{b:0{width}d}" for b in range(self.n_bands)]

    def _summary_stats(self) -> tuple[str, ...]:
        return ("mean", "std")

    @property
    def dim(self) -> int:
        if self.config.summary:
            return self.n_bands * len(self._summary_stats())
        return self.n_bands * int(self.frames_per_segment)

    @property
    def names(self) -> list[str]:
        bands = self._band_names()
        if self.config.summary:
            return [f"{b}_{stat}" for stat in self._summary_stats() for b in bands]
        frames = int(self.frames_per_segment)
        width = max(3, len(str(frames - 1)))
        return [f"{b}_t{t:0{width}d}" for b in bands for t in range(frames)]

    def _matrices(self, segs: np.ndarray) -> np.ndarray:
        """``(n_segments, n_samples)`` -> ``(n_segments, bands, frames)``."""
        raise NotImplementedError

    def _summarise(self, m: np.ndarray) -> np.ndarray:
        return np.concatenate([m.mean(axis=-1), m.std(axis=-1)], axis=-1)

    def _extract(self, y: np.ndarray) -> np.ndarray:
        cfg = self.config
        segs = config_segments(y, cfg)
        if len(segs) == 0 or segs.shape[-1] == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with single_threaded_blas():
            m = self._matrices(segs)
        if cfg.summary:
            return self._summarise(m).astype(np.float32)
        return m.reshape(len(m), -1).astype(np.float32, copy=False)


class LogMelExtractor(_BandExtractor):
    """Log-mel spectrogram per segment (``"logmel"``).

    With ``summary=False`` each row is the segment's ``(n_mels, frames)`` dB matrix flattened in C order
    (``frame_shape`` gives the shape back; names ``mel000_t000``, ...); with ``summary=True`` each row is
    the per-band mean then the per-band standard deviation over time (names ``mel000_mean``, ...,
    ``mel000_std``, ...), for classical models.
    """

    name = "logmel"
    config_cls = LogMelConfig
    _prefix = "mel"
    _band_digits = 3

    @property
    def n_bands(self) -> int:
        return int(self.config.n_mels)

    def _matrices(self, segs: np.ndarray) -> np.ndarray:
        cfg = self.config
        return log_mel(segs, cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels)


class MFCCExtractor(_BandExtractor):
    """MFCCs per segment (``"mfcc"``).

    With ``summary=False`` each row is the segment's ``(n_mfcc, frames)`` matrix flattened (names
    ``mfcc00_t000``, ...); with ``summary=True`` each row holds, per coefficient, the mean and standard
    deviation over time and the mean and standard deviation of its delta (names ``mfcc00_mean``, ...,
    ``mfcc00_std``, ..., ``mfcc00_dmean``, ..., ``mfcc00_dstd``, ...).
    """

    name = "mfcc"
    config_cls = MFCCConfig
    _prefix = "mfcc"

    @property
    def n_bands(self) -> int:
        return int(self.config.n_mfcc)

    def _summary_stats(self) -> tuple[str, ...]:
        return ("mean", "std", "dmean", "dstd")

    def _matrices(self, segs: np.ndarray) -> np.ndarray:
        cfg = self.config
        return mfcc(
            segs, cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels, n_mfcc=cfg.n_mfcc
        )

    def _summarise(self, m: np.ndarray) -> np.ndarray:
        d = delta(m)
        return np.concatenate([m.mean(axis=-1), m.std(axis=-1), d.mean(axis=-1), d.std(axis=-1)], axis=-1)
