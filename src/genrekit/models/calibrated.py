"""Calibrated probabilities: temperature scaling, and the ``unsure`` answer below a confidence threshold.

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

Measuring calibration (reliability, ECE, diagrams) is :mod:`genrekit.calibration`, a report-side module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from genrekit.errors import ConfigError, ModelError

#: What :func:`decide` answers below the confidence threshold.
__all__ = [
    "UNSURE",
    "TemperatureScaled",
    "apply_temperature",
    "check_min_confidence",
    "decide",
    "fit_temperature",
    "fit_track_temperature",
    "labels_to_index",
    "nll",
]

#: What :func:`decide` answers below the confidence threshold.
UNSURE = "unsure"


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
