"""Probes (``/health``, ``/ready``) and the served model's description (``/v1/model``)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from genrekit.config import genrekit_version
from genrekit.service.errors import MB
from genrekit.service.runtime import MAX_BATCH_FILES, MAX_FEATURE_ROWS, RuntimeDep
from genrekit.service.schemas import _ERRORS, Health, ModelInfo, Ready

router = APIRouter()


@router.get("/health", response_model=Health, tags=["probes"])
async def health(rt: RuntimeDep) -> dict[str, Any]:
    """Liveness: the process answers (whether or not the model is loaded)."""
    return {
        "status": "ok",
        "genrekit_version": genrekit_version(),
        "model_loaded": rt.served is not None,
        "in_flight": rt.in_flight,
        "waiting": rt.waiting,
        "uptime_s": round(time.time() - rt.started_at, 1),
    }


@router.get("/ready", response_model=Ready, tags=["probes"], responses={503: _ERRORS[503]})
async def ready(rt: RuntimeDep) -> dict[str, Any]:
    """Readiness: 200 once the model is loaded, 503 before (or when it failed to load)."""
    if rt.served is None:
        await rt.model_for("audio")  # raises the 503 with the reason
    assert rt.served is not None
    return {"status": "ready", "model": rt.served.name, "input": rt.served.input}


@router.get("/v1/model", response_model=ModelInfo, tags=["model"], responses={503: _ERRORS[503]})
async def model_info(rt: RuntimeDep) -> dict[str, Any]:
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
