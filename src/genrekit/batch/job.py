"""A batch job and the work of one chunk in a worker: load the model once, decode, classify or extract."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.audio import file_digest, load_crop
from genrekit.config import MAX_DURATION_S
from genrekit.data.sources import InputItem
from genrekit.errors import AudioError, GenreKitError
from genrekit.files import to_jsonable

KINDS: tuple[str, ...] = ("classify", "features")


#: Test hook: after this many part files, the run stops as if interrupted (Ctrl-C), or is SIGKILLed when
#: ``GENREKIT_BATCH_STOP_SIGNAL=KILL``.
STOP_AFTER_ENV = "GENREKIT_BATCH_STOP_AFTER_CHUNKS"


STOP_SIGNAL_ENV = "GENREKIT_BATCH_STOP_SIGNAL"


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
        classify: an absolute bundle path or a pretrained name; ``None`` for the default (``gtzan``).
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


def _load(state: _WorkerState, path: str) -> tuple[Any, float]:
    """Decode ``path`` (or its middle ``crop_s`` window); return it and the file's duration.

    classify: as :meth:`Classifier.predict` reads it (:meth:`Classifier.decode`: a long file gives only
    the windows of its sampled segments, a :class:`~genrekit.predict.SampledAudio`); features: every
    sample, at the extractor's rate. ``len()`` of what is returned counts the samples decoded.
    """
    job = state.job
    if state.classifier is not None:
        y, _, total = state.classifier.decode(path, crop_s=job.crop_s, max_duration_s=job.max_duration_s)
    else:
        y, _, total = load_crop(path, job.crop_s, sr=state.extractor.sr, max_duration_s=job.max_duration_s)
    return y, total


def _classify_rows(state: _WorkerState, group: list[dict[str, Any]], signals: list[Any]) -> None:
    """Fill the prediction fields of ``group`` rows (already holding facts) in place.

    The rows come from :meth:`Classifier.predict_batch` on what :meth:`Classifier.decode` read: the
    predict path itself, with the group's features in one batched call.
    """
    clf, job = state.classifier, state.job
    k = len(clf.classes_) if job.top_k <= 0 else min(job.top_k, len(clf.classes_))
    preds = clf.predict_batch(signals, clf.sr, min_confidence=job.min_confidence)
    for row, pred in zip(group, preds, strict=True):
        if isinstance(pred, BaseException):
            _fail(row, pred)
            continue
        top = pred.top_k(k)
        row.update(
            status="ok",
            n_segments=len(pred.segments),
            genre=pred.genre,
            confidence=pred.confidence,
            top_genres=[g for g, _ in top],
            top_probs=[p for _, p in top],
        )


def _features_rows(
    state: _WorkerState, group: list[dict[str, Any]], signals: list[np.ndarray]
) -> list[dict[str, Any]]:
    """Rows of a features group: one per file (mean over segments) or one per segment."""
    from genrekit.predict import extract_each

    ext, job = state.extractor, state.job
    out = []
    for row, y, f in zip(group, signals, extract_each(ext, signals), strict=True):
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


def _check_min_duration(y: np.ndarray, sr: int, extractor: Any) -> None:
    """Refuse audio shorter than the extractor's minimum (as the predict path does)."""
    if len(y) / sr < extractor.min_duration_s:
        raise AudioError(
            f"too short: {len(y) / sr:.3g} s of audio; the {extractor.name} features need at least "
            f"{extractor.min_duration_s:.2f} s"
        )


def _fail(row: dict[str, Any], exc: BaseException) -> None:
    row.update(status="error", error=_error_text(exc))


def process_chunk(job: BatchJob, items: list[InputItem]) -> ChunkResult:
    """Compute the rows of ``items`` (the per-chunk task of every engine).

    Every item gives at least one row: ``status="ok"``, or ``status="error"`` with the reason. Files are
    decoded in groups of at most ``job.group_audio_s`` seconds of decoded audio (a long file classified
    from its sampled windows counts those); each group is classified with one
    :meth:`Classifier.predict_batch` call (features in one ``extract_many`` call, segments in one
    ``predict_proba`` call), or its features extracted with one ``extract_many`` call. A file's
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
    signals: list[Any] = []  # np.ndarray, or SampledAudio (classify)

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
            y, duration_s = _load(state, item.path)
            row["duration_s"] = round(duration_s, 3)
            if job.kind == "features":
                _check_min_duration(y, sr, state.extractor)
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
