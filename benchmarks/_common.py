"""Helpers shared by the benchmark scripts: timing and a description of the CPU.

Import from a benchmark with ``sys.path`` holding this folder (a script run as ``python benchmarks/x.py``
has it; a script loaded by path inserts it first).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_times(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU (this process, all threads) seconds of ``repeats`` calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def cpu_description() -> str:
    """CPU model and its vector extensions (from /proc/cpuinfo where there is one)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vec = sorted(f for f in flags if f.startswith(("sse", "ssse", "avx", "fma", "amx")))
    return f"{model}, {os.cpu_count()} logical cores; vector extensions: {' '.join(vec) or 'unknown'}"
