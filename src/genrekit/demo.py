"""``make demo``: the main job end to end on embedded defaults, with no downloads.

1. synthesize a small genre corpus (procedural audio, GTZAN layout),
2. scan it,
3. compare every classical model family on hand-crafted features (grouped split) and write a report,
4. train an SVM bundle and classify a few held-out clips with it,
5. classify real recordings (``../shared/data/music_examples`` when present, else synthesized clips)
   with the pretrained musicnn genre tagger, no training at all.

Run ``python -m genrekit.demo [OUT_DIR] [--per-genre N] [--duration-s S]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

console = Console(markup=False, highlight=False, soft_wrap=True)  # file names are data, not markup

#: The real recordings beside a development checkout (``<repo>/../shared/data/music_examples``);
#: ``GENREKIT_EXAMPLES`` points elsewhere.
MUSIC_EXAMPLES = Path(
    os.environ.get(
        "GENREKIT_EXAMPLES",
        Path(__file__).resolve().parents[2].parent / "shared" / "data" / "music_examples",
    )
)


def _step(title: str) -> float:
    console.rule(Text(title, style="bold"))
    return time.perf_counter()


def run(out: Path, *, per_genre: int = 8, duration_s: float = 10.0, seed: int = 0, workers: int = -1) -> int:
    """Run the demo into ``out``; returns a process exit code."""
    from genrekit.datasets import scan
    from genrekit.evaluate import comparison_table
    from genrekit.predict import load_model
    from genrekit.synth import write_corpus
    from genrekit.training import compare, train

    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus"
    t = _step(f"1. synthesize {per_genre} x {duration_s:.0f} s clips per genre -> {corpus}")
    paths = write_corpus(corpus, per_genre=per_genre, duration_s=duration_s, seed=seed, workers=workers)
    console.print(f"{len(paths)} clips in {time.perf_counter() - t:.1f} s")

    _step("2. scan")
    console.print(scan(corpus).to_text(), highlight=False)

    t = _step("3. compare model families on hand-crafted features (3 s segments, grouped split)")
    res = compare(
        corpus,
        features="handcrafted",
        report=out / "report",
        seed=seed,
        workers=workers,
        cache_dir=out / "cache",
    )
    df = comparison_table(res.runs)[
        ["model", "track_accuracy", "track_macro_f1", "track_log_loss", "fit_s", "predict_ms_per_track"]
    ]
    df.columns = ["model", "accuracy", "macro-F1", "log loss", "fit s", "predict ms/track"]
    console.print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    console.print(f"report: {res.report / 'report.html'}  ({time.perf_counter() - t:.1f} s)")

    t = _step("4. train an SVM bundle and classify held-out clips")
    tr = train(
        corpus,
        features="handcrafted",
        model="svm",
        out=out / "model",
        seed=seed,
        workers=workers,
        cache_dir=out / "cache",
    )
    if tr.run is not None:
        acc = tr.run.result.track.accuracy
        console.print(f"test accuracy {acc:.3f} on {tr.run.result.n_tracks} held-out tracks; bundle {tr.out}")
    clf = load_model(out / "model")
    test_ids = set(tr.run.result.track_keys.tolist()) if tr.run is not None else set()
    shown = [p for p in paths if any(str(p.with_suffix("")).endswith(k) for k in test_ids)][
        :: max(1, per_genre)
    ][:5]
    for p in shown or paths[:3]:
        pred = clf.predict(p)
        tops = ", ".join(f"{g} {v:.0%}" for g, v in pred.top_k(3))
        console.print(Text.assemble(f"{p.relative_to(corpus)}: ", (pred.genre, "bold"), f"  ({tops})"))

    t = _step("5. pretrained musicnn genre tagger, no training")
    examples = sorted(MUSIC_EXAMPLES.glob("*.ogg")) if MUSIC_EXAMPLES.is_dir() else []
    if not examples:
        console.print("(no ../shared/data/music_examples here: classifying synthesized clips instead)")
        examples = paths[::per_genre][:5]
    tagger = load_model(None)
    for p in examples:
        pred = tagger.predict(p, crop_s=30.0)
        tops = ", ".join(f"{g} {v:.0%}" for g, v in pred.top_k(3))
        console.print(
            Text.assemble(f"{p.name}: ", (pred.genre, "bold"), f"  ({tops})  [{pred.elapsed_ms:.0f} ms]")
        )
    console.print(f"done in {time.perf_counter() - t:.1f} s; everything is in {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m genrekit.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", nargs="?", default="demo", type=Path)
    parser.add_argument("--per-genre", type=int, default=8)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=-1)
    args = parser.parse_args(argv)
    from genrekit.errors import GenreKitError

    try:
        return run(
            args.out,
            per_genre=args.per_genre,
            duration_s=args.duration_s,
            seed=args.seed,
            workers=args.workers,
        )
    except GenreKitError as exc:
        console.print(Text.assemble(("error:", "red"), f" {exc}"))
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
