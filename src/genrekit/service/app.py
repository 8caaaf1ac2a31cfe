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

Layout: ``errors`` (JSON errors, upload guard) <- ``runtime`` (served model, limits, pool, the
``RuntimeDep`` dependency) and ``schemas`` <- ``routers`` (``info``, ``classify``, ``page``: one
``APIRouter`` each) <- ``app`` (the factory: limits, runtime, middleware, error handlers, routers);
``server`` holds the uvicorn settings.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from genrekit.config import ServiceLimits, genrekit_version
from genrekit.service.errors import MB, UploadLimitMiddleware, install_error_handlers, status_for
from genrekit.service.routers import ROUTERS
from genrekit.service.routers.page import install_page
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
    ModelRef,
    Runtime,
    ServedModel,
    load_served_model,
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
    max_upload_mb, max_in_flight, max_queue, max_duration_s
        What each worker accepts: request size (MB), concurrent and queued requests, audio length (s);
        see :class:`genrekit.config.ServiceLimits`, which checks them.
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
        A limit out of range (:class:`genrekit.config.ServiceLimits` checks them).
    """
    limits = ServiceLimits(
        max_upload_mb=max_upload_mb,
        max_in_flight=max_in_flight,
        max_queue=max_queue,
        max_duration_s=max_duration_s,
    )
    rt = Runtime(
        model_ref=model,
        max_upload_bytes=int(limits.max_upload_mb * MB),
        max_in_flight=limits.max_in_flight,
        max_queue=limits.max_queue,
        max_duration_s=limits.max_duration_s,
        warmup=warmup,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        try:
            await rt.start(background=not load_at_startup)
            yield
        finally:
            rt.stop()

    app = FastAPI(
        title="genrekit",
        version=genrekit_version(),
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
    app.state.runtime = rt  # what the routes' RuntimeDep gives them
    app.add_middleware(UploadLimitMiddleware, max_bytes=rt.max_upload_bytes)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_page(app)
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
        **asdict(ServiceLimits.from_environ(os.environ)),
    )


__all__ = [
    "DEFAULT_PORT",
    "ENV_MAX_DURATION_S",
    "ENV_MAX_IN_FLIGHT",
    "ENV_MAX_QUEUE",
    "ENV_MAX_UPLOAD_MB",
    "ENV_MODEL",
    "ServedModel",
    "create_app",
    "create_app_from_env",
    "load_served_model",
    "status_for",
]
