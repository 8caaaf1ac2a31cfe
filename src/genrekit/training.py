"""Train, evaluate and compare: the dataset -> features -> model -> metrics -> bundle/report workflow.

The CLI commands ``train``, ``evaluate``, ``compare`` and ``features`` and the Python functions
``genrekit.train`` / ``genrekit.metrics`` / ``genrekit.compare`` are thin layers over this module.
Every training choice is one :class:`~genrekit.config.TrainConfig`, which the bundle stores whole; the
functions take it (``train(data, config)``) or build it from keywords (``train(data, model="logreg")``:
the config's field names), and take where results go and how fast (``out``, ``report``, ``workers``,
``cache_dir``, ``progress``) as keywords of their own.
Splits are always grouped by track (and by artist when every track has one), so segments of one track
never land on both sides; grid searches run grouped cross-validation on the training side only.
The steps they share live in :mod:`genrekit.fitting`; ablation and separability in
:mod:`genrekit.diagnostics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.bundle import Bundle, save_bundle
from genrekit.config import TrainConfig
from genrekit.data.folders import load_dataset
from genrekit.data.splits import Split, grouped_kfold, make_split
from genrekit.data.tracks import Dataset, fingerprint
from genrekit.diagnostics import ablation, separability
from genrekit.errors import ConfigError, DatasetError, ModelError, unknown_name
from genrekit.features.base import Extractor
from genrekit.features.registry import get_extractor
from genrekit.files import to_jsonable
from genrekit.fitting import (
    FeatureSet,
    FitResult,
    cross_validate,
    extract_features,
    fit_model,
    min_groups_per_label,
    score_model,
    score_on_split,
)
from genrekit.metrics import EvaluationResult, ModelRun, evaluate_predictions
from genrekit.models.registry import available as model_kinds
from genrekit.predict import Classifier

__all__ = [
    "CompareResult",
    "FeatureSet",
    "FitResult",
    "Split",
    "TrainConfig",
    "TrainResult",
    "ablation",
    "compare",
    "cross_validate",
    "evaluate",
    "extract_features",
    "fit_model",
    "make_split",
    "min_groups_per_label",
    "resolve_config",
    "score_model",
    "separability",
    "train",
]


# ------------------------------------------------------------------------------------------- workflows
@dataclass(frozen=True)
class _Run:
    """Where the work runs: not a training choice, so not in the config nor the bundle."""

    workers: int = 1
    cache_dir: str | Path | None = None
    progress: bool = False

    def features(self, dataset: Dataset, extractor: Extractor, *, progress: bool | None = None) -> FeatureSet:
        return extract_features(
            dataset,
            extractor,
            workers=self.workers,
            cache_dir=self.cache_dir,
            progress=self.progress if progress is None else progress,
        )


def resolve_config(config: TrainConfig | None = None, **overrides: Any) -> tuple[TrainConfig, Extractor]:
    """The run's config (``config``, or the defaults, with ``overrides``) and its feature extractor.

    ``features`` may be given as a built :class:`~genrekit.features.base.Extractor` (its name and options
    are recorded in the config). Model kinds are checked here (the registry lies above the config).

    Raises
    ------
    ConfigError
        An unknown option (the valid ones listed), a value that breaks a rule, an unknown model kind.
    """
    ext = overrides.get("features")
    if isinstance(ext, Extractor):
        overrides.update(features=ext.name, feature_options=ext.to_dict()["config"])
    cfg = TrainConfig.build(config, **overrides)
    for kind in {cfg.model, *cfg.models}:
        if kind not in model_kinds():
            raise unknown_name("model", kind, model_kinds())
    if not isinstance(ext, Extractor):
        ext = get_extractor(cfg.features, **cfg.feature_options)
    return cfg, ext


def _dataset(data: str | Path | Dataset) -> Dataset:
    return data if isinstance(data, Dataset) else load_dataset(data)


def _training_features(
    dataset: Dataset,
    fs: FeatureSet,
    track_ids: Sequence[str],
    extractor: Extractor,
    cfg: TrainConfig,
    run: _Run,
    *,
    progress: bool | None = None,
) -> FeatureSet:
    """Features of the training tracks: the plain ones, or with degraded copies added (``cfg.augment``)."""
    if not cfg.augment:
        return fs.select_tracks(track_ids)
    from genrekit.features.augmenting import AugmentingExtractor

    wanted = set(track_ids)
    subset = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in wanted])
    aug = AugmentingExtractor(extractor, cfg.augment, copies=cfg.augment_copies, seed=cfg.seed)
    return run.features(subset, aug, progress=progress)


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


@dataclass
class TrainResult:
    """What :func:`train` produced: the classifier, its bundle and (when a test side existed) its run."""

    classifier: Classifier
    bundle: Bundle
    run: ModelRun | None
    out: Path | None
    failures: list[tuple[str, str]]
    split: str = ""


def train(
    data: str | Path | Dataset,
    config: TrainConfig | None = None,
    *,
    out: str | Path | None = None,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    **overrides: Any,
) -> TrainResult:
    """Train a model on a labelled audio dataset and (optionally) save its bundle.

    The model is fitted on the training side (training + validation tracks) and scored on the held-out
    test tracks; those test metrics are stored in the bundle. ``test_size=0`` trains on everything.
    With ``calibrate`` the model is fitted on the training tracks only and a temperature is fitted on
    the validation tracks (stored in the bundle; predictions use it). With ``augment`` (degradation
    names such as ``"noise,codec"``, see :mod:`genrekit.degrade`) every training file also contributes
    ``augment_copies`` randomly degraded copies; validation and test tracks stay clean.

    Parameters
    ----------
    data : path or Dataset
    config : TrainConfig, optional
        Every training choice (the defaults when None); ``overrides`` (its field names) change it.
    out : path, optional
        Bundle directory (or ``.zip``) to write; the bundle stores the config whole.
    workers, cache_dir, progress
        Parallel processes, feature cache folder, progress bar.

    Returns
    -------
    TrainResult
    """
    cfg, extractor = resolve_config(config, **overrides)
    run = _Run(workers, cache_dir, progress)
    dataset = _dataset(data)
    # the split (and its lists) first: a bad split file fails before minutes of extraction
    if cfg.split_file is None and cfg.test_size <= 0 and not cfg.calibrate:
        split = Split(
            train=[t.track_id for t in dataset.tracks], test=[], description="all tracks used for training"
        )
    else:
        split = make_split(dataset, **cfg.split_options())
    fs = run.features(dataset, extractor)
    fit_ids = split.train if cfg.calibrate else split.train + split.val
    train_fs = _training_features(dataset, fs, fit_ids, extractor, cfg, run)
    test_fs = fs.select_tracks(split.test) if split.test else None
    fitted = fit_model(
        cfg.model, train_fs, params=cfg.params, search=cfg.search, cv_folds=cfg.cv_folds, seed=cfg.seed,
        n_jobs=workers,
    )  # fmt: skip
    final_model, calibration = fitted.model, None
    if cfg.calibrate:
        val_fs = fs.select_tracks(split.val)
        final_model, calibration = _calibrate(fitted.model, val_fs, test_fs, cfg.aggregation)
    scored = None
    if test_fs is not None and len(test_fs.X):
        scored = score_model(
            cfg.model, final_model, test_fs, aggregation=cfg.aggregation, fit_time_s=fitted.fit_time_s
        )
    bundle = _bundle(cfg, extractor, fitted, dataset, fs, split, scored, calibration)
    out_path = save_bundle(bundle, out) if out is not None else None
    clf = Classifier(extractor, final_model, aggregation=cfg.aggregation, name=cfg.model, bundle=bundle)
    return TrainResult(clf, bundle, scored, out_path, fs.failures, split.description)


def _bundle(
    cfg: TrainConfig,
    extractor: Extractor,
    fitted: FitResult,
    dataset: Dataset,
    fs: FeatureSet,
    split: Split,
    scored: ModelRun | None,
    calibration: dict[str, Any] | None,
) -> Bundle:
    """The bundle of a trained model: its recipe (the config whole), test metrics and data facts."""
    metrics: dict[str, Any] = {}
    if scored is not None:
        metrics = {"test": scored.result.to_dict(), "split": split.description}
        if split.missing:
            metrics["split_missing"] = split.missing
    if calibration is not None:
        metrics["calibration"] = calibration
    augment = {"degradations": cfg.augment, "copies": cfg.augment_copies} if cfg.augment else None
    return Bundle(
        model=fitted.model,
        kind=cfg.model,
        labels=[str(c) for c in fitted.model.classes_],
        extractor=extractor.to_dict(),
        feature_names=list(extractor.names),
        aggregation=cfg.aggregation,
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
                "seed": cfg.seed,
                "augment": augment,
                "temperature": calibration["temperature"] if calibration else None,
            }
        ),
        training=cfg,
    )


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
    config: TrainConfig | None = None,
    *,
    report: str | Path | None = None,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    **overrides: Any,
) -> CompareResult:
    """Fit and score several model families (``models``) on the same features and split; write one report.

    ``ablate`` refits every model with each feature group left out in turn (:func:`ablation`, on the
    same split or folds); ``separability`` adds the genre-pair heat map (:func:`separability`, one
    binary ``logreg`` per pair on grouped folds). Both are returned and, with ``report``, written in it.

    With ``folds=K`` every model is scored on K grouped stratified folds and the report shows the
    pooled out-of-fold predictions plus the mean and spread over folds. A model kind gets the config's
    ``params`` and its own ``model_params`` (``{"svm": {"clf__C": 3}}``; the defaults otherwise); the
    keyword ``params=`` is per model kind, as ``compare`` always took it (``model_params``). ``augment`` adds
    degraded copies of the training tracks only (as in :func:`train`); give ``cache_dir`` with folds so
    each file's augmented features are computed once. ``config`` and ``overrides`` as in :func:`train`.
    """
    if "params" in overrides:  # compare's keyword form: parameters per model kind, as it always took them
        overrides["model_params"] = overrides.pop("params")
    cfg, extractor = resolve_config(config, **overrides)
    return _compare(_dataset(data), cfg, extractor, _Run(workers, cache_dir, progress), report)


def _compare(
    dataset: Dataset, cfg: TrainConfig, extractor: Extractor, run: _Run, report: str | Path | None
) -> CompareResult:
    split = None
    if not cfg.folds:  # the split (and its lists) first: a bad split file fails before any extraction
        split = make_split(dataset, **cfg.split_options())
    fs = run.features(dataset, extractor)
    if cfg.folds:
        runs, fold_results, id_splits = _compare_folds(dataset, fs, extractor, cfg, run)
        split_desc = f"{cfg.folds}-fold grouped stratified cross-validation (seed {cfg.seed})"
    else:
        assert split is not None
        runs, fold_results = _compare_split(dataset, fs, extractor, split, cfg, run), None
        id_splits = [(split.train + split.val, split.test)]
        split_desc = split.description
    ablation_rows = None
    if cfg.ablate:
        ablation_rows = [
            row
            for kind in cfg.models
            for row in ablation(
                fs, kind, id_splits, params=_params(cfg, kind), seed=cfg.seed, aggregation=cfg.aggregation
            )
        ]
    pairs = separability(fs, seed=cfg.seed, aggregation=cfg.aggregation) if cfg.separability else None
    report_path = None
    if report is not None:
        report_path = _compare_report(
            report, runs, dataset, fs, extractor, cfg, split_desc, ablation_rows, pairs
        )
    return CompareResult(
        runs, fold_results, report_path, fs.failures, split_desc, ablation=ablation_rows, separability=pairs
    )


def _params(cfg: TrainConfig, kind: str) -> dict[str, Any]:
    """The parameters ``compare`` gives ``kind``: the config's ``params``, then its own ``model_params``."""
    return {**cfg.params, **cfg.model_params.get(kind, {})}


def _fitter(kind: str, cfg: TrainConfig, run: _Run) -> Callable[[FeatureSet], FitResult]:
    """Fits ``kind`` with the config's parameters (``params``, then ``model_params``) and search."""

    def fit(tr: FeatureSet) -> FitResult:
        return fit_model(
            kind, tr, params=_params(cfg, kind), search=cfg.search, cv_folds=cfg.cv_folds, seed=cfg.seed,
            n_jobs=run.workers,
        )  # fmt: skip

    return fit


def _compare_folds(
    dataset: Dataset, fs: FeatureSet, extractor: Extractor, cfg: TrainConfig, run: _Run
) -> tuple[list[ModelRun], dict[str, list[EvaluationResult]], list[tuple[list[str], list[str]]]]:
    """Every model scored on ``cfg.folds`` grouped folds of the readable tracks (pooled out-of-fold)."""
    readable = Dataset(
        tracks=tuple(t for t in dataset.tracks if t.track_id in set(fs.groups)), root=dataset.root
    )
    splits = grouped_kfold(readable, k=cfg.folds, seed=cfg.seed)
    labels = readable.y
    for f, (train_idx, test_idx) in enumerate(splits, 1):
        lost = sorted(set(labels[test_idx].tolist()) - set(labels[train_idx].tolist()))
        if lost:  # before any fitting: that fold's model could not answer them
            raise DatasetError(
                f"with {cfg.folds} folds, fold {f} tests genre(s) {lost} without a single track of them on "
                f"its training side (tracks per genre: {readable.counts()}); use fewer folds, add tracks "
                "of those genres, or leave them out"
            )
    id_splits = [
        ([readable.tracks[i].track_id for i in tr], [readable.tracks[i].track_id for i in te])
        for tr, te in splits
    ]

    def folds() -> Iterator[tuple[FeatureSet, FeatureSet]]:
        for train_ids, test_ids in id_splits:
            tr = _training_features(readable, fs, train_ids, extractor, cfg, run, progress=False)
            yield tr, fs.select_tracks(test_ids)

    runs, fold_results = [], {}
    for kind in cfg.models:
        scored, fold_results[kind] = cross_validate(
            kind, folds(), _fitter(kind, cfg, run), aggregation=cfg.aggregation
        )
        runs.append(scored)
    return runs, fold_results, id_splits


def _compare_split(
    dataset: Dataset, fs: FeatureSet, extractor: Extractor, split: Split, cfg: TrainConfig, run: _Run
) -> list[ModelRun]:
    """Every model fitted on the split's training side and scored on its test side."""
    train_fs = _training_features(dataset, fs, split.train + split.val, extractor, cfg, run)
    return score_on_split(
        cfg.models,
        train_fs,
        fs.select_tracks(split.test),
        lambda kind: _fitter(kind, cfg, run),
        aggregation=cfg.aggregation,
    )


def _compare_report(
    report: str | Path,
    runs: list[ModelRun],
    dataset: Dataset,
    fs: FeatureSet,
    extractor: Extractor,
    cfg: TrainConfig,
    split_desc: str,
    ablation_rows: list[dict[str, Any]] | None,
    pairs: tuple[list[str], np.ndarray] | None,
) -> Path:
    from genrekit.report import ablation_section, separability_section, write_report

    sections: list[tuple[str, str]] = []
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
        "aggregation": cfg.aggregation,
        "training augmentation": f"{cfg.augment} x{cfg.augment_copies}" if cfg.augment else "none",
        "unreadable files": len(fs.failures),
    }
    history = {r.name: r.extra["history"] for r in runs if r.extra.get("history")}
    return write_report(
        report,
        runs,
        title="genrekit model comparison",
        dataset_info=info,
        history=history or None,
        extra_sections=[_calibration_section(runs, report), *sections],
    )


def _calibration_section(runs: Sequence[ModelRun], report: str | Path) -> Any:
    """The reliability diagrams and ECE table of ``runs``, written into the report folder."""
    from genrekit.calibration import calibration_section

    Path(report).mkdir(parents=True, exist_ok=True)
    return calibration_section(runs, report)


def evaluate(
    model: str | Path | Classifier,
    data: str | Path | Dataset,
    config: TrainConfig | None = None,
    *,
    report: str | Path | None = None,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    **overrides: Any,
) -> CompareResult:
    """Evaluate a trained model (bundle) on labelled data.

    Without ``folds`` the bundle itself is scored: on the test list of ``split_file`` when given,
    else on every track of ``data``. With ``folds=K`` the bundle's recipe (features, model kind and
    parameters) is retrained and scored on K grouped folds of ``data``. The report always has a
    calibration section (reliability diagram, ECE); ``importance=True`` adds the track-level permutation
    importance of the model's named features (:func:`genrekit.explain.importance_section`), returned
    as ``importance`` and written to ``importance.csv`` in the report. Of the config, ``split_file``,
    ``split_missing``, ``folds``, ``seed``, ``importance`` and ``importance_repeats`` apply.
    """
    from genrekit.predict import load_model

    cfg = TrainConfig.build(config, **overrides)
    clf = model if isinstance(model, Classifier) else load_model(model)
    dataset = _dataset(data)
    run = _Run(workers, cache_dir, progress)
    if cfg.folds:
        if clf.bundle is None:
            raise ModelError("cross-validation needs a trained bundle (its recipe is retrained per fold)")
        kind = clf.bundle.kind
        recipe = TrainConfig(  # the shipped model's features and parameters, refitted per fold
            features=clf.extractor.name,
            feature_options=clf.extractor.to_dict()["config"],
            models=(kind,),
            model_params={kind: dict(clf.bundle.params)},
            folds=cfg.folds,
            aggregation=clf.aggregation,
            seed=cfg.seed,
        )
        return _compare(dataset, recipe, clf.extractor, run, report)
    if cfg.split_file is not None:
        split = make_split(dataset, split_file=cfg.split_file, split_missing=cfg.split_missing)
        dataset = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in set(split.test)])
        desc = split.description + " (test list)"
    else:
        desc = "all tracks"
    unknown = sorted(set(dataset.labels) - set(clf.classes_))
    if unknown:
        raise DatasetError(
            f"the data has genres the model does not know: {unknown}; model labels: {clf.classes_}"
        )
    fs = run.features(dataset, clf.extractor)
    scored = score_model(clf.name, clf.model, fs, aggregation=clf.aggregation)
    section, table = _importance(clf, fs, cfg, report) if cfg.importance else (None, None)
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
            [scored],
            title=f"genrekit evaluation of {clf.name}",
            dataset_info=info,
            extra_sections=[_calibration_section([scored], report), *([section] if section else [])],
        )
        if table is not None:
            table.to_csv(report_path / "importance.csv", index=False)
    return CompareResult([scored], None, report_path, fs.failures, desc, importance=table)


def _importance(
    clf: Classifier, fs: FeatureSet, cfg: TrainConfig, report: str | Path | None
) -> tuple[Any, Any]:
    """The permutation-importance report section and table of the bundle's named features."""
    from genrekit.explain import importance_section

    if fs.frame_shape is not None:
        raise ConfigError(f"importance needs named summary features; {clf.name!r} reads spectrogram frames")
    return importance_section(
        clf.model,
        fs.X,
        fs.y,
        fs.groups,
        fs.names,
        report,
        model_name=clf.name,
        n_repeats=cfg.importance_repeats,
        seed=cfg.seed,
        aggregation=clf.aggregation,
    )
