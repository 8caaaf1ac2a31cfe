"""Segment-to-track aggregation of class probabilities."""

from __future__ import annotations

import numpy as np

from genrekit.errors import unknown_name

AGGREGATIONS: tuple[str, ...] = ("mean_log", "mean_prob", "vote")


def aggregate_track(proba: np.ndarray, *, method: str = "mean_log", eps: float = 1e-7) -> np.ndarray:
    """Combine the segment probabilities of one track into one distribution.

    Parameters
    ----------
    proba : np.ndarray, shape (n_segments, n_classes)
        Rows sum to 1.
    method : {"mean_log", "mean_prob", "vote"}
        ``mean_log``: geometric mean (mean of log-probabilities) renormalised to sum to 1;
        ``mean_prob``: arithmetic mean; ``vote``: share of segments whose argmax is each class, ties
        broken by the mean probability.
    eps : float
        Floor applied before taking logs.

    Returns
    -------
    np.ndarray, float64, shape (n_classes,), sums to 1
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"expected (n_segments >= 1, n_classes) probabilities, got shape {p.shape}")
    if method == "mean_log":
        logp = np.log(np.clip(p, eps, 1.0)).mean(axis=0)
        out = np.exp(logp - logp.max())
    elif method == "mean_prob":
        out = p.mean(axis=0)
    elif method == "vote":
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)
        out = votes / votes.sum()
        winners = np.flatnonzero(votes == votes.max())
        if len(winners) > 1:  # tie: the tied class with the highest mean probability wins a little extra
            best = winners[np.argmax(p.mean(axis=0)[winners])]
            out = out.copy()
            out[best] += 1e-6
    else:
        raise unknown_name("aggregation", method, AGGREGATIONS)
    return out / out.sum()


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
    groups = np.asarray(groups)
    if method not in AGGREGATIONS:
        raise unknown_name("aggregation", method, AGGREGATIONS)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(first)
    keys = groups[np.sort(first)]
    out = np.stack([aggregate_track(proba[inverse == g], method=method, eps=eps) for g in order])
    return out, keys
