"""Time genrekit.audio.load on a 30 s clip as wav and mp3: warm (in-process) and in a fresh process.

    python benchmarks/bench_audio.py [--seconds 30] [--repeats 20]

A fresh process pays for importing numpy/soundfile/soxr and opening libsndfile; "warm" is the median
of repeated loads in one process. Both resample 44.1 kHz stereo to 22.05 kHz mono.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from genrekit.audio import load


def make_clip(path: Path, seconds: float, fmt: str, subtype: str) -> None:
    sr = 44100
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    right = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), sr, format=fmt, subtype=subtype)


def warm(path: Path, repeats: int) -> float:
    load(path)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        load(path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fresh(path: Path, repeats: int) -> tuple[float, float]:
    """Median wall time of a whole fresh process, and of the load call inside it."""
    code = (
        "import time; t0=time.perf_counter(); from genrekit.audio import load; t1=time.perf_counter(); "
        f"load({str(path)!r}); t2=time.perf_counter(); print(t2-t1)"
    )
    total, inner = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        total.append(time.perf_counter() - t0)
        inner.append(float(out.stdout.strip()))
    return statistics.median(total), statistics.median(inner)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'format':8} {'warm load':>10} {'fresh: load':>12} {'fresh: process':>15}")
        for ext, fmt, subtype in [("wav", "WAV", "PCM_16"), ("mp3", "MP3", "MPEG_LAYER_III")]:
            path = Path(tmp) / f"clip.{ext}"
            make_clip(path, args.seconds, fmt, subtype)
            w = warm(path, args.repeats)
            total, inner = fresh(path, max(3, args.repeats // 4))
            print(f"{ext:8} {w * 1000:8.1f}ms {inner * 1000:10.1f}ms {total * 1000:13.1f}ms")


if __name__ == "__main__":
    main()
