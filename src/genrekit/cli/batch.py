"""Batch commands (`genrekit batch ...`)."""

from __future__ import annotations
