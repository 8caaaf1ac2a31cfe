"""Tabular mode: genre from feature tables (Spotify-style audio features, the Kaggle GTZAN table, ...).

A table (CSV, TSV, parquet, JSON) with one row per track and a label column goes through
:func:`load_table`, which cleans it and reports every row and column it leaves out and why
(:class:`CleaningReport`; nothing is dropped silently). The cleaned rows become a
:class:`genrekit.training.FeatureSet` in which every row is one track with one segment, so model
fitting, grid search, evaluation, reports and bundles are the ones used for audio:

- :func:`train_table` fits one model (optionally grid-searched with grouped CV on the training side),
  scores it on a grouped, stratified held-out split and returns/saves a bundle whose
  ``feature_names`` are the table's feature columns (``extractor=None``), or, with
  ``extractor="handcrafted"`` on a table with exactly that extractor's columns (the Kaggle GTZAN
  table), a bundle that also classifies audio (``genrekit classify``).
- :func:`compare_table` fits and scores several model families on the same split and writes a report.
- :func:`predict_rows` predicts the genre of feature rows (a DataFrame or a list of dicts) with a bundle.

Row numbers in messages count the table's data rows from 0 (a CSV's row ``i`` is on line ``i + 2``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from genrekit.bundle import Bundle, load_bundle, save_bundle
from genrekit.config import AUDIO_EXTENSIONS
from genrekit.errors import ConfigError, DatasetError, ModelError, unknown_name
from genrekit.evaluate import EvaluationResult, ModelRun, evaluate_predictions, fold_summary
from genrekit.files import to_jsonable
from genrekit.training import FeatureSet, fit_model, min_groups_per_label, score_model

log = logging.getLogger(__name__)

__all__ = [
    "DUPLICATE_POLICIES",
    "GROUP_BY",
    "SPOTIFY_FEATURES",
    "TABLE_EXTENSIONS",
    "CleaningEntry",
    "CleaningReport",
    "TableSplit",
    "TabularCompareResult",
    "TabularData",
    "TabularTrainResult",
    "compare_table",
    "load_table",
    "predict_rows",
    "read_label_map",
    "read_table",
    "split_table",
    "train_table",
]

#: The Spotify Web API audio features, in the API's order (``time_signature`` is missing from many tables).
SPOTIFY_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)
#: Spotify features a table may lack without error when ``features="spotify"``.
SPOTIFY_OPTIONAL: tuple[str, ...] = ("time_signature",)
#: Other names of Spotify columns -> (canonical name, unit factor; None = seconds or ms, decided by value).
_ALIASES: dict[str, tuple[str, float | None]] = {
    "duration": ("duration_ms", None),
    "duration_s": ("duration_ms", 1000.0),
    "duration_sec": ("duration_ms", 1000.0),
    "duration_seconds": ("duration_ms", 1000.0),
    "timesignature": ("time_signature", 1.0),
    "time_sig": ("time_signature", 1.0),
}
#: Columns that identify or name things; never features.
# fmt: off
_ID_NAMES = frozenset({
    "id", "uri", "url", "href", "track_href", "analysis_url", "type", "track_id", "track_uri",
    "filename", "file_name", "file", "path", "relpath", "index", "name", "title", "song", "track",
    "track_name", "song_name", "artist", "artists", "artist_name", "artist_names", "album",
    "album_name", "playlist", "playlist_name",
})
# fmt: on
_ID_SUFFIXES: tuple[str, ...] = ("_id", "_ids", "_uri", "_url", "_href", "_name", "_names", "_path", "_file")
#: Columns describing the audio file rather than the music (the Kaggle GTZAN table's ``length``).
_METADATA_NAMES = frozenset(
    {"length", "n_samples", "num_samples", "samples", "sample_rate", "sr", "channels"}
)
#: Candidates of ``id_column="auto"`` and ``artist_column="auto"``, in order of preference.
ID_COLUMN_CANDIDATES: tuple[str, ...] = ("track_id", "id", "filename", "file", "path", "uri", "track_uri")
ARTIST_COLUMN_CANDIDATES: tuple[str, ...] = (
    "artist",
    "track_artist",
    "artists",
    "artist_name",
    "artist_names",
)
#: Text cells that mean "no value" and cells that are sentinels for one.
_NA_TOKENS = frozenset({"na", "n/a", "nan", "null", "none", "<na>"})
_SENTINEL_TOKENS = frozenset({"?", "??", "-", "--"})
#: Share of a column's non-empty cells that must be numbers for ``features="auto"`` to use it.
_NUMERIC_SHARE = 0.9
#: Share of all cells that must hold a value for ``features="auto"`` to use a column.
_SPARSE_SHARE = 0.5

DUPLICATE_POLICIES: tuple[str, ...] = ("majority", "drop")
GROUP_BY: tuple[str, ...] = ("auto", "track", "artist")
TABLE_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".jsonl")

# cell states of a parsed feature column
_OK, _MISSING, _EMPTY, _SENTINEL, _BAD, _NONFINITE, _BAD_DURATION, _BAD_DATE, _HUGE = range(9)
#: Largest magnitude a feature may have (features are float32).
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: A date cell, year first: ``2019-06-14``, ``2019-06``, ``2019``, ``2019/06/14``, ``2019-06-14T10:00:00``.
_DATE_RE = (
    r"^(\d{4})(?:([-/.])(\d{1,2})(?:\2(\d{1,2}))?)?"  # year, then month and day with one separator
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"  # an optional time of day
)


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


# ------------------------------------------------------------------------------------------------ data
@dataclass
class TabularData:
    """A cleaned table: one row per track.

    Attributes
    ----------
    X : np.ndarray, float32, shape (n_rows, n_features)
    y : np.ndarray of str, shape (n_rows,)
    track_ids : np.ndarray of str, shape (n_rows,)
        Unique; the id column's values, or ``row<N>`` without one.
    artists : np.ndarray of object, shape (n_rows,) or None
        Artist of each row (rows without one get their own ``track:<id>`` group), None without an artist
        column.
    features : list of str
    rows : np.ndarray, int64, shape (n_rows,)
        Data-row number of each row in the source table.
    label_column, id_column, artist_column : str or None
    label_map : dict or None
    duplicates : str
    renamed : dict
        Source column -> [canonical name, unit factor] for alias columns.
    source : str
    cleaning : CleaningReport
    dates : list of str
        Feature columns that hold dates, read as their calendar year (``2019-06-14`` -> 2019).
    """

    X: np.ndarray
    y: np.ndarray
    track_ids: np.ndarray
    artists: np.ndarray | None
    features: list[str]
    rows: np.ndarray
    label_column: str
    id_column: str | None
    artist_column: str | None
    label_map: dict[str, str | None] | None
    duplicates: str
    renamed: dict[str, list[Any]]
    source: str
    cleaning: CleaningReport
    dates: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.y.tolist()))

    def counts(self) -> dict[str, int]:
        """Rows per label, sorted by label."""
        return dict(sorted(Counter(self.y.tolist()).items()))

    def resolve_group_by(self, group_by: str = "auto") -> str:
        if group_by not in GROUP_BY:
            raise unknown_name("group_by", group_by, GROUP_BY)
        if group_by == "artist" and self.artists is None:
            raise ConfigError(
                f"group_by='artist' needs an artist column; {self.source} has none (pass artist_column)"
            )
        if group_by == "auto":
            return "artist" if self.artists is not None else "track"
        return group_by

    def groups(self, group_by: str = "auto") -> np.ndarray:
        """Split groups of every row: artist or track id, shape (n_rows,)."""
        by = self.resolve_group_by(group_by)
        return (self.artists if by == "artist" else self.track_ids).astype(str)  # type: ignore[union-attr]

    def feature_set(self, idx: np.ndarray | None = None, *, group_by: str = "auto") -> FeatureSet:
        """The rows ``idx`` (all by default) as a FeatureSet: one track, one segment per row.

        Grid searches on it group their folds by artist when ``group_by`` resolves to artist, else by
        track.
        """
        sel = np.arange(len(self)) if idx is None else np.asarray(idx)
        by = self.resolve_group_by(group_by)
        artists = self.artists[sel] if by == "artist" else np.full(len(sel), None, dtype=object)  # type: ignore[index]
        return FeatureSet(
            X=self.X[sel],
            y=self.y[sel],
            groups=self.track_ids[sel],
            artists=artists,
            names=list(self.features),
        )

    def fingerprint(self) -> str:
        """Digest of the feature names, values and labels (32 hex characters)."""
        h = hashlib.blake2b(digest_size=16)
        h.update("\x1f".join(self.features).encode())
        h.update(np.ascontiguousarray(self.X).tobytes())
        h.update("\x1f".join(self.y.tolist()).encode())
        return h.hexdigest()

    def settings(self) -> dict[str, Any]:
        """How the table was read (stored in bundles under ``extra["tabular"]``)."""
        return {
            "source": self.source,
            "label_column": self.label_column,
            "features": list(self.features),
            "id_column": self.id_column,
            "artist_column": self.artist_column,
            "label_map": self.label_map,
            "duplicates": self.duplicates,
            "renamed": self.renamed,
            "dates": list(self.dates),
        }


# ---------------------------------------------------------------------------------------------- reading
def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a table as text cells (CSV/TSV keep every cell as written) or take a DataFrame as is.

    Supported files: ``.csv``, ``.tsv``/``.txt`` (tab-separated), ``.parquet``/``.pq``, ``.json`` (a list of
    objects, or ``{"rows": [...]}``) and ``.jsonl`` (one object per line).

    Raises
    ------
    DatasetError
        Missing or unreadable file.
    ConfigError
        Unsupported extension (the supported ones are listed).
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    ext = path.suffix.lower()
    if ext not in TABLE_EXTENSIONS:
        raise ConfigError(
            f"unsupported table type {ext or '(no extension)'!r}; supported: {', '.join(TABLE_EXTENSIONS)}",
            source=path,
        )
    if not path.is_file():
        raise DatasetError("table not found", source=path)
    try:
        if ext in (".csv", ".tsv", ".txt"):
            sep = "," if ext == ".csv" else "\t"
            with path.open(encoding="utf-8-sig", newline="") as fh:
                header = next(csv.reader(fh, delimiter=sep), [])
            dup = sorted({c.strip() for c in header if [h.strip() for h in header].count(c.strip()) > 1})
            if dup:
                raise DatasetError(f"the table has duplicated column names: {dup}", source=path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                df = pd.read_csv(
                    path,
                    sep=sep,
                    dtype=str,
                    keep_default_na=False,
                    na_filter=False,
                    encoding="utf-8-sig",
                    index_col=False,  # a trailing comma on every row is an empty last cell, not an index
                )
            if caught:  # rows longer than the header: fine when the extra cells are empty (trailing commas)
                _check_extra_cells(path, sep, len(header))
            if df.shape[1] == 1 and sep == "," and ";" in str(df.columns[0]):
                raise DatasetError(
                    f"one column {str(df.columns[0])[:60]!r}: the file looks semicolon-separated; "
                    "save it comma-separated (or tab-separated as .tsv)",
                    source=path,
                )
            return df
        if ext in (".parquet", ".pq"):
            return pd.read_parquet(path)
        text = path.read_text(encoding="utf-8-sig")
        if ext == ".jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = json.loads(text)
            if isinstance(records, dict):
                records = records.get("rows", [records])
        return rows_frame(records)
    except ConfigError as exc:  # rows that are not objects
        raise DatasetError(str(exc), source=path) from None
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read the table ({type(exc).__name__}: {exc})", source=path) from None


def _check_extra_cells(path: Path, sep: str, n_columns: int) -> None:
    """Refuse a CSV whose rows carry values beyond its header's columns (they would be lost)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for i, cells in enumerate(csv.reader(fh, delimiter=sep)):
            if i and any(c.strip() for c in cells[n_columns:]):
                raise DatasetError(
                    f"row {i - 1} has {len(cells)} cells but the header names {n_columns} columns",
                    source=path,
                )


def rows_frame(rows: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame of feature rows given as a DataFrame, a list of dicts or one dict."""
    if isinstance(rows, pd.DataFrame):
        return rows.reset_index(drop=True)
    if isinstance(rows, Mapping):
        rows = [rows]
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise ConfigError(f"rows must be a DataFrame or a list of objects, got {type(rows).__name__}")
    bad = [i for i, r in enumerate(rows) if not isinstance(r, Mapping)]
    if bad:
        raise ConfigError(f"row {bad[0]} is a {type(rows[bad[0]]).__name__}, not an object of column: value")
    return pd.DataFrame.from_records(list(rows))


def read_label_map(source: str | Path | Mapping[str, Any]) -> dict[str, str | None]:
    """Read a label mapping: a dict, a JSON object file, or a CSV with two columns (from, to).

    A target that is empty or null means "drop rows with this label". Keys and values are stripped.

    Raises
    ------
    DatasetError
        Missing or malformed file, or one source label mapped to two targets.
    """
    if isinstance(source, Mapping):
        pairs = list(source.items())
        where: str | Path = "label map"
    else:
        where = path = Path(source)
        if not path.is_file():
            raise DatasetError("label map file not found", source=path)
        if path.suffix.lower() == ".json":
            try:
                obj = json.loads(path.read_text(encoding="utf-8-sig"))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"label map is not valid JSON ({exc})", source=path) from None
            if not isinstance(obj, dict):
                raise DatasetError(
                    "a JSON label map must be an object {source label: target label}", source=path
                )
            pairs = list(obj.items())
        else:
            try:
                df = pd.read_csv(
                    path, dtype=str, keep_default_na=False, encoding="utf-8-sig", header=None, index_col=False
                )
            except (ValueError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
                raise DatasetError(
                    f"cannot read the label map ({type(exc).__name__}: {exc})", source=path
                ) from None
            if df.shape[1] < 2:
                raise DatasetError(
                    f"a CSV label map needs two columns (from, to); its first line is {list(df.iloc[0])}",
                    source=path,
                )
            first = [str(v).strip().lower() for v in df.iloc[0, :2]]
            if any(v in _LABEL_MAP_HEADERS for v in first):  # a header line, else the first pair
                df = df.iloc[1:]
            pairs = list(zip(df.iloc[:, 0], df.iloc[:, 1], strict=True))
    out: dict[str, str | None] = {}
    for k, v in pairs:
        key = str(k).strip()
        val = None if v is None or str(v).strip() == "" else str(v).strip()
        if key in out and out[key] != val:
            raise DatasetError(f"label {key!r} is mapped twice ({out[key]!r} and {val!r})", source=where)
        out[key] = val
    if not out:
        raise DatasetError("the label map is empty", source=where)
    return out


#: First-line cells that make a label map's first line a header rather than a mapping.
_LABEL_MAP_HEADERS = frozenset(
    {"from", "to", "source", "target", "label", "labels", "genre", "genres", "old", "new", "subgenre",
     "playlist_genre", "playlist_subgenre", "original", "mapped", "map", "mapping"}
)  # fmt: skip


def _norm(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _is_duration(name: str) -> bool:
    """A column of durations, where negative values are sentinels (``-1``)."""
    return "duration" in _norm(name) or _norm(name) == "length"


def _canonical_renames(columns: Iterable[str], wanted: Iterable[str]) -> dict[str, tuple[str, float | None]]:
    """Alias column -> (canonical Spotify name, unit factor), for canonical names that are wanted."""
    cols = list(columns)
    present = set(cols)
    wanted_set = set(wanted)
    out: dict[str, tuple[str, float | None]] = {}
    for c in cols:
        n = _norm(c)
        target, factor = _ALIASES.get(n, (n, 1.0))
        if (
            target in wanted_set
            and target not in present
            and c != target
            and target not in {t for t, _ in out.values()}
        ):
            out[c] = (target, factor)
    return out


def _duration_factor(values: np.ndarray) -> float:
    """1000 when a ``duration`` column holds seconds (median <= 3600), else 1 (milliseconds)."""
    v = values[np.isfinite(values)]
    return 1000.0 if v.size and float(np.median(v)) <= 3600 else 1.0


def _parse_cells(series: pd.Series, *, duration: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Numbers and cell states of one column.

    Returns
    -------
    values : np.ndarray, float64, shape (n,)
        NaN where the cell is not a usable number.
    state : np.ndarray, int8, shape (n,)
        ``_OK``, ``_MISSING``, ``_EMPTY``, ``_SENTINEL``, ``_BAD``, ``_NONFINITE`` or ``_BAD_DURATION``.
    """
    n = len(series)
    state = np.full(n, _OK, dtype=np.int8)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = np.array(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    else:
        isna = series.isna().to_numpy()
        text = _text(series)
        low = text.str.lower()
        empty = (text == "").to_numpy() & ~isna
        missing = isna | low.isin(_NA_TOKENS).to_numpy()
        sentinel = text.isin(_SENTINEL_TOKENS).to_numpy()
        parsed = pd.to_numeric(text.where(~(missing | empty | sentinel), None), errors="coerce")
        values = np.array(parsed.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        state[missing] = _MISSING
        state[empty] = _EMPTY
        state[sentinel] = _SENTINEL
        state[(state == _OK) & np.isnan(values)] = _BAD
    state[(state == _OK) & np.isnan(values)] = _MISSING
    state[(state == _OK) & np.isinf(values)] = _NONFINITE
    state[(state == _OK) & (np.abs(values) > _FLOAT32_MAX)] = _HUGE
    if duration:
        state[(state == _OK) & (values < 0)] = _BAD_DURATION
    return values, state


def _parse_dates(
    series: pd.Series, numeric: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Calendar years of a date column, and cell states.

    Dates are read year first (``2019-06-14``, ``2019-06``, ``2019``, ``2019/06/14``, ISO date-times);
    numbers are taken as years already; datetime columns (parquet) give their year. Day-first dates
    (``14/06/2019``) are not dates here: they are ambiguous.

    ``numeric``: the column's :func:`_parse_cells` result when the caller has it already.

    Returns
    -------
    years : np.ndarray, float64, shape (n,)
        NaN where the cell is not a date.
    state : np.ndarray, int8, shape (n,)
        ``_OK``, ``_MISSING``, ``_EMPTY``, ``_SENTINEL``, ``_NONFINITE`` or ``_BAD_DATE``.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        years = series.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
        state = np.where(np.isnan(years), _MISSING, _OK).astype(np.int8)
        return years, state
    values, state = (a.copy() for a in numeric) if numeric is not None else _parse_cells(series)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return values, state
    text = _text(series)
    m = text[state == _BAD].astype(str).str.extract(_DATE_RE)
    if len(m):
        year = pd.to_numeric(m[0], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        month = pd.to_numeric(m[2], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        day = pd.to_numeric(m[3], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        ok = (
            np.isfinite(year)
            & (np.isnan(month) | ((month >= 1) & (month <= 12)))
            & (np.isnan(day) | ((day >= 1) & (day <= 31)))
        )
        idx = np.flatnonzero(state == _BAD)
        values[idx[ok]] = year[ok]
        state[idx[ok]] = _OK
    state[state == _BAD] = _BAD_DATE
    return values, state


def _as_dates(
    series: pd.Series, values: np.ndarray, numeric_state: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The column read as dates (:func:`_parse_dates`) when it holds dates, else None.

    Dates: under 90 % numbers but at least 90 % year-first dates, or bare years (whole numbers
    1000-2999) with the rest of its text cells all dates (``2004``, ``2019-06-14``). ``values`` and
    ``numeric_state`` are the column's :func:`_parse_cells` result.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _parse_dates(series)
    n_num, n_text = int(np.sum(numeric_state == _OK)), int(np.sum(numeric_state == _BAD))
    if n_text == 0:
        return None
    years_only = n_num >= _NUMERIC_SHARE * (n_num + n_text)  # numbers: dates only if they are all years
    if years_only:
        nums = values[numeric_state == _OK]
        if not np.all((nums == np.round(nums)) & (nums >= 1000) & (nums <= 2999)):
            return None  # numbers (a few junk cells drop their rows as before)
    years, st = _parse_dates(series, (values, numeric_state))
    n_ok, n_bad = int(np.sum(st == _OK)), int(np.sum(st == _BAD_DATE))
    if years_only:
        return (years, st) if n_bad == 0 else None
    return (years, st) if n_ok > 0 and n_ok >= _NUMERIC_SHARE * (n_ok + n_bad) else None


def _text(series: pd.Series) -> pd.Series:
    """Cells as stripped strings ("" for missing), object dtype.

    Whole numbers in a float column (numeric labels or ids with gaps, from parquet or JSON) read ``1``,
    not ``1.0``.
    """
    if pd.api.types.is_float_dtype(series.dtype):
        v = series.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = v[np.isfinite(v)]
        if ok.size and np.all(ok == np.round(ok)) and np.all(np.abs(ok) < 2**53):
            series = series.astype("Int64")
    return series.astype("string").fillna("").str.strip().astype(object)


def _cell_text(series: pd.Series, i: int) -> str:
    v = series.iloc[i]
    return repr(v) if isinstance(v, str) else str(v)


def _is_id_like(name: str) -> bool:
    n = _norm(name)
    return n in _ID_NAMES or n.endswith(_ID_SUFFIXES) or n.startswith("unnamed:") or n.startswith("unnamed_")


def _pick_column(kind: str, given: str | None, columns: list[str], candidates: Sequence[str]) -> str | None:
    if given is None:
        return None
    if given != "auto":
        if given not in columns:
            raise ConfigError(
                f"{kind} column {given!r} is not in the table; its columns are: {', '.join(columns)}"
            )
        return given
    by_norm = {_norm(c): c for c in reversed(columns)}
    for cand in candidates:
        if cand in by_norm:
            return by_norm[cand]
    return None


def _stem(entry: str) -> str:
    """File-name stem used to match split lists against ids: no folders, no audio extension."""
    name = PurePosixPath(str(entry).strip().replace("\\", "/")).name
    for ext in AUDIO_EXTENSIONS:
        if name.lower().endswith(ext.lower()):
            return name[: -len(ext)]
    return name


# ---------------------------------------------------------------------------------------------- loading
def load_table(
    source: str | Path | pd.DataFrame,
    *,
    label: str,
    features: str | Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    id_column: str | None = "auto",
    artist_column: str | None = "auto",
    label_map: str | Path | Mapping[str, Any] | None = None,
    duplicates: str = "majority",
    min_label_count: int = 2,
) -> tuple[TabularData, CleaningReport]:
    """Read and clean a labelled feature table.

    Parameters
    ----------
    source : path or DataFrame
        CSV, TSV, parquet or JSON table (see :func:`read_table`), one row per track.
    label : str
        Name of the label column (e.g. ``playlist_genre``).
    features : None, "auto", "spotify", list of str, or comma-separated str
        ``None``/``"auto"``: every numeric column except the label, id, artist and id-like columns
        (``id``, ``uri``, ``track_href``, ``analysis_url``, ``type``, names, ``*_id``, ...);
        ``"spotify"``: the Spotify audio features (``time_signature`` optional); or the columns named.
    exclude : sequence of str
        Columns never used as features.
    id_column : str, "auto" or None
        Column identifying a track (``auto``: ``track_id``, ``id``, ``filename``, ... when present).
        Rows sharing an id are one track listed several times.
    artist_column : str, "auto" or None
        Column naming the artist (``auto``: ``artist``, ``track_artist``, ...); splits group by it.
    label_map : path, dict or None
        Source label -> target label (a CSV ``from,to`` or JSON object); labels not in it, or mapped to
        nothing, are dropped.
    duplicates : {"majority", "drop"}
        A track listed several times with different labels: keep one row with the majority label
        (rows with a tie are dropped), or drop all its rows.
    min_label_count : int
        Labels with fewer rows (after everything else) are dropped; a held-out split needs 2.

    Returns
    -------
    data : TabularData
    report : CleaningReport
        Also available as ``data.cleaning``.

    Raises
    ------
    ConfigError
        Unknown label/id/artist/feature column (the table's columns are listed), unknown policy, a named
        feature column that is not numeric.
    DatasetError
        Unreadable table, no usable feature column, fewer than two labels left.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise unknown_name("duplicates policy", duplicates, DUPLICATE_POLICIES)
    t = _TableColumns.read(source, label=label, id_column=id_column, artist_column=artist_column)
    for c in exclude:
        if c not in t.columns:
            raise ConfigError(
                f"excluded column {c!r} is not in the table; its columns are: {', '.join(t.columns)}"
            )
    report = CleaningReport(source=t.name, n_rows_in=t.n, label_column=label)
    report.id_column, report.artist_column = t.id_col, t.artist_col
    if features is None or features == "auto":
        feat_src = _auto_features(t, exclude, report)
    else:
        feat_src = _named_features(t, features, exclude, report)
    if not feat_src:
        raise DatasetError(
            "the table has no usable feature column (numeric, not an id, label or name): "
            + "; ".join(e.message for e in report.columns),
            source=t.name,
        )
    _report_read_as(t, feat_src, report)
    report.features = [t.renames.get(c, (c, 1.0))[0] for c in feat_src]

    rows_cleaning = _RowCleaning(t, report)
    rows_cleaning.drop_exact_duplicates()
    lmap = rows_cleaning.clean_labels(label_map)
    X = rows_cleaning.drop_bad_values(feat_src)
    if rows_cleaning.ids is not None:
        rows_cleaning.resolve_repeated_tracks(duplicates)
    rows_cleaning.drop_rare_labels(min_label_count)
    data = rows_cleaning.data(X, feat_src, lmap, duplicates)
    if report.rows:
        log.info("%s: %d of %d rows dropped: %s", t.name, t.n - len(data.rows), t.n, report.dropped_rows)
    return data, report


class _TableColumns:
    """A raw table's columns, their roles (label, id, artist) and each column's parsed cells (cached)."""

    def __init__(self, raw: pd.DataFrame, name: str, label: str, id_col: str | None, artist_col: str | None):
        self.raw, self.name, self.label = raw, name, label
        self.columns = list(raw.columns)
        self.n = len(raw)
        self.id_col, self.artist_col = id_col, artist_col
        self.role = {label: "label_column", id_col: "id_column", artist_col: "artist_column"}
        #: alias column -> (canonical Spotify name, unit factor or None until measured)
        self.renames = _canonical_renames(
            [c for c in self.columns if c not in (label, id_col, artist_col)], SPOTIFY_FEATURES
        )
        canon = {c: self.renames.get(c, (c, 1.0))[0] for c in self.columns}
        self.by_canon = {v: k for k, v in canon.items()}
        self.parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.dates: list[str] = []

    @classmethod
    def read(
        cls,
        source: str | Path | pd.DataFrame,
        *,
        label: str,
        id_column: str | None,
        artist_column: str | None,
    ) -> _TableColumns:
        name = "table" if isinstance(source, pd.DataFrame) else str(source)
        raw = read_table(source)
        raw.columns = [str(c).strip() for c in raw.columns]
        dup_cols = [c for c, k in Counter(raw.columns).items() if k > 1]
        if dup_cols:
            raise DatasetError(f"the table has duplicated column names: {dup_cols}", source=name)
        raw = raw.reset_index(drop=True)
        columns = list(raw.columns)
        if label not in columns:
            raise ConfigError(
                f"label column {label!r} is not in the table; its columns are: {', '.join(columns)}",
                source=name,
            )
        id_col = _pick_column("id", id_column, columns, ID_COLUMN_CANDIDATES)
        artist_col = _pick_column("artist", artist_column, columns, ARTIST_COLUMN_CANDIDATES)
        if artist_col is not None and artist_col in (label, id_col):
            artist_col = None
        return cls(raw, name, label, id_col, artist_col)

    def parse(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """Values and cell states of ``col`` (dates read as years; durations in milliseconds)."""
        if col not in self.parsed:
            target, factor = self.renames.get(col, (col, 1.0))
            vals, st = _parse_cells(self.raw[col], duration=_is_duration(target))
            as_dates = _as_dates(self.raw[col], vals, st) if target == col else None
            if as_dates is not None:
                self.dates.append(col)
                self.parsed[col] = as_dates
                return as_dates
            if factor is None:
                factor = _duration_factor(vals[st == _OK])
                self.renames[col] = (target, factor)
            self.parsed[col] = (vals * factor if factor != 1.0 else vals, st)
        return self.parsed[col]

    def counts(self, col: str) -> tuple[int, int]:
        """Cells of ``col`` that are numbers, and cells that are text."""
        st = self.parse(col)[1]
        return int(np.sum(st == _OK)), int(np.sum(st == _BAD))

    def resolve(self, name: str) -> str | None:
        """The column a requested feature name means: itself, its case-insensitive form, or its alias."""
        n = _norm(name)
        for cand in (name, n, _ALIASES.get(n, (n, None))[0]):
            if cand in self.by_canon:
                return self.by_canon[cand]
        return name if name in self.columns else None


def _auto_features(t: _TableColumns, exclude: Sequence[str], report: CleaningReport) -> list[str]:
    """Every column usable as a feature, each other column with its reason in ``report``."""
    feat_src: list[str] = []
    for c in t.columns:
        if c in t.role:
            report.add_column(c, t.role[c], f"the {t.role[c].replace('_', ' ')}, not a feature")
        elif c in exclude:
            report.add_column(c, "excluded", "excluded by option")
        elif _is_id_like(c):
            report.add_column(c, "id_like", "identifies or names a track, not a feature")
        elif _norm(c) in _METADATA_NAMES:
            report.add_column(c, "metadata", "describes the audio file (samples, rate), not a feature")
        else:
            vals, st = t.parse(c)
            n_ok, n_bad = t.counts(c)
            if n_ok == 0 and n_bad == 0:
                report.add_column(c, "empty", "has no values")
            elif n_ok < _NUMERIC_SHARE * (n_ok + n_bad):
                example = _cell_text(t.raw[c], int(np.flatnonzero(st == _BAD)[0]))
                report.add_column(c, "non_numeric", f"not numeric (e.g. {example}), not a feature")
            elif n_ok < _SPARSE_SHARE * t.n:
                report.add_column(
                    c,
                    "sparse",
                    f"only {n_ok} of {t.n} cells hold a value; not a feature (its empty cells would drop "
                    "their rows; name it in features= to use it anyway)",
                )
            elif np.nanmin(vals[st == _OK]) == np.nanmax(vals[st == _OK]):
                report.add_column(c, "constant", f"the same value ({vals[st == _OK][0]:g}) in every row")
            else:
                feat_src.append(c)
    return feat_src


def _named_features(
    t: _TableColumns, features: str | Sequence[str], exclude: Sequence[str], report: CleaningReport
) -> list[str]:
    """The columns ``features`` names (``"spotify"``, a list or a comma-separated string), checked."""
    preset = None
    if isinstance(features, str) and features != "spotify":
        features = [f.strip() for f in features.split(",") if f.strip()]
    if features == "spotify":
        preset = [f for f in SPOTIFY_FEATURES if f in t.by_canon or f not in SPOTIFY_OPTIONAL]
        features = preset
    wanted = [str(f).strip() for f in features]
    missing = [f for f in wanted if t.resolve(f) is None]
    if missing:
        raise ConfigError(
            f"feature column(s) {missing} are not in the table; its columns are: {', '.join(t.columns)}",
            source=t.name,
        )
    feat_src = [t.resolve(f) for f in wanted]
    clash = [c for c in feat_src if c in t.role or c in exclude]
    if clash:
        raise ConfigError(f"column(s) {clash} cannot be both features and label/id/artist/excluded columns")
    for c in feat_src:
        n_ok, n_bad = t.counts(c)
        if n_ok < _NUMERIC_SHARE * (n_ok + n_bad) or n_ok == 0:
            bad = np.flatnonzero(t.parse(c)[1] == _BAD)
            example = f" (e.g. {_cell_text(t.raw[c], int(bad[0]))} in row {int(bad[0])})" if bad.size else ""
            raise ConfigError(f"feature column {c!r} is not numeric{example}", source=t.name)
    if preset is not None and "time_signature" not in t.by_canon:
        report.add_column("time_signature", "absent", "Spotify feature absent from the table; not used")
    for c in t.columns:
        if c in feat_src:
            continue
        if c in t.role:
            report.add_column(c, t.role[c], f"the {t.role[c].replace('_', ' ')}, not a feature")
        else:
            report.add_column(c, "excluded", "not among the requested features")
    return feat_src  # type: ignore[return-value]


def _report_read_as(t: _TableColumns, feat_src: list[str], report: CleaningReport) -> None:
    """Say which feature columns were renamed (aliases, units) or read as dates."""
    for c in feat_src:
        target, factor = t.renames.get(c, (c, 1.0))
        if target != c:
            unit = f" (seconds x {factor:g})" if factor not in (None, 1.0) else ""
            report.add_column(c, "renamed", f"read as {target!r}{unit}")
        elif c in t.dates:
            years, st = t.parse(c)
            ok = np.flatnonzero(st == _OK)
            example = f" (e.g. {_cell_text(t.raw[c], int(ok[0]))} -> {years[ok[0]]:.0f})" if ok.size else ""
            report.add_column(c, "date", f"dates, read as their year{example}")


#: Cell state -> (cleaning reason, what the row report says).
_STATE_NAMES: dict[int, tuple[str, str]] = {
    _MISSING: ("missing_value", "missing value"),
    _EMPTY: ("sentinel_value", "empty value"),
    _SENTINEL: ("sentinel_value", "sentinel value"),
    _BAD: ("non_numeric_value", "non-numeric value"),
    _NONFINITE: ("missing_value", "non-finite value"),
    _BAD_DURATION: ("sentinel_value", "sentinel duration"),
    _BAD_DATE: ("bad_date", "unreadable date (year first, e.g. 2019-06-14)"),
    _HUGE: ("out_of_range_value", "value beyond float32's range"),
}


class _RowCleaning:
    """The row steps of :func:`load_table`, in order; each drops rows and says why in the report."""

    def __init__(self, t: _TableColumns, report: CleaningReport) -> None:
        self.t, self.report = t, report
        self.keep = np.ones(t.n, dtype=bool)
        self.ids = _text(t.raw[t.id_col]).to_numpy(dtype=object) if t.id_col is not None else None
        self.labels = np.array(_text(t.raw[t.label]).tolist(), dtype=object)

    def tid(self, i: int) -> str | None:
        return None if self.ids is None or self.ids[i] == "" else str(self.ids[i])

    def drop(self, i: int, reason: str, message: str, column: str | None = None) -> None:
        self.keep[i] = False
        if column is None:
            self.report.add_row(int(i), reason, message, track_id=self.tid(int(i)))
        else:
            self.report.add_row(int(i), reason, message, column=column, track_id=self.tid(int(i)))

    def drop_exact_duplicates(self) -> None:
        """Rows equal to an earlier row in every column."""
        n = self.t.n
        h = pd.util.hash_pandas_object(self.t.raw.astype(str), index=False).to_numpy()
        first_of = pd.Series(np.arange(n)).groupby(h).transform("first").to_numpy()
        for i in np.flatnonzero(first_of != np.arange(n)):
            self.drop(int(i), "exact_duplicate", f"exact duplicate of row {int(first_of[i])}")

    def clean_labels(self, label_map: str | Path | Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Drop rows with no label; map labels through ``label_map`` (unmapped rows dropped)."""
        label = self.t.label
        low = _text(self.t.raw[label]).str.lower().to_numpy()
        for i in np.flatnonzero(self.keep & np.isin(low, list(_NA_TOKENS | {""}))):
            self.drop(int(i), "missing_label", f"missing label in column {label!r}", column=label)
        if label_map is None:
            return None
        lmap = read_label_map(label_map)
        for i in np.flatnonzero(self.keep):
            target = lmap.get(self.labels[i], "\0unmapped")
            if target == "\0unmapped" or target is None:
                why = "is not in the label map" if target == "\0unmapped" else "is mapped to nothing"
                self.drop(int(i), "unmapped_label", f"label {self.labels[i]!r} {why}", column=label)
            else:
                self.labels[i] = target
        return lmap

    def drop_bad_values(self, feat_src: list[str]) -> np.ndarray:
        """Drop rows with a cell that is not a usable number; the feature matrix (n_rows, n_features)."""
        states = np.stack([self.t.parse(c)[1] for c in feat_src], axis=1)
        X = np.stack([self.t.parse(c)[0] for c in feat_src], axis=1)
        for i in np.flatnonzero(self.keep & (states != _OK).any(axis=1)):
            j = int(np.flatnonzero(states[i] != _OK)[0])
            reason, what = _STATE_NAMES[int(states[i, j])]
            cell = _cell_text(self.t.raw[feat_src[j]], int(i))
            more = int(np.sum(states[i] != _OK)) - 1
            extra = f" (and {more} more column{'s' if more > 1 else ''})" if more else ""
            self.drop(int(i), reason, f"{what} {cell} in column {feat_src[j]!r}{extra}", column=feat_src[j])
        return X

    def resolve_repeated_tracks(self, duplicates: str) -> None:
        """A track listed several times: keep one row (its majority label), or drop them all."""
        ids, labels = self.ids, self.labels
        assert ids is not None
        live = np.flatnonzero(self.keep & (ids != ""))
        live = live[pd.Series(ids[live]).duplicated(keep=False).to_numpy()]
        for _, members in pd.Series(live).groupby(ids[live], sort=False):
            idx = members.to_numpy()
            ranked = Counter(labels[idx].tolist()).most_common()
            tally = ", ".join(f"{lab!r} x{k}" for lab, k in ranked)
            if len(ranked) == 1:
                kept = int(idx[0])
                for i in idx[1:]:
                    self.drop(int(i), "duplicate_track", f"same track as row {kept} (kept)")
            elif duplicates == "majority" and ranked[0][1] > ranked[1][1]:
                winner = ranked[0][0]
                kept = int(next(i for i in idx if labels[i] == winner))
                for i in idx:
                    if i != kept:
                        self.drop(
                            int(i),
                            "duplicate_track",
                            f"same track as row {kept}; labels {tally}: kept the majority {winner!r}",
                        )
            else:
                why = "no majority" if duplicates == "majority" else "duplicates='drop'"
                for i in idx:
                    self.drop(
                        int(i),
                        "conflicting_labels",
                        f"track listed {len(idx)} times with labels {tally} ({why}): all dropped",
                    )

    def drop_rare_labels(self, min_label_count: int) -> None:
        """Labels with fewer than ``min_label_count`` rows left."""
        counts = Counter(self.labels[self.keep].tolist())
        rare = {lab for lab, k in counts.items() if k < min_label_count}
        for i in np.flatnonzero(self.keep & np.isin(self.labels, list(rare))):
            self.drop(
                int(i),
                "rare_label",
                f"label {self.labels[i]!r} has {counts[self.labels[i]]} row(s), fewer than {min_label_count}",
            )

    def data(
        self, X: np.ndarray, feat_src: list[str], lmap: dict[str, Any] | None, duplicates: str
    ) -> TabularData:
        """The kept rows as :class:`TabularData` (at least two labels)."""
        t, report, labels = self.t, self.report, self.labels
        rows = np.flatnonzero(self.keep)
        report.n_rows_out = int(rows.size)
        left = sorted(set(labels[rows].tolist()))
        if len(left) < 2:
            raise DatasetError(
                f"{len(left)} label(s) left after cleaning ({left}); a classifier needs at least two. "
                f"Cleaning: {report.dropped_rows}",
                source=t.name,
            )
        track_ids = np.array([self.tid(int(i)) or f"row{int(i)}" for i in rows], dtype=str)
        artists = None
        if t.artist_col is not None:
            a = _text(t.raw[t.artist_col]).to_numpy(dtype=object)[rows]
            named = [v if v else f"track:{k}" for v, k in zip(a, track_ids, strict=True)]
            artists = np.array(named, dtype=object)
        return TabularData(
            X=X[rows].astype(np.float32),
            y=np.asarray(labels[rows].tolist(), dtype=str),
            track_ids=track_ids,
            artists=artists,
            features=list(report.features),
            rows=rows.astype(np.int64),
            label_column=t.label,
            id_column=t.id_col,
            artist_column=t.artist_col,
            label_map=lmap,
            duplicates=duplicates,
            renamed={c: [k, f] for c, (k, f) in t.renames.items() if c in feat_src},
            source=t.name,
            cleaning=report,
            dates=[c for c in feat_src if c in t.dates],
        )


# ----------------------------------------------------------------------------------------------- splits
@dataclass
class TableSplit:
    """Row indices (into a TabularData) of each side of a split."""

    train: np.ndarray
    test: np.ndarray
    description: str
    notes: list[str] = field(default_factory=list)
    #: Grouping of the training rows for grid-search folds when the table knows no artists (the sides
    #: of published train/valid lists, which are artist-disjoint in the filtered GTZAN split).
    search_groups: np.ndarray | None = None


def _grouped_folds(
    k: int, seed: int, y: np.ndarray, groups: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep every group on one side, as ``(train_idx, test_idx)`` pairs.

    ``StratifiedGroupKFold``, or ``StratifiedKFold`` when every group is a single row: the same guarantee
    without StratifiedGroupKFold's per-group Python loop (~20 s for ~27k single-row groups).
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    X = np.zeros((len(y), 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        try:
            if len(np.unique(groups)) == len(groups):
                return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y))
            return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y, groups))
        except ValueError as exc:
            counts = dict(sorted(Counter(np.asarray(y).tolist()).items()))
            raise DatasetError(
                f"cannot cut {k} stratified folds from {len(y)} rows ({exc}); rows per label: {counts}. "
                "Use fewer folds or a larger test_size, or give the labels more rows"
            ) from None


def split_table(
    data: TabularData, *, test_size: float = 0.2, seed: int = 0, group_by: str = "auto"
) -> TableSplit:
    """Stratified grouped holdout: one of ``round(1 / test_size)`` stratified grouped folds as test.

    Groups are artists (``group_by="artist"``, or ``"auto"`` with an artist column) or track ids; no group
    is on both sides.
    """
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    k = max(2, int(round(1.0 / test_size)))
    by = data.resolve_group_by(group_by)
    groups = data.groups(by)
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise DatasetError(
            f"a {test_size:.0%} test side needs at least {k} {by} groups; the table has {n_groups}"
        )
    train, test = _grouped_folds(k, seed, data.y, groups)[0]
    return TableSplit(
        np.sort(train),
        np.sort(test),
        f"stratified holdout grouped by {by} (1 of {k} grouped stratified folds as test, seed {seed})",
    )


def _read_list(path: Path) -> list[str]:
    return [
        s.strip()
        for s in path.read_text(encoding="utf-8-sig").splitlines()
        if s.strip() and not s.startswith("#")
    ]


def split_from_lists(data: TabularData, split_file: str | Path) -> TableSplit:
    """Split by published lists matched on file-name stems (``blues/blues.00012.wav`` ~ ``blues.00012.wav``).

    ``split_file`` is a folder with ``train*.txt`` (and optionally ``valid*.txt``, merged into training)
    and ``test*.txt``, or one list of test tracks (every other row trains). Rows in no list are left out
    and counted in ``notes``. With a valid list and no artist column, grid searches use the train and
    valid sides as their two folds (``search_groups``): the lists of the filtered GTZAN split are
    artist-disjoint, a random k-fold on the training side is not.
    """
    p = Path(split_file)
    if p.is_dir():

        def find(prefixes: tuple[str, ...]) -> Path | None:  # noqa: E306
            hits = sorted(f for f in p.iterdir() if f.suffix == ".txt" and f.name.startswith(prefixes))
            return hits[0] if hits else None

        tr_f, va_f, te_f = find(("train",)), find(("valid", "val")), find(("test",))
        if tr_f is None or te_f is None:
            raise DatasetError("split directory needs train*.txt and test*.txt lists", source=p)
        lists = {"train": _read_list(tr_f), "test": _read_list(te_f)}
        if va_f is not None:
            lists["valid"] = _read_list(va_f)
    elif p.is_file():
        lists = {"test": _read_list(p)}
    else:
        raise DatasetError("split file not found", source=p)
    if data.id_column is None:
        raise DatasetError(
            "matching a split list needs an id column naming the files (e.g. filename)", source=p
        )
    stems = np.array([_stem(t) for t in data.track_ids], dtype=object)
    index = {s: i for i, s in enumerate(stems)}
    side = np.full(len(data), -1)
    notes: list[str] = []
    for code, name in ((0, "train"), (1, "test"), (2, "valid")):
        if name not in lists:
            continue
        entries = lists[name]
        hit = [index[_stem(e)] for e in entries if _stem(e) in index]
        missing = [e for e in entries if _stem(e) not in index]
        if missing:
            notes.append(
                f"{len(missing)} {name} list entr{'y' if len(missing) == 1 else 'ies'} not among the table's "
                f"rows after cleaning (e.g. {missing[:3]})"
            )
        clash = [data.track_ids[i] for i in hit if side[i] not in (-1, code)]
        if clash:
            raise DatasetError(f"{len(clash)} row(s) are in two split lists, e.g. {clash[:3]}", source=p)
        side[hit] = code
    if "train" not in lists:
        side[side == -1] = 0
    if not np.any(side == 1):
        example = data.track_ids[0] if len(data) else "(no rows)"
        raise DatasetError(
            f"no test-list entry matches a row's {data.id_column} (matched on file-name stems; the table has "
            f"e.g. {example!r})",
            source=p,
        )
    out = int(np.sum(side == -1))
    if out:
        notes.append(f"{out} row(s) in no split list were left out")
    train = np.flatnonzero((side == 0) | (side == 2))
    desc = f"split lists {p}" + (" (valid merged into train)" if "valid" in lists else "")
    search_groups = np.where(side[train] == 2, "valid", "train").astype(object) if "valid" in lists else None
    return TableSplit(train, np.flatnonzero(side == 1), desc, notes, search_groups)


def _train_set(td: TabularData, split: TableSplit | None, idx: np.ndarray, group_by: str) -> FeatureSet:
    """Training rows as a FeatureSet whose search folds group by artist, by list side, or by track."""
    fs = td.feature_set(idx, group_by=group_by)
    if split is not None and split.search_groups is not None and td.resolve_group_by(group_by) != "artist":
        fs.artists = np.asarray(split.search_groups, dtype=object)
    return fs


def _make_split(
    data: TabularData, split_file: str | Path | None, test_size: float, seed: int, group_by: str
) -> TableSplit:
    if split_file is not None:
        return split_from_lists(data, split_file)
    return split_table(data, test_size=test_size, seed=seed, group_by=group_by)


# -------------------------------------------------------------------------------------------- fitting
#: Values of the ``transform`` parameter: the scaling step put in front of the model.
TRANSFORMS: tuple[str, ...] = ("standard", "power", "none")


def _transform_step(name: str) -> Any:
    from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler

    if name == "standard":
        return StandardScaler()
    if name == "power":
        return PowerTransformer(method="yeo-johnson", standardize=True)
    if name == "none":
        return FunctionTransformer()
    raise unknown_name("transform", name, TRANSFORMS)


def _with_transform(kind: str, model: Any, transform: str) -> Any:
    steps = getattr(model, "named_steps", {})
    step = next((s for s in ("scale", "power") if s in steps), None)
    if step is None:
        raise ConfigError(f"model {kind!r} has no scaling step to replace with transform={transform!r}")
    return model.set_params(**{step: _transform_step(transform)})


def _fit(
    kind: str,
    fs: FeatureSet,
    *,
    params: dict[str, Any] | None,
    search: bool,
    grid: Mapping[str, Sequence[Any]] | None,
    cv_folds: int,
    seed: int,
    n_jobs: int,
) -> Any:
    """:func:`genrekit.training.fit_model`, plus the ``transform`` parameter and custom search grids."""
    from genrekit.models.registry import build_model, search_grid
    from genrekit.training import FitResult

    params = dict(params or {})
    if "transform" not in params and (not search or grid is None):
        return fit_model(kind, fs, params=params, search=search, cv_folds=cv_folds, seed=seed, n_jobs=n_jobs)
    from sklearn.model_selection import GridSearchCV

    transform = params.pop("transform", None)
    model = build_model(kind, random_state=seed, n_jobs=n_jobs, **params)
    if transform is not None:
        model = _with_transform(kind, model, str(transform))
    t0 = time.perf_counter()
    info = None
    if search:
        grid = dict(grid) if grid is not None else search_grid(kind)
        step = next((s for s in ("scale", "power") if s in getattr(model, "named_steps", {})), None)
        prefix = "clf__estimator__" if kind == "svm" else "clf__"
        g: dict[str, list[Any]] = {}
        for key, vals in grid.items():
            if key == "transform":
                if step is None:
                    raise ConfigError(
                        f"model {kind!r} has no scaling step: its grid cannot search 'transform'"
                    )
                g[step] = [_transform_step(v) for v in vals]
            else:
                if isinstance(vals, str | bytes) or not isinstance(vals, Iterable):
                    raise ConfigError(
                        f"bad search grid for model {kind!r}: {key!r} must list its values, e.g. "
                        f'{{"{key}": [{vals!r}]}}, not {vals!r}'
                    )
                g[key if "__" in key else prefix + key] = list(vals)
        groups = fs.split_groups()
        n_min = min_groups_per_label(fs.y, groups)
        k = max(2, min(cv_folds, n_min))
        cv = _grouped_folds(k, seed, fs.y, groups)
        gs = GridSearchCV(model, g, scoring="f1_macro", cv=cv, n_jobs=n_jobs, refit=True, error_score="raise")
        try:
            gs.fit(fs.X, fs.y)
        except ValueError as exc:  # sklearn's InvalidParameterError (a value of the wrong type or range)
            if type(exc).__name__ != "InvalidParameterError" and "Invalid parameter" not in str(exc):
                raise
            raise ConfigError(f"bad search grid for model {kind!r}: {exc}") from None
        model = gs.best_estimator_
        best = dict(gs.best_params_)
        if "transform" in grid and step is not None:
            chosen = type(best.pop(step))
            best["transform"] = next(
                v for v, o in zip(grid["transform"], g[step], strict=True) if type(o) is chosen
            )
        info = {
            "best_params": to_jsonable(best),
            "best_score_f1_macro": float(gs.best_score_),
            "folds": k,
            "grid": to_jsonable(grid),
        }
        params.update(best)
    else:
        model.fit(fs.X, fs.y)
    if transform is not None:
        params.setdefault("transform", transform)
    return FitResult(model, time.perf_counter() - t0, to_jsonable(params), info)


def _check_extractor(extractor: str | None, options: Mapping[str, Any] | None) -> Any:
    """The audio feature extractor a tabular bundle should store, or None."""
    if extractor is None:
        return None
    from genrekit.features.registry import get_extractor

    return get_extractor(extractor, **dict(options or {}))


def _load(
    data: str | Path | pd.DataFrame | TabularData, label: str | None, load_options: dict[str, Any], ext: Any
) -> TabularData:
    if isinstance(data, TabularData):
        if ext is not None and list(data.features) != list(ext.names):
            raise ConfigError(
                f"the table's feature columns are not exactly the {ext.name!r} extractor's columns"
            )
        return data
    if label is None:
        raise ConfigError("label is required: the name of the table's label column")
    if ext is not None:
        given = load_options.get("features")
        if isinstance(given, str) and given not in ("auto", "spotify"):
            given = [f.strip() for f in given.split(",") if f.strip()]
        if given not in (None, "auto") and list(given) != list(ext.names):
            raise ConfigError(
                f"with extractor {ext.name!r} the features are its {ext.dim} columns; drop features="
            )
        load_options = {**load_options, "features": list(ext.names)}
    return load_table(data, label=label, **load_options)[0]


# ------------------------------------------------------------------------------------------- workflows
@dataclass
class TabularTrainResult:
    """What :func:`train_table` produced."""

    bundle: Bundle
    run: ModelRun | None
    out: Path | None
    data: TabularData
    split: TableSplit | None

    @property
    def cleaning(self) -> CleaningReport:
        return self.data.cleaning


def train_table(
    data: str | Path | pd.DataFrame | TabularData,
    *,
    label: str | None = None,
    model: str = "xgboost",
    params: dict[str, Any] | None = None,
    search: bool = False,
    grid: Mapping[str, Sequence[Any]] | None = None,
    extractor: str | None = None,
    extractor_options: Mapping[str, Any] | None = None,
    split_file: str | Path | None = None,
    test_size: float = 0.2,
    group_by: str = "auto",
    cv_folds: int = 3,
    out: str | Path | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    **load_options: Any,
) -> TabularTrainResult:
    """Train one model on a feature table, score it on a grouped held-out split, and build its bundle.

    Parameters
    ----------
    data : path, DataFrame or TabularData
        The table (read with :func:`load_table` and ``label`` / ``load_options``) or a cleaned one.
    label : str
        Label column (required unless ``data`` is a TabularData).
    model : str
        Model kind (``logreg``, ``knn``, ``rf``, ``svm``, ``xgboost``, ``mlp``).
    params : dict
        Model parameters (``C=0.1``, ``clf__max_depth=4``) and ``transform`` (``standard``, ``power``,
        ``none``: the scaling step in front of the model).
    search : bool
        Grid-search with stratified grouped CV on the training side (by artist when known) first.
    grid : dict, optional
        The grid to search instead of the model's default one; may contain ``transform``.
    extractor : str, optional
        ``"handcrafted"`` for a table with exactly that extractor's columns (the Kaggle GTZAN table,
        ``extractor_options={"segment_s": None}`` for its whole-clip rows): the bundle stores the
        extractor so that it classifies audio too.
    split_file : path, optional
        Split lists (see :func:`split_from_lists`) instead of a random grouped holdout.
    test_size : float
        Held-out fraction of rows (``0``: train on everything, no test metrics).
    group_by : {"auto", "track", "artist"}
    out : path, optional
        Bundle directory (or ``.zip``) to write; ``cleaning.txt`` and ``cleaning.json`` go next to
        ``bundle.json``.
    seed, n_jobs : int
    **load_options
        ``features``, ``exclude``, ``id_column``, ``artist_column``, ``label_map``, ``duplicates``,
        ``min_label_count`` of :func:`load_table`.

    Returns
    -------
    TabularTrainResult
    """
    from genrekit.models.registry import available

    if model not in available():
        raise unknown_name("model", model, available())
    ext = _check_extractor(extractor, extractor_options)
    td = _load(data, label, load_options, ext)
    split = None
    if split_file is not None or test_size > 0:
        split = _make_split(td, split_file, test_size, seed, group_by)
        train_idx = split.train
    else:
        train_idx = np.arange(len(td))
    fitted = _fit(
        model,
        _train_set(td, split, train_idx, group_by),
        params=params,
        search=search,
        grid=grid,
        cv_folds=cv_folds,
        seed=seed,
        n_jobs=n_jobs,
    )
    run = None
    metrics: dict[str, Any] = {}
    if split is not None and len(split.test):
        run = score_model(
            model,
            fitted.model,
            td.feature_set(split.test, group_by=group_by),
            fit_time_s=fitted.fit_time_s,
            extra={"params": fitted.params, "search": fitted.search},
        )
        metrics = {"test": run.result.to_dict(), "split": split.description, "split_notes": split.notes}
    bundle = Bundle(
        model=fitted.model,
        kind=model,
        labels=[str(c) for c in fitted.model.classes_],
        extractor=ext.to_dict() if ext is not None else None,
        feature_names=list(td.features),
        aggregation="mean_log",
        params=fitted.params,
        metrics=to_jsonable(metrics),
        data=to_jsonable(
            {
                "fingerprint": td.fingerprint(),
                "n_tracks": len(td),
                "counts": td.counts(),
                "n_train_tracks": int(len(train_idx)),
                "n_test_tracks": int(len(split.test)) if split is not None else 0,
                "failures": [],
            }
        ),
        extra=to_jsonable(
            {
                "tabular": {
                    **td.settings(),
                    "group_by": td.resolve_group_by(group_by),
                    "cleaning": td.cleaning.summary(),
                },
                "search": fitted.search,
                "fit_time_s": fitted.fit_time_s,
                "seed": seed,
            }
        ),
    )
    out_path = None
    if out is not None:
        out_path = save_bundle(bundle, out)
        _attach_cleaning(out_path, td.cleaning)
    return TabularTrainResult(bundle, run, out_path, td, split)


def _attach_cleaning(path: Path, report: CleaningReport) -> None:
    """Put the full cleaning report next to ``bundle.json`` (not a weight file: loading ignores it)."""
    if path.is_dir():
        report.write(path)
        return
    import zipfile

    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cleaning.txt", report.to_text() + "\n")
        zf.writestr("cleaning.json", json.dumps(to_jsonable(report.to_dict()), indent=1) + "\n")


@dataclass
class TabularCompareResult:
    """What :func:`compare_table` produced."""

    runs: list[ModelRun]
    report: Path | None
    data: TabularData
    split: str
    folds: dict[str, list[EvaluationResult]] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cleaning(self) -> CleaningReport:
        return self.data.cleaning


def compare_table(
    data: str | Path | pd.DataFrame | TabularData,
    *,
    label: str | None = None,
    models: Sequence[str] = ("logreg", "knn", "rf", "svm", "xgboost", "mlp"),
    params: Mapping[str, dict[str, Any]] | None = None,
    search: bool = False,
    grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
    split_file: str | Path | None = None,
    test_size: float = 0.2,
    folds: int | None = None,
    group_by: str = "auto",
    cv_folds: int = 3,
    report: str | Path | None = None,
    title: str = "genrekit tabular comparison",
    seed: int = 0,
    n_jobs: int = 1,
    **load_options: Any,
) -> TabularCompareResult:
    """Fit and score several model families on the same cleaned table and split; write one report.

    ``params`` and ``grids`` map a model kind to its parameters / search grid (see :func:`train_table`).
    With ``folds=K`` every model is scored on K stratified grouped folds (pooled out-of-fold predictions,
    plus the mean and spread over folds in ``extra``). The report folder also gets ``cleaning.txt`` and
    ``cleaning.json``.
    """
    from genrekit.models.registry import available

    for m in models:
        if m not in available():
            raise unknown_name("model", m, available())
    if not models:
        raise ConfigError("no models to compare")
    if folds and split_file is not None:
        raise ConfigError("give either folds (grouped cross-validation) or split_file, not both")
    td = _load(data, label, load_options, None)
    params = dict(params or {})
    grids = dict(grids or {})
    runs: list[ModelRun] = []
    fold_results: dict[str, list[EvaluationResult]] | None = None
    notes: list[str] = []
    if folds:
        if folds < 2:
            raise ConfigError(f"folds must be >= 2, got {folds}")
        groups = td.groups(group_by)
        splits = _grouped_folds(folds, seed, td.y, groups)
        fold_results = {}
        for kind in models:
            fold_results[kind] = []
            probas, ys, gs = [], [], []
            fit_total = pred_total = 0.0
            for tr, te in splits:
                fitted = _fit(
                    kind,
                    td.feature_set(tr, group_by=group_by),
                    params=params.get(kind),
                    search=search,
                    grid=grids.get(kind),
                    cv_folds=cv_folds,
                    seed=seed,
                    n_jobs=n_jobs,
                )
                fs_te = td.feature_set(te, group_by=group_by)
                r = score_model(kind, fitted.model, fs_te, fit_time_s=fitted.fit_time_s)
                fold_results[kind].append(r.result)
                fit_total += fitted.fit_time_s
                pred_total += r.predict_time_s
                probas.append(np.asarray(fitted.model.predict_proba(fs_te.X)))
                ys.append(fs_te.y)
                gs.append(fs_te.groups)
            classes = list(fold_results[kind][0].classes)
            pooled = evaluate_predictions(
                np.concatenate(ys), np.concatenate(probas), np.concatenate(gs), classes
            )
            runs.append(
                ModelRun(
                    kind,
                    pooled,
                    fit_time_s=fit_total / folds,
                    predict_time_s=pred_total,
                    extra={"folds": to_jsonable(fold_summary(fold_results[kind]))},
                )
            )
        by = td.resolve_group_by(group_by)
        split_desc = f"{folds}-fold stratified cross-validation grouped by {by} (seed {seed})"
    else:
        split = _make_split(td, split_file, test_size, seed, group_by)
        notes = split.notes
        if not len(split.test):
            raise DatasetError("the test side of the split is empty: nothing to compare on")
        fs_tr, fs_te = (
            _train_set(td, split, split.train, group_by),
            td.feature_set(split.test, group_by=group_by),
        )
        for kind in models:
            fitted = _fit(
                kind,
                fs_tr,
                params=params.get(kind),
                search=search,
                grid=grids.get(kind),
                cv_folds=cv_folds,
                seed=seed,
                n_jobs=n_jobs,
            )
            runs.append(
                score_model(
                    kind,
                    fitted.model,
                    fs_te,
                    fit_time_s=fitted.fit_time_s,
                    extra={"params": fitted.params, "search": fitted.search},
                )
            )
        split_desc = split.description
    report_path = None
    if report is not None:
        from genrekit.report import write_report

        info = {
            "table": td.source,
            "label column": td.label_column,
            "rows": f"{td.cleaning.n_rows_in} read, {len(td)} kept",
            "genres": td.counts(),
            "features": f"{len(td.features)}: {', '.join(td.features)}",
            "split": split_desc,
            **({"split notes": "; ".join(notes)} if notes else {}),
        }
        sections = [("Cleaning", "```\n" + td.cleaning.to_text(limit=20) + "\n```")]
        report_path = write_report(report, runs, title=title, dataset_info=info, extra_sections=sections)
        td.cleaning.write(report_path)
    return TabularCompareResult(runs, report_path, td, split_desc, fold_results, notes)


# ------------------------------------------------------------------------------------------- prediction
def _bundle(bundle_or_path: Bundle | str | Path) -> Bundle:
    b = bundle_or_path if isinstance(bundle_or_path, Bundle) else load_bundle(bundle_or_path)
    if b.extractor is not None and "tabular" not in b.extra:
        raise ModelError(
            f"model {b.kind!r} was trained on audio features, not on a table; classify audio files with it "
            "(genrekit classify MODEL song.wav)",
            source=None if isinstance(bundle_or_path, Bundle) else bundle_or_path,
        )
    if not b.feature_names:
        raise ModelError(
            f"model {b.kind!r} has no feature column names (an audio model without a column list); "
            "predict_rows needs a bundle trained on a table"
        )
    return b


def rows_matrix(
    bundle: Bundle, rows: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> np.ndarray:
    """The bundle's feature columns of ``rows`` as a float32 matrix (n_rows, n_features).

    Alias columns (``duration`` for ``duration_ms``, ...) are accepted; extra columns are ignored. Columns
    the table held dates in (``track_album_release_date``) take dates or years.

    Raises
    ------
    ConfigError
        No rows; missing feature columns (named); a missing or non-numeric value (row and column named).
    """
    names = list(bundle.feature_names or [])
    df = rows_frame(rows)
    if len(df) == 0:
        raise ConfigError("no rows to predict")
    df.columns = [str(c).strip() for c in df.columns]
    renames = {  # alias columns, only for features the rows do not have under their own name
        c: v for c, v in _canonical_renames(list(df.columns), names).items() if c not in names
    }
    missing = [f for f in names if f not in df.columns and f not in {t for t, _ in renames.values()}]
    if missing:
        raise ConfigError(
            f"the rows lack the feature column(s) {missing}; model {bundle.kind!r} needs: {', '.join(names)}"
        )
    by_target = {t: (c, f) for c, (t, f) in renames.items()}
    dates = set((bundle.extra.get("tabular") or {}).get("dates") or ())
    X = np.empty((len(df), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        col, factor = by_target.get(name, (name, 1.0))
        vals, st = (
            _parse_dates(df[col]) if name in dates else _parse_cells(df[col], duration=_is_duration(name))
        )
        bad = np.flatnonzero(st != _OK)
        if bad.size:
            i = int(bad[0])
            what = {
                _MISSING: "is missing",
                _EMPTY: "is empty",
                _NONFINITE: "is not finite",
                _BAD_DATE: "is not a date (year first, e.g. 2019-06-14)",
                _HUGE: "is beyond float32's range",
                _BAD_DURATION: "is a negative duration (a sentinel: the training table dropped such rows)",
            }.get(int(st[i]), "is not a number")
            raise ConfigError(f"row {i}, column {col!r}: value {_cell_text(df[col], i)} {what}")
        if factor is None:
            factor = _duration_factor(vals)
        X[:, j] = vals * factor
    return X.astype(np.float32)


def predict_rows(
    bundle_or_path: Bundle | str | Path,
    rows: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    top_k: int = 3,
) -> list[dict[str, Any]]:
    """Predict the genre of feature rows with a bundle trained on a table.

    Parameters
    ----------
    bundle_or_path : Bundle or path
        A loaded bundle (reuse it across calls) or a bundle directory/zip.
    rows : DataFrame, list of dict, or dict
        One row per track with (at least) the bundle's feature columns.
    top_k : int

    Returns
    -------
    list of dict
        Per row: ``row`` (index), ``id`` (when the row has the training table's id column), ``genre``,
        ``confidence``, ``probabilities`` (genre -> probability, highest first) and ``top_k``
        (``[{"genre", "probability"}]``).

    Raises
    ------
    ConfigError
        Missing feature columns (named), missing or non-numeric values (row and column named), bad top_k.
    ModelError
        Unreadable bundle, or a bundle without feature column names.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
    b = _bundle(bundle_or_path)
    df = rows_frame(rows)
    X = rows_matrix(b, df)
    proba = np.asarray(b.model.predict_proba(X), dtype=np.float64)
    classes = [str(c) for c in b.model.classes_]
    id_col = (b.extra.get("tabular") or {}).get("id_column")
    out = []
    for i, p in enumerate(proba):
        order = np.argsort(-p, kind="stable")
        probs = {classes[j]: round(float(p[j]), 6) for j in order}
        d: dict[str, Any] = {"row": i}
        if id_col and id_col in df.columns and not _is_na(df[id_col].iloc[i]):
            d["id"] = to_jsonable(df[id_col].iloc[i])
        genre = classes[int(order[0])]
        d.update(
            genre=genre,
            confidence=probs[genre],
            probabilities=probs,
            top_k=[{"genre": g, "probability": v} for g, v in list(probs.items())[:top_k]],
        )
        out.append(d)
    return out


def _is_na(v: Any) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
