"""Train, evaluate and compare: the dataset -> features -> model -> metrics -> bundle/report workflow.

The CLI commands ``train``, ``evaluate``, ``compare`` and ``features`` and the Python functions
``genrekit.train`` / ``genrekit.evaluate`` / ``genrekit.compare`` are thin layers over this module.
Splits are always grouped by track (and by artist when every track has one), so segments of one track
never land on both sides; grid searches run grouped cross-validation on the training side only.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.bundle import Bundle, save_bundle
from genrekit.data.featureset import FeatureSet
from genrekit.data.folders import load_dataset
from genrekit.data.splits import Split, grouped_kfold, make_split
from genrekit.data.tracks import Dataset, fingerprint
from genrekit.errors import ConfigError, DatasetError, ModelError
from genrekit.evaluate import EvaluationResult, ModelRun, evaluate_predictions, fold_summary
from genrekit.features.base import Extractor
from genrekit.features.cache import FeatureCache, extract_files
from genrekit.features.registry import get_extractor
from genrekit.files import to_jsonable
from genrekit.models.aggregate import AGGREGATIONS
from genrekit.models.registry import available as model_kinds
from genrekit.models.registry import build_model, search_grid
from genrekit.predict import Classifier

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
    takes_groups = "groups" in inspect.signature(model.fit).parameters
    t0 = time.perf_counter()
    search_info = None
    if search:
        grid = search_grid(kind)
        groups = fs.split_groups()
        k = max(2, min(cv_folds, min_groups_per_label(fs.y, groups)))
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
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


# ------------------------------------------------------------------------------------------- workflows
@dataclass
class TrainResult:
    """What :func:`train` produced: the classifier, its bundle and (when a test side existed) its run."""

    classifier: Classifier
    bundle: Bundle
    run: ModelRun | None
    out: Path | None
    failures: list[tuple[str, str]]
    split: str = ""


def _resolve_extractor(features: str | Extractor, options: dict[str, Any] | None) -> Extractor:
    if isinstance(features, Extractor):
        return features
    return get_extractor(features, **(options or {}))


def _check_kind(kind: str) -> None:
    if kind not in model_kinds():
        from genrekit.errors import unknown_name

        raise unknown_name("model", kind, model_kinds())


def _training_features(
    dataset: Dataset,
    fs: FeatureSet,
    track_ids: Sequence[str],
    extractor: Extractor,
    *,
    augment: str | Sequence[str] | None,
    copies: int,
    seed: int,
    workers: int,
    cache_dir: str | Path | None,
    progress: bool,
) -> FeatureSet:
    """Features of the training tracks: the plain ones, or with degraded copies added (``augment``)."""
    if not augment:
        return fs.select_tracks(track_ids)
    from genrekit.features.augmenting import AugmentingExtractor

    wanted = set(track_ids)
    subset = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in wanted])
    aug = AugmentingExtractor(extractor, augment, copies=copies, seed=seed)
    return extract_features(subset, aug, workers=workers, cache_dir=cache_dir, progress=progress)


def _calibrate(
    model: Any, val_fs: FeatureSet, test_fs: FeatureSet | None, aggregation: str
) -> tuple[Any, dict[str, Any]]:
    """Fit a temperature on the validation tracks; report test-side calibration before and after."""
    from genrekit.calibration import expected_calibration_error
    from genrekit.models.calibrated import TemperatureScaled, labels_to_index

    if not len(val_fs.X):
        raise ConfigError(
            "calibration needs validation tracks: use a validation share (the default split has 16%) "
            "or a split folder with a valid*.txt list"
        )
    scaled = TemperatureScaled(model).fit(val_fs.X, val_fs.y, groups=val_fs.groups, aggregation=aggregation)
    info: dict[str, Any] = {
        "temperature": float(scaled.temperature_),
        "fitted_on_tracks": len(val_fs.track_ids),
    }
    if test_fs is not None and len(test_fs.X):
        classes = [str(c) for c in model.classes_]
        for tag, m in (("before", model), ("after", scaled)):
            res = evaluate_predictions(
                test_fs.y, m.predict_proba(test_fs.X), test_fs.groups, classes, aggregation=aggregation
            )
            y_idx = labels_to_index(res.track_true, classes)
            info[f"test_ece_{tag}"] = expected_calibration_error(y_idx, res.track_proba)
            info[f"test_log_loss_{tag}"] = res.track.log_loss
    return scaled, info


def train(
    data: str | Path | Dataset,
    *,
    features: str | Extractor = "handcrafted",
    feature_options: dict[str, Any] | None = None,
    model: str = "svm",
    params: dict[str, Any] | None = None,
    search: bool = False,
    split_file: str | Path | None = None,
    split_missing: str = "error",
    test_size: float = 0.2,
    aggregation: str = "mean_log",
    calibrate: bool = False,
    augment: str | Sequence[str] | None = None,
    augment_copies: int = 1,
    out: str | Path | None = None,
    seed: int = 0,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a model on a labelled audio dataset and (optionally) save its bundle.

    The model is fitted on the training side (training + validation tracks) and scored on the held-out
    test tracks; those test metrics are stored in the bundle. ``test_size=0`` trains on everything.
    With ``calibrate`` the model is fitted on the training tracks only and a temperature is fitted on
    the validation tracks (stored in the bundle; predictions use it). With ``augment`` (degradation
    names such as ``"noise,codec"``, see :mod:`genrekit.degrade`) every training file also contributes
    ``augment_copies`` randomly degraded copies; validation and test tracks stay clean.

    Returns
    -------
    TrainResult
    """
    _check_kind(model)
    if aggregation not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {aggregation!r}; valid: {', '.join(AGGREGATIONS)}")
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    extractor = _resolve_extractor(features, feature_options)
    # the split (and its lists) first: a bad split file fails before minutes of extraction
    if split_file is None and test_size <= 0 and not calibrate:
        split = Split(
            train=[t.track_id for t in dataset.tracks], test=[], description="all tracks used for training"
        )
    else:
        split = make_split(
            dataset, split_file=split_file, test_size=test_size, seed=seed, split_missing=split_missing
        )
    fs = extract_features(dataset, extractor, workers=workers, cache_dir=cache_dir, progress=progress)
    fit_ids = split.train if calibrate else split.train + split.val
    train_fs = _training_features(
        dataset,
        fs,
        fit_ids,
        extractor,
        augment=augment,
        copies=augment_copies,
        seed=seed,
        workers=workers,
        cache_dir=cache_dir,
        progress=progress,
    )
    test_fs = fs.select_tracks(split.test) if split.test else None
    fitted = fit_model(model, train_fs, params=params, search=search, seed=seed, n_jobs=workers)
    final_model, calibration = fitted.model, None
    if calibrate:
        final_model, calibration = _calibrate(fitted.model, fs.select_tracks(split.val), test_fs, aggregation)
    run = None
    metrics: dict[str, Any] = {}
    if test_fs is not None and len(test_fs.X):
        run = score_model(model, final_model, test_fs, aggregation=aggregation, fit_time_s=fitted.fit_time_s)
        metrics = {"test": run.result.to_dict(), "split": split.description}
        if split.missing:
            metrics["split_missing"] = split.missing
    if calibration is not None:
        metrics["calibration"] = calibration
    bundle = Bundle(
        model=fitted.model,
        kind=model,
        labels=[str(c) for c in fitted.model.classes_],
        extractor=extractor.to_dict(),
        feature_names=list(extractor.names),
        aggregation=aggregation,
        params=fitted.params,
        metrics=to_jsonable(metrics),
        data=to_jsonable(
            {
                "fingerprint": fingerprint(dataset),
                "n_tracks": len(dataset),
                "counts": dataset.counts(),
                "n_train_tracks": len(split.train) + len(split.val),
                "n_test_tracks": len(split.test),
                "failures": fs.failures,
            }
        ),
        extra=to_jsonable(
            {
                "search": fitted.search,
                "fit_time_s": fitted.fit_time_s,
                "seed": seed,
                "augment": {"degradations": augment, "copies": augment_copies} if augment else None,
                "temperature": calibration["temperature"] if calibration else None,
            }
        ),
    )
    out_path = save_bundle(bundle, out) if out is not None else None
    clf = Classifier(extractor, final_model, aggregation=aggregation, name=model, bundle=bundle)
    return TrainResult(clf, bundle, run, out_path, fs.failures, split.description)


@dataclass
class CompareResult:
    runs: list[ModelRun]
    folds: dict[str, list[EvaluationResult]] | None
    report: Path | None
    failures: list[tuple[str, str]]
    split: str
    #: :func:`genrekit.explain.permutation_importance_table` of ``evaluate(..., importance=True)``.
    importance: Any = None
    #: :func:`ablation` rows of ``compare(..., ablate=True)`` (every model).
    ablation: list[dict[str, Any]] | None = None
    #: ``(classes, matrix)`` of :func:`separability` from ``compare(..., separability=True)``.
    separability: tuple[list[str], np.ndarray] | None = None


def compare(
    data: str | Path | Dataset,
    *,
    features: str | Extractor = "handcrafted",
    feature_options: dict[str, Any] | None = None,
    models: Sequence[str] = ("knn", "logreg", "rf", "svm", "xgboost", "mlp"),
    search: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    split_file: str | Path | None = None,
    split_missing: str = "error",
    folds: int | None = None,
    test_size: float = 0.2,
    aggregation: str = "mean_log",
    augment: str | Sequence[str] | None = None,
    augment_copies: int = 1,
    report: str | Path | None = None,
    seed: int = 0,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    ablate: bool = False,
    separability: bool = False,
) -> CompareResult:
    """Fit and score several model families on the same features and split; write one report.

    ``ablate`` refits every model with each feature group left out in turn (:func:`ablation`, on the
    same split or folds); ``separability`` adds the genre-pair heat map (:func:`separability`, one
    binary ``logreg`` per pair on grouped folds). Both are returned and, with ``report``, written in it.

    With ``folds=K`` every model is scored on K grouped stratified folds and the report shows the
    pooled out-of-fold predictions plus the mean and spread over folds. ``params`` gives a model kind
    its parameters (``{"svm": {"clf__C": 3}}``; the defaults otherwise). ``augment`` adds degraded
    copies of the training tracks only (as in :func:`train`); give ``cache_dir`` with folds so each
    file's augmented features are computed once.
    """
    for m in models:
        _check_kind(m)
    per_kind = params or {}
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    extractor = _resolve_extractor(features, feature_options)
    split = None
    if not folds:  # the split (and its lists) first: a bad split file fails before any extraction
        split = make_split(
            dataset, split_file=split_file, test_size=test_size, seed=seed, split_missing=split_missing
        )
    fs = extract_features(dataset, extractor, workers=workers, cache_dir=cache_dir, progress=progress)
    runs: list[ModelRun] = []
    fold_results: dict[str, list[EvaluationResult]] | None = None
    if folds:
        fold_results = {}
        readable = Dataset(
            tracks=tuple(t for t in dataset.tracks if t.track_id in set(fs.groups)), root=dataset.root
        )
        splits = grouped_kfold(readable, k=folds, seed=seed)
        labels = readable.y
        for f, (train_idx, test_idx) in enumerate(splits, 1):
            lost = sorted(set(labels[test_idx].tolist()) - set(labels[train_idx].tolist()))
            if lost:  # before any fitting: that fold's model could not answer them
                raise DatasetError(
                    f"with {folds} folds, fold {f} tests genre(s) {lost} without a single track of them on "
                    f"its training side (tracks per genre: {readable.counts()}); use fewer folds, add tracks "
                    "of those genres, or leave them out"
                )
        id_splits = [
            ([readable.tracks[i].track_id for i in tr], [readable.tracks[i].track_id for i in te])
            for tr, te in splits
        ]
        for kind in models:
            fold_results[kind] = []
            probas, ys, gs = [], [], []
            fit_total = pred_total = 0.0
            for train_idx, test_idx in splits:
                tr = _training_features(
                    readable,
                    fs,
                    [readable.tracks[i].track_id for i in train_idx],
                    extractor,
                    augment=augment,
                    copies=augment_copies,
                    seed=seed,
                    workers=workers,
                    cache_dir=cache_dir,
                    progress=False,
                )
                te = fs.select_tracks([readable.tracks[i].track_id for i in test_idx])
                fitted = fit_model(
                    kind,
                    tr,
                    params=per_kind.get(kind),
                    search=search,
                    seed=seed,
                    n_jobs=workers,
                )
                r = score_model(kind, fitted.model, te, aggregation=aggregation, fit_time_s=fitted.fit_time_s)
                fold_results[kind].append(r.result)
                fit_total += fitted.fit_time_s
                pred_total += r.predict_time_s
                probas.append(np.asarray(fitted.model.predict_proba(te.X)))
                ys.append(te.y)
                gs.append(te.groups)
            classes = list(fold_results[kind][0].classes)
            pooled = evaluate_predictions(
                np.concatenate(ys),
                np.concatenate(probas),
                np.concatenate(gs),
                classes,
                aggregation=aggregation,
            )
            runs.append(
                ModelRun(
                    kind,
                    pooled,
                    fit_time_s=fit_total / len(splits),
                    predict_time_s=pred_total,
                    extra={"folds": to_jsonable(fold_summary(fold_results[kind]))},
                )
            )
        split_desc = f"{folds}-fold grouped stratified cross-validation (seed {seed})"
    else:
        assert split is not None
        train_fs = _training_features(
            dataset,
            fs,
            split.train + split.val,
            extractor,
            augment=augment,
            copies=augment_copies,
            seed=seed,
            workers=workers,
            cache_dir=cache_dir,
            progress=progress,
        )
        test_fs = fs.select_tracks(split.test)
        if not len(test_fs.X):
            raise DatasetError("the test side of the split is empty: nothing to compare on")
        id_splits = [(split.train + split.val, split.test)]
        for kind in models:
            fitted = fit_model(
                kind,
                train_fs,
                params=per_kind.get(kind),
                search=search,
                seed=seed,
                n_jobs=workers,
            )
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
        split_desc = split.description
    ablation_rows = None
    sections: list[tuple[str, str]] = []
    if ablate:
        ablation_rows = []
        for kind in models:
            ablation_rows += ablation(
                fs, kind, id_splits, params=per_kind.get(kind), seed=seed, aggregation=aggregation
            )
    pairs = separability_fn(fs, seed=seed, aggregation=aggregation) if separability else None
    report_path = None
    if report is not None:
        from genrekit.report import ablation_section, separability_section, write_report

        if ablation_rows:
            sections.append(ablation_section(ablation_rows))
        if pairs is not None:
            Path(report).mkdir(parents=True, exist_ok=True)
            sections.append(separability_section(pairs[0], pairs[1], report))
        info = {
            "data": str(dataset.root) if dataset.root else "manifest",
            "tracks": len(dataset),
            "genres": dataset.counts(),
            "features": extractor.to_dict(),
            "split": split_desc,
            "aggregation": aggregation,
            "training augmentation": f"{augment} x{augment_copies}" if augment else "none",
            "unreadable files": len(fs.failures),
        }
        history = {r.name: r.extra["history"] for r in runs if r.extra.get("history")}
        report_path = write_report(
            report,
            runs,
            title="genrekit model comparison",
            dataset_info=info,
            history=history or None,
            extra_sections=[_calibration_section(runs, report), *sections],
        )
    return CompareResult(
        runs, fold_results, report_path, fs.failures, split_desc, ablation=ablation_rows, separability=pairs
    )


def _calibration_section(runs: Sequence[ModelRun], report: str | Path) -> Any:
    """The reliability diagrams and ECE table of ``runs``, written into the report folder."""
    from genrekit.calibration import calibration_section

    Path(report).mkdir(parents=True, exist_ok=True)
    return calibration_section(runs, report)


def evaluate(
    model: str | Path | Classifier,
    data: str | Path | Dataset,
    *,
    split_file: str | Path | None = None,
    split_missing: str = "error",
    folds: int | None = None,
    report: str | Path | None = None,
    seed: int = 0,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    importance: bool = False,
    importance_repeats: int = 5,
) -> CompareResult:
    """Evaluate a trained model (bundle) on labelled data.

    Without ``folds`` the bundle itself is scored: on the test list of ``split_file`` when given,
    else on every track of ``data``. With ``folds=K`` the bundle's recipe (features, model kind and
    parameters) is retrained and scored on K grouped folds of ``data``. The report always has a
    calibration section (reliability diagram, ECE); ``importance=True`` adds the track-level permutation
    importance of the model's named features (:func:`genrekit.explain.importance_section`), returned
    as ``importance`` and written to ``importance.csv`` in the report.
    """
    from genrekit.predict import load_model

    if importance and folds:
        raise ConfigError("importance is measured on the bundle as trained; it cannot be combined with folds")
    clf = model if isinstance(model, Classifier) else load_model(model)
    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    if folds:
        if clf.bundle is None:
            raise ModelError("cross-validation needs a trained bundle (its recipe is retrained per fold)")
        return compare(
            dataset,
            features=clf.extractor,
            models=[clf.bundle.kind],
            params={clf.bundle.kind: clf.bundle.params},  # the shipped model's parameters, refitted per fold
            folds=folds,
            aggregation=clf.aggregation,
            report=report,
            seed=seed,
            workers=workers,
            cache_dir=cache_dir,
            progress=progress,
        )
    if split_file is not None:
        split = make_split(dataset, split_file=split_file, split_missing=split_missing)
        dataset = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in set(split.test)])
        desc = split.description + " (test list)"
    else:
        desc = "all tracks"
    unknown = sorted(set(dataset.labels) - set(clf.classes_))
    if unknown:
        raise DatasetError(
            f"the data has genres the model does not know: {unknown}; model labels: {clf.classes_}"
        )
    fs = extract_features(dataset, clf.extractor, workers=workers, cache_dir=cache_dir, progress=progress)
    run = score_model(clf.name, clf.model, fs, aggregation=clf.aggregation)
    sections: list[Any] = []  # genrekit.render.Section
    table = None
    if importance:
        from genrekit.explain import importance_section

        if fs.frame_shape is not None:
            raise ConfigError(
                f"importance needs named summary features; {clf.name!r} reads spectrogram frames"
            )
        section, table = importance_section(
            clf.model,
            fs.X,
            fs.y,
            fs.groups,
            fs.names,
            report,
            model_name=clf.name,
            n_repeats=importance_repeats,
            seed=seed,
            aggregation=clf.aggregation,
        )
        sections.append(section)
    report_path = None
    if report is not None:
        from genrekit.report import write_report

        info = {
            "model": clf.name,
            "tracks": len(dataset),
            "genres": dataset.counts(),
            "split": desc,
            "unreadable files": len(fs.failures),
        }
        report_path = write_report(
            report,
            [run],
            title=f"genrekit evaluation of {clf.name}",
            dataset_info=info,
            extra_sections=[_calibration_section([run], report), *sections],
        )
        if table is not None:
            table.to_csv(report_path / "importance.csv", index=False)
    return CompareResult([run], None, report_path, fs.failures, desc, importance=table)


# ----------------------------------------------------------------------------- ablation, separability
def _summary_stem(name: str) -> str:
    for suffix in (".mean", ".std"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _pooled_outcomes(
    kind: str,
    fs: FeatureSet,
    id_splits: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    params: Mapping[str, Any] | None,
    seed: int,
    aggregation: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Track keys and whether each was predicted right, pooled over ``id_splits`` (train ids, test ids)."""
    keys, right = [], []
    for train_ids, test_ids in id_splits:
        fitted = fit_model(kind, fs.select_tracks(train_ids), params=params, seed=seed)
        te = fs.select_tracks(test_ids)
        res = score_model(kind, fitted.model, te, aggregation=aggregation).result
        keys.append(np.asarray(res.track_keys).astype(str))
        right.append(res.track_pred == res.track_true)
    return np.concatenate(keys), np.concatenate(right)


def ablation(
    fs: FeatureSet,
    kind: str,
    id_splits: Sequence[tuple[Sequence[str], Sequence[str]]],
    *,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    aggregation: str = "mean_log",
    n_boot: int = 1000,
) -> list[dict[str, Any]]:
    """Track accuracy with each feature group left out in turn, and its change against all features.

    Groups are those of :data:`genrekit.features.handcrafted.FEATURE_GROUPS` (MFCC, chroma, spectral
    shape, rhythm, energy). The change's 95 % interval is a paired bootstrap over the test tracks
    (``n_boot`` resamples, seeded): both accuracies are measured on the very same tracks.

    Returns
    -------
    list of dict
        ``{"model", "dropped", "columns", "accuracy", "change", "change_lo", "change_hi", "n_tracks"}``;
        the first row (``dropped="none"``) is the full feature set.

    Raises
    ------
    ConfigError
        The features have fewer than two named groups (spectrogram or embedding columns).
    """
    from genrekit.features.handcrafted import FEATURE_GROUPS, feature_group

    group_of = np.array([feature_group(_summary_stem(str(n))) for n in fs.names])
    present = [g for g in FEATURE_GROUPS if np.any(group_of == g)]
    if len(present) < 2:
        raise ConfigError(
            "the ablation drops named feature groups (MFCC, chroma, spectral shape, rhythm, energy) of the "
            f"hand-crafted features; these {len(fs.names)} columns have {len(present)} such group(s)"
        )
    keys, full = _pooled_outcomes(kind, fs, id_splits, params=params, seed=seed, aggregation=aggregation)
    order = np.argsort(keys)
    keys, full = keys[order], full[order].astype(np.float64)
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, len(full), size=(n_boot, len(full)))
    rows = [
        {"model": kind, "dropped": "none", "columns": 0, "accuracy": float(full.mean()), "change": 0.0,
         "change_lo": 0.0, "change_hi": 0.0, "n_tracks": len(full)}
    ]  # fmt: skip
    for group in present:
        cols = np.flatnonzero(group_of != group)
        sub = FeatureSet(fs.X[:, cols], fs.y, fs.groups, fs.artists, [fs.names[i] for i in cols])
        k2, right = _pooled_outcomes(kind, sub, id_splits, params=params, seed=seed, aggregation=aggregation)
        right = right[np.argsort(k2)].astype(np.float64)
        diff = right[boot].mean(axis=1) - full[boot].mean(axis=1)
        rows.append(
            {
                "model": kind,
                "dropped": group,
                "columns": int(len(fs.names) - len(cols)),
                "accuracy": float(right.mean()),
                "change": float(right.mean() - full.mean()),
                "change_lo": float(np.percentile(diff, 2.5)),
                "change_hi": float(np.percentile(diff, 97.5)),
                "n_tracks": len(right),
            }
        )
    return rows


def separability_fn(
    fs: FeatureSet, *, kind: str = "logreg", folds: int = 3, seed: int = 0, aggregation: str = "mean_log"
) -> tuple[list[str], np.ndarray]:
    """How well each pair of genres is told apart: one binary classifier per pair, grouped folds.

    For every pair, the tracks of the two genres are split into stratified folds grouped like every
    split (artist when known, else track; as many folds as the rarer genre has groups, at most
    ``folds``), a ``kind`` model is fitted per fold, and the pooled out-of-fold track accuracy is the
    pair's separability (0.5: indistinguishable, 1: always told apart).

    Returns
    -------
    classes : list of str
    matrix : np.ndarray, float64, shape (n_classes, n_classes)
        Symmetric; NaN on the diagonal and for pairs with a genre of a single group.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    classes = sorted({str(c) for c in fs.y})
    m = np.full((len(classes), len(classes)), np.nan)
    ids, first = np.unique(fs.groups, return_index=True)
    track_label = dict(zip(ids, fs.y[first], strict=True))
    track_group = dict(zip(ids, fs.split_groups()[first], strict=True))
    for i, a in enumerate(classes):
        for j in range(i + 1, len(classes)):
            b = classes[j]
            tracks = np.array([t for t in ids if track_label[t] in (a, b)])
            labels = np.array([track_label[t] for t in tracks])
            groups = np.array([track_group[t] for t in tracks])
            k = min(folds, min_groups_per_label(labels, groups))
            if k < 2:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                splits = [(tracks[tr], tracks[te]) for tr, te in cv.split(tracks, labels, groups)]
                _, right = _pooled_outcomes(kind, fs, splits, params=None, seed=seed, aggregation=aggregation)
            m[i, j] = m[j, i] = float(np.mean(right))
    return classes, m


separability = separability_fn  # public name; ``compare``'s flag of the same name shadows it there
