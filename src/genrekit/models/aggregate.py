"""Segment-to-track aggregation of class probabilities (the one implementation; evaluate re-exports it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrekit.errors import ConfigError, unknown_name

AGGREGATIONS: tuple[str, ...] = ("mean_log", "mean_prob", "vote")
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


def aggregate(
    proba: np.ndarray, groups: np.ndarray, *, method: str = "mean_log", eps: float = 1e-7
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate segment probabilities to one row per group (track).

    Parameters
    ----------
    proba : np.ndarray, shape (n_segments, n_classes)
    groups : np.ndarray, shape (n_segments,)
        Track key of each segment.

    Returns
    -------
    track_proba : np.ndarray, shape (n_tracks, n_classes)
    track_keys : np.ndarray, shape (n_tracks,)
        In order of first appearance in ``groups``.
    """
    p = np.asarray(proba, dtype=np.float64)
    codes, keys = pd.factorize(np.asarray(groups), sort=False)
    return aggregate_codes(p, codes.astype(np.int64), len(keys), method=method, eps=eps), np.asarray(keys)


def aggregate_track(proba: np.ndarray, *, method: str = "mean_log", eps: float = 1e-7) -> np.ndarray:
    """Combine the segment probabilities ``(n_segments, n_classes)`` of one track into ``(n_classes,)``."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ConfigError(f"expected (n_segments >= 1, n_classes) probabilities, got shape {p.shape}")
    return aggregate_codes(p, np.zeros(len(p), dtype=np.int64), 1, method=method, eps=eps)[0]
