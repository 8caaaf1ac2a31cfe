"""Speed of the synthetic genre corpus: seconds per clip, per genre and overall, warm.

Usage::

    python benchmarks/bench_synth.py [--n 20] [--duration-s 10] [--sr 22050]

Each genre is rendered once to warm up (imports, filter design caches), then ``--n`` clips with seeds
0..n-1 are timed. Wall time and process CPU time are both printed: on a shared machine the CPU time is
the better measure of the code itself.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from genrekit import synth


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="clips per genre")
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--sr", type=int, default=22050)
    ap.add_argument("--genres", nargs="*", default=list(synth.GENRES))
    args = ap.parse_args(argv)

    print(f"synth.render: {args.n} clips x {args.duration_s:g} s at {args.sr} Hz per genre (warm)")
    print(f"{'genre':<10} {'wall s/clip':>12} {'p90 wall':>9} {'cpu s/clip':>11} {'x realtime':>11}")
    all_wall, all_cpu = [], []
    for g in args.genres:
        synth.render(g, duration_s=args.duration_s, sr=args.sr, seed=10_000)  # warm-up
        wall = []
        c0 = time.process_time()
        for s in range(args.n):
            t0 = time.perf_counter()
            synth.render(g, duration_s=args.duration_s, sr=args.sr, seed=s)
            wall.append(time.perf_counter() - t0)
        cpu = (time.process_time() - c0) / args.n
        all_wall += wall
        all_cpu.append(cpu)
        print(f"{g:<10} {np.mean(wall):12.3f} {np.percentile(wall, 90):9.3f} {cpu:11.3f} "
              f"{args.duration_s / np.mean(wall):11.0f}")
    print(f"{'overall':<10} {np.mean(all_wall):12.3f} {np.percentile(all_wall, 90):9.3f} "
          f"{np.mean(all_cpu):11.3f} {args.duration_s / np.mean(all_wall):11.0f}")


if __name__ == "__main__":
    main()
