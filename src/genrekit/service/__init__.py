"""The HTTP service (FastAPI) and its web page; see :mod:`genrekit.service.app`."""

from __future__ import annotations

from genrekit.service.app import DEFAULT_PORT, create_app, create_app_from_env, load_served_model

__all__ = ["DEFAULT_PORT", "create_app", "create_app_from_env", "load_served_model"]
