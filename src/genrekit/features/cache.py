"""Feature cache on disk and parallel, fault-isolated extraction over many files.

Layout of a :class:`FeatureCache` (one directory per extractor configuration, one file per audio file)::

    <root>/
      <config digest>/                 32 hex: extractor.to_dict() + load options + genrekit version
        config.json                    what that digest stands for (human-readable, not read back)
        <content digest>.parquet       32 hex: BLAKE2b-128 of the audio file's bytes (audio.file_digest)

Each parquet file holds one row per segment: ``start_s``, ``end_s`` (float64) and ``features``, a
fixed-size list of ``dim`` float32 (one column whatever ``dim`` is: a flattened log-mel row has 16640
values). Its schema metadata records the extractor description, ``dim`` and the genrekit version, and
are checked on read: a file that does not match is treated as a miss and overwritten. Files are written
to a temporary name and renamed, so a crash never leaves a half-written entry. The same audio under
another path or name hits the cache (the key is the content); changing a byte of the file, an option of
the extractor, the load options or the genrekit version misses it. Delete a config directory to drop
the features of one configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.config import genrekit_version
from genrekit.errors import ConfigError, GenreKitError
from genrekit.features.base import Extractor
from genrekit.files import atomic_write_bytes

#: Parquet schema-metadata key of the entry description.
_META_KEY = b"genrekit.features"



def config_digest(extractor: Extractor, load_kwargs: dict[str, Any] | None = None) -> str:
    """32-hex BLAKE2b digest of the extractor description, the load options and the genrekit version.

    The JSON is written with sorted keys, so equal configurations always give the same digest.
    """
    return hashlib.blake2b(_config_json(extractor, load_kwargs).encode(), digest_size=16).hexdigest()


def _config_json(extractor: Extractor, load_kwargs: dict[str, Any] | None) -> str:
    desc = {"extractor": extractor.to_dict(), "load": dict(load_kwargs or {}), "genrekit": genrekit_version()}
    return json.dumps(desc, sort_keys=True, separators=(",", ":"))


class FeatureCache:
    """Per-file feature matrices on disk, keyed by audio content and extractor configuration.

    Parameters
    ----------
    root : path
        Cache directory (created when needed). See the module docstring for the layout.

    Attributes
    ----------
    hits, misses : int
        Lookups answered from disk / not found, counted by :meth:`get` in this process.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"feature cache root {self.root} exists and is not a directory")
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def path_for(self, content_digest: str, cfg_digest: str) -> Path:
        """Where the entry of ``(content_digest, cfg_digest)`` lives (whether or not it exists)."""
        return self.root / cfg_digest / f"{content_digest}.parquet"

    def get(
        self, content_digest: str, cfg_digest: str, *, dim: int | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Cached ``(features (n, dim) float32, times (n, 2) float64)``, or None (counted as a miss).

        An unreadable or mismatching file (other ``dim`` or digest) counts as a miss.
        """
        path = self.path_for(content_digest, cfg_digest)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            out = _read_entry(path, cfg_digest, dim)
        except Exception:  # damaged or foreign file: recompute and overwrite it
            out = None
        if out is None:
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(
        self,
        content_digest: str,
        cfg_digest: str,
        features: np.ndarray,
        times: np.ndarray,
        *,
        extractor: Extractor,
        load_kwargs: dict[str, Any] | None = None,
        source: str | None = None,
    ) -> Path:
        """Store one file's features atomically; returns the entry's path.

        Parameters
        ----------
        features : np.ndarray, shape (n_segments, dim)
        times : np.ndarray, shape (n_segments, 2)
            Segment start and end in seconds.
        extractor : Extractor
            The extractor that made them (described in the entry's metadata).
        source : str, optional
            The path the audio was read from, recorded for information only.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        features = np.ascontiguousarray(features, dtype=np.float32)
        times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
        if features.ndim != 2 or len(features) != len(times):
            raise ConfigError(
                f"features {features.shape} and times {times.shape} must be (n, dim) and (n, 2), same n"
            )
        dim = features.shape[1]
        directory = self.root / cfg_digest
        directory.mkdir(parents=True, exist_ok=True)
        config_file = directory / "config.json"
        if not config_file.exists():
            atomic_write_bytes(config_file, _config_json(extractor, load_kwargs).encode())
        values = pa.array(features.reshape(-1), type=pa.float32())
        meta = {
            "config_digest": cfg_digest,
            "content_digest": content_digest,
            "dim": dim,
            "extractor": extractor.to_dict(),
            "genrekit": genrekit_version(),
            "source": source,
        }
        table = pa.table(
            {
                "start_s": pa.array(times[:, 0]),
                "end_s": pa.array(times[:, 1]),
                "features": pa.FixedSizeListArray.from_arrays(values, dim),
            }
        ).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        path = self.path_for(content_digest, cfg_digest)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".parquet")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def entries(self, cfg_digest: str | None = None) -> list[Path]:
        """Entry files, of one configuration or all."""
        pattern = f"{cfg_digest}/*.parquet" if cfg_digest else "*/*.parquet"
        return sorted(p for p in self.root.glob(pattern) if not p.name.startswith("."))


def _read_entry(path: Path, cfg_digest: str, dim: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    if meta.get("config_digest") != cfg_digest or (dim is not None and meta.get("dim") != dim):
        return None
    n = table.num_rows
    stored_dim = int(meta["dim"])
    flat = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    features = np.asarray(flat, dtype=np.float32).reshape(n, stored_dim)
    times = np.stack(
        [table.column("start_s").to_numpy(), table.column("end_s").to_numpy()], axis=1
    ).astype(np.float64)
    return features, times



# ---- extraction over many files ---------------------------------------------------------------------
@dataclass
class ExtractionResult:
    """Features of a batch of files, in input order, with the files that failed.

    Attributes
    ----------
    paths : list of str
        The files that succeeded, in input order.
    features : list of np.ndarray, float32, shape (n_segments, dim)
    times : list of np.ndarray, float64, shape (n_segments, 2)
        Start and end (seconds) of each segment.
    from_cache : list of bool
        Whether each file's features came from the cache.
    failures : list of (path, message)
        The files that could not be used, in input order, with why.
    names : list of str
        The extractor's column names.
    """

    paths: list[str] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)
    from_cache: list[bool] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def n_cached(self) -> int:
        return int(sum(self.from_cache))

    def stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """All segments in one matrix.

        Returns
        -------
        X : np.ndarray, float32, shape (total_segments, dim)
        file_index : np.ndarray, int64, shape (total_segments,)
            Index into :attr:`paths` of each row's file (for grouped splits / track-level votes).
        """
        dim = len(self.names)
        if not self.features:
            return np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
        X = np.concatenate(self.features).astype(np.float32, copy=False)
        idx = np.repeat(np.arange(len(self.features)), [len(f) for f in self.features])
        return X, idx.astype(np.int64)


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, GenreKitError):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not an audio file"
    if isinstance(exc, OSError):
        return f"cannot read the file: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def _extract_one(
    path: str, extractor: Extractor, load_kwargs: dict[str, Any]
) -> tuple[bool, np.ndarray | str, np.ndarray | None]:
    """Load and extract one file; never raises: ``(True, features, times)`` or ``(False, message, None)``."""
    from genrekit.audio import load

    try:
        y, sr = load(path, sr=extractor.sr, **load_kwargs)
        features = extractor(y, sr)
        times = extractor.segment_times(len(y), sr)
        return True, features, times
    except Exception as exc:  # one bad file never stops the batch: it is reported with why
        return False, _failure_message(exc), None


def _resolve_workers(workers: int) -> int:
    if workers == -1:
        return max(1, os.cpu_count() or 1)
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers must be a positive integer or -1 (all cores), got {workers!r}")
    return int(workers)


def _progress_enabled(progress: bool) -> bool:
    if not progress:
        return False
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def extract_files(
    paths: Iterable[str | os.PathLike],
    extractor: Extractor,
    *,
    workers: int = 1,
    cache: FeatureCache | str | os.PathLike | None = None,
    progress: bool = True,
    load_kwargs: dict[str, Any] | None = None,
) -> ExtractionResult:
    """Extract features from many audio files, in parallel, from the cache when possible.

    Every file is isolated: one that cannot be read or decoded (or fails in any other way) is listed
    in ``failures`` with the reason and skipped; the batch always completes.

    Parameters
    ----------
    paths : iterable of path
        Audio files; results keep this order.
    extractor : Extractor
        Audio is loaded with :func:`genrekit.audio.load` at ``extractor.sr``.
    workers : int
        Processes (joblib/loky); ``-1`` for all cores, ``1`` for in-process. The first file is extracted
        in this process before the pool starts, so that numba's on-disk cache is filled by one process
        (concurrent first compilations corrupt it: numba issue #10128).
    cache : FeatureCache or path, optional
        Look up each file (by content digest) before extracting and store what was extracted. Lookups
        and writes happen in this process only.
    progress : bool
        Show a rich progress bar on stderr (only when stderr is a terminal).
    load_kwargs : dict, optional
        More options for :func:`genrekit.audio.load` (``duration_s``, ``offset_s``,
        ``max_duration_s``); they are part of the cache key. ``sr`` is the extractor's.

    Returns
    -------
    ExtractionResult
    """
    from genrekit.audio import file_digest

    load_kwargs = dict(load_kwargs or {})
    if "sr" in load_kwargs or "mono" in load_kwargs:
        raise ConfigError("load_kwargs must not set 'sr' or 'mono': audio is read mono at extractor.sr")
    n_workers = _resolve_workers(workers)
    paths = [str(p) for p in paths]
    if cache is not None and not isinstance(cache, FeatureCache):
        cache = FeatureCache(cache)

    # slot per input: ("ok", features, times, cached) | ("fail", message)
    slots: list[tuple[Any, ...] | None] = [None] * len(paths)
    digests: list[str | None] = [None] * len(paths)
    cfg = config_digest(extractor, load_kwargs) if cache is not None else ""
    dim = extractor.dim
    todo: list[int] = []
    for i, path in enumerate(paths):
        if cache is not None:
            try:
                digests[i] = file_digest(path)
            except OSError as exc:
                slots[i] = ("fail", _failure_message(exc))
                continue
            hit = cache.get(digests[i], cfg, dim=dim)
            if hit is not None:
                slots[i] = ("ok", hit[0], hit[1], True)
                continue
        todo.append(i)

    def record(i: int, outcome: tuple[bool, Any, Any]) -> None:
        ok, value, times = outcome
        if not ok:
            slots[i] = ("fail", value)
            return
        slots[i] = ("ok", value, times, False)
        if cache is not None and digests[i] is not None:
            try:
                cache.put(digests[i], cfg, value, times, extractor=extractor, load_kwargs=load_kwargs,
                          source=paths[i])
            except (OSError, GenreKitError) as exc:  # a full/read-only cache must not lose the features
                warnings.warn(f"could not write {paths[i]} to the feature cache {cache.root}: {exc}",
                              stacklevel=3)

    _run(todo, paths, extractor, load_kwargs, n_workers, record, _progress_enabled(progress), len(paths))

    result = ExtractionResult(names=list(extractor.names))
    for path, slot in zip(paths, slots, strict=True):
        assert slot is not None
        if slot[0] == "ok":
            result.paths.append(path)
            result.features.append(slot[1])
            result.times.append(slot[2])
            result.from_cache.append(slot[3])
        else:
            result.failures.append((path, slot[1]))
    return result


def _run(
    todo: Sequence[int],
    paths: Sequence[str],
    extractor: Extractor,
    load_kwargs: dict[str, Any],
    n_workers: int,
    record: Any,
    show_progress: bool,
    total: int,
) -> None:
    """Extract ``paths[i]`` for ``i in todo`` and pass each outcome to ``record(i, outcome)`` in order."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
    )
    with bar:
        task = bar.add_task(f"{extractor.name} features", total=total, completed=total - len(todo))
        pending = list(todo)
        warm = n_workers == 1
        # In this process until one file succeeds (fills numba's cache from one process), then the pool.
        while pending and not (warm and n_workers > 1):
            i = pending.pop(0)
            outcome = _extract_one(paths[i], extractor, load_kwargs)
            record(i, outcome)
            warm = warm or outcome[0]
            bar.advance(task)
        if not pending:
            return
        from joblib import Parallel, delayed

        jobs = Parallel(n_jobs=n_workers, backend="loky", return_as="generator")
        outcomes = jobs(delayed(_extract_one)(paths[i], extractor, load_kwargs) for i in pending)
        done = 0
        try:
            for i, outcome in zip(pending, outcomes, strict=True):
                record(i, outcome)
                done += 1
                bar.advance(task)
        except Exception as exc:  # a worker died (segfault, out of memory): report, do not abort
            reason = f"not extracted: a worker process died ({type(exc).__name__}: {exc})"
            for i in pending[done:]:
                record(i, (False, reason, None))
                bar.advance(task)
