"""Core commands: synth, scan, features, train, evaluate, compare, classify."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genrekit.cli import (
    EXIT_PARTIAL,
    app,
    build_config,
    console,
    err_console,
    fail,
    handle_errors,
    parse_list,
    parse_options,
    report_failures,
    say,
)
from genrekit.config import TrainConfig
from genrekit.errors import GenreKitError


# ------------------------------------------------------------------------------------------------ data
@app.command()
@handle_errors
def synth(
    out: Annotated[Path, typer.Argument(help="Output folder (GTZAN layout: OUT/<genre>/<genre>.00000.wav).")],
    per_genre: Annotated[int, typer.Option(help="Clips per genre.")] = 10,
    duration_s: Annotated[float, typer.Option(help="Seconds per clip.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same audio).")] = 0,
    genres: Annotated[str | None, typer.Option(help="Comma-separated subset of genres.")] = None,
    workers: Annotated[int, typer.Option(help="Parallel processes.")] = 1,
) -> None:
    """Synthesize a genre-labelled corpus of procedural music (no downloads)."""
    from genrekit.synth import write_corpus

    paths = write_corpus(
        out,
        per_genre=per_genre,
        duration_s=duration_s,
        seed=seed,
        genres=parse_list(genres) if genres else None,
        workers=workers,
    )
    console.print(f"wrote {len(paths)} clips to {out}")


@app.command()
@handle_errors
def scan(
    data: Annotated[Path, typer.Argument(help="Folder-per-genre tree or manifest CSV.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    no_check: Annotated[bool, typer.Option("--no-check", help="Do not open the files.")] = False,
) -> None:
    """Count files per genre and list unreadable or unsupported files."""
    from genrekit.data.folders import scan as scan_data

    report = scan_data(data, check_audio=not no_check)
    if json_out:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        console.print(report.to_text(), highlight=False)
    if report.problems:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
@handle_errors
def features(
    data: Annotated[Path, typer.Argument(help="Folder-per-genre tree or manifest CSV.")],
    out: Annotated[Path, typer.Option(help="Output parquet (or .csv) file.")],
    extractor: Annotated[str, typer.Option(help="Feature extractor name.")] = "handcrafted",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Extractor option key=value.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Parallel processes (-1: all cores).")] = 1,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
) -> None:
    """Extract segment features of a dataset into a table (one row per segment)."""
    import pandas as pd

    from genrekit.data.folders import load_dataset
    from genrekit.features.registry import get_extractor
    from genrekit.training import extract_features

    ext = get_extractor(extractor, **parse_options(option))
    dataset = load_dataset(data)
    fs = extract_features(dataset, ext, workers=workers, cache_dir=cache_dir, progress=sys.stderr.isatty())
    df = pd.DataFrame(fs.X, columns=fs.names)
    df.insert(0, "label", fs.y)
    df.insert(0, "track_id", fs.groups)
    df.insert(2, "segment", df.groupby("track_id").cumcount())
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        df.to_csv(out, index=False)
    else:
        df.to_parquet(out, index=False)
    console.print(
        f"{len(df)} segments x {len(fs.names)} features from {df.track_id.nunique()} tracks -> {out}"
    )
    report_failures(fs.failures)


# ---------------------------------------------------------------------------------------------- models
@app.command()
@handle_errors
def train(
    data: Annotated[Path, typer.Argument(help="Folder-per-genre tree or manifest CSV.")],
    out: Annotated[Path, typer.Option(help="Bundle directory (or .zip) to write.")],
    features: Annotated[str, typer.Option(help="Feature extractor.")] = "handcrafted",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Extractor option key=value.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model kind.")] = "svm",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Model parameter key=value.")
    ] = None,
    search: Annotated[bool, typer.Option(help="Grid search with grouped CV on the training side.")] = False,
    split_file: Annotated[
        Path | None, typer.Option(help="Test list, or folder of train/valid/test lists.")
    ] = None,
    split_missing: Annotated[
        str, typer.Option(help="Split-list entries naming clips you do not have: error or ignore (counted).")
    ] = "error",
    test_size: Annotated[float, typer.Option(help="Held-out fraction of tracks (0: train on all).")] = 0.2,
    aggregation: Annotated[str, typer.Option(help="mean_log, mean_prob or vote.")] = "mean_log",
    calibrate: Annotated[
        bool, typer.Option(help="Fit a temperature on the validation tracks and store it in the bundle.")
    ] = False,
    augment: Annotated[
        str | None, typer.Option(help="Degraded training copies, e.g. noise,codec (see genrekit.degrade).")
    ] = None,
    augment_copies: Annotated[int, typer.Option(help="Degraded copies per training file.")] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option(help="Parallel processes (-1: all cores).")] = 1,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
) -> None:
    """Train a model on labelled audio and save it as a bundle."""
    cfg = build_config(
        TrainConfig, locals(), feature_options=parse_options(option), params=parse_options(param)
    )
    from genrekit.evaluate import accuracy_with_interval, small_test_warnings
    from genrekit.training import train as train_fn

    res = train_fn(data, cfg, out=out, **_where(workers, cache_dir))
    if res.run is not None:
        t = res.run.result.track
        console.print(
            f"{model} on {features}: test accuracy "
            f"{accuracy_with_interval(t.accuracy, res.run.result.n_tracks)}, macro-F1 {t.macro_f1:.3f} "
            f"({res.run.result.n_tracks} tracks), fit {res.run.fit_time_s:.1f} s",
            highlight=False,
        )
        console.print(f"split: {res.split}", highlight=False)
        for line in small_test_warnings(res.run.result):
            say(err_console, ("warning: ", "yellow"), line)
    console.print(f"bundle written to {res.out}")
    report_failures(res.failures)


@app.command()
@handle_errors
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="Bundle to evaluate.")],
    data: Annotated[Path, typer.Argument(help="Labelled data.")],
    report: Annotated[Path, typer.Option(help="Report folder to write.")],
    split_file: Annotated[Path | None, typer.Option(help="Score on this test list only.")] = None,
    split_missing: Annotated[
        str, typer.Option(help="Split-list entries naming clips you do not have: error or ignore (counted).")
    ] = "error",
    folds: Annotated[int | None, typer.Option(help="Retrain the bundle's recipe on K grouped folds.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option()] = 1,
    cache_dir: Annotated[Path | None, typer.Option()] = None,
    importance: Annotated[
        bool, typer.Option("--importance", help="Add permutation importance of the named features.")
    ] = False,
) -> None:
    """Evaluate a bundle on labelled data and write a report (with reliability diagrams and ECE)."""
    cfg = build_config(TrainConfig, locals())
    from genrekit.training import evaluate as evaluate_fn

    res = evaluate_fn(model_dir, data, cfg, report=report, **_where(workers, cache_dir))
    _print_runs(res.runs)
    if res.importance is not None:
        top = res.importance.head(5)
        console.print(
            "most important features: "
            + ", ".join(f"{r.feature} ({r.accuracy_drop_mean:+.3f} acc)" for r in top.itertuples()),
            highlight=False,
        )
    console.print(f"report: {res.report}")
    report_failures(res.failures)


@app.command()
@handle_errors
def compare(
    data: Annotated[Path, typer.Argument(help="Labelled data.")],
    report: Annotated[Path, typer.Option(help="Report folder to write.")],
    features: Annotated[str, typer.Option(help="Feature extractor.")] = "handcrafted",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Extractor option key=value.")
    ] = None,
    models: Annotated[
        str, typer.Option(help="Comma-separated model kinds.")
    ] = "knn,logreg,rf,svm,xgboost,mlp",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Model parameter key=value (every model), or kind:key=value (that model only).",
        ),
    ] = None,
    search: Annotated[bool, typer.Option(help="Grid search each model.")] = False,
    split_file: Annotated[Path | None, typer.Option(help="Test list, or folder of lists.")] = None,
    split_missing: Annotated[
        str, typer.Option(help="Split-list entries naming clips you do not have: error or ignore (counted).")
    ] = "error",
    folds: Annotated[int | None, typer.Option(help="K grouped folds instead of one split.")] = None,
    test_size: Annotated[float, typer.Option()] = 0.2,
    augment: Annotated[str | None, typer.Option(help="Degraded training copies, e.g. noise,codec.")] = None,
    augment_copies: Annotated[int, typer.Option()] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option()] = 1,
    cache_dir: Annotated[Path | None, typer.Option()] = None,
    ablate: Annotated[
        bool, typer.Option("--ablate", help="Refit without each hand-crafted feature group (report section).")
    ] = False,
    separability: Annotated[
        bool, typer.Option("--separability", help="Genre-pair separability heat map in the report.")
    ] = False,
) -> None:
    """Compare model families on the same features and split, side by side."""
    kinds = parse_list(models)
    cfg = build_config(
        TrainConfig,
        locals(),
        feature_options=parse_options(option),
        models=kinds,
        model_params=per_model_params(param, kinds),
    )
    from genrekit.training import compare as compare_fn

    res = compare_fn(data, cfg, report=report, **_where(workers, cache_dir))
    _print_runs(res.runs)
    for r in res.ablation or []:
        if r["dropped"] != "none":
            console.print(
                f"{r['model']} without {r['dropped']}: accuracy {r['accuracy']:.3f}, change "
                f"{r['change']:+.3f} (95% {r['change_lo']:+.3f} .. {r['change_hi']:+.3f})",
                highlight=False,
            )
    console.print(f"report: {res.report}")
    report_failures(res.failures)


def _where(workers: int, cache_dir: Path | None) -> dict[str, Any]:
    """How a workflow runs (not training choices, so not in its config): processes, cache, progress bar."""
    return {"workers": workers, "cache_dir": cache_dir, "progress": sys.stderr.isatty()}


def _print_runs(runs: list[Any]) -> None:
    from genrekit.evaluate import comparison_table, small_test_warnings, wilson_interval

    df = comparison_table(runs)
    n_tracks = {r.name: r.result.n_tracks for r in runs}
    table = Table(title="track-level results (95% CI: Wilson interval of the track accuracy)")
    for col in df.columns:
        table.add_column(col, justify="left" if col == "model" else "right")
        if col == "track_accuracy":
            table.add_column("95% CI", justify="right")
    for _, row in df.iterrows():
        cells = []
        for col, v in row.items():
            cells.append(str(v) if isinstance(v, str) else f"{v:.3f}")
            if col == "track_accuracy":
                n = n_tracks[row["model"]]
                lo, hi = wilson_interval(v * n, n)
                cells.append(f"{lo:.3f}-{hi:.3f} (n={n})")
        table.add_row(*cells)
    console.print(table)
    warned = set()
    for r in runs:
        for line in small_test_warnings(r.result):
            if line not in warned:
                warned.add(line)
                say(err_console, ("warning: ", "yellow"), line)


def per_model_params(items: list[str] | None, kinds: list[str]) -> dict[str, dict[str, Any]]:
    """``--param`` values of ``compare``: ``key=value`` for every model, ``kind:key=value`` for one.

    Raises
    ------
    ConfigError
        ``kind:`` names a model that is not compared.
    """
    from genrekit.errors import ConfigError

    out: dict[str, dict[str, Any]] = {k: {} for k in kinds}
    for item in items or []:
        head = item.split("=", 1)[0]
        if ":" in head:
            kind, rest = item.split(":", 1)
            if kind not in out:
                raise ConfigError(
                    f"--param {item!r} is for model {kind!r}, which is not compared ({', '.join(kinds)})"
                )
            out[kind].update(parse_options([rest]))
        else:
            for k in kinds:
                out[k].update(parse_options([item]))
    return {k: v for k, v in out.items() if v}


def _print_explanation(ex: dict[str, Any]) -> None:
    """The runner-up and the segments most for and against, with units (``explain.explanation_lines``)."""
    from genrekit.explain import explanation_lines

    for line in explanation_lines(ex):
        console.print(f"  {line}", highlight=False)


@app.command()
@handle_errors
def classify(
    files: Annotated[list[Path], typer.Argument(help="Audio files.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Pretrained model name (see `genrekit models`; default gtzan) or a bundle."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option(help="How many genres to show.")] = 3,
    segments: Annotated[bool, typer.Option("--segments", help="Show the genre of every segment.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    crop_s: Annotated[
        float | None, typer.Option(help="Classify only this many seconds around the middle.")
    ] = None,
    min_confidence: Annotated[
        float | None, typer.Option(help="Answer 'unsure' when the top probability is below this.")
    ] = None,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show the runner-up and the segments most for and against."),
    ] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Analyse every segment (default: at most 12 spread over the track)."),
    ] = False,
) -> None:
    """Print the genre and top-k probabilities of each file.

    The model may also be given as the first argument when it is a bundle directory or zip.
    """
    from genrekit.predict import load_model

    if model is None and files and (files[0].is_dir() or files[0].suffix == ".zip"):
        model, files = str(files[0]), files[1:]
    if not files:
        fail("no audio files given", 2)
    clf = load_model(model)
    failed = 0
    for f in files:
        try:
            pred = clf.predict(f, crop_s=crop_s, min_confidence=min_confidence, explain=explain, full=full)
        except GenreKitError as exc:
            failed += 1
            if json_out:
                print(json.dumps({"source": str(f), "error": str(exc)}))
            else:
                say(err_console, (f"{f}: {exc.message}", "red"))
            continue
        if json_out:
            print(json.dumps(pred.to_dict(top_k=top_k, segments=segments)))
            continue
        tops = ", ".join(f"{g} {p:.1%}" for g, p in pred.top_k(top_k))
        say(console, (str(f), "bold"), f": {pred.genre}  ({tops})")
        if segments:
            for s in pred.segments:
                console.print(f"  {s.start_s:7.2f}-{s.end_s:7.2f} s  {s.genre}", highlight=False)
        if explain:
            _print_explanation(pred.extra["explanation"])
    if failed:
        raise typer.Exit(EXIT_PARTIAL if failed < len(files) else 3)


@app.command()
@handle_errors
def tags(
    files: Annotated[list[Path], typer.Argument(help="Audio files.")],
    which: Annotated[str, typer.Option("--which", help="msd, mtt or both.")] = "both",
    top: Annotated[int, typer.Option(help="How many tags per model (50 = all).")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the raw musicnn tags (MSD and/or MTT, 50 each) of each file, averaged over its patches."""
    from genrekit.audio import load
    from genrekit.errors import ConfigError
    from genrekit.features.registry import get_extractor
    from genrekit.models.tagger import top_tags

    if which not in ("msd", "mtt", "both"):
        raise ConfigError(f"--which must be msd, mtt or both, got {which!r}")
    extractor = get_extractor("musicnn", output="tags")
    failed = 0
    for f in files:
        try:
            y, sr = load(f, sr=extractor.sr)
            t = extractor(y, sr)
        except GenreKitError as exc:
            failed += 1
            say(err_console, (f"{f}: {exc.message}", "red"))
            continue
        result = {m: top_tags(t, which=m, k=top) for m in (["msd", "mtt"] if which == "both" else [which])}
        if json_out:
            print(json.dumps({"source": str(f), **{m: dict(v) for m, v in result.items()}}))
            continue
        say(console, (str(f), "bold"))
        for m, v in result.items():
            console.print(f"  {m.upper()}: " + ", ".join(f"{name} {p:.2f}" for name, p in v), highlight=False)
    if failed:
        raise typer.Exit(EXIT_PARTIAL if failed < len(files) else 3)
