"""Option groups: options that go together, declared once, handed to a command as one object.

A group is a frozen dataclass deriving from :class:`OptionGroup` whose fields are typer options: an
``Annotated`` type with its ``typer.Option`` and, as the field's default, the option's default::

    @dataclass(frozen=True)
    class Compute(OptionGroup):
        workers: WorkersOpt = 1
        cache_dir: CacheDirOpt = None

A command takes the group as one parameter (its default: the group's defaults) and is decorated with
:func:`option_groups`, under ``@app.command()`` and ``@handle_errors``::

    @app.command()
    @handle_errors
    @option_groups
    def features(data: DataArg, compute: Compute = Compute(), seed: SeedOpt = 0) -> None: ...

typer builds a command's options from ``inspect.signature(func)`` and its annotations
(``typer.utils.get_params_from_function``). :func:`option_groups` gives the command a signature in which
the group's fields stand, in field order, where the group parameter stood, so ``genrekit features
--help`` lists ``--workers`` and ``--cache-dir`` there, and typer parses and checks them like any other
option (types, ``min``/``max``, flags). The command is then called with ``compute=Compute(workers=...,
cache_dir=...)`` instead of the loose values.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class OptionGroup:
    """Base of the option groups (frozen dataclasses whose fields are typer options; see the module)."""

    @classmethod
    def parameters(cls) -> list[inspect.Parameter]:
        """The group's fields as keyword parameters of a command, with their typer annotations.

        Raises
        ------
        TypeError
            The group is not a dataclass, or a field has a default factory (an option's default is a value).
        """
        if not is_dataclass(cls):
            raise TypeError(f"option group {cls.__name__} must be a dataclass")
        hints = typing.get_type_hints(cls, include_extras=True)
        out = []
        for f in fields(cls):
            if f.default_factory is not MISSING:
                raise TypeError(f"option group {cls.__name__}.{f.name}: give a default value, not a factory")
            default = inspect.Parameter.empty if f.default is MISSING else f.default
            kind = inspect.Parameter.KEYWORD_ONLY
            out.append(inspect.Parameter(f.name, kind, default=default, annotation=hints[f.name]))
        return out


def _group_class(annotation: Any) -> type[OptionGroup] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, OptionGroup) else None


def option_groups(func: F) -> F:
    """Spread the :class:`OptionGroup` parameters of a command into their options (see the module).

    Raises
    ------
    TypeError
        ``func`` takes no group, or two of its options (its own or its groups') share a name.
    """
    sig = inspect.signature(func, eval_str=True)
    groups = {name: cls for name, p in sig.parameters.items() if (cls := _group_class(p.annotation))}
    if not groups:
        raise TypeError(f"{func.__name__} takes no option group")
    params: list[inspect.Parameter] = []
    for p in sig.parameters.values():
        # keyword-only, as typer passes them: a group's options without defaults may follow ones with
        params.extend(groups[p.name].parameters() if p.name in groups else [p.replace(kind=p.KEYWORD_ONLY)])
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise TypeError(f"{func.__name__}: options {', '.join(twice)} are declared twice (group and command)")
    fields_of = {name: [f.name for f in fields(cls)] for name, cls in groups.items()}  # type: ignore[arg-type]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        for name, cls in groups.items():
            kwargs[name] = cls(**{f: kwargs.pop(f) for f in fields_of[name]})
        return func(**kwargs)

    command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    if sig.return_annotation is not sig.empty:
        command.__annotations__["return"] = sig.return_annotation
    return command  # type: ignore[return-value]
