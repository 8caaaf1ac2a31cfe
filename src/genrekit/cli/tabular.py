"""Tabular commands (`genrekit tabular ...`): genre from feature tables instead of audio."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from genrekit.cli import (
    TopKOpt,
    app,
    build_config,
    console,
    err_console,
    handle_errors,
    parse_list,
    parse_options,
    say,
)
from genrekit.cli.groups import OptionGroup, option_groups
from genrekit.cli.help import App
from genrekit.cli.options import BundleOutOpt, ModelKindOpt, ReportOpt, SearchOpt, SeedOpt
from genrekit.cli.output import FormatOpt, Output, OutputDirOpt
from genrekit.config import TableTrainConfig
from genrekit.errors import ConfigError

sub = App(
    help="Genre from feature tables (Spotify-style audio features, the Kaggle GTZAN table): "
    "clean, compare models, train bundles, predict rows.",
    no_args_is_help=True,
)
app.add_typer(sub, name="tabular")

TableArg = Annotated[
    Path, typer.Argument(help="Table: .csv, .tsv, .parquet, .json or .jsonl, one row per track.")
]
LabelOpt = Annotated[str, typer.Option("--label", "-l", help="Label column (e.g. playlist_genre).")]
FeaturesOpt = Annotated[
    str | None,
    typer.Option(
        help="Feature columns: comma-separated names, 'spotify', or 'auto' (numeric columns minus ids)."
    ),
]
ExcludeOpt = Annotated[str | None, typer.Option(help="Comma-separated columns never used as features.")]
IdOpt = Annotated[str, typer.Option(help="Track id column ('auto': track_id, id, filename, ...; 'none').")]
ArtistOpt = Annotated[str, typer.Option(help="Artist column ('auto': artist, track_artist, ...; 'none').")]
LabelMapOpt = Annotated[Path | None, typer.Option(help="Label mapping: CSV (from,to) or JSON object.")]
DuplicatesOpt = Annotated[
    str, typer.Option(help="A track listed with different labels: 'majority' (ties dropped) or 'drop'.")
]
MinCountOpt = Annotated[int, typer.Option(help="Drop labels with fewer rows than this.")]
SplitOpt = Annotated[
    Path | None,
    typer.Option(help="Folder of train/valid/test lists, or one test list (matched on file-name stems)."),
]
TestSizeOpt = Annotated[float, typer.Option(help="Held-out fraction of rows, grouped and stratified.")]
GroupByOpt = Annotated[str, typer.Option(help="Split groups: auto (artist when known), track or artist.")]


def _none(value: str) -> str | None:
    return None if value.lower() == "none" else value


@dataclass(frozen=True)
class TableReading(OptionGroup):
    """How a table is read and cleaned (``clean``, ``compare``, ``train``): ``load_table``'s options."""

    features: FeaturesOpt = None
    exclude: ExcludeOpt = None
    id_column: IdOpt = "auto"
    artist_column: ArtistOpt = "auto"
    label_map: LabelMapOpt = None
    duplicates: DuplicatesOpt = "majority"
    min_label_count: MinCountOpt = 2

    def config_fields(self) -> dict[str, Any]:
        """The group as :class:`TableTrainConfig` fields: ``--exclude a,b`` a tuple, ``none`` columns None."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "exclude": tuple(parse_list(self.exclude)) if self.exclude else (),
            "id_column": _none(self.id_column),
            "artist_column": _none(self.artist_column),
        }


def _table_config(args: dict[str, Any], reading: TableReading, **parsed: Any) -> TableTrainConfig:
    """The command's :class:`TableTrainConfig`, built once from its options (``args``: its ``locals()``).

    The table-reading options come parsed from ``reading``, then ``parsed`` (options such as ``--param``
    that need their own parsing) goes over them.
    """
    return build_config(TableTrainConfig, args, **reading.config_fields(), **parsed)


def _read_grid(value: str | None) -> dict[str, Any] | None:
    """A JSON object given inline or as a file path."""
    if value is None:
        return None
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--grid is neither a JSON object nor a JSON file ({exc})") from None
    if not isinstance(grid, dict):
        raise ConfigError("--grid must be a JSON object {parameter: [values]}")
    return grid


def _print_cleaning(report: Any, limit: int = 5) -> None:
    err_console.print(report.to_text(limit=limit), highlight=False, soft_wrap=True)


@sub.command("clean")
@handle_errors
@option_groups
def clean(
    table: TableArg,
    label: LabelOpt,
    reading: TableReading = TableReading(),
    out: Annotated[Path | None, typer.Option(help="Write the cleaned table (.csv or .parquet).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    limit: Annotated[int | None, typer.Option(help="Rows shown per reason (default: all).")] = None,
) -> None:
    """Clean a table and print every row and column left out, and why."""
    cfg = _table_config(locals(), reading)
    import pandas as pd

    from genrekit.tabular import load_table

    data, report = load_table(table, label=label, **cfg.load_options())
    if json_out:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        console.print(report.to_text(limit=limit), highlight=False, soft_wrap=True)
    if out is not None:
        df = pd.DataFrame(data.X, columns=data.features)
        df.insert(0, data.label_column, data.y)
        df.insert(0, data.id_column or "track_id", data.track_ids)
        if data.artists is not None:
            df.insert(1, data.artist_column or "artist", data.artists)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(out, index=False)
        else:
            df.to_csv(out, index=False)
        err_console.print(f"{len(df)} rows x {len(data.features)} features -> {out}")


@sub.command("compare")
@handle_errors
@option_groups
def compare(
    table: TableArg,
    label: LabelOpt,
    report: ReportOpt,
    models: Annotated[
        str,
        typer.Option(
            metavar="KIND,...",
            show_default=False,
            help="Comma-separated model families. Default: logreg, knn, rf, svm, xgboost, mlp.",
        ),
    ] = "logreg,knn,rf,svm,xgboost,mlp",
    reading: TableReading = TableReading(),
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", metavar="KIND:KEY=VALUE", help="Model parameter kind:key=value (logreg:C=0.1)."
        ),
    ] = None,
    search: Annotated[
        bool, typer.Option("--search", help="Grid-search each model with grouped CV on the training side.")
    ] = False,
    grid: Annotated[
        str | None,
        typer.Option(help="JSON (inline or file) {kind: {param: [values]}} replacing default grids."),
    ] = None,
    split_file: SplitOpt = None,
    test_size: TestSizeOpt = 0.2,
    folds: Annotated[int | None, typer.Option(help="K grouped folds instead of one holdout.")] = None,
    group_by: GroupByOpt = "auto",
    seed: SeedOpt = 0,
    workers: Annotated[int, typer.Option(help="Parallel jobs (-1: all cores).")] = 1,
    fmt: FormatOpt = "table",
    output_dir: OutputDirOpt = None,
) -> None:
    """Compare model families on one cleaned table and split; write a report (with the cleaning report)."""
    per_kind: dict[str, dict[str, Any]] = {}
    for item in param or []:
        kind, sep, kv = item.partition(":")
        if not sep:
            raise ConfigError(f"--param {item!r} must be of the form kind:key=value (e.g. logreg:C=0.1)")
        per_kind.setdefault(kind.strip(), {}).update(parse_options([kv]))
    cfg = _table_config(
        locals(), reading, models=parse_list(models), model_params=per_kind, grids=_read_grid(grid) or {}
    )
    from genrekit.cli.core import _print_runs
    from genrekit.tabular import compare_table

    out = Output(fmt, output_dir, name="tabular-compare")
    res = compare_table(table, cfg, report=report, workers=workers)
    _print_cleaning(res.cleaning)
    for note in res.notes:
        say(err_console, ("note:", "yellow"), f" {note}")
    _print_runs(res.runs, out)
    out.note(f"split: {res.split}")
    out.note(f"report: {res.report}")
    out.close()


@sub.command("train")
@handle_errors
@option_groups
def train(
    table: TableArg,
    label: LabelOpt,
    out: BundleOutOpt,
    model: ModelKindOpt = "xgboost",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", metavar="KEY=VALUE", help="Model parameter key=value (C=0.1, transform=power)."
        ),
    ] = None,
    search: SearchOpt = False,
    grid: Annotated[
        str | None, typer.Option(help="JSON (inline or file) {param: [values]} to search.")
    ] = None,
    extractor: Annotated[
        str | None,
        typer.Option(
            help="Audio extractor whose columns the table holds (handcrafted): the bundle classifies audio."
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", metavar="KEY=VALUE", help="Extractor option key=value (segment_s=null)."
        ),
    ] = None,
    reading: TableReading = TableReading(),
    split_file: SplitOpt = None,
    test_size: Annotated[float, typer.Option(help="Held-out fraction of rows (0: train on all).")] = 0.2,
    group_by: GroupByOpt = "auto",
    seed: SeedOpt = 0,
    workers: Annotated[int, typer.Option(help="Parallel jobs (-1: all cores).")] = 1,
) -> None:
    """Train a model on a feature table and save it as a bundle."""
    given = _read_grid(grid)
    cfg = _table_config(
        locals(),
        reading,
        params=parse_options(param),
        grids={model: given} if given is not None else {},
        extractor_options=parse_options(option),
    )
    from genrekit.tabular import train_table

    res = train_table(table, cfg, out=out, workers=workers)
    _print_cleaning(res.cleaning)
    if res.split is not None:
        for note in res.split.notes:
            say(err_console, ("note:", "yellow"), f" {note}")
    if res.bundle.extra.get("search"):
        s = res.bundle.extra["search"]
        console.print(f"search: best {s['best_params']} (CV macro-F1 {s['best_score_f1_macro']:.3f})")
    if res.run is not None:
        t = res.run.result.track
        console.print(
            f"{model}: test accuracy {t.accuracy:.3f}, macro-F1 {t.macro_f1:.3f}, log loss {t.log_loss:.3f} "
            f"({res.run.result.n_tracks} rows), fit {res.run.fit_time_s:.1f} s"
        )
    console.print(f"bundle written to {res.out}")


@sub.command("predict")
@handle_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Bundle trained on a table.")],
    rows: Annotated[Path, typer.Argument(help="Feature rows: .csv, .tsv, .parquet, .json or .jsonl.")],
    top_k: TopKOpt = 3,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the genre and top-k probabilities of every row."""
    from genrekit.bundle import load_bundle
    from genrekit.tabular import predict_rows, read_table

    bundle = load_bundle(model_dir)
    results = predict_rows(bundle, read_table(rows), top_k=top_k)
    for r in results:
        if json_out:
            print(json.dumps(r))
            continue
        name = f"row {r['row']}" + (f" ({r['id']})" if "id" in r else "")
        tops = ", ".join(f"{t['genre']} {t['probability']:.1%}" for t in r["top_k"])
        say(console, (name, "bold"), f": {r['genre']}  ({tops})")
