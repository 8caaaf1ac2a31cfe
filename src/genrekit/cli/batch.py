"""Batch commands (``genrekit batch classify|features|show``): catalogue runs, locally or on Dask."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from genrekit.cli import (
    EXIT_PARTIAL,
    TopKOpt,
    app,
    console,
    err_console,
    handle_errors,
    parse_list,
    parse_options,
    say,
)
from genrekit.cli.groups import OptionGroup, option_groups
from genrekit.cli.help import App
from genrekit.cli.options import ExtractorOptionOpt, MinConfidenceOpt, ModelRefOpt
from genrekit.cli.output import Column, FormatOpt, Output, OutputDirOpt

sub = App(
    help="Classify or extract features of a whole catalogue, resumably, locally or on a Dask cluster.",
    no_args_is_help=True,
)
app.add_typer(sub, name="batch")

InputArg = Annotated[
    Path,
    typer.Argument(help="Folder (walked recursively), manifest .csv (path[,label]) or text file of paths."),
]
OutOpt = Annotated[Path, typer.Option(help="Output folder of parquet parts (created; re-run to resume).")]
WorkersOpt = Annotated[int, typer.Option(help="Local worker processes (1: this process; -1: all cores).")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="Address of a running Dask scheduler, e.g. tcp://HOST:8786.")
]
DaskLocalOpt = Annotated[
    int | None, typer.Option("--dask-local", help="Start a local Dask cluster with N workers for this run.")
]
ChunkOpt = Annotated[int, typer.Option(help="Files per task and per part file.")]
InFlightOpt = Annotated[
    int | None, typer.Option(help="Tasks in flight at once (default: 2 per worker); bounds memory.")
]
RetryOpt = Annotated[bool, typer.Option("--retry-errors", help="Redo files whose latest row is an error.")]
CropOpt = Annotated[
    float | None, typer.Option(help="Only use this many seconds around the middle of each file.")
]
ExtOpt = Annotated[
    str | None,
    typer.Option(help="Comma-separated audio extensions taken from a folder (default: all known)."),
]
ProgressOpt = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."),
]


@dataclass(frozen=True)
class BatchRun(OptionGroup):
    """How a batch goes over the catalogue (``classify``, ``features``): engine, chunks, files, progress."""

    workers: WorkersOpt = 1
    scheduler: SchedulerOpt = None
    dask_local: DaskLocalOpt = None
    chunk_size: ChunkOpt = 32
    max_in_flight: InFlightOpt = None
    retry_errors: RetryOpt = False
    crop_s: CropOpt = None
    extensions: ExtOpt = None
    progress: ProgressOpt = None

    def keywords(self) -> dict[str, Any]:
        """The keywords of ``classify_batch`` / ``features_batch`` these options give (``run_batch``'s)."""
        kw: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extensions"}
        kw["progress"] = "auto" if self.progress is None else self.progress
        if self.extensions:
            kw["extensions"] = [e if e.startswith(".") else f".{e}" for e in parse_list(self.extensions)]
        return kw


def _run(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        res = fn(*args, **kwargs)
    except KeyboardInterrupt:
        msg = "interrupted: finished chunks are saved; re-run the same command to resume"
        say(err_console, (msg, "yellow"))
        raise
    if res.dashboard:
        console.print(f"Dask dashboard: {res.dashboard}", highlight=False)
    console.print(res.summary(), highlight=False, soft_wrap=True)
    if res.processed:
        rtf = f", real-time factor {res.realtime_factor:.4f}" if res.audio_s else ""
        console.print(f"{res.elapsed_s:.1f} s for {res.audio_s:.0f} s of audio{rtf}", highlight=False)
    if res.error_samples:
        say(err_console, (f"{res.errors} file(s) failed in this run", "yellow"), " (first ones):")
        for path, msg in res.error_samples[:10]:
            err_console.print(f"  {path}: {msg}", highlight=False, soft_wrap=True)
    if res.remaining_errors:
        err_console.print(
            f"{res.remaining_errors} input file(s) have an error row in {res.out}; "
            "`genrekit batch show` lists them",
            highlight=False,
        )
        raise typer.Exit(EXIT_PARTIAL)


@sub.command("classify")
@handle_errors
@option_groups
def classify(
    input: InputArg,
    out: OutOpt,
    model: ModelRefOpt = None,
    top_k: TopKOpt = 3,
    run: BatchRun = BatchRun(),
    min_confidence: MinConfidenceOpt = None,
) -> None:
    """Classify every audio file of INPUT into the parquet folder OUT (one row per file).

    Re-running the same command resumes: files already done (same path and content) are skipped.
    Exit code 6 when some files have error rows.
    """
    from genrekit.batch import classify_batch

    _run(
        classify_batch,
        input,
        out,
        model=model,
        top_k=top_k,
        min_confidence=min_confidence,
        **run.keywords(),
    )


@sub.command("features")
@handle_errors
@option_groups
def features(
    input: InputArg,
    out: OutOpt,
    extractor: Annotated[
        str, typer.Option(metavar="NAME", help="Feature extractor: {features}.")
    ] = "handcrafted",
    option: ExtractorOptionOpt = None,
    per_segment: Annotated[
        bool, typer.Option("--per-segment", help="One row per segment instead of the mean over segments.")
    ] = False,
    run: BatchRun = BatchRun(),
) -> None:
    """Extract features of every audio file of INPUT into the parquet folder OUT.

    One row per file with the mean feature vector over its segments (``features``) and ``n_segments``,
    or one row per segment with --per-segment. A manifest's ``label`` column is carried into the rows.
    """
    from genrekit.batch import features_batch

    _run(
        features_batch,
        input,
        out,
        extractor=extractor,
        options=parse_options(option),
        per_segment=per_segment,
        **run.keywords(),
    )


GENRE_COLUMNS: tuple[Column, ...] = (
    Column("genre", "genre", right=False, priority=0),
    Column("files", "files", priority=0),
    Column("share", "share of files", "share", fmt=lambda v: f"{v:.1%}", priority=0),
)
FEATURE_COLUMNS: tuple[Column, ...] = (
    Column("files", "files"),
    Column("ok", "ok"),
    Column("errors", "errors"),
    Column("rows", "rows"),
    Column("features", "features per row"),
)


@sub.command("show")
@handle_errors
def show(
    out: Annotated[Path, typer.Argument(help="A batch output folder.")],
    export: Annotated[
        Path | None, typer.Option(help="Write the de-duplicated rows to this .csv or .parquet file.")
    ] = None,
    errors: Annotated[int, typer.Option(help="How many error rows to list.")] = 20,
    fmt: FormatOpt = "table",
    output_dir: OutputDirOpt = None,
) -> None:
    """Summarise a batch output: files per genre (classify) or feature size, and the failed files."""
    from genrekit.batch import export_csv, read_meta, read_results

    result = Output(fmt, output_dir, name="batch-show")
    meta = read_meta(out)
    sig = meta["signature"]
    df = read_results(out)
    files = df.drop_duplicates("path")
    result.line(f"{out}: batch {sig['kind']} ({sig.get('model') or sig.get('extractor', {}).get('name')})")
    counts = files["status"].value_counts().to_dict()
    n_ok, n_err = counts.get("ok", 0), counts.get("error", 0)
    result.line(f"{len(files)} files: {n_ok} ok, {n_err} error(s)")
    ok = files[files["status"] == "ok"]
    if sig["kind"] == "classify":
        rows = [
            {"genre": g, "files": int(n), "share": n / len(ok)} for g, n in ok["genre"].value_counts().items()
        ]
        result.table(rows, GENRE_COLUMNS, title="files per genre")
    else:
        n_feat = len(meta.get("feature_names", []))
        row = {"files": len(files), "ok": n_ok, "errors": n_err, "rows": len(df), "features": n_feat}
        result.table([row], FEATURE_COLUMNS)
    bad = files[files["status"] != "ok"]
    for _, row in bad.head(errors).iterrows():
        err_console.print(f"  {row['path']}: {row['error']}", highlight=False)
    if export is not None:
        export.parent.mkdir(parents=True, exist_ok=True)
        if export.suffix.lower() == ".csv":
            export_csv(df, export)
        else:
            df.to_parquet(export, index=False)
        result.note(f"{len(df)} rows -> {export}")
    result.close()
