"""Catalogue-scale batch runs: classify, or extract features of, many files -- locally or on Dask.

One job runs the same per-chunk function on one of four engines:

============  ==============================================================================================
engine        what runs the chunks
============  ==============================================================================================
serial        this process (``workers=1``)
processes     a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` spawned processes
dask-local    a ``distributed.LocalCluster(n_workers=dask_local, threads_per_worker=1)`` started for the run
dask          an existing Dask scheduler (``scheduler="tcp://host:8786"``); files and models must be visible
              to every worker under the same paths (a shared file system)
============  ==============================================================================================

The model (or extractor) is loaded once per worker process and cached; a chunk decodes its files in
groups of at most ``group_audio_s`` seconds of audio and hands each group to ``Extractor.extract_many``
so that batching backbones (musicnn) see batches. The driver streams the input (a folder walk, a CSV
reader or a text file, never a full list in memory), keeps at most ``max_in_flight`` chunks submitted,
and writes every finished chunk as its own parquet part file, atomically.

Output layout (``OUT`` is a directory, readable by :func:`read_results` or ``pandas.read_parquet``)::

    OUT/_meta.json          kind, model id / extractor config, columns, feature names or labels
    OUT/part-00000.parquet  one per finished chunk, written to a temporary name then renamed
    OUT/_lock               present while a run writes (pid and host), removed at the end

Resume rule. A re-run with the same command skips every input whose latest row is ``ok`` and whose
file is unchanged: same ``(size, mtime_ns)``, or, when those differ, the same content hash. Rows with
status ``error`` are skipped too unless ``retry_errors``. A changed file is done again. A newer row of a
path supersedes older ones: :func:`read_results` keeps only the rows of each path's latest part, so
in the de-duplicated view every file appears exactly once (once per segment with ``per_segment``).
Resuming into an output written by another kind of job, model or extractor config is refused.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.audio import check_audible, file_digest, info, load
from genrekit.config import AUDIO_EXTENSIONS, MAX_DURATION_S, genrekit_version
from genrekit.errors import AudioError, ConfigError, DatasetError, GenreKitError, ModelError
from genrekit.features.base import check_finite_features
from genrekit.files import atomic_write_bytes, to_jsonable

META_NAME = "_meta.json"
LOCK_NAME = "_lock"
PART_PREFIX = "part-"
FORMAT = "genrekit-batch"
FORMAT_VERSION = 1
KINDS: tuple[str, ...] = ("classify", "features")
#: Test hook: after this many part files, the run stops as if interrupted (Ctrl-C), or is SIGKILLed when
#: ``GENREKIT_BATCH_STOP_SIGNAL=KILL``.
STOP_AFTER_ENV = "GENREKIT_BATCH_STOP_AFTER_CHUNKS"
STOP_SIGNAL_ENV = "GENREKIT_BATCH_STOP_SIGNAL"


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
                raise DatasetError(f"cannot list folder: {exc.strerror or exc}", source=folder) from None
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            subdirs = []
            for entry in entries:
                if entry.name.startswith("."):
                    self.ignored += 1
                    continue
                if entry.is_dir():
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


# ========================================================================================================
# the job and its per-worker state
# ========================================================================================================
@dataclass(frozen=True)
class BatchJob:
    """What to compute for each file; small and picklable, sent with every chunk.

    Attributes
    ----------
    kind : {"classify", "features"}
    model : str or None
        classify: an absolute bundle path or a pretrained name; ``None`` for the default musicnn tagger.
    extractor : dict or None
        features: ``Extractor.to_dict()``.
    top_k : int
        classify: how many genres (with probabilities) each row keeps; 0 for all.
    per_segment : bool
        features: one row per segment instead of one row per file with the mean over segments.
    crop_s : float or None
        Only decode this many seconds around the middle of each file.
    min_confidence : float or None
        classify: answer genre ``"unsure"`` when the top probability is below this (``top_genres`` and
        ``top_probs`` still list the genres); None: the bundle's own threshold, if any.
    max_duration_s : float or None
        Files longer than this (decoded window) are error rows.
    group_audio_s : float
        Seconds of audio decoded at once in a worker before features are computed (memory bound).
    threads : int or None
        Threads for torch / BLAS in each local worker (``None``: leave them as configured).
    plugins : tuple of (name, "module:Class")
        Extractors registered at run time in the driver, registered again in each worker.
    model_stamp : str or None
        Set by the runner: a digest of the bundle's files (names, sizes, modification times), so a
        bundle rewritten at the same path is loaded afresh by every worker, never taken from a worker's
        cache of the old one.
    """

    kind: str
    model: str | None = None
    extractor: dict[str, Any] | None = None
    top_k: int = 3
    per_segment: bool = False
    crop_s: float | None = None
    min_confidence: float | None = None
    max_duration_s: float | None = MAX_DURATION_S
    group_audio_s: float = 600.0
    threads: int | None = 1
    plugins: tuple[tuple[str, str], ...] = ()
    model_stamp: str | None = None

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


@dataclass
class _WorkerState:
    job: BatchJob
    extractor: Any
    classifier: Any = None
    model_id: str = ""


_STATES: OrderedDict[str, _WorkerState] = OrderedDict()
_STATE_LOCK = threading.Lock()
#: Loaded models/extractors kept per process (a long-lived Dask worker serves many jobs).
_MAX_STATES = 4


def _digest(obj: Any) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def _register_plugins(plugins: tuple[tuple[str, str], ...]) -> None:
    from genrekit.features import registry

    for name, target in plugins:
        if name not in registry.available():
            registry.register(name, target)


def _plugins_for(names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``(name, "module:Class")`` of a job's extractors, so workers know names registered at run time."""
    from genrekit.features import registry

    out = []
    for name in names:
        if name in registry.available():
            cls = registry.extractor_class(name)
            out.append((name, f"{cls.__module__}:{cls.__qualname__}"))
    return tuple(out)


def _build_state(job: BatchJob, preloaded: Any = None) -> _WorkerState:
    _register_plugins(job.plugins)
    if job.kind == "classify":
        from genrekit.predict import load_model

        clf = preloaded if preloaded is not None else load_model(job.model)
        d = clf.describe()
        d.pop("genrekit_version", None)
        return _WorkerState(job, clf.extractor, clf, f"{clf.name}@{_digest(to_jsonable(d))}")
    from genrekit.features.registry import extractor_from_dict

    ext = extractor_from_dict(job.extractor or {})
    return _WorkerState(job, ext, None, f"{ext.name}@{_digest(ext.to_dict())}")


def _state_for(job: BatchJob, preloaded: Any = None) -> _WorkerState:
    """The job's loaded model/extractor in this process, loaded on first use (once per worker)."""
    key = job.key()
    state = _STATES.get(key)
    if state is None:
        with _STATE_LOCK:
            state = _STATES.get(key)
            if state is None:
                state = _build_state(job, preloaded)
                _STATES[key] = state
                while len(_STATES) > _MAX_STATES:
                    _STATES.popitem(last=False)
    return state


def _bundle_stamp(model: str | None) -> str | None:
    """Digest of a bundle's files (relative names, sizes, mtimes); None for a named pretrained model."""
    if model is None or not os.path.exists(model):
        return None
    root = Path(model)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    facts = []
    for f in files:
        st = f.stat()
        facts.append(
            [f.relative_to(root).as_posix() if root.is_dir() else f.name, st.st_size, st.st_mtime_ns]
        )
    return _digest(facts)


def _limit_threads(n: int | None) -> Callable[[], None]:
    """Limit torch and BLAS/OpenMP threads of this process to ``n``; return a function that restores them."""
    if n is None:
        return lambda: None
    restore: list[Callable[[], None]] = []
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=n)
        restore.append(limiter.restore_original_limits)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    if "torch" in sys.modules:
        import torch

        old = torch.get_num_threads()
        if old != n:
            torch.set_num_threads(n)
            restore.append(lambda: torch.set_num_threads(old))

    def undo() -> None:
        for f in reversed(restore):
            f()

    return undo


def worker_id() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    ``VmHWM`` from ``/proc/self/status`` where it exists: unlike ``ru_maxrss``, which Linux carries over
    from the parent through fork and exec, it belongs to this process's own address space.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    except (ImportError, OSError):  # pragma: no cover - not on Windows
        return float("nan")


# ========================================================================================================
# one chunk
# ========================================================================================================
@dataclass
class ChunkResult:
    """Rows of one chunk, with where and at what memory cost it ran."""

    rows: list[dict[str, Any]]
    worker: str
    peak_rss_mb: float
    elapsed_s: float
    cpu_s: float = 0.0


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, GenreKitError):
        return exc.message
    return f"{type(exc).__name__}: {exc}".strip()


def _file_facts(path: str) -> tuple[int | None, int | None, str | None]:
    try:
        st = os.stat(path)
    except OSError:
        return None, None, None
    try:
        digest = file_digest(path) if os.path.isfile(path) else None
    except OSError:  # unreadable (permissions): size and mtime still tell a later run if it changed
        digest = None
    return int(st.st_size), int(st.st_mtime_ns), digest


def _load(job: BatchJob, path: str, sr: int) -> tuple[np.ndarray, float]:
    """Decode ``path`` (or its middle ``crop_s`` window) at ``sr``; return it and the file's duration."""
    if job.crop_s is not None:
        total = info(path).duration_s
        if total > job.crop_s:
            y, _ = load(
                path,
                sr=sr,
                offset_s=(total - job.crop_s) / 2,
                duration_s=job.crop_s,
                max_duration_s=job.max_duration_s,
            )
            return y, total
    y, _ = load(path, sr=sr, max_duration_s=job.max_duration_s)
    return y, len(y) / sr


def _features_each(extractor: Any, signals: list[np.ndarray], sr: int) -> list[np.ndarray | BaseException]:
    """``extract_many`` on the group; when the batch fails, each signal alone so one bad file stays alone.

    Features that are not finite come back as the AudioError of :func:`check_finite_features`.
    """

    def checked(f: np.ndarray) -> np.ndarray | BaseException:
        try:
            return check_finite_features(f)
        except AudioError as exc:
            return exc

    try:
        out = extractor.extract_many(signals, sr)
        if len(out) == len(signals):
            return [checked(f) for f in out]
    except Exception:  # noqa: BLE001 - isolate below
        pass
    res: list[np.ndarray | BaseException] = []
    for y in signals:
        try:
            res.append(checked(extractor(y, sr)))
        except Exception as exc:  # noqa: BLE001 - one bad file becomes one error row
            res.append(exc)
    return res


def _proba_each(model: Any, feats: list[np.ndarray]) -> list[np.ndarray | BaseException]:
    """``predict_proba`` on all segments of a group at once, split back per file (per file on failure)."""
    try:
        p = np.asarray(model.predict_proba(np.concatenate(feats)), dtype=np.float64)
        return np.split(p, np.cumsum([len(f) for f in feats])[:-1])
    except Exception:  # noqa: BLE001 - isolate below
        pass
    res: list[np.ndarray | BaseException] = []
    for f in feats:
        try:
            res.append(np.asarray(model.predict_proba(f), dtype=np.float64))
        except Exception as exc:  # noqa: BLE001
            res.append(exc)
    return res


def _classify_rows(state: _WorkerState, group: list[dict[str, Any]], signals: list[np.ndarray]) -> None:
    """Fill the prediction fields of ``group`` rows (already holding facts) in place."""
    from genrekit.calibration import decide
    from genrekit.models.aggregate import aggregate_track

    clf, job = state.classifier, state.job
    threshold = clf.min_confidence if job.min_confidence is None else job.min_confidence
    feats = _features_each(clf.extractor, signals, clf.sr)
    ok = []
    for row, f in zip(group, feats, strict=True):
        if isinstance(f, BaseException):
            _fail(row, f)
        elif len(f) == 0:
            _fail(row, ModelError("the audio gave no segments to classify (too short?)"))
        else:
            ok.append((row, f))
    probas = _proba_each(clf.model, [f for _, f in ok]) if ok else []
    k = len(clf.classes_) if job.top_k <= 0 else min(job.top_k, len(clf.classes_))
    for (row, f), p in zip(ok, probas, strict=True):
        if isinstance(p, BaseException):
            _fail(row, p)
            continue
        try:
            track = aggregate_track(p, method=clf.aggregation)
        except Exception as exc:  # noqa: BLE001
            _fail(row, exc)
            continue
        order = np.argsort(-track, kind="stable")[:k]
        genre, _ = decide({clf.classes_[int(order[0])]: float(track[order[0]])}, threshold)
        row.update(
            status="ok",
            n_segments=len(f),
            genre=genre,
            confidence=round(float(track[order[0]]), 6),
            top_genres=[clf.classes_[int(i)] for i in order],
            top_probs=[round(float(track[i]), 6) for i in order],
        )


def _features_rows(
    state: _WorkerState, group: list[dict[str, Any]], signals: list[np.ndarray]
) -> list[dict[str, Any]]:
    """Rows of a features group: one per file (mean over segments) or one per segment."""
    ext, job = state.extractor, state.job
    out = []
    for row, y, f in zip(group, signals, _features_each(ext, signals, ext.sr), strict=True):
        if isinstance(f, BaseException):
            _fail(row, f)
            out.append(row)
        elif len(f) == 0:
            _fail(row, GenreKitError("the audio gave no segments (too short?)"))
            out.append(row)
        elif not job.per_segment:
            row.update(
                status="ok", n_segments=len(f), features=f.mean(axis=0, dtype=np.float64).astype(np.float32)
            )
            out.append(row)
        else:
            times = ext.segment_times(len(y), ext.sr)
            if len(times) != len(f):
                times = np.full((len(f), 2), np.nan)
            for i, (seg, (s, e)) in enumerate(zip(f, times, strict=True)):
                out.append(
                    {
                        **row,
                        "status": "ok",
                        "n_segments": len(f),
                        "segment": i,
                        "start_s": round(float(s), 3),
                        "end_s": round(float(e), 3),
                        "features": seg,
                    }
                )
    return out


def _fail(row: dict[str, Any], exc: BaseException) -> None:
    row.update(status="error", error=_error_text(exc))


def process_chunk(job: BatchJob, items: list[InputItem]) -> ChunkResult:
    """Compute the rows of ``items`` (the per-chunk task of every engine).

    Every item gives at least one row: ``status="ok"``, or ``status="error"`` with the reason. Files are
    decoded in groups of at most ``job.group_audio_s`` seconds; each group's features are computed with
    one ``extract_many`` call and its segments classified with one ``predict_proba`` call. A file's
    ``elapsed_s`` is its decode time plus its share (by samples) of the group's feature/model time.

    Raises
    ------
    GenreKitError
        Only when the model or extractor cannot be loaded in this worker.
    """
    t_chunk, cpu0 = time.perf_counter(), time.process_time()
    state = _state_for(job)
    sr = state.extractor.sr
    budget = max(1, int(job.group_audio_s * sr))
    rows_out: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []
    signals: list[np.ndarray] = []

    def flush() -> None:
        if not group:
            return
        t0 = time.perf_counter()
        if job.kind == "classify":
            _classify_rows(state, group, signals)
            done = group
        else:
            done = _features_rows(state, group, signals)
        dt = time.perf_counter() - t0
        n_total = sum(len(y) for y in signals) or 1
        share = {r["path"]: dt * len(y) / n_total for r, y in zip(group, signals, strict=True)}
        for r in done:
            r["elapsed_s"] = round(r["elapsed_s"] + share.get(r["path"], 0.0), 4)
        rows_out.extend(done)
        group.clear()
        signals.clear()

    for item in items:
        t0 = time.perf_counter()
        row: dict[str, Any] = {
            "path": item.path,
            "label": item.label,
            "model": state.model_id,
            "worker": worker_id(),
        }
        try:
            row["size"], row["mtime_ns"], row["hash"] = _file_facts(item.path)
            y, duration_s = _load(job, item.path, sr)
            row["duration_s"] = round(duration_s, 3)
            if job.kind == "classify":
                check_audible(y)  # a genre of silence would be a confident-looking guess
        except Exception as exc:  # noqa: BLE001 - one bad file becomes one error row
            _fail(row, exc)
            row["elapsed_s"] = round(time.perf_counter() - t0, 4)
            rows_out.append(row)
            continue
        row["elapsed_s"] = time.perf_counter() - t0
        if sum(len(s) for s in signals) + len(y) > budget:
            flush()
        group.append(row)
        signals.append(y)
    flush()
    by_path = {it.path: i for i, it in enumerate(items)}
    rows_out.sort(key=lambda r: (by_path[r["path"]], r.get("segment") or 0))
    return ChunkResult(
        rows_out, worker_id(), _peak_rss_mb(), time.perf_counter() - t_chunk, time.process_time() - cpu0
    )


# ========================================================================================================
# output store
# ========================================================================================================
def _schema(kind: str, per_segment: bool) -> Any:
    import pyarrow as pa

    cols = [
        ("path", pa.string()),
        ("label", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("hash", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("duration_s", pa.float64()),
        ("n_segments", pa.int32()),
    ]
    if kind == "classify":
        cols += [
            ("genre", pa.string()),
            ("confidence", pa.float64()),
            ("top_genres", pa.list_(pa.string())),
            ("top_probs", pa.list_(pa.float64())),
        ]
    else:
        if per_segment:
            cols += [("segment", pa.int32()), ("start_s", pa.float64()), ("end_s", pa.float64())]
        cols += [("features", pa.list_(pa.float32()))]
    cols += [("model", pa.string()), ("elapsed_s", pa.float64()), ("worker", pa.string())]
    return pa.schema(cols)


def rows_to_table(rows: list[dict[str, Any]], schema: Any) -> Any:
    """A pyarrow Table of ``rows`` with every column of ``schema`` (missing values are null)."""
    import pyarrow as pa

    arrays = []
    for f in schema:
        vals = [r.get(f.name) for r in rows]
        if pa.types.is_list(f.type) and pa.types.is_floating(f.type.value_type):
            vals = [
                None if v is None else np.asarray(v, dtype=f.type.value_type.to_pandas_dtype()) for v in vals
            ]
        arrays.append(pa.array(vals, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class _Done:
    size: int | None
    mtime_ns: int | None
    hash: str | None
    status: str
    label: str | None = None


def _part_files(out: Path) -> list[Path]:
    return sorted(p for p in out.glob(f"{PART_PREFIX}*.parquet") if p.name[len(PART_PREFIX) : -8].isdigit())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """The output directory: meta, lock, atomic part files and the index of what is done.

    Raises
    ------
    ConfigError
        The location cannot be written, is a file, is a non-empty folder that is not a batch output, is
        in use by another live run, or holds results of a different job.
    """

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(os.path.abspath(out))
        self._created = False
        self._locked = False
        self._next = 0
        self.parts_written = 0

    # ---- location and lock ------------------------------------------------------------------------
    def acquire(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ConfigError(
                "output exists and is not a folder; a batch output is a folder of parquet parts "
                "(give a new path, e.g. results.parquet, which becomes that folder)",
                source=out,
            )
        if out.is_dir():
            foreign = [
                p.name
                for p in out.iterdir()
                if p.name not in (META_NAME, LOCK_NAME) and not p.name.startswith((PART_PREFIX, ".part-"))
            ]
            if foreign and not (out / META_NAME).exists():
                raise ConfigError(
                    f"output folder is not empty and is not a genrekit batch output (it holds {foreign[0]!r}"
                    f"{' and more' if len(foreign) > 1 else ''}); give a new or empty folder",
                    source=out,
                )
        else:
            try:
                out.mkdir(parents=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the output folder: {exc.strerror or exc}", source=out
                ) from None
            self._created = True
        self._take_lock()
        for tmp in out.glob(".part-*.tmp"):  # left by a crashed run
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _take_lock(self) -> None:
        lock = self.out / LOCK_NAME
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    other = json.loads(lock.read_text())
                except (OSError, ValueError):
                    other = {}
                stale = other.get("host") == socket.gethostname() and not _pid_alive(
                    int(other.get("pid", -1))
                )
                if not stale:
                    raise ConfigError(
                        f"output is in use by another batch run (pid {other.get('pid', '?')} on "
                        f"{other.get('host', '?')}, started {other.get('started', '?')}); if no such run is "
                        f"alive, delete {lock}",
                        source=self.out,
                    ) from None
                with contextlib.suppress(OSError):
                    lock.unlink()
                continue
            except OSError as exc:
                raise ConfigError(
                    f"cannot write to the output folder: {exc.strerror or exc}", source=self.out
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self._locked = True
            return
        raise ConfigError("could not take the output lock", source=self.out)  # pragma: no cover

    def release(self, *, failed: bool = False) -> None:
        """Remove the lock (and the folder itself when this run created it and wrote nothing)."""
        if self._locked:
            with contextlib.suppress(OSError):
                (self.out / LOCK_NAME).unlink()
            self._locked = False
        if failed and self._created and not _part_files(self.out):
            for p in (self.out / META_NAME,):
                with contextlib.suppress(OSError):
                    p.unlink()
            with contextlib.suppress(OSError):
                self.out.rmdir()

    # ---- meta ---------------------------------------------------------------------------------------
    def open(self, signature: dict[str, Any], extra: dict[str, Any]) -> None:
        """Write ``_meta.json``, or check that an existing one describes the same job."""
        meta_path = self.out / META_NAME
        if meta_path.exists():
            meta = read_meta(self.out)
            old = meta.get("signature", {})
            if old != signature:
                diffs = sorted(k for k in set(old) | set(signature) if old.get(k) != signature.get(k))
                detail = "; ".join(
                    f"{k}: output has {old.get(k)!r}, this run {signature.get(k)!r}" for k in diffs
                )
                raise ConfigError(
                    f"output was written by a different job ({detail}); resume with the same command, or "
                    "give another --out",
                    source=self.out,
                )
        else:

            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "signature": signature,
                "genrekit_version": genrekit_version(),
                "created": _now(),
                **extra,
            }
            atomic_write_bytes(meta_path, json.dumps(meta, indent=2).encode())
        parts = _part_files(self.out)
        self._next = int(parts[-1].name[len(PART_PREFIX) : -8]) + 1 if parts else 0

    def index(self) -> dict[str, _Done]:
        """Latest ``(size, mtime_ns, hash, status)`` per path over all parts (later parts win)."""
        import pyarrow.parquet as pq

        done: dict[str, _Done] = {}
        for part in _part_files(self.out):
            try:
                t = pq.read_table(part, columns=["path", "size", "mtime_ns", "hash", "status", "label"])
            except Exception as exc:  # noqa: BLE001 - a damaged part: say which
                raise DatasetError(
                    f"cannot read part file: {exc}; delete it to redo its files", source=part
                ) from None
            cols = t.to_pydict()
            for p, s, m, h, st, lab in zip(
                cols["path"],
                cols["size"],
                cols["mtime_ns"],
                cols["hash"],
                cols["status"],
                cols["label"],
                strict=True,
            ):
                done[p] = _Done(s, m, h, st, lab)  # later parts supersede earlier ones
        return done

    def write_part(self, table: Any) -> Path:
        """Write one part atomically (temporary name, fsync, rename)."""
        import pyarrow.parquet as pq

        name = f"{PART_PREFIX}{self._next:05d}.parquet"
        final = self.out / name
        tmp = self.out / f".{name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pq.write_table(table, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self._next += 1
        self.parts_written += 1
        return final


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")



def read_meta(out: str | os.PathLike) -> dict[str, Any]:
    """The ``_meta.json`` of a batch output.

    Raises
    ------
    DatasetError
        No batch output there, or its meta file is unreadable or foreign.
    """
    path = Path(out) / META_NAME
    if not path.is_file():
        raise DatasetError(f"not a genrekit batch output (no {META_NAME})", source=out)
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"unreadable {META_NAME}: {exc}", source=out) from None
    if meta.get("format") != FORMAT:
        raise DatasetError(f"{META_NAME} is not a genrekit batch description", source=out)
    return meta


def read_results(out: str | os.PathLike, *, all_attempts: bool = False) -> Any:
    """All rows of a batch output as a DataFrame, one attempt per file (the latest), sorted by path.

    Parameters
    ----------
    out : path
        The output folder.
    all_attempts : bool
        Keep superseded rows too, with a ``part`` column saying which part each row came from.

    Returns
    -------
    pandas.DataFrame
        The columns of the job's schema (see ``docs/batch.md``). With ``per_segment`` features, one row
        per (path, segment).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = read_meta(out)
    sig = meta.get("signature", {})
    schema = _schema(sig.get("kind", "classify"), bool(sig.get("per_segment")))
    tables = []
    for part in _part_files(Path(out)):
        t = pq.read_table(part)
        t = t.append_column("part", pa.array([int(part.name[len(PART_PREFIX) : -8])] * len(t), pa.int64()))
        tables.append(t)
    ints = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}.get  # nullable: error rows
    if not tables:
        df = schema.empty_table().to_pandas(types_mapper=ints)
        return df.assign(part=pd.Series(dtype="Int64")) if all_attempts else df
    df = pa.concat_tables(tables, promote_options="default").to_pandas(types_mapper=ints)
    keys = ["path", "segment"] if "segment" in df.columns else ["path"]
    if not all_attempts:
        latest = df.groupby("path")["part"].transform("max")
        df = df[df["part"] == latest]
        df = df.drop_duplicates(subset=keys, keep="last").drop(columns="part")
    sort = keys + (["part"] if all_attempts else [])
    if "segment" in df.columns:
        df = df.assign(segment=df["segment"].fillna(-1))
    return df.sort_values(sort, kind="stable").reset_index(drop=True)


def read_features(out: str | os.PathLike) -> tuple[np.ndarray, Any, list[str]]:
    """The ``ok`` rows of a features output as a matrix.

    Returns
    -------
    X : np.ndarray, float32, shape (n_rows, dim)
    rows : pandas.DataFrame
        The other columns of those rows, in the same order.
    names : list of str
        The feature names.
    """
    meta = read_meta(out)
    if meta["signature"].get("kind") != "features":
        raise DatasetError("not a features output (written by `batch classify`)", source=out)
    df = read_results(out)
    df = df[df["status"] == "ok"].reset_index(drop=True)
    names = list(meta.get("feature_names", []))
    X = (
        np.stack(df["features"].to_numpy()).astype(np.float32)
        if len(df)
        else np.zeros((0, len(names)), np.float32)
    )
    return X, df.drop(columns="features"), names


# ========================================================================================================
# engines
# ========================================================================================================
def _chunks(items: Iterator[InputItem], size: int) -> Iterator[list[InputItem]]:
    chunk: list[InputItem] = []
    for it in items:
        chunk.append(it)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _serial(job: BatchJob, chunks: Iterator[list[InputItem]]) -> Iterator[ChunkResult]:
    restore = _limit_threads(job.threads)
    try:
        for chunk in chunks:
            yield process_chunk(job, chunk)
    finally:
        restore()


_POOL_JOB: BatchJob | None = None


def _pool_init(job: BatchJob) -> None:
    global _POOL_JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops the pool
    _POOL_JOB = job
    try:
        _state_for(job)
    except GenreKitError:
        pass  # reported by the first chunk, with its message
    _limit_threads(job.threads)


def _pool_chunk(items: list[InputItem]) -> ChunkResult:
    assert _POOL_JOB is not None
    return process_chunk(_POOL_JOB, items)


def _processes(
    job: BatchJob, chunks: Iterator[list[InputItem]], workers: int, max_in_flight: int
) -> Iterator[ChunkResult]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_pool_init,
        initargs=(job,),
    )
    pending: dict[Any, list[InputItem]] = {}
    try:
        for chunk in chunks:
            pending[ex.submit(_pool_chunk, chunk)] = chunk
            while len(pending) >= max_in_flight:
                yield from _collect(
                    pending, wait(pending, return_when=FIRST_COMPLETED).done, BrokenProcessPool
                )
        while pending:
            yield from _collect(pending, wait(pending, return_when=FIRST_COMPLETED).done, BrokenProcessPool)
    finally:
        procs = list(getattr(ex, "_processes", {}).values())
        ex.shutdown(wait=not pending, cancel_futures=True)
        if pending:  # interrupted or failed: do not wait for chunks in flight
            for p in procs:
                with contextlib.suppress(Exception):
                    p.terminate()


def _collect(pending: dict[Any, list[InputItem]], done: Iterable[Any], broken: type) -> Iterator[ChunkResult]:
    for fut in done:
        chunk = pending.pop(fut)
        try:
            yield fut.result()
        except broken:
            raise GenreKitError(
                f"a worker process died while processing a chunk of {len(chunk)} files starting with "
                f"{chunk[0].path} (out of memory, or a crash in a decoder; or, in a script, the "
                "multiprocessing `if __name__ == '__main__':` guard is missing); re-run the same command to "
                "resume, with --chunk-size 1 to isolate the file"
            ) from None


def _dask_prepare(job: BatchJob, sample_paths: list[str]) -> dict[str, Any]:
    """Run on every Dask worker before any work: load the model once and check the files are visible."""
    out: dict[str, Any] = {"genrekit": genrekit_version(), "error": None, "missing": []}
    try:
        _state_for(job)
    except Exception as exc:  # noqa: BLE001 - reported to the driver
        out["error"] = _error_text(exc)
    out["missing"] = [p for p in sample_paths if not os.path.exists(p)]
    return out


def _dask_chunk(job: BatchJob, items: list[InputItem]) -> ChunkResult:
    return process_chunk(job, items)


def _worker_environ() -> dict[str, Any]:
    """Dask's environment for new worker processes, without ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets it to 64 KiB so that workers hand freed memory back to the OS. Setting it also turns off
    glibc's dynamic mmap threshold, so every buffer over 128 KiB (decoded audio, spectrograms) is mapped
    and faulted in afresh: the same chunk of files cost 1.5x the CPU in a Dask worker with it, and the
    same as in-process without it (``docs/benchmarks.md``, Batch). The threads limits
    (``OMP_NUM_THREADS=1`` ...) are kept. A worker's memory is bounded by ``group_audio_s`` anyway.
    The value None is Dask's way to unset a variable; one set in this process's environment (by hand,
    or by an earlier default LocalCluster, which copies these variables into the parent's
    ``os.environ``) still wins, as Dask documents.
    """
    import dask
    import distributed  # noqa: F401 - registers the distributed.* defaults of dask.config

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env["MALLOC_TRIM_THRESHOLD_"] = None
    return env


@contextlib.contextmanager
def _dask_client(scheduler: str | None, dask_local: int | None, threads: int | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError("Dask runs need the distributed package: pip install 'dask[distributed]'") from None
    import logging

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise ConfigError(f"the Dask scheduler at {scheduler} has no workers (waited 60 s)") from None
            yield client
        finally:
            client.close()
        return
    try:
        import bokeh  # noqa: F401

        dashboard: str | None = ":0"
    except ImportError:
        dashboard = None
    import dask

    with dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}):
        cluster = LocalCluster(
            n_workers=dask_local,
            threads_per_worker=threads or 1,
            processes=True,
            dashboard_address=dashboard,
            silence_logs=logging.ERROR,
        )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _dask(
    client: Any, job: BatchJob, chunks: Iterator[list[InputItem]], max_in_flight: int
) -> Iterator[ChunkResult]:
    from distributed import as_completed

    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        KilledWorker = RuntimeError  # noqa: N806

    import uuid

    pending: dict[str, list[InputItem]] = {}
    futures: dict[str, Any] = {}
    ac = as_completed([], with_results=False)
    token = uuid.uuid4().hex[:10]
    n = 0

    def submit(chunk: list[InputItem]) -> None:
        nonlocal n
        fut = client.submit(_dask_chunk, job, chunk, pure=False, key=f"genrekit-batch-{token}-{n}")
        n += 1
        pending[fut.key] = chunk
        futures[fut.key] = fut
        ac.add(fut)

    def result(fut: Any) -> ChunkResult:
        futures.pop(fut.key, None)
        return _dask_result(fut, pending, KilledWorker)

    try:
        for chunk in chunks:
            submit(chunk)
            while len(pending) >= max_in_flight:
                yield result(next(ac))
        while pending:
            yield result(next(ac))
    finally:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(list(futures.values()))


def _error_row(item: InputItem, msg: str) -> dict[str, Any]:
    """An error row for a file the workers never reported on, with its size and modification time.

    A plain re-run then keeps the error, as for any other; ``--retry-errors`` or a changed file redoes it.
    """
    row: dict[str, Any] = {"path": item.path, "label": item.label, "status": "error", "error": msg}
    try:
        st = os.stat(item.path)
        row.update(size=int(st.st_size), mtime_ns=int(st.st_mtime_ns))
    except OSError:
        pass
    return row


def _dask_result(fut: Any, pending: dict[str, list[InputItem]], killed: type) -> ChunkResult:
    chunk = pending.pop(fut.key)
    try:
        res = fut.result()
    except killed:
        msg = (
            f"Dask workers died repeatedly on this chunk of {len(chunk)} files (out of memory, or a "
            "crash in a decoder); "
            "re-run with --retry-errors --chunk-size 1 to isolate the file"
        )
        res = ChunkResult(
            [_error_row(it, msg) for it in chunk],
            "?",
            float("nan"),
            0,
        )
    finally:
        fut.release()
    return res


# ========================================================================================================
# progress
# ========================================================================================================
@dataclass(frozen=True)
class BatchProgress:
    """A progress snapshot: files done in this run out of ``total`` to do, errors so far, speed, ETA."""

    done: int
    total: int
    errors: int
    elapsed_s: float

    @property
    def files_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.files_per_s
        return (self.total - self.done) / rate if rate > 0 else None

    def text(self) -> str:
        eta = self.eta_s
        eta_txt = "?" if eta is None else _hms(eta)
        return (
            f"{self.done}/{self.total} files, {self.files_per_s:.2f} files/s, ETA {eta_txt}, "
            f"{self.errors} error(s)"
        )


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _Progress:
    """Rich progress bar, periodic log lines, a user callback, or nothing."""

    def __init__(self, mode: bool | str | Callable[[BatchProgress], None], total: int, label: str) -> None:
        self.total, self.done, self.errors = total, 0, 0
        self.t0 = time.perf_counter()
        self.callback = mode if callable(mode) else None
        if mode == "auto":
            mode = "rich" if sys.stderr.isatty() else "log"
        self.mode = "rich" if mode is True else ("off" if mode is False else mode)
        self._last_log = 0.0
        self._bar: Any = None
        if self.mode == "rich":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "{task.fields[rate]} files/s  ETA {task.fields[eta]}  [red]{task.fields[errors]} errors"
                ),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total, rate="0.00", eta="?", errors=0)
            self._bar.start()
        elif self.mode == "log":
            print(f"{label}: {total} files to do", file=sys.stderr, flush=True)

    def snapshot(self) -> BatchProgress:
        return BatchProgress(self.done, self.total, self.errors, time.perf_counter() - self.t0)

    def advance(self, files: int, errors: int) -> None:
        self.done += files
        self.errors += errors
        snap = self.snapshot()
        if self.callback is not None:
            self.callback(snap)
        elif self._bar is not None:
            eta = snap.eta_s
            self._bar.update(
                self._task,
                completed=self.done,
                rate=f"{snap.files_per_s:.2f}",
                eta="?" if eta is None else _hms(eta),
                errors=self.errors,
            )
        elif self.mode == "log" and (time.perf_counter() - self._last_log > 30 or self.done >= self.total):
            self._last_log = time.perf_counter()
            print(snap.text(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _note(progress: Any, msg: str) -> None:
    if progress is False or callable(progress):
        return
    print(msg, file=sys.stderr, flush=True)


# ========================================================================================================
# running a job
# ========================================================================================================
@dataclass
class BatchResult:
    """What a batch run did.

    ``total`` counts distinct input files; ``skipped`` were already done in the output (of which
    ``previous_errors`` are error rows kept because ``retry_errors`` was off); ``processed`` = ``ok`` +
    ``errors`` were done by this run. ``ignored`` counts hidden or non-audio files of an input folder,
    ``duplicates`` paths listed more than once. ``cpu_s`` is the CPU time of the chunks in the workers
    (all threads of each worker process; model loading excluded), ``worker_peak_rss_mb`` the peak
    resident memory of each worker process.
    """

    out: Path
    kind: str
    engine: str
    total: int = 0
    skipped: int = 0
    previous_errors: int = 0
    processed: int = 0
    ok: int = 0
    errors: int = 0
    duplicates: int = 0
    ignored: int = 0
    parts: int = 0
    elapsed_s: float = 0.0
    audio_s: float = 0.0
    cpu_s: float = 0.0
    interrupted: bool = False
    dashboard: str | None = None
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    error_samples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files_per_s(self) -> float:
        return self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Wall-clock seconds per second of audio processed (below 1: faster than real time)."""
        return self.elapsed_s / self.audio_s if self.audio_s > 0 else float("nan")

    @property
    def remaining_errors(self) -> int:
        """Inputs whose latest row is an error (this run's and skipped ones)."""
        return self.errors + self.previous_errors

    def summary(self) -> str:
        parts = [f"{self.processed} file(s) processed ({self.ok} ok, {self.errors} error(s))"]
        if self.processed:
            parts.append(f"{self.files_per_s:.2f} files/s")
        if self.skipped:
            s = f"{self.skipped} already done"
            if self.previous_errors:
                s += f" ({self.previous_errors} of them errors; --retry-errors retries them)"
            parts.append(s)
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate path(s) listed once")
        if self.ignored:
            parts.append(f"{self.ignored} hidden/non-audio file(s) ignored")
        text = ", ".join(parts) + f" -> {self.out}"
        return ("interrupted: " + text + "; re-run the same command to resume") if self.interrupted else text


def _check_engine(
    workers: int, scheduler: str | None, dask_local: int | None, chunk_size: int
) -> tuple[str, int]:
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    if workers == -1:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ConfigError(f"workers must be >= 1 (or -1 for all cores), got {workers}")
    if scheduler is not None and dask_local is not None:
        raise ConfigError("give either a Dask scheduler address or --dask-local N, not both")
    if (scheduler is not None or dask_local is not None) and workers > 1:
        raise ConfigError("--workers is for local processes; on Dask the cluster's workers do the work")
    if dask_local is not None:
        if dask_local < 1:
            raise ConfigError(f"dask_local must be >= 1, got {dask_local}")
        return "dask-local", dask_local
    if scheduler is not None:
        if "://" not in scheduler:
            raise ConfigError(f"scheduler address must look like tcp://HOST:8786, got {scheduler!r}")
        return "dask", 0
    return ("serial", 1) if workers == 1 else ("processes", workers)


def _prepare(job: BatchJob) -> tuple[BatchJob, dict[str, Any], dict[str, Any], _WorkerState]:
    """Load the model/extractor in the driver (every error before any work): job, signature, meta extras."""
    if job.kind not in KINDS:
        raise ConfigError(f"unknown batch kind {job.kind!r}; valid: {', '.join(KINDS)}")
    if job.top_k < 0:
        raise ConfigError(f"top_k must be >= 0, got {job.top_k}")
    if job.crop_s is not None and job.crop_s <= 0:
        raise ConfigError(f"crop_s must be > 0, got {job.crop_s}")
    from genrekit.calibration import check_min_confidence

    check_min_confidence(job.min_confidence)
    if job.kind == "classify":
        model = job.model
        if model is not None and (os.sep in model or "/" in model or os.path.exists(model)):
            if not os.path.exists(model):
                raise ModelError("model bundle not found", source=model)
            model = os.path.abspath(model)
        job = BatchJob(**{**asdict(job), "model": model, "model_stamp": _bundle_stamp(model)})
        from genrekit.predict import load_model

        preloaded = load_model(model)
        names = [preloaded.extractor.name]
    else:
        from genrekit.features.registry import extractor_from_dict

        if not job.extractor:
            raise ConfigError("a features job needs an extractor")
        names = [job.extractor.get("name", "")]
        preloaded = None
        extractor_from_dict(job.extractor)  # unknown name -> ConfigError listing the valid ones
    job = BatchJob(**{**asdict(job), "plugins": _plugins_for(names)})
    state = _state_for(job, preloaded)
    if job.kind == "classify":
        sig = {
            "kind": "classify",
            "model": state.model_id,
            "top_k": job.top_k,
            "crop_s": job.crop_s,
            "min_confidence": job.min_confidence,
        }
        extra = {
            "labels": list(state.classifier.classes_),
            "model_source": job.model or "musicnn",
            "extractor": state.extractor.to_dict(),
        }
    else:
        sig = {
            "kind": "features",
            "extractor": state.extractor.to_dict(),
            "per_segment": job.per_segment,
            "crop_s": job.crop_s,
        }
        extra = {"feature_names": list(state.extractor.names), "model_id": state.model_id}
    return job, sig, extra, state


def _plan(
    source: InputSource, index: dict[str, _Done], retry_errors: bool, memo: dict[str, str | None]
) -> Iterator[tuple[InputItem, str]]:
    """Each distinct input with its decision: ``todo``, ``done`` (ok already) or ``failed`` (error kept)."""
    seen: set[str] = set()
    for item in source:
        if item.path in seen:
            yield item, "duplicate"
            continue
        seen.add(item.path)
        prev = index.get(item.path)
        if prev is None:
            yield item, "todo"
            continue
        try:
            st = os.stat(item.path)
            same = prev.size == st.st_size and prev.mtime_ns == st.st_mtime_ns
        except OSError:
            st, same = None, True  # gone now: keep what the output says about it
        if not same and prev.hash is not None:
            if item.path not in memo:
                try:
                    memo[item.path] = file_digest(item.path)
                except OSError:
                    memo[item.path] = None
            same = memo[item.path] == prev.hash
        if not same or (item.label or None) != (prev.label or None):  # the file, or its manifest label
            yield item, "todo"
        elif prev.status == "ok":
            yield item, "done"
        else:
            yield item, "todo" if retry_errors else "failed"


def run_batch(
    source: str | os.PathLike,
    out: str | os.PathLike,
    job: BatchJob,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    dask_local: int | None = None,
    chunk_size: int = 32,
    max_in_flight: int | None = None,
    retry_errors: bool = False,
    extensions: Iterable[str] = AUDIO_EXTENSIONS,
    progress: bool | str | Callable[[BatchProgress], None] = False,
) -> BatchResult:
    """Run ``job`` over every file of ``source`` into the output folder ``out``, resuming what is there.

    Parameters
    ----------
    source : path
        Folder, manifest ``.csv`` or text list of paths (see :class:`InputSource`).
    out : path
        Output folder (created); see the module docstring for its layout and the resume rule.
    job : BatchJob
    workers : int
        Local processes (1: in this process; -1: all cores).
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``).
    dask_local : int or None
        Start a Dask ``LocalCluster`` with this many single-threaded workers for the run.
    chunk_size : int
        Files per task (and per part file).
    max_in_flight : int or None
        Tasks submitted but not finished at once (default twice the number of workers); bounds memory.
    retry_errors : bool
        Redo files whose latest row is an error.
    extensions : iterable of str
        Audio extensions taken from a folder.
    progress : bool, "auto", "rich", "log" or callable
        Progress display on stderr, or a function called with a :class:`BatchProgress` after each chunk.

    Returns
    -------
    BatchResult

    Raises
    ------
    DatasetError
        The input does not exist or names no file.
    ConfigError
        Bad options; the output cannot be written, is foreign, locked, or holds another job's results; an
        unknown extractor; Dask workers that cannot load the model or see the files.
    ModelError
        The model cannot be loaded or does not fit its extractor.
    KeyboardInterrupt
        Re-raised after the finished chunks are safely written.
    """
    engine, n_workers = _check_engine(workers, scheduler, dask_local, chunk_size)
    store = ResultStore(out)
    inputs = InputSource(source, extensions=extensions, exclude=[store.out])
    store.acquire()
    result = BatchResult(out=store.out, kind=job.kind, engine=engine)
    started = False
    try:
        if next(iter(inputs), None) is None:
            what = (
                f"no audio files (extensions {', '.join(sorted(inputs.extensions))})"
                if inputs.kind == "folder"
                else "no files"
            )
            raise DatasetError(f"the input lists {what}; nothing to do", source=inputs.path)
        job, sig, extra, state = _prepare(job)
        store.open(sig, extra)
        index = store.index()
        memo: dict[str, str | None] = {}
        counts = {"todo": 0, "done": 0, "failed": 0, "duplicate": 0}
        sample: list[str] = []
        for item, decision in _plan(inputs, index, retry_errors, memo):
            counts[decision] += 1
            if decision == "todo" and len(sample) < 3:
                sample.append(item.path)
        result.total = counts["todo"] + counts["done"] + counts["failed"]
        result.skipped = counts["done"] + counts["failed"]
        result.previous_errors = counts["failed"]
        result.duplicates = counts["duplicate"]
        result.ignored = inputs.ignored
        started = True
        if counts["todo"] == 0:
            return result
        todo = (it for it, d in _plan(inputs, index, retry_errors, memo) if d == "todo")
        _execute(
            job,
            todo,
            store,
            result,
            counts["todo"],
            engine,
            n_workers,
            scheduler,
            chunk_size,
            max_in_flight,
            progress,
            sample,
        )
        return result
    except KeyboardInterrupt:
        result.interrupted = True
        raise
    finally:
        store.release(failed=not started)


def _execute(
    job: BatchJob,
    todo: Iterator[InputItem],
    store: ResultStore,
    result: BatchResult,
    n_todo: int,
    engine: str,
    n_workers: int,
    scheduler: str | None,
    chunk_size: int,
    max_in_flight: int | None,
    progress: Any,
    sample: list[str],
) -> None:
    schema = _schema(job.kind, job.per_segment)
    stop_after = int(os.environ.get(STOP_AFTER_ENV, "0") or 0)
    t0 = time.perf_counter()
    chunks = _chunks(todo, chunk_size)
    label = f"batch {job.kind}"
    with contextlib.ExitStack() as stack:
        if engine == "serial":
            results = _serial(job, chunks)
        elif engine == "processes":
            results = _processes(job, chunks, n_workers, max_in_flight or 2 * n_workers)
        else:
            client = stack.enter_context(
                _dask_client(scheduler, n_workers if engine == "dask-local" else None, job.threads)
            )
            result.dashboard = _dashboard(client)
            _note(
                progress,
                f"Dask: {len(client.scheduler_info().get('workers', {}))} worker(s)"
                + (f", dashboard {result.dashboard}" if result.dashboard else ""),
            )
            _dask_preflight(client, job, sample)
            n_dask = max(1, len(client.scheduler_info().get("workers", {})))
            results = _dask(client, job, chunks, max_in_flight or 2 * n_dask)
        stack.enter_context(contextlib.closing(results))
        bar = _Progress(progress, n_todo, label)
        stack.callback(bar.close)
        stack.callback(lambda: setattr(result, "elapsed_s", time.perf_counter() - t0))
        for res in results:
            rows = res.rows
            store.write_part(rows_to_table(rows, schema))
            result.parts += 1
            result.cpu_s += res.cpu_s
            files = {r["path"]: r for r in rows}
            n_err = sum(1 for r in files.values() if r.get("status") != "ok")
            result.processed += len(files)
            result.errors += n_err
            result.ok += len(files) - n_err
            result.audio_s += sum(
                r.get("duration_s") or 0.0 for r in files.values() if r.get("status") == "ok"
            )
            for r in files.values():
                if r.get("status") != "ok" and len(result.error_samples) < 50:
                    result.error_samples.append((r["path"], r.get("error") or ""))
            if res.worker != "?":
                result.worker_peak_rss_mb[res.worker] = max(
                    res.peak_rss_mb, result.worker_peak_rss_mb.get(res.worker, 0.0)
                )
            bar.advance(len(files), n_err)
            if stop_after and store.parts_written >= stop_after:
                if os.environ.get(STOP_SIGNAL_ENV, "").upper() == "KILL":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise KeyboardInterrupt


def _dashboard(client: Any) -> str | None:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        if client.cluster is not None:  # a LocalCluster without bokeh has no dashboard
            return None
    try:
        return str(client.dashboard_link)
    except Exception:  # noqa: BLE001
        return None


def _dask_preflight(client: Any, job: BatchJob, sample_paths: list[str]) -> None:
    """Load the model on every worker (one pinned task each) and check they see the files, before any work."""
    workers = list(client.scheduler_info().get("workers", {}))
    futures = [
        client.submit(_dask_prepare, job, sample_paths, workers=[w], allow_other_workers=False, pure=False)
        for w in workers
    ]
    problems = []
    for addr, fut in zip(workers, futures, strict=True):
        try:
            a = fut.result()
        except Exception as exc:  # noqa: BLE001 - e.g. genrekit not importable on that worker
            problems.append(
                f"{addr}: cannot run genrekit ({type(exc).__name__}: {exc}); install the same genrekit "
                "version on every worker"
            )
            continue
        finally:
            fut.release()
        if a.get("error"):
            problems.append(f"{addr}: cannot load the model: {a['error']}")
        if a.get("missing"):
            problems.append(
                f"{addr}: cannot see {a['missing'][0]} (files must be on a path every worker sees)"
            )
    if problems:
        raise ConfigError("Dask workers are not ready: " + "; ".join(problems))


# ========================================================================================================
# the two jobs
# ========================================================================================================
def classify_batch(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str | os.PathLike | None = None,
    top_k: int = 3,
    crop_s: float | None = None,
    min_confidence: float | None = None,
    **kwargs: Any,
) -> BatchResult:
    """Classify every file of ``source`` into ``out`` (see :func:`run_batch` for the other options).

    Rows: ``path, label, size, mtime_ns, hash, status, error, duration_s, n_segments, genre, confidence,
    top_genres, top_probs, model, elapsed_s, worker``. With ``min_confidence``, ``genre`` is ``"unsure"``
    where ``confidence`` is below it (``top_genres`` still starts with the most probable genre).
    """
    job = BatchJob(
        "classify",
        model=None if model is None else str(model),
        top_k=top_k,
        crop_s=crop_s,
        min_confidence=min_confidence,
        **_job_kwargs(kwargs),
    )
    return run_batch(source, out, job, **kwargs)


def features_batch(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    extractor: str = "handcrafted",
    options: dict[str, Any] | None = None,
    per_segment: bool = False,
    crop_s: float | None = None,
    **kwargs: Any,
) -> BatchResult:
    """Extract features of every file of ``source`` into ``out`` (see :func:`run_batch` for the options).

    One row per file with the mean over its segments in ``features`` and ``n_segments``, or with
    ``per_segment`` one row per segment (``segment, start_s, end_s, features``).
    """
    from genrekit.features.registry import get_extractor

    ext = get_extractor(extractor, **(options or {}))
    job = BatchJob(
        "features", extractor=ext.to_dict(), per_segment=per_segment, crop_s=crop_s, **_job_kwargs(kwargs)
    )
    return run_batch(source, out, job, **kwargs)


def _job_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the job options (not engine options) out of ``kwargs``."""
    return {k: kwargs.pop(k) for k in ("max_duration_s", "group_audio_s", "threads") if k in kwargs}
