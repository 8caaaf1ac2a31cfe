"""Bounded load test of `genrekit serve` on loopback, against the library called directly.

Starts the server as a subprocess on a free loopback port, sends a fixed number of 30 s wav uploads at
a fixed concurrency (each request with a timeout, the whole run with a deadline: it stops by itself),
and prints requests per second, p50/p95/p99 latency, the error count and the server's resident memory
after the warm-up requests, half-way and at the end (the measured requests run in two halves, so that
growth during the second half, once every buffer has been allocated, shows a leak). The baseline runs
the same uploads through ``Classifier.predict(bytes)`` in the same number of processes, each with the
same number of threads as the server's in-flight slots, once before and once after the server run (on
a shared machine the load drifts; both figures are printed and their mean is the baseline).

Examples::

    python benchmarks/bench_service.py --model svm --requests 40 --concurrency 4
    python benchmarks/bench_service.py --model musicnn --requests 16 --concurrency 2
    python benchmarks/bench_service.py --model path/to/bundle --workers 2 --json out.json

``--model svm`` builds a hand-crafted-features SVM bundle first (synthetic clips, a few seconds).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile as sf

SR = 22050
GENRES = ("blues", "classical", "disco", "metal", "reggae")


# ------------------------------------------------------------------------------------------ inputs
def build_svm_bundle(out: Path, *, clips: int = 3, clip_s: float = 10.0) -> Path:
    """An SVM on the 57 hand-crafted features, fitted on synthetic clips (not meant to be accurate)."""
    from genrekit.bundle import Bundle, save_bundle
    from genrekit.features.registry import get_extractor
    from genrekit.models.classical import make_model
    from genrekit.synth import render

    ext = get_extractor("handcrafted")
    X, y = [], []
    for g in GENRES:
        for i in range(clips):
            f = ext(render(g, duration_s=clip_s, seed=100 + i), SR)
            X.append(f)
            y += [g] * len(f)
    model = make_model("svm").fit(np.vstack(X), y)
    bundle = Bundle(model=model, kind="svm", labels=[str(c) for c in model.classes_], extractor=ext.to_dict(),
                    feature_names=list(ext.names), metrics={"note": "benchmark bundle, synthetic data"})
    return save_bundle(bundle, out)


def make_uploads(n: int, duration_s: float) -> list[bytes]:
    """``n`` distinct 16-bit PCM wav files of ``duration_s`` seconds of synthetic music."""
    from genrekit.synth import render

    out = []
    for i in range(n):
        buf = io.BytesIO()
        sf.write(buf, render(GENRES[i % len(GENRES)], duration_s=duration_s, seed=i), SR, format="WAV",
                 subtype="PCM_16")
        out.append(buf.getvalue())
    return out


# ------------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    model: str, port: int, workers: int, max_in_flight: int, timeout_s: float
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "genrekit.cli", "serve", "--port", str(port), "--workers", str(workers),
           "--max-in-flight", str(max_in_flight), "--log-level", "warning"]
    if model != "musicnn":
        cmd += ["--model", model]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            # with several workers every one must be ready; poll a few times
            url = f"http://127.0.0.1:{port}/ready"
            if all(httpx.get(url, timeout=2).status_code == 200 for _ in range(3)):
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise SystemExit(f"server not ready after {timeout_s:.0f} s")


def stop_server(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its children (all threads)."""
    p = psutil.Process(pid)
    total = 0.0
    for q in [p, *p.children(recursive=True)]:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MiB."""
    p = psutil.Process(pid)
    procs = [p, *p.children(recursive=True)]
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


# -------------------------------------------------------------------------------------------- load
def run_load(url: str, uploads: list[bytes], n: int, concurrency: int, timeout_s: float,
             deadline_s: float) -> tuple[list[float], list[str], float]:
    """Send ``n`` uploads with ``concurrency`` client threads; latencies (s), errors and wall time."""
    stop_at = time.time() + deadline_s
    clients = [httpx.Client(base_url=url, timeout=timeout_s) for _ in range(concurrency)]

    def one(i: int) -> tuple[float | None, str | None]:
        if time.time() > stop_at:
            return None, "skipped: run deadline passed"
        client = clients[i % concurrency]
        data = uploads[i % len(uploads)]
        t0 = time.perf_counter()
        try:
            r = client.post("/v1/classify", files={"audio": (f"clip{i}.wav", data, "audio/wav")})
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        dt = time.perf_counter() - t0
        if r.status_code != 200:
            return dt, f"HTTP {r.status_code}: {r.text[:200]}"
        return dt, None

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    for c in clients:
        c.close()
    lat = [dt for dt, err in results if dt is not None and err is None]
    errors = [err for _, err in results if err is not None]
    return lat, errors, wall


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


# ---------------------------------------------------------------------------------------- baseline
def _baseline_worker(model: str, uploads: list[bytes], count: int, threads: int, barrier, queue) -> None:  # noqa: ANN001
    from genrekit.service.app import load_served_model

    # Load and warm up in a pool thread, as the server does: loading in the main thread and then
    # predicting from other threads costs the hand-crafted features twice the CPU on this machine
    # (BLAS/OpenMP thread pools), which would flatter the service.
    with ThreadPoolExecutor(threads) as pool:
        clf = pool.submit(load_served_model, None if model == "musicnn" else model).result().classifier
        pool.submit(clf.predict, uploads[0]).result()
        barrier.wait()  # every process starts timing together
        t0, c0 = time.perf_counter(), time.process_time()
        list(pool.map(lambda i: clf.predict(uploads[i % len(uploads)]), range(count)))
    queue.put((time.perf_counter() - t0, time.process_time() - c0))


def run_baseline(
    model: str, uploads: list[bytes], n: int, processes: int, threads: int
) -> tuple[float, float]:
    """Requests per second of ``Classifier.predict(bytes)`` in ``processes`` processes x ``threads``,
    and the CPU seconds it used per request."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    barrier = ctx.Barrier(processes)
    share = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    procs = [
        ctx.Process(target=_baseline_worker, args=(model, uploads, k, threads, barrier, queue)) for k in share
    ]
    for p in procs:
        p.start()
    got = [queue.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    return n / max(w for w, _ in got), sum(c for _, c in got) / n


# -------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="svm", help="musicnn, svm (built on the fly) or a bundle path")
    ap.add_argument("--requests", type=int, default=40, help="requests in the measured run")
    ap.add_argument("--concurrency", type=int, default=4, help="client threads")
    ap.add_argument("--warmup-requests", type=int, default=8, help="requests before the 'before' RSS")
    ap.add_argument("--duration-s", type=float, default=30.0, help="length of each uploaded wav")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--max-in-flight", type=int, default=2, help="server inference slots per worker")
    ap.add_argument("--timeout-s", type=float, default=300.0, help="per-request timeout")
    ap.add_argument("--deadline-s", type=float, default=1800.0, help="the measured run stops after this")
    ap.add_argument("--no-baseline", action="store_true", help="skip the direct library baseline")
    ap.add_argument("--svm-bundle", type=Path, help="with --model svm: build the bundle here, or reuse it")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="genrekit-bench-"))
    model = args.model
    if model == "svm":
        where = args.svm_bundle or tmp / "svm-handcrafted"
        if (where / "bundle.json").is_file():
            print(f"reusing the hand-crafted SVM bundle {where}")
        else:
            t0 = time.perf_counter()
            build_svm_bundle(where)
            print(f"built the hand-crafted SVM bundle in {time.perf_counter() - t0:.1f} s: {where}")
        model = str(where)
    uploads = make_uploads(4, args.duration_s)
    mb = len(uploads[0]) / 2**20
    print(f"uploads: {len(uploads)} wav files of {args.duration_s:g} s, {mb:.2f} MB each")

    base_before = None
    if not args.no_baseline:  # the baseline runs before and after the service, to expose load drift
        base_before, cpu_before = run_baseline(
            model, uploads, args.requests, args.workers, args.max_in_flight
        )
        print(f"library baseline (before): {base_before:.3f} requests/s, {cpu_before:.2f} CPU s/request")

    port = free_port()
    t0 = time.perf_counter()
    proc = start_server(model, port, args.workers, args.max_in_flight, timeout_s=600)
    startup_s = time.perf_counter() - t0
    url = f"http://127.0.0.1:{port}"
    try:
        _, werr, _ = run_load(url, uploads, args.warmup_requests, min(args.concurrency, args.warmup_requests),
                              args.timeout_s, args.deadline_s)
        rss_before = rss_mb(proc.pid)
        cpu0 = cpu_s(proc.pid)
        half = args.requests // 2
        lat1, err1, wall1 = run_load(url, uploads, half, args.concurrency, args.timeout_s, args.deadline_s)
        rss_mid = rss_mb(proc.pid)
        lat2, err2, wall2 = run_load(
            url, uploads, args.requests - half, args.concurrency, args.timeout_s, args.deadline_s - wall1
        )
        rss_after = rss_mb(proc.pid)
        cpu_per_request = (cpu_s(proc.pid) - cpu0) / args.requests
        lat, errors, wall = lat1 + lat2, err1 + err2, wall1 + wall2
    finally:
        code = stop_server(proc)
    result = {
        "model": args.model,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "max_in_flight": args.max_in_flight,
        "upload_s": args.duration_s,
        "startup_s": round(startup_s, 1),
        "rps": round(len(lat) / wall, 3),
        "wall_s": round(wall, 1),
        "p50_ms": round(pct(lat, 50) * 1000),
        "p95_ms": round(pct(lat, 95) * 1000),
        "p99_ms": round(pct(lat, 99) * 1000),
        "mean_ms": round(statistics.fmean(lat) * 1000) if lat else None,
        "errors": len(errors) + len(werr),
        "cpu_s_per_request": round(cpu_per_request, 3),
        "rss_before_mb": round(rss_before, 1),
        "rss_mid_mb": round(rss_mid, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_growth_2nd_half_mb": round(rss_after - rss_mid, 1),
        "server_exit_code": code,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    for e in (werr + errors)[:5]:
        print("error:", e)
    if base_before is not None:
        base_after, cpu_after = run_baseline(model, uploads, args.requests, args.workers, args.max_in_flight)
        base = (base_before + base_after) / 2
        base_cpu = (cpu_before + cpu_after) / 2
        result["baseline_rps_before"] = round(base_before, 3)
        result["baseline_rps_after"] = round(base_after, 3)
        result["baseline_rps"] = round(base, 3)
        result["service_vs_library"] = round(result["rps"] / base, 3)
        result["baseline_cpu_s_per_request"] = round(base_cpu, 3)
        # CPU per request does not depend on what else runs on the machine: the service's overhead
        result["library_vs_service_cpu"] = round(base_cpu / cpu_per_request, 3)
        result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    width = max(len(k) for k in result)
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if not errors and not werr else 1


if __name__ == "__main__":
    raise SystemExit(main())
