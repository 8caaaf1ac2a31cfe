"""Batch throughput: files/s and real-time factor for serial, local processes and a Dask LocalCluster.

    python benchmarks/bench_batch.py [--n 200] [--duration-s 30] [--models musicnn,handcrafted]
                                     [--engines serial,processes,dask] [--workers 2] [--chunk-size 8]
                                     [--data /tmp/genrekit-bench-batch] [--json results.json]

Synthesizes ``n`` clips of ``duration_s`` (genrekit.synth, cached in ``--data``), trains a small
hand-crafted bundle (logreg on 4 x 10 s clips per genre) and classifies the clips with each model on
each engine into a fresh output, each run in a fresh Python process (cold, like a CLI run).

Reported per run: wall time (start-up included: spawning workers, imports, loading the model),
files/s, real-time factor (wall seconds per second of audio), steady files/s (after the first chunk
finished, i.e. without start-up), CPU seconds per file summed over workers, and the peak RSS of each
worker process. The rows of every engine are checked against the serial run (same genres,
probabilities within 1e-6). The load average is printed: on a shared machine, wall-clock speed-ups
also measure the neighbours.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def corpus(data: Path, n: int, duration_s: float) -> Path:
    """Write (or reuse) ``n`` synthesized clips and a text list of their paths; return the list."""
    from genrekit.synth import write_corpus

    folder = data / f"corpus-{duration_s:g}s"
    listing = data / f"list-{n}-{duration_s:g}s.txt"
    per_genre = math.ceil(n / 10)
    wavs = sorted(folder.glob("*/*.wav"))
    if len(wavs) < per_genre * 10:
        t0 = time.perf_counter()
        wavs = write_corpus(folder, per_genre=per_genre, duration_s=duration_s, seed=0, workers=2)
        print(
            f"synthesized {len(wavs)} clips of {duration_s:g} s in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    # interleave genres so that any prefix is balanced
    by_genre: dict[str, list[Path]] = {}
    for w in sorted(wavs):
        by_genre.setdefault(w.parent.name, []).append(w)
    order = [p for group in zip(*by_genre.values(), strict=False) for p in group]
    listing.write_text("".join(f"{p}\n" for p in order[:n]))
    return listing


def handcrafted_bundle(data: Path) -> Path:
    from genrekit.synth import write_corpus
    from genrekit.training import train

    out = data / "handcrafted-logreg"
    if (out / "bundle.json").exists():
        return out
    t0 = time.perf_counter()
    small = data / "train-10s"
    write_corpus(small, per_genre=4, duration_s=10.0, seed=1, workers=2)
    train(small, features="handcrafted", model="logreg", test_size=0.0, out=out, workers=2)
    print(f"trained the hand-crafted bundle in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def run(
    listing: Path, out: Path, model: str | None, engine: str, workers: int, chunk_size: int
) -> dict[str, Any]:
    from genrekit.batch import classify_batch

    shutil.rmtree(out, ignore_errors=True)
    ticks: list[tuple[float, int]] = []
    kw: dict[str, Any] = {"serial": {}, "processes": {"workers": workers}, "dask": {"dask_local": workers}}[
        engine
    ]
    t0 = time.perf_counter()
    res = classify_batch(
        listing,
        out,
        model=model,
        chunk_size=chunk_size,
        progress=lambda p: ticks.append((time.perf_counter(), p.done)),
        **kw,
    )
    wall = time.perf_counter() - t0
    (t_first, n_first), (t_last, n_last) = ticks[0], ticks[-1]
    steady = (n_last - n_first) / (t_last - t_first) if t_last > t_first else float("nan")
    return {
        "engine": engine if engine == "serial" else f"{engine} x{workers}",
        "files": res.processed,
        "errors": res.errors,
        "wall_s": wall,
        "files_per_s": res.processed / wall,
        "rtf": wall / res.audio_s,
        "steady_files_per_s": steady,
        "cpu_s_per_file": res.cpu_s / max(1, res.processed),
        "peak_rss_mb": sorted(res.worker_peak_rss_mb.values()),
        "first_chunk_s": t_first - t0,
    }


def same_rows(a: Path, b: Path) -> bool:
    from genrekit.batch import read_results

    x, y = read_results(a), read_results(b)
    if list(x.path) != list(y.path) or list(x.status) != list(y.status) or list(x.genre) != list(y.genre):
        return False
    ok = x.status == "ok"
    return bool(np.allclose(np.stack(x.top_probs[ok]), np.stack(y.top_probs[ok]), atol=1e-6))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--duration-s", type=float, default=30.0)
    ap.add_argument("--models", default="musicnn,handcrafted")
    ap.add_argument("--engines", default="serial,processes,dask")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=8)
    ap.add_argument("--data", type=Path, default=Path("/tmp/genrekit-bench-batch"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)  # internal: one run in this process
    args = ap.parse_args()
    if not args.one:
        args.data.mkdir(parents=True, exist_ok=True)

    if args.one:
        name, engine, listing_s, model_s, out_s = args.one
        r = run(
            Path(listing_s),
            Path(out_s),
            None if model_s == "-" else model_s,
            engine,
            args.workers,
            args.chunk_size,
        )
        print(json.dumps({"model": name, **r}))
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    listing = corpus(args.data, args.n, args.duration_s)
    models = {}
    results: list[dict[str, Any]] = []
    for name in args.models.split(","):
        model = None if name == "musicnn" else str(handcrafted_bundle(args.data))
        models[name] = model
        base = None
        for engine in args.engines.split(","):
            out = args.data / f"out-{name}-{engine}"
            cmd = [sys.executable, __file__, "--workers", str(args.workers),
                   "--chunk-size", str(args.chunk_size),
                   "--one", name, engine, str(listing), model or "-", str(out)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{name} on {engine} failed")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["load_avg"] = os.getloadavg()[0]
            if engine == "serial":
                base = out
            elif base is not None:
                r["same_rows_as_serial"] = same_rows(base, out)
            results.append(r)
            print(json.dumps(r), flush=True)

    print(f"\n{args.n} clips x {args.duration_s:g} s, chunk size {args.chunk_size}\n")
    print(
        "| model | engine | wall s | files/s | real-time factor | steady files/s | CPU s/file "
        "| peak RSS/worker MB | rows = serial |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        rss = ", ".join(f"{m:.0f}" for m in r["peak_rss_mb"])
        same = {True: "yes", False: "NO"}.get(r.get("same_rows_as_serial"), "-")
        print(
            f"| {r['model']} | {r['engine']} | {r['wall_s']:.1f} | {r['files_per_s']:.2f} | {r['rtf']:.4f} | "
            f"{r['steady_files_per_s']:.2f} | {r['cpu_s_per_file']:.2f} | {rss} | {same} |"
        )
    for name in models:
        rs = {r["engine"].split(" ")[0]: r for r in results if r["model"] == name}
        if "serial" in rs and "processes" in rs:
            s, p = rs["serial"], rs["processes"]
            print(
                f"{name}: {args.workers} processes / serial = "
                f"{p['files_per_s'] / s['files_per_s']:.2f}x wall, "
                f"{p['steady_files_per_s'] / s['steady_files_per_s']:.2f}x steady"
            )
        if "processes" in rs and "dask" in rs:
            p, d = rs["processes"], rs["dask"]
            print(
                f"{name}: dask / processes = {d['files_per_s'] / p['files_per_s']:.2f}x wall, "
                f"{d['steady_files_per_s'] / p['steady_files_per_s']:.2f}x steady"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
