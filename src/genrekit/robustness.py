"""Robustness to degraded audio: evaluate models under each degradation, and train with them as augmentation.

Evaluation (:func:`evaluate_robustness`) loads every test track once, applies each degradation of
:data:`genrekit.degrade.DEGRADATIONS` at each of its levels in memory (one degraded copy shared by all
the models compared) and classifies it with :meth:`genrekit.predict.Classifier.predict_audio`; the
result is a table of track accuracy, macro-F1, mean confidence and calibration error per model,
degradation and level, which :func:`write_robustness_report` turns into Markdown/HTML, JSON, CSV and an
accuracy-against-strength plot.

Training with degraded copies lives one floor down, in :mod:`genrekit.features.augmenting`
(an extractor, used by ``train --augment``); test tracks are scored clean, or degraded on purpose here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genrekit.degrade import DEGRADATIONS, apply, resolve
from genrekit.errors import ConfigError, DatasetError, GenreKitError
from genrekit.files import to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.data.tracks import Dataset
    from genrekit.predict import Classifier
    from genrekit.render import Report

log = logging.getLogger(__name__)

__all__ = [
    "CLEAN",
    "RobustnessResult",
    "evaluate_robustness",
    "plot_robustness",
    "write_robustness_report",
]

#: The name of the undegraded condition in robustness tables.
CLEAN = "clean"


# ---------------------------------------------------------------------------------------------- result
TABLE_COLUMNS: tuple[str, ...] = (
    "model",
    "degradation",
    "level",
    "label",
    "n_tracks",
    "accuracy",
    "macro_f1",
    "mean_confidence",
    "ece",
    "accuracy_drop",
)


@dataclass
class RobustnessResult:
    """Track-level scores of several models under several degradations.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (model, degradation, level), columns :data:`TABLE_COLUMNS`; the ``clean`` rows have
        level NaN. ``accuracy_drop`` is the model's clean accuracy minus this accuracy (points in [0, 1]),
        ``ece`` the top-label expected calibration error (15 bins) of the track predictions.
    predictions : pandas.DataFrame
        One row per (model, degradation, level, track): ``true``, ``predicted``, ``confidence``, ``correct``.
    models : list of str
    degradations : list of str
        In evaluation order (``clean`` not included).
    failures : list of (str, str)
        Tracks or conditions that could not be scored, with the reason.
    info : dict
        Data, split, seed, timing (seconds spent degrading per degradation).
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    models: list[str]
    degradations: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def pivot(self, metric: str = "accuracy") -> pd.DataFrame:
        """``metric`` with one row per condition (``clean`` first) and one column per model."""
        if metric not in self.table.columns:
            raise ConfigError(f"unknown metric {metric!r}; valid: {', '.join(TABLE_COLUMNS[4:])}")
        t = self.table.copy()
        t["condition"] = [
            CLEAN if d == CLEAN else f"{d} {lab}" for d, lab in zip(t["degradation"], t["label"], strict=True)
        ]
        order = list(dict.fromkeys(t["condition"]))
        wide = t.pivot(index="condition", columns="model", values=metric)
        return wide.reindex(index=order, columns=self.models)

    def summary(self) -> pd.DataFrame:
        """Per model: clean accuracy, mean and worst degraded accuracy, and the issue's goal conditions.

        Columns ``model``, ``clean``, ``mean_degraded``, ``worst``, ``worst_condition``, then the accuracy
        at 10 dB SNR (white, pink) and at the lowest MP3 bitrate / Ogg quality when those were evaluated.
        """
        rows = []
        for m in self.models:
            t = self.table[self.table["model"] == m]
            clean = t.loc[t["degradation"] == CLEAN, "accuracy"]
            deg = t[t["degradation"] != CLEAN]
            row: dict[str, Any] = {"model": m, "clean": float(clean.iloc[0]) if len(clean) else np.nan}
            row["mean_degraded"] = float(deg["accuracy"].mean()) if len(deg) else np.nan
            if len(deg):
                w = deg.loc[deg["accuracy"].idxmin()]
                row["worst"] = float(w["accuracy"])
                row["worst_condition"] = f"{w['degradation']} {w['label']}"
            for name, level, col in (
                ("noise_white", 10.0, "white_10dB"),
                ("noise_pink", 10.0, "pink_10dB"),
                ("mp3", min(DEGRADATIONS["mp3"].levels), "mp3_lowest"),
                ("ogg", min(DEGRADATIONS["ogg"].levels), "ogg_lowest"),
            ):
                hit = deg[(deg["degradation"] == name) & np.isclose(deg["level"].astype(float), level)]
                if len(hit):
                    row[col] = float(hit["accuracy"].iloc[0])
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: table, summary, info and failures."""
        return to_jsonable(
            {
                "models": self.models,
                "degradations": self.degradations,
                "levels": {
                    d: {"levels": DEGRADATIONS[d].levels, "unit": DEGRADATIONS[d].unit}
                    for d in self.degradations
                },
                "table": self.table.to_dict(orient="records"),
                "summary": self.summary().to_dict(orient="records"),
                "info": self.info,
                "failures": self.failures,
            }
        )


# ------------------------------------------------------------------------------------------ evaluation
def _load_classifiers(models: Sequence[Any]) -> list[Classifier]:
    from genrekit.predict import Classifier, load_model

    if not models:
        raise ConfigError("evaluate_robustness needs at least one model")
    out = []
    for m in models:
        out.append(m if isinstance(m, Classifier) else load_model(m))
    return out


def _unique_names(clfs: Sequence[Classifier]) -> list[str]:
    names: list[str] = []
    for c in clfs:
        base, name, i = c.name, c.name, 2
        while name in names:
            name, i = f"{base} ({i})", i + 1
        names.append(name)
    return names


def _select_tracks(dataset: Dataset, max_tracks: int | None, seed: int) -> Dataset:
    """At most ``max_tracks`` tracks, balanced over labels (round-robin over a seeded shuffle)."""
    if max_tracks is None or max_tracks >= len(dataset):
        return dataset
    if max_tracks < 1:
        raise ConfigError(f"max_tracks must be >= 1; got {max_tracks}")
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i in rng.permutation(len(dataset)):
        by_label.setdefault(dataset.tracks[int(i)].label, []).append(int(i))
    queues = [by_label[k] for k in sorted(by_label)]
    chosen: list[int] = []
    while len(chosen) < max_tracks:
        for q in queues:
            if q and len(chosen) < max_tracks:
                chosen.append(q.pop(0))
    return dataset.subset(sorted(chosen))


def _conditions(degradations: Sequence[str]) -> list[tuple[str, float]]:
    conds: list[tuple[str, float]] = [(CLEAN, float("nan"))]
    for d in degradations:
        conds += [(d, lv) for lv in DEGRADATIONS[d].levels]
    return conds


#: Prediction records, failures ``(item, message)`` and seconds spent on each degradation.
_Scores = tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, float]]


@dataclass(frozen=True)
class _Scoring:
    """What every track is scored with, declared once for the sequential and the parallel runs.

    Attributes
    ----------
    classifiers : list of Classifier
    names : list of str
        The models' names in the table, one per classifier.
    conditions : list of (str, float)
        ``(degradation, level)`` pairs, :data:`CLEAN` first.
    sr : int
        Rate the audio is loaded and degraded at.
    seed : int
        Seeds the random degradations (track ``index`` under condition ``ci`` draws from
        ``[seed, index, ci]``, whichever process scores it).
    """

    classifiers: list[Classifier]
    names: list[str]
    conditions: list[tuple[str, float]]
    sr: int
    seed: int

    def score_all(
        self,
        jobs: list[tuple[int, str, str, str]],
        *,
        workers: int,
        progress: Callable[[int, int], None] | None,
    ) -> _Scores:
        """Score every track, in ``workers`` processes or in order with ``progress``.

        Returns the prediction records, the failures, and the seconds spent on each degradation.
        """
        records: list[dict[str, Any]] = []
        failures: list[tuple[str, str]] = []
        timing: dict[str, float] = {}
        n_workers = max(1, int(workers))
        if n_workers > 1 and len(jobs) > 1:
            from joblib import Parallel, delayed

            chunks = [jobs[k::n_workers] for k in range(n_workers) if jobs[k::n_workers]]
            outs = Parallel(n_jobs=len(chunks))(delayed(self.score_tracks)(c) for c in chunks)
        else:
            outs = []
            for done, job in enumerate(jobs, 1):
                outs.append(self.score_tracks([job]))
                if progress is not None:
                    progress(done, len(jobs))
        for r, f, tm in outs:
            records += r
            failures += f
            for k, v in tm.items():
                timing[k] = timing.get(k, 0.0) + v
        return records, failures, timing

    def score_tracks(self, jobs: list[tuple[int, str, str, str]]) -> _Scores:
        """Score ``(index, path, track_id, label)`` jobs under every condition; never raises on one item."""
        from genrekit.audio import load

        sr, seed = self.sr, self.seed
        records: list[dict[str, Any]] = []
        failures: list[tuple[str, str]] = []
        timing: dict[str, float] = {}
        for index, path, track_id, label in jobs:
            try:
                y, _ = load(path, sr=sr)
            except GenreKitError as exc:
                failures.append((path, exc.message))
                continue
            for ci, (deg, level) in enumerate(self.conditions):
                t0 = time.perf_counter()
                rng = np.random.default_rng([seed, index, ci])
                try:
                    z = y if deg == CLEAN else apply(deg, level, y, sr, rng)
                except GenreKitError as exc:
                    failures.append((f"{path} [{deg} {level:g}]", exc.message))
                    continue
                timing[deg] = timing.get(deg, 0.0) + time.perf_counter() - t0
                for clf, name in zip(self.classifiers, self.names, strict=True):
                    try:
                        pred = clf.predict_audio(z, sr, source=path)
                    except GenreKitError as exc:
                        failures.append((f"{path} [{name}, {deg}]", exc.message))
                        continue
                    records.append(
                        {
                            "model": name,
                            "degradation": deg,
                            "level": level,
                            "track": track_id,
                            "true": label,
                            "predicted": pred.genre,
                            "confidence": float(pred.confidence),
                        }
                    )
        return records, failures, timing


def _summarise(pred: pd.DataFrame, names: list[str], conditions: list[tuple[str, float]]) -> pd.DataFrame:
    from sklearn.metrics import f1_score

    from genrekit.calibration import DEFAULT_BINS

    rows = []
    for name in names:
        clean_acc = np.nan
        for deg, level in conditions:
            sel = pred[(pred["model"] == name) & (pred["degradation"] == deg)]
            if deg != CLEAN:
                sel = sel[np.isclose(sel["level"].astype(float), level)]
            if sel.empty:
                continue
            correct = sel["correct"].to_numpy(dtype=np.float64)
            conf = sel["confidence"].to_numpy(dtype=np.float64)
            acc = float(correct.mean())
            if deg == CLEAN:
                clean_acc = acc
            labels = sorted(set(sel["true"]) | set(sel["predicted"]))
            rows.append(
                {
                    "model": name,
                    "degradation": deg,
                    "level": level,
                    "label": CLEAN if deg == CLEAN else DEGRADATIONS[deg].label(level),
                    "n_tracks": len(sel),
                    "accuracy": acc,
                    "macro_f1": float(
                        f1_score(
                            sel["true"], sel["predicted"], labels=labels, average="macro", zero_division=0
                        )
                    ),
                    "mean_confidence": float(conf.mean()),
                    "ece": _ece_from_confidence(conf, correct, DEFAULT_BINS),
                    "accuracy_drop": clean_acc - acc,
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _ece_from_confidence(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    gap = np.abs(
        np.bincount(b, weights=correct, minlength=n_bins) - np.bincount(b, weights=conf, minlength=n_bins)
    )
    return float(gap.sum() / max(count.sum(), 1))


def _test_side(dataset: Dataset, split_file: str | Path | None) -> tuple[Dataset, str]:
    """The tracks to score: the test list of ``split_file``, or all of them; and how they were chosen."""
    if split_file is None:
        return dataset, "all tracks"
    from genrekit.data.splits import make_split

    test_ids = set(make_split(dataset, split_file=split_file).test)
    dataset = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in test_ids])
    return dataset, f"test list of {split_file}"


def evaluate_robustness(
    models: Sequence[str | Path | Classifier],
    data: str | Path | Dataset,
    *,
    degradations: str | Sequence[str] | None = None,
    split_file: str | Path | None = None,
    max_tracks: int | None = None,
    seed: int = 0,
    workers: int = 1,
    sr: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RobustnessResult:
    """Track-level accuracy of each model on clean audio and under each degradation at each level.

    Parameters
    ----------
    models : sequence of bundle path, pretrained model name or Classifier
        Bundles, names of :func:`genrekit.pretrained.list_models` (``"gtzan"``, ``"musicnn"``, ...; loaded
        by :func:`genrekit.predict.load_model`) or classifiers; their names label the table
        (duplicates get ``" (2)"`` ...).
    data : folder, manifest or Dataset
        Labelled audio.
    degradations : str or sequence of str, optional
        Names or groups (:func:`genrekit.degrade.resolve`); default all of them.
    split_file : path, optional
        Score only the test list of this split (see :func:`genrekit.data.splits.make_split`); default all
        tracks of ``data``.
    max_tracks : int, optional
        Score at most this many tracks, balanced over labels (seeded choice).
    seed : int
        Seeds the track choice and the random degradations (noise, reverb); same seed, same table.
    workers : int
        Processes (joblib) over tracks; each gets a copy of the models.
    sr : int, optional
        Rate the audio is loaded and degraded at (default: the highest rate the models use); each
        model's extractor resamples to its own rate.
    progress : callable, optional
        Called as ``progress(done, total)`` after each track (sequential runs only).

    Returns
    -------
    RobustnessResult

    Raises
    ------
    DatasetError
        The data has genres a model does not know, or no track could be scored.
    """
    from genrekit.data.folders import load_dataset
    from genrekit.data.tracks import Dataset

    classifiers = _load_classifiers(models)
    names = _unique_names(classifiers)
    degs = list(resolve("all" if degradations is None else degradations))
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    dataset, split_desc = _test_side(dataset, split_file)
    if len(dataset) == 0:
        raise DatasetError("no tracks to evaluate (empty data or test list)")
    for clf, name in zip(classifiers, names, strict=True):
        unknown = sorted(set(dataset.labels) - set(clf.classes_))
        if unknown:
            raise DatasetError(
                f"the data has genres model {name!r} does not know: {unknown}; its labels: {clf.classes_}"
            )
    dataset = _select_tracks(dataset, max_tracks, seed)
    load_sr = int(sr) if sr is not None else max(int(c.sr) for c in classifiers)
    conditions = _conditions(degs)
    jobs = [(i, str(t.path), t.track_id, t.label) for i, t in enumerate(dataset.tracks)]

    t0 = time.perf_counter()
    scoring = _Scoring(classifiers, names, conditions, load_sr, seed)
    records, failures, timing = scoring.score_all(jobs, workers=workers, progress=progress)
    if not records:
        raise DatasetError(f"no track could be scored; first problem: {failures[:1]}")
    pred = pd.DataFrame.from_records(records)
    pred["correct"] = pred["true"] == pred["predicted"]
    pred = pred.sort_values(["model", "track"], kind="mergesort").reset_index(drop=True)
    table = _summarise(pred, names, conditions)
    info = {
        "data": str(dataset.root) if getattr(dataset, "root", None) else "dataset",
        "split": split_desc,
        "tracks": len(dataset),
        "genres": dataset.counts(),
        "seed": seed,
        "sample_rate": load_sr,
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "degrade_time_s": {k: round(v, 2) for k, v in timing.items() if k != CLEAN},
    }
    for f in failures:
        log.warning("robustness: %s: %s", *f)
    return RobustnessResult(table, pred, names, degs, failures, info)


# ---------------------------------------------------------------------------------------------- report
def plot_robustness(result: RobustnessResult, path: str | Path, *, metric: str = "accuracy") -> Path:
    """One panel per degradation: ``metric`` against strength (mild to severe), one line per model.

    The dashed line of each model's colour is its clean score.
    """
    from matplotlib.figure import Figure

    from genrekit.render import save_figure

    degs = result.degradations
    if not degs:
        raise ConfigError("the result has no degradation to plot (clean only)")
    ncols = min(4, len(degs))
    nrows = -(-len(degs) // ncols)
    fig = Figure(figsize=(3.4 * ncols, 2.9 * nrows + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)
    colors = [f"C{i % 10}" for i in range(len(result.models))]
    t = result.table
    for ax, deg in zip(axes, degs, strict=False):
        d = DEGRADATIONS[deg]
        for model, color in zip(result.models, colors, strict=True):
            rows = t[(t["model"] == model) & (t["degradation"] == deg)]
            xs = [d.levels.index(float(lv)) for lv in rows["level"] if float(lv) in d.levels]
            ax.plot(xs, rows[metric].to_numpy()[: len(xs)], marker="o", color=color, label=model)
            clean = t[(t["model"] == model) & (t["degradation"] == CLEAN)][metric]
            if len(clean):
                ax.axhline(float(clean.iloc[0]), color=color, linestyle="--", linewidth=0.9, alpha=0.7)
        ax.set_xticks(range(len(d.levels)))
        ax.set_xticklabels([f"{lv:g}" for lv in d.levels], fontsize=8)
        ax.set_xlabel(d.unit, fontsize=8)
        ax.set_title(deg, fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[len(degs) :]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel(metric.replace("_", " "))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle(f"track {metric.replace('_', ' ')} under degradations (dashed: clean)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    return save_figure(fig, path)


def _fmt_cell(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "n/a" if not np.isfinite(v) else f"{float(v):.3f}"
    return str(v)


def _accuracy_rows(result: RobustnessResult) -> list[list[str]]:
    """Track accuracy per condition and model, each with its Wilson 95% interval over that cell's tracks."""
    from genrekit.render import fmt_accuracy

    acc, n = result.pivot("accuracy"), result.pivot("n_tracks").to_numpy(dtype=np.float64)
    rows = []
    for idx, acc_row, n_row in zip(acc.index, acc.to_numpy(dtype=np.float64), n, strict=True):
        cells = [
            fmt_accuracy(a, int(k), digits=3) if np.isfinite(k) else _fmt_cell(a)
            for a, k in zip(acc_row, n_row, strict=True)
        ]
        rows.append([idx, *cells])
    return rows


def _robustness_report(result: RobustnessResult, plot_file: str | None, title: str) -> Report:
    """The structured robustness report (rendered to Markdown and HTML by :mod:`genrekit.render`)."""
    from genrekit.render import Figures, Paragraph, Report, Section, Table, fmt_value

    summary = result.summary()
    s_rows = [[_fmt_cell(v) for v in row] for row in summary.itertuples(index=False)]
    ece = result.pivot("ece")
    headers = ["condition", *ece.columns]
    e_rows = [[idx, *[_fmt_cell(v) for v in row]] for idx, row in zip(ece.index, ece.to_numpy(), strict=True)]
    levels_rows = [
        [d, DEGRADATIONS[d].description, ", ".join(DEGRADATIONS[d].label(v) for v in DEGRADATIONS[d].levels)]
        for d in result.degradations
    ]
    summary_blocks: list[Any] = [Table([str(c) for c in summary.columns], s_rows)]
    if plot_file:
        summary_blocks.append(Figures([("accuracy against degradation strength (dashed: clean)", plot_file)]))
    report = Report(title)
    report.sections += [
        Section("Setup", [Table(["", "value"], [[k, fmt_value(v)] for k, v in result.info.items()])]),
        Section("Summary (track accuracy)", summary_blocks),
        Section(
            "Track accuracy per condition",
            [
                Table(headers, _accuracy_rows(result)),
                Paragraph("Intervals: Wilson 95% over the tracks scored in that condition (n)."),
            ],
        ),
        Section("Expected calibration error per condition", [Table(headers, e_rows)]),
        Section("Degradations", [Table(["name", "what", "levels (mild to severe)"], levels_rows)]),
    ]
    if result.failures:
        report.sections.append(Section("Not scored", [Table(["item", "reason"], result.failures)]))
    return report


def write_robustness_report(
    out: str | Path, result: RobustnessResult, *, title: str = "genrekit robustness report"
) -> Path:
    """Write the robustness report into the folder ``out``.

    Files: ``robustness.md``, ``robustness.html`` (self-contained: one structured report rendered to
    both, the plot embedded), ``robustness.json``, ``robustness.csv`` (the table), ``predictions.csv``
    (every track) and ``robustness.png``.

    Returns
    -------
    Path
        The folder.
    """
    import json

    from genrekit.render import write_rendered, write_text

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenreKitError(f"cannot create the report folder: {exc.strerror or exc}", source=out) from exc
    plot_file = None
    if result.degradations:
        plot_file = "robustness.png"
        plot_robustness(result, out / plot_file)
    try:
        result.table.to_csv(out / "robustness.csv", index=False)
        result.predictions.to_csv(out / "predictions.csv", index=False)
    except OSError as exc:
        raise GenreKitError(f"cannot write the tables: {exc.strerror or exc}", source=out) from exc
    write_text(out / "robustness.json", json.dumps(result.to_dict(), indent=2, allow_nan=False))
    write_rendered(_robustness_report(result, plot_file, title), out, "robustness")
    return out
