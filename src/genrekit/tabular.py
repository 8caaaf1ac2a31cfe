"""Tabular mode: genre from feature tables (Spotify-style audio features, the Kaggle GTZAN table, ...).

A table (CSV, TSV, parquet, JSON) with one row per track and a label column goes through
:func:`genrekit.data.tables.load_table`, which cleans it and reports every row and column it
leaves out and why (:class:`~genrekit.data.tables.CleaningReport`; nothing is dropped silently).
The cleaned rows become a :class:`genrekit.fitting.FeatureSet` in which every row is one track with
one segment, so model fitting, grid search, evaluation, reports and bundles are the ones used for audio:

- :func:`train_table` fits one model (optionally grid-searched with grouped CV on the training side),
  scores it on a grouped, stratified held-out split and returns/saves a bundle whose
  ``feature_names`` are the table's feature columns (``extractor=None``), or, with
  ``extractor="handcrafted"`` on a table with exactly that extractor's columns (the Kaggle GTZAN
  table), a bundle that also classifies audio (``genrekit classify``).
- :func:`compare_table` fits and scores several model families on the same split and writes a report.
- :func:`predict_rows` predicts the genre of feature rows (a DataFrame or a list of dicts) with a bundle.

Every choice of a training run (how the table is read, the model, the split) is one
:class:`~genrekit.config.TableTrainConfig`, given whole or built from keywords, stored whole in the bundle.

Row numbers in messages count the table's data rows from 0 (a CSV's row ``i`` is on line ``i + 2``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrekit.bundle import Bundle, load_bundle, save_bundle
from genrekit.config import TableTrainConfig
from genrekit.data.cells import (
    _BAD_DATE,
    _BAD_DURATION,
    _EMPTY,
    _HUGE,
    _MISSING,
    _NONFINITE,
    _OK,
    SPOTIFY_FEATURES,
    _canonical_renames,
    _cell_text,
    _duration_factor,
    _is_duration,
    _is_na,
    _parse_cells,
    _parse_dates,
)
from genrekit.data.cleaning import CleaningEntry, CleaningReport
from genrekit.data.splits import Split, grouped_folds, make_split, split_from_lists, split_table
from genrekit.data.tables import (
    DUPLICATE_POLICIES,
    GROUP_BY,
    TABLE_EXTENSIONS,
    TabularData,
    load_table,
    read_label_map,
    read_table,
    rows_frame,
)
from genrekit.errors import ConfigError, ModelError, unknown_name
from genrekit.files import to_jsonable
from genrekit.fitting import (
    FeatureSet,
    FitResult,
    cross_validate,
    fit_model,
    min_groups_per_label,
    score_model,
    score_on_split,
)
from genrekit.metrics import EvaluationResult, ModelRun

__all__ = [
    "DUPLICATE_POLICIES",
    "GROUP_BY",
    "SPOTIFY_FEATURES",
    "TABLE_EXTENSIONS",
    "CleaningEntry",
    "CleaningReport",
    "Split",
    "TableTrainConfig",
    "TabularCompareResult",
    "TabularData",
    "TabularTrainResult",
    "compare_table",
    "load_table",
    "predict_rows",
    "read_label_map",
    "read_table",
    "split_from_lists",
    "resolve_table_config",
    "split_table",
    "train_table",
]


# ----------------------------------------------------------------------------------------------- splits
def _train_set(td: TabularData, split: Split | None, idx: np.ndarray, group_by: str) -> FeatureSet:
    """Training rows as a FeatureSet whose search folds group by artist, by list side, or by track."""
    fs = td.feature_set(idx, group_by=group_by)
    if split is not None and split.search_groups is not None and td.resolve_group_by(group_by) != "artist":
        fs.artists = np.asarray(split.search_groups, dtype=object)
    return fs


# -------------------------------------------------------------------------------------------- fitting
#: Values of the ``transform`` parameter: the scaling step put in front of the model.
TRANSFORMS: tuple[str, ...] = ("standard", "power", "none")


def _transform_step(name: str) -> Any:
    from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler

    if name == "standard":
        return StandardScaler()
    if name == "power":
        return PowerTransformer(method="yeo-johnson", standardize=True)
    if name == "none":
        return FunctionTransformer()
    raise unknown_name("transform", name, TRANSFORMS)


def _with_transform(kind: str, model: Any, transform: str) -> Any:
    steps = getattr(model, "named_steps", {})
    step = next((s for s in ("scale", "power") if s in steps), None)
    if step is None:
        raise ConfigError(f"model {kind!r} has no scaling step to replace with transform={transform!r}")
    return model.set_params(**{step: _transform_step(transform)})


def _fit(
    kind: str,
    fs: FeatureSet,
    *,
    params: dict[str, Any] | None,
    search: bool,
    grid: Mapping[str, Sequence[Any]] | None,
    cv_folds: int,
    seed: int,
    n_jobs: int,
) -> Any:
    """:func:`genrekit.fitting.fit_model`, plus the ``transform`` parameter and custom search grids."""
    from genrekit.models.registry import build_model, search_grid

    params = dict(params or {})
    if "transform" not in params and (not search or grid is None):
        return fit_model(kind, fs, params=params, search=search, cv_folds=cv_folds, seed=seed, n_jobs=n_jobs)
    from sklearn.model_selection import GridSearchCV

    transform = params.pop("transform", None)
    model = build_model(kind, random_state=seed, n_jobs=n_jobs, **params)
    if transform is not None:
        model = _with_transform(kind, model, str(transform))
    t0 = time.perf_counter()
    info = None
    if search:
        grid = dict(grid) if grid is not None else search_grid(kind)
        step = next((s for s in ("scale", "power") if s in getattr(model, "named_steps", {})), None)
        prefix = "clf__estimator__" if kind == "svm" else "clf__"
        g: dict[str, list[Any]] = {}
        for key, vals in grid.items():
            if key == "transform":
                if step is None:
                    raise ConfigError(
                        f"model {kind!r} has no scaling step: its grid cannot search 'transform'"
                    )
                g[step] = [_transform_step(v) for v in vals]
            else:
                if isinstance(vals, str | bytes) or not isinstance(vals, Iterable):
                    raise ConfigError(
                        f"bad search grid for model {kind!r}: {key!r} must list its values, e.g. "
                        f'{{"{key}": [{vals!r}]}}, not {vals!r}'
                    )
                g[key if "__" in key else prefix + key] = list(vals)
        groups = fs.split_groups()
        n_min = min_groups_per_label(fs.y, groups)
        k = max(2, min(cv_folds, n_min))
        cv = grouped_folds(k, seed, fs.y, groups)
        gs = GridSearchCV(model, g, scoring="f1_macro", cv=cv, n_jobs=n_jobs, refit=True, error_score="raise")
        try:
            gs.fit(fs.X, fs.y)
        except ValueError as exc:  # sklearn's InvalidParameterError (a value of the wrong type or range)
            if type(exc).__name__ != "InvalidParameterError" and "Invalid parameter" not in str(exc):
                raise
            raise ConfigError(f"bad search grid for model {kind!r}: {exc}") from None
        model = gs.best_estimator_
        best = dict(gs.best_params_)
        if "transform" in grid and step is not None:
            chosen = type(best.pop(step))
            best["transform"] = next(
                v for v, o in zip(grid["transform"], g[step], strict=True) if type(o) is chosen
            )
        info = {
            "best_params": to_jsonable(best),
            "best_score_f1_macro": float(gs.best_score_),
            "folds": k,
            "grid": to_jsonable(grid),
        }
        params.update(best)
    else:
        model.fit(fs.X, fs.y)
    if transform is not None:
        params.setdefault("transform", transform)
    return FitResult(model, time.perf_counter() - t0, to_jsonable(params), info)


def _check_extractor(cfg: TableTrainConfig) -> Any:
    """The audio feature extractor a tabular bundle should store, or None."""
    if cfg.extractor is None:
        return None
    from genrekit.features.registry import get_extractor

    options = dict(cfg.extractor_options)
    if cfg.extractor == "handcrafted":  # a table of the Kaggle columns: no extended ones, no track summary
        from genrekit.features.handcrafted import LEGACY_OPTIONS

        options = {**LEGACY_OPTIONS, **options}
    return get_extractor(cfg.extractor, **options)


def _load(data: str | Path | pd.DataFrame | TabularData, cfg: TableTrainConfig, ext: Any) -> TabularData:
    if isinstance(data, TabularData):
        if ext is not None and list(data.features) != list(ext.names):
            raise ConfigError(
                f"the table's feature columns are not exactly the {ext.name!r} extractor's columns"
            )
        return data
    if cfg.label is None:
        raise ConfigError("label is required: the name of the table's label column")
    load_options = cfg.load_options()
    if ext is not None:
        given = load_options.get("features")
        if isinstance(given, str) and given not in ("auto", "spotify"):
            given = [f.strip() for f in given.split(",") if f.strip()]
        if given not in (None, "auto") and list(given) != list(ext.names):
            raise ConfigError(
                f"with extractor {ext.name!r} the features are its {ext.dim} columns; drop features="
            )
        load_options = {**load_options, "features": list(ext.names)}
    return load_table(data, label=cfg.label, **load_options)[0]


def resolve_table_config(config: TableTrainConfig | None = None, **overrides: Any) -> TableTrainConfig:
    """The run's config: ``config`` (or the defaults) with ``overrides``, its model kinds checked.

    ``grid=`` (the search grid of ``model``, as :func:`train_table` took it) is kept as a keyword: it
    becomes ``grids={model: grid}``.

    Raises
    ------
    ConfigError
        An unknown option (the valid ones listed), a value that breaks a rule, an unknown model kind.
    """
    from genrekit.models.registry import available

    grid = overrides.pop("grid", None)
    cfg = TableTrainConfig.build(config, **overrides)
    if grid is not None:
        cfg = cfg.replace(grids={**cfg.grids, cfg.model: grid})
    for kind in (cfg.model, *cfg.models):
        if kind not in available():
            raise unknown_name("model", kind, available())
    return cfg


def _fitter(kind: str, cfg: TableTrainConfig, workers: int) -> Callable[[FeatureSet], FitResult]:
    """Fits ``kind`` with the config's parameters (``params``, then ``model_params``), search and grid."""

    def fit(fs: FeatureSet) -> FitResult:
        return _fit(
            kind, fs, params={**cfg.params, **cfg.model_params.get(kind, {})}, search=cfg.search,
            grid=cfg.grids.get(kind), cv_folds=cfg.cv_folds, seed=cfg.seed, n_jobs=workers,
        )  # fmt: skip

    return fit


# ------------------------------------------------------------------------------------------- workflows
@dataclass
class TabularTrainResult:
    """What :func:`train_table` produced."""

    bundle: Bundle
    run: ModelRun | None
    out: Path | None
    data: TabularData
    split: Split | None

    @property
    def cleaning(self) -> CleaningReport:
        return self.data.cleaning


def train_table(
    data: str | Path | pd.DataFrame | TabularData,
    config: TableTrainConfig | None = None,
    *,
    out: str | Path | None = None,
    workers: int = 1,
    **overrides: Any,
) -> TabularTrainResult:
    """Train one model on a feature table, score it on a grouped held-out split, and build its bundle.

    Parameters
    ----------
    data : path, DataFrame or TabularData
        The table (read with :func:`load_table` and the config's ``label`` and reading options) or a
        cleaned one.
    config : TableTrainConfig, optional
        Every choice of the run (the defaults when None): the model (``xgboost``) and its ``params``
        (including ``transform``: ``standard``, ``power``, ``none``), ``search`` with grouped CV on the
        training side (``grids`` or ``grid=``), ``extractor`` for a table of exactly that audio
        extractor's columns, ``split_file`` / ``test_size`` (``0``: no test metrics) / ``group_by``,
        ``seed``. ``overrides`` (its field names) change it; the bundle stores it whole.
    out : path, optional
        Bundle directory (or ``.zip``) to write; ``cleaning.txt`` and ``cleaning.json`` go next to
        ``bundle.json``.
    workers : int
        Parallel jobs.

    Returns
    -------
    TabularTrainResult
    """
    cfg = resolve_table_config(config, **overrides)
    ext = _check_extractor(cfg)
    td = _load(data, cfg, ext)
    split = None
    if cfg.split_file is not None or cfg.test_size > 0:
        split = make_split(td, **cfg.split_options())
        train_idx = split.train
    else:
        train_idx = np.arange(len(td))
    fitted = _fitter(cfg.model, cfg, workers)(_train_set(td, split, train_idx, cfg.group_by))
    scored = None
    metrics: dict[str, Any] = {}
    if split is not None and len(split.test):
        scored = score_model(
            cfg.model,
            fitted.model,
            td.feature_set(split.test, group_by=cfg.group_by),
            fit_time_s=fitted.fit_time_s,
            extra={"params": fitted.params, "search": fitted.search},
        )
        metrics = {"test": scored.result.to_dict(), "split": split.description, "split_notes": split.notes}
    bundle = Bundle(
        model=fitted.model,
        kind=cfg.model,
        labels=[str(c) for c in fitted.model.classes_],
        extractor=ext.to_dict() if ext is not None else None,
        feature_names=list(td.features),
        aggregation="mean_log",
        params=fitted.params,
        metrics=to_jsonable(metrics),
        data=to_jsonable(
            {
                "fingerprint": td.fingerprint(),
                "n_tracks": len(td),
                "counts": td.counts(),
                "n_train_tracks": int(len(train_idx)),
                "n_test_tracks": int(len(split.test)) if split is not None else 0,
                "failures": [],
            }
        ),
        extra=to_jsonable(
            {
                "tabular": {
                    **td.settings(),
                    "group_by": td.resolve_group_by(cfg.group_by),
                    "cleaning": td.cleaning.summary(),
                },
                "search": fitted.search,
                "fit_time_s": fitted.fit_time_s,
                "seed": cfg.seed,
            }
        ),
        training=cfg,
    )
    out_path = None
    if out is not None:
        out_path = save_bundle(bundle, out)
        _attach_cleaning(out_path, td.cleaning)
    return TabularTrainResult(bundle, scored, out_path, td, split)


def _attach_cleaning(path: Path, report: CleaningReport) -> None:
    """Put the full cleaning report next to ``bundle.json`` (not a weight file: loading ignores it)."""
    if path.is_dir():
        report.write(path)
        return
    import zipfile

    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cleaning.txt", report.to_text() + "\n")
        zf.writestr("cleaning.json", json.dumps(to_jsonable(report.to_dict()), indent=1) + "\n")


@dataclass
class TabularCompareResult:
    """What :func:`compare_table` produced."""

    runs: list[ModelRun]
    report: Path | None
    data: TabularData
    split: str
    folds: dict[str, list[EvaluationResult]] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cleaning(self) -> CleaningReport:
        return self.data.cleaning


def compare_table(
    data: str | Path | pd.DataFrame | TabularData,
    config: TableTrainConfig | None = None,
    *,
    report: str | Path | None = None,
    title: str = "genrekit tabular comparison",
    workers: int = 1,
    **overrides: Any,
) -> TabularCompareResult:
    """Fit and score several model families (``models``) on one cleaned table and split; write one report.

    A model kind gets the config's ``params`` and its own ``model_params`` (the keyword ``params=`` is
    per model kind, as ``compare_table`` always took it), and with ``search`` its ``grids`` entry (see
    :func:`train_table`). With ``folds=K`` every model is scored on K stratified grouped folds
    (pooled out-of-fold predictions, plus the mean and spread over folds in ``extra``). The report
    folder also gets ``cleaning.txt`` and ``cleaning.json``. ``config`` and ``overrides`` as in
    :func:`train_table`.
    """
    if "params" in overrides:  # the keyword form: parameters per model kind, as compare_table took them
        overrides["model_params"] = overrides.pop("params")
    cfg = resolve_table_config(config, **overrides)
    td = _load(data, cfg, None)
    notes: list[str] = []
    fold_results: dict[str, list[EvaluationResult]] | None = None
    if cfg.folds:
        splits = grouped_folds(cfg.folds, cfg.seed, td.y, td.groups(cfg.group_by))
        folds = [
            (td.feature_set(tr, group_by=cfg.group_by), td.feature_set(te, group_by=cfg.group_by))
            for tr, te in splits
        ]
        runs, fold_results = [], {}
        for kind in cfg.models:
            scored, fold_results[kind] = cross_validate(kind, folds, _fitter(kind, cfg, workers))
            runs.append(scored)
        by = td.resolve_group_by(cfg.group_by)
        split_desc = f"{cfg.folds}-fold stratified cross-validation grouped by {by} (seed {cfg.seed})"
    else:
        split = make_split(td, **cfg.split_options())
        notes = split.notes
        runs = score_on_split(
            cfg.models,
            _train_set(td, split, split.train, cfg.group_by),
            td.feature_set(split.test, group_by=cfg.group_by),
            lambda kind: _fitter(kind, cfg, workers),
        )
        split_desc = split.description
    report_path = None
    if report is not None:
        report_path = _compare_report(report, title, runs, td, split_desc, notes)
    return TabularCompareResult(runs, report_path, td, split_desc, fold_results, notes)


def _compare_report(
    report: str | Path, title: str, runs: list[ModelRun], td: TabularData, split_desc: str, notes: list[str]
) -> Path:
    from genrekit.report import write_report

    info = {
        "table": td.source,
        "label column": td.label_column,
        "rows": f"{td.cleaning.n_rows_in} read, {len(td)} kept",
        "genres": td.counts(),
        "features": f"{len(td.features)}: {', '.join(td.features)}",
        "split": split_desc,
        **({"split notes": "; ".join(notes)} if notes else {}),
    }
    sections = [("Cleaning", "```\n" + td.cleaning.to_text(limit=20) + "\n```")]
    report_path = write_report(report, runs, title=title, dataset_info=info, extra_sections=sections)
    td.cleaning.write(report_path)
    return report_path


# ------------------------------------------------------------------------------------------- prediction
def _bundle(bundle_or_path: Bundle | str | Path) -> Bundle:
    b = bundle_or_path if isinstance(bundle_or_path, Bundle) else load_bundle(bundle_or_path)
    if b.extractor is not None and "tabular" not in b.extra:
        raise ModelError(
            f"model {b.kind!r} was trained on audio features, not on a table; classify audio files with it "
            "(genrekit classify MODEL song.wav)",
            source=None if isinstance(bundle_or_path, Bundle) else bundle_or_path,
        )
    if not b.feature_names:
        raise ModelError(
            f"model {b.kind!r} has no feature column names (an audio model without a column list); "
            "predict_rows needs a bundle trained on a table"
        )
    return b


def rows_matrix(
    bundle: Bundle, rows: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> np.ndarray:
    """The bundle's feature columns of ``rows`` as a float32 matrix (n_rows, n_features).

    Alias columns (``duration`` for ``duration_ms``, ...) are accepted; extra columns are ignored. Columns
    the table held dates in (``track_album_release_date``) take dates or years.

    Raises
    ------
    ConfigError
        No rows; missing feature columns (named); a missing or non-numeric value (row and column named).
    """
    names = list(bundle.feature_names or [])
    df = rows_frame(rows)
    if len(df) == 0:
        raise ConfigError("no rows to predict")
    df.columns = [str(c).strip() for c in df.columns]
    renames = {  # alias columns, only for features the rows do not have under their own name
        c: v for c, v in _canonical_renames(list(df.columns), names).items() if c not in names
    }
    missing = [f for f in names if f not in df.columns and f not in {t for t, _ in renames.values()}]
    if missing:
        raise ConfigError(
            f"the rows lack the feature column(s) {missing}; model {bundle.kind!r} needs: {', '.join(names)}"
        )
    by_target = {t: (c, f) for c, (t, f) in renames.items()}
    dates = set((bundle.extra.get("tabular") or {}).get("dates") or ())
    X = np.empty((len(df), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        col, factor = by_target.get(name, (name, 1.0))
        vals, st = (
            _parse_dates(df[col]) if name in dates else _parse_cells(df[col], duration=_is_duration(name))
        )
        bad = np.flatnonzero(st != _OK)
        if bad.size:
            i = int(bad[0])
            what = {
                _MISSING: "is missing",
                _EMPTY: "is empty",
                _NONFINITE: "is not finite",
                _BAD_DATE: "is not a date (year first, e.g. 2019-06-14)",
                _HUGE: "is beyond float32's range",
                _BAD_DURATION: "is a negative duration (a sentinel: the training table dropped such rows)",
            }.get(int(st[i]), "is not a number")
            raise ConfigError(f"row {i}, column {col!r}: value {_cell_text(df[col], i)} {what}")
        if factor is None:
            factor = _duration_factor(vals)
        X[:, j] = vals * factor
    return X.astype(np.float32)


def predict_rows(
    bundle_or_path: Bundle | str | Path,
    rows: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    top_k: int = 3,
) -> list[dict[str, Any]]:
    """Predict the genre of feature rows with a bundle trained on a table.

    Parameters
    ----------
    bundle_or_path : Bundle or path
        A loaded bundle (reuse it across calls) or a bundle directory/zip.
    rows : DataFrame, list of dict, or dict
        One row per track with (at least) the bundle's feature columns.
    top_k : int

    Returns
    -------
    list of dict
        Per row: ``row`` (index), ``id`` (when the row has the training table's id column), ``genre``,
        ``confidence``, ``probabilities`` (genre -> probability, highest first) and ``top_k``
        (``[{"genre", "probability"}]``).

    Raises
    ------
    ConfigError
        Missing feature columns (named), missing or non-numeric values (row and column named), bad top_k.
    ModelError
        Unreadable bundle, or a bundle without feature column names.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
    b = _bundle(bundle_or_path)
    df = rows_frame(rows)
    X = rows_matrix(b, df)
    proba = np.asarray(b.model.predict_proba(X), dtype=np.float64)
    classes = [str(c) for c in b.model.classes_]
    id_col = (b.extra.get("tabular") or {}).get("id_column")
    out = []
    for i, p in enumerate(proba):
        order = np.argsort(-p, kind="stable")
        probs = {classes[j]: round(float(p[j]), 6) for j in order}
        d: dict[str, Any] = {"row": i}
        if id_col and id_col in df.columns and not _is_na(df[id_col].iloc[i]):
            d["id"] = to_jsonable(df[id_col].iloc[i])
        genre = classes[int(order[0])]
        d.update(
            genre=genre,
            confidence=probs[genre],
            probabilities=probs,
            top_k=[{"genre": g, "probability": v} for g, v in list(probs.items())[:top_k]],
        )
        out.append(d)
    return out
