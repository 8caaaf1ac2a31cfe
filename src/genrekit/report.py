"""The Markdown/HTML evaluation report (assembled from :mod:`genrekit.render` pieces).

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from genrekit.errors import ConfigError, GenreKitError
from genrekit.evaluate import HEADLINE_METRICS, Metrics, ModelRun, comparison_table
from genrekit.files import to_jsonable
from genrekit.render import (
    CSS,
    fmt,
    html_table,
    md_cell,
    md_table,
    plot_comparison,
    plot_history,
    plot_matrix,
    plot_per_class,
    save_figure,
    unique_stems,
    write_text,
)

__all__ = ["write_report"]


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


# ----------------------------------------------------------------------------------------------- tables
def _display_table(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = [_TABLE_HEADERS.get(c, c) for c in table.columns]
    rows = []
    for _, row in table.iterrows():
        cells = []
        for col in table.columns:
            digits = 1 if col in ("fit_s", "predict_ms_per_track") else 4
            cells.append(fmt(row[col], digits))
        rows.append(cells)
    return headers, rows


def _summary_rows(run: ModelRun) -> list[list[str]]:
    t, s = run.result.track.summary(), run.result.segment.summary()
    rows = [["n", fmt(t["n_samples"]), fmt(s["n_samples"])]]
    rows += [[name, fmt(t[name]), fmt(s[name])] for name in HEADLINE_METRICS]
    return rows


def _per_class_rows(metrics: Metrics) -> list[list[str]]:
    return [
        [
            c,
            fmt(metrics.precision[i]),
            fmt(metrics.recall[i]),
            fmt(metrics.f1[i]),
            fmt(metrics.jaccard_per_class[i]),
            fmt(int(metrics.support[i])),
        ]
        for i, c in enumerate(metrics.classes)
    ]


def _cost_rows(run: ModelRun) -> list[list[str]]:
    rows = [
        ["aggregation", run.result.aggregation],
        ["test tracks / segments", f"{run.result.n_tracks} / {run.result.n_segments}"],
        ["fit time (s)", fmt(run.fit_time_s, 2)],
        ["predict time, total (s)", fmt(run.predict_time_s, 3)],
        ["predict time per track (ms)", fmt(1000.0 * run.predict_time_per_track_s, 2)],
        ["parameters", fmt(run.n_params)],
    ]
    rows += [
        [str(k), json.dumps(to_jsonable(v)) if not isinstance(v, str) else v] for k, v in run.extra.items()
    ]
    return rows


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
    all_stems = unique_stems(run_names + history_only)
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
        for kind, matrix, number_format, caption in (
            ("confusion", m.confusion, "d", "confusion matrix (counts; rows = true, columns = predicted)"),
            ("recall", m.recall_matrix, ".2f", "recall matrix (rows normalised)"),
            ("precision", m.precision_matrix, ".2f", "precision matrix (columns normalised)"),
        ):
            name = f"{kind}_{stem}.png"
            matrix_title = f"{run.name}: {kind} (tracks)"
            plot_matrix(matrix, m.classes, title=matrix_title, fmt=number_format, path=out / name)
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
    write_text(out / "metrics.json", json.dumps(payload, indent=2, allow_nan=False))

    headers, rows = _display_table(table)
    sections = list(extra_sections or [])

    # ---- report.md
    md: list[str] = [f"# {title}", ""]
    if dataset_info:
        md += [
            "## Dataset",
            "",
            md_table(["", "value"], [[k, fmt(v)] for k, v in dataset_info.items()]),
            "",
        ]
    md += ["## Comparison (track level)", "", md_table(headers, rows), ""]
    if comparison_file:
        md += [f"![model comparison]({comparison_file})", ""]
    for run, files in zip(run_list, figures, strict=True):
        m = run.result.track
        md += [f"## {md_cell(run.name)}", ""]
        md += [md_table(["", "value"], _cost_rows(run)), ""]
        md += [md_table(["metric", "track", "segment"], _summary_rows(run)), ""]
        md += [f"> note ({key}): {note}\n" for key, note in _notes(run).items()]
        md += ["### Per class (track level)", ""]
        md += [
            md_table(["class", "precision", "recall", "F1", "Jaccard", "support"], _per_class_rows(m)),
            "",
        ]
        md += [f"![{caption}]({name})" for caption, name in files] + [""]
    if history_files:
        md += ["## Training history", ""] + [f"![{c}]({n})" for c, n in history_files] + [""]
    for heading, text in sections:
        md += [f"## {heading}", "", str(text), ""]
    write_text(out / "report.md", "\n".join(md))

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
            html_table(["", "value"], [[k, fmt(v)] for k, v in dataset_info.items()]),
        ]
    body += ["<h2>Comparison (track level)</h2>", html_table(headers, rows)]
    if comparison_file:
        body.append(f'<div class="figs">{img("model comparison", comparison_file)}</div>')
    for run, files in zip(run_list, figures, strict=True):
        m = run.result.track
        body += [
            f"<h2>{esc(run.name)}</h2>",
            html_table(["", "value"], _cost_rows(run)),
            html_table(["metric", "track", "segment"], _summary_rows(run)),
        ]
        body += [f'<p class="note">note ({esc(key)}): {esc(note)}</p>' for key, note in _notes(run).items()]
        body += [
            "<h3>Per class (track level)</h3>",
            html_table(["class", "precision", "recall", "F1", "Jaccard", "support"], _per_class_rows(m)),
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
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    write_text(out / "report.html", page)
    return out


def _notes(run: ModelRun) -> dict[str, str]:
    """Why metrics of a run are undefined, track level first."""
    segment = {f"segment {k}": v for k, v in run.result.segment.notes.items()}
    return {**run.result.track.notes, **segment}


# ---- feature-group ablation and genre-pair separability (``compare --ablate / --separability``) ----------
def ablation_section(rows: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The ablation table of :func:`genrekit.training.ablation` rows as a report section.

    Returns
    -------
    (heading, markdown)
    """
    table = md_table(
        ["model", "left out", "columns", "track accuracy", "change", "95% interval of the change"],
        [
            [
                r["model"], r["dropped"], r["columns"], f"{r['accuracy']:.3f}",
                "" if r["dropped"] == "none" else f"{r['change']:+.3f}",
                "" if r["dropped"] == "none" else f"{r['change_lo']:+.3f} .. {r['change_hi']:+.3f}",
            ]
            for r in rows
        ],
    )  # fmt: skip
    n = rows[0]["n_tracks"] if rows else 0
    text = (
        f"Each feature group left out in turn, the model refitted on the same split ({n} test tracks). "
        "The interval is a paired bootstrap over the test tracks: an interval that spans 0 means the "
        "group's contribution is not measurable on this data.\n\n" + table
    )
    return "Feature-group ablation", text


def plot_separability(classes: Sequence[str], matrix: np.ndarray, path: str | Path) -> Path:
    """Genre-by-genre heat map of pairwise accuracies (0.5 = indistinguishable, 1 = always apart)."""
    n = len(classes)
    side = float(np.clip(0.42 * n + 2.8, 5.0, 14.0))
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    shown = np.ma.masked_invalid(np.asarray(matrix, dtype=np.float64))
    im = ax.imshow(shown, cmap="RdYlGn", vmin=0.5, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="pairwise track accuracy")
    ax.set_xticks(np.arange(n), labels=list(classes), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(n), labels=list(classes))
    ax.set_title("genre-pair separability (one binary classifier per pair)")
    for i in range(n):
        for j in range(n):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=9 if n <= 10 else 7)
    return save_figure(fig, path)


def separability_section(
    classes: Sequence[str], matrix: np.ndarray, out_dir: str | Path, *, model: str = "logreg"
) -> tuple[str, str]:
    """The separability heat map (``separability.png``) and its hardest pairs as a report section."""
    path = plot_separability(classes, matrix, Path(out_dir) / "separability.png")
    pairs = sorted(
        (float(matrix[i, j]), classes[i], classes[j])
        for i in range(len(classes))
        for j in range(i + 1, len(classes))
        if np.isfinite(matrix[i, j])
    )
    table = md_table(
        ["genre", "genre", "pairwise track accuracy"], [[a, b, f"{v:.3f}"] for v, a, b in pairs[:10]]
    )
    text = (
        f"One binary {model} per pair of genres on grouped folds of their tracks (artist when known, else "
        "track); 0.5 = indistinguishable. Hardest pairs first.\n\n"
        f"![separability]({path.name})\n\n" + table
    )
    return "Genre-pair separability", text
