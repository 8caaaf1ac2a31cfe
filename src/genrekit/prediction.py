"""What a prediction answers: :class:`Prediction` (a track) and :class:`SegmentPrediction` (one segment).

Plain frozen dataclasses with their text and JSON forms, importable without the predict path (no
scikit-learn, no torch); :mod:`genrekit.predict` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Prediction", "SegmentPrediction"]


@dataclass(frozen=True)
class SegmentPrediction:
    """The genre of one segment of a track."""

    start_s: float
    end_s: float
    genre: str
    probabilities: dict[str, float]
    #: This segment's additive share in the track's score for the track's top genre
    #: (see :func:`genrekit.explain.segment_contributions`); the shares of all segments sum to it.
    contribution: float | None = None

    def __repr__(self) -> str:
        top = next(iter(self.probabilities.values()), 0.0)
        return f"SegmentPrediction({self.start_s:.1f}-{self.end_s:.1f} s: {self.genre} {top:.0%})"


@dataclass(frozen=True)
class Prediction:
    """A track's genre, its class probabilities (sorted, highest first) and the per-segment timeline."""

    genre: str
    probabilities: dict[str, float]
    segments: list[SegmentPrediction] = field(default_factory=list)
    duration_s: float = 0.0
    source: str | None = None
    model: str = ""
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: True when the top probability was below the classifier's ``min_confidence``; ``genre`` is then
    #: ``"unsure"`` and the probabilities are still all there.
    unsure: bool = False

    @property
    def confidence(self) -> float:
        """The top probability (whether or not the answer is ``unsure``)."""
        return next(iter(self.probabilities.values()))

    def top_k(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable genres with their probabilities."""
        return list(self.probabilities.items())[: max(1, k)]

    def __repr__(self) -> str:
        """A short summary: genre, confidence, top 3, duration and segment count (not every segment)."""
        tops = ", ".join(f"{g} {p:.1%}" for g, p in self.top_k(3))
        where = f"{self.source!r}, " if self.source else ""
        return (
            f"Prediction({where}genre={self.genre!r}, confidence={self.confidence:.3f}, top 3: {tops}; "
            f"{self.duration_s:.1f} s, {len(self.segments)} segments, model={self.model!r})"
        )

    def __str__(self) -> str:
        tops = ", ".join(f"{g} {p:.0%}" for g, p in self.top_k(3))
        name = f"{self.source}: " if self.source else ""
        return f"{name}{self.genre} ({tops}; {self.duration_s:.1f} s, {len(self.segments)} segments)"

    def to_dict(self, *, top_k: int | None = None, segments: bool = True) -> dict[str, Any]:
        """JSON-ready dict (the service's and ``classify --json`` answer)."""
        d: dict[str, Any] = {
            "source": self.source,
            "genre": self.genre,
            "unsure": self.unsure,
            "confidence": self.confidence,
            "probabilities": dict(self.probabilities),
            "top_k": [{"genre": g, "probability": p} for g, p in self.top_k(top_k or 3)],
            "duration_s": self.duration_s,
            "model": self.model,
            "elapsed_ms": self.elapsed_ms,
        }
        if segments:
            d["segments"] = [
                {
                    "start_s": s.start_s,
                    "end_s": s.end_s,
                    "genre": s.genre,
                    "probabilities": s.probabilities,
                    "contribution": s.contribution,
                }
                for s in self.segments
            ]
        d.update(self.extra)
        return d
