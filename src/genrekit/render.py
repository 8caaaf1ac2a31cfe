"""Report pieces, public: figures, the structured report and its Markdown/HTML renderer, tables, CSS.

Figures: confusion/recall/precision matrices, per-class bars, model comparisons, training curves.

A report is built as data (:class:`Report` of :class:`Section` of :class:`Paragraph`, :class:`Table`,
:class:`Figures` and :class:`Markdown` blocks) and rendered twice from that one structure:
:func:`render_markdown` (images linked) and :func:`render_html` (that Markdown through markdown-it-py,
images embedded as ``data:`` URIs, raw HTML never passed through).

Figures are drawn on :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas: pyplot is never
imported, so this module selects no global backend, registers no figure with pyplot's figure manager (nothing
to close, nothing that leaks in a long-running service) and leaves ``rcParams`` untouched. Every report of
genrekit (evaluation, calibration, explanations, robustness) is assembled from these pieces.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from genrekit.errors import ConfigError, GenreKitError
from genrekit.files import atomic_write_text
from genrekit.metrics import Metrics

_DPI = 100


_COMPARISON_BARS: tuple[tuple[str, str], ...] = (
    ("track_accuracy", "accuracy"),
    ("track_balanced_accuracy", "balanced acc."),
    ("track_macro_f1", "macro-F1"),
    ("track_jaccard", "Jaccard"),
    ("track_roc_auc", "ROC-AUC"),
    ("segment_accuracy", "segment acc."),
)


# ------------------------------------------------------------------------------------------------ utils
def sanitize_name(name: str) -> str:
    """Turn a model name into a safe file-name stem (``[A-Za-z0-9._-]``, no leading dot, never empty)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return stem[:80] or "model"


def unique_stems(names: Sequence[str]) -> list[str]:
    """Sanitised stems, made unique with ``_2``, ``_3``, ... suffixes (case-insensitively)."""
    used: set[str] = set()
    out = []
    for name in names:
        base = sanitize_name(name)
        stem, i = base, 2
        while stem.lower() in used:
            stem, i = f"{base}_{i}", i + 1
        used.add(stem.lower())
        out.append(stem)
    return out


def save_figure(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=_DPI, format="png")
    except OSError as exc:
        raise GenreKitError(f"cannot write the plot: {exc.strerror or exc}", source=path) from exc
    return path


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (float, np.floating)):
        return "n/a" if not math.isfinite(float(value)) else f"{float(value):.{digits}f}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


# ------------------------------------------------------------------------------------------------ plots
def plot_matrix(
    matrix: Any,
    classes: Sequence[str],
    *,
    title: str,
    fmt: str = "d",
    path: str | Path,
) -> Path:
    """Draw a class-by-class matrix (confusion counts, recall or precision) as an annotated heat map PNG.

    Parameters
    ----------
    matrix : array-like, shape (n_classes, n_classes)
        Rows = true class, columns = predicted class.
    classes : sequence of str
        Tick labels, in matrix order.
    title : str
        Figure title.
    fmt : str
        Format spec of the cell annotations: ``"d"`` for counts, ``".2f"`` for rates. Rates (any float
        format) use a fixed 0..1 colour scale.
    path : str or Path
        PNG file to write (parent folders are created).

    Returns
    -------
    Path
        ``path``.
    """
    m = np.asarray(matrix)
    n = len(classes)
    if m.shape != (n, n):
        raise ConfigError(f"matrix must be square with one row per class ({n}); got shape {m.shape}")
    is_count = fmt.endswith("d")
    values = m.astype(np.int64) if is_count else m.astype(np.float64)
    side = float(np.clip(0.42 * n + 2.8, 5.0, 14.0))
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    vmax = max(float(values.max()), 1.0) if is_count else 1.0
    im = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(np.arange(n), labels=list(classes), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(n), labels=list(classes))
    tick_size = 10 if n <= 12 else 8 if n <= 20 else 7
    ax.tick_params(labelsize=tick_size)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 40:
        cell_size = 9 if n <= 10 else 8 if n <= 16 else 7 if n <= 25 else 5.5
        for i in range(n):
            for j in range(n):
                v = values[i, j]
                if n > 12 and v == 0:
                    continue  # keep large matrices readable: blank cells are zeros
                text = format(int(v), fmt) if is_count else format(float(v), fmt)
                dark = (float(v) / vmax) > 0.55
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=cell_size,
                    color="white" if dark else "black",
                )
    return save_figure(fig, path)


def plot_comparison(table: pd.DataFrame, path: str | Path) -> Path:
    """Draw the headline metrics of several models as grouped bars (PNG).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`genrekit.metrics.comparison_table`. Log loss, times are not drawn (other scales);
        undefined values (NaN) leave a gap.
    path : str or Path
        PNG file to write (parent folders are created); the figure widens with the models and metrics.

    Returns
    -------
    Path
        ``path``.
    """
    if "model" not in table.columns or len(table) == 0:
        raise ConfigError("plot_comparison needs a non-empty comparison_table() with a 'model' column")
    cols = [(c, label) for c, label in _COMPARISON_BARS if c in table.columns]
    n_models, n_metrics = len(table), len(cols)
    width = 0.8 / n_models
    fig = Figure(figsize=(max(7.0, 1.2 * n_metrics + 0.35 * n_models * n_metrics), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(n_metrics)
    for k, (_, row) in enumerate(table.iterrows()):
        heights = np.array([row[c] for c, _ in cols], dtype=np.float64)
        bars = ax.bar(
            x - 0.4 + width * (k + 0.5), np.nan_to_num(heights, nan=0.0), width, label=str(row["model"])
        )
        for bar, h in zip(bars, heights, strict=True):
            if not math.isfinite(h):
                bar.set_visible(False)
            elif n_models * n_metrics <= 48:
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    h + 0.01,
                    f"{h:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90 if n_models > 3 else 0,
                )
    ax.set_xticks(x, labels=[label for _, label in cols])
    ax.set_ylim(0.0, 1.12)
    ax.set_ylabel("score (track level unless noted)")
    ax.set_title("model comparison")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=min(n_models, 4), fontsize=8, frameon=False
    )
    return save_figure(fig, path)


def plot_per_class(metrics: Metrics, path: str | Path, *, title: str = "per-class scores") -> Path:
    """Draw precision, recall and F1 of every class as horizontal grouped bars (PNG).

    Parameters
    ----------
    metrics : Metrics
        Metrics of one model (usually track level).
    path : str or Path
        PNG file to write (parent folders are created).
    title : str
        Title above the bars.

    Returns
    -------
    Path
        ``path``.
    """
    n = len(metrics.classes)
    fig = Figure(figsize=(7.5, max(3.0, 0.38 * n + 1.4)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)
    h = 0.26
    for k, (name, values) in enumerate(
        (("precision", metrics.precision), ("recall", metrics.recall), ("F1", metrics.f1))
    ):
        ax.barh(y + (k - 1) * h, values, h, label=name)
    labels = [f"{c} (n={int(s)})" for c, s in zip(metrics.classes, metrics.support, strict=True)]
    ax.set_yticks(y, labels=labels)
    ax.tick_params(axis="y", labelsize=9 if n <= 15 else 7)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("score")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return save_figure(fig, path)


def plot_history(
    history: Mapping[str, Sequence[float]], path: str | Path, *, title: str = "training"
) -> Path:
    """Draw the training curves of one model (PNG): one panel per quantity, validation dashed.

    Parameters
    ----------
    history : mapping of str to sequence of float
        Per-epoch values, e.g. ``{"loss": [...], "val_loss": [...], "acc": [...], "val_acc": [...]}``.
        Every key ``X`` gets a panel, ``val_X`` is drawn in the panel of ``X`` (or alone if ``X`` is absent).
    path : str or Path
        PNG file to write (parent folders are created).
    title : str
        Title above all the panels.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        An empty history.
    """
    series = {str(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in history.items() if len(v)}
    if not series:
        raise ConfigError("plot_history needs at least one non-empty series (e.g. 'loss'); got none")
    panels: dict[str, list[str]] = {}
    for key in series:
        base = key[4:] if key.startswith("val_") else key
        panels.setdefault(base, []).append(key)
    fig = Figure(figsize=(4.6 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (base, keys) in zip(axes, panels.items(), strict=True):
        for key in sorted(keys, key=lambda k: k.startswith("val_")):
            values = series[key]
            epochs = np.arange(1, values.shape[0] + 1)
            ax.plot(
                epochs,
                values,
                linestyle="--" if key.startswith("val_") else "-",
                marker="o" if values.shape[0] <= 30 else None,
                markersize=3,
                label=key,
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------- structured report
@dataclass(frozen=True)
class Paragraph:
    """Plain text (escaped: nothing in it is Markdown or HTML); ``note=True`` shows it as a note."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Markdown:
    """Markdown written by genrekit itself (e.g. a fenced code block); raw HTML in it is shown escaped."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of text cells (every cell escaped), one header per column."""

    headers: Sequence[Any]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Figures:
    """Pictures side by side: ``(caption, file name)`` pairs, files in the report folder.

    Markdown links the files; HTML embeds them as base64 ``data:`` URIs (the page stands alone).
    """

    items: Sequence[tuple[str, str]]


Block = Paragraph | Markdown | Table | Figures


@dataclass
class Section:
    """A heading (``level`` 2 or 3) and its blocks, in order."""

    heading: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


@dataclass
class Report:
    """A title and its sections, rendered by :func:`render_markdown` and :func:`render_html`."""

    title: str
    sections: list[Section] = field(default_factory=list)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|!~&#])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=](?![\d.]))")  # bullet lists, rules, setext underlines
_MD_ORDERED = re.compile(r"^(\s*\d{1,9})([.)])(?=\s|$)")  # ordered lists


def md_inline(text: Any) -> str:
    """Text safe as one line of Markdown (a cell, a heading, a paragraph): every marker escaped."""
    one_line = " ".join(str(text).split())
    text = _MD_SPECIAL.sub(r"\\\1", one_line)
    return _MD_ORDERED.sub(r"\1\\\2", _MD_LINE_START.sub(r"\1\\\2", text))


def md_table(headers: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; every cell escaped with :func:`md_inline`."""
    lines = ["| " + " | ".join(md_inline(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_inline(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _block_markdown(block: Block) -> str:
    if isinstance(block, Paragraph):
        return ("> " if block.note else "") + md_inline(block.text)
    if isinstance(block, Markdown):
        return block.text.strip("\n")
    if isinstance(block, Table):
        return md_table(block.headers, block.rows)
    return "\n".join(f"![{md_inline(caption)}]({name})" for caption, name in block.items)


def blocks_markdown(blocks: Sequence[Block]) -> str:
    """Blocks as Markdown, separated by blank lines (a section's body without its heading)."""
    return "\n\n".join(_block_markdown(b) for b in blocks)


def render_markdown(report: Report) -> str:
    """The whole report as Markdown (images linked by file name)."""
    parts = [f"# {md_inline(report.title)}"]
    for section in report.sections:
        parts.append("#" * section.level + " " + md_inline(section.heading))
        parts += [_block_markdown(b) for b in section.blocks]
    return "\n\n".join(parts) + "\n"


def _markdown_it() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _data_uri(base_dir: Path, name: str) -> str | None:
    """The file ``name`` in ``base_dir`` as a ``data:`` URI; None when it is not a picture there."""
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    path = base_dir / name
    if Path(name).name != name or path.suffix.lower() not in mime or not path.is_file():
        return None
    return f"data:{mime[path.suffix.lower()]};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _figures_html(block: Figures, base_dir: Path) -> str:
    esc = html.escape
    out = []
    for caption, name in block.items:
        uri = _data_uri(base_dir, name)
        picture = (
            f'<img alt="{esc(caption)}" src="{uri}">'
            if uri
            else f'<span class="note">(missing figure: {esc(name)})</span>'
        )
        out.append(f"<figure>{picture}<figcaption>{esc(caption)}</figcaption></figure>")
    return '<div class="figs">' + "".join(out) + "</div>"


def render_html(report: Report, base_dir: str | Path) -> str:
    """The whole report as one self-contained HTML page.

    Every block's Markdown is rendered by markdown-it-py (raw HTML disabled: text never becomes markup),
    every figure of ``base_dir`` is embedded as a data URI, the CSS is inline.
    """
    md = _markdown_it()
    base = Path(base_dir)

    def embed(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        uri = _data_uri(base, str(token.attrGet("src") or ""))
        alt = html.escape(renderer.renderInlineAsText(token.children or [], options, env))
        return f'<img alt="{alt}" src="{uri}">' if uri else f"[{alt}]"

    md.add_render_rule("image", embed)
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for section in report.sections:
        body.append(f"<h{section.level}>{html.escape(section.heading)}</h{section.level}>")
        for block in section.blocks:
            if isinstance(block, Figures):
                body.append(_figures_html(block, base))
            else:
                html_block = md.render(_block_markdown(block))
                if isinstance(block, Paragraph) and block.note:
                    html_block = html_block.replace("<blockquote>", '<blockquote class="note">', 1)
                body.append(html_block)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_rendered(report: Report, out_dir: str | Path, stem: str = "report") -> tuple[Path, Path]:
    """Write ``<stem>.md`` and ``<stem>.html`` of one structured report into ``out_dir`` (its figures)."""
    out = Path(out_dir)
    md_path, html_path = out / f"{stem}.md", out / f"{stem}.html"
    write_text(md_path, render_markdown(report))
    write_text(html_path, render_html(report, out))
    return md_path, html_path


# ------------------------------------------------------------------------------------------ cell values
def fmt_value(value: Any) -> str:
    """A setting as a person reads it: ``handcrafted (sr 22050, segment_s 3.0)``, ``blues 10, jazz 8``.

    Mappings become ``key value`` pairs; an extractor's ``{"name": ..., "config": {...}}`` becomes its
    name with the settings in brackets; sequences are joined with commas; numbers as :func:`fmt`.
    """
    if isinstance(value, Mapping):
        if set(value) == {"name", "config"} and isinstance(value["config"], Mapping):
            inner = fmt_value(value["config"])
            return f"{value['name']} ({inner})" if inner else str(value["name"])
        return ", ".join(f"{k} {fmt_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, (float, np.floating)):
        return fmt(value, 4).rstrip("0").rstrip(".") if math.isfinite(float(value)) else "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt(value)


def fmt_accuracy(accuracy: float | None, n: int, *, digits: int = 4, with_n: bool = True) -> str:
    """``0.8333 (95% CI 0.55-0.95, n=12)``: an accuracy over ``n`` items with its Wilson interval.

    ``with_n=False`` leaves the count out (for a table that shows it in its own column).
    """
    from genrekit.metrics import wilson_interval

    count = f", n={int(n)}" if with_n else ""
    if accuracy is None or not math.isfinite(float(accuracy)):
        return f"n/a (n={int(n)})" if with_n else "n/a"
    lo, hi = wilson_interval(float(accuracy) * n, int(n))
    return f"{float(accuracy):.{digits}f} (95% CI {lo:.2f}-{hi:.2f}{count})"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1,h2,h3{color:#123}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#eef2f6}
td:first-child,th:first-child{text-align:left}
table{display:block;overflow-x:auto;max-width:100%}
img{max-width:100%;height:auto;border:1px solid #eee;margin:0.4em 0}
.figs{display:flex;flex-wrap:wrap;gap:1em}
.figs figure{margin:0;flex:1 1 420px}
figcaption{font-size:0.85em;color:#555}
.note{color:#8a5300}
blockquote.note{margin:0.4em 0;padding:0.1em 0.8em;border-left:3px solid #e0b060}
pre{background:#f6f8fa;padding:0.6em;overflow-x:auto}
"""


def write_text(path: Path, text: str) -> None:
    """Write a report file atomically (a reader never sees half of it); failures name the file."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise GenreKitError(f"cannot write the report file: {exc.strerror or exc}", source=path) from exc
