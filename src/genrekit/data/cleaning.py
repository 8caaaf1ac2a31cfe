"""The cleaning report of a feature table: every column left out and every row dropped, with its reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrekit.files import to_jsonable


# --------------------------------------------------------------------------------------------- reports
@dataclass(frozen=True)
class CleaningEntry:
    """One row or column left out of a table (or one column renamed), and why.

    Attributes
    ----------
    kind : {"row", "column"}
    reason : str
        Machine-readable rule: ``missing_label``, ``unmapped_label``, ``missing_value``,
        ``sentinel_value``, ``non_numeric_value``, ``bad_date``, ``out_of_range_value``, ``exact_duplicate``,
        ``duplicate_track``,
        ``conflicting_labels``, ``rare_label`` (rows); ``label_column``, ``id_column``,
        ``artist_column``, ``id_like``, ``non_numeric``, ``empty``, ``sparse``, ``constant``, ``excluded``,
        ``renamed``, ``date`` (columns).
    message : str
        The human-readable line.
    row : int or None
        Data-row number (from 0) for row entries.
    column : str or None
    track_id : str or None
    """

    kind: str
    reason: str
    message: str
    row: int | None = None
    column: str | None = None
    track_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class CleaningReport:
    """Everything :func:`load_table` left out, one entry per dropped row or excluded/renamed column.

    Attributes
    ----------
    source : str
    n_rows_in, n_rows_out : int
        Data rows read and rows kept.
    features : list of str
        The feature columns used, in order.
    label_column, id_column, artist_column : str or None
    entries : list of CleaningEntry
    """

    source: str
    n_rows_in: int = 0
    n_rows_out: int = 0
    features: list[str] = field(default_factory=list)
    label_column: str = ""
    id_column: str | None = None
    artist_column: str | None = None
    entries: list[CleaningEntry] = field(default_factory=list)

    def add_row(
        self, row: int, reason: str, message: str, *, column: str | None = None, track_id: str | None = None
    ) -> None:
        where = f"row {row}" + (f" ({self.id_column} {track_id})" if track_id is not None else "")
        self.entries.append(CleaningEntry("row", reason, f"{where}: {message}", row, column, track_id))

    def add_column(self, column: str, reason: str, message: str) -> None:
        self.entries.append(CleaningEntry("column", reason, f"column {column!r}: {message}", column=column))

    @property
    def rows(self) -> list[CleaningEntry]:
        return [e for e in self.entries if e.kind == "row"]

    @property
    def columns(self) -> list[CleaningEntry]:
        return [e for e in self.entries if e.kind == "column"]

    @property
    def dropped_rows(self) -> dict[str, int]:
        """Number of dropped rows per reason."""
        return dict(Counter(e.reason for e in self.rows))

    def lines(self, reason: str | None = None) -> list[str]:
        """The report lines, optionally of one reason only."""
        return [e.message for e in self.entries if reason is None or e.reason == reason]

    def summary(self) -> dict[str, Any]:
        """Counts only (what a bundle stores)."""
        return {
            "source": self.source,
            "n_rows_in": self.n_rows_in,
            "n_rows_out": self.n_rows_out,
            "rows_dropped": self.dropped_rows,
            "features": list(self.features),
            "label_column": self.label_column,
            "id_column": self.id_column,
            "artist_column": self.artist_column,
            "columns": {e.column: e.reason for e in self.columns},
        }

    def to_dict(self) -> dict[str, Any]:
        """Every entry, JSON-ready."""
        return {**self.summary(), "entries": [e.to_dict() for e in self.entries]}

    def to_text(self, *, limit: int | None = None) -> str:
        """Readable report; ``limit`` shows at most that many row lines per reason (the counts stay exact)."""
        n_drop = self.n_rows_in - self.n_rows_out
        out = [
            f"{self.source}: {self.n_rows_in} rows read, {self.n_rows_out} kept, {n_drop} dropped; "
            f"label {self.label_column!r}, {len(self.features)} feature column(s)",
            f"track id: {self.id_column or '(none: every row is its own track)'}; "
            f"artist: {self.artist_column or '(none)'}",
        ]
        if self.columns:
            out.append("columns:")
            out += [f"  {e.message}" for e in self.columns]
        counts = self.dropped_rows
        if counts:
            out.append("rows dropped: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            for reason in counts:
                lines = self.lines(reason)
                shown = lines if limit is None else lines[:limit]
                out += [f"  {line}" for line in shown]
                if len(shown) < len(lines):
                    out.append(f"  ... and {len(lines) - len(shown)} more {reason} rows")
        else:
            out.append("rows dropped: none")
        return "\n".join(out)

    def write(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``cleaning.txt`` and ``cleaning.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        txt, js = folder / "cleaning.txt", folder / "cleaning.json"
        txt.write_text(self.to_text() + "\n", encoding="utf-8")
        js.write_text(json.dumps(to_jsonable(self.to_dict()), indent=1) + "\n", encoding="utf-8")
        return txt, js
