"""Digests of files and arrays, for caches and resumable batches."""

from __future__ import annotations

import hashlib
import os

import numpy as np


def file_digest(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b-128 hex digest of a file's bytes, for caches and resumable batches."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def array_digest(y: np.ndarray) -> str:
    """BLAKE2b-128 hex digest of an array's dtype, shape and bytes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(y.dtype).encode() + str(y.shape).encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()
