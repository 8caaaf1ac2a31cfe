"""The ``models`` command: the pretrained models ``classify --model NAME`` takes; the trainable families."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from genrekit.cli import app, handle_errors, state
from genrekit.cli.output import Column, Output


def _figure(acc: dict[str, object], key: str) -> float | None:
    v = acc.get(key)
    return float(v) if isinstance(v, (int, float)) else None


def _percent(v: Any) -> str:
    return f"{v:.1%}"


PRETRAINED_COLUMNS: tuple[Column, ...] = (
    Column("name", "name", right=False, priority=0),
    Column("genres", "genres", right=False, priority=0, wrap=30),
    Column("networks", "networks", right=False, priority=2),
    Column("macro_recall", "macro recall", "recall", fmt=_percent, priority=1),
    Column(
        "accuracy_complete4", "accuracy on blues/classical/jazz/pop", "acc. (4)", fmt=_percent, priority=3
    ),
    Column("measured", "measured on", right=False, priority=4, wrap=20),
)
FAMILY_COLUMNS: tuple[Column, ...] = (
    Column("family", "family", right=False, priority=0),
    Column("kind", "kind", right=False, priority=0),
    Column("features", "default features", "features", right=False, priority=0),
)


VERBOSE_HELP = "Also the musicnn kernels and precision chosen on this machine (CPU, extensions, torch)."


@app.command()
@handle_errors
def models(
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help='One JSON list of the pretrained models (with --verbose: {"models": [...], '
            '"musicnn": {...}}).',
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)] = False,
) -> None:
    """List the pretrained models (name, genres, networks, measured accuracy) and the trainable families."""
    from genrekit.models.registry import NEURAL_KINDS, available, default_features
    from genrekit.pretrained import list_models

    found = list_models()
    machine = _musicnn_info() if verbose or state.verbose else None
    if json_out:
        listed = [m.to_dict() for m in found]
        print(json.dumps(listed if machine is None else {"models": listed, "musicnn": machine}))
        return
    out = Output(name="models")
    rows = [
        {
            "name": m.name + (" (default)" if m.to_dict()["default"] else ""),
            "genres": f"{len(m.genres)}: {', '.join(m.genres)}",
            "networks": "+".join(n.upper() for n in m.networks),
            "macro_recall": _figure(m.accuracy, "macro_recall"),
            "accuracy_complete4": _figure(m.accuracy, "accuracy_complete4"),
            "measured": str(m.accuracy.get("measured", "-")),
        }
        for m in found
    ]
    out.table(rows, PRETRAINED_COLUMNS, title="pretrained models (classify --model NAME)")
    families = [
        {
            "family": kind,
            "kind": "neural (torch)" if kind in NEURAL_KINDS else "classical",
            "features": default_features(kind),
        }
        for kind in available()
    ]
    out.table(
        families, FAMILY_COLUMNS, title="model families (train --model KIND; --features defaults to these)"
    )
    if machine is not None:
        out.line(("musicnn on this machine", "bold"))
        for key, value in _musicnn_lines(machine):
            out.line(f"  {key:<12s} {value}")


def _musicnn_info() -> dict[str, Any]:
    """:func:`genrekit.features.musicnn.kernels.kernel_info` (imported here: it imports torch, ~1 s)."""
    from genrekit.features.musicnn.kernels import kernel_info

    return kernel_info()


def _musicnn_lines(info: dict[str, Any]) -> list[tuple[str, str]]:
    """``kernel_info()`` as (label, text) lines for the table output."""
    kernels = info["kernels"]
    chosen = ", ".join(f"{block} {kernel}" for block, kernel in kernels.items()) if kernels else "-"
    setting = info["kernel_setting"]
    return [
        ("precision", str(info["precision"])),
        ("kernels", f"{chosen} ({info['source']}{'' if setting == 'auto' else f', forced {setting}'})"),
        ("CPU", str(info["cpu"])),
        ("extensions", " ".join(info["extensions"]) or "none listed"),
        ("torch", f"{info['torch']} ({info['capability']}), {info['threads']} threads"),
        ("cache", str(info["cache"])),
    ]
