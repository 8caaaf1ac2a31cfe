"""Toy feature extractors and a toy model with known answers, shared by the audio -> prediction tests.

``ToyExtractor`` computes simple statistics of every 1 s segment (``stats``: any of ``rms``, ``zcr``,
``centroid_khz``); a test module subclasses it to pick its statistics, name, sample rate and padding.
``WindowedToy`` makes one compute its rows from windows of a file too (musicnn's protocol), so a long
file is classified from the windows of its sampled segments. ``LoudnessModel`` is a fixed, transparent
classifier on the first feature (the RMS level).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from genrekit.audio import segment_bounds, segments
from genrekit.features.base import Extractor


def _rms(segs: np.ndarray, sr: int) -> np.ndarray:
    return np.sqrt(np.mean(segs**2, axis=1))


def _zcr(segs: np.ndarray, sr: int) -> np.ndarray:
    """Fraction of sample steps where the sign changes."""
    return np.mean(np.diff(np.sign(segs), axis=1) != 0, axis=1)


def _centroid_khz(segs: np.ndarray, sr: int) -> np.ndarray:
    spec = np.abs(np.fft.rfft(segs, axis=1))
    freqs = np.fft.rfftfreq(segs.shape[1], 1 / sr)
    return (spec * freqs).sum(axis=1) / (spec.sum(axis=1) + 1e-9) / 1000


STATS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "rms": _rms,
    "zcr": _zcr,
    "centroid_khz": _centroid_khz,
}


@dataclass(frozen=True)
class ToyConfig:
    sr: int = 22050
    segment_s: float | None = 1.0
    hop_s: float | None = None
    pad: str = "repeat"


class ToyExtractor(Extractor):
    """RMS and zero-crossing rate of every 1 s segment (subclasses choose other ``stats``).

    ``defaults`` overrides :class:`ToyConfig` defaults for a subclass (its sample rate, padding).
    """

    name = "toy-rms-zcr"
    config_cls = ToyConfig
    stats: ClassVar[tuple[str, ...]] = ("rms", "zcr")
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **({**self.defaults, **overrides} if config is None else overrides))

    @property
    def names(self) -> list[str]:
        return list(self.stats)

    def _extract(self, y: np.ndarray) -> np.ndarray:
        return self._stats(segments(y, self.sr, segment_s=self.config.segment_s, pad=self.config.pad))

    def _stats(self, segs: np.ndarray) -> np.ndarray:
        """The rows of a stack of segments ``(n, segment samples)``."""
        segs = np.asarray(segs, dtype=np.float64)
        return np.column_stack([STATS[s](segs, self.sr) for s in self.stats])


class WindowedToy(ToyExtractor):
    """A toy that also computes the rows ``indices`` from the windows of a file.

    ``window_spans`` and ``extract_windows``, as musicnn has: each row's window is its segment, padded as
    :func:`segments` pads it.
    """

    def window_spans(self, n_samples: int, sr: int, indices: np.ndarray) -> np.ndarray:
        bounds = segment_bounds(n_samples, sr, segment_s=self.config.segment_s, pad=self.config.pad)
        return bounds[np.asarray(indices, dtype=np.int64)]

    def extract_windows(
        self, pieces: list[np.ndarray], spans: np.ndarray, n_samples: int, indices: np.ndarray
    ) -> np.ndarray:
        seg = max(1, int(round(self.config.segment_s * self.sr)))
        rows = [segments(p, self.sr, segment_s=seg / self.sr, pad=self.config.pad)[0] for p in pieces]
        return self._stats(np.stack(rows))


class LoudnessModel(ClassifierMixin, BaseEstimator):
    """'loud' above an RMS threshold, 'quiet' below, with a logistic slope in log-RMS."""

    def __init__(self, threshold: float = 0.05, sharpness: float = 3.0):
        self.threshold = threshold
        self.sharpness = sharpness

    @property
    def classes_(self) -> np.ndarray:
        return np.array(["loud", "quiet"])

    def predict_proba(self, X):
        z = self.sharpness * np.log(np.maximum(np.asarray(X)[:, 0], 1e-9) / self.threshold)
        p = 1 / (1 + np.exp(-z))
        return np.column_stack([p, 1 - p])
