"""Labelled audio datasets: folder-per-genre trees and manifest CSVs, scans, and honest grouped splits.

A :class:`Dataset` is an immutable, sorted list of :class:`Track` records (path, label, stable track id,
optional artist). It comes from a folder tree (:func:`from_folder`: one folder per genre) or from a
manifest CSV (:func:`from_manifest`: ``path,label[,artist][,track_id]``); :func:`load_dataset` picks
one. :func:`scan` checks every file's header and reports the bad ones without stopping.

Splits are grouped (a track, or an artist, is never on two sides: segments of one track, or tracks of one
artist, must not leak from training into evaluation) and stratified by label, and deterministic by
``seed``: :func:`train_val_test_split`, :func:`grouped_kfold`, :func:`split_from_files` (published split
lists such as the artist-filtered GTZAN lists). :func:`assert_disjoint` checks any split, down to segment
rows built with :func:`expand_segments` / :func:`segment_table`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit import audio
from genrekit.config import AUDIO_EXTENSIONS
from genrekit.errors import AudioError, ConfigError, DatasetError, unknown_name

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: The manifest file name :func:`load_dataset` looks for when asked for ``layout="manifest"`` on a folder.
MANIFEST_NAME = "manifest.csv"
#: Valid ``group_by`` values of the split functions.
GROUP_BY: tuple[str, ...] = ("track", "artist", "auto")
#: Manifest columns: required, then optional.
MANIFEST_REQUIRED: tuple[str, ...] = ("path", "label")
MANIFEST_OPTIONAL: tuple[str, ...] = ("artist", "track_id")
#: Folders that are never genre folders (besides hidden ones).
_IGNORED_DIRS = frozenset({"__MACOSX"})
#: How many offending items an error message lists before saying "and N more".
_MAX_LISTED = 10


# --------------------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------------------


def track_id_for(relpath: str) -> str:
    """Return the stable track id of a relative path: the POSIX path without its audio extension.

    ``blues/blues.00012.wav`` and ``blues/blues.00012.mp3`` both give ``blues/blues.00012``; a suffix that
    is not an audio extension is kept (``a/b.00012`` stays ``a/b.00012``).
    """
    p = relpath.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    pure = PurePosixPath(p)
    if pure.suffix.lower() in AUDIO_EXTENSIONS:
        pure = pure.with_suffix("")
    return pure.as_posix()


def _normalise_artist(artist: str) -> str:
    """Case- and whitespace-insensitive artist key (``"The  Beatles "`` == ``"the beatles"``)."""
    return " ".join(artist.split()).casefold()


@dataclass(frozen=True)
class Track:
    """One labelled audio file.

    Attributes
    ----------
    path : Path
        Where the file is on this machine.
    label : str
        The genre.
    track_id : str
        Stable id (same on every machine and run): a manifest's ``track_id`` or :func:`track_id_for`
        of ``relpath``.
    artist : str or None
        The performer, when known; used to group splits by artist.
    relpath : str
        POSIX path relative to the dataset root (the absolute POSIX path when the file is outside it).
    """

    path: Path
    label: str
    track_id: str
    artist: str | None = None
    relpath: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.relpath:
            object.__setattr__(self, "relpath", self.path.as_posix())

    def group(self, by: str = "track") -> str:
        """Group id of this track: ``"track:<id>"``, or ``"artist:<name>"`` (track id when no artist)."""
        return group_key(self.track_id, self.artist if by == "artist" else None)


def group_key(track_id: str, artist: str | None = None) -> str:
    """Split group of a track.

    ``"artist:<name>"`` (case- and whitespace-insensitive) when it has an artist, else ``"track:<id>"``.
    """
    return "artist:" + _normalise_artist(artist) if artist else "track:" + track_id


@dataclass(frozen=True, repr=False)
class Dataset:
    """An immutable list of labelled tracks, in a stable order (sorted by relative path when loaded).

    Attributes
    ----------
    tracks : tuple of Track
    root : Path or None
        The folder relative paths are relative to.
    notes : tuple of str
        What the loader ignored or skipped (stray files in the root, hidden files, non-audio files).
    """

    tracks: tuple[Track, ...]
    root: Path | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", tuple(self.tracks))
        if self.root is not None:
            object.__setattr__(self, "root", Path(self.root))
        dup = [tid for tid, n in Counter(t.track_id for t in self.tracks).items() if n > 1]
        if dup:
            raise DatasetError(
                f"{len(dup)} track id(s) used by more than one track: {_listing(sorted(dup))}; "
                "track ids must be unique (the same recording in two formats counts as one track)",
                source=self.root,
            )

    # container protocol -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tracks)

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks)

    def __getitem__(self, i: int) -> Track:
        return self.tracks[i]

    def __repr__(self) -> str:
        return f"Dataset(n_tracks={len(self)}, labels={self.labels}, root={self.root})"

    # columns ------------------------------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        """Sorted unique labels."""
        return sorted({t.label for t in self.tracks})

    @property
    def paths(self) -> list[Path]:
        return [t.path for t in self.tracks]

    @property
    def relpaths(self) -> list[str]:
        return [t.relpath for t in self.tracks]

    @property
    def track_ids(self) -> list[str]:
        return [t.track_id for t in self.tracks]

    @property
    def artists(self) -> list[str | None]:
        return [t.artist for t in self.tracks]

    @property
    def y(self) -> np.ndarray:
        """Labels per track, shape ``(n_tracks,)``, dtype str."""
        return np.asarray([t.label for t in self.tracks], dtype=str)

    @property
    def has_artists(self) -> bool:
        """True when every track has an artist (and there is at least one track)."""
        return bool(self.tracks) and all(t.artist for t in self.tracks)

    @property
    def any_artists(self) -> bool:
        """True when at least one track has an artist."""
        return any(t.artist for t in self.tracks)

    def groups(self, by: str = "track") -> np.ndarray:
        """Group id per track, shape ``(n_tracks,)``, dtype str.

        Parameters
        ----------
        by : {"track", "artist", "auto"}
            ``"track"``: every track is its own group. ``"artist"``: tracks of one artist (compared
            case- and whitespace-insensitively) share a group; a track without an artist is its own group.
            ``"auto"``: ``"artist"`` when any track has an artist (the others are their own groups), else
            ``"track"``.
        """
        by = resolve_group_by(self, by)
        return np.asarray([t.group(by) for t in self.tracks], dtype=str)

    def counts(self) -> dict[str, int]:
        """Number of tracks per label, in sorted label order."""
        c = Counter(t.label for t in self.tracks)
        return {label: c[label] for label in sorted(c)}

    # selection ----------------------------------------------------------------------------------------
    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """Return the tracks at ``indices`` (int positions, or a boolean mask of length ``n_tracks``)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ConfigError(f"a boolean mask must have shape ({len(self)},), got {idx.shape}")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ConfigError(f"track index out of range for a dataset of {len(self)} tracks")
        return Dataset(tuple(self.tracks[i] for i in idx), root=self.root)

    def indices_of(self, other: Dataset | Iterable[str]) -> np.ndarray:
        """Positions in this dataset of another dataset's tracks (or of track ids), matched by track id.

        Returns
        -------
        np.ndarray, int64, shape (len(other),)

        Raises
        ------
        DatasetError
            When a track id is not in this dataset.
        """
        ids = other.track_ids if isinstance(other, Dataset) else list(other)
        pos = {tid: i for i, tid in enumerate(self.track_ids)}
        missing = [tid for tid in ids if tid not in pos]
        if missing:
            raise DatasetError(f"{len(missing)} track id(s) not in this dataset: {_listing(missing)}")
        return np.asarray([pos[tid] for tid in ids], dtype=np.int64)

    def to_frame(self) -> pd.DataFrame:
        """One row per track: ``path, relpath, label, artist, track_id``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "path": [str(p) for p in self.paths],
                "relpath": self.relpaths,
                "label": [t.label for t in self.tracks],
                "artist": self.artists,
                "track_id": self.track_ids,
            }
        )

    def to_manifest(self, csv_path: str | os.PathLike) -> Path:
        """Write a manifest CSV (``path,label,artist,track_id``) that :func:`from_manifest` reads back.

        Paths are written relative to the manifest's folder when the file is below it, absolute otherwise.
        """
        csv_path = Path(csv_path)
        base = csv_path.parent.resolve()
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["path", "label", "artist", "track_id"])
            for t in self.tracks:
                full = t.path.resolve()
                try:
                    p = full.relative_to(base).as_posix()
                except ValueError:
                    p = full.as_posix()
                w.writerow([p, t.label, t.artist or "", t.track_id])
        return csv_path


def resolve_group_by(dataset: Dataset, group_by: str) -> str:
    """Turn ``"auto"`` into ``"artist"`` (some track has an artist) or ``"track"``; check the name.

    One track without an artist does not turn artist grouping off: it is its own group, so the tracks
    of the artists that are known never straddle a split.
    """
    if group_by not in GROUP_BY:
        raise unknown_name("group_by", group_by, GROUP_BY)
    if group_by == "auto":
        return "artist" if dataset.any_artists else "track"
    return group_by


def _listing(items: Sequence[Any], limit: int = _MAX_LISTED) -> str:
    """``"a, b, c"`` or ``"a, b, ... (12 in all)"`` for error messages."""
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", ... ({len(items)} in all)"


def _norm_extensions(extensions: Iterable[str]) -> frozenset[str]:
    return frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_DIRS


# --------------------------------------------------------------------------------------------------------
# folder layout
# --------------------------------------------------------------------------------------------------------


@dataclass
class _FolderWalk:
    tracks: list[Track]
    stray: list[str]  # files directly in the root
    skipped: list[str]  # non-audio extensions
    hidden: list[str]  # hidden files and folders
    empty_genres: list[str]  # genre folders without audio
    duplicates: list[tuple[str, str]]  # (relpath, message)


def _walk_folder(root: Path, extensions: Iterable[str]) -> _FolderWalk:
    """Walk a folder-per-genre tree; return what was found without raising on content problems."""
    if not root.exists():
        raise DatasetError("dataset folder not found", source=root)
    if not root.is_dir():
        raise DatasetError("not a folder (expected one sub-folder per genre)", source=root)
    exts = _norm_extensions(extensions)
    walk = _FolderWalk([], [], [], [], [], [])
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if _hidden(entry.name):
            walk.hidden.append(entry.name)
            continue
        if not entry.is_dir():
            walk.stray.append(entry.name)
            continue
        label = entry.name
        found = 0
        seen_dirs: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(entry, followlinks=True):  # symlinked album folders too
            real = os.path.realpath(dirpath)
            if real in seen_dirs:  # a link back up the tree (or two links to one folder): once only
                dirnames[:] = []
                continue
            seen_dirs.add(real)
            walk.hidden.extend(Path(dirpath, d).relative_to(root).as_posix() for d in dirnames if _hidden(d))
            dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
            for name in sorted(filenames):
                rel = Path(dirpath, name).relative_to(root).as_posix()
                if _hidden(name):
                    walk.hidden.append(rel)
                elif Path(name).suffix.lower() in exts:
                    walk.tracks.append(Track(Path(dirpath, name), label, track_id_for(rel), None, rel))
                    found += 1
                else:
                    walk.skipped.append(rel)
        if not found:
            walk.empty_genres.append(entry.name)
    walk.tracks.sort(key=lambda t: t.relpath)
    by_id: dict[str, list[str]] = defaultdict(list)
    for t in walk.tracks:
        by_id[t.track_id].append(t.relpath)
    for tid, rels in by_id.items():
        if len(rels) > 1:
            for rel in rels[1:]:
                walk.duplicates.append(
                    (rel, f"same track id {tid!r} as {rels[0]} (one recording, two files)")
                )
    return walk


def _walk_notes(walk: _FolderWalk) -> tuple[str, ...]:
    notes = []
    if walk.stray:
        notes.append(
            f"ignored {len(walk.stray)} file(s) directly in the root (audio must sit in a genre folder): "
            + _listing(walk.stray)
        )
    if walk.hidden:
        notes.append(f"ignored {len(walk.hidden)} hidden file(s)/folder(s): " + _listing(walk.hidden))
    if walk.skipped:
        notes.append(
            f"skipped {len(walk.skipped)} file(s) without an audio extension: " + _listing(walk.skipped)
        )
    return tuple(notes)


def from_folder(root: str | os.PathLike, *, extensions: Iterable[str] = AUDIO_EXTENSIONS) -> Dataset:
    """Load a folder-per-genre tree: ``root/<genre>/**/<file>``.

    The label is the top folder under ``root``; files may sit at any depth below it. Files directly in
    ``root`` are ignored (noted in ``Dataset.notes``), hidden files and folders are ignored, and files
    whose extension is not in ``extensions`` are skipped (noted). Tracks are sorted by relative path.

    Raises
    ------
    DatasetError
        ``root`` missing or not a folder; no audio file at all; a genre folder without audio files;
        two files with the same track id (``a.wav`` next to ``a.mp3``).
    """
    root = Path(root)
    walk = _walk_folder(root, extensions)
    if not walk.tracks:
        exts = _norm_extensions(extensions)
        loose = [name for name in walk.stray if Path(name).suffix.lower() in exts]
        hint = (
            f"; {len(loose)} audio file(s) sit directly in the folder: move them into one sub-folder per "
            "genre, or list them in a manifest CSV"
            if loose
            else ""
        )
        raise DatasetError(
            f"no audio files found (looked for {', '.join(sorted(exts))} in one sub-folder per genre){hint}",
            source=root,
        )
    if walk.empty_genres:
        raise DatasetError(
            f"genre folder(s) without audio files: {_listing([str(root / g) for g in walk.empty_genres])}; "
            "remove them or add audio",
            source=root,
        )
    if walk.duplicates:
        raise DatasetError(
            "files that are the same track in two formats: "
            + _listing([f"{rel} ({msg})" for rel, msg in walk.duplicates])
            + "; keep one of each",
            source=root,
        )
    notes = _walk_notes(walk)
    for note in notes:
        logger.info("%s: %s", root, note)
    return Dataset(tuple(walk.tracks), root=root, notes=notes)


# --------------------------------------------------------------------------------------------------------
# manifest layout
# --------------------------------------------------------------------------------------------------------


def from_manifest(csv_path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Dataset:
    """Load a manifest CSV with columns ``path,label[,artist][,track_id]`` (header required, any order).

    Relative paths resolve against ``root``, or the manifest's folder when ``root`` is None. An empty
    ``artist`` means unknown; an empty ``track_id`` is derived from the relative path. Row numbers in
    error messages are line numbers in the file (the header is row 1). Tracks are sorted by relative path.

    Raises
    ------
    DatasetError
        Manifest missing or not UTF-8 text; a required column missing (the message lists the columns
        present); no rows; rows with an empty path or label, a missing file, a duplicated path or a
        duplicated track id -- all such rows are collected and reported in one error.
    """
    csv_path = Path(csv_path)
    tracks, problems, base = _read_manifest(csv_path, root)
    if problems:
        raise DatasetError(
            f"{len(problems)} problem(s) in the manifest: "
            + _listing([f"row {line}: {msg}" for line, msg in problems], limit=20),
            source=csv_path,
        )
    return Dataset(tuple(tracks), root=base)


def _read_manifest(
    csv_path: Path, root: str | os.PathLike | None
) -> tuple[list[Track], list[tuple[int, str]], Path]:
    """Read a manifest: its usable tracks, every bad row, and the root.

    Returns the tracks sorted by relative path, ``(line, problem)`` for every bad row, and the root
    folder. Raises DatasetError only when the manifest cannot be read at all.
    """
    if not csv_path.is_file():
        raise DatasetError("manifest file not found", source=csv_path)
    base = Path(root) if root is not None else csv_path.parent
    if not base.is_dir():
        raise DatasetError(f"root folder {base} not found", source=csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("not a UTF-8 text CSV file", source=csv_path) from None
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [h.strip().lower() for h in row]
            break
    if header is None:
        raise DatasetError(
            "empty manifest (expected a header row path,label[,artist][,track_id])", source=csv_path
        )
    missing = [c for c in MANIFEST_REQUIRED if c not in header]
    if missing:
        raise DatasetError(
            f"missing required column(s) {', '.join(missing)}; "
            f"columns present: {', '.join(header) or '(none)'}; expected path,label[,artist][,track_id]",
            source=csv_path,
        )
    dup_cols = sorted(c for c, n in Counter(header).items() if n > 1 and c)
    if dup_cols:
        raise DatasetError(f"column(s) named more than once: {', '.join(dup_cols)}", source=csv_path)
    col = {name: header.index(name) for name in (*MANIFEST_REQUIRED, *MANIFEST_OPTIONAL) if name in header}

    problems: list[tuple[int, str]] = []
    tracks: list[Track] = []
    seen_path: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    base_abs = Path(os.path.abspath(base))
    n_rows = 0
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        n_rows += 1

        def cell(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        path_str, label = cell("path"), cell("label")
        row_problems = []
        if len(row) > len(header):
            row_problems.append(f"{len(row)} fields but the header has {len(header)}")
        if not path_str:
            row_problems.append("empty path")
        if not label:
            row_problems.append("empty label")
        full: Path | None = None
        if path_str:
            p = Path(path_str.replace("\\", "/"))  # manifests written on Windows
            full = Path(os.path.normpath(p if p.is_absolute() else base_abs / p))
            if not full.exists():
                row_problems.append(f"file not found: {full}")
            elif not full.is_file():
                row_problems.append(f"not a file: {full}")
            key = str(full)
            if key in seen_path:
                row_problems.append(f"duplicated path {path_str} (also on row {seen_path[key]})")
            else:
                seen_path[key] = line
        if full is not None and not row_problems:
            try:
                rel = full.relative_to(base_abs).as_posix()
            except ValueError:
                rel = full.as_posix()
            tid = cell("track_id") or track_id_for(rel)
            if tid in seen_id:
                row_problems.append(f"duplicated track id {tid!r} (also on row {seen_id[tid]})")
            else:
                seen_id[tid] = line
                tracks.append(Track(full, label, tid, cell("artist") or None, rel))
        problems.extend((line, msg) for msg in row_problems)
    if not n_rows:
        raise DatasetError("the manifest lists no tracks (only a header)", source=csv_path)
    tracks.sort(key=lambda t: t.relpath)
    return tracks, problems, base


def load_dataset(source: str | os.PathLike | Dataset, *, layout: str = "auto") -> Dataset:
    """Load a dataset from a folder-per-genre tree or a ``.csv`` manifest.

    Parameters
    ----------
    source : path or Dataset
        A folder, a ``.csv`` manifest, or an already loaded dataset (returned as is).
    layout : {"auto", "folder", "manifest"}
        ``"auto"``: a folder uses the folder layout (even when it holds a ``manifest.csv``), a ``.csv``
        file is a manifest. ``"manifest"`` on a folder reads ``<folder>/manifest.csv``.
    """
    if isinstance(source, Dataset):
        return source
    layouts = ("auto", "folder", "manifest")
    if layout not in layouts:
        raise unknown_name("layout", layout, layouts)
    path = Path(source)
    if not path.exists():
        raise DatasetError("dataset not found (expected a folder or a .csv manifest)", source=path)
    if path.is_dir():
        if layout == "manifest":
            return from_manifest(path / MANIFEST_NAME)
        return from_folder(path)
    if path.suffix.lower() == ".csv":
        if layout == "folder":
            raise DatasetError("layout='folder' needs a folder, got a file", source=path)
        return from_manifest(path)
    raise DatasetError("expected a folder (one sub-folder per genre) or a .csv manifest", source=path)


# --------------------------------------------------------------------------------------------------------
# scan
# --------------------------------------------------------------------------------------------------------


@dataclass
class ScanReport:
    """What :func:`scan` found.

    Attributes
    ----------
    source : str
    counts : dict of str to int
        Usable audio files per genre (readable ones when the audio was checked).
    n_files : int
        Audio files found, usable or not.
    duration_s : float or None
        Total duration of the usable files (None when the audio was not checked).
    problems : list of (str, str)
        ``(relative path, message)`` for every unreadable, unsupported or duplicated file and every empty
        genre folder.
    skipped : list of str
        Files skipped for a non-audio extension.
    ignored : list of str
        Files directly in the root (folder layout) and hidden files.
    durations : dict of str to float
        Duration per genre in seconds (empty when the audio was not checked).
    """

    source: str
    counts: dict[str, int]
    n_files: int
    duration_s: float | None
    problems: list[tuple[str, str]]
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def n_ok(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "source": self.source,
            "counts": dict(self.counts),
            "n_files": self.n_files,
            "n_ok": self.n_ok,
            "duration_s": self.duration_s,
            "durations": dict(self.durations),
            "problems": [{"path": p, "message": m} for p, m in self.problems],
            "skipped": list(self.skipped),
            "ignored": list(self.ignored),
        }

    def to_text(self) -> str:
        """A readable table: files and minutes per genre, then the problems."""
        lines = [f"dataset: {self.source}"]
        width = max([len("genre"), len("total"), *(len(g) for g in self.counts)])
        lines.append(f"{'genre':<{width}}  {'files':>6}  {'minutes':>8}")
        lines.append("-" * (width + 18))
        for genre, n in self.counts.items():
            minutes = f"{self.durations[genre] / 60:8.1f}" if genre in self.durations else f"{'-':>8}"
            lines.append(f"{genre:<{width}}  {n:>6}  {minutes}")
        lines.append("-" * (width + 18))
        total = f"{self.duration_s / 60:8.1f}" if self.duration_s is not None else f"{'-':>8}"
        lines.append(f"{'total':<{width}}  {self.n_ok:>6}  {total}")
        lines.append(
            f"{self.n_files} audio file(s) found, {self.n_ok} usable, {len(self.problems)} problem(s), "
            f"{len(self.skipped)} non-audio file(s) skipped, {len(self.ignored)} ignored"
        )
        if self.problems:
            lines.append("problems:")
            lines.extend(f"  {p}: {m}" for p, m in self.problems)
        return "\n".join(lines)


def _check_file(path: Path, decode: bool) -> tuple[float | None, str | None]:
    """Return ``(duration_s, None)`` for a good file or ``(None, message)``; never raises."""
    try:
        if decode:
            y, sr = audio.load(path, sr=None, max_duration_s=None)
            return len(y) / sr, None
        return audio.info(path).duration_s, None
    except AudioError as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - a scan isolates every file, whatever goes wrong
        return None, f"{type(exc).__name__}: {exc}"


def scan(
    source: str | os.PathLike | Dataset,
    *,
    check_audio: bool = True,
    decode: bool = False,
    extensions: Iterable[str] = AUDIO_EXTENSIONS,
) -> ScanReport:
    """Survey a dataset: counts per genre, total duration, and every file that cannot be used.

    Unlike the loaders, a scan never stops at a bad file or an empty genre folder: each is listed in
    ``problems`` with its message and the rest is still counted.

    Parameters
    ----------
    source : folder, .csv manifest or Dataset
    check_audio : bool
        Read every file's header (:func:`genrekit.audio.info`): catches empty, non-audio, renamed and
        truncated-wav files. ``False`` only lists files.
    decode : bool
        Also decode every sample (:func:`genrekit.audio.load`, slower): catches corrupt data inside
        compressed files whose header is intact (a truncated flac/mp3).
    extensions : iterable of str
        Audio extensions for the folder layout.

    Raises
    ------
    DatasetError
        Only for a source that cannot be read at all (missing folder, unusable manifest).
    """
    problems: list[tuple[str, str]] = []
    skipped: list[str] = []
    ignored: list[str] = []
    n_found: int | None = None
    if isinstance(source, Dataset):
        tracks, name = list(source.tracks), str(source.root) if source.root else "<dataset>"
    elif Path(source).is_dir():
        walk = _walk_folder(Path(source), extensions)
        tracks, name = walk.tracks, str(source)
        n_found = len(tracks)
        dup_rel = {rel for rel, _ in walk.duplicates}
        tracks = [t for t in tracks if t.relpath not in dup_rel]
        problems.extend((g + "/", "genre folder holds no audio files") for g in walk.empty_genres)
        problems.extend(walk.duplicates)
        skipped, ignored = walk.skipped, walk.stray + walk.hidden
    elif Path(source).suffix.lower() == ".csv":  # every bad row listed, the good ones still counted
        tracks, bad_rows, _ = _read_manifest(Path(source), None)
        name = str(source)
        problems.extend((f"row {line}", msg) for line, msg in bad_rows)
        n_found = len(tracks) + len({line for line, _ in bad_rows})
    else:
        ds = load_dataset(source)
        tracks, name = list(ds.tracks), str(source)
    counts: Counter[str] = Counter()
    durations: dict[str, float] = defaultdict(float)
    n_files = n_found if n_found is not None else len(tracks)
    for t in tracks:
        if not check_audio:
            counts[t.label] += 1
            continue
        dur, msg = _check_file(t.path, decode)
        if msg is not None:
            problems.append((t.relpath, msg))
        else:
            counts[t.label] += 1
            durations[t.label] += float(dur)
    labels = sorted({t.label for t in tracks} | set(counts))
    return ScanReport(
        source=name,
        counts={g: counts[g] for g in labels},
        n_files=n_files,
        duration_s=float(sum(durations.values())) if check_audio else None,
        problems=problems,
        skipped=list(skipped),
        ignored=list(ignored),
        durations={g: durations[g] for g in labels} if check_audio else {},
    )


# --------------------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------------------


class Splits(tuple):
    """``(train, val, test)`` datasets; unpacks as a 3-tuple.

    Attributes
    ----------
    unassigned : tuple of str
        Track ids of the dataset that ended up on no side (only :func:`split_from_files` leaves any).
    missing : dict of str to int
        Split-list entries naming no track of the dataset, counted per list (``train``, ``val``,
        ``test``); only :func:`split_from_files` with ``missing="ignore"`` returns any.
    """

    unassigned: tuple[str, ...]
    missing: dict[str, int]

    def __new__(
        cls,
        train: Dataset,
        val: Dataset | None,
        test: Dataset,
        *,
        unassigned: Iterable[str] = (),
        missing: Mapping[str, int] | None = None,
    ) -> Splits:
        obj = super().__new__(cls, (train, val, test))
        obj.unassigned = tuple(unassigned)
        obj.missing = dict(missing or {})
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return tuple(self), {"unassigned": self.unassigned, "missing": self.missing}

    @property
    def train(self) -> Dataset:
        return self[0]

    @property
    def val(self) -> Dataset | None:
        return self[1]

    @property
    def test(self) -> Dataset:
        return self[2]


def _check_fraction(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def _group_matrix(dataset: Dataset, by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(group_inv (n_tracks,), class_inv (n_tracks,), counts (n_groups, n_classes), classes)``."""
    groups = dataset.groups(by)
    _, g_inv = np.unique(groups, return_inverse=True)
    classes, y_inv = np.unique(dataset.y, return_inverse=True)
    counts = np.zeros((int(g_inv.max()) + 1, len(classes)))
    np.add.at(counts, (g_inv, y_inv), 1)
    return g_inv, y_inv, counts, classes


def train_val_test_indices(
    dataset: Dataset,
    *,
    test_size: float = 0.2,
    val_size: float = 0.16,
    seed: int = 0,
    group_by: str = "auto",
    small_classes: str = "error",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grouped, stratified train/validation/test split as track indices.

    scikit-learn has no splitter for this: ``StratifiedGroupKFold`` only makes ``1/k`` folds and
    ``GroupShuffleSplit`` does not stratify. This uses the same idea as ``StratifiedGroupKFold``'s
    heuristic, with target fractions: first every class gets one group on each requested side (the
    smallest groups that fit, chosen at random), then the other groups, largest first and in random
    order within a size, each go to the side where they reduce the squared error between the per-class
    (and overall) track counts and their targets the most.

    Parameters
    ----------
    dataset : Dataset
    test_size, val_size : float
        Fractions of all tracks for test and validation (``0`` for none); the default is 64/16/20.
    seed : int
        The split is a pure function of the dataset, the parameters and ``seed``.
    group_by : {"auto", "track", "artist"}
        See :meth:`Dataset.groups`.
    small_classes : {"error", "train"}
        What to do with a class that has fewer groups than requested sides (e.g. one track while test is
        requested): raise a DatasetError naming it, or keep all its tracks in train (with a warning).

    Returns
    -------
    train_idx, val_idx, test_idx : np.ndarray, int64, sorted
        Disjoint, together covering every track; no group on two sides.
    """
    t_frac, v_frac = _check_fraction("test_size", test_size), _check_fraction("val_size", val_size)
    if t_frac + v_frac >= 1.0:
        raise ConfigError(f"test_size + val_size must be < 1, got {t_frac} + {v_frac}")
    if small_classes not in ("error", "train"):
        raise unknown_name("small_classes policy", small_classes, ("error", "train"))
    if not len(dataset):
        raise DatasetError("cannot split an empty dataset", source=dataset.root)
    by = resolve_group_by(dataset, group_by)
    g_inv, _, gc, classes = _group_matrix(dataset, by)
    n_groups, n_classes = gc.shape
    fractions = np.array([1.0 - t_frac - v_frac, v_frac, t_frac])
    sides = [s for s in (2, 1, 0) if fractions[s] > 0]  # smallest sides first when seeding
    n_c = gc.sum(axis=0)
    target = fractions[:, None] * n_c[None, :]  # (3, n_classes)
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(n_groups)
    assigned = np.full(n_groups, -1)
    filled = np.zeros((3, n_classes))

    def put(g: int, s: int) -> None:
        assigned[g] = s
        filled[s] += gc[g]

    groups_per_class = (gc > 0).sum(axis=0)
    short = [c for c in range(n_classes) if groups_per_class[c] < len(sides)]
    if short:
        desc = ", ".join(f"{str(classes[c])!r} ({groups_per_class[c]} {by}(s))" for c in short)
        names = ["train", "val", "test"]
        if small_classes == "error":
            raise DatasetError(
                f"class(es) {desc} cannot have a {by} on each of the {len(sides)} requested sides "
                f"({', '.join(names[s] for s in sorted(sides))}); add tracks, drop the class, group by "
                "track, set val_size/test_size to 0, or pass small_classes='train'",
                source=dataset.root,
            )
        warnings.warn(f"class(es) {desc} are too small to split and stay entirely in train", stacklevel=2)
        for c in short:
            for g in np.flatnonzero((gc[:, c] > 0) & (assigned < 0)):
                put(int(g), 0)

    # 1. seed: one group of every class on every requested side
    pure = (gc > 0).sum(axis=1) == 1
    for c in np.argsort(groups_per_class, kind="stable"):
        if c in short:
            continue
        for s in sides:
            if filled[s, c] > 0:
                continue
            cand = np.flatnonzero((gc[:, c] > 0) & (assigned < 0))
            if not cand.size:
                break
            fits = gc[cand, c] <= max(target[s, c], 1.0)
            order = np.lexsort((tiebreak[cand], gc[cand].sum(axis=1) * ~fits, ~pure[cand], ~fits))
            put(int(cand[order[0]]), s)

    # 2. greedy: biggest groups first, random order within a size
    rest = np.flatnonzero(assigned < 0)
    rest = rest[np.lexsort((tiebreak[rest], -gc[rest].sum(axis=1)))]
    # cost = sum over classes of ((filled - target) / n_c)^2 + n_classes * ((total - total target) / N)^2,
    # over the classes being split (those kept in train do not count against the train total)
    active = np.ones(n_classes, dtype=bool)
    active[short] = False
    weight = np.where(active, 1.0 / np.maximum(n_c, 1) ** 2, 0.0)
    total_target = fractions * n_c[active].sum()
    total_weight = active.sum() / max(n_c[active].sum(), 1.0) ** 2
    for g in rest:
        row = gc[g]
        size = row[active].sum()
        best, best_cost = -1, np.inf
        for s in sorted(sides):
            cost = np.sum((2 * (filled[s] - target[s]) * row + row**2) * weight)
            cost += (2 * (filled[s, active].sum() - total_target[s]) * size + size**2) * total_weight
            if cost < best_cost - 1e-12:
                best, best_cost = s, cost
        put(int(g), best)

    side_of_track = assigned[g_inv]
    for c in range(n_classes):
        if c in short:
            continue
        empty = [["train", "val", "test"][s] for s in sides if filled[s, c] == 0]
        if empty:
            warnings.warn(f"class {str(classes[c])!r} has no track in {', '.join(empty)}", stacklevel=2)
    return tuple(np.flatnonzero(side_of_track == s).astype(np.int64) for s in (0, 1, 2))  # type: ignore[return-value]


def train_val_test_split(
    dataset: Dataset,
    *,
    test_size: float = 0.2,
    val_size: float = 0.16,
    seed: int = 0,
    group_by: str = "auto",
    small_classes: str = "error",
) -> Splits:
    """Grouped, stratified train/validation/test split (default 64/16/20 of the tracks).

    See :func:`train_val_test_indices` for the parameters and the method. ``val`` is an empty dataset
    when ``val_size=0``.

    Returns
    -------
    Splits
        ``(train, val, test)`` datasets.
    """
    tr, va, te = train_val_test_indices(
        dataset,
        test_size=test_size,
        val_size=val_size,
        seed=seed,
        group_by=group_by,
        small_classes=small_classes,
    )
    return Splits(dataset.subset(tr), dataset.subset(va), dataset.subset(te))


def grouped_kfold(
    dataset: Dataset, *, k: int = 5, seed: int = 0, group_by: str = "auto"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified grouped k-fold (scikit-learn ``StratifiedGroupKFold``, shuffled by ``seed``).

    Every track is in exactly one test fold; no group is in a fold's train and test. A class with
    fewer groups than ``k`` is missing from some test folds (a warning names it).

    Returns
    -------
    list of (train_idx, test_idx)
        ``k`` pairs of sorted int64 index arrays.

    Raises
    ------
    ConfigError
        ``k < 2``.
    DatasetError
        Fewer groups than ``k``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k must be an integer >= 2, got {k!r}")
    if not len(dataset):
        raise DatasetError("cannot split an empty dataset", source=dataset.root)
    by = resolve_group_by(dataset, group_by)
    groups = dataset.groups(by)
    _, _, gc, classes = _group_matrix(dataset, by)
    if gc.shape[0] < k:
        raise DatasetError(
            f"k={k} folds need at least {k} {by} groups, the dataset has {gc.shape[0]}", source=dataset.root
        )
    groups_per_class = (gc > 0).sum(axis=0)
    small = [
        f"{str(classes[c])!r} ({groups_per_class[c]})" for c in range(len(classes)) if groups_per_class[c] < k
    ]
    if small:
        warnings.warn(
            f"class(es) {', '.join(small)} have fewer {by} groups than k={k}: some test folds will lack them",
            stacklevel=2,
        )
    cv = StratifiedGroupKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(cv.split(np.zeros((len(dataset), 1)), dataset.y, groups))
    return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in folds]


#: What :func:`split_from_files` does with list entries naming no track of the dataset.
SPLIT_MISSING: tuple[str, ...] = ("error", "ignore")


def _read_split_list(spec: str | os.PathLike | Iterable[str], name: str) -> list[str]:
    """Entries of a split list: a text file (one relative path per line, ``#`` comments) or strings."""
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if not path.is_file():
            raise DatasetError(f"{name} split list not found", source=path)
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    else:
        lines = [str(s) for s in spec]
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def split_from_files(
    dataset: Dataset,
    train: str | os.PathLike | Iterable[str],
    test: str | os.PathLike | Iterable[str],
    val: str | os.PathLike | Iterable[str] | None = None,
    *,
    missing: str = "error",
) -> Splits:
    """Split by published lists of relative paths (e.g. the artist-filtered GTZAN lists).

    Entries like ``blues/blues.00012.wav`` are matched on the path without its audio extension (so a
    ``.wav`` list works over ``.flac`` or ``.au`` files) or on the track id.

    Parameters
    ----------
    dataset : Dataset
    train, test, val : path to a text file, or iterable of str
        One entry per line; blank lines and ``#`` comments are ignored.
    missing : {"error", "ignore"}
        What an entry naming no track of the dataset does (published lists name clips a user may not
        have): ``"error"`` raises; ``"ignore"`` skips it, counts it per list in ``Splits.missing`` and
        warns with the count.

    Returns
    -------
    Splits
        ``(train, val or None, test)``, each in dataset order. Tracks named in no list are left out:
        their ids are in ``Splits.unassigned`` and a warning gives their number.

    Raises
    ------
    DatasetError
        Entries that match no track (up to 10 listed, with the count) unless ``missing="ignore"``; a
        track in two lists; an unknown ``missing`` rule.
    """
    if missing not in SPLIT_MISSING:
        raise ConfigError(f"split-missing rule must be one of {', '.join(SPLIT_MISSING)}, got {missing!r}")
    lists = {"train": train, "val": val, "test": test}
    keys: dict[str, int] = {}
    for i, t in enumerate(dataset.tracks):
        keys.setdefault(track_id_for(t.relpath), i)
        keys.setdefault(t.track_id, i)
    side_of: dict[int, str] = {}
    absent: list[str] = []
    absent_per_list: dict[str, int] = {}
    clashes: list[str] = []
    chosen: dict[str, list[int]] = {}
    for name, spec in lists.items():
        if spec is None:
            continue
        idx: list[int] = []
        for entry in _read_split_list(spec, name):
            i = keys.get(track_id_for(entry))
            if i is None:
                absent.append(f"{entry} ({name})")
                absent_per_list[name] = absent_per_list.get(name, 0) + 1
                continue
            if i in side_of:
                if side_of[i] != name:
                    clashes.append(f"{entry} ({side_of[i]} and {name})")
                continue
            side_of[i] = name
            idx.append(i)
        chosen[name] = sorted(idx)
    if absent and missing == "error":
        example = dataset.tracks[0].relpath if len(dataset) else "(empty dataset)"
        raise DatasetError(
            f"{len(absent)} split-list entr{'y' if len(absent) == 1 else 'ies'} not in the dataset: "
            f"{_listing(absent)}; entries are matched on the path relative to the dataset root without "
            f"extension (the dataset has e.g. {example}); to take a list naming clips you do not have, "
            "ignore them (--split-missing ignore)",
            source=dataset.root,
        )
    if absent:
        per_list = ", ".join(f"{n} {name}" for name, n in absent_per_list.items())
        warnings.warn(
            f"{len(absent)} split-list entries name no track of the dataset and were ignored ({per_list}; "
            f"e.g. {_listing(absent, limit=3)})",
            stacklevel=2,
        )
    if clashes:
        raise DatasetError(
            f"{len(clashes)} track(s) in two split lists: {_listing(clashes)}", source=dataset.root
        )
    unassigned = [t.track_id for i, t in enumerate(dataset.tracks) if i not in side_of]
    if unassigned:
        warnings.warn(
            f"{len(unassigned)} of {len(dataset)} tracks are in no split list and were left out "
            f"(e.g. {_listing(unassigned, limit=3)})",
            stacklevel=2,
        )
    val_ds = dataset.subset(chosen["val"]) if val is not None else None
    return Splits(
        dataset.subset(chosen["train"]),
        val_ds,
        dataset.subset(chosen["test"]),
        unassigned=unassigned,
        missing=absent_per_list,
    )


def assert_disjoint(*splits: Dataset | Sequence[str] | np.ndarray | None, by: str = "track") -> None:
    """Check that no group is on two sides.

    Parameters
    ----------
    *splits : Dataset, array of group ids, or None
        Datasets are compared by ``Dataset.groups(by)``; arrays (e.g. the group column of segment rows)
        are compared as given; ``None`` (an absent validation set) is skipped.
    by : {"track", "artist", "auto"}
        Grouping for Dataset arguments.

    Raises
    ------
    DatasetError
        Naming the two splits (1-based) and up to 10 shared groups.
    """
    if by not in GROUP_BY:
        raise unknown_name("group_by", by, GROUP_BY)
    sets: list[tuple[int, set[str]]] = []
    for i, s in enumerate(splits, start=1):
        if s is None:
            continue
        ids = s.groups(by) if isinstance(s, Dataset) else np.asarray(s, dtype=str)
        sets.append((i, set(ids.tolist())))
    for a in range(len(sets)):
        for b in range(a + 1, len(sets)):
            shared = sets[a][1] & sets[b][1]
            if shared:
                raise DatasetError(
                    f"splits {sets[a][0]} and {sets[b][0]} share {len(shared)} group(s) "
                    f"(grouped by {by}): {_listing(sorted(shared))}"
                )


# --------------------------------------------------------------------------------------------------------
# segments and fingerprints
# --------------------------------------------------------------------------------------------------------


def expand_segments(
    track_indices: Sequence[int] | np.ndarray, n_segments: int | Sequence[int] | np.ndarray
) -> np.ndarray:
    """Map segment rows to tracks: repeat each track index by its number of segments.

    Parameters
    ----------
    track_indices : array of int, shape (n_tracks,)
    n_segments : int or array of int, shape (n_tracks,)
        Segments per track (one number for all, or one per entry of ``track_indices``).

    Returns
    -------
    np.ndarray, int64, shape (sum of n_segments,)
        The track index of every segment row, in order; ``groups[result]`` gives each row the group id of
        its track, so segments of one track always share it.
    """
    idx = np.asarray(track_indices, dtype=np.int64).reshape(-1)
    n = np.asarray(n_segments, dtype=np.int64)
    if n.ndim == 0:
        n = np.full(idx.shape, int(n), dtype=np.int64)
    if n.shape != idx.shape:
        raise ConfigError(
            f"n_segments must be one int or one per track ({idx.shape[0]}), got shape {n.shape}"
        )
    if n.size and n.min() < 0:
        raise ConfigError("n_segments must be >= 0")
    return np.repeat(idx, n)


def segment_table(
    dataset: Dataset, n_segments: int | Sequence[int] | np.ndarray, *, group_by: str = "auto"
) -> pd.DataFrame:
    """One row per segment: ``track_index, segment, track_id, label, group``.

    Parameters
    ----------
    dataset : Dataset
    n_segments : int or array of int, shape (n_tracks,)
    group_by : {"auto", "track", "artist"}
    """
    import pandas as pd

    track_index = expand_segments(np.arange(len(dataset)), n_segments)
    n = np.bincount(track_index, minlength=len(dataset))
    segment = np.arange(len(track_index)) - np.repeat(np.cumsum(n) - n, n)
    ids = np.asarray(dataset.track_ids, dtype=str)
    return pd.DataFrame(
        {
            "track_index": track_index,
            "segment": segment.astype(np.int64),
            "track_id": ids[track_index] if len(ids) else ids,
            "label": dataset.y[track_index] if len(dataset) else dataset.y,
            "group": dataset.groups(group_by)[track_index] if len(dataset) else np.asarray([], dtype=str),
        }
    )


def fingerprint(dataset: Dataset) -> str:
    """Digest of the sorted ``(relpath, label, file size)`` of every track, for model bundles.

    The same files with the same labels give the same fingerprint on any machine, whatever the root.

    Returns
    -------
    str
        32 hex characters (BLAKE2b-128).

    Raises
    ------
    DatasetError
        A track's file no longer exists.
    """
    h = hashlib.blake2b(digest_size=16)
    rows = []
    gone = []
    for t in dataset.tracks:
        try:
            size = t.path.stat().st_size
        except OSError:
            gone.append(str(t.path))
            continue
        rows.append(f"{t.relpath}\t{t.label}\t{size}\n")
    if gone:
        raise DatasetError(
            f"cannot fingerprint: {len(gone)} file(s) missing: {_listing(gone)}", source=dataset.root
        )
    for row in sorted(rows):
        h.update(row.encode("utf-8"))
    return h.hexdigest()
