"""The ``models`` command: the pretrained models ``classify --model NAME`` takes, with no training."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from genrekit.cli import app, console, handle_errors


def _figure(acc: dict[str, object], key: str) -> str:
    v = acc.get(key)
    return f"{v:.1%}" if isinstance(v, (int, float)) else "-"


@app.command()
@handle_errors
def models(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON list of the models.")] = False,
) -> None:
    """List the pretrained models (name, genres, networks, measured accuracy); the default first."""
    from genrekit.pretrained import list_models

    found = list_models()
    if json_out:
        print(json.dumps([m.to_dict() for m in found]))
        return
    table = Table(title="pretrained models (classify --model NAME)", show_lines=True)
    for col in ("name", "genres", "networks", "macro recall", "acc. blues/classical/jazz/pop", "measured on"):
        table.add_column(col, overflow="fold")
    for m in found:
        table.add_row(
            m.name + (" (default)" if m.to_dict()["default"] else ""),
            f"{len(m.genres)}: {', '.join(m.genres)}",
            "+".join(n.upper() for n in m.networks),
            _figure(m.accuracy, "macro_recall"),
            _figure(m.accuracy, "accuracy_complete4"),
            str(m.accuracy.get("measured", "-")),
        )
    console.print(table)
