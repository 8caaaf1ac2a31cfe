"""Errors as JSON: library errors to HTTP statuses, validation messages, and the upload-size guard."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genrekit.errors import AudioError, GenreKitError, UnsupportedFormatError

log = logging.getLogger("genrekit.service")


MB = 1 << 20


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
