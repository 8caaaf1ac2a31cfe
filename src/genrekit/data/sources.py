"""Input sources of batch runs: a folder walk, a manifest CSV or a text list of paths, streamed."""

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
        self.extensions = frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
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
        stack = [self.path]
        seen_dirs: set[tuple[int, int]] = set()
        while stack:
            folder = stack.pop()
            try:
                st = folder.stat()
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                if folder == self.path:
                    raise DatasetError(f"cannot list folder: {exc.strerror or exc}", source=folder) from None
                log.warning("%s: cannot list folder (%s); skipped", folder, exc.strerror or exc)
                self.ignored += 1
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            subdirs = []
            for entry in entries:
                if entry.name.startswith("."):
                    self.ignored += 1
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:  # a symlink loop: not a folder; an audio name becomes an error row
                    is_dir = False
                if is_dir:
                    if os.path.abspath(entry.path) not in self.exclude:
                        subdirs.append(Path(entry.path))
                elif os.path.splitext(entry.name)[1].lower() in self.extensions:
                    yield InputItem(os.path.abspath(entry.path))
                else:
                    self.ignored += 1
            stack.extend(reversed(subdirs))  # depth-first, in name order

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
