"""Time the hand-crafted GTZAN features against the straightforward per-feature librosa script.

    python benchmarks/bench_handcrafted.py [--audio FILE] [--seconds 30] [--repeats 3] [--segment-s 3]

The "naive" script (:func:`naive_features`) is the kind of code the Kaggle GTZAN table was made with:
every feature is its own librosa call on the samples (chroma_stft(y), rms(y), spectral_centroid(y),
..., effects.hpss(y), beat.beat_track(y), mfcc(y)), so the STFT is computed eight times and HPSS runs
the 2-D median filters. ``genrekit``'s extractor computes the same 57 values from one STFT.

Reported, per 30 s clip: seconds warm (median of --repeats runs in this process) and cold (a fresh
process: imports + the first call, which pays numba/scipy/librosa start-up), the ratio naive / ours,
and the largest relative difference over the values (|a - b| / max(|b|, floor), with floor the column's
typical scale for the columns whose values sit near zero: the means of the harmonic/percussive
signals and of the MFCCs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from genrekit.features.handcrafted import HandcraftedExtractor, handcrafted_names

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common, also when loaded by path (tests)
from _common import median_times  # noqa: E402


def naive_features(y: np.ndarray, sr: int = 22050, *, n_mfcc: int = 20) -> np.ndarray:
    """The 57 GTZAN features of one signal, each librosa feature called on its own on ``y``.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
    sr : int

    Returns
    -------
    np.ndarray, float64, shape (17 + 2 * n_mfcc,)
        In the Kaggle column order.
    """
    import librosa

    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    rms = librosa.feature.rms(y=y)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr)
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    harmonic, percussive = librosa.effects.hpss(y)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc)
    row = []
    for x in (chroma, rms, centroid, bandwidth, rolloff, zcr, harmonic, percussive):
        row += [float(np.mean(x)), float(np.var(x))]
    row.append(float(np.asarray(tempo).reshape(-1)[0]))
    for c in mfcc:
        row += [float(np.mean(c)), float(np.var(c))]
    return np.asarray(row, dtype=np.float64)


def naive_extract(y: np.ndarray, sr: int, *, segment_s: float | None = 3.0, n_mfcc: int = 20) -> np.ndarray:
    """:func:`naive_features` of every segment (``genrekit.audio.segments``), one after the other.

    Returns
    -------
    np.ndarray, float64, shape (n_segments, 17 + 2 * n_mfcc)
    """
    from genrekit.audio import segments

    segs = y[None, :] if segment_s is None else segments(y, sr, segment_s=segment_s)
    return np.stack([naive_features(s, sr, n_mfcc=n_mfcc) for s in segs])


#: Columns whose values are means of zero-centred quantities (and can sit at ~0): compared against
#: a scale instead of their own magnitude.
NEAR_ZERO_SCALE = {"harmony_mean": "harmony_var", "perceptr_mean": "perceptr_var"}


def relative_difference(ours: np.ndarray, ref: np.ndarray, names: list[str]) -> np.ndarray:
    """|ours - ref| / scale per value, ``(n_rows, n_cols)``.

    The scale is ``|ref|``, except for the means of the harmonic/percussive signals (sqrt of their
    variance: the signal's own amplitude) and the MFCC means (1 dB, the scale of a log-mel value);
    a value of exactly 0 on both sides has difference 0.
    """
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = np.abs(ref).copy()
    for j, name in enumerate(names):
        if name in NEAR_ZERO_SCALE:
            scale[:, j] = np.maximum(scale[:, j], np.sqrt(ref[:, names.index(NEAR_ZERO_SCALE[name])]))
        elif name.startswith("mfcc") and name.endswith("_mean"):
            scale[:, j] = np.maximum(scale[:, j], 1.0)
    diff = np.abs(ours - ref)
    return np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)


def _synthetic_clip(seconds: float, sr: int = 22050) -> np.ndarray:
    """A deterministic music-like clip: chord tones with vibrato, a kick/snare/hat pattern, noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for f0 in (220.0, 277.18, 329.63, 440.0):
        y += 0.08 * np.sin(2 * np.pi * f0 * t + 0.3 * np.sin(2 * np.pi * 5 * t))
    beat = 60 / 118
    for start in np.arange(0, seconds, beat / 2):
        i = int(start * sr)
        n = min(int(0.08 * sr), len(y) - i)
        env = np.exp(-np.arange(n) / (0.015 * sr))
        y[i : i + n] += 0.3 * env * rng.standard_normal(n) * (1.0 if int(start / beat * 2) % 2 else 0.4)
        y[i : i + n] += 0.5 * env * np.sin(2 * np.pi * 60 * np.arange(n) / sr)
    y += 0.01 * rng.standard_normal(len(y))
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def _cold(which: str, clip: Path, segment_s: float | None) -> float:
    """Wall time of imports + the first call in a fresh process."""
    here = Path(__file__).resolve().parent
    code = (
        "import time, sys, numpy as np; t0 = time.perf_counter(); "
        f"sys.path.insert(0, {str(here)!r}); import bench_handcrafted as b; "
        "from genrekit.features.handcrafted import HandcraftedExtractor; "
        f"y = np.load({str(clip)!r}); "
        + (
            f"b.naive_extract(y, 22050, segment_s={segment_s!r}); "
            if which == "naive"
            else f"HandcraftedExtractor(segment_s={segment_s!r})(y, 22050); "
        )
        + "print(time.perf_counter() - t0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", help="audio file to time (default: a synthesized music-like clip)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--segment-s", type=float, default=3.0, help="segment length; 0 = whole clip (one row)")
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-process timings")
    args = ap.parse_args()
    segment_s = None if args.segment_s == 0 else args.segment_s
    sr = 22050
    if args.audio:
        from genrekit.audio import load

        y, _ = load(args.audio, sr=sr, duration_s=args.seconds)
    else:
        y = _synthetic_clip(args.seconds, sr)
    clip_s = len(y) / sr
    ext = HandcraftedExtractor(segment_s=segment_s)
    names = handcrafted_names()

    ours = ext(y, sr)
    ref = naive_extract(y, sr, segment_s=segment_s)
    rel = relative_difference(ours, ref, names)
    (w_ours, c_ours), (w_naive, c_naive) = (
        median_times(lambda: ext(y, sr), args.repeats),
        median_times(lambda: naive_extract(y, sr, segment_s=segment_s), args.repeats),
    )
    per = 30.0 / clip_s
    print(f"clip: {args.audio or 'synthesized'} ({clip_s:.1f} s), segment_s={segment_s}, rows={len(ours)}")
    print(f"{'seconds per 30 s':18}{'naive':>10}{'genrekit':>10}{'ratio':>8}")
    print(f"{'warm, wall':18}{w_naive * per:10.3f}{w_ours * per:10.3f}{w_naive / w_ours:8.2f}x")
    print(f"{'warm, CPU':18}{c_naive * per:10.3f}{c_ours * per:10.3f}{c_naive / c_ours:8.2f}x")
    if not args.no_cold:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "clip.npy"
            np.save(clip, y)
            k_naive = _cold("naive", clip, segment_s)
            k_ours = _cold("ours", clip, segment_s)
        print(f"{'cold, wall':18}{k_naive * per:10.3f}{k_ours * per:10.3f}{k_naive / k_ours:8.2f}x"
              "   (fresh process: imports + first call)")
    worst = np.unravel_index(np.argmax(rel), rel.shape)
    print(f"max relative difference: {rel.max():.2e} (column {names[worst[1]]}, row {worst[0]})")
    per_col = rel.max(axis=0)
    top = np.argsort(per_col)[::-1][:5]
    print("largest per column: " + ", ".join(f"{names[j]}={per_col[j]:.1e}" for j in top))


if __name__ == "__main__":
    main()
