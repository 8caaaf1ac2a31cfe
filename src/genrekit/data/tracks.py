"""Tracks and datasets: the labelled-audio records every other part of the data floor works on.

A :class:`Dataset` is an immutable, sorted list of :class:`Track` records (path, label, stable track id,
optional artist); :func:`group_key` / :meth:`Dataset.groups` give the split groups (a track, or an
artist), :func:`expand_segments` / :func:`segment_table` carry them down to segment rows, and
:func:`fingerprint` digests a dataset for model bundles. Loading (folders, manifests, scans) is in
:mod:`genrekit.data.folders`, splitting in :mod:`genrekit.data.splits`.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit.config import AUDIO_EXTENSIONS
from genrekit.errors import ConfigError, DatasetError, unknown_name

if TYPE_CHECKING:
    import pandas as pd

#: Valid ``group_by`` values of the split functions.
GROUP_BY: tuple[str, ...] = ("track", "artist", "auto")
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
