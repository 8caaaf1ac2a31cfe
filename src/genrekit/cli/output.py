"""What every command prints: tables, lines, JSON, CSV/TSV, files written with ``--output-dir``.

One place decides how a result looks, so that every command agrees:

- ``--format table`` (the default): on a terminal a rich table with short headers that fits its width
  (columns that do not fit are left out and named under the table); when stdout is not a terminal
  (a pipe, a file) a Markdown table with the full headers, one row per line, never wrapped;
- ``--format json``: one JSON document (a list of row objects; ``classify``: one object per file and
  line, JSON Lines); ``csv`` / ``tsv``: one header line of machine names, then one line per row.
  Human notes ("report: ...") go to stderr then, so that stdout parses;
- ``--output-dir DIR`` also writes the output to ``DIR/<command>.<md|json|csv|tsv>``.

Progress bars and ``-v`` stage timings (stderr) live here too.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from genrekit.cli import console as _stdout
from genrekit.cli import err_console, say
from genrekit.errors import ConfigError

FORMATS: tuple[str, ...] = ("table", "json", "csv", "tsv")
EXTENSIONS: dict[str, str] = {"table": "md", "json": "json", "csv": "csv", "tsv": "tsv"}
FORMAT_HELP = (
    "table (rich on a terminal, Markdown when piped), json, csv or tsv (machine column names; notes go "
    "to stderr)."
)
OUTPUT_DIR_HELP = "Also write the output to DIR/COMMAND.EXT (EXT: md, json, csv or tsv, by --format)."


@dataclass(frozen=True)
class Column:
    """One column: its machine ``key`` (JSON/CSV), full ``header`` (piped, files) and terminal ``short``.

    ``fmt`` turns a value into display text; ``priority`` orders which columns a narrow terminal keeps
    (lower first; 0 is never left out).
    """

    key: str
    header: str
    short: str | None = None
    fmt: Callable[[Any], str] | None = None
    right: bool = True
    priority: int = 1
    #: "both", "human" (tables only) or "machine" (json/csv/tsv only)
    show: str = "both"
    #: long text (lists of genres, notes): a terminal table wraps it in at most ``wrap`` characters
    wrap: int | None = None

    def text(self, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if self.fmt is not None:
            return self.fmt(value)
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)


def fixed(digits: int) -> Callable[[Any], str]:
    """A formatter with ``digits`` decimals."""
    return lambda v: f"{float(v):.{digits}f}"


def check_format(fmt: str) -> str:
    """``fmt`` lower-cased, or ConfigError naming the valid formats."""
    value = fmt.lower()
    if value not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return value


def _cell(value: Any) -> Any:
    """A JSON/CSV value: NaN becomes null, numpy scalars plain Python."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _flat(value: Any) -> str:
    """One TSV/Markdown cell: no tab, newline or pipe breaks the line or the column."""
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """A Markdown table with the full headers, one row per line (nothing wrapped)."""

    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(_flat(c).replace("|", "\\|") for c in cells) + " |"

    out = [
        line(c.header for c in columns),
        "|" + "|".join("---:" if c.right else "---" for c in columns) + "|",
    ]
    out += [line(c.text(r.get(c.key)) for c in columns) for r in rows]
    return "\n".join(out)


def delimited(rows: Sequence[dict[str, Any]], columns: Sequence[Column], sep: str) -> str:
    """CSV (``sep=","``, quoted as needed) or TSV (tabs; cells flattened to one line), machine keys."""
    buf = io.StringIO()
    if sep == ",":
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.key for c in columns])
        for r in rows:
            writer.writerow(["" if (v := _cell(r.get(c.key))) is None else v for c in columns])
        return buf.getvalue().rstrip("\n")
    lines = ["\t".join(c.key for c in columns)]
    lines += ["\t".join(_flat(_cell(r.get(c.key))) for c in columns) for r in rows]
    return "\n".join(lines)


def rich_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, width: int, title: str | None = None
) -> Table:
    """A rich table of short headers that fits ``width``: low-priority columns that do not fit go.

    The columns left out are named in the caption (``--format tsv`` shows them all).
    """
    texts = [[c.text(r.get(c.key)) for c in columns] for r in rows]
    need = []
    for i, c in enumerate(columns):
        natural = max([len(c.short or c.header)] + [len(t[i]) for t in texts])
        need.append((natural if c.wrap is None else min(natural, c.wrap)) + 3)
    keep = list(range(len(columns)))
    for i in sorted(keep, key=lambda i: (-columns[i].priority, -i)):
        if sum(need[j] for j in keep) + 1 <= width or columns[i].priority == 0:
            break
        keep.remove(i)
    dropped = [columns[i].header for i in range(len(columns)) if i not in keep]
    caption = f"not shown at this width: {', '.join(dropped)}" if dropped else None
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left")
    for i in keep:
        c = columns[i]
        table.add_column(c.short or c.header, justify="right" if c.right else "left", overflow="fold")
    for t in texts:
        table.add_row(*[t[i] for i in keep])
    return table


class Output:
    """Where a command's result goes: stdout in ``fmt``, and ``output_dir/<name>.<ext>`` when given.

    Parameters
    ----------
    fmt : {"table", "json", "csv", "tsv"}
    output_dir : Path or None
    name : str
        The file stem written in ``output_dir`` (the command's name).
    """

    def __init__(self, fmt: str = "table", output_dir: Path | None = None, *, name: str) -> None:
        self.fmt = check_format(fmt)
        self.output_dir = output_dir
        self.name = name
        self._saved: list[str] = []

    @property
    def console(self) -> Console:
        return _stdout

    @property
    def machine(self) -> bool:
        """True for json/csv/tsv: stdout holds only the data."""
        return self.fmt != "table"

    def line(self, *parts: str | tuple[str, str]) -> None:
        """A human line: stdout in table format (never hard-wrapped), stderr for the machine formats."""
        say(err_console if self.machine else self.console, *parts)
        if not self.machine:
            self._saved.append(Text.assemble(*parts).plain)

    def note(self, *parts: str | tuple[str, str]) -> None:
        """A line about the run (where a report went): always stderr in machine formats, never saved."""
        say(err_console if self.machine else self.console, *parts)

    def record(self, obj: dict[str, Any]) -> None:
        """One JSON Lines object (``--format json`` of per-file commands), printed at once."""
        text = json.dumps(obj, default=_cell)
        print(text, flush=True)
        self._saved.append(text)

    def table(
        self, rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, title: str | None = None
    ) -> None:
        """Print rows in this output's format (see the module docstring)."""
        columns = [c for c in columns if c.show in ("both", "machine" if self.machine else "human")]
        if self.fmt == "table":
            text = (f"{title}\n\n" if title else "") + markdown_table(rows, columns)
            if self._saved:  # a blank line between two tables
                text = "\n" + text
            if self.console.is_terminal:
                self.console.print(rich_table(rows, columns, width=self.console.width, title=title))
            else:
                print(text, flush=True)
        elif self.fmt == "json":
            text = json.dumps([{c.key: _cell(r.get(c.key)) for c in columns} for r in rows], indent=1)
            print(text, flush=True)
        else:
            text = delimited(rows, columns, "," if self.fmt == "csv" else "\t")
            print(text, flush=True)
        self._saved.append(text)

    def close(self) -> Path | None:
        """Write what was printed to ``output_dir/<name>.<ext>`` (when asked); the path written."""
        if self.output_dir is None:
            return None
        from genrekit.files import atomic_write_text

        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"{self.name}.{EXTENSIONS[self.fmt]}"
        atomic_write_text(path, "\n".join(self._saved) + "\n")
        say(err_console, f"wrote {path}")
        return path


# ------------------------------------------------------------------------------------ model results
RUN_COLUMNS: tuple[Column, ...] = (
    Column("model", "model", right=False, priority=0),
    Column("track_accuracy", "accuracy", "acc.", priority=0),
    Column("accuracy_ci", "95% CI (Wilson)", "95% CI", show="human", priority=1),
    Column("accuracy_ci_low", "95% CI low", show="machine"),
    Column("accuracy_ci_high", "95% CI high", show="machine"),
    Column("n_tracks", "test tracks", "n", priority=2),
    Column("track_macro_f1", "macro-F1", priority=1),
    Column("track_balanced_accuracy", "balanced accuracy", "bal. acc.", priority=3),
    Column("track_log_loss", "log loss", priority=2),
    Column("track_jaccard", "Jaccard", priority=5),
    Column("track_roc_auc", "ROC-AUC", priority=4),
    Column("segment_accuracy", "segment accuracy", "seg. acc.", priority=4),
    Column("fit_s", "fit (s)", "fit s", fmt=fixed(1), priority=3),
    Column("predict_ms_per_track", "predict (ms/track)", "ms/track", fmt=fixed(1), priority=3),
)
RUNS_TITLE = "track-level results, best first (95% CI: Wilson interval of the track accuracy)"


def run_rows(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per model run, ranked as in the report (track accuracy, then macro-F1)."""
    from genrekit.metrics import comparison_table, wilson_interval
    from genrekit.report import rank_runs

    ranked = rank_runs(runs)
    by_name = {row["model"]: row for row in comparison_table(ranked).to_dict("records")}
    rows = []
    for run in ranked:
        row = dict(by_name[run.name])
        n = run.result.n_tracks
        lo, hi = wilson_interval(row["track_accuracy"] * n, n)
        row.update(n_tracks=n, accuracy_ci_low=lo, accuracy_ci_high=hi, accuracy_ci=f"{lo:.3f}-{hi:.3f}")
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------- progress
@contextmanager
def progress(total: int, description: str, *, show: bool | None = None) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (when it is a terminal and ``total > 1``); yields ``advance()``."""
    if show is None:
        show = err_console.is_terminal and total > 1
    if not show:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        # stdout lines are drawn above the bar only when stdout is this terminal too; redirected, they
        # must stay on stdout (rich's proxy would send them to the bar's stream, stderr)
        redirect_stdout=_stdout.is_terminal,
        redirect_stderr=False,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


# ------------------------------------------------------------------------------------------ timings
class StageTimer:
    """Time spent decoding, in the feature extractor and in the network of a ``Classifier``'s calls.

    :meth:`attach` returns a shallow copy of the classifier whose extractor (every way the predict path
    calls it: ``__call__``, ``extract_selected``, ``extract_many``, ``extract_windows``) and model
    (``predict_proba``) are wrapped with timers that delegate everything else; ``decode`` is the rest of
    the file's time (reading, resampling, checks). The classifier given (perhaps a cached, shared
    pretrained one) is left untouched, and the copy's answers are the same. Used by ``classify -v``.
    """

    EXTRACTOR_METHODS = ("__call__", "extract_selected", "extract_many", "extract_windows")

    def __init__(self) -> None:
        self.totals: dict[str, float] = {"features": 0.0, "network": 0.0}

    def attach(self, clf: Any) -> Any:
        """A copy of ``clf`` that records its stage times in this timer."""
        timed = copy.copy(clf)
        timed.extractor = _Timed(clf.extractor, self.EXTRACTOR_METHODS, self.totals, "features")
        timed.model = _Timed(clf.model, ("predict_proba",), self.totals, "network")
        return timed

    def reset(self) -> None:
        for k in self.totals:
            self.totals[k] = 0.0

    def line(self, total_s: float) -> str:
        """``decode .. ms, features .. ms, network .. ms, total .. ms``."""
        t = self.totals
        decode = max(0.0, total_s - t["features"] - t["network"])
        return (
            f"decode {decode * 1000:.0f} ms, features {t['features'] * 1000:.0f} ms, "
            f"network {t['network'] * 1000:.0f} ms, total {total_s * 1000:.0f} ms"
        )


class _Timed:
    """Delegates every attribute to ``inner``; the named methods add their time to ``totals[key]``."""

    def __init__(self, inner: Any, methods: tuple[str, ...], totals: dict[str, float], key: str) -> None:
        self._inner, self._methods, self._totals, self._key = inner, methods, totals, key

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in self._methods and callable(value):
            return self._wrap(value)
        return value

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._totals[self._key] += time.perf_counter() - t0

        return timed

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self._inner)(*args, **kwargs)


# ------------------------------------------------------------------------------------ shared options
FormatOpt = Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP)]
OutputDirOpt = Annotated[Path | None, typer.Option("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)]
