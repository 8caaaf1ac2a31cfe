"""Cross-validation of candidate genre heads over cached musicnn outputs of the shared GTZAN clips.

Used by ``tools/train_default_model.py`` (to choose and describe the shipped head) and by
``benchmarks/bench_default_model.py`` (to print every candidate side by side).

Folds: StratifiedGroupKFold over clips (each clip its own group, so no clip is on both sides; artists
are not known beyond the split lists), stratified across the 10 genres, ``n_folds`` x ``n_repeats``.
A head is either trained per patch (every 3 s patch a row; the track's answer the mean of the
log-probabilities of its patches, as :class:`genrekit.predict.Classifier` does with ``mean_log``) or on
track-mean features (one row per clip: the mean of its patch rows).

Metrics (per repeat, then averaged; 95% intervals by a bootstrap over clips, stratified by genre):
macro recall over the 10 genres, accuracy on the four complete genres (blues, classical, jazz, pop),
overall accuracy, per-genre recall, the confusion matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from genrekit.calibration import expected_calibration_error
from genrekit.models.aggregate import aggregate_codes
from genrekit.models.calibrated import fit_track_temperature

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
COMPLETE = ("blues", "classical", "jazz", "pop")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "msd-pen": ("msd_pen",),
    "mtt-pen": ("mtt_pen",),
    "both-pen": ("msd_pen", "mtt_pen"),
    "msd-tag": ("msd_tag",),
    "mtt-tag": ("mtt_tag",),
    "both-tag": ("msd_tag", "mtt_tag"),
    "msd-pooled": ("msd_midmean", "msd_midmax"),
    "mtt-pooled": ("mtt_midmean", "mtt_midmax"),
    "both-pooled": ("msd_midmean", "msd_midmax", "mtt_midmean", "mtt_midmax"),
}


def features(data: dict[str, np.ndarray], feature_set: str) -> np.ndarray:
    """Per-patch rows of one feature set, (n_patches, dim) float32."""
    return np.concatenate([data[k] for k in FEATURE_SETS[feature_set]], axis=1)


def make_estimator(kind: str, c: float = 1.0, seed: int = 0) -> Any:
    """A head: ``logreg`` (scaler + balanced logistic regression), ``svm`` (scaler + balanced linear SVM
    with Platt scaling, 3-fold), ``mlp`` (scaler + one hidden layer of 64, early stopping)."""
    if kind == "logreg":
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        )
    if kind == "svm":
        svc = LinearSVC(C=c, class_weight="balanced", max_iter=5000, random_state=seed)
        return make_pipeline(StandardScaler(), CalibratedClassifierCV(svc, method="sigmoid", cv=3))
    if kind == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64,), alpha=c, max_iter=300, early_stopping=True, random_state=seed
            ),
        )
    raise ValueError(kind)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights making every class weigh the same (for estimators without class_weight)."""
    classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    return (len(y) / (len(classes) * counts))[inv]


def fit_head(kind: str, c: float, X: np.ndarray, y: np.ndarray, seed: int = 0) -> Any:
    est = make_estimator(kind, c, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "mlp":
            est.fit(X, y, mlpclassifier__sample_weight=balanced_weights(y))
        else:
            est.fit(X, y)
    return est


@dataclass(frozen=True)
class Candidate:
    """One head: feature set, estimator kind, its C (alpha for the MLP), per-patch or track-mean."""

    feature_set: str
    kind: str = "logreg"
    c: float = 1.0
    mode: str = "patch"  # "patch" or "trackmean"

    @property
    def name(self) -> str:
        return f"{self.feature_set} {self.kind}(C={self.c:g}) {self.mode}"


@dataclass
class CVResult:
    candidate: Candidate
    metrics: dict[str, Any]
    #: out-of-fold per-patch probabilities of each repeat (patch mode) or per-clip (trackmean mode)
    oof: list[np.ndarray] = field(default_factory=list)
    folds: list[np.ndarray] = field(default_factory=list)
    track_proba: list[np.ndarray] = field(default_factory=list)
    #: per condition of ``test_data``: per-repeat track probabilities of its held-out copies
    deg_track_proba: dict[str, list[np.ndarray]] = field(default_factory=dict)


def fold_ids(labels: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold index of every clip: StratifiedGroupKFold with each clip its own group."""
    out = np.empty(len(labels), dtype=np.int64)
    skf = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(skf.split(np.zeros(len(labels)), labels, groups=np.arange(len(labels)))):
        out[test] = k
    return out


def track_probs(p_rows: np.ndarray, clip_of_row: np.ndarray, n_clips: int, mode: str) -> np.ndarray:
    """Track probabilities (n_clips, 10); NaN rows for clips without rows (a degraded subset)."""
    if mode == "trackmean":
        out = np.full((n_clips, p_rows.shape[1]), np.nan)
        out[np.unique(clip_of_row)] = p_rows
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        return aggregate_codes(p_rows, clip_of_row, n_clips, method="mean_log")


def clip_means(X: np.ndarray, clip: np.ndarray, n_clips: int) -> np.ndarray:
    """Mean row per clip, (n_clips, dim); NaN rows for clips without rows."""
    sums = np.zeros((n_clips, X.shape[1]), dtype=np.float64)
    np.add.at(sums, clip, X)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / np.bincount(clip, minlength=n_clips)[:, None]).astype(np.float32)


def head_rows(cand: Candidate, d: dict[str, np.ndarray], n_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidate's input rows from one condition's outputs, and the clip of each row."""
    X = features(d, cand.feature_set)
    if cand.mode == "trackmean":
        present = np.unique(d["clip"])
        return clip_means(X, d["clip"], n_clips)[present], present
    return X, d["clip"]


def oof_predict(
    cand: Candidate,
    data: dict[str, np.ndarray],
    labels: np.ndarray,
    folds: np.ndarray,
    *,
    train_extra: list[dict[str, np.ndarray]] = (),
    test_data: list[dict[str, np.ndarray]] = (),
    seed: int = 0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Out-of-fold probabilities (rows of ``data``, classes in GENRES order), and the same for each
    ``test_data`` condition (held-out folds' degraded copies). ``train_extra``: more conditions whose
    training-fold rows join the training set (augmentation)."""
    n_clips = len(labels)
    clip = data["clip"]

    def rows(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return head_rows(cand, d, n_clips)

    X, rc = rows(data)
    extras = [rows(d) for d in train_extra]
    tests = [rows(d) for d in test_data]
    out = np.zeros((len(X), len(GENRES)))
    outs = [np.zeros((len(t[0]), len(GENRES))) for t in tests]
    for k in np.unique(folds):
        tr = folds[rc] != k
        Xtr, ytr = [X[tr]], [labels[rc[tr]]]
        for Xe, ce in extras:
            m = folds[ce] != k
            Xtr.append(Xe[m])
            ytr.append(labels[ce[m]])
        est = fit_head(cand.kind, cand.c, np.concatenate(Xtr), np.concatenate(ytr), seed)
        order = [list(est.classes_).index(g) for g in GENRES]
        te = ~tr
        out[te] = est.predict_proba(X[te])[:, order]
        for (Xt, ct), o in zip(tests, outs, strict=True):
            m = folds[ct] == k
            o[m] = est.predict_proba(Xt[m])[:, order]
    del clip
    return out, outs


def _stats(correct: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[float, float, float]:
    """Macro recall, accuracy on the complete genres and accuracy of ``correct`` (R, n) over clips
    ``idx`` (``y`` the class index of every clip)."""
    c, yy = correct[:, idx], y[idx]
    comp = np.isin(yy, [GENRES.index(g) for g in COMPLETE])
    rec = [c[:, yy == j].mean() for j in range(len(GENRES)) if np.any(yy == j)]
    return float(np.mean(rec)), float(c[:, comp].mean()), float(c.mean())


def _boot_indices(y: np.ndarray, n_boot: int, seed: int) -> list[np.ndarray]:
    """``n_boot`` bootstrap resamples of the clips, stratified by genre (class indices ``y``)."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == j) for j in range(len(GENRES))]
    return [np.concatenate([rng.choice(ix, len(ix)) for ix in by_class if len(ix)]) for _ in range(n_boot)]


def paired_gap(
    base: list[np.ndarray],
    other: list[np.ndarray],
    labels: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """``base`` minus ``other`` (per-repeat track probabilities of the same clips, each (n, 10)) for
    macro recall, accuracy on the complete genres and accuracy: ``[gap, lo, hi]`` with a paired
    bootstrap 95% interval over clips (stratified by genre). Positive: ``other`` is worse."""
    y = np.array([GENRES.index(g) for g in labels])
    ca = np.stack([p.argmax(axis=1) for p in base]) == y[None, :]
    cb = np.stack([p.argmax(axis=1) for p in other]) == y[None, :]

    def gap(idx: np.ndarray) -> np.ndarray:
        return np.subtract(_stats(ca, y, idx), _stats(cb, y, idx))

    point = gap(np.arange(len(y)))
    boots = np.array([gap(idx) for idx in _boot_indices(y, n_boot, seed)])
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    return {
        k: [round(float(point[i]), 4), round(float(lo[i]), 4), round(float(hi[i]), 4)]
        for i, k in enumerate(("macro_recall", "accuracy_complete4", "accuracy"))
    }


def summarise(
    track_proba: list[np.ndarray], labels: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Metrics of per-repeat track probabilities (each (n_clips, 10)): means over repeats, bootstrap 95%
    intervals over clips (stratified by genre), per-genre recall, confusion matrix (summed over repeats)."""
    return summarise_preds([p.argmax(axis=1) for p in track_proba], labels, n_boot=n_boot, seed=seed)


def summarise_preds(
    predictions: list[np.ndarray], labels: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """:func:`summarise` on predicted class indices (-1 for an answer outside the 10 genres)."""
    y = np.array([GENRES.index(g) for g in labels])
    preds = np.stack(predictions)  # (R, n)
    correct = preds == y[None, :]
    macro, acc4, acc = _stats(correct, y, np.arange(len(y)))
    boots = np.array([_stats(correct, y, idx) for idx in _boot_indices(y, n_boot, seed)])
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    cm = np.zeros((len(GENRES), len(GENRES)), dtype=np.int64)
    for p in preds:
        ok = p >= 0
        np.add.at(cm, (y[ok], p[ok]), 1)
    return {
        "macro_recall": round(macro, 4),
        "macro_recall_ci95": [round(float(lo[0]), 4), round(float(hi[0]), 4)],
        "accuracy_complete4": round(acc4, 4),
        "accuracy_complete4_ci95": [round(float(lo[1]), 4), round(float(hi[1]), 4)],
        "accuracy": round(acc, 4),
        "accuracy_ci95": [round(float(lo[2]), 4), round(float(hi[2]), 4)],
        "per_genre_recall": {g: round(float(correct[:, y == j].mean()), 4) for j, g in enumerate(GENRES)},
        "confusion": {"labels": list(GENRES), "matrix": cm.tolist(), "repeats": len(predictions)},
    }


def cross_validate(
    cand: Candidate,
    data: dict[str, np.ndarray],
    labels: np.ndarray,
    *,
    n_folds: int = 5,
    n_repeats: int = 2,
    train_extra: list[dict[str, np.ndarray]] = (),
    test_data: dict[str, dict[str, np.ndarray]] | None = None,
    calibrate: bool = False,
) -> CVResult:
    """Repeated grouped stratified CV of one candidate; ``test_data`` degraded conditions are scored on
    the held-out folds too (``metrics["degraded"][name]``). ``calibrate``: fit the track-level
    temperature on the pooled out-of-fold patches (``metrics["temperature"]``) and report ECE before
    and after, the after figure cross-fitted (each fold scaled by a temperature fitted on the others)."""
    n = len(labels)
    test_data = test_data or {}
    names = list(test_data)
    res = CVResult(cand, {})
    deg_tracks: dict[str, list[np.ndarray]] = {k: [] for k in names}
    deg_rows: dict[str, np.ndarray] = {}
    for r in range(n_repeats):
        folds = fold_ids(labels, n_folds, seed=r)
        p, ps = oof_predict(
            cand,
            data,
            labels,
            folds,
            train_extra=train_extra,
            test_data=[test_data[k] for k in names],
            seed=r,
        )
        res.oof.append(p)
        res.folds.append(folds)
        res.track_proba.append(track_probs(p, data["clip"], n, cand.mode))
        for k, pk in zip(names, ps, strict=True):
            if r == 0:
                deg_rows[k] = pk
            deg_tracks[k].append(track_probs(pk, test_data[k]["clip"], n, cand.mode))
    res.metrics = summarise(res.track_proba, labels)
    res.deg_track_proba = deg_tracks
    keys = ("macro_recall", "accuracy_complete4", "accuracy")
    keys = (*keys, *(f"{k}_ci95" for k in keys), "per_genre_recall")
    if names:  # scored on the clips that have degraded copies, next to the clean figures of those clips
        res.metrics["degraded"] = {}
        for k in names:
            sub = np.unique(test_data[k]["clip"])
            deg = summarise([t[sub] for t in deg_tracks[k]], labels[sub], n_boot=200)
            clean = summarise([t[sub] for t in res.track_proba], labels[sub], n_boot=200)
            res.metrics["degraded"][k] = {kk: deg[kk] for kk in keys}
            res.metrics["degraded"][k]["n_clips"] = int(len(sub))
            if len(sub) < n:
                res.metrics["degraded"][k]["clean_same_clips"] = {kk: clean[kk] for kk in keys[:3]}
            res.metrics["degraded"][k]["gap"] = paired_gap(
                [t[sub] for t in res.track_proba], [t[sub] for t in deg_tracks[k]], labels[sub], n_boot=500
            )
    if calibrate and cand.mode == "patch":
        res.metrics.update(calibration(res, data, labels, test_data, deg_rows))
    return res


def _scaled_tracks(p_rows: np.ndarray, clip: np.ndarray, n: int, t: float) -> np.ndarray:
    from genrekit.models.calibrated import apply_temperature

    return aggregate_codes(apply_temperature(p_rows, t), clip, n, method="mean_log")


def calibration(
    res: CVResult,
    data: dict[str, np.ndarray],
    labels: np.ndarray,
    test_data: dict[str, dict[str, np.ndarray]],
    deg_rows: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Temperature fitted on all out-of-fold patches of repeat 0 (the one to ship), and ECE of the track
    probabilities raw and scaled, clean and per degraded condition. The scaled ECE is cross-fitted: each
    held-out fold is scaled by a temperature fitted on the other folds' out-of-fold patches."""
    clip, n = data["clip"], len(labels)
    y = np.array([GENRES.index(g) for g in labels])
    p0, folds = res.oof[0], res.folds[0]
    t_all = fit_track_temperature(p0, labels[clip], clip, list(GENRES), aggregation="mean_log")
    t_fold = {}
    for k in np.unique(folds):
        m = folds[clip] != k
        t_fold[k] = fit_track_temperature(
            p0[m], labels[clip[m]], clip[m], list(GENRES), aggregation="mean_log"
        )

    def ece(rows: np.ndarray, c: np.ndarray) -> tuple[float, float, list[float]]:
        present = np.unique(c)
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = aggregate_codes(rows, c, n, method="mean_log")
            scaled = np.zeros_like(raw)
            for k, t in t_fold.items():
                scaled[folds == k] = _scaled_tracks(rows, c, n, t)[folds == k]
        yp, sp = y[present], scaled[present]
        boots = [expected_calibration_error(yp[i], sp[i]) for i in _boot_indices(yp, 200, 0)]
        return (
            round(expected_calibration_error(yp, raw[present]), 4),
            round(expected_calibration_error(yp, sp), 4),
            [round(float(v), 4) for v in np.percentile(boots, [2.5, 97.5])],
        )

    out: dict[str, Any] = {"temperature": round(float(t_all), 4)}
    out["ece_clean_raw"], out["ece_clean"], out["ece_clean_ci95"] = ece(p0, clip)
    for name, rows in deg_rows.items():
        out[f"ece_{name}_raw"], out[f"ece_{name}"], out[f"ece_{name}_ci95"] = ece(
            rows, test_data[name]["clip"]
        )
    return out


def rotation(
    cand: Candidate,
    data: dict[str, np.ndarray],
    labels: np.ndarray,
    splits: np.ndarray,
    *,
    train_extra: list[dict[str, np.ndarray]] = (),
) -> dict[str, dict[str, Any]]:
    """Artist-disjoint rotation: train on the ``train`` list, score ``valid``; and the reverse.

    The two lists are the two folds of :func:`oof_predict` (fold 1 the ``train`` list), so each side is
    scored by the head fitted on the other, as every cross-validation fold is.
    """
    if not set(np.unique(splits).tolist()) <= {"train", "valid"}:
        raise ValueError(f"the rotation takes the train and valid lists, got {sorted(set(splits.tolist()))}")
    folds = (splits == "train").astype(np.int64)
    p, _ = oof_predict(cand, data, labels, folds, train_extra=train_extra)
    tracks = track_probs(p, data["clip"], len(labels), cand.mode)
    out: dict[str, dict[str, Any]] = {}
    for a, b in (("train", "valid"), ("valid", "train")):
        m = splits == b
        s = summarise([tracks[m]], labels[m], n_boot=200)
        out[f"{a}->{b}"] = {
            k: s[k] for k in ("macro_recall", "accuracy_complete4", "accuracy", "per_genre_recall")
        }
        out[f"{a}->{b}"]["n_test"] = int(m.sum())
    return out


def taxonomy_scores(
    data: dict[str, np.ndarray],
    labels: np.ndarray,
    model: Callable[[np.ndarray], tuple[list[str], np.ndarray]],
) -> dict[str, Any]:
    """Score a fixed tag->genre mapping the same way. ``model(tags (n,100)) -> (classes, proba)``; the
    mapping's genres outside GTZAN count as wrong; GTZAN genres it lacks (disco, reggae) score 0."""
    classes, p = model(np.concatenate([data["msd_tag"], data["mtt_tag"]], axis=1))
    tracks = aggregate_codes(p, data["clip"], len(labels), method="mean_prob")
    top = [classes[i] for i in tracks.argmax(axis=1)]
    pred = np.array([GENRES.index(g) if g in GENRES else -1 for g in top])
    s = summarise_preds([pred], labels)
    s["answered_outside_gtzan"] = int((pred < 0).sum())
    return s
