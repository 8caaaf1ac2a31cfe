"""Plots and the Markdown/HTML evaluation report.

Figures are drawn on :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas: pyplot is never
imported, so this module selects no global backend, registers no figure with pyplot's figure manager (nothing
to close, nothing that leaks in a long-running service) and leaves ``rcParams`` untouched.

``write_report`` produces, in one folder::

    report.md                 Markdown, tables + linked images
    report.html               self-contained: images embedded as base64 data URIs, inline CSS
    metrics.json              every metric of every run, JSON-ready
    comparison.png            headline metrics per model (when there are several runs)
    confusion_<model>.png     track-level confusion counts (rows = true, columns = predicted)
    recall_<model>.png        rows normalised
    precision_<model>.png     columns normalised
    per_class_<model>.png     precision / recall / F1 per class
    history_<model>.png       training curves (when a history is given)
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from genrekit.errors import ConfigError, GenreKitError
from genrekit.evaluate import HEADLINE_METRICS, Metrics, ModelRun, comparison_table
from genrekit.files import to_jsonable

__all__ = [
    "plot_comparison",
    "plot_history",
    "plot_matrix",
    "plot_per_class",
    "sanitize_name",
    "write_report",
]

_DPI = 100
_COMPARISON_BARS: tuple[tuple[str, str], ...] = (
    ("track_accuracy", "accuracy"),
    ("track_balanced_accuracy", "balanced acc."),
    ("track_macro_f1", "macro-F1"),
    ("track_jaccard", "Jaccard"),
    ("track_roc_auc", "ROC-AUC"),
    ("segment_accuracy", "segment acc."),
)
_TABLE_HEADERS: dict[str, str] = {
    "model": "model",
    "track_accuracy": "accuracy",
    "track_balanced_accuracy": "balanced acc.",
    "track_macro_f1": "macro-F1",
    "track_log_loss": "log loss",
    "track_jaccard": "Jaccard",
    "track_roc_auc": "ROC-AUC",
    "segment_accuracy": "segment acc.",
    "fit_s": "fit (s)",
    "predict_ms_per_track": "predict (ms/track)",
}


# ------------------------------------------------------------------------------------------------ utils
def sanitize_name(name: str) -> str:
    """Turn a model name into a safe file-name stem (``[A-Za-z0-9._-]``, no leading dot, never empty)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return stem[:80] or "model"


def _unique_stems(names: Sequence[str]) -> list[str]:
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


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=_DPI, format="png")
    except OSError as exc:
        raise GenreKitError(f"cannot write the plot: {exc.strerror or exc}", source=path) from exc
    return path



def _fmt(value: Any, digits: int = 4) -> str:
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
    return _save(fig, path)


def plot_comparison(table: pd.DataFrame, path: str | Path) -> Path:
    """Draw the headline metrics of several models as grouped bars (PNG).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`genrekit.evaluate.comparison_table`. Log loss, times are not drawn (other scales);
        undefined values (NaN) leave a gap.
    path : str or Path
        PNG file to write.

    Returns
    -------
    Path
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
    return _save(fig, path)


def plot_per_class(metrics: Metrics, path: str | Path, *, title: str = "per-class scores") -> Path:
    """Draw precision, recall and F1 of every class as horizontal grouped bars (PNG).

    Parameters
    ----------
    metrics : Metrics
        Metrics of one model (usually track level).
    path : str or Path
        PNG file to write.
    title : str
        Figure title.

    Returns
    -------
    Path
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
    return _save(fig, path)


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
        PNG file to write.
    title : str
        Figure title.

    Returns
    -------
    Path

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
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------- tables
def _display_table(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = [_TABLE_HEADERS.get(c, c) for c in table.columns]
    rows = []
    for _, row in table.iterrows():
        cells = []
        for col in table.columns:
            digits = 1 if col in ("fit_s", "predict_ms_per_track") else 4
            cells.append(_fmt(row[col], digits))
        rows.append(cells)
    return headers, rows


def _md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell or heading: pipes escaped, no raw HTML, one line."""
    text = html.escape(str(text), quote=False)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary_rows(run: ModelRun) -> list[list[str]]:
    t, s = run.result.track.summary(), run.result.segment.summary()
    rows = [["n", _fmt(t["n_samples"]), _fmt(s["n_samples"])]]
    rows += [[name, _fmt(t[name]), _fmt(s[name])] for name in HEADLINE_METRICS]
    return rows


def _per_class_rows(metrics: Metrics) -> list[list[str]]:
    return [
        [
            c,
            _fmt(metrics.precision[i]),
            _fmt(metrics.recall[i]),
            _fmt(metrics.f1[i]),
            _fmt(metrics.jaccard_per_class[i]),
            _fmt(int(metrics.support[i])),
        ]
        for i, c in enumerate(metrics.classes)
    ]


def _cost_rows(run: ModelRun) -> list[list[str]]:
    rows = [
        ["aggregation", run.result.aggregation],
        ["test tracks / segments", f"{run.result.n_tracks} / {run.result.n_segments}"],
        ["fit time (s)", _fmt(run.fit_time_s, 2)],
        ["predict time, total (s)", _fmt(run.predict_time_s, 3)],
        ["predict time per track (ms)", _fmt(1000.0 * run.predict_time_per_track_s, 2)],
        ["parameters", _fmt(run.n_params)],
    ]
    rows += [
        [str(k), json.dumps(to_jsonable(v)) if not isinstance(v, str) else v] for k, v in run.extra.items()
    ]
    return rows


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1,h2,h3{color:#123}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#eef2f6}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eee;margin:0.4em 0}
.figs{display:flex;flex-wrap:wrap;gap:1em}
.figs figure{margin:0;flex:1 1 420px}
figcaption{font-size:0.85em;color:#555}
.note{color:#8a5300}
.section{white-space:pre-wrap}
"""


# ----------------------------------------------------------------------------------------------- report
def write_report(
    out_dir: str | Path,
    runs: Sequence[ModelRun] | ModelRun,
    *,
    title: str = "genrekit report",
    dataset_info: Mapping[str, Any] | None = None,
    extra_sections: Sequence[tuple[str, str]] | None = None,
    history: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> Path:
    """Write the evaluation report of one or several models into a folder.

    Parameters
    ----------
    out_dir : str or Path
        Report folder (created with its parents).
    runs : ModelRun or sequence of ModelRun
        The evaluated models; the comparison table orders them by track macro-F1.
    title : str
        Report title.
    dataset_info : mapping, optional
        Key/value facts about the data (name, tracks per split, segment length, ...), shown as a table.
    extra_sections : sequence of (heading, text), optional
        Additional sections appended as given (Markdown text; shown as escaped pre-wrapped text in HTML).
    history : mapping of model name to per-epoch history, optional
        Training curves per model, see :func:`plot_history`; drawn as ``history_<model>.png``.

    Returns
    -------
    Path
        The report folder, containing ``report.md``, ``report.html``, ``metrics.json`` and the PNGs.

    Raises
    ------
    ConfigError
        No runs.
    GenreKitError
        The folder or a file in it cannot be written (the message names it).
    """
    run_list = [runs] if isinstance(runs, ModelRun) else list(runs)
    if not run_list:
        raise ConfigError("write_report needs at least one ModelRun; got none")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenreKitError(f"cannot create the report folder: {exc.strerror or exc}", source=out) from exc

    history = dict(history or {})
    run_names = [r.name for r in run_list]
    history_only = [k for k in history if k not in run_names]
    all_stems = _unique_stems(run_names + history_only)
    stems = all_stems[: len(run_list)]
    history_stems = dict(zip(history_only, all_stems[len(run_list) :], strict=True))
    for name, stem in zip(run_names, stems, strict=True):
        history_stems.setdefault(name, stem)  # a run name used twice: its first run's stem
    table = comparison_table(run_list)

    # ---- figures of every run (aligned with run_list): (caption, file name)
    figures: list[list[tuple[str, str]]] = []
    for run, stem in zip(run_list, stems, strict=True):
        m = run.result.track
        files = []
        for kind, matrix, fmt, caption in (
            ("confusion", m.confusion, "d", "confusion matrix (counts; rows = true, columns = predicted)"),
            ("recall", m.recall_matrix, ".2f", "recall matrix (rows normalised)"),
            ("precision", m.precision_matrix, ".2f", "precision matrix (columns normalised)"),
        ):
            name = f"{kind}_{stem}.png"
            plot_matrix(matrix, m.classes, title=f"{run.name}: {kind} (tracks)", fmt=fmt, path=out / name)
            files.append((caption, name))
        name = f"per_class_{stem}.png"
        plot_per_class(m, out / name, title=f"{run.name}: per-class scores (tracks)")
        files.append(("per-class precision, recall and F1", name))
        figures.append(files)
    history_files: list[tuple[str, str]] = []
    for model, hist in history.items():
        name = f"history_{history_stems[model]}.png"
        plot_history(hist, out / name, title=f"{model}: training history")
        history_files.append((f"{model}: training history", name))
    comparison_file = None
    if len(run_list) > 1:
        comparison_file = "comparison.png"
        plot_comparison(table, out / comparison_file)

    # ---- metrics.json
    payload = {
        "title": title,
        "dataset_info": to_jsonable(dict(dataset_info or {})),
        "comparison": to_jsonable(table.to_dict(orient="records")),
        "runs": [to_jsonable(r.to_dict()) for r in run_list],
    }
    _write_text(out / "metrics.json", json.dumps(payload, indent=2, allow_nan=False))

    headers, rows = _display_table(table)
    sections = list(extra_sections or [])

    # ---- report.md
    md: list[str] = [f"# {title}", ""]
    if dataset_info:
        md += [
            "## Dataset",
            "",
            _md_table(["", "value"], [[k, _fmt(v)] for k, v in dataset_info.items()]),
            "",
        ]
    md += ["## Comparison (track level)", "", _md_table(headers, rows), ""]
    if comparison_file:
        md += [f"![model comparison]({comparison_file})", ""]
    for run, files in zip(run_list, figures, strict=True):
        m = run.result.track
        md += [f"## {_md_cell(run.name)}", ""]
        md += [_md_table(["", "value"], _cost_rows(run)), ""]
        md += [_md_table(["metric", "track", "segment"], _summary_rows(run)), ""]
        md += [f"> note ({key}): {note}\n" for key, note in _notes(run).items()]
        md += ["### Per class (track level)", ""]
        md += [
            _md_table(["class", "precision", "recall", "F1", "Jaccard", "support"], _per_class_rows(m)),
            "",
        ]
        md += [f"![{caption}]({name})" for caption, name in files] + [""]
    if history_files:
        md += ["## Training history", ""] + [f"![{c}]({n})" for c, n in history_files] + [""]
    for heading, text in sections:
        md += [f"## {heading}", "", str(text), ""]
    _write_text(out / "report.md", "\n".join(md))

    # ---- report.html
    esc = html.escape

    def img(caption: str, name: str) -> str:
        data = base64.b64encode((out / name).read_bytes()).decode("ascii")
        return (
            f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )

    body: list[str] = [f"<h1>{esc(title)}</h1>"]
    if dataset_info:
        body += [
            "<h2>Dataset</h2>",
            _html_table(["", "value"], [[k, _fmt(v)] for k, v in dataset_info.items()]),
        ]
    body += ["<h2>Comparison (track level)</h2>", _html_table(headers, rows)]
    if comparison_file:
        body.append(f'<div class="figs">{img("model comparison", comparison_file)}</div>')
    for run, files in zip(run_list, figures, strict=True):
        m = run.result.track
        body += [
            f"<h2>{esc(run.name)}</h2>",
            _html_table(["", "value"], _cost_rows(run)),
            _html_table(["metric", "track", "segment"], _summary_rows(run)),
        ]
        body += [f'<p class="note">note ({esc(key)}): {esc(note)}</p>' for key, note in _notes(run).items()]
        body += [
            "<h3>Per class (track level)</h3>",
            _html_table(["class", "precision", "recall", "F1", "Jaccard", "support"], _per_class_rows(m)),
            '<div class="figs">' + "".join(img(c, n) for c, n in files) + "</div>",
        ]
    if history_files:
        body += [
            "<h2>Training history</h2>",
            '<div class="figs">' + "".join(img(c, n) for c, n in history_files) + "</div>",
        ]
    for heading, text in sections:
        body += [f"<h2>{esc(str(heading))}</h2>", f'<div class="section">{esc(str(text))}</div>']
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    _write_text(out / "report.html", page)
    return out


def _notes(run: ModelRun) -> dict[str, str]:
    """Why metrics of a run are undefined, track level first."""
    segment = {f"segment {k}": v for k, v in run.result.segment.notes.items()}
    return {**run.result.track.notes, **segment}


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GenreKitError(f"cannot write the report file: {exc.strerror or exc}", source=path) from exc
