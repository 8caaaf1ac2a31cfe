"""Batch overhead: CPU seconds per file of ``run_batch`` against a warm ``Classifier.predict`` loop.

    python benchmarks/bench_batch_overhead.py [--data /work/shared/data/gtzan_audio] [--n 40]
                                              [--model gtzan] [--repeats 3] [--threads 1]
                                              [--chunk-size 20] [--json out.json]

Both sides classify the same files in this process with the same model object (loaded once, warmed
by one prediction) and the same thread limit (batch's ``threads``, default 1, applied to the single
loop too): the single side calls ``Classifier.predict(path)`` file after file; the batch side runs
``run_batch`` on the serial engine into a fresh output (decode, file facts and digest, grouped
``Classifier.predict_batch``, parquet part files). CPU time is ``time.process_time`` (all threads) for
the loop and the workers' chunk CPU (``BatchResult.cpu_s``, model loading excluded) for batch; the
runs alternate (single, batch, single, batch, ...) and the lowest of ``--repeats`` of each is kept.
The batch rows are checked against the single predictions (same genres, probabilities within 1e-6).

Target (issue 17): batch CPU s/file <= 1.15 x the single loop's.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 1.15


def pick_files(data: Path, n: int) -> list[Path]:
    """``n`` clips of the manifest, genres interleaved (any prefix is balanced)."""
    with open(data / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_label: dict[str, list[Path]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(data / r["path"])
    order = [p for group in zip(*by_label.values(), strict=False) for p in group]
    return order[:n]


def limit_threads(n: int) -> None:
    """Hold BLAS/OpenMP and torch to ``n`` threads in this process, as a batch worker with ``threads=n``."""
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    torch.set_num_threads(n)


def add_run_args(ap: argparse.ArgumentParser, n: int) -> None:
    """Options shared with ``bench_batch_long.py``: data, files, model, repeats, threads, json."""
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/gtzan_audio"))
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--model", default="gtzan", help="pretrained name or bundle path")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)


def print_cpu() -> dict[str, Any]:
    """Print the CPU model and its vector extensions (and torch's kernels); return the report."""
    from genrekit.features.musicnn.kernels import cpu_report

    cpu = cpu_report()
    flags = " ".join(cpu["flags"]) or "unknown"
    print(f"CPU: {cpu['model']}, {cpu['cpus']} cores; vector extensions: {flags} "
          f"(torch {cpu['torch']}, capability {cpu['capability']})", flush=True)  # fmt: skip
    return cpu


def single(clf: Any, files: list[Path]) -> tuple[float, float, dict[str, Any]]:
    """CPU s/file, wall s/file and the predictions of ``clf.predict`` on each file in turn."""
    preds = {}
    c0, t0 = time.process_time(), time.perf_counter()
    for f in files:
        preds[str(f)] = clf.predict(f)
    return (time.process_time() - c0) / len(files), (time.perf_counter() - t0) / len(files), preds


def batched(
    listing: Path, out: Path, model: str | None, threads: int, chunk_size: int
) -> tuple[float, float, Path]:
    """CPU s/file (chunk CPU), wall s/file of a serial ``run_batch`` into ``out`` (fresh)."""
    from genrekit.batch import BatchJob, run_batch

    shutil.rmtree(out, ignore_errors=True)
    job = BatchJob("classify", model=model, top_k=0, threads=threads)
    t0 = time.perf_counter()
    res = run_batch(listing, out, job, chunk_size=chunk_size)
    wall = time.perf_counter() - t0
    if res.errors:
        raise SystemExit(f"batch gave {res.errors} error row(s): {res.error_samples[:3]}")
    return res.cpu_s / res.processed, wall / res.processed, out


def check_rows(out: Path, preds: dict[str, Any]) -> None:
    from genrekit.batch import read_results

    for r in read_results(out).itertuples():
        p = preds[r.path]
        want = list(p.probabilities.items())
        if r.genre != p.genre or list(r.top_genres) != [g for g, _ in want]:
            raise SystemExit(f"{r.path}: batch says {r.genre}, predict says {p.genre}")
        if not np.allclose(r.top_probs, [q for _, q in want], atol=1e-6):
            raise SystemExit(f"{r.path}: batch and predict probabilities differ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(ap, n=40)
    ap.add_argument("--chunk-size", type=int, default=20)
    args = ap.parse_args()

    from genrekit.predict import load_model

    cpu = print_cpu()
    files = pick_files(args.data, args.n)
    limit_threads(args.threads)
    clf = load_model(args.model)
    clf.predict(files[0])  # warm: first-call costs are not part of either side
    work = Path(tempfile.mkdtemp(prefix="genrekit-bench-overhead-"))
    try:
        listing = work / "files.txt"
        listing.write_text("".join(f"{f}\n" for f in files))
        model = None if args.model == "gtzan" else args.model
        s_cpu, s_wall, b_cpu, b_wall = [], [], [], []
        for i in range(args.repeats):
            c, w, preds = single(clf, files)
            s_cpu.append(c)
            s_wall.append(w)
            c, w, out = batched(listing, work / f"out-{i}", model, args.threads, args.chunk_size)
            check_rows(out, preds)
            b_cpu.append(c)
            b_wall.append(w)
            print(f"repeat {i + 1}: single {s_cpu[-1]:.3f} CPU s/file, batch {b_cpu[-1]:.3f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = min(b_cpu) / min(s_cpu)
    result = {
        "files": len(files),
        "model": args.model,
        "threads": args.threads,
        "single_cpu_s_per_file": min(s_cpu),
        "batch_cpu_s_per_file": min(b_cpu),
        "single_wall_s_per_file": min(s_wall),
        "batch_wall_s_per_file": min(b_wall),
        "ratio": ratio,
        "cpu": cpu,
    }
    print(
        f"\n{len(files)} files, model {args.model}, {args.threads} thread(s), chunk size {args.chunk_size}\n"
        f"single Classifier.predict: {min(s_cpu):.3f} CPU s/file ({min(s_wall):.3f} wall s/file)\n"
        f"batch (serial run_batch):  {min(b_cpu):.3f} CPU s/file ({min(b_wall):.3f} wall s/file)\n"
        f"batch / single CPU per file = {ratio:.3f} (target <= {TARGET}): "
        f"{'ok' if ratio <= TARGET else 'OVER'}\n"
        "rows: same genres and probabilities (1e-6) as the single predictions"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    sys.exit(0 if ratio <= TARGET else 1)


if __name__ == "__main__":
    main()
