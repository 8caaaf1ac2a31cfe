"""The ``robustness`` command: accuracy of models under degraded audio (noise, codecs, band-limiting...)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from genrekit.cli import app, console, handle_errors, report_failures
from genrekit.cli.options import ReportOpt
from genrekit.cli.output import Column, Output


@app.command()
@handle_errors
def robustness(
    model_dirs: Annotated[
        list[str],
        typer.Argument(
            help="Models to compare: bundle directories or zips, or pretrained names ('gtzan', the default "
            "model; 'musicnn', the tag taxonomy; see `genrekit models`).",
            metavar="MODEL_DIR...",
        ),
    ],
    data: Annotated[Path, typer.Argument(help="Labelled audio: folder-per-genre tree or manifest CSV.")],
    report: ReportOpt,
    degradations: Annotated[
        str,
        typer.Option(
            help="Comma-separated degradations or groups (noise, codec, bandlimit, gain, stretch, pitch, "
            "reverb, all)."
        ),
    ] = "all",
    split_file: Annotated[
        Path | None,
        typer.Option(help="Score only the test list (file, or folder of train/valid/test lists)."),
    ] = None,
    max_tracks: Annotated[
        int | None, typer.Option(help="Score at most this many tracks (balanced over genres).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the track choice and of the random degradations.")] = 0,
    workers: Annotated[int, typer.Option(help="Parallel processes over tracks.")] = 1,
) -> None:
    """Track accuracy of each model on clean audio and under each degradation at several strengths."""
    from genrekit.robustness import evaluate_robustness, write_robustness_report

    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\r{done}/{total} tracks", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = evaluate_robustness(
        model_dirs,
        data,
        degradations=degradations,
        split_file=split_file,
        max_tracks=max_tracks,
        seed=seed,
        workers=workers,
        progress=progress,
    )
    out = write_robustness_report(report, result)
    acc = result.pivot("accuracy")
    columns = [Column("condition", "condition", right=False, priority=0)] + [
        Column(f"m{i}", str(m), priority=1) for i, m in enumerate(acc.columns)
    ]
    rows = [
        {"condition": str(cond), **{f"m{i}": float(v) for i, v in enumerate(row)}}
        for cond, row in zip(acc.index, acc.to_numpy(), strict=True)
    ]
    Output(name="robustness").table(rows, columns, title=f"track accuracy ({result.info['tracks']} tracks)")
    console.print(f"report: {out}")
    report_failures(result.failures)
