"""Genres out: ``/v1/classify`` (one file), ``/v1/classify/batch`` (several), ``/v1/predict/features`` (rows).

Audio goes through :class:`genrekit.predict.Classifier` in the inference pool: one file through
:meth:`~genrekit.predict.Classifier.predict` (via :func:`classify_bytes`), a batch through
:meth:`~genrekit.predict.Classifier.predict_batch` (via :func:`classify_uploads`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile

from genrekit.errors import GenreKitError
from genrekit.predict import Prediction
from genrekit.service.errors import ServiceError, log, public_message, status_for
from genrekit.service.runtime import (
    MAX_BATCH_FILES,
    RuntimeDep,
    check_rows,
    classify_bytes,
    classify_uploads,
    predict_feature_rows,
    upload_name,
)
from genrekit.service.schemas import (
    _ERRORS,
    AudioQueryDep,
    BatchResult,
    ClassifyResult,
    FeatureResult,
    FeatureRows,
    Segments,
)

router = APIRouter(tags=["classify"])

AUDIO_ERRORS = {k: _ERRORS[k] for k in (400, 413, 415, 422, 503)}


@router.post("/v1/classify", response_model=ClassifyResult, response_model_exclude_unset=True,
             responses=AUDIO_ERRORS)  # fmt: skip
async def classify(
    request: Request,
    rt: RuntimeDep,
    audio: Annotated[UploadFile, File(description="An audio file (wav, flac, ogg, mp3, ...).")],
    q: AudioQueryDep,
    segments: Segments = True,
) -> dict[str, Any]:
    """Classify one audio file: genre, sorted probabilities, top-k and the segment timeline."""
    n_parts = len((await request.form()).getlist("audio"))  # the form FastAPI parsed (cached)
    if n_parts > 1:
        raise ServiceError(
            422,
            f"{n_parts} `audio` parts in one request; /v1/classify takes one file per request "
            "(send several to /v1/classify/batch)",
            type_="ValidationError",
        )
    served = await rt.model_for("audio")
    assert served.classifier is not None
    pred = await rt.run(
        classify_bytes,
        served.classifier,
        audio.file,
        audio.filename,
        rt.upload_reader(q.crop_s),
        min_confidence=q.min_confidence,
        explain=q.explain,
    )
    return pred.to_dict(top_k=q.top_k, segments=segments)


def _entry(upload: UploadFile, out: Prediction | BaseException, top_k: int, segments: bool) -> dict[str, Any]:
    """One file's part of a batch answer: its result, or its error as JSON."""
    name = upload_name(upload.filename)
    if not isinstance(out, BaseException):
        return {"filename": name, "ok": True, "result": out.to_dict(top_k=top_k, segments=segments)}
    if isinstance(out, GenreKitError):
        kind, message, status = type(out).__name__, public_message(out), status_for(out)
    else:  # a bug, not the file's fault: logged; the other files' answers still go out
        log.error("classifying %s failed", name, exc_info=out)
        kind, message, status = "InternalError", "internal error while classifying this file", 500
    return {"filename": name, "ok": False, "error": {"type": kind, "message": message, "status": status}}


@router.post("/v1/classify/batch", response_model=BatchResult, response_model_exclude_unset=True,
             responses=AUDIO_ERRORS)  # fmt: skip
async def classify_batch(
    rt: RuntimeDep,
    audio: Annotated[
        list[UploadFile], File(description=f"Up to {MAX_BATCH_FILES} audio files, each as `audio`.")
    ],
    q: AudioQueryDep,
    segments: Segments = False,
) -> dict[str, Any]:
    """Classify several files in one request: one result or one error per file, in order."""
    t0 = time.perf_counter()
    served = await rt.model_for("audio")
    assert served.classifier is not None
    if len(audio) > MAX_BATCH_FILES:
        raise ServiceError(
            422, f"{len(audio)} files in one batch; the limit is {MAX_BATCH_FILES}", type_="ValidationError"
        )
    outcomes = await rt.run(
        classify_uploads,
        served.classifier,
        [(upload.file, upload.filename) for upload in audio],
        rt.upload_reader(q.crop_s),
        min_confidence=q.min_confidence,
        explain=q.explain,
    )
    results = [_entry(u, o, q.top_k, segments) for u, o in zip(audio, outcomes, strict=True)]
    n_ok = sum(r["ok"] for r in results)
    return {
        "results": results,
        "n_ok": n_ok,
        "n_failed": len(results) - n_ok,
        "model": served.name,
        "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
    }


@router.post("/v1/predict/features", response_model=FeatureResult,
             responses={k: _ERRORS[k] for k in (400, 413, 422, 503)})  # fmt: skip
async def predict_features(rt: RuntimeDep, body: FeatureRows) -> dict[str, Any]:
    """Classify rows of named features with a tabular bundle (one row or a list of rows)."""
    t0 = time.perf_counter()
    served = await rt.model_for("features")
    rows = [body.rows] if isinstance(body.rows, dict) else list(body.rows)
    check_rows(rows)
    results = await rt.run(predict_feature_rows, served.bundle, rows, body.top_k)
    elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
    return {"results": results, "model": served.name, "elapsed_ms": elapsed_ms}
