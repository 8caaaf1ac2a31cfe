"""Evaluation: segment-to-track aggregation, classification metrics and model comparison tables.

Everything here works on arrays only (labels, probabilities, group keys), so it is independent of audio,
features and models. The track level is the primary level: a model scores fixed-length segments, the
segment probabilities of one track are aggregated (:func:`aggregate`) and the track is judged as a whole.

Conventions
-----------
- ``classes`` fixes the column order of every probability matrix and the row/column order of every
  confusion matrix; labels are strings.
- Probability rows must be finite, non-negative and sum to 1 (within 1e-3; they are renormalised).
- Per-class scores use ``zero_division=0`` (JSON-friendly); the macro F1 and macro Jaccard average over
  the classes that occur in ``y_true`` or in the predictions: a class absent from both has an undefined
  score and is left out (what scikit-learn does with ``zero_division=np.nan``).
- ROC-AUC and average precision are one-vs-rest macro averages; they are ``None`` (with the reason in
  ``Metrics.notes``) when a class of ``classes`` has no true sample.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    jaccard_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from genrekit.errors import ConfigError
from genrekit.files import to_jsonable
from genrekit.models.aggregate import AGGREGATIONS, aggregate, check_proba, factorize_groups

__all__ = [
    "AGGREGATIONS",
    "COMPARISON_COLUMNS",
    "HEADLINE_METRICS",
    "EvaluationResult",
    "Metrics",
    "ModelRun",
    "aggregate",
    "accuracy_with_interval",
    "comparison_table",
    "compute_metrics",
    "evaluate_predictions",
    "small_test_warnings",
    "wilson_interval",
    "fold_summary",
    "format_mean_std",
    "wilson_interval",
]


HEADLINE_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "log_loss",
    "jaccard",
    "roc_auc",
    "average_precision",
)
"""The scalar metrics of :class:`Metrics`, in the order they are reported."""

_LOG_LOSS_EPS = float(np.finfo(np.float64).eps)  # the clipping scikit-learn's log_loss applies to float64


def _as_classes(classes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(classes, str):
        raise ConfigError(f"classes must be a sequence of labels, not the single string {classes!r}")
    out = tuple(str(c) for c in classes)
    if len(out) < 2:
        raise ConfigError(f"need at least 2 classes to evaluate a classifier; got {list(out)}")
    dup = sorted(c for c, count in Counter(out).items() if count > 1)
    if dup:
        raise ConfigError(f"classes must be unique; duplicated: {dup}")
    return out


def _label_indices(y_true: Any, classes: tuple[str, ...], *, name: str = "y_true") -> np.ndarray:
    """Map labels to column indices of ``classes``; unknown labels raise ConfigError naming them."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ConfigError(f"{name} must be 1-D (n_samples,); got shape {y.shape}")
    y = y.astype(str)
    index = {c: i for i, c in enumerate(classes)}
    uniq, inverse = np.unique(y, return_inverse=True)
    unknown = [u for u in uniq.tolist() if u not in index]
    if unknown:
        raise ConfigError(
            f"{name} contains labels that are not in classes: {unknown[:10]}"
            f"{' ...' if len(unknown) > 10 else ''}; valid classes: {list(classes)}"
        )
    lut = np.array([index[u] for u in uniq.tolist()], dtype=np.int64)
    return lut[inverse.reshape(-1)]


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------- metrics
@dataclass(frozen=True, eq=False)
class Metrics:
    """Classification metrics of one set of predictions (one level: tracks or segments).

    Attributes
    ----------
    classes : tuple of str
        Class order of every per-class array and matrix.
    n_samples : int
        Number of evaluated samples.
    accuracy, balanced_accuracy, macro_f1, log_loss, jaccard : float
        Headline scores (``jaccard`` is the macro Jaccard index).
    roc_auc, average_precision : float or None
        One-vs-rest macro averages; None when undefined (reason in ``notes``).
    precision, recall, f1, jaccard_per_class : np.ndarray, shape (n_classes,)
        Per-class scores (0 where undefined).
    support : np.ndarray, shape (n_classes,), int
        Number of true samples per class.
    confusion : np.ndarray, shape (n_classes, n_classes), int
        Counts; rows = true class, columns = predicted class.
    recall_matrix : np.ndarray, shape (n_classes, n_classes)
        ``confusion`` with rows normalised (a row with no samples is all zeros).
    precision_matrix : np.ndarray, shape (n_classes, n_classes)
        ``confusion`` with columns normalised (a column with no predictions is all zeros).
    notes : dict of str to str
        Why a metric is None, keyed by metric name.
    """

    classes: tuple[str, ...]
    n_samples: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    log_loss: float
    jaccard: float
    roc_auc: float | None
    average_precision: float | None
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    jaccard_per_class: np.ndarray
    support: np.ndarray
    confusion: np.ndarray
    recall_matrix: np.ndarray
    precision_matrix: np.ndarray
    notes: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, float | int | None]:
        """Return the headline numbers: ``n_samples`` and :data:`HEADLINE_METRICS`."""
        out: dict[str, float | int | None] = {"n_samples": int(self.n_samples)}
        for name in HEADLINE_METRICS:
            out[name] = _finite_or_none(getattr(self, name))
        return out

    def per_class_table(self) -> pd.DataFrame:
        """Return one row per class: precision, recall, f1, jaccard, support (index = class)."""
        return pd.DataFrame(
            {
                "precision": self.precision,
                "recall": self.recall,
                "f1": self.f1,
                "jaccard": self.jaccard_per_class,
                "support": self.support.astype(int),
            },
            index=pd.Index(self.classes, name="class"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return every metric as JSON-ready Python objects (no numpy types, no NaN)."""
        return {
            "classes": list(self.classes),
            **self.summary(),
            "per_class": {
                c: {
                    "precision": float(self.precision[i]),
                    "recall": float(self.recall[i]),
                    "f1": float(self.f1[i]),
                    "jaccard": float(self.jaccard_per_class[i]),
                    "support": int(self.support[i]),
                }
                for i, c in enumerate(self.classes)
            },
            "confusion": self.confusion.astype(int).tolist(),
            "recall_matrix": self.recall_matrix.tolist(),
            "precision_matrix": self.precision_matrix.tolist(),
            "notes": dict(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metrics:
        """Rebuild metrics from :meth:`to_dict` output (e.g. read back from ``metrics.json``)."""
        classes = tuple(d["classes"])
        per = d["per_class"]

        def col(key: str, dtype: type = float) -> np.ndarray:
            return np.array([per[c][key] for c in classes], dtype=dtype)

        def opt(key: str) -> float | None:
            v = d.get(key)
            return None if v is None else float(v)

        return cls(
            classes=classes,
            n_samples=int(d["n_samples"]),
            accuracy=float(d["accuracy"]),
            balanced_accuracy=float(d["balanced_accuracy"]),
            macro_f1=float(d["macro_f1"]),
            log_loss=float(d["log_loss"]),
            jaccard=float(d["jaccard"]),
            roc_auc=opt("roc_auc"),
            average_precision=opt("average_precision"),
            precision=col("precision"),
            recall=col("recall"),
            f1=col("f1"),
            jaccard_per_class=col("jaccard"),
            support=col("support", int),
            confusion=np.array(d["confusion"], dtype=np.int64),
            recall_matrix=np.array(d["recall_matrix"], dtype=np.float64),
            precision_matrix=np.array(d["precision_matrix"], dtype=np.float64),
            notes=dict(d.get("notes", {})),
        )


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _ovr_macro(
    score_fn: Any, y_idx: np.ndarray, p: np.ndarray, classes: tuple[str, ...], name: str
) -> tuple[float | None, str | None]:
    """One-vs-rest macro average of a binary ranking score; None + reason when a class has no true sample."""
    counts = np.bincount(y_idx, minlength=len(classes))
    absent = [classes[i] for i in np.flatnonzero(counts == 0)]
    if absent:
        present = [classes[i] for i in np.flatnonzero(counts)]
        only = f" (only {present[0]!r} is present)" if len(present) == 1 else ""
        return None, f"{name} undefined: class(es) {absent} have no true sample{only}"
    scores = [float(score_fn(y_idx == k, p[:, k])) for k in range(len(classes))]
    return float(np.mean(scores)), None


def compute_metrics(y_true: Any, proba: Any, classes: Sequence[str]) -> Metrics:
    """Compute classification metrics from true labels and predicted probabilities.

    The predicted label of each sample is ``classes[argmax(proba)]`` (first class on ties).

    Parameters
    ----------
    y_true : array-like of str, shape (n,)
        True labels; each must be one of ``classes``.
    proba : array-like, shape (n, n_classes)
        Predicted probabilities, columns in ``classes`` order, rows summing to 1.
    classes : sequence of str
        The class labels (at least 2, unique).

    Returns
    -------
    Metrics

    Raises
    ------
    ConfigError
        Labels not in ``classes`` (named in the message), shape mismatches, invalid probabilities.

    Notes
    -----
    ``log_loss`` is ``-mean(log(clip(p_true, eps, 1 - eps)))`` with ``eps`` the float64 machine epsilon, the
    clipping of :func:`sklearn.metrics.log_loss`; it is computed directly because scikit-learn assumes
    lexicographically sorted probability columns, which ``classes`` need not be.
    """
    cls = _as_classes(classes)
    p = check_proba(proba, n_classes=len(cls))
    y_idx = _label_indices(y_true, cls)
    if y_idx.shape[0] != p.shape[0]:
        raise ConfigError(
            f"y_true has {y_idx.shape[0]} labels but proba has {p.shape[0]} rows; they must match"
        )
    n, k = p.shape
    labels = np.arange(k)
    pred_idx = p.argmax(axis=1)

    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_idx, pred_idx), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    tp = np.diag(confusion)

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_idx, pred_idx, labels=labels, average=None, zero_division=0
    )
    jac = jaccard_score(y_idx, pred_idx, labels=labels, average=None, zero_division=0)
    active = (support + predicted) > 0  # classes whose F1/Jaccard is defined

    notes: dict[str, str] = {}
    roc_auc, reason = _ovr_macro(roc_auc_score, y_idx, p, cls, "roc_auc")
    if reason:
        notes["roc_auc"] = reason
    ap, reason = _ovr_macro(average_precision_score, y_idx, p, cls, "average_precision")
    if reason:
        notes["average_precision"] = reason

    p_true = np.clip(p[np.arange(n), y_idx], _LOG_LOSS_EPS, 1.0 - _LOG_LOSS_EPS)
    return Metrics(
        classes=cls,
        n_samples=int(n),
        accuracy=float(tp.sum() / n),
        balanced_accuracy=float(np.mean(tp[support > 0] / support[support > 0])),
        macro_f1=float(np.mean(f1[active])),
        log_loss=float(-np.mean(np.log(p_true))),
        jaccard=float(np.mean(jac[active])),
        roc_auc=roc_auc,
        average_precision=ap,
        precision=np.asarray(precision, dtype=np.float64),
        recall=np.asarray(recall, dtype=np.float64),
        f1=np.asarray(f1, dtype=np.float64),
        jaccard_per_class=np.asarray(jac, dtype=np.float64),
        support=support.astype(np.int64),
        confusion=confusion,
        recall_matrix=_safe_divide(confusion.astype(np.float64), support[:, None].astype(np.float64)),
        precision_matrix=_safe_divide(confusion.astype(np.float64), predicted[None, :].astype(np.float64)),
        notes=notes,
    )


# ------------------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Track-level (primary) and segment-level metrics of one model on one test set.

    Attributes
    ----------
    classes : tuple of str
        Column order of ``track_proba``.
    aggregation : str
        The segment-to-track aggregation used (one of :data:`AGGREGATIONS`).
    track : Metrics
        Metrics over tracks (aggregated probabilities).
    segment : Metrics
        Metrics over individual segments.
    track_proba : np.ndarray, shape (n_tracks, n_classes)
        Aggregated probabilities.
    track_keys : np.ndarray, shape (n_tracks,)
        Track keys in order of first appearance.
    track_true : np.ndarray of str, shape (n_tracks,)
        True label of every track.
    """

    classes: tuple[str, ...]
    aggregation: str
    track: Metrics
    segment: Metrics
    track_proba: np.ndarray
    track_keys: np.ndarray
    track_true: np.ndarray

    @property
    def n_tracks(self) -> int:
        return int(self.track_proba.shape[0])

    @property
    def n_segments(self) -> int:
        return int(self.segment.n_samples)

    @property
    def track_pred(self) -> np.ndarray:
        """Predicted label of every track, shape (n_tracks,)."""
        return np.asarray(self.classes)[self.track_proba.argmax(axis=1)]

    def predictions_frame(self) -> pd.DataFrame:
        """Return one row per track: key, true, predicted, correct, then one probability column per class."""
        df = pd.DataFrame(
            {
                "track": self.track_keys,
                "true": self.track_true,
                "predicted": self.track_pred,
            }
        )
        df["correct"] = df["true"] == df["predicted"]
        for i, c in enumerate(self.classes):
            df[f"p_{c}"] = self.track_proba[:, i]
        return df

    def to_dict(self, *, include_predictions: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict; with ``include_predictions`` also every track's probabilities."""
        out: dict[str, Any] = {
            "aggregation": self.aggregation,
            "classes": list(self.classes),
            "n_tracks": self.n_tracks,
            "n_segments": self.n_segments,
            "track": self.track.to_dict(),
            "segment": self.segment.to_dict(),
        }
        if include_predictions:
            out["predictions"] = [
                {"track": to_jsonable(key), "true": str(t), "proba": [float(v) for v in row]}
                for key, t, row in zip(self.track_keys, self.track_true, self.track_proba, strict=True)
            ]
        return out


def evaluate_predictions(
    y_true_segments: Any,
    proba_segments: Any,
    groups: Any,
    classes: Sequence[str],
    *,
    aggregation: str = "mean_log",
) -> EvaluationResult:
    """Evaluate segment probabilities at segment level and, after aggregation, at track level.

    Parameters
    ----------
    y_true_segments : array-like of str, shape (n_segments,)
        True label of every segment (constant within a track).
    proba_segments : array-like, shape (n_segments, n_classes)
        Segment probabilities, columns in ``classes`` order.
    groups : array-like, shape (n_segments,)
        Track key of every segment.
    classes : sequence of str
        Class labels.
    aggregation : {"mean_log", "mean_prob", "vote"}
        See :func:`aggregate`.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ConfigError
        A track whose segments carry different labels, or any invalid input (see :func:`compute_metrics`).
    """
    cls = _as_classes(classes)
    p = check_proba(proba_segments, name="proba_segments", n_classes=len(cls))
    y_idx = _label_indices(y_true_segments, cls, name="y_true_segments")
    if y_idx.shape[0] != p.shape[0]:
        raise ConfigError(
            f"y_true_segments has {y_idx.shape[0]} labels but proba_segments has {p.shape[0]} rows; "
            "they must match"
        )
    codes, keys = factorize_groups(groups, p.shape[0])
    first = np.full(keys.shape[0], -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.shape[0])[::-1]  # index of the first segment of every track
    track_y = y_idx[first]
    mixed = np.unique(codes[y_idx != track_y[codes]])
    if mixed.size:
        shown = [to_jsonable(keys[i]) for i in mixed[:5]]
        raise ConfigError(
            f"segments of one track must share one label; {mixed.size} track(s) have several, e.g. {shown}"
        )
    track_proba, track_keys = aggregate(p, groups, method=aggregation)
    track_true = np.asarray(cls)[track_y]
    segment_true = np.asarray(cls)[y_idx]
    return EvaluationResult(
        classes=cls,
        aggregation=aggregation,
        track=compute_metrics(track_true, track_proba, cls),
        segment=compute_metrics(segment_true, p, cls),
        track_proba=track_proba,
        track_keys=track_keys,
        track_true=track_true,
    )


# ------------------------------------------------------------------------------------------ comparison
@dataclass(frozen=True, eq=False)
class ModelRun:
    """One evaluated model: its results and costs.

    Attributes
    ----------
    name : str
        Display name of the model (any text; sanitised where used in file names).
    result : EvaluationResult
        Its evaluation on the test set.
    fit_time_s : float or None
        Training wall time in seconds (None for a pretrained model that is not fitted).
    predict_time_s : float
        Wall time to predict the whole test set, in seconds.
    n_params : int or None
        Number of learned parameters, when meaningful.
    extra : dict
        Free-form JSON-ready information (hyper-parameters, feature extractor, ...).
    """

    name: str
    result: EvaluationResult
    fit_time_s: float | None = None
    predict_time_s: float = 0.0
    n_params: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def predict_time_per_track_s(self) -> float:
        """Prediction wall time per test track, in seconds."""
        return float(self.predict_time_s) / max(self.result.n_tracks, 1)

    def to_dict(self, *, include_predictions: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict of the run (costs, extra information and all metrics)."""
        return {
            "name": self.name,
            "fit_time_s": None if self.fit_time_s is None else float(self.fit_time_s),
            "predict_time_s": float(self.predict_time_s),
            "predict_time_per_track_s": self.predict_time_per_track_s,
            "n_params": None if self.n_params is None else int(self.n_params),
            "extra": to_jsonable(self.extra),
            **self.result.to_dict(include_predictions=include_predictions),
        }


COMPARISON_COLUMNS: tuple[str, ...] = (
    "model",
    "track_accuracy",
    "track_balanced_accuracy",
    "track_macro_f1",
    "track_log_loss",
    "track_jaccard",
    "track_roc_auc",
    "segment_accuracy",
    "fit_s",
    "predict_ms_per_track",
)


def comparison_table(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """Tabulate the headline numbers of several models, best track macro-F1 first.

    Parameters
    ----------
    runs : sequence of ModelRun

    Returns
    -------
    pandas.DataFrame
        One row per model with the columns of :data:`COMPARISON_COLUMNS` (undefined values are NaN),
        sorted by ``track_macro_f1`` descending (stable: ties keep the input order), index 0..n-1.
    """
    rows = []
    for run in runs:
        t, s = run.result.track, run.result.segment
        rows.append(
            {
                "model": run.name,
                "track_accuracy": t.accuracy,
                "track_balanced_accuracy": t.balanced_accuracy,
                "track_macro_f1": t.macro_f1,
                "track_log_loss": t.log_loss,
                "track_jaccard": t.jaccard,
                "track_roc_auc": np.nan if t.roc_auc is None else t.roc_auc,
                "segment_accuracy": s.accuracy,
                "fit_s": np.nan if run.fit_time_s is None else float(run.fit_time_s),
                "predict_ms_per_track": 1000.0 * run.predict_time_per_track_s,
            }
        )
    df = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    for col in COMPARISON_COLUMNS[1:]:
        df[col] = df[col].astype(np.float64)
    return df.sort_values("track_macro_f1", ascending=False, kind="mergesort").reset_index(drop=True)


def fold_summary(results: Sequence[EvaluationResult]) -> dict[str, Any]:
    """Mean and standard deviation over k folds of the headline metrics.

    Parameters
    ----------
    results : sequence of EvaluationResult
        One result per fold.

    Returns
    -------
    dict
        ``{"n_folds": k, "track": {metric: stats}, "segment": {metric: stats}}`` where ``stats`` is
        ``{"mean", "std", "n", "values"}``; ``std`` is the sample standard deviation (ddof=1, 0.0 for one
        fold); folds where a metric is undefined (None) are left out and ``n`` counts the others
        (``mean``/``std`` None when no fold has it). JSON-ready.

    Raises
    ------
    ConfigError
        No results.
    """
    if len(results) == 0:
        raise ConfigError("fold_summary needs at least one fold result; got none")
    out: dict[str, Any] = {"n_folds": len(results)}
    for level in ("track", "segment"):
        stats: dict[str, Any] = {}
        for name in HEADLINE_METRICS:
            values = [getattr(getattr(r, level), name) for r in results]
            got = np.array([v for v in values if v is not None], dtype=np.float64)
            stats[name] = {
                "mean": float(got.mean()) if got.size else None,
                "std": (float(got.std(ddof=1)) if got.size > 1 else 0.0) if got.size else None,
                "n": int(got.size),
                "values": [None if v is None else float(v) for v in values],
            }
        out[level] = stats
    return out


def format_mean_std(stats: Mapping[str, Any], *, digits: int = 3) -> str:
    """Format one :func:`fold_summary` entry as ``"0.812 ± 0.034"`` (``"n/a"`` when undefined)."""
    if stats.get("mean") is None:
        return "n/a"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


#: Fewest test tracks of a genre before its figures are flagged as too small to read.
MIN_TRACKS_PER_GENRE = 5


def wilson_interval(successes: float, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (``successes`` of ``n``), e.g. an accuracy over tracks.

    Unlike the normal approximation it stays inside [0, 1] and is honest for small ``n`` and for
    proportions near 0 or 1 (8 of 8 correct gives about [0.68, 1.00], not [1.00, 1.00]).

    Parameters
    ----------
    successes : float
        Number of successes (an accuracy times ``n`` is accepted; it is rounded).
    n : int
        Number of trials; 0 gives ``(0.0, 1.0)``.
    confidence : float
        Two-sided coverage in (0, 1).

    Returns
    -------
    (low, high) : tuple of float
    """
    from scipy.stats import norm

    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if n <= 0:
        return 0.0, 1.0
    k = min(max(round(float(successes)), 0), n)
    z = float(norm.ppf(0.5 + confidence / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_with_interval(accuracy: float, n: int, *, confidence: float = 0.95) -> str:
    """``"0.825 (95% CI 0.680-0.912)"``: an accuracy over ``n`` items with its Wilson interval."""
    lo, hi = wilson_interval(accuracy * n, n, confidence=confidence)
    return f"{accuracy:.3f} ({confidence:.0%} CI {lo:.3f}-{hi:.3f})"


def small_test_warnings(result: EvaluationResult, *, min_tracks: int = MIN_TRACKS_PER_GENRE) -> list[str]:
    """Warnings for figures read from too few test tracks: one line per genre with fewer than ``min_tracks``.

    Parameters
    ----------
    result : EvaluationResult

    Returns
    -------
    list of str
        Empty when every genre of ``result.classes`` has at least ``min_tracks`` test tracks.
    """
    counts = Counter(str(c) for c in result.track_true)
    small = {c: counts.get(c, 0) for c in result.classes if counts.get(c, 0) < min_tracks}
    if not small:
        return []
    listing = ", ".join(f"{c} {n}" for c, n in small.items())
    return [
        f"few test tracks for {len(small)} genre(s) ({listing}; fewer than {min_tracks}): their per-genre "
        "figures, and the accuracy, move by whole tracks; read them with the interval"
    ]
