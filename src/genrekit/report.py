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

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from genrekit.errors import ConfigError, GenreKitError
from genrekit.files import to_jsonable
from genrekit.metrics import HEADLINE_METRICS, Metrics, ModelRun, comparison_table, format_mean_std
from genrekit.render import (
    Figures,
    Markdown,
    Paragraph,
    Report,
    Section,
    Table,
    fmt,
    fmt_accuracy,
    fmt_value,
    plot_comparison,
    plot_history,
    plot_matrix,
    plot_per_class,
    save_figure,
    unique_stems,
    write_rendered,
    write_text,
)

__all__ = ["rank_runs", "write_report"]


_TABLE_HEADERS: dict[str, str] = {
    "model": "model",
    "track_accuracy": "accuracy (95% CI, n tracks)",
    "track_balanced_accuracy": "balanced acc.",
    "track_macro_f1": "macro-F1",
    "track_log_loss": "log loss",
    "track_jaccard": "Jaccard",
    "track_roc_auc": "ROC-AUC",
    "segment_accuracy": "segment acc.",
    "fit_s": "fit (s)",
    "predict_ms_per_track": "predict (ms/track)",
}

_INTERVAL_NOTE = (
    "Accuracy intervals: Wilson 95% over the test tracks (n). Segment accuracy has none: the segments "
    "of one track are not independent draws."
)


# ----------------------------------------------------------------------------------------------- order
def _score(value: float | None) -> float:
    return -math.inf if value is None or not math.isfinite(float(value)) else float(value)


def _rank_order(runs: Sequence[ModelRun]) -> list[int]:
    def key(i: int) -> tuple[float, float]:
        t = runs[i].result.track
        return -_score(t.accuracy), -_score(t.macro_f1)

    return sorted(range(len(runs)), key=key)


def rank_runs(runs: Sequence[ModelRun]) -> list[ModelRun]:
    """Best first: by track accuracy, then track macro-F1 (stable: ties keep the given order)."""
    return [runs[i] for i in _rank_order(runs)]


# ----------------------------------------------------------------------------------------------- tables
def _comparison_rows(ranked: Sequence[ModelRun]) -> Table:
    table = comparison_table(ranked)
    order = {name: i for i, name in enumerate(r.name for r in ranked)}
    table = table.iloc[sorted(range(len(table)), key=lambda i: order[table.loc[i, "model"]])]
    n_tracks = {r.name: r.result.n_tracks for r in ranked}
    rows = []
    for _, row in table.iterrows():
        cells = []
        for col in table.columns:
            if col == "track_accuracy":
                cells.append(fmt_accuracy(row[col], n_tracks[row["model"]]))
            else:
                cells.append(fmt(row[col], 1 if col in ("fit_s", "predict_ms_per_track") else 4))
        rows.append(cells)
    return Table([_TABLE_HEADERS.get(c, c) for c in table.columns], rows)


def _summary_rows(run: ModelRun) -> list[list[str]]:
    t, s = run.result.track.summary(), run.result.segment.summary()
    rows = [["n", fmt(t["n_samples"]), fmt(s["n_samples"])]]
    for name in HEADLINE_METRICS:
        track = fmt_accuracy(t[name], run.result.n_tracks) if name == "accuracy" else fmt(t[name])
        rows.append([name, track, fmt(s[name])])
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


def _parameters(run: ModelRun) -> str:
    """One readable line: the model's settings, how they were chosen and its size."""
    params = run.extra.get("params")
    text = ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items()) if params else "defaults"
    search = run.extra.get("search")
    if isinstance(search, Mapping) and search:
        score = search.get("best_score_f1_macro")
        text += f" (grid search over {search.get('folds', '?')} grouped folds"
        text += f", CV macro-F1 {score:.4f})" if isinstance(score, (int, float)) else ")"
    if run.n_params is not None:
        text += f"; {int(run.n_params):,} trainable parameters"
    return text


def _cost_rows(run: ModelRun) -> list[list[str]]:
    rows = [
        ["parameters", _parameters(run)],
        ["aggregation", run.result.aggregation],
        ["test tracks / segments", f"{run.result.n_tracks} / {run.result.n_segments}"],
        ["fit time (s)", fmt(run.fit_time_s, 2)],
        ["predict time, total (s)", fmt(run.predict_time_s, 3)],
        ["predict time per track (ms)", fmt(1000.0 * run.predict_time_per_track_s, 2)],
    ]
    folds = run.extra.get("folds")
    if isinstance(folds, Mapping) and "track" in folds:
        rows.append(
            [
                f"cross-validation ({folds.get('n_folds')} folds, track level)",
                ", ".join(f"{m} {format_mean_std(folds['track'][m])}" for m in ("accuracy", "macro_f1")),
            ]
        )
    shown = {"params", "search", "folds", "history"}  # history: drawn in its own section
    rows += [[str(k), fmt_value(v)] for k, v in run.extra.items() if k not in shown]
    return rows


def _notes(run: ModelRun) -> dict[str, str]:
    """Why metrics of a run are undefined, track level first."""
    segment = {f"segment {k}": v for k, v in run.result.segment.notes.items()}
    return {**run.result.track.notes, **segment}


# ----------------------------------------------------------------------------------------------- figures
def _run_figures(run: ModelRun, stem: str, out: Path) -> Figures:
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
    return Figures(files)


def _run_sections(run: ModelRun, figures: Figures) -> list[Section]:
    blocks: list[Any] = [
        Table(["", "value"], _cost_rows(run)),
        Table(["metric", "track", "segment"], _summary_rows(run)),
    ]
    blocks += [Paragraph(f"note ({key}): {note}", note=True) for key, note in _notes(run).items()]
    per_class = Table(
        ["class", "precision", "recall", "F1", "Jaccard", "support"], _per_class_rows(run.result.track)
    )
    return [Section(run.name, blocks), Section("Per class (track level)", [per_class, figures], level=3)]


def _history_figures(
    history: Mapping[str, Mapping[str, Sequence[float]]], run_names: list[str], stems: list[str], out: Path
) -> Figures:
    """``history_<model>.png`` per model; a run's stem when the model is a run (its first one)."""
    extra = [k for k in history if k not in run_names]
    extra_stems = unique_stems(run_names + extra)[len(run_names) :]
    stem_of = dict(zip(extra, extra_stems, strict=True))
    for name, stem in zip(run_names, stems, strict=True):
        stem_of.setdefault(name, stem)
    files = []
    for model, hist in history.items():
        name = f"history_{stem_of[model]}.png"
        plot_history(hist, out / name, title=f"{model}: training history")
        files.append((f"{model}: training history", name))
    return Figures(files)


def as_section(section: Section | tuple[str, str]) -> Section:
    """A :class:`Section`, or a ``(heading, markdown)`` pair of genrekit-written Markdown as one."""
    if isinstance(section, Section):
        return section
    heading, text = section
    return Section(str(heading), [Markdown(str(text))])


# ----------------------------------------------------------------------------------------------- report
def write_report(
    out_dir: str | Path,
    runs: Sequence[ModelRun] | ModelRun,
    *,
    title: str = "genrekit report",
    dataset_info: Mapping[str, Any] | None = None,
    extra_sections: Sequence[Section | tuple[str, str]] | None = None,
    history: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> Path:
    """Write the evaluation report of one or several models into a folder.

    One structured :class:`~genrekit.render.Report` is built and rendered to both ``report.md`` and
    ``report.html`` (:func:`genrekit.render.write_rendered`): figures embedded in the HTML, model
    sections best first (track accuracy, then macro-F1), a Wilson 95% interval and the test-track count
    beside every track accuracy.

    Parameters
    ----------
    out_dir : str or Path
        Report folder (created with its parents).
    runs : ModelRun or sequence of ModelRun
        The evaluated models.
    title : str
        Report title.
    dataset_info : mapping, optional
        Key/value facts about the data (name, tracks per split, features, ...), shown as a table; mappings
        are shown as readable ``key value`` lists (:func:`genrekit.render.fmt_value`).
    extra_sections : sequence of Section or (heading, markdown), optional
        Additional sections appended as given (calibration, importance, cleaning, ...).
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

    run_names = [r.name for r in run_list]
    stems = unique_stems(run_names)
    figures = [_run_figures(run, stem, out) for run, stem in zip(run_list, stems, strict=True)]
    table = comparison_table(run_list)
    payload = {
        "title": title,
        "dataset_info": to_jsonable(dict(dataset_info or {})),
        "comparison": to_jsonable(table.to_dict(orient="records")),
        "runs": [to_jsonable(r.to_dict()) for r in run_list],
    }
    write_text(out / "metrics.json", json.dumps(payload, indent=2, allow_nan=False))

    report = Report(title)
    if dataset_info:
        rows = [[str(k), fmt_value(v)] for k, v in dataset_info.items()]
        report.sections.append(Section("Dataset", [Table(["", "value"], rows)]))
    order = _rank_order(run_list)
    comparison: list[Any] = [_comparison_rows([run_list[i] for i in order]), Paragraph(_INTERVAL_NOTE)]
    if len(run_list) > 1:
        plot_comparison(table, out / "comparison.png")
        comparison.append(Figures([("model comparison", "comparison.png")]))
    report.sections.append(Section("Comparison (track level, best first)", comparison))
    for i in order:
        report.sections += _run_sections(run_list[i], figures[i])
    if history:
        history_figures = _history_figures(history, run_names, stems, out)
        report.sections.append(Section("Training history", [history_figures]))
    report.sections += [as_section(s) for s in extra_sections or ()]
    write_rendered(report, out, "report")
    return out


# ---- feature-group ablation and genre-pair separability (``compare --ablate / --separability``) ----------
def ablation_section(rows: Sequence[Mapping[str, Any]]) -> Section:
    """The ablation table of :func:`genrekit.training.ablation` rows as a report section."""
    table = Table(
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
        "group's contribution is not measurable on this data."
    )
    return Section("Feature-group ablation", [Paragraph(text), table])


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
) -> Section:
    """The separability heat map (``separability.png``) and its hardest pairs as a report section."""
    path = plot_separability(classes, matrix, Path(out_dir) / "separability.png")
    pairs = sorted(
        (float(matrix[i, j]), classes[i], classes[j])
        for i in range(len(classes))
        for j in range(i + 1, len(classes))
        if np.isfinite(matrix[i, j])
    )
    text = (
        f"One binary {model} per pair of genres on grouped folds of their tracks (artist when known, else "
        "track); 0.5 = indistinguishable. Hardest pairs first."
    )
    hardest = [[a, b, f"{v:.3f}"] for v, a, b in pairs[:10]]
    table = Table(["genre", "genre", "pairwise track accuracy"], hardest)
    figure = Figures([("separability", path.name)])
    return Section("Genre-pair separability", [Paragraph(text), figure, table])
