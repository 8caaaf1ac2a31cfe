"""Loading labelled audio: folder-per-genre trees, manifest CSVs, and scans that report every bad file.

A dataset comes from a folder tree (:func:`from_folder`: one folder per genre) or from a manifest CSV
(:func:`from_manifest`: ``path,label[,artist][,track_id]``); :func:`load_dataset` picks one. :func:`scan`
checks every file's header and reports the bad ones without stopping.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrekit import audio
from genrekit.config import AUDIO_EXTENSIONS
from genrekit.data.sources import is_hidden, norm_extensions, walk_files
from genrekit.data.tracks import Dataset, Track, _listing, track_id_for
from genrekit.errors import AudioError, DatasetError, unknown_name

logger = logging.getLogger(__name__)

#: The manifest file name :func:`load_dataset` looks for when asked for ``layout="manifest"`` on a folder.
MANIFEST_NAME = "manifest.csv"
#: Manifest columns: required, then optional.
MANIFEST_REQUIRED: tuple[str, ...] = ("path", "label")
MANIFEST_OPTIONAL: tuple[str, ...] = ("artist", "track_id")


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
    exts = norm_extensions(extensions)
    walk = _FolderWalk([], [], [], [], [], [])
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if is_hidden(entry.name):
            walk.hidden.append(entry.name)
            continue
        if not entry.is_dir():
            walk.stray.append(entry.name)
            continue
        label = entry.name
        found = 0
        for item in walk_files(entry, exts):  # an unreadable sub-folder is passed over, as an empty one
            rel = Path(item.path).relative_to(root).as_posix()
            if item.kind == "hidden":
                walk.hidden.append(rel)
            elif item.kind == "audio":
                walk.tracks.append(Track(Path(item.path), label, track_id_for(rel), None, rel))
                found += 1
            elif item.kind == "other":
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
        exts = norm_extensions(extensions)
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
