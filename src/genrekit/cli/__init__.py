"""The ``genrekit`` command line: thin sub-commands over the library functions.

This package holds the shared app, error handling and option parsing; the commands live in
``core`` (data, train, evaluate, classify), ``tabular``, ``serve`` and ``batch``, each importing
``app`` from here and registering itself.

Exit codes: 0 success, 1 other genrekit error, 2 bad option or name (ConfigError), 3 audio error,
4 dataset error, 5 model error, 6 some items of a batch failed (the rest succeeded), 130 interrupted.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from genrekit.cli.help import App
from genrekit.config import MAX_TOP_K
from genrekit.errors import GenreKitError

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")


def _exit_now(code: int | None) -> NoReturn:
    """End the ``genrekit`` process with ``code`` without the interpreter's teardown.

    The teardown (clearing every module, collecting what torch, scikit-learn, scipy and pandas built) took
    0.4-0.5 s of a 3 s ``genrekit classify``, for nothing: the process ends. What a normal exit does that
    matters is done first: the standard streams are flushed and the ``atexit`` handlers run (logging's
    shutdown, temporary directories, Dask). A code that is not an int, other live non-daemon threads or a
    stream that cannot be flushed (a closed pipe) take the normal exit instead, which reports them.
    """
    if code is not None and not isinstance(code, int):
        raise SystemExit(code)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    atexit._run_exitfuncs()  # what Py_Finalize would run; it empties the list, so nothing runs twice
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code or 0)


class _Program(App):
    """The ``genrekit`` app; run as the program (no arguments given), it ends the process without teardown.

    ``app()``, as the ``genrekit`` script and ``python -m genrekit.cli`` call it, reads ``sys.argv``, runs
    the command with a less frequent cyclic garbage collection and, for the read-only commands
    (:data:`FAST_EXIT_COMMANDS`), then ends the process through :func:`_exit_now`. Called with
    arguments (``app(["classify", ...])``) or through click's test runner, it behaves as a plain typer
    app and raises ``SystemExit``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return super().__call__(*args, **kwargs)
        # Importing torch, scikit-learn and scipy makes ~400k objects, and the cyclic collector walked
        # them again and again (0.1-0.2 s of a cold classify); a collection every 50k new container
        # objects instead of 700 keeps at most a few MB of cyclic garbage waiting, in any command
        gc.set_threshold(50_000, 10, 10)
        if _command(sys.argv[1:]) not in FAST_EXIT_COMMANDS:  # writers end with the normal teardown
            return super().__call__()
        try:
            super().__call__()
        except SystemExit as exc:
            _exit_now(exc.code)  # type: ignore[arg-type]
        _exit_now(0)


#: The commands that end without the interpreter's teardown (None: no command, e.g. ``--version``): the
#: read-only ones, which write nothing but their output streams. Commands that write files, stores or
#: reports (train, batch, serve, ...) keep the normal exit, so nothing they leave buffered is lost.
FAST_EXIT_COMMANDS: frozenset[str | None] = frozenset({None, "classify", "tags", "models", "scan"})


def _command(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


app = _Program(
    name="genrekit",
    help="Tell which genre a piece of music belongs to: pretrained taggers, your own models, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# markup off: genres, file names and messages are data ("rock [live]", "[2019] mix.mp3"), never styles;
# soft wrap: a long line piped to a file stays one line (rich would break it at 80 columns)
console = Console(markup=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


class _State:
    """Options of the ``genrekit`` group the commands read (``-v``)."""

    verbose: bool = False


state = _State()

#: ``--top-k`` of every command: how many genres (or tags) to list; the same range as the HTTP API.
TopKOpt = Annotated[
    int,
    typer.Option(
        "--top-k",
        min=1,
        max=MAX_TOP_K,
        help=f"How many genres to list, 1-{MAX_TOP_K} (more than the model has: all of them).",
    ),
]


def say(con: Console, *parts: str | tuple[str, str]) -> None:
    """Print one line made of plain strings and ``(text, style)`` pieces; no text is read as markup."""
    con.print(Text.assemble(*parts), soft_wrap=True)


EXIT_PARTIAL = 6


def fail(message: str, code: int) -> None:
    say(err_console, ("error:", "bold red"), f" {message}")
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into one-line messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GenreKitError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        return None

    return wrapper  # type: ignore[return-value]


def _version_callback(value: bool) -> None:
    if value:
        from genrekit.config import genrekit_version

        console.print(f"genrekit {genrekit_version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log progress details; classify prints per-stage timings."),
    ] = False,
) -> None:
    """Genrekit: music genre classification."""
    import logging

    state.verbose = verbose

    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(levelname)s %(message)s")


def parse_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs with JSON values where they parse (``n_mels=96``, ``segment_s=null``)."""
    out: dict[str, Any] = {}
    from genrekit.errors import ConfigError

    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"option {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def build_config(cls: type[C], args: dict[str, Any], **parsed: Any) -> C:
    """The one config of a command: its options named like ``cls``'s fields, then ``parsed`` over them.

    ``args`` is the command's ``locals()`` (taken first thing in its body); ``parsed`` gives the fields
    whose options need parsing first (``--param k=v`` -> ``params``). Options that are not training
    choices (``out``, ``report``, ``workers``, ...) are not fields, so they are left out.

    Raises
    ------
    ConfigError
        A value that breaks one of the config's rules.
    """
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {**{k: v for k, v in args.items() if k in names}, **parsed}
    return cls.build(None, **values)  # type: ignore[attr-defined]


def report_failures(failures: list[tuple[str, str]]) -> None:
    if failures:
        say(err_console, (f"{len(failures)} file(s) skipped:", "yellow"))
        for path, msg in failures:
            err_console.print(f"  {path}: {msg}", highlight=False, soft_wrap=True)


def register_all() -> None:
    """Import the command modules so that their commands register on ``app``."""
    from genrekit.cli import batch, core, models, robustness, serve, tabular  # noqa: F401


register_all()
