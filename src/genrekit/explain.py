"""Why a track got its genre: per-segment contributions on the timeline, and permutation importance.

Segment contributions
---------------------
A track prediction aggregates its segments' probabilities (:mod:`genrekit.models.aggregate`), and each
aggregation is a sum over segments, so it splits exactly into one additive share per segment:

``mean_log``
    track = ``softmax(mean_i log p_i)``. Segment ``i`` contributes ``(log p_ic - mean_k log p_ik) / n``
    (its centred log-probabilities over ``n``); the contributions sum to the track's centred log-score
    ``s`` and ``softmax(s)`` is the track probability.
``mean_prob``
    track = ``mean_i p_i``; segment ``i`` contributes ``p_i / n`` and the sum *is* the track probability.
``vote``
    track = vote fractions plus a tiny tie-breaking share of the mean probability, renormalised; segment
    ``i`` contributes its one-hot vote (plus its share) over ``n``, divided by the same normaliser, so the
    sum is again the track probability.

:func:`track_from_contributions` inverts this (``softmax`` of the sum for ``mean_log``, the sum
otherwise), and the tests check it against :func:`~genrekit.models.aggregate.aggregate_track` exactly.
On the timeline, :func:`explain_track` reports each segment's share for the predicted genre and its
``margin`` over the runner-up genre; the margins add up to the track's margin.

Permutation importance
----------------------
:func:`permutation_importance_table` measures, for a model on summary features (``handcrafted``),
how much the **track-level** scores fall when one feature (or a named group of features) is shuffled.
Rows are permuted across the whole evaluation set, at segment level as scikit-learn's
``permutation_importance`` does (so the feature loses its link with the label), but the score is
computed after aggregating the segments of each track, i.e. on the level the model is judged on.
scikit-learn's function cannot do that (its scorer sees rows, not tracks), hence this implementation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genrekit.errors import ConfigError, unknown_name
from genrekit.models.aggregate import AGGREGATIONS, VOTE_TIE_SHARE, aggregate

if TYPE_CHECKING:  # pragma: no cover
    from genrekit.render import Section, Table

__all__ = [
    "Explanation",
    "explain_track",
    "explanation_lines",
    "feature_groups_by_stem",
    "importance_markdown",
    "importance_section",
    "importance_table",
    "permutation_importance_table",
    "plot_importance",
    "segment_contributions",
    "track_from_contributions",
]

_EPS = 1e-7  # the floor aggregate_track applies before the log


def _check_segment_proba(segment_proba: Any) -> np.ndarray:
    p = np.asarray(segment_proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ConfigError(f"segment_proba must have shape (n_segments >= 1, n_classes >= 2); got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ConfigError("segment_proba must be finite and non-negative")
    sums = p.sum(axis=1, keepdims=True)
    if np.any(np.abs(sums - 1.0) > 1e-3):
        raise ConfigError("segment_proba rows must sum to 1 (probabilities, not scores)")
    return p / sums


def _check_method(method: str) -> None:
    if method not in AGGREGATIONS:
        raise unknown_name("aggregation method", method, AGGREGATIONS)


def segment_contributions(segment_proba: Any, *, method: str = "mean_log", eps: float = _EPS) -> np.ndarray:
    """Additive share of every segment in the track score, per class.

    Parameters
    ----------
    segment_proba : array-like, shape (n_segments, n_classes)
        Rows sum to 1.
    method : {"mean_log", "mean_prob", "vote"}
        The classifier's aggregation.
    eps : float
        Floor before the log (``mean_log``), the same as the aggregation's.

    Returns
    -------
    np.ndarray, float64, shape (n_segments, n_classes)
        Summed over segments: the centred track log-score (``mean_log``) or the track probability
        (``mean_prob``, ``vote``); see :func:`track_from_contributions`.
    """
    _check_method(method)
    p = _check_segment_proba(segment_proba)
    n = p.shape[0]
    if method == "mean_log":
        logp = np.log(np.clip(p, eps, 1.0))
        return (logp - logp.mean(axis=1, keepdims=True)) / n
    if method == "mean_prob":
        return p / n
    onehot = np.zeros_like(p)
    onehot[np.arange(n), p.argmax(axis=1)] = 1.0
    share = VOTE_TIE_SHARE / n
    return (onehot + share * p) / n / (1.0 + share)


def track_from_contributions(contributions: Any, *, method: str = "mean_log") -> np.ndarray:
    """The track probabilities ``(n_classes,)`` that segment contributions add up to."""
    _check_method(method)
    c = np.asarray(contributions, dtype=np.float64)
    if c.ndim != 2:
        raise ConfigError(f"contributions must have shape (n_segments, n_classes); got {c.shape}")
    s = c.sum(axis=0)
    if method == "mean_log":
        e = np.exp(s - s.max())
        return e / e.sum()
    return s


@dataclass(frozen=True)
class Explanation:
    """Which segments drove a track's prediction.

    Attributes
    ----------
    genre, runner_up : str
        The predicted genre and the second one.
    method : str
        Aggregation; fixes what the contributions add up to (``score_kind``).
    classes : tuple of str
    contributions : np.ndarray, shape (n_segments, n_classes)
        :func:`segment_contributions`.
    times : np.ndarray, shape (n_segments, 2)
        Segment start and end in seconds.
    track_proba : np.ndarray, shape (n_classes,)
    """

    genre: str
    runner_up: str
    method: str
    classes: tuple[str, ...]
    contributions: np.ndarray
    times: np.ndarray
    track_proba: np.ndarray

    @property
    def score_kind(self) -> str:
        return "centred mean log-probability" if self.method == "mean_log" else "probability"

    @property
    def support(self) -> np.ndarray:
        """Each segment's share for the predicted genre, shape (n_segments,)."""
        return self.contributions[:, self.classes.index(self.genre)]

    @property
    def margin(self) -> np.ndarray:
        """Each segment's share for the predicted genre minus its share for the runner-up (n_segments,)."""
        c = self.contributions
        return c[:, self.classes.index(self.genre)] - c[:, self.classes.index(self.runner_up)]

    def to_dict(self, *, top: int = 3) -> dict[str, Any]:
        """JSON-ready explanation.

        Per-segment ``support``/``margin`` on the timeline, and the ``top`` segments that argue most for
        (``strongest``: positive margin, largest first) and against (``weakest``: negative margin, most
        negative first) the predicted genre, each as ``{"segment": index, "start_s", "end_s", "margin"}``.
        A segment is never in both lists; either may be empty (no segment prefers the runner-up).
        """
        support, margin = self.support, self.margin
        segs = [
            {
                "start_s": round(float(s), 3),
                "end_s": round(float(e), 3),
                "support": float(sv),
                "margin": float(mv),
                "genre": self.classes[int(np.argmax(c))],
            }
            for (s, e), sv, mv, c in zip(self.times, support, margin, self.contributions, strict=True)
        ]
        k = max(0, top)
        order = np.argsort(-margin, kind="stable")

        def ref(i: int) -> dict[str, Any]:
            return {"segment": i, **{key: segs[i][key] for key in ("start_s", "end_s", "margin")}}

        return {
            "genre": self.genre,
            "runner_up": self.runner_up,
            "method": self.method,
            "score_kind": self.score_kind,
            "track_margin": float(margin.sum()),
            "segments": segs,
            "strongest": [ref(int(i)) for i in order if margin[i] > 0][:k],
            "weakest": [ref(int(i)) for i in order[::-1] if margin[i] < 0][:k],
        }


def explanation_lines(explanation: Mapping[str, Any]) -> list[str]:
    """An :meth:`Explanation.to_dict` as sentences with units, for a person (``classify --explain``).

    ``mean_log``: the lead is the log of the ratio of the two genres' track probabilities (log-odds, in
    nats), each segment's margin its additive share of it; ``mean_prob``/``vote``: the lead and the
    shares are probability points (the supports add up to the answer's track probability).
    """
    ex = explanation
    genre, runner = ex["genre"], ex["runner_up"]
    lead = float(ex["track_margin"])
    if ex["method"] == "mean_log":
        unit, scale = "log-odds", 1.0
        how = f"{genre} is {math.exp(lead):.2f}x as likely as {runner}"
    else:
        unit, scale = "probability points", 100.0
        p_top = sum(float(s["support"]) for s in ex["segments"])
        how = f"{p_top:.1%} against {p_top - lead:.1%}"
    lines = [f"runner-up: {runner}; {genre} leads it by {scale * lead:+.3g} {unit} ({how})"]
    for label, key in (("for", "strongest"), ("against", "weakest")):
        parts = [f"{s['start_s']:.1f}-{s['end_s']:.1f} s {scale * float(s['margin']):+.3g}" for s in ex[key]]
        if parts:
            lines.append(f"segments most {label} {genre} (share of the lead, {unit}): " + ", ".join(parts))
        elif key == "weakest":
            lines.append(f"segments most against {genre}: none (no segment prefers {runner})")
    return lines


def explain_track(
    segment_proba: Any,
    times: Any,
    classes: Sequence[str],
    *,
    method: str = "mean_log",
) -> Explanation:
    """Explain one track's prediction from its segment probabilities and times.

    Parameters
    ----------
    segment_proba : array-like, shape (n_segments, n_classes)
    times : array-like, shape (n_segments, 2)
    classes : sequence of str
        Column order of ``segment_proba``.
    method : {"mean_log", "mean_prob", "vote"}

    Returns
    -------
    Explanation
    """
    p = _check_segment_proba(segment_proba)
    cls = tuple(str(c) for c in classes)
    if len(cls) != p.shape[1]:
        raise ConfigError(f"{len(cls)} classes for {p.shape[1]} probability columns; they must match")
    t = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    if len(t) != len(p):
        raise ConfigError(f"{len(t)} segment times for {len(p)} segments; they must match")
    contrib = segment_contributions(p, method=method)
    track = track_from_contributions(contrib, method=method)
    order = np.argsort(-track, kind="stable")
    return Explanation(cls[order[0]], cls[order[1]], method, cls, contrib, t, track)


# ------------------------------------------------------------------------------ permutation importance
def _track_scores(
    proba: np.ndarray, codes: np.ndarray, keys_true: np.ndarray, method: str
) -> tuple[float, float]:
    tp, _ = aggregate(proba, codes, method=method)
    acc = float(np.mean(tp.argmax(axis=1) == keys_true))
    ll = float(-np.mean(np.log(np.clip(tp[np.arange(len(tp)), keys_true], 1e-15, 1.0))))
    return acc, ll


def _permutation_units(
    names: Sequence[str], feature_groups: Mapping[str, Sequence[str]] | None
) -> dict[str, list[int]]:
    """What is permuted together: each column alone, or each named group's columns."""
    if feature_groups is None:
        return {n: [i] for i, n in enumerate(names)}
    col = {n: i for i, n in enumerate(names)}
    units: dict[str, list[int]] = {}
    for gname, members in feature_groups.items():
        missing = [m for m in members if m not in col]
        if missing or not members:
            raise ConfigError(f"feature group {gname!r} names unknown or no columns: {missing or members}")
        units[str(gname)] = [col[m] for m in members]
    return units


def permutation_importance_table(
    model: Any,
    X: Any,
    y: Any,
    groups: Any,
    names: Sequence[str],
    *,
    n_repeats: int = 5,
    seed: int = 0,
    aggregation: str = "mean_log",
    feature_groups: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Track-level permutation importance of features (or named groups of features).

    Parameters
    ----------
    model : estimator
        Fitted; ``predict_proba`` and ``classes_``.
    X : array-like, shape (n_segments, n_features)
        Held-out segment features.
    y : array-like of str, shape (n_segments,)
        Label of each segment's track.
    groups : array-like, shape (n_segments,)
        Track key of each segment.
    names : sequence of str
        The ``n_features`` column names.
    n_repeats : int
        Permutations per feature.
    seed : int
    aggregation : {"mean_log", "mean_prob", "vote"}
    feature_groups : mapping of str to list of column names, optional
        Permute each group's columns together (with one permutation) instead of every column alone.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``, ``accuracy_drop_mean``, ``accuracy_drop_std``, ``log_loss_increase_mean``,
        ``log_loss_increase_std``, sorted by accuracy drop then log-loss increase, most important first.
        ``attrs["baseline"]`` holds the unpermuted ``{"accuracy", "log_loss", "n_tracks"}``.
    """
    _check_method(aggregation)
    Xa = np.asarray(X, dtype=np.float64 if np.asarray(X).dtype == np.float64 else np.float32)
    if Xa.ndim != 2:
        raise ConfigError(f"X must have shape (n_segments, n_features); got {Xa.shape}")
    names = [str(n) for n in names]
    if len(names) != Xa.shape[1]:
        raise ConfigError(f"{len(names)} feature names for {Xa.shape[1]} columns; they must match")
    if not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ConfigError(f"n_repeats must be an integer >= 1; got {n_repeats!r}")
    classes = [str(c) for c in model.classes_]
    index = {c: i for i, c in enumerate(classes)}
    y_s = np.asarray(y).astype(str)
    unknown = sorted(set(y_s.tolist()) - set(classes))
    if unknown:
        raise ConfigError(f"labels {unknown} are not classes of the model ({classes})")
    g = np.asarray(groups)
    if len(y_s) != len(Xa) or len(g) != len(Xa):
        raise ConfigError(f"X has {len(Xa)} rows but y has {len(y_s)} and groups {len(g)}; they must match")
    codes, keys = pd.factorize(g, sort=False)
    first = np.full(len(keys), -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    keys_true = np.array([index[v] for v in y_s[first]], dtype=np.int64)

    units = _permutation_units(names, feature_groups)
    base_acc, base_ll = _track_scores(np.asarray(model.predict_proba(Xa)), codes, keys_true, aggregation)
    rng = np.random.default_rng(seed)
    work = Xa.copy()
    rows = []
    for unit, cols in units.items():
        drops, increases = [], []
        for _ in range(n_repeats):
            perm = rng.permutation(len(Xa))
            work[:, cols] = Xa[perm][:, cols]
            acc, ll = _track_scores(np.asarray(model.predict_proba(work)), codes, keys_true, aggregation)
            drops.append(base_acc - acc)
            increases.append(ll - base_ll)
        work[:, cols] = Xa[:, cols]
        rows.append(
            {
                "feature": unit,
                "accuracy_drop_mean": float(np.mean(drops)),
                "accuracy_drop_std": float(np.std(drops)),
                "log_loss_increase_mean": float(np.mean(increases)),
                "log_loss_increase_std": float(np.std(increases)),
            }
        )
    df = pd.DataFrame(rows)
    df = df.sort_values(
        ["accuracy_drop_mean", "log_loss_increase_mean"], ascending=False, kind="mergesort"
    ).reset_index(drop=True)
    df.attrs["baseline"] = {"accuracy": base_acc, "log_loss": base_ll, "n_tracks": int(len(keys))}
    return df


def plot_importance(table: pd.DataFrame, path: str | Path, *, top: int = 20, title: str = "") -> Path:
    """Horizontal bars of the ``top`` features' log-loss increase (with the spread over repeats)."""
    from matplotlib.figure import Figure

    from genrekit.render import save_figure

    t = table.sort_values("log_loss_increase_mean", ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(7.0, 0.3 * len(t) + 1.4))
    ax = fig.subplots()
    ax.barh(t["feature"], t["log_loss_increase_mean"], xerr=t["log_loss_increase_std"], color="#4c72b0")
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("track log-loss increase when permuted")
    ax.set_title(title or "permutation importance (track level)")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def feature_groups_by_stem(names: Sequence[str]) -> dict[str, list[str]]:
    """Group columns that summarise one feature: ``mfcc3_mean`` and ``mfcc3_var`` -> ``mfcc3``.

    Suffixes ``_mean``, ``_var`` and ``_std`` are stripped (after a track summary's ``.mean`` / ``.std``);
    other names form their own group. Pass the result as ``feature_groups`` to
    :func:`permutation_importance_table` so that correlated summaries of one feature are permuted
    together (29 groups for the 57 Kaggle columns, 66 for the default 218 hand-crafted ones).
    """
    groups: dict[str, list[str]] = {}
    for n in names:
        stem = str(n)
        for suffix in (".mean", ".std"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        for suffix in ("_mean", "_var", "_std"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        groups.setdefault(stem, []).append(str(n))
    return groups


def importance_table(table: pd.DataFrame, *, top: int = 20) -> Table:
    """The ``top`` rows of a :func:`permutation_importance_table` result as a report table."""
    from genrekit.render import Table

    rows = [
        [
            r.feature,
            f"{r.accuracy_drop_mean:.4f}",
            f"{r.accuracy_drop_std:.4f}",
            f"{r.log_loss_increase_mean:.4f}",
            f"{r.log_loss_increase_std:.4f}",
        ]
        for r in table.head(top).itertuples(index=False)
    ]
    return Table(["feature", "accuracy drop", "±", "log-loss increase", "±"], rows)


def _baseline_text(table: pd.DataFrame) -> str | None:
    from genrekit.render import fmt_accuracy

    base = table.attrs.get("baseline")
    if not base:
        return None
    return (
        f"Baseline: track accuracy {fmt_accuracy(base['accuracy'], int(base['n_tracks']))}, "
        f"log loss {base['log_loss']:.4f} on {base['n_tracks']} tracks."
    )


def importance_markdown(table: pd.DataFrame, *, top: int = 20) -> str:
    """The ``top`` rows of a :func:`permutation_importance_table` result as a Markdown table."""
    from genrekit.render import Paragraph, blocks_markdown

    baseline = _baseline_text(table)
    blocks = [importance_table(table, top=top)] + ([Paragraph(baseline)] if baseline else [])
    return blocks_markdown(blocks)


def importance_section(
    model: Any,
    X: Any,
    y: Any,
    groups: Any,
    names: Sequence[str],
    out_dir: str | Path | None,
    *,
    model_name: str = "model",
    n_repeats: int = 5,
    seed: int = 0,
    aggregation: str = "mean_log",
    max_groups: int = 200,
) -> tuple[Section, pd.DataFrame]:
    """Permutation importance of named features for a report.

    The summaries of one feature (``mfcc3_mean``, ``mfcc3_var``) are permuted together
    (:func:`feature_groups_by_stem`). Writes ``importance_<model>.png`` into ``out_dir``.

    Parameters
    ----------
    model, X, y, groups, names, n_repeats, seed, aggregation
        As for :func:`permutation_importance_table`; ``X`` shape (n_segments, n_features).
    out_dir : str or Path or None
        The report folder (created if missing); None: no picture.
    model_name : str
        Shown in the heading and the picture's name.
    max_groups : int
        Refuse feature sets with more groups than this: importance of single spectrogram bins or embedding
        dimensions is neither cheap nor readable.

    Returns
    -------
    (Section, table)
        The section for :func:`genrekit.report.write_report`'s ``extra_sections`` (table, baseline
        accuracy with its interval, the picture) and the full table.

    Raises
    ------
    ConfigError
        More than ``max_groups`` feature groups.
    """
    from genrekit.render import Figures, Paragraph, Section, sanitize_name

    fg = feature_groups_by_stem(names)
    if len(fg) > max_groups:
        raise ConfigError(
            f"permutation importance is for named summary features (at most {max_groups} groups, e.g. the "
            f"hand-crafted ones); this model's features have {len(fg)} groups ({len(names)} columns)"
        )
    table = permutation_importance_table(
        model, X, y, groups, names, n_repeats=n_repeats, seed=seed, aggregation=aggregation, feature_groups=fg
    )
    intro = (
        f"Each feature's summaries permuted together across held-out segments, {n_repeats} times; the drop "
        "in track accuracy and the rise in track log loss, most important first."
    )
    baseline = _baseline_text(table)
    blocks: list[Any] = [Paragraph(intro), importance_table(table)]
    blocks += [Paragraph(baseline)] if baseline else []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"importance_{sanitize_name(model_name)}"
        plot_importance(table, out / f"{stem}.png", title=f"{model_name}: permutation importance (tracks)")
        blocks.append(Figures([(f"{model_name}: permutation importance", f"{stem}.png")]))
    return Section(f"Permutation importance: {model_name}", blocks), table
