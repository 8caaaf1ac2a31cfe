"""The web page: ``/`` (plain HTML/JS); its assets are mounted at ``/static`` by :func:`install_page`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from genrekit.service.runtime import STATIC_DIR

router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


def install_page(app: FastAPI) -> None:
    """Mount the page's assets at ``/static`` (a mount belongs to the app: routers do not carry mounts)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
