"""The engines that run chunks: serial, a process pool, a local Dask cluster, or a Dask scheduler."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator
from typing import Any

from genrekit.batch.job import BatchJob, ChunkResult, _error_text, _limit_threads, _state_for, process_chunk
from genrekit.config import genrekit_version
from genrekit.data.sources import InputItem
from genrekit.errors import ConfigError, GenreKitError


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
