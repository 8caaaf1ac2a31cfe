"""Segment-to-track aggregation of class probabilities (the one implementation; evaluate re-exports it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genrekit.config import AGGREGATIONS
from genrekit.errors import ConfigError, unknown_name

#: Share of the mean probability mixed into vote fractions (divided by the segment count) to break ties.
VOTE_TIE_SHARE = 1e-6


def aggregate_codes(
    p: np.ndarray, codes: np.ndarray, n_tracks: int, *, method: str = "mean_log", eps: float = 1e-7
) -> np.ndarray:
    """Aggregate probability rows by integer track code.

    Parameters
    ----------
    p : np.ndarray, float64, shape (n_segments, n_classes)
        Rows sum to 1.
    codes : np.ndarray, int, shape (n_segments,)
        Track index of each row, in ``[0, n_tracks)``.
    n_tracks : int
    method : {"mean_log", "mean_prob", "vote"}
        ``mean_log``: mean of log-probabilities (clipped at ``eps``), softmax-normalised, i.e. the
        geometric mean renormalised to sum 1. ``mean_prob``: arithmetic mean. ``vote``: fraction of
        segments whose argmax is each class, plus ``VOTE_TIE_SHARE / n_segments`` of the mean
        probability so that a tied vote goes to the class with the higher mean probability.
    eps : float
        Floor applied before the log (``mean_log`` only).

    Returns
    -------
    np.ndarray, float64, shape (n_tracks, n_classes)
        Rows sum to 1.
    """
    if method not in AGGREGATIONS:
        raise unknown_name("aggregation method", method, AGGREGATIONS)
    if not 0 < eps < 1:
        raise ConfigError(f"eps must be in (0, 1); got {eps}")
    n_classes = p.shape[1]
    counts = np.bincount(codes, minlength=n_tracks).astype(np.float64)

    def group_mean(values: np.ndarray) -> np.ndarray:
        sums = np.zeros((n_tracks, n_classes), dtype=np.float64)
        np.add.at(sums, codes, values)
        return sums / counts[:, None]

    if method == "mean_prob":
        out = group_mean(p)
    elif method == "mean_log":
        mean_log = group_mean(np.log(np.clip(p, eps, 1.0)))
        mean_log -= mean_log.max(axis=1, keepdims=True)
        out = np.exp(mean_log)
    else:  # vote
        onehot = np.zeros_like(p)
        onehot[np.arange(p.shape[0]), p.argmax(axis=1)] = 1.0
        out = group_mean(onehot) + (VOTE_TIE_SHARE / counts)[:, None] * group_mean(p)
    return out / out.sum(axis=1, keepdims=True)


#: How far a probability row may sum from 1 before :func:`check_proba` refuses it.
SUM_TOLERANCE = 1e-3


def check_proba(proba: Any, *, name: str = "proba", n_classes: int | None = None) -> np.ndarray:
    """Validate a probability matrix and return it as float64 rows summing exactly to 1."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise ConfigError(f"{name} must be a 2-D array (n_samples, n_classes); got shape {p.shape}")
    if p.shape[0] == 0:
        raise ConfigError(f"{name} has no rows; need at least one sample to evaluate")
    if n_classes is not None and p.shape[1] != n_classes:
        raise ConfigError(
            f"{name} has {p.shape[1]} columns but there are {n_classes} classes; they must match"
        )
    if not np.all(np.isfinite(p)):
        raise ConfigError(f"{name} contains NaN or infinite values; probabilities must be finite")
    if np.any(p < 0):
        raise ConfigError(f"{name} contains negative values (min {p.min():.3g}); probabilities must be >= 0")
    sums = p.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
    if bad.size:
        raise ConfigError(
            f"{name} rows must sum to 1 (within {SUM_TOLERANCE}); row {int(bad[0])} sums to "
            f"{sums[bad[0]]:.6g} ({bad.size} such rows) - pass probabilities, not scores"
        )
    return p / sums[:, None]


def factorize_groups(groups: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (n,) and unique keys in order of first appearance."""
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ConfigError(f"groups must be 1-D (n_segments,); got shape {g.shape}")
    if g.shape[0] != n:
        raise ConfigError(f"groups has {g.shape[0]} entries but there are {n} segments; they must match")
    codes, keys = pd.factorize(g, sort=False)
    if np.any(codes < 0):
        raise ConfigError("groups contains missing values (None/NaN); every segment needs a track key")
    return codes.astype(np.int64), np.asarray(keys)


def aggregate(
    proba: Any,
    groups: Any,
    *,
    method: str = "mean_log",
    eps: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate segment probabilities into one probability row per track, validating the inputs.

    The arithmetic is :func:`aggregate_codes` (shared with prediction, which skips the checks);
    see it for the methods.

    Parameters
    ----------
    proba : array-like, shape (n_segments, n_classes)
        Segment probabilities (rows sum to 1).
    groups : array-like, shape (n_segments,)
        Track key of every segment (any hashable: path, id, ...).
    method : {"mean_log", "mean_prob", "vote"}
    eps : float
        Floor applied to probabilities before the log (``"mean_log"`` only).

    Returns
    -------
    track_proba : np.ndarray, shape (n_tracks, n_classes), float64
        Rows sum to 1.
    track_keys : np.ndarray, shape (n_tracks,)
        The group keys, in order of first appearance in ``groups``.

    Raises
    ------
    ConfigError
        Unknown method (listing the valid ones), malformed probabilities or mismatched groups.
    """
    if method not in AGGREGATIONS:
        raise unknown_name("aggregation method", method, AGGREGATIONS)
    p = check_proba(proba)
    codes, keys = factorize_groups(groups, p.shape[0])
    return aggregate_codes(p, codes, keys.shape[0], method=method, eps=eps), keys


def aggregate_track(proba: np.ndarray, *, method: str = "mean_log", eps: float = 1e-7) -> np.ndarray:
    """Combine the segment probabilities ``(n_segments, n_classes)`` of one track into ``(n_classes,)``."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ConfigError(f"expected (n_segments >= 1, n_classes) probabilities, got shape {p.shape}")
    return aggregate_codes(p, np.zeros(len(p), dtype=np.int64), 1, method=method, eps=eps)[0]
