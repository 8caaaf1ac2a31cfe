"""Training-time augmentation as an extractor: the features of a signal plus those of degraded copies.

:class:`AugmentingExtractor` wraps any feature extractor so that every training file yields the rows of
its clean signal and of ``copies`` randomly degraded versions (:mod:`genrekit.degrade`); training
(``--augment``) uses it, prediction never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrekit.audio import array_digest
from genrekit.degrade import DEGRADATIONS, fix_length, resolve
from genrekit.errors import ConfigError, GenreKitError
from genrekit.features.base import Extractor

__all__ = ["AugmentingExtractor"]


class AugmentingExtractor(Extractor):
    """An extractor that adds the features of randomly degraded copies of every signal (training only).

    ``extractor(y, sr)`` returns ``(n_views * n_segments, dim)``: the base features of ``y`` first, then,
    for each of ``copies`` copies, the base features of ``y`` degraded by one degradation drawn from
    ``augment`` at a level drawn uniformly from its ``augment_range``. The draws are deterministic given
    ``seed`` and the signal's content digest (the same file always gets the same copies, in any process).
    A time-stretched copy is cut or looped back to the input length, so every view has the same number of
    segments and rows ``k * n_segments ... (k + 1) * n_segments - 1`` are view ``k`` (0 = clean).

    Parameters
    ----------
    base : Extractor
        The features the model is trained on.
    augment : str or sequence of str
        Degradation or group names (:func:`genrekit.degrade.resolve`: ``"noise,codec"``, ``"all"``).
    copies : int
        Degraded copies per signal (>= 0; 0 or an empty ``augment`` gives the base features only).
    seed : int

    Notes
    -----
    ``names``, ``dim``, ``sr``, ``frame_shape`` and ``config`` are the base extractor's. ``to_dict()`` is
    the base description plus an ``"augment"`` entry: feature caches keep augmented and plain features
    apart, and :func:`genrekit.features.registry.extractor_from_dict` rebuilds the *base* extractor from
    it (prediction must not augment). Rows of all views share the track id; a model whose training uses
    neighbouring rows of a track (the torch ``crop`` augmentation) sees view boundaries as neighbours.
    """

    name = "augmented"

    def __init__(
        self, base: Extractor, augment: str | Sequence[str] = "all", copies: int = 1, seed: int = 0
    ) -> None:
        if not isinstance(base, Extractor):
            raise ConfigError(f"base must be a feature Extractor; got {type(base).__name__}")
        if isinstance(base, AugmentingExtractor):
            raise ConfigError("base is already an AugmentingExtractor; augment once, with more copies")
        if not isinstance(copies, (int, np.integer)) or copies < 0:
            raise ConfigError(f"copies must be an integer >= 0; got {copies!r}")
        self.base = base
        self.augment = resolve(augment)
        self.copies = int(copies) if self.augment else 0
        self.seed = int(seed)
        self.config = base.config
        self.name = base.name  # type: ignore[misc]

    # ---- delegated output ---------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return self.base.names

    @property
    def frame_shape(self) -> tuple[int, int] | None:
        return self.base.frame_shape

    @property
    def sr(self) -> int:
        return self.base.sr

    @property
    def n_views(self) -> int:
        """Clean view plus degraded copies."""
        return 1 + self.copies

    def _extract(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - __call__ is overridden
        return self(y, self.sr)

    # ---- computing ----------------------------------------------------------------------------------
    def plan(self, y: np.ndarray) -> list[tuple[str, float]]:
        """The ``(degradation, level)`` of each copy :meth:`__call__` makes for ``y``, in order."""
        return [(name, level) for name, level, _ in self._draws(np.asarray(y, dtype=np.float32))]

    def _draws(self, y: np.ndarray) -> list[tuple[str, float, np.random.Generator]]:
        if not self.copies:
            return []
        digest = int(array_digest(y), 16)
        out = []
        for k in range(self.copies):
            rng = np.random.default_rng([self.seed, digest & (2**64 - 1), digest >> 64, k])
            name = self.augment[int(rng.integers(len(self.augment)))]
            out.append((name, DEGRADATIONS[name].sample_level(rng), rng))
        return out

    def __call__(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Base features of ``y`` and of its degraded copies, shape ``(n_views * n_segments, dim)``."""
        y = np.asarray(y, dtype=np.float32)
        clean = self.base(y, sr)
        views = [clean]
        for name, level, rng in self._draws(y):
            z = fix_length(DEGRADATIONS[name].fn(y, sr, level, rng), len(y))
            feats = self.base(z, sr)
            if feats.shape != clean.shape:  # pragma: no cover - same length gives the same segments
                raise GenreKitError(
                    f"degraded copy ({name}) gave features {feats.shape}, clean {clean.shape}"
                )
            views.append(feats)
        return np.concatenate(views).astype(np.float32, copy=False)

    def segment_times(self, n_samples: int, sr: int) -> np.ndarray:
        """The base segment times repeated for every view, shape (n_views * n_segments, 2)."""
        return np.tile(self.base.segment_times(n_samples, sr), (self.n_views, 1))

    def view_index(self, n_rows: int) -> np.ndarray:
        """View of each of the ``n_rows`` rows one call returned (0 = clean), shape (n_rows,)."""
        if n_rows % self.n_views:
            raise ConfigError(f"{n_rows} rows do not split into {self.n_views} equal views")
        return np.repeat(np.arange(self.n_views), n_rows // self.n_views)

    def clean_rows(self, features: np.ndarray) -> np.ndarray:
        """The clean view of one call's output: its first ``n_rows / n_views`` rows."""
        return np.asarray(features)[self.view_index(len(features)) == 0]

    # ---- persistence --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = self.base.to_dict()
        d["augment"] = {"degradations": list(self.augment), "copies": self.copies, "seed": self.seed}
        return d

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> Extractor:  # pragma: no cover - never registered
        raise ConfigError("an AugmentingExtractor is built from a base extractor, not from a config")

    def __repr__(self) -> str:
        return (
            f"AugmentingExtractor({self.base!r}, augment={self.augment}, copies={self.copies}, "
            f"seed={self.seed})"
        )
