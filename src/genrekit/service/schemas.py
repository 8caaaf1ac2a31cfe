"""The request and response schemas of the API (pydantic), and the typed query parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from genrekit.config import MAX_TOP_K


# ---------------------------------------------------------------------------------------- API schemas
class ErrorInfo(BaseModel):
    type: str
    message: str
    model_config = ConfigDict(extra="allow")


class ErrorResponse(BaseModel):
    error: ErrorInfo


class GenreProbability(BaseModel):
    genre: str
    probability: float


class SegmentResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    start_s: float
    end_s: float
    genre: str
    probabilities: dict[str, float]
    contribution: float | None = Field(
        None, description="This segment's additive share in the track's score for the track's genre."
    )


class ExplainedSegment(BaseModel):
    start_s: float
    end_s: float
    support: float = Field(description="The segment's share in the track's score for the answer.")
    margin: float = Field(description="Its share for the answer minus its share for the runner-up.")
    genre: str = Field(description="The segment's own top genre.")


class ExplainedRef(BaseModel):
    segment: int = Field(description="Index into segments.")
    start_s: float
    end_s: float
    margin: float = Field(description="The segment's share for the answer minus its share for the runner-up.")


class ExplanationResult(BaseModel):
    """Why the track got its genre: which segments argue most for and against it."""

    genre: str
    runner_up: str
    method: str = Field(description="The segment-to-track aggregation.")
    score_kind: str = Field(description="What the supports and margins add up to.")
    track_margin: float = Field(description="Sum of the segment margins: the lead over the runner-up.")
    segments: list[ExplainedSegment]
    strongest: list[ExplainedRef] = Field(
        description="Segments with a positive margin, most for the answer first (at most 3)."
    )
    weakest: list[ExplainedRef] = Field(
        description="Segments with a negative margin (they prefer the runner-up), most against first."
    )


class ClassifyResult(BaseModel):
    """One file's prediction (``segments`` only when asked for)."""

    model_config = ConfigDict(extra="allow")
    source: str | None = None
    genre: str = Field(description="The most probable genre, or 'unsure' under min_confidence.")
    unsure: bool = False
    confidence: float = Field(description="The top probability.")
    probabilities: dict[str, float] = Field(description="Every label, most probable first.")
    top_k: list[GenreProbability]
    duration_s: float
    segments: list[SegmentResult] | None = None
    model: str
    elapsed_ms: float
    explanation: ExplanationResult | None = None


class BatchItem(BaseModel):
    filename: str
    ok: bool
    result: ClassifyResult | None = None
    error: ErrorInfo | None = None


class BatchResult(BaseModel):
    results: list[BatchItem]
    n_ok: int
    n_failed: int
    model: str
    elapsed_ms: float


FeatureValue = float | str | bool | None


class FeatureRows(BaseModel):
    """Feature rows for a tabular bundle: ``rows`` is one object of named features, or a list of them."""

    rows: dict[str, FeatureValue] | list[dict[str, FeatureValue]] = Field(
        description="One row {feature: value} or a list of rows (at most 10000).",
        examples=[[{"tempo": 120.0, "rms_mean": 0.1}]],
    )
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="How many genres to list per row.")


class FeatureResult(BaseModel):
    results: list[dict[str, Any]]
    model: str
    elapsed_ms: float


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    input: str = Field(description="'audio' (files to /v1/classify) or 'features' (/v1/predict/features).")
    labels: list[str]
    genrekit_version: str
    limits: dict[str, Any]


class Health(BaseModel):
    status: str
    genrekit_version: str
    model_loaded: bool
    in_flight: int = Field(description="Requests being decoded/classified now, in this worker.")
    waiting: int = Field(description="Requests waiting for an inference slot, in this worker.")
    uptime_s: float


class Ready(BaseModel):
    status: str
    model: str
    input: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "Not audio, corrupt/truncated audio, or a body that cannot be parsed.",
        413: "Request body over the upload limit.",
        415: "A container this server cannot decode (e.g. m4a without ffmpeg).",
        422: "Invalid parameters, or input the model does not take.",
        503: "Model not loaded yet, or the server is busy.",
    }.items()
}


TopK = Annotated[int, Query(ge=1, le=MAX_TOP_K, description="How many genres to list in `top_k`.")]


Segments = Annotated[bool, Query(description="Include the per-segment genre timeline.")]


CropS = Annotated[
    float | None,
    Query(ge=1.0, le=3600.0, description="Classify only this many seconds around the middle."),
]


Explain = Annotated[
    bool, Query(description="Add `explanation`: the runner-up and the segments most for and against.")
]


MinConfidence = Annotated[
    float | None,
    Query(ge=0.0, le=1.0, description="Answer genre 'unsure' when the top probability is below this."),
]


@dataclass(frozen=True)
class AudioQuery:
    """The query parameters ``/v1/classify`` and ``/v1/classify/batch`` share (a FastAPI dependency).

    ``segments`` is not among them: its default differs (the timeline of one file, not of a batch).
    """

    top_k: TopK = 3
    crop_s: CropS = None
    min_confidence: MinConfidence = None
    explain: Explain = False


AudioQueryDep = Annotated[AudioQuery, Depends()]
