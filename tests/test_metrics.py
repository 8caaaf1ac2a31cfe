from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    roc_auc_score,
)

from genrekit.errors import ConfigError
from genrekit.metrics import (
    AGGREGATIONS,
    COMPARISON_COLUMNS,
    HEADLINE_METRICS,
    Metrics,
    ModelRun,
    aggregate,
    comparison_table,
    compute_metrics,
    evaluate_predictions,
    fold_summary,
    format_mean_std,
)

# ------------------------------------------------------------------------------------------ aggregation
TWO = np.array([[0.9, 0.1], [0.2, 0.8]])


def test_mean_prob_of_two_segments():
    track, keys = aggregate(TWO, ["t", "t"], method="mean_prob")
    np.testing.assert_allclose(track, [[0.55, 0.45]], atol=1e-12)
    assert keys.tolist() == ["t"]


def test_mean_log_is_renormalised_geometric_mean():
    # sqrt(0.9 * 0.2) = sqrt(0.18), sqrt(0.1 * 0.8) = sqrt(0.08); sqrt(.18) / (sqrt(.18) + sqrt(.08)) = 3/5
    track, _ = aggregate(TWO, ["t", "t"], method="mean_log")
    np.testing.assert_allclose(track, [[0.6, 0.4]], atol=1e-12)


def test_mean_log_clips_zero_probabilities_at_eps():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    track, _ = aggregate(p, [0, 0], method="mean_log", eps=1e-4)
    g0, g1 = math.sqrt(1.0 * 0.5), math.sqrt(1e-4 * 0.5)
    np.testing.assert_allclose(track, [[g0 / (g0 + g1), g1 / (g0 + g1)]], rtol=1e-9)
    assert np.all(np.isfinite(track))


def test_vote_tie_is_broken_by_mean_prob():
    # one vote each; mean_prob [0.55, 0.45] -> class 0
    track, _ = aggregate(TWO, ["t", "t"], method="vote")
    np.testing.assert_allclose(track, [[0.5, 0.5]], atol=1e-6)
    assert track.argmax(axis=1).tolist() == [0]
    # one vote each; mean_prob [0.35, 0.65] -> class 1
    track, _ = aggregate(np.array([[0.6, 0.4], [0.1, 0.9]]), ["t", "t"], method="vote")
    assert track.argmax(axis=1).tolist() == [1]
    np.testing.assert_allclose(track, [[0.5, 0.5]], atol=1e-6)


def test_vote_majority_beats_mean_prob():
    p = np.array([[0.6, 0.4], [0.6, 0.4], [0.0, 1.0]])  # mean_prob [0.4, 0.6] but 2 votes to 1 for class 0
    track, _ = aggregate(p, ["a", "a", "a"], method="vote")
    np.testing.assert_allclose(track, [[2 / 3, 1 / 3]], atol=1e-6)
    assert track.argmax() == 0
    assert aggregate(p, ["a"] * 3, method="mean_prob")[0].argmax() == 1


def test_tracks_in_order_of_first_appearance():
    p = np.array([[0.9, 0.1], [0.1, 0.9], [0.7, 0.3], [0.5, 0.5], [0.3, 0.7]])
    groups = ["b", "a", "b", "c", "a"]
    track, keys = aggregate(p, groups, method="mean_prob")
    assert keys.tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(track, [[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]], atol=1e-12)
    _, int_keys = aggregate(p, np.array([7, 3, 7, 1, 3]), method="mean_prob")
    assert int_keys.tolist() == [7, 3, 1]


@pytest.mark.parametrize("method", AGGREGATIONS)
def test_rows_sum_to_one(method, rng):
    logits = rng.normal(size=(60, 5))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    groups = rng.integers(0, 12, size=60)
    track, keys = aggregate(p.astype(np.float32), groups, method=method)
    assert track.shape == (len(np.unique(groups)), 5) == (keys.shape[0], 5)
    np.testing.assert_allclose(track.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(track >= 0)


def test_single_segment_tracks_keep_their_probabilities():
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    for method in ("mean_log", "mean_prob"):
        np.testing.assert_allclose(aggregate(p, ["x", "y"], method=method)[0], p, atol=1e-12)


def test_unknown_aggregation_lists_valid_ones():
    with pytest.raises(ConfigError) as err:
        aggregate(TWO, ["t", "t"], method="median")
    msg = str(err.value)
    assert "median" in msg and all(m in msg for m in AGGREGATIONS)


def test_aggregate_rejects_bad_input():
    with pytest.raises(ConfigError, match="groups has 3 entries"):
        aggregate(TWO, ["a", "b", "c"])
    with pytest.raises(ConfigError, match="sum to 1"):
        aggregate(np.array([[2.0, 3.0]]), ["a"])
    with pytest.raises(ConfigError, match="negative"):
        aggregate(np.array([[1.5, -0.5]]), ["a"])
    with pytest.raises(ConfigError, match="2-D"):
        aggregate(np.array([0.5, 0.5]), ["a", "b"])


# ---------------------------------------------------------------------------------------------- metrics
# classes deliberately not in sorted order
CLASSES = ("rock", "jazz", "pop")
Y_TRUE = np.array(["rock", "rock", "rock", "jazz", "jazz", "pop"])
PROBA = np.array(
    [
        [0.7, 0.2, 0.1],  # rock -> rock   p_true 0.7
        [0.6, 0.3, 0.1],  # rock -> rock   p_true 0.6
        [0.3, 0.5, 0.2],  # rock -> jazz   p_true 0.3
        [0.1, 0.8, 0.1],  # jazz -> jazz   p_true 0.8
        [0.1, 0.4, 0.5],  # jazz -> pop    p_true 0.4
        [0.2, 0.2, 0.6],  # pop  -> pop    p_true 0.6
    ]
)


@pytest.fixture
def hand() -> Metrics:
    return compute_metrics(Y_TRUE, PROBA, CLASSES)


def test_hand_computed_scores(hand):
    assert hand.n_samples == 6
    assert hand.accuracy == pytest.approx(4 / 6)
    assert hand.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    np.testing.assert_allclose(hand.precision, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(hand.recall, [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(hand.f1, [0.8, 0.5, 2 / 3])
    assert hand.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    np.testing.assert_allclose(hand.jaccard_per_class, [2 / 3, 1 / 3, 1 / 2])
    assert hand.jaccard == pytest.approx(0.5)
    assert hand.support.tolist() == [3, 2, 1]
    assert hand.log_loss == pytest.approx(-np.mean(np.log([0.7, 0.6, 0.3, 0.8, 0.4, 0.6])))


def test_hand_computed_matrices(hand):
    assert hand.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    np.testing.assert_allclose(hand.recall_matrix, [[2 / 3, 1 / 3, 0], [0, 0.5, 0.5], [0, 0, 1]])
    np.testing.assert_allclose(hand.precision_matrix, [[1, 0.5, 0], [0, 0.5, 0.5], [0, 0, 0.5]])


def test_agrees_with_sklearn_on_sorted_columns(hand):
    order = np.argsort(CLASSES)  # sklearn assumes lexicographically sorted probability columns
    labels, p_sorted = np.asarray(CLASSES)[order], PROBA[:, order]
    y_pred = np.asarray(CLASSES)[PROBA.argmax(axis=1)]
    assert hand.log_loss == pytest.approx(log_loss(Y_TRUE, p_sorted, labels=labels))
    assert hand.roc_auc == pytest.approx(roc_auc_score(Y_TRUE, p_sorted, multi_class="ovr", labels=labels))
    ap = np.mean([average_precision_score(Y_TRUE == c, PROBA[:, i]) for i, c in enumerate(CLASSES)])
    assert hand.average_precision == pytest.approx(ap)
    assert hand.balanced_accuracy == pytest.approx(balanced_accuracy_score(Y_TRUE, y_pred))
    assert hand.macro_f1 == pytest.approx(f1_score(Y_TRUE, y_pred, average="macro"))


def test_perfect_predictions():
    p = np.eye(3)[[0, 1, 2, 0]]
    m = compute_metrics(["rock", "jazz", "pop", "rock"], p, CLASSES)
    assert m.accuracy == m.balanced_accuracy == m.macro_f1 == m.jaccard == 1.0
    assert m.roc_auc == 1.0 and m.average_precision == 1.0
    assert m.log_loss == pytest.approx(0.0, abs=1e-12)  # clipped at 1 - eps: finite, ~0


def test_log_loss_is_finite_when_true_class_has_zero_probability():
    m = compute_metrics(["a", "b"], [[0.0, 1.0], [0.0, 1.0]], ["a", "b"])
    assert math.isfinite(m.log_loss) and m.log_loss > 15  # -log(eps) / 2 ~ 18


def test_class_absent_from_y_true_gives_no_roc_auc_and_zero_columns():
    classes = (*CLASSES, "blues")
    p = np.hstack([PROBA * 0.9, np.full((6, 1), 0.1)])  # blues never predicted, never true
    m = compute_metrics(Y_TRUE, p, classes)
    assert m.roc_auc is None and m.average_precision is None
    assert "blues" in m.notes["roc_auc"] and "blues" in m.notes["average_precision"]
    assert m.precision_matrix[:, 3].tolist() == [0, 0, 0, 0]  # no predictions: zeros, not NaN
    assert m.recall_matrix[3].tolist() == [0, 0, 0, 0]
    assert np.all(np.isfinite(m.precision_matrix)) and np.all(np.isfinite(m.recall_matrix))
    # F1/Jaccard of a class absent from truth and predictions are undefined and left out of the macro mean
    ref = compute_metrics(Y_TRUE, PROBA, CLASSES)
    assert m.macro_f1 == pytest.approx(ref.macro_f1)
    assert m.jaccard == pytest.approx(ref.jaccard)
    assert m.balanced_accuracy == pytest.approx(ref.balanced_accuracy)
    assert m.summary()["roc_auc"] is None


def test_predicted_but_absent_class_counts_as_zero_f1():
    p = np.array([[0.1, 0.9], [0.9, 0.1]])  # true a, a; predicted b, a
    m = compute_metrics(["a", "a"], p, ["a", "b"])
    assert m.f1.tolist() == [pytest.approx(2 / 3), 0.0]
    assert m.macro_f1 == pytest.approx(1 / 3)
    assert m.roc_auc is None and "only 'a' is present" in m.notes["roc_auc"]


def test_unknown_labels_are_named():
    with pytest.raises(ConfigError) as err:
        compute_metrics(["rock", "metal", "polka"], PROBA[:3], CLASSES)
    assert (
        "metal" in str(err.value) and "polka" in str(err.value) and "rock" not in str(err.value).split(";")[0]
    )


def test_metrics_input_errors():
    with pytest.raises(ConfigError, match="columns"):
        compute_metrics(Y_TRUE, PROBA[:, :2] / PROBA[:, :2].sum(1, keepdims=True), CLASSES)
    with pytest.raises(ConfigError, match="rows"):
        compute_metrics(Y_TRUE[:5], PROBA, CLASSES)
    with pytest.raises(ConfigError, match="unique"):
        compute_metrics(Y_TRUE, PROBA, ("rock", "jazz", "rock"))
    with pytest.raises(ConfigError, match="at least 2"):
        compute_metrics(["rock"], [[1.0]], ["rock"])


def test_to_dict_is_json_ready_and_round_trips(hand):
    d = hand.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = Metrics.from_dict(json.loads(text))
    for name in HEADLINE_METRICS:
        assert getattr(back, name) == getattr(hand, name)
    for name in ("precision", "recall", "f1", "jaccard_per_class", "support", "confusion", "recall_matrix"):
        np.testing.assert_array_equal(getattr(back, name), getattr(hand, name))
    assert back.classes == CLASSES
    assert d["per_class"]["jazz"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "jaccard": 1 / 3,
        "support": 2,
    }
    assert type(d["confusion"][0][0]) is int and type(d["accuracy"]) is float
    assert set(hand.summary()) == {"n_samples", *HEADLINE_METRICS}


def test_per_class_table(hand):
    table = hand.per_class_table()
    assert table.index.tolist() == list(CLASSES)
    assert table.loc["rock", "f1"] == pytest.approx(0.8) and table.loc["pop", "support"] == 1


# ------------------------------------------------------------------------------------------- evaluation
def test_evaluate_predictions_track_and_segment_levels():
    # track A (rock): 3 segments, 2 say rock; track B (jazz): 2 segments, 1 says jazz strongly
    proba = np.array(
        [
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.7, 0.2, 0.1],
            [0.1, 0.85, 0.05],
            [0.4, 0.35, 0.25],
        ]
    )
    y = ["rock", "rock", "rock", "jazz", "jazz"]
    groups = ["A", "A", "A", "B", "B"]
    res = evaluate_predictions(y, proba, groups, CLASSES, aggregation="mean_prob")
    assert res.n_tracks == 2 and res.n_segments == 5 and res.aggregation == "mean_prob"
    assert res.track_keys.tolist() == ["A", "B"] and res.track_true.tolist() == ["rock", "jazz"]
    np.testing.assert_allclose(res.track_proba[0], [1.5 / 3, 1.2 / 3, 0.3 / 3])
    assert res.track_pred.tolist() == ["rock", "jazz"]
    assert res.track.accuracy == 1.0
    assert res.segment.accuracy == pytest.approx(3 / 5)
    assert res.segment.confusion.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 0]]
    frame = res.predictions_frame()
    assert frame["correct"].tolist() == [True, True] and "p_jazz" in frame.columns
    d = res.to_dict(include_predictions=True)
    json.dumps(d, allow_nan=False)
    assert d["predictions"][1]["track"] == "B" and d["n_segments"] == 5


def test_evaluate_predictions_default_is_mean_log():
    y, groups = ["a", "a"], ["t", "t"]
    res = evaluate_predictions(y, TWO, groups, ["a", "b"])
    assert res.aggregation == "mean_log"
    np.testing.assert_allclose(res.track_proba, [[0.6, 0.4]], atol=1e-12)


def test_track_with_mixed_labels_is_rejected():
    with pytest.raises(ConfigError, match="share one label"):
        evaluate_predictions(["a", "b"], TWO, ["t", "t"], ["a", "b"])
    with pytest.raises(ConfigError, match="aggregation method"):
        evaluate_predictions(["a", "a"], TWO, ["t", "t"], ["a", "b"], aggregation="max")


# ------------------------------------------------------------------------------------------- comparison
def _run(name: str, n_correct: int, *, fit: float | None = 1.0, predict: float = 0.4) -> ModelRun:
    """A 4-track, 2-class run with ``n_correct`` tracks right (1 segment per track)."""
    y = np.array(["a", "b", "a", "b"])
    right = np.where(y == "a", 0, 1)
    pred = np.array([right[i] if i < n_correct else 1 - right[i] for i in range(4)])
    proba = np.full((4, 2), 0.2)
    proba[np.arange(4), pred] = 0.8
    res = evaluate_predictions(y, proba, ["t1", "t2", "t3", "t4"], ["a", "b"])
    return ModelRun(name, res, fit_time_s=fit, predict_time_s=predict, n_params=10)


def test_comparison_table_sorted_by_track_macro_f1():
    runs = [_run("mid", 2), _run("best", 4, fit=None), _run("worst", 1)]
    table = comparison_table(runs)
    assert isinstance(table, pd.DataFrame)
    assert table.columns.tolist() == list(COMPARISON_COLUMNS)
    assert table["model"].tolist() == ["best", "mid", "worst"]
    assert table.index.tolist() == [0, 1, 2]
    assert table["track_macro_f1"].is_monotonic_decreasing
    assert table.loc[0, "track_accuracy"] == 1.0 and table.loc[2, "track_accuracy"] == 0.25
    assert table.loc[1, "predict_ms_per_track"] == pytest.approx(100.0)  # 0.4 s / 4 tracks
    assert math.isnan(table.loc[0, "fit_s"]) and table.loc[1, "fit_s"] == 1.0


def test_model_run_to_dict_is_json_ready():
    run = _run("m", 3)
    run.extra["C"] = np.float32(0.5)
    d = json.loads(json.dumps(run.to_dict(), allow_nan=False))
    assert (
        d["name"] == "m" and d["extra"] == {"C": 0.5} and d["predict_time_per_track_s"] == pytest.approx(0.1)
    )
    assert d["track"]["accuracy"] == 0.75


def test_fold_summary_mean_and_std():
    results = [_run("m", k).result for k in (2, 3, 4)]
    summary = fold_summary(results)
    assert summary["n_folds"] == 3
    acc = summary["track"]["accuracy"]
    assert acc["mean"] == pytest.approx(0.75) and acc["std"] == pytest.approx(0.25)  # ddof=1 of .5 .75 1
    assert acc["values"] == [0.5, 0.75, 1.0] and acc["n"] == 3
    assert format_mean_std(acc) == "0.750 ± 0.250"
    json.dumps(summary, allow_nan=False)
    single = fold_summary(results[:1])["segment"]["accuracy"]
    assert single["std"] == 0.0 and single["mean"] == 0.5


def test_fold_summary_skips_undefined_folds_and_needs_results():
    ok = _run("m", 3).result
    missing = evaluate_predictions(["a", "a"], TWO, ["x", "y"], ["a", "b"])  # no 'b': roc_auc None
    stats = fold_summary([ok, missing])["track"]["roc_auc"]
    assert stats["n"] == 1 and stats["values"][1] is None and stats["mean"] == ok.track.roc_auc
    with pytest.raises(ConfigError, match="at least one"):
        fold_summary([])


def test_package_name_evaluate_stays_the_workflow_function():
    """``genrekit.evaluate`` is the evaluate workflow even after every module has been imported.

    The metrics module used to be ``genrekit/evaluate.py``: importing it replaced the package's lazy
    ``evaluate`` function with the module (issue 15).
    """
    import genrekit
    import genrekit.metrics
    import genrekit.training

    assert callable(genrekit.evaluate) and genrekit.evaluate is genrekit.training.evaluate
    assert genrekit.metrics.aggregate is genrekit.models.aggregate.aggregate
