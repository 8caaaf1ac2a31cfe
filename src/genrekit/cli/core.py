"""Core commands: synth, scan, features, train, evaluate, compare, classify."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from genrekit.cli import (
    EXIT_PARTIAL,
    TopKOpt,
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
    state,
)
from genrekit.cli.groups import OptionGroup, option_groups
from genrekit.cli.options import (
    AugmentCopiesOpt,
    BundleOutOpt,
    CacheDirOpt,
    DataArg,
    ExtractorOptionOpt,
    LabelledDataArg,
    MinConfidenceOpt,
    ModelKindOpt,
    ModelRefOpt,
    ReportOpt,
    SearchOpt,
    SeedOpt,
    WorkersOpt,
)
from genrekit.cli.output import (
    RUN_COLUMNS,
    RUNS_TITLE,
    Column,
    FormatOpt,
    Output,
    OutputDirOpt,
    StageTimer,
    progress,
    run_rows,
)
from genrekit.config import MAX_TOP_K, TrainConfig
from genrekit.errors import ConfigError, GenreKitError

FeaturesOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="Feature extractor: {features}. Default: what the model family needs (`genrekit models`).",
    ),
]
SplitMissingOpt = Annotated[
    str,
    typer.Option(
        metavar="error|ignore",
        help="Split-list entries naming clips you do not have: error, or ignore (counted).",
    ),
]


@dataclass(frozen=True)
class Compute(OptionGroup):
    """How a workflow runs, not what it computes (so not in its config): processes and feature cache."""

    workers: WorkersOpt = 1
    cache_dir: CacheDirOpt = None

    def keywords(self) -> dict[str, Any]:
        """The workflow's keywords: these options and a progress bar when stderr is a terminal."""
        return {"workers": self.workers, "cache_dir": self.cache_dir, "progress": sys.stderr.isatty()}


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
    data: DataArg,
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
    hint = flat_folder_hint(data, report)
    if hint:
        say(err_console, ("hint:", "yellow"), f" {hint}")
    if report.problems:
        raise typer.Exit(EXIT_PARTIAL)


def flat_folder_hint(data: Path, report: Any) -> str | None:
    """When ``data`` holds audio files directly and no genre folders: the layout training needs."""
    from genrekit.config import AUDIO_EXTENSIONS

    if report.counts or not data.is_dir():
        return None
    stray = [p for p in report.ignored if Path(p).suffix.lower() in AUDIO_EXTENSIONS and "/" not in p]
    if not stray:
        return None
    return (
        f"{data} holds {len(stray)} audio file(s) directly and no genre folders: labelled data is one "
        f"folder per genre ({data}/rock/a.wav, {data}/jazz/b.wav, ...) or a manifest CSV (path,label). "
        f"To classify unlabelled files: `genrekit batch classify {data} --out RESULTS/`."
    )


@app.command()
@handle_errors
@option_groups
def features(
    data: DataArg,
    out: Annotated[Path, typer.Option(help="Output parquet (or .csv) file.")],
    extractor: Annotated[str, typer.Option(help="Feature extractor name.")] = "handcrafted",
    option: ExtractorOptionOpt = None,
    compute: Compute = Compute(),
) -> None:
    """Extract segment features of a dataset into a table (one row per segment)."""
    import pandas as pd

    from genrekit.data.folders import load_dataset
    from genrekit.features.registry import get_extractor
    from genrekit.training import extract_features

    ext = get_extractor(extractor, **parse_options(option))
    dataset = load_dataset(data)
    fs = extract_features(dataset, ext, **compute.keywords())
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
@option_groups
def train(
    data: DataArg,
    out: BundleOutOpt,
    features: FeaturesOpt = None,
    option: ExtractorOptionOpt = None,
    model: ModelKindOpt = "svm",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="Model parameter key=value."),
    ] = None,
    search: SearchOpt = False,
    split_file: Annotated[
        Path | None, typer.Option(help="Test list, or folder of train/valid/test lists.")
    ] = None,
    split_missing: SplitMissingOpt = "error",
    test_size: Annotated[float, typer.Option(help="Held-out fraction of tracks (0: train on all).")] = 0.2,
    aggregation: Annotated[
        str,
        typer.Option(
            metavar="NAME", help="How segment probabilities make the track's: mean_log, mean_prob or vote."
        ),
    ] = "mean_log",
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate", help="Fit a temperature on the validation tracks and store it in the bundle."
        ),
    ] = False,
    augment: Annotated[
        str | None, typer.Option(help="Degraded training copies, e.g. noise,codec (see genrekit.degrade).")
    ] = None,
    augment_copies: AugmentCopiesOpt = 1,
    seed: SeedOpt = 0,
    compute: Compute = Compute(),
) -> None:
    """Train a model on labelled audio and save it as a bundle."""
    from genrekit.models.registry import default_features

    cfg = build_config(
        TrainConfig,
        locals(),
        features=features or default_features(model),
        feature_options=parse_options(option),
        params=parse_options(param),
    )
    from genrekit.metrics import accuracy_with_interval, small_test_warnings
    from genrekit.training import train as train_fn

    res = train_fn(data, cfg, out=out, **compute.keywords())
    if res.run is not None:
        t = res.run.result.track
        console.print(
            f"{cfg.model} on {cfg.features}: test accuracy "
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
@option_groups
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="Bundle to evaluate.")],
    data: LabelledDataArg,
    report: ReportOpt,
    split_file: Annotated[Path | None, typer.Option(help="Score on this test list only.")] = None,
    split_missing: SplitMissingOpt = "error",
    folds: Annotated[int | None, typer.Option(help="Retrain the bundle's recipe on K grouped folds.")] = None,
    seed: SeedOpt = 0,
    compute: Compute = Compute(),
    importance: Annotated[
        bool, typer.Option("--importance", help="Add permutation importance of the named features.")
    ] = False,
    fmt: FormatOpt = "table",
    output_dir: OutputDirOpt = None,
) -> None:
    """Evaluate a bundle on labelled data and write a report (with reliability diagrams and ECE)."""
    cfg = build_config(TrainConfig, locals())
    from genrekit.training import evaluate as evaluate_fn

    out = Output(fmt, output_dir, name="evaluate")
    res = evaluate_fn(model_dir, data, cfg, report=report, **compute.keywords())
    _print_runs(res.runs, out)
    if res.importance is not None:
        top = res.importance.head(5)
        out.line(
            "most important features: "
            + ", ".join(f"{r.feature} ({r.accuracy_drop_mean:+.3f} acc)" for r in top.itertuples())
        )
    out.note(f"report: {res.report}")
    out.close()
    report_failures(res.failures)


@app.command()
@handle_errors
@option_groups
def compare(
    data: LabelledDataArg,
    report: ReportOpt,
    features: FeaturesOpt = None,
    option: ExtractorOptionOpt = None,
    models: Annotated[
        str,
        typer.Option(
            metavar="KIND,...",
            show_default=False,
            help="Comma-separated model families: {models}. Default: knn, logreg, rf, svm, xgboost, mlp.",
        ),
    ] = "knn,logreg,rf,svm,xgboost,mlp",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="[KIND:]KEY=VALUE",
            help="Model parameter key=value (every model), or kind:key=value (that model only).",
        ),
    ] = None,
    search: Annotated[bool, typer.Option("--search", help="Grid search each model.")] = False,
    split_file: Annotated[Path | None, typer.Option(help="Test list, or folder of lists.")] = None,
    split_missing: SplitMissingOpt = "error",
    folds: Annotated[int | None, typer.Option(help="K grouped folds instead of one split.")] = None,
    test_size: Annotated[float, typer.Option(help="Held-out fraction of tracks.")] = 0.2,
    augment: Annotated[str | None, typer.Option(help="Degraded training copies, e.g. noise,codec.")] = None,
    augment_copies: AugmentCopiesOpt = 1,
    seed: SeedOpt = 0,
    compute: Compute = Compute(),
    ablate: Annotated[
        bool, typer.Option("--ablate", help="Refit without each hand-crafted feature group (report section).")
    ] = False,
    separability: Annotated[
        bool, typer.Option("--separability", help="Genre-pair separability heat map in the report.")
    ] = False,
    fmt: FormatOpt = "table",
    output_dir: OutputDirOpt = None,
) -> None:
    """Compare model families on the same features and split, side by side."""
    kinds = parse_list(models)
    cfg = build_config(
        TrainConfig,
        locals(),
        features=features or _shared_features(kinds),
        feature_options=parse_options(option),
        models=kinds,
        model_params=per_model_params(param, kinds),
    )
    from genrekit.training import compare as compare_fn

    out = Output(fmt, output_dir, name="compare")
    res = compare_fn(data, cfg, report=report, **compute.keywords())
    _print_runs(res.runs, out)
    for r in res.ablation or []:
        if r["dropped"] != "none":
            out.line(
                f"{r['model']} without {r['dropped']}: accuracy {r['accuracy']:.3f}, change "
                f"{r['change']:+.3f} (95% {r['change_lo']:+.3f} .. {r['change_hi']:+.3f})"
            )
    out.note(f"report: {res.report}")
    out.close()
    report_failures(res.failures)


def _shared_features(kinds: list[str]) -> str:
    """The features every compared family reads by default, or ConfigError asking for ``--features``."""
    from genrekit.models.registry import default_features

    wanted = {k: default_features(k) for k in kinds}
    if len(set(wanted.values())) > 1:
        pairs = ", ".join(f"{k}: {v}" for k, v in wanted.items())
        raise ConfigError(
            f"the compared models read different features ({pairs}); choose one with --features"
        )
    return next(iter(wanted.values()), "handcrafted")


def _print_runs(runs: list[Any], out: Output | None = None) -> None:
    """The models' track-level results (``output.RUN_COLUMNS``), then small-test warnings on stderr."""
    from genrekit.metrics import small_test_warnings

    (out or Output(name="results")).table(run_rows(runs), RUN_COLUMNS, title=RUNS_TITLE)
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


def _explanation_lines(ex: dict[str, Any]) -> list[str]:
    """The runner-up and the segments most for and against, with units (``explain.explanation_lines``)."""
    from genrekit.explain import explanation_lines

    return [f"  {line}" for line in explanation_lines(ex)]


#: ``classify --format csv|tsv``: one row per file (``json``: the full prediction, one per line).
CLASSIFY_COLUMNS: tuple[Column, ...] = (
    Column("source", "file", right=False),
    Column("genre", "genre", right=False),
    Column("confidence", "confidence"),
    Column("unsure", "unsure"),
    Column("top_k", "top genres", right=False),
    Column("duration_s", "duration (s)"),
    Column("elapsed_ms", "time (ms)"),
    Column("error", "error", right=False),
)


def _exists(path: Path, *, folder: bool = False) -> bool:
    """``path`` is a file (a folder with ``folder=True``); False when the name cannot even be looked up.

    The look-up's own error (a name too long, no permission) is left to the reader of the file, which
    reports it for that file alone.
    """
    try:
        return path.is_dir() if folder else path.is_file()
    except OSError:
        return False


def folder_hint(path: Path) -> str:
    """What to do with a folder given where audio files are expected."""
    return (
        f"{path} is a folder: use `genrekit batch classify {path} --out RESULTS/` for a whole folder, "
        "or pass the audio files (a model folder needs its bundle.json)"
    )


@app.command()
@handle_errors
def classify(
    files: Annotated[
        list[Path], typer.Argument(help="Audio files (a folder: use `genrekit batch classify`).")
    ],
    model: ModelRefOpt = None,
    top_k: TopKOpt = 3,
    segments: Annotated[bool, typer.Option("--segments", help="Show the genre of every segment.")] = False,
    fmt: FormatOpt = "table",
    json_out: Annotated[
        bool, typer.Option("--json", help="Same as --format json (one object per line).")
    ] = False,
    output_dir: OutputDirOpt = None,
    crop_s: Annotated[
        float | None, typer.Option(help="Classify only this many seconds around the middle.")
    ] = None,
    min_confidence: MinConfidenceOpt = None,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show the runner-up and the segments most for and against."),
    ] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Analyse every segment (default: at most 12 spread over the track)."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Time per stage (decode, features, network, total) on stderr; = genrekit -v.",
        ),
    ] = False,
) -> None:
    """Print the genre and top-k probabilities of each file.

    The model may also be given as the first argument when it is a bundle directory or zip.
    Formats: table (one line per file), json (one object per file and line), csv or tsv (one row per
    file). With -v, per-stage timings go to stderr.
    """
    from genrekit.predict import load_model

    out = Output("json" if json_out else fmt, output_dir, name="classify")
    if out.fmt in ("csv", "tsv") and (segments or explain):
        raise ConfigError("--segments and --explain are shown with --format table or json, not csv/tsv")
    model, files = _model_and_files(model, files)
    clf = load_model(model)
    timer = StageTimer() if verbose or state.verbose else None
    if timer is not None:
        clf = timer.attach(clf)
    rows: list[dict[str, Any]] = []
    failed = 0
    with progress(len(files), "classifying") as advance:
        for f in files:
            t0 = time.perf_counter()
            if timer is not None:
                timer.reset()
            try:
                pred = clf.predict(
                    f, crop_s=crop_s, min_confidence=min_confidence, explain=explain, full=full
                )
            except GenreKitError as exc:
                failed += 1
                rows.append({"source": str(f), "error": str(exc)})
                if out.fmt == "json":
                    out.record({"source": str(f), "error": str(exc)})
                else:
                    say(err_console, (f"{f}: {exc.message}", "red"))
                advance()
                continue
            if timer is not None:
                say(err_console, f"{f}: {timer.line(time.perf_counter() - t0)}")
            advance()
            rows.append(_show_prediction(out, f, pred, top_k, segments=segments, explain=explain))
    if out.fmt in ("csv", "tsv"):
        out.table(rows, CLASSIFY_COLUMNS)
    out.close()
    exit_for_failures(failed, len(files))


def _model_and_files(model: str | None, files: list[Path]) -> tuple[str | None, list[Path]]:
    """The model (the first argument when it is a bundle directory or zip) and the audio files, checked.

    Exits with code 2 when no file is left or one of them is a folder.
    """
    if model is None and files and (files[0].suffix == ".zip" or _exists(files[0] / "bundle.json")):
        model, files = str(files[0]), files[1:]
    if not files:
        fail("no audio files given", 2)
    for f in files:
        if _exists(f, folder=True):
            fail(folder_hint(f), 2)
    return model, files


def _show_prediction(
    out: Output, f: Path, pred: Any, top_k: int, *, segments: bool, explain: bool
) -> dict[str, Any]:
    """Write one file's prediction in ``out``'s format (csv/tsv: later, from the row); return its row."""
    tops = pred.top_k(top_k)
    if out.fmt == "json":
        out.record(pred.to_dict(top_k=top_k, segments=segments))
    elif out.fmt == "table":
        out.line((str(f), "bold"), f": {pred.genre}  ({', '.join(f'{g} {p:.1%}' for g, p in tops)})")
        for s in pred.segments if segments else []:
            out.line(f"  {s.start_s:7.2f}-{s.end_s:7.2f} s  {s.genre}")
        for line in _explanation_lines(pred.extra["explanation"]) if explain else []:
            out.line(line)
    return {
        "source": str(f),
        "genre": pred.genre,
        "confidence": pred.confidence,
        "unsure": pred.unsure,
        "top_k": ", ".join(f"{g} {p:.3f}" for g, p in tops),
        "duration_s": pred.duration_s,
        "elapsed_ms": pred.elapsed_ms,
    }


def exit_for_failures(failed: int, total: int) -> None:
    """Exit with code 6 (:data:`EXIT_PARTIAL`) when some of ``total`` items failed, 3 when all did."""
    if failed:
        raise typer.Exit(EXIT_PARTIAL if failed < total else 3)


@app.command()
@handle_errors
def tags(
    files: Annotated[list[Path], typer.Argument(help="Audio files.")],
    which: Annotated[
        str, typer.Option("--which", metavar="msd|mtt|both", help="Which tagger's tags.")
    ] = "both",
    top_k: Annotated[
        int,
        typer.Option(
            "--top-k", min=1, max=MAX_TOP_K, help=f"How many tags per model, 1-{MAX_TOP_K} (50: all)."
        ),
    ] = 10,
    top: Annotated[int | None, typer.Option("--top", min=1, max=MAX_TOP_K, hidden=True)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the raw musicnn tags (MSD and/or MTT, 50 each) of each file, averaged over its patches."""
    from genrekit.audio import load
    from genrekit.features.registry import get_extractor
    from genrekit.models.tagger import top_tags

    k = top if top is not None else top_k
    if which not in ("msd", "mtt", "both"):
        raise ConfigError(f"--which must be msd, mtt or both, got {which!r}")
    for f in files:
        if _exists(f, folder=True):
            fail(folder_hint(f).replace("batch classify", "batch features"), 2)
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
        result = {m: top_tags(t, which=m, k=k) for m in (["msd", "mtt"] if which == "both" else [which])}
        if json_out:
            print(json.dumps({"source": str(f), **{m: dict(v) for m, v in result.items()}}))
            continue
        say(console, (str(f), "bold"))
        for m, v in result.items():
            say(console, f"  {m.upper()}: " + ", ".join(f"{name} {p:.2f}" for name, p in v))
    exit_for_failures(failed, len(files))
