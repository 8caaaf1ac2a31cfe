"""The HTTP service: a thin FastAPI layer over :meth:`Classifier.predict` and tabular ``predict_rows``.

Endpoints (OpenAPI at ``/docs`` and ``/openapi.json``)::

    GET  /                      the web page (plain HTML/JS from ``static/``)
    GET  /health                liveness: the process answers
    GET  /ready                 readiness: the model is loaded (503 until then)
    GET  /v1/model              labels, feature config, training metrics, genrekit version
    POST /v1/classify           multipart field ``audio``; query ``top_k``, ``segments``, ``crop_s``
    POST /v1/classify/batch     several ``audio`` fields; one result or one error per file
    POST /v1/predict/features   JSON rows of named features (tabular bundles)

The model is loaded once per worker process in the lifespan handler. Decoding and inference run in a
thread pool of ``max_in_flight`` threads behind an :class:`asyncio.Semaphore`: an upload is read in full
on the event loop (streamed, never blocking it) before it takes a slot, so a slow client cannot hold
one; when more than ``max_queue`` requests wait for a slot the service answers 503 with
``Retry-After``.

Errors are JSON ``{"error": {"type": ..., "message": ...}}``: not audio / corrupt -> 400, body over the
upload cap -> 413 (from ``Content-Length`` before reading anything, or while counting streamed bytes),
container that cannot be decoded -> 415, bad parameters or feature rows -> 422, model not loaded -> 503.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

import numpy as np
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genrekit.audio import info as audio_info
from genrekit.bundle import Bundle, load_bundle
from genrekit.config import FFMPEG_EXTENSIONS, genrekit_version
from genrekit.errors import AudioError, ConfigError, GenreKitError, UnsupportedFormatError
from genrekit.files import to_jsonable
from genrekit.predict import Classifier, Prediction, classifier_from_bundle, load_model
from genrekit.pretrained import names as pretrained_names

log = logging.getLogger("genrekit.service")
T = TypeVar("T")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9698
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_MAX_IN_FLIGHT = 2
DEFAULT_MAX_QUEUE = 64
DEFAULT_MAX_DURATION_S = 1800.0
MAX_BATCH_FILES = 16
MAX_FEATURE_ROWS = 10_000
MAX_TOP_K = 50
#: Environment read by :func:`create_app_from_env` (the gunicorn / ``--workers N`` path).
ENV_MODEL = "GENREKIT_MODEL"
ENV_MAX_UPLOAD_MB = "GENREKIT_MAX_UPLOAD_MB"
ENV_MAX_IN_FLIGHT = "GENREKIT_MAX_IN_FLIGHT"
ENV_MAX_QUEUE = "GENREKIT_MAX_QUEUE"
ENV_MAX_DURATION_S = "GENREKIT_MAX_DURATION_S"
#: Model names :func:`genrekit.predict.load_model` resolves without a bundle on disk.
PRETRAINED_NAMES = pretrained_names()
STATIC_DIR = Path(__file__).parent / "static"
MB = 1 << 20


# --------------------------------------------------------------------------------------------- the model
@dataclass
class ServedModel:
    """What the service serves: an audio :class:`Classifier`, or a tabular bundle (feature rows in)."""

    name: str
    classifier: Classifier | None = None
    bundle: Bundle | None = None

    @property
    def input(self) -> str:
        return "audio" if self.classifier is not None else "features"

    @property
    def labels(self) -> list[str]:
        if self.classifier is not None:
            return list(self.classifier.classes_)
        assert self.bundle is not None
        return [str(x) for x in self.bundle.labels]

    def describe(self) -> dict[str, Any]:
        """The ``/v1/model`` answer (without the service limits)."""
        if self.classifier is not None:
            d = self.classifier.describe()
            ext = self.classifier.extractor
            d.update(
                input="audio",
                sample_rate=ext.sr,
                segment_s=getattr(ext.config, "segment_s", None),
            )
            d.setdefault("metrics", {})
            return to_jsonable(d)
        b = self.bundle
        assert b is not None
        return to_jsonable(
            {
                "name": self.name,
                "input": "features",
                "labels": self.labels,
                "feature_names": list(b.feature_names or []),
                "kind": b.kind,
                "metrics": b.metrics,
                "data": b.data,
                "created": b.created,
                "bundle_genrekit_version": b.genrekit_version,
                "genrekit_version": genrekit_version(),
            }
        )


ModelRef = str | Path | Classifier | Bundle | ServedModel | None


def load_served_model(model: ModelRef) -> ServedModel:
    """Resolve what ``create_app`` was given into a :class:`ServedModel`.

    Parameters
    ----------
    model : path, name, Classifier, Bundle, ServedModel or None
        ``None`` (the default, ``gtzan``) or a pretrained name (:func:`genrekit.pretrained.names`) for the
        out-of-the-box tagger; a bundle directory or zip (audio or tabular); or a ready object.

    Raises
    ------
    ModelError
        A missing, foreign, tampered or incompatible bundle.
    """
    if isinstance(model, ServedModel):
        return model
    if isinstance(model, Classifier):
        return ServedModel(model.name, classifier=model)
    if isinstance(model, Bundle):
        if model.extractor is None:
            return ServedModel(model.kind, bundle=model)
        clf = classifier_from_bundle(model)
        return ServedModel(clf.name, classifier=clf)
    if model is None or str(model) in PRETRAINED_NAMES:
        clf = load_model(None if model is None else str(model))
        return ServedModel(clf.name, classifier=clf)
    path = Path(model)
    bundle = load_bundle(path)
    name = path.stem if path.suffix == ".zip" else path.name
    if bundle.extractor is None:
        return ServedModel(name, bundle=bundle)
    return ServedModel(name, classifier=classifier_from_bundle(bundle, name=name))


# -------------------------------------------------------------------------------------------- errors
class ServiceError(Exception):
    """An HTTP error the service answers on purpose (not from the library)."""

    def __init__(
        self, status: int, message: str, *, type_: str = "ServiceError", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.headers = headers


def status_for(exc: GenreKitError) -> int:
    """HTTP status of a library error raised while handling a request's input."""
    if isinstance(exc, UnsupportedFormatError):
        return 415
    if isinstance(exc, AudioError):
        return 400
    return 422  # ConfigError, ModelError, DatasetError: the input does not fit the parameters/model


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def public_message(exc: GenreKitError) -> str:
    """The error's message for a client: object reprs from decoders replaced by ``the upload``."""
    return _OBJECT_REPR.sub("the upload", str(exc))


def error_body(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **extra}}


def _error_response(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(type_, message, **extra), status_code=status, headers=headers)


def _describe_validation(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ())]
        msg = str(e.get("msg", ""))
        if e.get("type") == "json_invalid":  # loc is ("body", character position)
            reason = (e.get("ctx") or {}).get("error", "")
            msg = f"not valid JSON ({reason}) at position {loc[-1]}" if reason else "not valid JSON"
            loc = ["body"]
        details.append({"loc": loc, "msg": msg, "type": str(e.get("type", ""))})
    parts = []
    for d in details[:5]:
        where = d["loc"]
        if len(where) >= 2 and where[0] in ("query", "body", "path", "header"):
            label = {"query": "query parameter", "body": "body field", "path": "path", "header": "header"}
            name = f"{label[where[0]]} {'.'.join(where[1:])}"
        else:
            name = ".".join(where) or "request"
        parts.append(f"{name}: {d['msg']}")
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more, details


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as JSON ``{"error": {"type", "message"}}`` with the right status."""

    @app.exception_handler(GenreKitError)
    async def _genrekit(request: Request, exc: GenreKitError) -> JSONResponse:
        return _error_response(status_for(exc), type(exc).__name__, public_message(exc))

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return _error_response(exc.status, exc.type, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _describe_validation(list(exc.errors()))
        return _error_response(422, "ValidationError", message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and message == "There was an error parsing the body":
            message = "the request body cannot be parsed (not UTF-8 JSON, or a malformed multipart form)"
        return _error_response(exc.status_code, "HTTPError", message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        msg = f"internal error ({type(exc).__name__}); see the server log"
        return _error_response(500, "InternalError", msg)


# ------------------------------------------------------------------------------------- upload size cap
class UploadLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a JSON 413.

    A declared ``Content-Length`` over the cap is answered at once, before any of the body is read. The
    bytes actually received are counted too (a client may lie, or stream with chunked encoding): when the
    count passes the cap the application sees the client as gone, and whatever it would answer is
    replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, what: str) -> JSONResponse:
        mb = self.max_bytes / MB
        return _error_response(
            413,
            "PayloadTooLarge",
            f"request body {what} the upload limit of {mb:g} MB ({self.max_bytes} bytes)",
            headers={"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > self.max_bytes:
            await self._too_large(f"of {declared} bytes exceeds")(scope, receive, send)
            return

        received = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            if tripped:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    tripped = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped:
                if not started:
                    started = True
                    await self._too_large("exceeds")(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
        if tripped and not started:
            await self._too_large("exceeds")(scope, receive, send)


# ------------------------------------------------------------------------------------------ runtime
@dataclass
class Runtime:
    """Per-worker state: the model, the bounded thread pool and the queue counter."""

    model_ref: ModelRef
    max_upload_bytes: int
    max_in_flight: int
    max_queue: int
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S
    warmup: bool = True
    served: ServedModel | None = None
    load_error: str | None = None
    executor: ThreadPoolExecutor | None = None
    semaphore: asyncio.Semaphore | None = None
    started: bool = False
    load_task: asyncio.Task | None = None
    waiting: int = 0
    in_flight: int = 0
    started_at: float = field(default_factory=time.time)

    async def load(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.executor is not None
        served = await loop.run_in_executor(self.executor, load_served_model, self.model_ref)
        if self.warmup:
            await loop.run_in_executor(self.executor, warm_up, served)
        self.served = served
        log.info("model %r loaded (%s input, %d labels)", self.served.name, self.served.input,
                 len(self.served.labels))

    async def load_in_background(self) -> None:
        try:
            await self.load()
        except GenreKitError as exc:
            self.load_error = str(exc)
            log.error("model failed to load: %s", exc)
        except Exception as exc:  # noqa: BLE001 - reported on /ready instead of killing the worker
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model failed to load")

    async def start(self, *, background: bool) -> None:
        """Create the pool and load the model (now, or in a background task)."""
        self.started = True
        self.executor = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="genrekit-infer")
        self.semaphore = asyncio.Semaphore(self.max_in_flight)
        if background:
            self.load_task = asyncio.create_task(self.load_in_background())
        else:
            await self.load()

    def stop(self) -> None:
        if self.load_task is not None and not self.load_task.done():
            self.load_task.cancel()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def model_for(self, wanted: str) -> ServedModel:
        """The loaded model for an endpoint taking ``wanted`` input; see :meth:`require`.

        When the ASGI server ran no lifespan (e.g. ``uvicorn --lifespan off``), the first request
        starts the runtime and loads the model.
        """
        if not self.started:
            try:
                await self.start(background=False)
            except GenreKitError as exc:
                self.load_error = str(exc)
        return self.require(wanted)

    def require(self, wanted: str) -> ServedModel:
        """The loaded model if it takes ``wanted`` input ("audio" or "features"), else a 503/422."""
        if self.served is None:
            why = f"model failed to load: {self.load_error}" if self.load_error else "model is still loading"
            raise ServiceError(503, why, type_="NotReady", headers={"Retry-After": "5"})
        if self.served.input != wanted:
            if wanted == "audio":
                msg = (f"model {self.served.name!r} takes feature rows, not audio; POST them as JSON to "
                       "/v1/predict/features")
            else:
                msg = f"model {self.served.name!r} takes audio, not feature rows; POST a file to /v1/classify"
            raise ServiceError(422, msg, type_="WrongInput")
        return self.served

    def admit(self) -> None:
        """Refuse a new request (503) when every slot is busy and ``max_queue`` requests wait already."""
        assert self.semaphore is not None
        if self.semaphore.locked() and self.waiting >= self.max_queue:
            raise ServiceError(
                503,
                f"the server is busy ({self.waiting} requests waiting); retry shortly",
                type_="Busy",
                headers={"Retry-After": "1"},
            )

    async def _execute(self, call: Callable[[], T]) -> T:
        """Run ``call`` in the pool; the caller holds a slot, released here."""
        assert self.semaphore is not None and self.executor is not None
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, call)
        finally:
            self.in_flight -= 1
            self.semaphore.release()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in the inference pool, at most ``max_in_flight`` at once; 503 when the queue is full."""
        (out,) = await self.run_all([functools.partial(fn, *args, **kwargs)])
        if isinstance(out, BaseException):
            raise out
        return out

    async def run_all(self, calls: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        """Run the calls of one request (a batch) in the pool, sharing the ``max_in_flight`` slots.

        The request is admitted, or refused with 503, once, and counts as one waiting request while any
        of its calls waits for a slot. Each call's exception is returned in its place, so one failing
        file does not lose the others.
        """
        assert self.semaphore is not None
        self.admit()
        pending = len(calls)
        if pending:
            self.waiting += 1

        async def one(call: Callable[[], T]) -> T:
            nonlocal pending
            try:
                await self.semaphore.acquire()  # type: ignore[union-attr]
            finally:
                pending -= 1
                if pending == 0:
                    self.waiting -= 1
            return await self._execute(call)

        return await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)


def warm_up(served: ServedModel) -> None:
    """Classify a few seconds of quiet noise once, before serving.

    First-call costs (numba JIT compiling in librosa, torch kernel selection) are then paid at
    start-up rather than by the first client.
    """
    clf = served.classifier
    if clf is None:
        return
    seg = getattr(clf.extractor.config, "segment_s", None) or 3.0
    n = int(round(max(2 * seg, 3.0) * clf.sr))
    y = (1e-3 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    t0 = time.perf_counter()
    try:
        clf.predict_audio(y, clf.sr)
    except Exception as exc:  # noqa: BLE001 - a warm-up failure only costs the first request its speed
        log.warning("warm-up prediction failed (%s: %s); serving anyway", type(exc).__name__, exc)
        return
    log.info("warm-up prediction took %.0f ms", (time.perf_counter() - t0) * 1000)


# ---------------------------------------------------------------------------------------- upload input
#: Magic numbers of containers soundfile cannot read; they are routed to ffmpeg (or answered 415).
_CONTAINER_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", ".m4a"),  # MP4 / M4A / AAC in ISO-BMFF
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", ".wma"),  # ASF (WMA/WMV)
    (0, b"\x1a\x45\xdf\xa3", ".webm"),  # EBML (WebM / Matroska)
)


def sniff_container(head: bytes) -> str | None:
    """Extension of a container that only ffmpeg decodes, recognised by its first bytes; else None."""
    for offset, magic, ext in _CONTAINER_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return ext
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:  # ADTS AAC (layer bits 00)
        return ".aac"
    return None


def upload_name(filename: str | None) -> str:
    """A printable name for an uploaded file: its base name, or ``upload``."""
    name = Path((filename or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload"


def as_source(data: bytes, filename: str | None) -> io.BytesIO:
    """Wrap uploaded bytes as a named file object for :func:`genrekit.audio.load`.

    The name carries the client's file name, so errors name it; when the bytes are a container only
    ffmpeg reads, the extension is set from the bytes, so the library takes the ffmpeg route (or says
    the container is unsupported) whatever the client called the file.
    """
    name = upload_name(filename)
    sniffed = sniff_container(data[:16])
    if sniffed is not None and Path(name).suffix.lower() not in FFMPEG_EXTENSIONS:
        name = f"{name}{sniffed}"
    bio = io.BytesIO(data)
    bio.name = name
    return bio


def classify_bytes(
    clf: Classifier,
    data: bytes | BinaryIO,
    filename: str | None,
    *,
    crop_s: float | None = None,
    max_duration_s: float | None = None,
    min_confidence: float | None = None,
    explain: bool = False,
) -> Prediction:
    """Decode and classify one upload (runs in the inference pool).

    ``data`` is the upload's bytes or its spooled file (read here, in the pool: a large upload is on
    disk, and reading it here keeps that I/O off the event loop and out of extra threads). The header
    is read first: with ``crop_s`` only that window around the middle is decoded (at most
    ``max_duration_s`` of it), and without it audio longer than ``max_duration_s`` is refused before its
    samples are decoded (a 50 MB mp3 can hold an hour of music, over a gigabyte of float32 samples).

    Raises
    ------
    AudioError
        Not audio, corrupt, or longer than ``max_duration_s`` without ``crop_s``.
    """
    if not isinstance(data, bytes | bytearray):
        data.seek(0)
        data = data.read()
    src = as_source(data, filename)
    kw: dict[str, Any] = {} if min_confidence is None else {"min_confidence": min_confidence}
    if explain:
        kw["explain"] = True
    if Path(src.name).suffix.lower() in FFMPEG_EXTENSIONS:
        # no header to read the length from: ffmpeg decodes from the start and stops just past the
        # limit (an over-long file is refused having decoded max_duration_s + 1 s, not all of it)
        if crop_s is None and max_duration_s is not None:
            return clf.predict(src, max_duration_s=max_duration_s, **kw)
        return clf.predict(src, crop_s=crop_s, **kw)
    if crop_s is None and max_duration_s is not None:
        total_s = audio_info(src).duration_s
        src.seek(0)
        if total_s > max_duration_s:
            raise AudioError(
                f"audio is {total_s:.1f} s long, over this server's limit of {max_duration_s:g} s; add "
                f"crop_s (e.g. crop_s=60) to classify a window around its middle",
                source=src.name,
            )
    window = crop_s if max_duration_s is None or crop_s is None else min(crop_s, max_duration_s)
    return clf.predict(src, crop_s=window, **kw)  # crop_s, at most the server's limit, read as a window


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


# ------------------------------------------------------------------------------------------- the app
def create_app(
    model: ModelRef = None,
    *,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S,
    load_at_startup: bool = True,
    warmup: bool = True,
) -> FastAPI:
    """Build the service for one model.

    Parameters
    ----------
    model : path, name, Classifier, Bundle, ServedModel or None
        What to serve (see :func:`load_served_model`); ``None`` is the default pretrained model (``gtzan``).
    max_upload_mb : float
        Cap on a request body in MB (2**20 bytes); larger bodies get 413.
    max_in_flight : int
        Requests decoded/classified at once (size of the inference thread pool).
    max_queue : int
        Requests allowed to wait for a slot; beyond that the answer is 503 with ``Retry-After``.
    max_duration_s : float or None
        Longest audio classified whole (seconds, from the header, before decoding); longer uploads get
        400 unless the request asks for ``crop_s``. ``None``: the library's own limit (one hour).
    load_at_startup : bool
        Load the model before serving (a model that fails to load stops the start-up). When False the
        model loads in the background: ``/health`` answers at once and ``/ready`` (and the model
        endpoints) answer 503 until it is loaded, or with the load error if it failed.
    warmup : bool
        After loading, classify a few seconds of quiet noise once (first-call JIT and kernel costs are
        paid before ``/ready`` turns 200, not by the first client).

    Raises
    ------
    ConfigError
        A limit out of range.
    """
    if not (isinstance(max_upload_mb, int | float) and math.isfinite(max_upload_mb) and max_upload_mb > 0):
        raise ConfigError(f"max_upload_mb must be a positive number, got {max_upload_mb!r}")
    if not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise ConfigError(f"max_in_flight must be an integer >= 1, got {max_in_flight!r}")
    if not isinstance(max_queue, int) or max_queue < 0:
        raise ConfigError(f"max_queue must be an integer >= 0, got {max_queue!r}")
    if max_duration_s is not None and not (
        isinstance(max_duration_s, int | float) and math.isfinite(max_duration_s) and max_duration_s > 0
    ):
        raise ConfigError(f"max_duration_s must be a positive number or None, got {max_duration_s!r}")
    rt = Runtime(
        model_ref=model,
        max_upload_bytes=int(max_upload_mb * MB),
        max_in_flight=max_in_flight,
        max_queue=max_queue,
        max_duration_s=max_duration_s,
        warmup=warmup,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        try:
            await rt.start(background=not load_at_startup)
            yield
        finally:
            rt.stop()

    version = genrekit_version()
    app = FastAPI(
        title="genrekit",
        version=version,
        summary="Tell which genre a piece of music belongs to.",
        description=(
            "Upload audio to `/v1/classify` (multipart field `audio`) for the genre, the sorted "
            "probabilities and the genre timeline across the track's segments. Every error is JSON "
            '`{"error": {"type": ..., "message": ...}}`.'
        ),
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from local files: no CDN, works offline
        redoc_url=None,
    )
    install_docs(app)
    app.state.runtime = rt
    app.add_middleware(UploadLimitMiddleware, max_bytes=rt.max_upload_bytes)
    install_error_handlers(app)

    # ------------------------------------------------------------------------------------- probes
    @app.get("/health", response_model=Health, tags=["probes"])
    async def health() -> dict[str, Any]:
        """Liveness: the process answers (whether or not the model is loaded)."""
        return {
            "status": "ok",
            "genrekit_version": version,
            "model_loaded": rt.served is not None,
            "in_flight": rt.in_flight,
            "waiting": rt.waiting,
            "uptime_s": round(time.time() - rt.started_at, 1),
        }

    @app.get("/ready", response_model=Ready, tags=["probes"], responses={503: _ERRORS[503]})
    async def ready() -> dict[str, Any]:
        """Readiness: 200 once the model is loaded, 503 before (or when it failed to load)."""
        if rt.served is None:
            await rt.model_for("audio")  # raises the 503 with the reason
        assert rt.served is not None
        return {"status": "ready", "model": rt.served.name, "input": rt.served.input}

    # -------------------------------------------------------------------------------------- model
    @app.get("/v1/model", response_model=ModelInfo, tags=["model"], responses={503: _ERRORS[503]})
    async def model_info() -> dict[str, Any]:
        """Labels, feature configuration, training metrics and versions of the served model."""
        if rt.served is None:
            await rt.model_for("audio")
        assert rt.served is not None
        d = rt.served.describe()
        d["limits"] = {
            "max_upload_mb": rt.max_upload_bytes / MB,
            "max_duration_s": rt.max_duration_s,
            "max_in_flight": rt.max_in_flight,
            "max_batch_files": MAX_BATCH_FILES,
            "max_feature_rows": MAX_FEATURE_ROWS,
        }
        return d

    audio_errors = {k: _ERRORS[k] for k in (400, 413, 415, 422, 503)}

    @app.post("/v1/classify", response_model=ClassifyResult, response_model_exclude_unset=True,
              tags=["classify"], responses=audio_errors)
    async def classify(
        request: Request,
        audio: Annotated[UploadFile, File(description="An audio file (wav, flac, ogg, mp3, ...).")],
        top_k: TopK = 3,
        segments: Segments = True,
        crop_s: CropS = None,
        min_confidence: MinConfidence = None,
        explain: Explain = False,
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
            crop_s=crop_s,
            max_duration_s=rt.max_duration_s,
            min_confidence=min_confidence,
            explain=explain,
        )
        return pred.to_dict(top_k=top_k, segments=segments)

    @app.post("/v1/classify/batch", response_model=BatchResult, response_model_exclude_unset=True,
              tags=["classify"], responses=audio_errors)
    async def classify_batch(
        audio: Annotated[
            list[UploadFile], File(description=f"Up to {MAX_BATCH_FILES} audio files, each as `audio`.")
        ],
        top_k: TopK = 3,
        segments: Segments = False,
        crop_s: CropS = None,
        min_confidence: MinConfidence = None,
        explain: Explain = False,
    ) -> dict[str, Any]:
        """Classify several files in one request: one result or one error per file, in order."""
        t0 = time.perf_counter()
        served = await rt.model_for("audio")
        assert served.classifier is not None
        clf = served.classifier
        if len(audio) > MAX_BATCH_FILES:
            raise ServiceError(
                422,
                f"{len(audio)} files in one batch; the limit is {MAX_BATCH_FILES}",
                type_="ValidationError",
            )

        calls = [
            functools.partial(
                classify_bytes,
                clf,
                upload.file,
                upload.filename,
                crop_s=crop_s,
                max_duration_s=rt.max_duration_s,
                min_confidence=min_confidence,
                explain=explain,
            )
            for upload in audio
        ]
        outcomes = await rt.run_all(calls)

        def entry(upload: UploadFile, out: Prediction | BaseException) -> dict[str, Any]:
            name = upload_name(upload.filename)
            if isinstance(out, BaseException):
                if isinstance(out, GenreKitError):
                    kind, message, status = type(out).__name__, public_message(out), status_for(out)
                else:  # a bug, not the file's fault: logged; the other files' answers still go out
                    log.error("classifying %s failed", name, exc_info=out)
                    kind, message, status = "InternalError", "internal error while classifying this file", 500
                error = {"type": kind, "message": message, "status": status}
                return {"filename": name, "ok": False, "error": error}
            return {"filename": name, "ok": True, "result": out.to_dict(top_k=top_k, segments=segments)}

        results = [entry(u, o) for u, o in zip(audio, outcomes, strict=True)]
        n_ok = sum(r["ok"] for r in results)
        return {
            "results": results,
            "n_ok": n_ok,
            "n_failed": len(results) - n_ok,
            "model": served.name,
            "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
        }

    @app.post("/v1/predict/features", response_model=FeatureResult, tags=["classify"],
              responses={k: _ERRORS[k] for k in (400, 413, 422, 503)})
    async def predict_features(body: FeatureRows) -> dict[str, Any]:
        """Classify rows of named features with a tabular bundle (one row or a list of rows)."""
        t0 = time.perf_counter()
        served = await rt.model_for("features")
        rows = [body.rows] if isinstance(body.rows, dict) else list(body.rows)
        check_rows(rows)
        results = await rt.run(predict_feature_rows, served.bundle, rows, body.top_k)
        elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
        return {"results": results, "model": served.name, "elapsed_ms": elapsed_ms}

    # ---------------------------------------------------------------------------------- the page
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from local assets, so they work with no network.

    The JavaScript and CSS come from the ``fastapi-offline`` package's ``static`` folder (Swagger UI,
    Apache-2.0; ReDoc, MIT), mounted at ``/docs-assets``; no font, favicon or validator is fetched.
    """
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui():  # noqa: ANN202 - a Response, no response model
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            oauth2_redirect_url=None,
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc():  # noqa: ANN202 - a Response, no response model
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API reference",
            redoc_js_url="/docs-assets/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )


def check_rows(rows: list[dict[str, Any]]) -> None:
    """Refuse empty, oversized or non-finite feature rows with a 422 naming the row and column."""
    if not rows:
        raise ServiceError(422, "no feature rows given; send at least one", type_="ValidationError")
    if len(rows) > MAX_FEATURE_ROWS:
        raise ServiceError(
            422, f"{len(rows)} rows in one request; the limit is {MAX_FEATURE_ROWS}", type_="ValidationError"
        )
    for i, row in enumerate(rows):
        if not row:
            raise ServiceError(422, f"row {i} is empty", type_="ValidationError")
        for k, v in row.items():
            if isinstance(v, bool):  # JSON true/false: pydantic would take them as 1.0/0.0
                raise ServiceError(
                    422,
                    f"row {i}, feature {k!r}: {str(v).lower()} is not a number (send 1 or 0 if you mean it)",
                    type_="ValidationError",
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ServiceError(422, f"row {i}, feature {k!r}: {v} is not a finite number",
                                   type_="ValidationError")


def predict_feature_rows(
    bundle: Bundle | None, rows: list[dict[str, Any]], top_k: int
) -> list[dict[str, Any]]:
    """Run ``genrekit.tabular.predict_rows`` (in the pool); bad values in the rows become ConfigError."""
    from genrekit.tabular import predict_rows

    assert bundle is not None
    try:
        return to_jsonable(predict_rows(bundle, rows, top_k=top_k))
    except GenreKitError:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # sklearn's input checks on the values sent
        raise ConfigError(f"the feature rows cannot be used by this model: {exc}") from None


# ------------------------------------------------------------------------------------ env factory
def _env_number(name: str, cast: Callable[[str], T], default: T) -> T:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a valid number") from None


def create_app_from_env() -> FastAPI:
    """The app factory for gunicorn and ``uvicorn --factory`` (one model load per worker).

    Reads ``GENREKIT_MODEL`` (bundle path or pretrained name; unset: gtzan),
    ``GENREKIT_MAX_UPLOAD_MB``, ``GENREKIT_MAX_IN_FLIGHT``, ``GENREKIT_MAX_QUEUE`` and
    ``GENREKIT_MAX_DURATION_S``.
    """
    return create_app(
        os.environ.get(ENV_MODEL) or None,
        max_upload_mb=_env_number(ENV_MAX_UPLOAD_MB, float, DEFAULT_MAX_UPLOAD_MB),
        max_in_flight=_env_number(ENV_MAX_IN_FLIGHT, int, DEFAULT_MAX_IN_FLIGHT),
        max_queue=_env_number(ENV_MAX_QUEUE, int, DEFAULT_MAX_QUEUE),
        max_duration_s=_env_number(ENV_MAX_DURATION_S, float, DEFAULT_MAX_DURATION_S),
    )


__all__ = [
    "DEFAULT_PORT",
    "ServedModel",
    "create_app",
    "create_app_from_env",
    "load_served_model",
    "status_for",
]
