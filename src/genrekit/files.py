"""Writing files the one way genrekit does: JSON-ready values, and atomic replacement.

Every JSON document genrekit writes (bundles, reports, batch metadata, caches, API answers) goes
through :func:`to_jsonable`, so NaN, numpy types and paths read the same everywhere; every file that a
reader may open while it is being written goes through :func:`atomic_write_bytes`.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Recursively convert ``value`` to plain JSON types.

    Mappings become dicts with string keys; lists, tuples and sets become lists; numpy arrays and
    scalars become Python lists and numbers; non-finite floats (NaN, inf) become ``None`` (JSON has no
    NaN); paths become strings; any other object becomes its ``str``.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader sees the old file or the whole new one, never a part; the temporary file is removed when
    the write fails.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))
