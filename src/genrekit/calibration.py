"""Calibration: temperature scaling, expected calibration error, reliability diagrams, "unsure" answers.

A classifier is calibrated when, among the answers it gives with confidence ``p``, a fraction ``p`` is
right. Temperature scaling (Guo et al., 2017) divides the model's log-probabilities by one number
``T > 0`` fitted on held-out data by minimising the negative log-likelihood: ``T > 1`` softens an
over-confident model, ``T < 1`` sharpens an under-confident one; the argmax, hence the accuracy, never
changes. A model that only gives probabilities is scaled through ``log p`` (the log-softmax of some
logits; dividing it by ``T`` and renormalising equals dividing those logits by ``T``).

At track level: ``softmax(mean_i log p_i / T) == softmax(mean_i log_softmax(log p_i / T))``, so for the
default ``mean_log`` aggregation scaling every segment by ``T`` scales the track prediction by the same
``T``. :func:`fit_track_temperature` fits ``T`` on held-out *tracks* through the very aggregation the
:class:`~genrekit.predict.Classifier` applies, so it is right for ``mean_prob`` as well (``vote`` hardly
depends on ``T``: its probabilities are vote fractions).

A validation set the model gets entirely right has no finite NLL optimum (ever sharper is ever better),
so by default the fitted ``T`` is raised until the mean confidence is at most ``(k + 1) / (n + 2)``
(Laplace's rule of succession, ``k`` right out of ``n``); see :func:`fit_temperature`.

Conventions: ``y_true_idx`` are integer column indices into the probability matrix; confidence is the
top-class probability; bins are equal-width on [0, 1], the first one closed at 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from genrekit.errors import ConfigError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.evaluate import ModelRun

__all__ = [
    "DEFAULT_BINS",
    "UNSURE",
    "TemperatureScaled",
    "apply_temperature",
    "calibration_section",
    "calibration_summary",
    "calibration_table",
    "check_min_confidence",
    "decide",
    "expected_calibration_error",
    "fit_temperature",
    "fit_track_temperature",
    "labels_to_index",
    "nll",
    "plot_reliability",
    "reliability_curve",
]

#: What :func:`decide` answers below the confidence threshold.
UNSURE = "unsure"
DEFAULT_BINS = 15
#: Temperatures are searched in this interval (a perfectly separated validation set drives the optimum
#: to the lower end: such a fit says little, and the bound keeps it finite).
T_BOUNDS: tuple[float, float] = (0.05, 20.0)
_LOG_FLOOR = 1e-12


# --------------------------------------------------------------------------------------------- helpers
def _as_2d(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] < 2:
        raise ConfigError(f"{name} must have shape (n_samples >= 1, n_classes >= 2); got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} contains NaN or infinite values")
    return a


def _check_proba(p: Any, name: str = "proba") -> np.ndarray:
    a = _as_2d(p, name)
    if np.any(a < 0) or np.any(np.abs(a.sum(axis=1) - 1.0) > 1e-3):
        raise ConfigError(f"{name} rows must be non-negative and sum to 1 - pass probabilities")
    return a / a.sum(axis=1, keepdims=True)


def _check_labels(y: Any, n: int, n_classes: int) -> np.ndarray:
    idx = np.asarray(y)
    if idx.ndim != 1 or idx.shape[0] != n:
        raise ConfigError(f"y_true_idx must have shape ({n},) to match the rows; got {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ConfigError("y_true_idx must hold integer class indices (see labels_to_index)")
    if np.any(idx < 0) or np.any(idx >= n_classes):
        raise ConfigError(
            f"y_true_idx must be in [0, {n_classes}); got values from {idx.min()} to {idx.max()}"
        )
    return idx.astype(np.int64)


def _is_proba(a: np.ndarray) -> bool:
    return bool(np.all(a >= 0) and np.all(np.abs(a.sum(axis=1) - 1.0) <= 1e-3))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def labels_to_index(y: Any, classes: Sequence[str]) -> np.ndarray:
    """Column indices of string labels ``y`` (n,) in ``classes``.

    Raises
    ------
    ConfigError
        A label that is not in ``classes`` (the message lists them).
    """
    index = {str(c): i for i, c in enumerate(classes)}
    out = []
    for v in np.asarray(y).astype(str).tolist():
        if v not in index:
            raise ConfigError(f"label {v!r} is not one of the model's classes: {list(index)}")
        out.append(index[v])
    return np.asarray(out, dtype=np.int64)


def nll(y_true_idx: Any, proba: Any) -> float:
    """Mean negative log-likelihood of the true classes (probabilities floored at 1e-12)."""
    p = _check_proba(proba)
    y = _check_labels(y_true_idx, len(p), p.shape[1])
    return float(-np.mean(np.log(np.clip(p[np.arange(len(p)), y], _LOG_FLOOR, 1.0))))


# ------------------------------------------------------------------------------------- temperature fit
def apply_temperature(proba: Any, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row-wise: the probabilities a temperature-scaled model gives.

    Parameters
    ----------
    proba : array-like, shape (n, n_classes)
        Rows sum to 1 (zeros are floored at 1e-12 before the log).
    temperature : float
        ``T > 0``; 1 returns the input (renormalised).

    Returns
    -------
    np.ndarray, float64, shape (n, n_classes)
    """
    t = _check_temperature(temperature)
    p = _check_proba(proba)
    return np.exp(_log_softmax(np.log(np.clip(p, _LOG_FLOOR, 1.0)) / t))


def _check_temperature(temperature: Any) -> float:
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ConfigError(f"temperature must be a number > 0; got {temperature!r}") from None
    if not (np.isfinite(t) and t > 0):
        raise ConfigError(f"temperature must be a finite number > 0; got {temperature!r}")
    return t


def _minimise_log_t(objective: Any, bounds: tuple[float, float]) -> float:
    from scipy.optimize import minimize_scalar

    lo, hi = bounds
    if not 0 < lo < hi:
        raise ConfigError(f"temperature bounds must satisfy 0 < low < high; got {bounds}")
    res = minimize_scalar(
        lambda log_t: objective(float(np.exp(log_t))),
        bounds=(np.log(lo), np.log(hi)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(res.x))


def _cap_by_succession(
    t: float,
    scaled: Any,
    y: np.ndarray,
    bounds: tuple[float, float],
) -> float:
    """Raise ``t`` until the mean top-class probability is at most ``(k + 1) / (n + 2)``.

    ``scaled(t)`` gives the (n, n_classes) probabilities at temperature ``t``; ``k`` of the ``n`` rows
    are classified right. The mean confidence falls as ``t`` grows, so the root is bracketed by ``t``
    and the upper bound (which is returned when even it is too confident).
    """
    from scipy.optimize import brentq

    def excess(log_t: float) -> float:
        p = scaled(float(np.exp(log_t)))
        n, k = len(p), int(np.sum(p.argmax(axis=1) == y))
        return float(np.mean(p.max(axis=1))) - (k + 1) / (n + 2)

    lo, hi = np.log(t), np.log(bounds[1])
    if excess(lo) <= 0:
        return t
    if excess(hi) > 0:
        return float(bounds[1])
    return float(np.exp(brentq(excess, lo, hi, xtol=1e-6)))


def fit_temperature(
    logits_or_proba: Any,
    y_true_idx: Any,
    *,
    kind: str = "auto",
    bounds: tuple[float, float] = T_BOUNDS,
    cap_confidence: bool = True,
) -> float:
    """The temperature ``T`` minimising the mean negative log-likelihood of ``softmax(z / T)``.

    Parameters
    ----------
    logits_or_proba : array-like, shape (n, n_classes)
        Held-out logits, or probabilities (then ``z = log p``).
    y_true_idx : array-like of int, shape (n,)
        True class index of every row.
    kind : {"auto", "proba", "logits"}
        How to read the input; ``auto`` takes non-negative rows summing to 1 as probabilities.
    bounds : (float, float)
        Search interval for ``T`` (bounded Brent search on ``log T``; the NLL is convex in ``1/T``).
    cap_confidence : bool
        Then raise ``T`` where needed so that the mean top-class probability on the fitting data is at
        most ``(k + 1) / (n + 2)``, ``k`` of ``n`` rows being right (Laplace's rule of succession).
        Without the cap, data the model gets all right drives ``T`` to its lower bound (sharper is
        always better for the NLL there) and the first mistake afterwards costs without limit; where
        the model makes mistakes the cap moves ``T`` by O(1/n) at most.

    Returns
    -------
    float
        ``T > 0``.
    """
    a = _as_2d(logits_or_proba, "logits_or_proba")
    y = _check_labels(y_true_idx, len(a), a.shape[1])
    if kind not in ("auto", "proba", "logits"):
        raise ConfigError(f"kind must be 'auto', 'proba' or 'logits'; got {kind!r}")
    as_proba = kind == "proba" or (kind == "auto" and _is_proba(a))
    if as_proba:
        z = np.log(np.clip(_check_proba(a, "logits_or_proba"), _LOG_FLOOR, 1.0))
    else:
        z = a
    rows = np.arange(len(z))

    def objective(t: float) -> float:
        return float(-np.mean(_log_softmax(z / t)[rows, y]))

    t = _minimise_log_t(objective, bounds)
    if cap_confidence:
        t = _cap_by_succession(t, lambda tt: np.exp(_log_softmax(z / tt)), y, bounds)
    return t


def fit_track_temperature(
    segment_proba: Any,
    y_true: Any,
    groups: Any,
    classes: Sequence[str],
    *,
    aggregation: str = "mean_log",
    bounds: tuple[float, float] = T_BOUNDS,
    cap_confidence: bool = True,
) -> float:
    """Fit ``T`` on held-out tracks: minimise the track-level NLL of ``aggregate(apply_temperature(p, T))``.

    This is the temperature to store with a model whose segment probabilities a
    :class:`~genrekit.predict.Classifier` aggregates: wrap the model in :class:`TemperatureScaled` and
    its track probabilities are the calibrated ones.

    Parameters
    ----------
    segment_proba : array-like, shape (n_segments, n_classes)
        Held-out segment probabilities of the unscaled model (columns in ``classes`` order).
    y_true : array-like of str, shape (n_segments,)
        Label of every segment's track.
    groups : array-like, shape (n_segments,)
        Track key of every segment.
    classes : sequence of str
    aggregation : {"mean_log", "mean_prob", "vote"}
    bounds, cap_confidence
        As for :func:`fit_temperature`, with tracks as the rows.

    Returns
    -------
    float
    """
    from genrekit.models.aggregate import aggregate

    p = _check_proba(segment_proba, "segment_proba")
    y_seg = labels_to_index(y_true, classes)
    if len(y_seg) != len(p):
        raise ConfigError(f"y_true has {len(y_seg)} labels for {len(p)} segment rows; they must match")
    g = np.asarray(groups)
    if g.shape != (len(p),):
        raise ConfigError(f"groups must have shape ({len(p)},); got {g.shape}")
    _, first = np.unique(g, return_index=True)
    track_proba, keys = aggregate(p, g, method=aggregation)
    key_to_label = {k: y_seg[i] for k, i in zip(g[first], first, strict=True)}
    y_track = np.array([key_to_label[k] for k in keys], dtype=np.int64)
    rows = np.arange(len(keys))
    logp = np.log(np.clip(p, _LOG_FLOOR, 1.0))

    def tracks(t: float) -> np.ndarray:
        return aggregate(np.exp(_log_softmax(logp / t)), g, method=aggregation)[0]

    def objective(t: float) -> float:
        return float(-np.mean(np.log(np.clip(tracks(t)[rows, y_track], _LOG_FLOOR, 1.0))))

    if len(track_proba) == 0:  # pragma: no cover - _check_proba refuses empty input
        raise ConfigError("no tracks to fit a temperature on")
    t = _minimise_log_t(objective, bounds)
    if cap_confidence:
        t = _cap_by_succession(t, tracks, y_track, bounds)
    return t


# ------------------------------------------------------------------------------------------- the model
class TemperatureScaled(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are temperature-scaled: ``softmax(log p_inner / T)``.

    Follows the scikit-learn contract (``predict_proba``, ``predict``, ``classes_``). It is not itself
    stored in bundles: the bundle keeps the inner model and ``temperature``, and loading wraps again.

    Parameters
    ----------
    estimator : estimator
        Fitted, with ``predict_proba`` and ``classes_``.
    temperature : float
        ``T > 0`` used until :meth:`fit` learns ``temperature_``.
    """

    def __init__(self, estimator: Any = None, temperature: float = 1.0) -> None:
        self.estimator = estimator
        self.temperature = temperature

    @property
    def classes_(self) -> np.ndarray:
        if self.estimator is None or not hasattr(self.estimator, "classes_"):
            raise ModelError("TemperatureScaled needs a fitted estimator with classes_")
        return np.asarray(self.estimator.classes_)

    @property
    def temperature_in_use(self) -> float:
        """``temperature_`` after :meth:`fit`, else the ``temperature`` parameter."""
        return _check_temperature(getattr(self, "temperature_", self.temperature))

    def fit(self, X: Any, y: Any, *, groups: Any = None, aggregation: str = "mean_log") -> TemperatureScaled:
        """Learn ``temperature_`` on held-out rows (the inner estimator is not refitted).

        With ``groups`` (track key per row) the fit is at track level through ``aggregation``
        (:func:`fit_track_temperature`); without, at row level (:func:`fit_temperature`).
        """
        p = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        classes = [str(c) for c in self.classes_]
        if groups is None:
            self.temperature_ = fit_temperature(p, labels_to_index(y, classes), kind="proba")
        else:
            self.temperature_ = fit_track_temperature(p, y, groups, classes, aggregation=aggregation)
        return self

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Scaled log-probabilities, shape (n, n_classes)."""
        p = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        return _log_softmax(np.log(np.clip(p, _LOG_FLOOR, 1.0)) / self.temperature_in_use)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Scaled probabilities, shape (n, n_classes), rows summing to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Same labels as the inner estimator's argmax (scaling keeps the order)."""
        return self.classes_[np.argmax(self.predict_log_proba(X), axis=1)]


# ------------------------------------------------------------------------------------------ decisions
def decide(probabilities: Mapping[str, float], min_confidence: float | None = None) -> tuple[str, float]:
    """The top genre and its probability, or ``"unsure"`` when that probability is below the threshold.

    Parameters
    ----------
    probabilities : mapping of genre to probability
        E.g. ``Prediction.probabilities``; ties go to the first in iteration order.
    min_confidence : float or None
        Threshold in [0, 1]; ``p < min_confidence`` answers :data:`UNSURE`, ``p >= min_confidence`` the
        genre. None never answers unsure.

    Returns
    -------
    (str, float)
        The answer and the top probability (reported either way).
    """
    if not probabilities:
        raise ConfigError("decide needs at least one class probability; got none")
    genre, p = None, -np.inf
    for g, v in probabilities.items():
        if float(v) > p:
            genre, p = str(g), float(v)
    m = check_min_confidence(min_confidence)
    if m is None:
        return str(genre), p
    return (UNSURE if p < m else str(genre)), p


def check_min_confidence(min_confidence: Any) -> float | None:
    """``min_confidence`` as a float in [0, 1] (None stays None); ConfigError otherwise."""
    if min_confidence is None:
        return None
    try:
        m = float(min_confidence)
    except (TypeError, ValueError):
        raise ConfigError(f"min_confidence must be a number in [0, 1]; got {min_confidence!r}") from None
    if not 0.0 <= m <= 1.0:
        raise ConfigError(f"min_confidence must be in [0, 1]; got {min_confidence!r}")
    return m


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
) -> tuple[str, str]:
    """Reliability diagrams and calibration numbers of evaluated runs, for a report.

    Writes ``reliability_<model>.png`` (track level) into ``out_dir`` for every run and returns a
    ``(heading, markdown)`` pair for :func:`genrekit.report.write_report`'s ``extra_sections``: a table
    of n, accuracy, mean confidence, ECE, MCE, NLL and Brier score per model, and the image links.

    Parameters
    ----------
    runs : sequence of ModelRun
        Their ``result.track_proba`` / ``track_true`` / ``classes`` are used as they are (a
        temperature-scaled model's run shows the scaled probabilities).
    out_dir : str or Path
        The report folder.
    """
    from genrekit.render import md_table, unique_stems

    out = Path(out_dir)
    stems = unique_stems([f"reliability_{r.name}" for r in runs])
    rows, images = [], []
    for run, stem in zip(runs, stems, strict=True):
        res = run.result
        y = labels_to_index(res.track_true, res.classes)
        s = calibration_summary(y, res.track_proba, n_bins=n_bins)
        rows.append(
            [run.name, str(s["n"])]
            + [f"{s[k]:.4f}" for k in ("accuracy", "mean_confidence", "ece", "mce", "nll", "brier")]
        )
        plot_reliability(
            {run.name: (y, res.track_proba)},
            out / f"{stem}.png",
            n_bins=n_bins,
            title=f"{run.name}: reliability (tracks)",
        )
        images.append(f"![{run.name}: reliability diagram]({stem}.png)")
    headers = ["model", "n", "accuracy", "mean confidence", "ECE", "MCE", "NLL", "Brier"]
    text = (
        f"Top-label expected calibration error over {n_bins} equal-width confidence bins, track level.\n\n"
        + md_table(headers, rows)
        + "\n\n"
        + "\n".join(images)
    )
    return "Calibration (track level)", text
