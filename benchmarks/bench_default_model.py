"""Cross-validated accuracy of every candidate default head, the tag taxonomies, and whole-song cost.

    python benchmarks/bench_default_model.py /work/shared/data/gtzan_audio \\
        [--cache-dir /work/cache/default-model] [--repeats 2] [--quick] [--skip-cv] [--skip-songs]

1. Candidate heads (see tools/default_model_cv.py): MSD / MTT / both networks x penultimate embeddings /
   tags / pooled mid-end, per-patch training with mean-log aggregation or track-mean features, logistic
   regression over a C grid, linear SVM + Platt, a small MLP; StratifiedGroupKFold (5 folds, each clip
   its own group) x ``--repeats``; macro recall over the 10 genres and accuracy on the 4 complete ones
   (blues, classical, jazz, pop) with bootstrap 95% intervals, and per-genre recall, side by side.
2. The fixed 13-genre tag taxonomy (``musicnn``) with the old max-of-tags pooling and the new rule, on all
   clips (nothing is trained, so every clip is a test clip).
3. Whole songs: the shipped ``gtzan`` model on long tracks made of real clips (8 clips of one genre
   concatenated, about 4 min; and the music_examples recordings looped to 4 min): agreement of the
   default sampled analysis with ``full=True``, and the cost of a 4-min file against a 30 s file.

Per-patch musicnn outputs are computed once per clip and cached (``--cache-dir``;
tools/default_model_data.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import default_model_cv as cv  # noqa: E402
import default_model_data as dm  # noqa: E402

VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_info() -> str:
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("unknown", "x86_64", ""):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    ext = " ".join(f for f in VECTOR_FLAGS if f in flags) or "unknown"
    return f"CPU: {model}, {os.cpu_count()} cores; vector extensions: {ext}"


def candidates(quick: bool) -> list[cv.Candidate]:
    out: list[cv.Candidate] = []
    sets = ["msd-pen", "mtt-pen", "both-pen", "msd-tag", "mtt-tag", "both-tag", "msd-pooled", "mtt-pooled"]
    if quick:
        sets = ["msd-pen", "mtt-pen", "both-pen"]
    for fs in sets:
        for c in (0.01, 0.1, 1.0):
            out.append(cv.Candidate(fs, "logreg", c, "patch"))
        out.append(cv.Candidate(fs, "logreg", 0.1, "trackmean"))
    for fs in ("msd-pen", "both-pen"):
        out.append(cv.Candidate(fs, "svm", 0.01, "patch"))
        out.append(cv.Candidate(fs, "mlp", 1e-2, "patch"))
    return out


def row(name: str, m: dict) -> str:
    pg = " ".join(f"{m['per_genre_recall'][g]:.2f}" for g in cv.GENRES)
    lo, hi = m["macro_recall_ci95"]
    lo4, hi4 = m["accuracy_complete4_ci95"]
    return (
        f"| {name} | {m['macro_recall']:.3f} [{lo:.2f}, {hi:.2f}] | {m['accuracy_complete4']:.3f} "
        f"[{lo4:.2f}, {hi4:.2f}] | {m['accuracy']:.3f} | {pg} |"
    )


def header() -> str:
    genres = " ".join(g[:4] for g in cv.GENRES)
    return (
        f"| head | macro recall (10) [95%] | acc. 4 complete [95%] | acc. | per-genre recall: {genres} |\n"
        "|---|---|---|---|---|"
    )


def bench_cv(root: Path, cache_dir: Path | None, repeats: int, quick: bool) -> None:
    clips = dm.read_manifest(root)
    labels = np.array([c.label for c in clips])
    data = dm.outputs(clips, "clean", cache_dir=cache_dir)
    print(f"\n## candidate heads: {len(clips)} clips, StratifiedGroupKFold 5 x {repeats}\n", flush=True)
    print(header(), flush=True)
    for cand in candidates(quick):
        t0 = time.perf_counter()
        res = cv.cross_validate(cand, data, labels, n_folds=5, n_repeats=repeats)
        print(row(cand.name, res.metrics) + f" <!-- {time.perf_counter() - t0:.0f} s -->", flush=True)

    from genrekit.models.tagger import POOLINGS, TagGenreModel

    print("\n## tag taxonomy (musicnn, 13 genres; all clips, nothing trained)\n", flush=True)
    print(header().replace("| head |", "| mapping |"), flush=True)
    for pooling in POOLINGS:
        model = TagGenreModel(pooling=pooling).fit()
        m = cv.taxonomy_scores(
            data, labels, lambda t, model=model: (list(model.classes_), model.predict_proba(t))
        )
        print(
            row(f"musicnn taxonomy, {pooling} of tags", m)
            + f" (outside GTZAN: {m['answered_outside_gtzan']})"
        )


def _write_long_tracks(root: Path, tmp: Path, per_genre: int, limit: int | None = None) -> list[Path]:
    """8 clips of one genre concatenated (about 4 min), ``per_genre`` tracks per genre; and each
    music_examples recording looped to 4 min. Written as 22.05 kHz FLAC (libsndfile crashed writing
    minutes of Vorbis in one call)."""
    import soundfile as sf

    from genrekit.audio import load

    clips = dm.read_manifest(root)
    rng = np.random.default_rng(0)
    out: list[Path] = []
    for g in cv.GENRES:
        paths = [c.path for c in clips if c.label == g]
        for k in range(per_genre):
            pick = rng.choice(len(paths), size=min(8, len(paths)), replace=False)
            y = np.concatenate([load(paths[i], sr=22050)[0] for i in pick])
            f = tmp / f"{g}_{k}.flac"
            sf.write(f, y, 22050, format="FLAC")
            out.append(f)
            if limit is not None and len(out) >= limit:
                return out
    examples = root.parent / "music_examples"
    for p in sorted(examples.glob("*.ogg")):
        y, _ = load(p, sr=22050, max_duration_s=None)
        reps = int(np.ceil(240 * 22050 / len(y)))
        f = tmp / f"example_{p.stem}.flac"
        sf.write(f, np.tile(y, reps)[: 240 * 22050], 22050, format="FLAC")
        out.append(f)
    return out


def _agreement(full_proba: list[np.ndarray], clf: object, k: int | None) -> list[bool]:
    """Per track: does the answer from the ``k`` segments ``select_segments`` picks equal the full answer?

    The sampled rows are the full analysis's rows (tested), so this is what ``Classifier(max_segments=k)``
    answers, computed from one full analysis per track.
    """
    from genrekit.predict import select_segments

    out = []
    for p in full_proba:
        keep = select_segments(len(p), k)
        out.append(bool(np.argmax(aggregate_rows(clf, p[keep])) == np.argmax(aggregate_rows(clf, p))))
    return out


def bench_songs(root: Path, per_genre: int, repeats: int, segments: list[int], *, cost_only: bool) -> None:
    import soundfile as sf

    from genrekit.audio import load
    from genrekit.predict import load_model

    clf = load_model("gtzan")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tracks = _write_long_tracks(root, tmp, per_genre, limit=1 if cost_only else None)
        full_proba = []
        same, n = 0, 0
        for f in [] if cost_only else tracks:
            a = clf.predict(f, max_duration_s=None)  # the default: only the sampled windows are decoded
            y, sr = load(f, sr=clf.sr, max_duration_s=None)
            proba, _ = clf.segment_proba(y, sr, full=True)
            full_proba.append(proba)
            b = clf.classes_[int(np.argmax(aggregate_rows(clf, proba)))]
            same += a.genre == b
            n += 1
            if a.genre != b:
                print(f"  differs: {f.name}: sampled {a.genre} {a.confidence:.2f}, full {b}")
        print("\n## whole songs\n")
        if not cost_only:
            print(
                f"sampled (default, max_segments={clf.max_segments}, windows decoded) = full analysis on "
                f"{same}/{n} long tracks ({same / n:.1%})"
            )
            for k in segments:
                agree = _agreement(full_proba, clf, k)
                print(f"  {k:2d} segments: {sum(agree)}/{len(agree)} ({sum(agree) / len(agree):.1%})")
        # cost: a 4-min file against a 30 s file (both 22.05 kHz FLAC of real music)
        y, _ = load(tracks[0], sr=22050, max_duration_s=None)
        short = tmp / "short.flac"
        sf.write(short, y[: 30 * 22050], 22050, format="FLAC")

        print(f"cost, pairs interleaved (30 s file, 4-min file), median of {repeats} per-pair ratios:")
        for k in [clf.max_segments, *[k for k in segments if k != clf.max_segments and k <= 16]]:
            c = clf if k == clf.max_segments else dataclasses_replace_segments(clf, k)
            cost_row(c, short, tracks[0], repeats, label=f"{k} segments")
        cost_row(clf, short, tracks[0], max(3, repeats // 3), label="--full", full=True)
        print(f"load average {os.getloadavg()[0]:.2f}")


def dataclasses_replace_segments(clf: object, k: int) -> object:
    """The classifier ``clf`` with ``max_segments=k``."""
    from genrekit.predict import Classifier

    return Classifier(clf.extractor, clf.model, aggregation=clf.aggregation, name=clf.name, max_segments=k)


def cost_row(clf: object, short: Path, long: Path, repeats: int, *, label: str, full: bool = False) -> None:
    """Time ``clf.predict`` on the 30 s and the 4-min file in turn; print the medians and the ratio.

    Wall and CPU time (``time.process_time``: all of the process's threads) are both given: on a shared
    machine the CPU-time ratio is the steadier one.
    """
    clf.predict(short)
    clf.predict(long, max_duration_s=None, full=full)
    rows = []
    for _ in range(repeats):
        one = []
        for path, kw in ((short, {}), (long, {"max_duration_s": None, "full": full})):
            w0, c0 = time.perf_counter(), time.process_time()
            clf.predict(path, **kw)
            one += [time.perf_counter() - w0, time.process_time() - c0]
        rows.append(one)
    a = np.array(rows)  # (repeats, 4): short wall, short CPU, long wall, long CPU
    med = np.median(a, axis=0)
    print(
        f"  {label:12s} 30 s file {med[0]:.3f} s wall / {med[1]:.3f} s CPU; 4-min file {med[2]:.3f} / "
        f"{med[3]:.3f}; ratio {np.median(a[:, 2] / a[:, 0]):.2f}x wall, {np.median(a[:, 3] / a[:, 1]):.2f}x "
        "CPU (aim <= 1.3x)"
    )


def aggregate_rows(clf: object, proba: np.ndarray) -> np.ndarray:
    """The track probabilities the classifier's aggregation gives for segment rows ``(n, n_classes)``."""
    from genrekit.models.aggregate import aggregate_track

    return aggregate_track(proba, method=clf.aggregation)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio", type=Path)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="penultimate embeddings only")
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--skip-songs", action="store_true")
    ap.add_argument("--tracks-per-genre", type=int, default=4)
    ap.add_argument("--repeats-timing", type=int, default=9, help="whole songs: timed pairs per row")
    ap.add_argument("--cost-only", action="store_true", help="whole songs: the cost only, not the agreement")
    ap.add_argument(
        "--segments",
        default="10,12,14,16",
        help="whole songs: also report agreement with the full analysis at these numbers of sampled segments",
    )
    args = ap.parse_args()
    print(cpu_info())
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if not args.skip_cv:
        bench_cv(args.audio, args.cache_dir, args.repeats, args.quick)
    if not args.skip_songs:
        segments = [int(k) for k in args.segments.split(",") if k.strip()]
        per_genre, repeats = args.tracks_per_genre, args.repeats_timing
        bench_songs(args.audio, per_genre, repeats, segments, cost_only=args.cost_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
