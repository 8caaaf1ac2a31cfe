"""The one folder walker, and the input sources of batch runs: a folder, a manifest CSV or a list of paths.

:func:`walk_files` is the walk every folder input goes through: a batch run's folder here
(:class:`InputSource`) and each genre folder of a dataset tree (:func:`genrekit.data.folders.from_folder`).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrekit.config import AUDIO_EXTENSIONS
from genrekit.errors import DatasetError

log = logging.getLogger(__name__)


#: Folder names that are never walked into besides hidden ones (macOS zip debris).
IGNORED_DIRS = frozenset({"__MACOSX"})


def is_hidden(name: str) -> bool:
    """True for a hidden name (``.name``) and for folders that are never data (``__MACOSX``)."""
    return name.startswith(".") or name in IGNORED_DIRS


def norm_extensions(extensions: Iterable[str]) -> frozenset[str]:
    """Lower-case extensions with their dot: ``["WAV", ".mp3"]`` -> ``{".wav", ".mp3"}``."""
    return frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


@dataclass(frozen=True)
class WalkEntry:
    """One thing :func:`walk_files` met.

    Attributes
    ----------
    kind : {"audio", "other", "hidden", "unreadable"}
        An audio file (by extension), a file with another extension, a hidden file or folder (not
        walked into), or a folder that could not be listed.
    path : str
        Its path: the walked root joined with the names below it.
    error : str
        Why an unreadable folder could not be listed (empty otherwise).
    """

    kind: str
    path: str
    error: str = ""


def walk_files(
    root: str | os.PathLike, extensions: frozenset[str], *, exclude: frozenset[str] = frozenset()
) -> Iterator[WalkEntry]:
    """Walk a folder tree depth-first in name order: every file, hidden name and unreadable folder.

    Symlinked folders are followed, each real folder once (a link back up the tree ends there); a
    symlink that cannot be resolved is a file (an audio name then fails when it is read). The files of
    a folder come before its sub-folders. Nothing is raised: a folder that cannot be listed (the root
    too) is an ``"unreadable"`` entry.

    Parameters
    ----------
    root : path
    extensions : frozenset of str
        Audio extensions, lower case with the dot (:func:`norm_extensions`).
    exclude : frozenset of str
        Absolute folder paths not to walk into.
    """
    stack = [os.fspath(root)]
    seen_dirs: set[tuple[int, int]] = set()
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield WalkEntry("unreadable", folder, str(exc.strerror or exc))
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop, or two links to one folder: once only
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        subdirs = []
        for entry in entries:
            if is_hidden(entry.name):
                yield WalkEntry("hidden", entry.path)
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:  # a symlink loop: not a folder
                is_dir = False
            if is_dir:
                if os.path.abspath(entry.path) not in exclude:
                    subdirs.append(entry.path)
            elif os.path.splitext(entry.name)[1].lower() in extensions:
                yield WalkEntry("audio", entry.path)
            else:
                yield WalkEntry("other", entry.path)
        stack.extend(reversed(subdirs))  # depth-first, in name order


# ========================================================================================================
# inputs
# ========================================================================================================
@dataclass(frozen=True)
class InputItem:
    """One file to process: its absolute path and, from a manifest, its label."""

    path: str
    label: str | None = None


class InputSource:
    """A folder (walked recursively, audio files by extension), a manifest ``.csv`` or a text list of paths.

    Iterating streams the items; it can be iterated any number of times (each pass re-reads the source).
    Relative paths in a manifest or list resolve against the folder of that file. Hidden files and
    folders (names starting with ``.``) and, in a folder, files with a non-audio extension are not
    inputs; after a folder pass :attr:`ignored` counts them.

    Parameters
    ----------
    source : path
        Folder, ``.csv`` manifest (header row with a ``path`` column, optional ``label``), or any other
        file as a text list (one path per line; blank lines and lines starting with ``#`` are skipped).
    extensions : iterable of str
        Audio file extensions taken from a folder.
    exclude : iterable of path
        Folders not to walk into (the batch output, when it lies inside the input folder).

    Raises
    ------
    DatasetError
        The source does not exist, or a manifest has no ``path`` column or an empty path cell.
    """

    def __init__(
        self,
        source: str | os.PathLike,
        *,
        extensions: Iterable[str] = AUDIO_EXTENSIONS,
        exclude: Iterable[str | os.PathLike] = (),
    ) -> None:
        self.path = Path(os.path.abspath(source))
        self.exclude = frozenset(os.path.abspath(p) for p in exclude)
        self.extensions = norm_extensions(extensions)
        if self.path.is_dir():
            self.kind = "folder"
        elif self.path.is_file():
            self.kind = "manifest" if self.path.suffix.lower() == ".csv" else "list"
        else:
            raise DatasetError(
                "input not found (expected a folder, a manifest .csv or a text file of paths)", source=source
            )
        self.ignored = 0

    def __iter__(self) -> Iterator[InputItem]:
        if self.kind == "folder":
            return self._walk()
        if self.kind == "manifest":
            return self._manifest()
        return self._list()

    def describe(self) -> str:
        what = {"folder": "folder", "manifest": "manifest", "list": "list of paths"}[self.kind]
        return f"{what} {self.path}"

    def _walk(self) -> Iterator[InputItem]:
        self.ignored = 0
        for entry in walk_files(self.path, self.extensions, exclude=self.exclude):
            if entry.kind == "audio":
                yield InputItem(os.path.abspath(entry.path))
                continue
            if entry.kind == "unreadable":
                if entry.path == os.fspath(self.path):
                    raise DatasetError(f"cannot list folder: {entry.error}", source=self.path)
                log.warning("%s: cannot list folder (%s); skipped", entry.path, entry.error)
            self.ignored += 1

    def _open_text(self) -> Any:
        try:
            return open(self.path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise DatasetError(f"cannot read: {exc.strerror or exc}", source=self.path) from None

    def _resolve(self, p: str) -> str:
        p = p.replace("\\", "/") if os.sep == "/" else p
        return os.path.normpath(p if os.path.isabs(p) else os.path.join(self.path.parent, p))

    def _manifest(self) -> Iterator[InputItem]:
        with self._open_text() as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            try:
                for row in reader:
                    if not any(c.strip() for c in row):
                        continue
                    if header is None:
                        header = [h.strip().lower() for h in row]
                        if "path" not in header:
                            raise DatasetError(
                                f"manifest has no 'path' column (columns: {', '.join(header) or '(none)'}); "
                                "expected a header row with path[,label]",
                                source=self.path,
                            )
                        ip, il = header.index("path"), header.index("label") if "label" in header else None
                        continue
                    p = row[ip].strip() if ip < len(row) else ""
                    if not p:
                        raise DatasetError(f"row {reader.line_num}: empty path", source=self.path)
                    label = row[il].strip() if il is not None and il < len(row) else ""
                    yield InputItem(self._resolve(p), label or None)
            except UnicodeDecodeError:
                raise DatasetError("not a UTF-8 text CSV file", source=self.path) from None

    def _list(self) -> Iterator[InputItem]:
        with self._open_text() as f:
            try:
                for line in f:
                    p = line.strip()
                    if p and not p.startswith("#"):
                        yield InputItem(self._resolve(p))
            except UnicodeDecodeError:
                raise DatasetError("not a UTF-8 text list of paths", source=self.path) from None
