"""Long files in batch: CPU seconds per 4-minute file of ``run_batch``, against 30 s clips and ``predict``.

    python benchmarks/bench_batch_long.py [--data /work/shared/data/gtzan_audio] [--n 12] [--model gtzan]
                                          [--repeats 3] [--threads 1] [--json out.json]

Builds ``--n`` tracks of about 4 minutes (8 GTZAN clips of one genre laid end to end, 22.05 kHz wav) in a
temporary folder (never in the repository), then, with one model object and one thread for torch and
BLAS as in ``bench_batch_overhead.py`` (whose helpers it uses): a serial ``run_batch`` over the long
tracks, a loop of ``Classifier.predict(path)`` over them, and a serial ``run_batch`` over ``--n`` of the
30 s clips. The runs alternate and the lowest of ``--repeats`` of each is kept. It prints CPU s/file of
each, batch long / batch clip (``predict`` on a 4-minute song costs ~1.2x a 30 s clip by reading only
its sampled windows) and the largest difference between the batch rows' and ``predict``'s
probabilities (1e-6: batch reads long files as ``predict`` does). Run against an older tree
(``PYTHONPATH=...``) to measure it before a change.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch_overhead import (  # noqa: E402
    add_run_args,
    batched,
    limit_threads,
    pick_files,
    print_cpu,
    single,
)

CLIPS_PER_TRACK = 8


def write_long_tracks(data: Path, n: int, tmp: Path) -> list[Path]:
    """``n`` tracks of ``CLIPS_PER_TRACK`` clips of one genre each (about 4 min), as 22.05 kHz wav."""
    import soundfile as sf

    from genrekit.audio import load

    clips = pick_files(data, 10_000)
    genres = sorted({c.name.split(".")[0] for c in clips})
    out = []
    for k in range(n):
        genre = genres[k % len(genres)]
        mine = [c for c in clips if c.name.split(".")[0] == genre]
        start = (k // len(genres)) * CLIPS_PER_TRACK
        pick = [mine[(start + j) % len(mine)] for j in range(CLIPS_PER_TRACK)]
        y = np.concatenate([load(p, sr=22050)[0] for p in pick])
        f = tmp / f"{genre}_{k}.wav"
        sf.write(f, y, 22050, subtype="PCM_16")
        out.append(f)
    return out


def max_difference(out: Path, preds: dict[str, Any]) -> tuple[float, int]:
    """Largest |batch - predict| probability over the rows, and the number of differing genres."""
    from genrekit.batch import read_results

    worst, genres = 0.0, 0
    for r in read_results(out).itertuples():
        p = preds[r.path]
        got = dict(zip(r.top_genres, r.top_probs, strict=True))
        worst = max(worst, max(abs(got[g] - q) for g, q in p.probabilities.items()))
        genres += r.genre != p.genre
    return worst, genres


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(ap, n=12)
    args = ap.parse_args()

    from genrekit.predict import load_model

    cpu = print_cpu()
    work = Path(tempfile.mkdtemp(prefix="genrekit-bench-long-"))
    try:
        tracks = write_long_tracks(args.data, args.n, work)
        clips = pick_files(args.data, args.n)
        limit_threads(args.threads)
        clf = load_model(args.model)
        clf.predict(tracks[0])  # warm: first-call costs are not part of any side
        model = None if args.model == "gtzan" else args.model
        lists = {}
        for name, files in (("long", tracks), ("clips", clips)):
            lists[name] = work / f"{name}.txt"
            lists[name].write_text("".join(f"{f}\n" for f in files))
        b_long, s_long, b_clip, diffs = [], [], [], []
        for i in range(args.repeats):
            c, _, out = batched(lists["long"], work / f"long-{i}", model, args.threads, len(tracks))
            b_long.append(c)
            c, _, preds = single(clf, tracks)
            s_long.append(c)
            diffs.append(max_difference(out, preds))
            c, _, _ = batched(lists["clips"], work / f"clips-{i}", model, args.threads, len(clips))
            b_clip.append(c)
            print(f"repeat {i + 1}: batch long {b_long[-1]:.3f}, predict long {s_long[-1]:.3f}, "
                  f"batch clip {b_clip[-1]:.3f} CPU s/file", flush=True)  # fmt: skip
        seconds = float(np.mean([clf.predict(t).duration_s for t in tracks]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst, genres = max(d[0] for d in diffs), max(d[1] for d in diffs)
    result = {
        "files": len(tracks),
        "track_s": seconds,
        "model": args.model,
        "threads": args.threads,
        "batch_long_cpu_s_per_file": min(b_long),
        "predict_long_cpu_s_per_file": min(s_long),
        "batch_clip_cpu_s_per_file": min(b_clip),
        "batch_long_over_clip": min(b_long) / min(b_clip),
        "batch_over_predict_long": min(b_long) / min(s_long),
        "max_probability_difference": worst,
        "genres_differing": genres,
        "cpu": cpu,
    }
    print(
        f"\n{len(tracks)} tracks of {seconds:.0f} s and {len(clips)} clips of 30 s, model {args.model}, "
        f"{args.threads} thread(s)\n"
        f"batch (serial run_batch), long tracks: {min(b_long):.3f} CPU s/file\n"
        f"Classifier.predict, long tracks:       {min(s_long):.3f} CPU s/file\n"
        f"batch (serial run_batch), 30 s clips:  {min(b_clip):.3f} CPU s/file\n"
        f"batch long / batch clip = {result['batch_long_over_clip']:.2f}; "
        f"batch / predict on long tracks = {result['batch_over_predict_long']:.2f}\n"
        f"batch rows vs predict: max probability difference {worst:.2g}, {genres} genre(s) differ"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
