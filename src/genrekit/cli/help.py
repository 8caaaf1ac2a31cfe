"""How ``--help`` reads: click-style usage lines and value names, plain help text, lazy choice lists.

typer prints required arguments as ``{files}...`` and value types as ``<bool>`` / ``<list[Path]>``.
:class:`Command` (every genrekit command is one, through :class:`App`) prints instead:

- usage ``genrekit classify [OPTIONS] FILES...`` (optional arguments in brackets);
- value names ``PATH``, ``INTEGER``, ``FLOAT``, ``TEXT``, ``a|b|c`` for choices, nothing for flags;
- help text read as text, not rich markup (``{kind: [values]}`` stays), without reST double
  backquotes, and with the single line breaks of a docstring paragraph joined;
- ``{models}``, ``{features}``, ``{pretrained}`` in an option's help replaced, when help is shown, by
  the registered names (the registries import scikit-learn, so only ``--help`` pays for them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape
from typer import _click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_TYPE_NAMES = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "path": "PATH", "bool": ""}


def _model_kinds() -> str:
    from genrekit.models.registry import available

    return ", ".join(available())


def _feature_names() -> str:
    from genrekit.features.registry import available

    return ", ".join(available())


def _pretrained_names() -> str:
    from genrekit.pretrained import names

    return ", ".join(names())


#: ``{name}`` in an option's help -> the text it stands for, computed when help is printed.
CHOICES: dict[str, Callable[[], str]] = {
    "models": _model_kinds,
    "features": _feature_names,
    "pretrained": _pretrained_names,
}


def plain_help(text: str | None) -> str | None:
    """Docstring text as help: reST double backquotes dropped, paragraphs joined into single lines."""
    if not text:
        return text
    text = re.sub(r"``([^`]+)``", r"\1", text)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(paragraphs)


class _Argument(TyperArgument):
    """An argument shown by its upper-case name only (``FILES...``), with no ``<type>``."""

    def display_type_rich(self, ctx: _click.Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if self.nargs != 1 and not name.endswith("..."):
            name += "..."
        return name if self.required else f"[{name}]"


class _Option(TyperOption):
    """An option whose value is named ``PATH``, ``INTEGER``, ``a|b`` ...; flags show no value."""

    def display_type_rich(self, ctx: _click.Context) -> str | None:
        if self.metavar is not None:
            return self.metavar
        if self.is_flag:
            return None
        label = self.display_type(ctx).strip("<>")
        label = re.sub(r"^list\[(.*)\]$", r"\1", label).removesuffix(" range")
        return _TYPE_NAMES.get(label.lower(), label)


def polish(param: Any) -> None:
    """Give a typer parameter the help look described in the module docstring (in place)."""
    if isinstance(param, TyperArgument) and not isinstance(param, _Argument):
        param.__class__ = _Argument
        if param.metavar is None:
            param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
    elif isinstance(param, TyperOption) and not isinstance(param, _Option):
        param.__class__ = _Option
    if getattr(param, "help", None):
        param.help = escape(plain_help(param.help) or "")


class _Polished:
    """Shared by :class:`Command` and :class:`Group`: polish the parameters and the ``--help`` option."""

    params: list[Any]
    help: str | None

    def _polish_all(self) -> None:
        self.help = escape(plain_help(self.help) or "") or None
        for p in self.params:
            polish(p)

    def get_help_option(self, ctx: _click.Context) -> Any:
        opt = super().get_help_option(ctx)  # type: ignore[misc]
        if opt is not None:
            polish(opt)
        return opt


class Group(_Polished, TyperGroup):
    """The top-level ``genrekit`` and its sub-groups (``batch``, ``tabular``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._polish_all()


class Command(_Polished, TyperCommand):
    """A typer command with the help look of this module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._polish_all()

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        for p in self.params:
            text = getattr(p, "help", None)
            if text and "{" in text:
                p.help = re.sub(r"\{(\w+)\}", lambda m: CHOICES[m[1]]() if m[1] in CHOICES else m[0], text)
        super().format_help(ctx, formatter)


class App(typer.Typer):
    """``typer.Typer`` whose group is :class:`Group` and commands :class:`Command` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)
