"""CPU cost of one batch chunk in-process against in a Dask worker, with and without Dask's worker settings.

    python benchmarks/bench_dask_chunk.py [--model BUNDLE | --model musicnn] [--files DIR] [--chunks 3]

Runs :func:`genrekit.batch.process_chunk` on the same chunks of 8 files: in the main thread, in a thread
pool thread, and in a one-worker ``LocalCluster`` started with Dask's default worker environment
(``MALLOC_TRIM_THRESHOLD_=65536``) and without it, each with Dask's profiler on and off. Prints the mean
wall and CPU seconds per chunk, the first chunk of each setting left out (warm-up). ``--files`` defaults
to the clips ``bench_batch.py`` synthesizes; ``--model`` to the hand-crafted bundle it trains.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DATA = "/tmp/genrekit-bench-batch"


def main() -> None:
    import logging

    import dask
    from distributed import Client, LocalCluster

    from genrekit.batch import BatchJob, InputItem, process_chunk
    from genrekit.batch.job import _limit_threads

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=f"{DATA}/handcrafted-logreg", help="bundle path, or musicnn")
    ap.add_argument("--files", default=f"{DATA}/corpus-30s")
    ap.add_argument("--chunks", type=int, default=3, help="chunks of 8 files per setting (first: warm-up)")
    args = ap.parse_args()
    files = sorted(glob.glob(f"{args.files}/**/*.wav", recursive=True))[: 8 * args.chunks]
    if len(files) < 16:
        raise SystemExit(f"need at least 16 wav files under {args.files} (run bench_batch.py first)")
    job = BatchJob(kind="classify", model=None if args.model == "musicnn" else args.model, threads=1)
    chunks = [[InputItem(f) for f in files[i : i + 8]] for i in range(0, len(files), 8)]

    def show(label: str, call: Callable[[list[Any]], Any]) -> None:
        rs = [call(c) for c in chunks][1:]
        wall = statistics.mean(r.elapsed_s for r in rs)
        cpu = statistics.mean(r.cpu_s for r in rs)
        print(f"{label:44} wall/chunk {wall:6.2f} s  cpu/chunk {cpu:6.2f} s", flush=True)

    process_chunk(job, chunks[0][:1])  # load the model (and torch) before limiting threads
    _limit_threads(1)
    show("main thread", lambda c: process_chunk(job, c))
    with ThreadPoolExecutor(1) as ex:
        show("thread pool thread", lambda c: ex.submit(process_chunk, job, c).result())
    default_env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    for trim in (True, False):
        env = dict(default_env) if trim else {**default_env, "MALLOC_TRIM_THRESHOLD_": None}
        for profile in (True, False):
            cfg = {"distributed.worker.profile.enabled": profile, "distributed.nanny.pre-spawn-environ": env}
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # a LocalCluster copies it into os.environ
            onoff = {True: "on", False: "off"}
            label = f"dask worker, malloc trim {onoff[trim]}, profiler {onoff[profile]}"
            with (
                dask.config.set(cfg),
                LocalCluster(
                    n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
                ) as lc,
                Client(lc) as cl,
            ):
                show(label, lambda c, cl=cl: cl.submit(process_chunk, job, c, pure=False).result())


if __name__ == "__main__":
    main()
