"""Cold start: `genrekit classify FILE` from command to answer, in fresh processes.

    python benchmarks/bench_cold_start.py [--audio FILE] [--runs 7] [--model gtzan]

Prints, with the CPU model, its vector extensions and the load average:

1. the whole command (``python -m genrekit.cli classify FILE``, as the ``genrekit`` script runs it): median
   and range of the wall time over ``--runs`` fresh processes, and their CPU time (user + system);
2. where one process spends it (median of each phase over ``--runs`` probe processes that do what the
   command does, in its order): interpreter and numpy, the CLI's own imports, scikit-learn, the rest of
   genrekit's predict path, skops, loading the model (bundle, digests, allow-list), torch (which the
   command imports at the first forward pass), the first prediction (decode, network load, features,
   head) and, for comparison, a second (warm) one; the whole command's median wall time minus the sum
   of those phases is what lies outside them (interpreter start before the probe's clock, typer's
   parsing, printing, exit);
3. the modules that cost most in ``python -X importtime`` of one whole command.

Without ``--audio`` a 30 s stereo 44.1 kHz mp3 of a synthesized chord progression (``bench_musicnn``'s) is
written to a temporary directory. The aim (issue 17) is at most 2.5 s on an idle 2-core machine: on a
shared machine the CPU time and the phase breakdown are the steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_musicnn import make_clip  # noqa: E402
from bench_real import cpu_description  # noqa: E402

#: The probe: the command's steps in its order, each timed (printed as JSON on stdout).
PROBE = r"""
import time
t0 = time.perf_counter()
import json, sys
marks = []
def lap(name):
    marks.append((name, time.perf_counter()))
import numpy
lap("interpreter + numpy")
import genrekit.cli
lap("genrekit CLI (typer, rich)")
import sklearn.base
lap("scikit-learn")
import genrekit.predict
lap("genrekit predict path")
from genrekit.bundle import skops_io
skops_io()
lap("skops")
clf = genrekit.predict.load_model(sys.argv[2])
lap("load model")
import torch  # the command imports it at the first forward pass
lap("torch")
pred = clf.predict(sys.argv[1])
lap("first prediction")
clf.predict(sys.argv[1])
lap("second prediction (warm)")
out, prev = {}, t0
for name, t in marks:
    out[name] = t - prev
    prev = t
out["genre"] = pred.genre
print(json.dumps(out))
"""


def whole_command(audio: Path, model: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` fresh ``genrekit classify`` processes (after one warm-up run)."""
    cmd = [sys.executable, "-m", "genrekit.cli", "classify", str(audio), "--model", model]
    walls, cpus = [], []
    for i in range(runs + 1):
        before = os.times()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        after = os.times()
        if i:  # the first run fills the OS file cache (and, once per machine, the kernel-timing cache)
            walls.append(wall)
            used = after.children_user + after.children_system
            cpus.append(used - before.children_user - before.children_system)
    return walls, cpus


def phases(audio: Path, model: str, runs: int) -> dict[str, float]:
    """Median seconds of each step of :data:`PROBE` over ``runs`` fresh processes."""
    rows = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(audio), model], check=True, capture_output=True, text=True
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "genre"}


def top_imports(audio: Path, model: str, n: int = 10) -> list[tuple[str, float]]:
    """The ``n`` modules of largest cumulative import time (seconds) among the top-level imports of one
    whole command, from ``python -X importtime``."""
    cmd = [sys.executable, "-X", "importtime", "-m", "genrekit.cli", "classify", str(audio), "--model", model]
    err = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    found = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 3:  # top-level imports and their direct children
            found.append((m.group(3), int(m.group(1)) / 1e6))
    return sorted(found, key=lambda x: -x[1])[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", type=Path, default=None, help="file to classify (default: a synthesized mp3)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--model", default="gtzan")
    args = ap.parse_args()
    print(f"CPU: {cpu_description()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as d:
        audio = args.audio
        if audio is None:
            audio = Path(d) / "clip30.mp3"
            make_clip(audio, 30.0)
        walls, cpus = whole_command(audio, args.model, args.runs)
        wall = statistics.median(walls)
        print(
            f"\ngenrekit classify {audio.name} --model {args.model}: wall median {wall:.2f} s "
            f"(min {min(walls):.2f}, max {max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s; "
            f"{args.runs} fresh processes (aim <= 2.5 s idle)"
        )
        steps = phases(audio, args.model, args.runs)
        print(f"\nphases (median of {args.runs} fresh processes):")
        for name, sec in steps.items():
            print(f"  {name:28s} {sec:6.3f} s")
        cold = sum(v for k, v in steps.items() if not k.startswith("second"))
        print(f"  {'command to answer':28s} {cold:6.3f} s")
        print(f"  {'outside the phases':28s} {wall - cold:6.3f} s  (whole command's wall median - the above)")
        print("\nlargest imports (python -X importtime, cumulative):")
        for name, sec in top_imports(audio, args.model):
            print(f"  {name:40s} {sec:6.3f} s")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
