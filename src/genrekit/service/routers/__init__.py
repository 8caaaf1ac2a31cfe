"""The service's routes, one :class:`fastapi.APIRouter` per job, included by ``create_app``.

``info`` (probes and the model's description), ``classify`` (audio and feature rows in, genres out) and
``page`` (the web page). Every route reaches the per-app :class:`~genrekit.service.runtime.Runtime`
through the ``RuntimeDep`` dependency (``app.state.runtime``), never through a closure.
"""

from __future__ import annotations

from genrekit.service.routers import classify, info, page

ROUTERS = (info.router, classify.router, page.router)

__all__ = ["ROUTERS", "classify", "info", "page"]
