"""Reading and cleaning labelled feature tables (CSV, TSV, parquet, JSON).

Every dropped row and unused column is reported with its reason (:class:`CleaningReport`); nothing is
dropped silently.

Row numbers in messages count the table's data rows from 0 (a CSV's row ``i`` is on line ``i + 2``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrekit.data.cells import (
    _ALIASES,
    _BAD,
    _BAD_DATE,
    _BAD_DURATION,
    _EMPTY,
    _HUGE,
    _METADATA_NAMES,
    _MISSING,
    _NA_TOKENS,
    _NONFINITE,
    _NUMERIC_SHARE,
    _OK,
    _SENTINEL,
    _SPARSE_SHARE,
    ARTIST_COLUMN_CANDIDATES,
    ID_COLUMN_CANDIDATES,
    SPOTIFY_FEATURES,
    SPOTIFY_OPTIONAL,
    _as_dates,
    _canonical_renames,
    _cell_text,
    _duration_factor,
    _is_duration,
    _is_id_like,
    _norm,
    _parse_cells,
    _pick_column,
    _text,
)
from genrekit.data.cleaning import CleaningReport
from genrekit.data.featureset import FeatureSet
from genrekit.errors import ConfigError, DatasetError, unknown_name

log = logging.getLogger(__name__)


DUPLICATE_POLICIES: tuple[str, ...] = ("majority", "drop")


GROUP_BY: tuple[str, ...] = ("auto", "track", "artist")


TABLE_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".jsonl")


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
            if len(header) == 1 and sep == "," and ";" in header[0]:  # before the cell counts: decimal
                _semicolon_error(header[0], path)  # commas would split its rows into extra cells
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
                _semicolon_error(str(df.columns[0]), path)
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


def _semicolon_error(column: str, path: Path) -> None:
    raise DatasetError(
        f"one column {column[:60]!r}: the file looks semicolon-separated (with decimal commas?); "
        "save it comma-separated with decimal points (or tab-separated as .tsv)",
        source=path,
    )


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
