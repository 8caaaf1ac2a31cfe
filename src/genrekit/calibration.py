"""Measuring calibration: reliability curves, expected calibration error, diagrams, the report section.

The calibrated model itself (temperature scaling, :class:`~genrekit.models.calibrated.TemperatureScaled`)
and the ``unsure`` decision live one floor down, in :mod:`genrekit.models.calibrated`, so that prediction
never imports this module.

Conventions: ``y_true_idx`` are integer column indices into the probability matrix; confidence is the
top-class probability; bins are equal-width on [0, 1], the first one closed at 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genrekit.errors import ConfigError
from genrekit.models.calibrated import (
    _check_labels,
    _check_proba,
    labels_to_index,
    nll,
)

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.metrics import ModelRun
    from genrekit.render import Section


__all__ = [
    "DEFAULT_BINS",
    "calibration_section",
    "calibration_summary",
    "calibration_table",
    "expected_calibration_error",
    "plot_reliability",
    "reliability_curve",
]


DEFAULT_BINS = 15


# ------------------------------------------------------------------------------------------ measuring
def reliability_curve(
    y_true_idx: Any, proba: Any, *, n_bins: int = DEFAULT_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean confidence, accuracy and count per equal-width confidence bin.

    Returns
    -------
    bin_conf : np.ndarray, float64, shape (n_bins,)
        Mean top-class probability of the samples in each bin (NaN for an empty bin).
    bin_acc : np.ndarray, float64, shape (n_bins,)
        Fraction of them whose top class is right (NaN for an empty bin).
    bin_count : np.ndarray, int64, shape (n_bins,)
    """
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be an integer >= 1; got {n_bins!r}")
    p = _check_proba(proba)
    y = _check_labels(y_true_idx, len(p), p.shape[1])
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # bins (lo, hi], the first one [0, hi]
    b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bin_conf = np.bincount(b, weights=conf, minlength=n_bins) / count
        bin_acc = np.bincount(b, weights=correct, minlength=n_bins) / count
    return bin_conf, bin_acc, count.astype(np.int64)


def expected_calibration_error(y_true_idx: Any, proba: Any, *, n_bins: int = DEFAULT_BINS) -> float:
    """Top-label ECE: ``sum_b (n_b / n) |accuracy_b - confidence_b|`` over equal-width bins."""
    conf, acc, count = reliability_curve(y_true_idx, proba, n_bins=n_bins)
    used = count > 0
    return float(np.sum(count[used] * np.abs(acc[used] - conf[used])) / count.sum())


def calibration_summary(y_true_idx: Any, proba: Any, *, n_bins: int = DEFAULT_BINS) -> dict[str, float]:
    """ECE, maximum calibration error (MCE), NLL, Brier score, accuracy, mean confidence and n.

    Returns
    -------
    dict
        JSON-ready floats (``n`` an int).
    """
    p = _check_proba(proba)
    y = _check_labels(y_true_idx, len(p), p.shape[1])
    conf, acc, count = reliability_curve(y, p, n_bins=n_bins)
    used = count > 0
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), y] = 1.0
    return {
        "n": len(p),
        "accuracy": float(np.mean(p.argmax(axis=1) == y)),
        "mean_confidence": float(np.mean(p.max(axis=1))),
        "ece": float(np.sum(count[used] * np.abs(acc[used] - conf[used])) / count.sum()),
        "mce": float(np.max(np.abs(acc[used] - conf[used]))),
        "nll": nll(y, p),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
    }


def calibration_table(curves: Mapping[str, tuple[Any, Any]], *, n_bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """One row of :func:`calibration_summary` per named ``(y_true_idx, proba)`` pair, in the given order."""
    rows = [{"name": name, **calibration_summary(y, p, n_bins=n_bins)} for name, (y, p) in curves.items()]
    return pd.DataFrame(
        rows, columns=["name", "n", "accuracy", "mean_confidence", "ece", "mce", "nll", "brier"]
    )


def plot_reliability(
    curves: Mapping[str, tuple[Any, Any]],
    path: str | Path,
    *,
    n_bins: int = DEFAULT_BINS,
    title: str = "reliability diagram",
) -> Path:
    """Draw a reliability diagram (accuracy against confidence per bin) with a confidence histogram.

    Parameters
    ----------
    curves : mapping of label to (y_true_idx, proba)
        One line per entry (e.g. ``{"raw": (y, p), "T=1.8": (y, apply_temperature(p, 1.8))}``); the
        legend shows each one's ECE.
    path : str or Path
        PNG to write (parent folders are created).

    Returns
    -------
    Path
    """
    from matplotlib.figure import Figure

    from genrekit.render import save_figure

    if not curves:
        raise ConfigError("plot_reliability needs at least one (y_true_idx, proba) curve")
    fig = Figure(figsize=(5.6, 6.4))
    ax, hx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect calibration")
    edges = np.linspace(0, 1, n_bins + 1)
    width = 1.0 / n_bins / max(len(curves), 1)
    for k, (name, (y, p)) in enumerate(curves.items()):
        conf, acc, count = reliability_curve(y, p, n_bins=n_bins)
        ece = expected_calibration_error(y, p, n_bins=n_bins)
        used = count > 0
        ax.plot(conf[used], acc[used], marker="o", linewidth=1.5, label=f"{name} (ECE {ece:.3f})")
        hx.bar(edges[:-1] + k * width, count, width=width, align="edge", alpha=0.7, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    hx.set_xlabel("confidence (top-class probability)")
    hx.set_ylabel("count")
    fig.tight_layout()
    return save_figure(fig, path)


def calibration_section(
    runs: Sequence[ModelRun], out_dir: str | Path, *, n_bins: int = DEFAULT_BINS
) -> Section:
    """Reliability diagrams and calibration numbers of evaluated runs, for a report.

    Writes ``reliability_<model>.png`` (track level) into ``out_dir`` for every run and returns a
    :class:`genrekit.render.Section` for :func:`genrekit.report.write_report`'s ``extra_sections``: a
    table of n, accuracy (with its Wilson 95% interval), mean confidence, ECE, MCE, NLL and Brier score
    per model (best first, :func:`genrekit.report.rank_runs`), and the diagrams (embedded in the HTML
    report).

    Parameters
    ----------
    runs : sequence of ModelRun
        Their ``result.track_proba`` / ``track_true`` / ``classes`` are used as they are (a
        temperature-scaled model's run shows the scaled probabilities).
    out_dir : str or Path
        The report folder.
    """
    from genrekit.render import Figures, Paragraph, Section, Table, fmt_accuracy, unique_stems
    from genrekit.report import rank_runs

    runs = rank_runs(runs)  # best first, as the report's model sections
    out = Path(out_dir)
    stems = unique_stems([f"reliability_{r.name}" for r in runs])
    rows, images = [], []
    for run, stem in zip(runs, stems, strict=True):
        res = run.result
        y = labels_to_index(res.track_true, res.classes)
        s = calibration_summary(y, res.track_proba, n_bins=n_bins)
        rows.append(
            [run.name, str(s["n"]), fmt_accuracy(s["accuracy"], int(s["n"]), with_n=False)]
            + [f"{s[k]:.4f}" for k in ("mean_confidence", "ece", "mce", "nll", "brier")]
        )
        plot_reliability(
            {run.name: (y, res.track_proba)},
            out / f"{stem}.png",
            n_bins=n_bins,
            title=f"{run.name}: reliability (tracks)",
        )
        images.append((f"{run.name}: reliability diagram", f"{stem}.png"))
    headers = ["model", "n", "accuracy (95% CI)", "mean confidence", "ECE", "MCE", "NLL", "Brier"]
    intro = (
        f"Top-label expected calibration error over {n_bins} equal-width confidence bins, track level: "
        "a well calibrated model is right about as often as it is confident (ECE near 0)."
    )
    return Section("Calibration (track level)", [Paragraph(intro), Table(headers, rows), Figures(images)])
