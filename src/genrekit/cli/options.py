"""Typer parameter types that several commands share: one declaration, one help text.

Each is an ``Annotated`` alias used as a parameter's type (``seed: SeedOpt = 0``); the default stays at
the command. ``{models}`` and ``{features}`` in a help text are filled in by :mod:`genrekit.cli.help`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataArg = Annotated[Path, typer.Argument(help="Folder-per-genre tree or manifest CSV.")]
LabelledDataArg = Annotated[Path, typer.Argument(help="Labelled data.")]
BundleOutOpt = Annotated[Path, typer.Option(help="Bundle directory (or .zip) to write.")]
ReportOpt = Annotated[Path, typer.Option(help="Report folder to write.")]
ModelRefOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME|BUNDLE",
        help="Pretrained model ({pretrained}; default gtzan; see `genrekit models`) "
        "or a bundle directory/zip.",
    ),
]
ModelKindOpt = Annotated[str, typer.Option(metavar="KIND", help="Model family: {models}.")]
ExtractorOptionOpt = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", metavar="KEY=VALUE", help="Extractor option key=value."),
]
SearchOpt = Annotated[
    bool, typer.Option("--search", help="Grid search with grouped CV on the training side.")
]
AugmentCopiesOpt = Annotated[int, typer.Option(help="Degraded copies per training file.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed (split, model initialisation).")]
WorkersOpt = Annotated[int, typer.Option(help="Parallel processes (-1: all cores).")]
CacheDirOpt = Annotated[Path | None, typer.Option(help="Feature cache folder.")]
MinConfidenceOpt = Annotated[
    float | None, typer.Option(help="Answer 'unsure' when the top probability is below this.")
]
