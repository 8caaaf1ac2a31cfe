"""The `genrekit serve` command."""

from __future__ import annotations
