"""Running a batch job: plan what is left to do, run it on an engine, and summarise the result."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genrekit.audio import check_crop, file_digest
from genrekit.batch.engines import (
    _chunks,
    _dashboard,
    _dask,
    _dask_client,
    _dask_preflight,
    _processes,
    _serial,
)
from genrekit.batch.job import (
    KINDS,
    STOP_AFTER_ENV,
    STOP_SIGNAL_ENV,
    BatchJob,
    _bundle_stamp,
    _plugins_for,
    _state_for,
    _WorkerState,
)
from genrekit.batch.progress import BatchProgress, _note, _Progress
from genrekit.batch.store import ResultStore, _Done, _schema, rows_to_table
from genrekit.config import AUDIO_EXTENSIONS
from genrekit.data.sources import InputItem, InputSource
from genrekit.errors import ConfigError, DatasetError, ModelError
from genrekit.pretrained import DEFAULT_MODEL


# ========================================================================================================
# running a job
# ========================================================================================================
@dataclass
class BatchResult:
    """What a batch run did: the counts of this run and of the output it resumed."""

    #: The output folder (see the module docstring for its layout).
    out: Path
    #: The job's kind: ``"classify"`` or ``"features"``.
    kind: str
    #: How chunks ran: ``"serial"``, ``"processes"``, ``"dask"`` or ``"dask-local"``.
    engine: str
    #: Distinct input files.
    total: int = 0
    #: Inputs already done in the output, left alone ...
    skipped: int = 0
    #: ... of which error rows, kept because ``retry_errors`` was off.
    previous_errors: int = 0
    #: Inputs done by this run: ``ok`` + ``errors``.
    processed: int = 0
    ok: int = 0
    errors: int = 0
    #: Paths listed more than once (done once).
    duplicates: int = 0
    #: Hidden or non-audio files of an input folder.
    ignored: int = 0
    #: Result parts (chunks) written by this run.
    parts: int = 0
    #: Wall-clock time of the run, s.
    elapsed_s: float = 0.0
    #: Audio decoded by this run's ok rows, s.
    audio_s: float = 0.0
    #: CPU time of the chunks in the workers (all threads of each worker process; model loading excluded).
    cpu_s: float = 0.0
    #: Stopped early (Ctrl-C); the same command resumes.
    interrupted: bool = False
    #: The Dask dashboard's address, when there is one.
    dashboard: str | None = None
    #: Peak resident memory of each worker process, MB.
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    #: (path, error) of the first 50 failed inputs.
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
    check_crop(job.crop_s)
    from genrekit.models.calibrated import check_min_confidence

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
            # segments analysed per file (the predict path's sampling; an output of every segment differs)
            "max_segments": state.classifier.max_segments,
        }
        extra = {
            "labels": list(state.classifier.classes_),
            "model_source": job.model or DEFAULT_MODEL,
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


def _check_not_empty(inputs: InputSource) -> None:
    """Refuse an input that names no file (before the output is touched)."""
    if next(iter(inputs), None) is None:
        what = (
            f"no audio files (extensions {', '.join(sorted(inputs.extensions))})"
            if inputs.kind == "folder"
            else "no files"
        )
        raise DatasetError(f"the input lists {what}; nothing to do", source=inputs.path)


def _tally(plan: Iterable[tuple[InputItem, str]], result: BatchResult) -> tuple[int, list[str]]:
    """Count the plan's decisions into ``result``; return the number to do and up to 3 of their paths."""
    counts = {"todo": 0, "done": 0, "failed": 0, "duplicate": 0}
    sample: list[str] = []
    for item, decision in plan:
        counts[decision] += 1
        if decision == "todo" and len(sample) < 3:
            sample.append(item.path)
    result.total = counts["todo"] + counts["done"] + counts["failed"]
    result.skipped = counts["done"] + counts["failed"]
    result.previous_errors = counts["failed"]
    result.duplicates = counts["duplicate"]
    return counts["todo"], sample


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
        _check_not_empty(inputs)
        job, sig, extra, _ = _prepare(job)
        store.open(sig, extra)
        index = store.index()
        memo: dict[str, str | None] = {}
        n_todo, sample = _tally(_plan(inputs, index, retry_errors, memo), result)
        result.ignored = inputs.ignored
        started = True
        if n_todo == 0:
            return result
        todo = (it for it, d in _plan(inputs, index, retry_errors, memo) if d == "todo")
        engine_args = (engine, n_workers, scheduler, chunk_size, max_in_flight)
        _execute(job, todo, store, result, n_todo, *engine_args, progress, sample)
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
