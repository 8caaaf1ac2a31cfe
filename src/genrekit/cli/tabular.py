"""Tabular commands (`genrekit tabular ...`)."""

from __future__ import annotations
