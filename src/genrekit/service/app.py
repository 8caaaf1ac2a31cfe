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

Layout: ``errors`` (JSON errors, upload guard) <- ``runtime`` (served model, limits, pool) and ``schemas``
<- ``app`` (the routes); ``server`` holds the uvicorn settings.
"""

from __future__ import annotations

import functools
import math
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from genrekit.config import genrekit_version
from genrekit.errors import ConfigError, GenreKitError
from genrekit.predict import Prediction
from genrekit.service.errors import (
    MB,
    ServiceError,
    UploadLimitMiddleware,
    install_error_handlers,
    log,
    public_message,
    status_for,
)
from genrekit.service.runtime import (
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_PORT,
    ENV_MAX_DURATION_S,
    ENV_MAX_IN_FLIGHT,
    ENV_MAX_QUEUE,
    ENV_MAX_UPLOAD_MB,
    ENV_MODEL,
    MAX_BATCH_FILES,
    MAX_FEATURE_ROWS,
    STATIC_DIR,
    ModelRef,
    Runtime,
    ServedModel,
    _env_number,
    check_rows,
    classify_bytes,
    load_served_model,
    predict_feature_rows,
    upload_name,
)
from genrekit.service.schemas import (
    _ERRORS,
    BatchResult,
    ClassifyResult,
    CropS,
    Explain,
    FeatureResult,
    FeatureRows,
    Health,
    MinConfidence,
    ModelInfo,
    Ready,
    Segments,
    TopK,
)


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
