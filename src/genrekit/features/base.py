"""The feature-extractor contract shared by every extractor.

An extractor is a named, configured object with a fixed output: ``dim`` values named ``names``, computed
by a pure ``__call__(y, sr) -> (n_segments, dim)``. Its config (a frozen dataclass) is saved in every
bundle that uses it, so a bundle always reproduces its own preprocessing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from genrekit.audio import MIN_TAIL_FRACTION, resample, segment_bounds, segments
from genrekit.config import config_from_dict, config_to_dict
from genrekit.errors import AudioError, ConfigError

#: Shortest audio an extractor with one row per whole track (``segment_s=None``) takes, in seconds.
MIN_TRACK_S = 1.0


def check_finite_features(feats: np.ndarray) -> np.ndarray:
    """Return ``feats`` (n_segments, dim) when every value is finite, else raise AudioError.

    Audio far beyond full scale overflows float32 powers into inf; such features must not reach a model.
    """
    if not np.all(np.isfinite(feats)):
        raise AudioError("its features are not finite (samples far beyond full scale?)")
    return feats


def check_segment_config(cfg: Any) -> None:
    """Check the fields every segmenting extractor config shares, raising ConfigError.

    ``sr``, ``n_fft`` and ``hop_length`` positive integers; ``segment_s`` and ``hop_s`` > 0 or None;
    ``pad`` one of ``"repeat"``, ``"zero"``, ``"drop"``.
    """
    for name in ("sr", "n_fft", "hop_length"):
        value = getattr(cfg, name)
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if cfg.segment_s is not None and cfg.segment_s <= 0:
        raise ConfigError(f"segment_s must be > 0 or None, got {cfg.segment_s}")
    if cfg.hop_s is not None and cfg.hop_s <= 0:
        raise ConfigError(f"hop_s must be > 0 or None, got {cfg.hop_s}")
    if cfg.pad not in ("repeat", "zero", "drop"):
        raise ConfigError(f"pad must be one of 'repeat', 'zero', 'drop', got {cfg.pad!r}")


def config_segments(y: np.ndarray, cfg: Any) -> np.ndarray:
    """Cut ``y`` as ``cfg`` says (``segment_s``, ``hop_s``, ``pad`` at ``cfg.sr``).

    Returns
    -------
    np.ndarray, shape (n_segments, n_samples)
        One row holding the whole track when ``cfg.segment_s`` is None.
    """
    if cfg.segment_s is None:
        return y[None, :]
    return segments(y, cfg.sr, segment_s=cfg.segment_s, hop_s=cfg.hop_s, pad=cfg.pad)


class Extractor(ABC):
    """Base class of feature extractors.

    Subclasses set ``name`` and ``config_cls`` (a frozen dataclass with at least ``sr``,
    ``segment_s`` (float, or None for one row per whole track), ``hop_s`` and ``pad``) and implement
    :meth:`_extract` on audio already at ``config.sr``.

    Attributes
    ----------
    frame_shape : tuple of int or None
        For extractors whose rows are flattened matrices (log-mel, MFCC sequences): the
        ``(bands, frames)`` shape each row reshapes to; ``None`` for plain vectors.
    """

    name: ClassVar[str]
    config_cls: ClassVar[type]

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None:
            config = self.config_cls(**overrides)
        elif overrides:
            config = self.config_cls(**{**config_to_dict(config), **overrides})
        self.config = config

    # ---- fixed output -------------------------------------------------------------------------------
    @property
    @abstractmethod
    def names(self) -> list[str]:
        """Names of the ``dim`` output columns."""

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def frame_shape(self) -> tuple[int, int] | None:
        return None

    @property
    def sr(self) -> int:
        return int(self.config.sr)

    @property
    def min_duration_s(self) -> float:
        """Shortest audio (seconds) this extractor describes faithfully.

        Half a segment (the library's tail rule): a shorter clip would be padded out to a whole segment
        with copies of itself or zeros, and the model would be shown mostly padding. ``MIN_TRACK_S`` for
        extractors with one row per whole track.
        """
        seg = getattr(self.config, "segment_s", None)
        return MIN_TAIL_FRACTION * float(seg) if seg else MIN_TRACK_S

    # ---- computing ----------------------------------------------------------------------------------
    def __call__(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Compute features for every segment of ``y``.

        Parameters
        ----------
        y : np.ndarray, float32, shape (n_samples,)
        sr : int
            Sample rate of ``y``; resampled to ``self.sr`` when different.

        Returns
        -------
        np.ndarray, float32, shape (n_segments, dim)
        """
        y = resample(np.asarray(y, dtype=np.float32), sr, self.sr)
        out = np.asarray(self._extract(y), dtype=np.float32)
        return out.reshape(len(out), self.dim)

    def extract_many(
        self, signals: list[np.ndarray], sr: int, *, indices: list[np.ndarray | None] | None = None
    ) -> list[np.ndarray]:
        """Features of several signals at once (extractors that batch, like musicnn, override this).

        ``indices``: for each signal, the rows wanted (None: all of them).
        """
        rows = [self(y, sr) for y in signals]
        return (
            rows
            if indices is None
            else [f if k is None else f[k] for f, k in zip(rows, indices, strict=True)]
        )

    @abstractmethod
    def _extract(self, y: np.ndarray) -> np.ndarray:
        """Features of ``y`` (at ``self.sr``) as ``(n_segments, dim)``."""

    def segment_times(self, n_samples: int, sr: int) -> np.ndarray:
        """Start and end time in seconds of each output row, for ``n_samples`` of audio at ``sr``.

        Returns
        -------
        np.ndarray, float64, shape (n_segments, 2)
        """
        cfg = self.config
        if cfg.segment_s is None:
            return np.array([[0.0, n_samples / sr]])
        n = n_samples if sr == self.sr else int(np.floor(n_samples * self.sr / sr + 0.5))  # as resample()
        b = segment_bounds(n, self.sr, segment_s=cfg.segment_s, hop_s=cfg.hop_s, pad=cfg.pad)
        return b.astype(np.float64) / self.sr

    # ---- persistence --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "config": {...}}``, JSON-ready, enough to rebuild this extractor."""
        return {"name": self.name, "config": config_to_dict(self.config)}

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> Extractor:
        return cls(config_from_dict(cls.config_cls, d))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
