"""Features of a labelled dataset, one model fitted and scored on them: the steps every workflow shares.

:func:`extract_features` turns a dataset into a :class:`FeatureSet` (unreadable files are reported, not
fatal); :func:`fit_model` fits one model kind on it (optionally grid-searched with grouped, stratified
CV on the rows given); :func:`score_model` evaluates a fitted model at track and segment level;
:func:`cross_validate` pools one model's out-of-fold predictions. The audio workflows
(:mod:`genrekit.training`) and the table workflows (:mod:`genrekit.tabular`) are built from them.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.data.featureset import FeatureSet
from genrekit.data.tracks import Dataset
from genrekit.errors import DatasetError, ModelError
from genrekit.features.base import Extractor
from genrekit.features.cache import FeatureCache, extract_files
from genrekit.files import to_jsonable
from genrekit.metrics import EvaluationResult, ModelRun, evaluate_predictions, fold_summary
from genrekit.models.registry import build_model, search_grid

log = logging.getLogger(__name__)


def extract_features(
    dataset: Dataset,
    extractor: Extractor,
    *,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> FeatureSet:
    """Extract segment features for every track of ``dataset``; unreadable files are reported, not fatal.

    Raises
    ------
    DatasetError
        When no file at all could be read.
    """
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    res = extract_files(list(dataset.paths), extractor, workers=workers, cache=cache, progress=progress)
    Xs, ys, gs, arts = [], [], [], []
    by_path = {str(t.path): t for t in dataset.tracks}
    for path, feats in zip(res.paths, res.features, strict=True):
        t = by_path[str(path)]
        Xs.append(feats)
        ys += [t.label] * len(feats)
        gs += [t.track_id] * len(feats)
        arts += [t.artist] * len(feats)
    failures = [(str(p), str(m)) for p, m in res.failures]
    for p, m in failures:
        log.warning("skipped %s: %s", p, m)
    if not Xs:
        raise DatasetError(f"none of the {len(dataset)} files could be read; first problem: {failures[:1]}")
    return FeatureSet(
        X=np.concatenate(Xs).astype(np.float32),
        y=np.asarray(ys, dtype=str),
        groups=np.asarray(gs, dtype=str),
        artists=np.asarray(arts, dtype=object),
        names=list(extractor.names),
        failures=failures,
        frame_shape=extractor.frame_shape,
    )


def _check_trainable(fs: FeatureSet, what: str = "training data") -> None:
    labels, counts = np.unique(fs.y, return_counts=True)
    if len(labels) < 2:
        raise DatasetError(f"{what} has a single class ({labels.tolist()}); a classifier needs at least two")
    n_tracks = {lab: len(np.unique(fs.groups[fs.y == lab])) for lab in labels}
    if min(n_tracks.values()) < 1:  # pragma: no cover - unique() never yields empty classes
        raise DatasetError(f"{what} has an empty class")


@dataclass
class FitResult:
    model: Any
    fit_time_s: float
    params: dict[str, Any]
    search: dict[str, Any] | None = None


def _neighbour_keys(params: Mapping[str, Any]) -> list[str]:
    return [k for k in params if k == "n_neighbors" or k.endswith("__n_neighbors")]


def _cap_neighbours(model: Any, n_rows: int, kind: str) -> None:
    """Lower a neighbour count above the training rows to their number, with a warning.

    A k-nearest-neighbour model asked for more neighbours than it has rows fits, then fails at every
    prediction; with ``n_rows`` neighbours it votes over the whole training set, which is what few rows
    allow.
    """
    for key in _neighbour_keys(model.get_params()):
        k = model.get_params()[key]
        if isinstance(k, int) and k > n_rows >= 1:
            warnings.warn(
                f"model {kind!r}: {key.rsplit('__', 1)[-1]}={k} is more than the {n_rows} training segments; "
                f"using {n_rows}",
                UserWarning,
                stacklevel=3,
            )
            model.set_params(**{key: n_rows})


def _neighbour_grid(grid: dict[str, Any], n_rows: int) -> dict[str, Any]:
    """``grid`` without neighbour counts above ``n_rows`` (the smallest search-fold training side)."""
    out = dict(grid)
    for key in _neighbour_keys(grid):
        values = [v for v in grid[key] if not isinstance(v, int) or v <= max(1, n_rows)]
        out[key] = values or [max(1, n_rows)]
    return out


def fit_model(
    kind: str,
    fs: FeatureSet,
    *,
    params: Mapping[str, Any] | None = None,
    search: bool = False,
    cv_folds: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
) -> FitResult:
    """Fit one model on segment features; with ``search``, grid-search it with grouped k-fold CV first.

    The search folds are stratified and grouped (by artist when known, else by track), and use only the
    rows given (the training side).
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    _check_trainable(fs)
    params = dict(params or {})
    model = build_model(kind, random_state=seed, n_jobs=n_jobs, **params)
    if "frame_shape" in model.get_params() and model.get_params()["frame_shape"] is None and fs.frame_shape:
        model.set_params(frame_shape=tuple(fs.frame_shape))
    _cap_neighbours(model, len(fs.y), kind)
    takes_groups = "groups" in inspect.signature(model.fit).parameters
    t0 = time.perf_counter()
    search_info = None
    if search:
        grid = search_grid(kind)
        groups = fs.split_groups()
        k = max(2, min(cv_folds, min_groups_per_label(fs.y, groups)))
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        grid = _neighbour_grid(grid, len(fs.y) - -(-len(fs.y) // k))  # rows minus the largest test fold
        gs = GridSearchCV(
            model, grid, scoring="f1_macro", cv=cv, n_jobs=n_jobs, refit=False, error_score="raise"
        )
        gs.fit(fs.X, fs.y, groups=groups)
        model = clone(model).set_params(**gs.best_params_)  # refitted below, as without a search
        search_info = {
            "best_params": to_jsonable(gs.best_params_),
            "best_score_f1_macro": float(gs.best_score_),
            "folds": k,
            "grid": to_jsonable(grid),
        }
        params.update(gs.best_params_)
    restore = _group_calibration_folds(model, fs, seed)
    try:
        if takes_groups:  # torch models: track ids, and the early-stopping holdout grouped like every split
            extra = {}
            if "split_groups" in inspect.signature(model.fit).parameters:
                extra["split_groups"] = fs.split_groups()
            model.fit(fs.X, fs.y, groups=fs.groups, **extra)
        else:
            model.fit(fs.X, fs.y)
    except ValueError as exc:  # e.g. too few rows for the MLP's early-stopping split
        n_tracks = len(np.unique(fs.groups))
        raise ModelError(
            f"model {kind!r} could not be fitted on {len(fs.y)} segments of {n_tracks} tracks: {exc}"
        ) from None
    finally:
        restore()
    return FitResult(model, time.perf_counter() - t0, to_jsonable(params), search_info)


def min_groups_per_label(y: np.ndarray, groups: np.ndarray) -> int:
    """Fewest distinct groups any label has: the most grouped stratified folds the rows allow."""
    return min(len(np.unique(groups[y == c])) for c in np.unique(y))


def _group_calibration_folds(model: Any, fs: FeatureSet, seed: int) -> Callable[[], None]:
    """Make a CalibratedClassifierCV step (the SVM's Platt scaling) cut its folds by track.

    With ``cv=3`` it would cut segment rows, so segments of one track would sit on both sides and the
    calibration would learn from scores the SVM had seen: overconfident probabilities. The folds are
    stratified and grouped like every split (artist when known, else track); when some genre has fewer
    groups than folds, as many folds as it has groups (at least 2). A genre of a single group cannot
    be held out: its rows stay on the training side of every fold, so its probabilities are not
    calibrated (a warning says so) and the folds' calibrated SVMs are averaged. Fewer than two genres
    with 2 groups: ModelError. Returns the function that puts ``cv`` back (a fitted model keeps no index
    arrays in its parameters, hence none in its bundle).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedGroupKFold

    step = getattr(model, "named_steps", {}).get("clf")
    if not isinstance(step, CalibratedClassifierCV) or not isinstance(step.cv, int):
        return lambda: None
    k = step.cv
    groups = fs.split_groups()
    n_per = {str(lab): len(np.unique(groups[fs.y == lab])) for lab in np.unique(fs.y)}
    single = sorted(lab for lab, n in n_per.items() if n < 2)
    if len(n_per) - len(single) < 2:
        raise ModelError(
            f"the SVM's probability calibration needs at least 2 training tracks of two genres or more; "
            f"tracks per genre: {n_per}: add tracks or use logreg"
        )
    k_eff = min(k, *(n for n in n_per.values() if n >= 2))
    held = np.flatnonzero(~np.isin(fs.y, single))
    always = np.flatnonzero(np.isin(fs.y, single))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = [
            (np.sort(np.concatenate([held[tr], always])), held[te])
            for tr, te in StratifiedGroupKFold(n_splits=k_eff, shuffle=True, random_state=seed).split(
                fs.X[held], fs.y[held], groups[held]
            )
        ]
    if not single:
        step.set_params(cv=folds)
        return lambda: step.set_params(cv=k)
    # the folds no longer partition the rows: one SVM per fold, calibrated on its held-out side, averaged
    warnings.warn(
        f"genre(s) {single} have a single training track (or artist): the SVM's probabilities for them "
        f"are not calibrated (kept on the training side of every calibration fold; {k_eff} SVMs averaged)",
        stacklevel=3,
    )
    ensemble = step.ensemble
    step.set_params(cv=folds, ensemble=True)
    return lambda: step.set_params(cv=k, ensemble=ensemble)


def score_model(
    name: str,
    model: Any,
    fs: FeatureSet,
    *,
    aggregation: str = "mean_log",
    fit_time_s: float | None = None,
    extra: dict[str, Any] | None = None,
) -> ModelRun:
    """Predict ``fs`` with a fitted model and evaluate at track and segment level."""
    t0 = time.perf_counter()
    proba = np.asarray(model.predict_proba(fs.X))
    predict_time = time.perf_counter() - t0
    classes = [str(c) for c in model.classes_]
    unknown = sorted({str(c) for c in np.unique(fs.y)} - set(classes))
    if unknown:
        raise ModelError(
            f"the data has genres the model was not trained on: {unknown}; model labels: {classes}"
        )
    result = evaluate_predictions(fs.y, proba, fs.groups, classes, aggregation=aggregation)
    extra = dict(extra or {})
    if getattr(model, "history_", None):  # torch models: per-epoch curves for the report
        extra["history"] = to_jsonable(model.history_)
    return ModelRun(name=name, result=result, fit_time_s=fit_time_s, predict_time_s=predict_time, extra=extra)


def cross_validate(
    kind: str,
    folds: Iterable[tuple[FeatureSet, FeatureSet]],
    fit: Callable[[FeatureSet], FitResult],
    *,
    aggregation: str = "mean_log",
) -> tuple[ModelRun, list[EvaluationResult]]:
    """One model kind fitted and scored on each ``(training, test)`` fold; the out-of-fold predictions pooled.

    ``fit`` fits the kind on a fold's training rows (the caller's parameters, search and grid);
    ``folds`` may be a generator, so a fold's training features (augmented copies) are made when needed.

    Returns
    -------
    run : ModelRun
        Scored on the pooled out-of-fold predictions; ``extra["folds"]`` holds the mean and spread over
        folds, ``fit_time_s`` the mean fit time per fold.
    results : list of EvaluationResult
        Each fold's own result.
    """
    results: list[EvaluationResult] = []
    probas, ys, gs = [], [], []
    fit_total = pred_total = 0.0
    for tr, te in folds:
        fitted = fit(tr)
        r = score_model(kind, fitted.model, te, aggregation=aggregation, fit_time_s=fitted.fit_time_s)
        results.append(r.result)
        fit_total += fitted.fit_time_s
        pred_total += r.predict_time_s
        probas.append(np.asarray(fitted.model.predict_proba(te.X)))
        ys.append(te.y)
        gs.append(te.groups)
    pooled = evaluate_predictions(
        np.concatenate(ys),
        np.concatenate(probas),
        np.concatenate(gs),
        list(results[0].classes),
        aggregation=aggregation,
    )
    run = ModelRun(
        kind,
        pooled,
        fit_time_s=fit_total / len(results),
        predict_time_s=pred_total,
        extra={"folds": to_jsonable(fold_summary(results))},
    )
    return run, results


def score_on_split(
    kinds: Sequence[str],
    train_fs: FeatureSet,
    test_fs: FeatureSet,
    fitter: Callable[[str], Callable[[FeatureSet], FitResult]],
    *,
    aggregation: str = "mean_log",
) -> list[ModelRun]:
    """Each model kind fitted on ``train_fs`` (by ``fitter(kind)``) and scored on ``test_fs``.

    Raises
    ------
    DatasetError
        The test side is empty.
    """
    if not len(test_fs.X):
        raise DatasetError("the test side of the split is empty: nothing to compare on")
    runs = []
    for kind in kinds:
        fitted = fitter(kind)(train_fs)
        runs.append(
            score_model(
                kind,
                fitted.model,
                test_fs,
                aggregation=aggregation,
                fit_time_s=fitted.fit_time_s,
                extra={"params": fitted.params, "search": fitted.search},
            )
        )
    return runs
