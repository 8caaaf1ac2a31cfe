"""Time the pretrained musicnn tagger on a 30 s mp3: decode -> log-mel patches -> tag probabilities.

    python benchmarks/bench_musicnn.py [--seconds 30] [--repeats 10] [--model msd|mtt] [--threads N] [--probe]
    python benchmarks/bench_musicnn.py --agreement ../shared/data/gtzan_audio [--precision bfloat16]

"warm" is the median of repeated runs in one process with the model already loaded; "cold" is a fresh
process: importing genrekit + torch, reading the checkpoint (``load_musicnn``) and the first run. CPU
time (all threads) is printed next to wall time: on a shared machine wall time also measures the
neighbours. The load average at the start is printed for the same reason.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import median_times


def music_signal(seconds: float, sr: int = 44100) -> np.ndarray:
    """Music-like mono float32: :func:`genrekit.synth.chord_loop` (4 harmonics, a hit every 0.25 s)."""
    from genrekit.synth import chord_loop

    return chord_loop(seconds, sr, harmonics=4, hit_every_s=0.25, hit_level=0.4)


def make_clip(path: Path, seconds: float) -> None:
    """A stereo 44.1 kHz mp3 of :func:`music_signal`."""
    y = music_signal(seconds, 44100)
    stereo = np.stack([y, np.roll(y, 100)], axis=1).astype(np.float32)
    sf.write(path, stereo, 44100, format="MP3", subtype="MPEG_LAYER_III")


def warm(path: Path, model: str, repeats: int) -> None:
    import torch

    from genrekit.audio import load
    from genrekit.features.musicnn.network import load_musicnn, run
    from genrekit.features.musicnn.preprocess import mel_patches
    from genrekit.features.registry import get_extractor

    ext = get_extractor(f"musicnn-{model}", output="tags")
    net = load_musicnn(f"{model.upper()}_musicnn")
    y, sr = load(path, sr=16000)
    patches = mel_patches(y)
    print(f"torch threads: {torch.get_num_threads()}, patches: {patches.shape}")
    rows = [
        ("decode mp3 -> 16 kHz mono", lambda: load(path, sr=16000)),
        ("log-mel patches", lambda: mel_patches(y)),
        ("network forward (batched)", lambda: run(net, patches)),
        ("extractor(y) -> tags", lambda: ext(y, sr)),
        ("file -> tags (total)", lambda: ext(*load(path, sr=16000))),
    ]
    print(f"{'warm stage':30} {'wall':>9} {'cpu':>9}")
    for label, fn in rows:
        w, c = median_times(fn, repeats)
        print(f"{label:30} {w * 1000:7.1f}ms {c * 1000:7.1f}ms")


def calibrate(model: str, repeats: int) -> None:
    """Forward pass vs an sgemm of about the same FLOPs, interleaved: a ratio that load hardly changes."""
    import torch

    from genrekit.features.musicnn.network import load_musicnn

    net = load_musicnn(f"{model.upper()}_musicnn")
    x = torch.rand(10, 187, 96) * 4
    gmac = 15.6  # multiply-adds of the forward for 10 patches, Toeplitz overheads included
    n = int(round((gmac * 1e9) ** (1 / 3)))
    a, b = torch.rand(n, n), torch.rand(n, n)
    fwd, mm = [], []
    with torch.inference_mode():
        net(x), a @ b
        for _ in range(repeats):
            t0 = time.perf_counter()
            net(x)
            t1 = time.perf_counter()
            a @ b
            t2 = time.perf_counter()
            fwd.append(t1 - t0)
            mm.append(t2 - t1)
    f, m = statistics.median(fwd), statistics.median(mm)
    print(
        f"calibration: forward(10 patches) {f * 1000:.0f} ms = {2 * gmac / f:.0f} GFLOPS; "
        f"sgemm {n}^3 {m * 1000:.0f} ms = {2 * n**3 / m / 1e9:.0f} GFLOPS; forward / sgemm = {f / m:.2f}"
    )


def probe_alternatives(repeats: int) -> None:
    """Could a cheaper arithmetic reach the goal? Rates of int8 and bfloat16 products, and an FFT front end.

    The timbral front end (81 % of the multiply-adds) is a one-channel convolution followed by a max over
    frequency; along frequency it can also be computed as a circular convolution in the Fourier domain
    (exact for the "valid" outputs). Printed: GOPS of a 10-patch-sized float32, int8 (``torch._int_mm``) and
    bfloat16 product, and the float32 GEMM front end against the FFT one on 10 patches.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812

    from genrekit.features.musicnn.network import conv_max_over_freq

    m, k, n = 10 * 187 * 15, 7 * 41, 4 * 204  # the 7x38 block's GEMM: rows, window, block x filters
    a, b = torch.randn(m, k), torch.randn(k, n)
    ai = torch.randint(-128, 127, (m, k), dtype=torch.int8)
    bi = torch.randint(-128, 127, (k, n), dtype=torch.int8)
    products = [("float32", lambda: a @ b), ("bfloat16", lambda: a.bfloat16() @ b.bfloat16())]
    if hasattr(torch, "_int_mm"):
        products.append(("int8 (_int_mm)", lambda: torch._int_mm(ai, bi)))
    for label, fn in products:
        w, _ = median_times(fn, max(2, repeats // 3))
        print(f"{label:30} {w * 1000:7.1f}ms {2 * m * k * n / w / 1e9:6.1f} GOPS")

    x = torch.randn(10, 187, 96)
    wt = torch.randn(204, 7, 38) * 0.05

    def fft_front() -> torch.Tensor:
        spec = torch.fft.rfft(F.pad(x, (0, 0, 3, 3)), n=96, dim=-1)  # (B, T + 6, 49)
        kern = torch.fft.rfft(wt, n=96, dim=-1).conj()  # correlation: conjugate kernel spectrum
        z = torch.einsum("btkd,cdk->btck", spec.unfold(1, 7, 1), kern)
        return torch.fft.irfft(z, n=96, dim=-1)[..., : 96 - 38 + 1].amax(-1)

    err = (fft_front() - conv_max_over_freq(x, wt, (3, 3))).abs().max().item()
    for label, fn in (
        ("7x38 front end, GEMM", lambda: conv_max_over_freq(x, wt, (3, 3))),
        ("7x38 front end, FFT", fft_front),
    ):
        w, _ = median_times(fn, max(2, repeats // 3))
        print(f"{label:30} {w * 1000:7.1f}ms")
    print(f"FFT vs GEMM front end: max abs difference {err:.1e}")


def agreement(folder: Path, precision: str, limit: int | None) -> None:
    """Does ``precision`` give the float32 answers? The default classifier on every clip of ``folder``.

    Per clip: the tag features of both musicnn models (what ``genrekit.load_model()`` classifies) once in
    float32 and once in ``precision``; the genre is the classifier's (``mean_prob`` aggregation of the
    per-patch probabilities, as ``predict_audio``). Prints the share of clips with the same genre, the
    largest tag difference, and the network time of each precision.
    """
    from genrekit import load_model
    from genrekit.audio import load
    from genrekit.features.musicnn.kernels import describe, kernel_info

    clf = load_model()
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".ogg", ".wav", ".mp3", ".flac", ".au"))
    files = files[:limit] if limit else files
    same, max_diff, times = 0, 0.0, {"float32": 0.0, precision: 0.0}
    worst = ("", 0.0)
    for i, f in enumerate(files):
        y, sr = load(f, sr=16000)
        genres, feats = {}, {}
        for prec in ("float32", precision):
            os.environ["GENREKIT_MUSICNN_PRECISION"] = prec
            t0 = time.process_time()
            feats[prec] = clf.extractor(y, sr)
            times[prec] += time.process_time() - t0
            proba = np.asarray(clf.model.predict_proba(feats[prec])).mean(axis=0)
            genres[prec] = clf.classes_[int(np.argmax(proba))]
        diff = float(np.abs(feats["float32"] - feats[precision]).max())
        if diff > worst[1]:
            worst = (f.name, diff)
        max_diff = max(max_diff, diff)
        same += genres["float32"] == genres[precision]
        if (i + 1) % 50 == 0:
            print(f"  {i + 1} clips: {same} same genre, max tag diff {max_diff:.4f}", flush=True)
    os.environ.pop("GENREKIT_MUSICNN_PRECISION", None)
    n = len(files)
    print(describe(kernel_info(precision)))
    print(
        f"{precision} vs float32 on {n} clips of {folder}: same genre {same}/{n} = {same / max(n, 1):.1%}; "
        f"max |tag difference| {max_diff:.4f} (clip {worst[0]}); network+log-mel CPU time "
        f"float32 {times['float32']:.1f} s, {precision} {times[precision]:.1f} s "
        f"(ratio {times['float32'] / max(times[precision], 1e-9):.2f}x)"
    )


COLD = """
import time
t0 = time.perf_counter()
from genrekit.audio import load
from genrekit.features.registry import get_extractor
from genrekit.features.musicnn.network import load_musicnn
ext = get_extractor("musicnn-{model}", output="tags")
t1 = time.perf_counter()
load_musicnn("{name}")
t2 = time.perf_counter()
tags = ext(*load({path!r}, sr=16000))
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, tags.shape[0])
"""


def cold(path: Path, model: str, repeats: int) -> None:
    code = COLD.format(model=model, name=f"{model.upper()}_musicnn", path=str(path))
    rows = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        total = time.perf_counter() - t0
        rows.append([*map(float, out.stdout.split()[:3]), total])
    imp, load_s, first, total = (statistics.median(col) for col in zip(*rows, strict=True))
    print(f"{'cold (fresh process)':30} {'wall':>9}")
    print(f"{'import genrekit + torch':30} {imp * 1000:7.1f}ms")
    print(f"{'load_musicnn (checkpoint)':30} {load_s * 1000:7.1f}ms")
    print(f"{'first file -> tags':30} {first * 1000:7.1f}ms")
    print(f"{'whole process':30} {total * 1000:7.1f}ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--cold-repeats", type=int, default=3)
    ap.add_argument("--model", choices=["msd", "mtt"], default="msd")
    ap.add_argument("--threads", type=int, default=None, help="sets GENREKIT_TORCH_THREADS")
    ap.add_argument("--probe", action="store_true", help="time int8, bfloat16 and FFT alternatives")
    ap.add_argument("--agreement", type=Path, metavar="DIR", help="compare a reduced precision on real clips")
    ap.add_argument("--precision", default="bfloat16", help="the precision --agreement compares")
    ap.add_argument("--limit", type=int, default=None, help="at most this many clips for --agreement")
    args = ap.parse_args()
    if args.threads:
        os.environ["GENREKIT_TORCH_THREADS"] = str(args.threads)
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    if args.agreement:
        agreement(args.agreement, args.precision, args.limit)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp3"
        make_clip(path, args.seconds)
        print(f"clip: {args.seconds:.0f} s stereo 44.1 kHz mp3, {path.stat().st_size / 1024:.0f} KiB")
        warm(path, args.model, args.repeats)
        calibrate(args.model, args.repeats)
        if args.probe:
            probe_alternatives(args.repeats)
        cold(path, args.model, args.cold_repeats)


if __name__ == "__main__":
    main()
