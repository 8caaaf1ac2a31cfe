"""The cells and column names of a feature table: numbers, sentinels, dates, durations, aliases, ids.

Each column is parsed once into float64 values and a per-cell state (``_OK``, ``_MISSING``, ...), from
which :mod:`genrekit.data.tables` decides which columns are features and which rows are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from genrekit.config import AUDIO_EXTENSIONS
from genrekit.errors import ConfigError

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


# cell states of a parsed feature column
_OK, _MISSING, _EMPTY, _SENTINEL, _BAD, _NONFINITE, _BAD_DURATION, _BAD_DATE, _HUGE = range(9)


#: Largest magnitude a feature may have (features are float32).
_FLOAT32_MAX = float(np.finfo(np.float32).max)


#: A date cell, year first: ``2019-06-14``, ``2019-06``, ``2019``, ``2019/06/14``, ``2019-06-14T10:00:00``.
_DATE_RE = (
    r"^(\d{4})(?:([-/.])(\d{1,2})(?:\2(\d{1,2}))?)?"  # year, then month and day with one separator
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"  # an optional time of day
)


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


def _is_na(v: Any) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
