"""What the features tell apart: feature-group ablation and genre-pair separability.

Both refit models on a :class:`~genrekit.fitting.FeatureSet` over grouped splits and compare pooled
track outcomes; :func:`genrekit.training.compare` adds them to its report on request.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genrekit.errors import ConfigError
from genrekit.fitting import FeatureSet, fit_model, min_groups_per_label, score_model


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


def separability(
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
