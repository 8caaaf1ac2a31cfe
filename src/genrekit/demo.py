"""``make demo``: the main job end to end on embedded defaults, with no downloads.

1. synthesize a small genre corpus (procedural audio, GTZAN layout),
2. scan it,
3. compare every classical model family on hand-crafted features (grouped split) and write a report,
4. train an SVM bundle and classify a few held-out clips with it,
5. classify real recordings with the default pretrained model (gtzan), no training: the three short
   Creative-Commons / public-domain excerpts shipped in ``genrekit/demo_audio`` (licences in its
   LICENSES.md), plus every audio file of the folder ``GENREKIT_EXAMPLES`` names, when set (e.g.
   ``GENREKIT_EXAMPLES=../shared/data/music_examples``). They are classified exactly as
   ``genrekit classify FILE`` does (whole file, same ``Classifier.predict`` call).

Run ``python -m genrekit.demo [OUT_DIR] [--per-genre N] [--duration-s S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

console = Console(markup=False, highlight=False, soft_wrap=True)  # file names are data, not markup

#: The real recordings shipped with genrekit (short excerpts; licences and attribution in LICENSES.md).
DEMO_AUDIO = Path(__file__).resolve().parent / "demo_audio"
#: Environment variable naming an extra folder of recordings for step 5.
EXAMPLES_ENV = "GENREKIT_EXAMPLES"
_AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".mp3", ".opus", ".aiff", ".au")


def demo_recordings() -> list[tuple[Path, str]]:
    """The recordings step 5 classifies, as ``(path, credit)``: the shipped ones, then the extra folder."""
    try:
        index = json.loads((DEMO_AUDIO / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    shipped = [
        (p, "{title} by {artist} ({licence})".format(**index[p.name]) if p.name in index else "")
        for p in sorted(DEMO_AUDIO.glob("*.ogg"))
    ]
    extra_dir = os.environ.get(EXAMPLES_ENV)
    extra: list[tuple[Path, str]] = []
    if extra_dir and Path(extra_dir).is_dir():
        files = sorted(p for p in Path(extra_dir).iterdir() if p.suffix.lower() in _AUDIO_SUFFIXES)
        extra = [(p, f"from {EXAMPLES_ENV}") for p in files[:20]]
    return shipped + extra


def _step(title: str) -> float:
    console.rule(Text(title, style="bold"))
    return time.perf_counter()


def run(out: Path, *, per_genre: int = 8, duration_s: float = 10.0, seed: int = 0, workers: int = -1) -> int:
    """Run the demo into ``out``; returns a process exit code."""
    from genrekit.data.folders import scan
    from genrekit.metrics import comparison_table
    from genrekit.predict import load_model
    from genrekit.synth import write_corpus
    from genrekit.training import compare, train

    t_start = time.perf_counter()
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

    _classify_real_recordings()
    console.print(f"done in {time.perf_counter() - t_start:.1f} s; everything is in {out}")
    return 0


def _classify_real_recordings() -> None:
    """Step 5: the pretrained tagger on :func:`demo_recordings`, called as ``genrekit classify FILE`` does."""
    from genrekit.predict import load_model

    _step("5. the default pretrained model (gtzan) on real recordings, as `genrekit classify` does")
    if not os.environ.get(EXAMPLES_ENV):
        console.print(f"(set {EXAMPLES_ENV}=FOLDER to classify your own recordings here too)")
    tagger = load_model(None)
    for p, credit in demo_recordings():
        pred = tagger.predict(p)  # the whole file, no crop: what `genrekit classify FILE` calls
        tops = ", ".join(f"{g} {v:.0%}" for g, v in pred.top_k(3))
        console.print(
            Text.assemble(f"{p.name}: ", (pred.genre, "bold"), f"  ({tops})  [{pred.elapsed_ms:.0f} ms]")
        )
        if credit:
            console.print(f"    {credit}", style="dim")


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
