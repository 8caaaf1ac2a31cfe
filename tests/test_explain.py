from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from genrekit.errors import ConfigError
from genrekit.explain import (
    explain_track,
    permutation_importance_table,
    plot_importance,
    segment_contributions,
    track_from_contributions,
)
from genrekit.models.aggregate import AGGREGATIONS, aggregate_track
from genrekit.predict import Classifier
from toys import LoudnessModel, ToyExtractor

SR = 22050


class RmsExtractor(ToyExtractor):
    """One feature per 1 s segment (a short tail dropped): its RMS level."""

    name = "test-rms"
    stats = ("rms",)
    defaults = {"pad": "drop"}


@pytest.mark.parametrize("method", AGGREGATIONS)
def test_contributions_sum_to_the_track_prediction(rng, method):
    p = rng.dirichlet(np.full(6, 0.3), size=9)
    p[0, 2] = 1e-12  # below the 1e-7 floor of mean_log
    p[0] /= p[0].sum()
    c = segment_contributions(p, method=method)
    assert c.shape == p.shape
    assert np.allclose(
        track_from_contributions(c, method=method), aggregate_track(p, method=method), atol=1e-12
    )
    if method != "mean_log":
        assert c.sum() == pytest.approx(1.0)
    else:
        assert np.allclose(c.sum(axis=1), 0.0)  # centred per segment


def test_vote_contributions_break_ties_like_the_aggregation():
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]])  # 2 votes each; mean favours 0
    c = segment_contributions(p, method="vote")
    track = track_from_contributions(c, method="vote")
    assert np.allclose(track, aggregate_track(p, method="vote"), atol=1e-15)
    assert track[0] > track[1]


def test_explain_track_points_at_the_segments_that_drove_the_answer():
    p = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.85, 0.1, 0.05], [0.6, 0.3, 0.1]])
    times = np.array([[i * 3.0, i * 3.0 + 3.0] for i in range(5)])
    e = explain_track(p, times, ["rock", "jazz", "pop"], method="mean_log")
    assert e.genre == "rock" and e.runner_up == "jazz"
    track = aggregate_track(p, method="mean_log")
    assert np.allclose(e.track_proba, track)
    # margins add up to the track's log-odds of the top two genres
    assert e.margin.sum() == pytest.approx(np.log(track[0] / track[1]))
    d = e.to_dict(top=2)
    margin_2 = d["segments"][2]["margin"]
    assert d["weakest"] == [{"segment": 2, "start_s": 6.0, "end_s": 9.0, "margin": margin_2}]
    assert [s["segment"] for s in d["strongest"]] == [0, 3]  # the largest margins, times attached
    assert d["strongest"][0]["start_s"] == 0.0 and d["strongest"][1]["end_s"] == 12.0
    assert d["segments"][2]["genre"] == "jazz" and d["segments"][2]["margin"] < 0
    assert d["track_margin"] == pytest.approx(np.log(track[0] / track[1]))
    assert d["score_kind"] == "centred mean log-probability"
    ep = explain_track(p, times, ["rock", "jazz", "pop"], method="mean_prob")
    assert ep.support.sum() == pytest.approx(p[:, 0].mean())
    with pytest.raises(ConfigError, match="classes"):
        explain_track(p, times, ["rock", "jazz"])
    with pytest.raises(ConfigError, match="mean_log"):
        segment_contributions(p, method="median")


def test_explain_a_classifier_on_audio_with_a_loud_and_a_quiet_half(rng):
    y = np.concatenate([0.3 * rng.standard_normal(3 * SR), 0.005 * rng.standard_normal(SR)]).astype(
        np.float32
    )
    clf = Classifier(RmsExtractor(), LoudnessModel(), aggregation="mean_log", name="rms", noise_flatness=None)
    e = clf.explain(y, SR)
    pred = clf.predict_audio(y, SR)
    assert e.genre == pred.genre == "loud"
    assert e.times.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4]]
    assert (e.margin[:3] > 0).all() and e.margin[3] < 0
    for g, prob in pred.probabilities.items():
        assert e.track_proba[list(e.classes).index(g)] == pytest.approx(prob, abs=1e-6)


def test_permutation_importance_finds_the_informative_feature(rng):
    n_tracks, n_seg = 80, 3
    lab = rng.integers(0, 2, n_tracks)
    informative = np.repeat(lab * 2.0 - 1.0, n_seg) + 0.5 * rng.standard_normal(n_tracks * n_seg)
    noise = rng.standard_normal(n_tracks * n_seg)
    constant = np.ones(n_tracks * n_seg)
    X = np.column_stack([noise, informative, constant])
    y = np.repeat(np.array(["a", "b"])[lab], n_seg)
    groups = np.repeat([f"t{i}" for i in range(n_tracks)], n_seg)
    model = LogisticRegression().fit(X[:120], y[:120])
    table = permutation_importance_table(
        model, X[120:], y[120:], groups[120:], ["noise", "informative", "constant"], n_repeats=4, seed=1
    )
    assert table["feature"].iloc[0] == "informative"
    row = table.set_index("feature")
    assert row.loc["informative", "accuracy_drop_mean"] > 0.3
    assert row.loc["informative", "log_loss_increase_mean"] > 0.3
    assert abs(row.loc["noise", "accuracy_drop_mean"]) < 0.1
    assert row.loc["constant", "accuracy_drop_mean"] == 0.0
    assert row.loc["constant", "log_loss_increase_mean"] == pytest.approx(0.0, abs=1e-12)
    assert table.attrs["baseline"]["n_tracks"] == 40
    assert table.attrs["baseline"]["accuracy"] > 0.9
    grouped = permutation_importance_table(
        model, X[120:], y[120:], groups[120:], ["noise", "informative", "constant"],
        feature_groups={"all": ["noise", "informative", "constant"]}, n_repeats=2,
    )  # fmt: skip
    assert grouped["feature"].tolist() == ["all"] and grouped["accuracy_drop_mean"].iloc[0] > 0.3
    with pytest.raises(ConfigError, match="names"):
        permutation_importance_table(model, X, y, groups, ["a", "b"])
    with pytest.raises(ConfigError, match="unknown"):
        permutation_importance_table(model, X, y, groups, ["a", "b", "c"], feature_groups={"g": ["zz"]})


def test_plot_importance_writes_a_png(tmp_path, rng):
    import pandas as pd

    table = pd.DataFrame(
        {
            "feature": ["f1", "f2", "f3"],
            "accuracy_drop_mean": [0.2, 0.1, 0.0],
            "accuracy_drop_std": [0.01, 0.02, 0.0],
            "log_loss_increase_mean": [0.5, 0.2, 0.0],
            "log_loss_increase_std": [0.1, 0.05, 0.0],
        }
    )
    path = plot_importance(table, tmp_path / "imp.png", top=2)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_feature_groups_by_stem_and_markdown():
    from genrekit.explain import feature_groups_by_stem, importance_markdown

    g = feature_groups_by_stem(["mfcc1_mean", "mfcc1_var", "tempo", "rms_mean", "rms_var"])
    assert g == {"mfcc1": ["mfcc1_mean", "mfcc1_var"], "tempo": ["tempo"], "rms": ["rms_mean", "rms_var"]}
    import pandas as pd

    table = pd.DataFrame(
        {
            "feature": ["mfcc1", "tempo"],
            "accuracy_drop_mean": [0.25, 0.0],
            "accuracy_drop_std": [0.05, 0.0],
            "log_loss_increase_mean": [0.5, 0.01],
            "log_loss_increase_std": [0.1, 0.0],
        }
    )
    table.attrs["baseline"] = {"accuracy": 0.9, "log_loss": 0.3, "n_tracks": 40}
    md = importance_markdown(table, top=1)
    assert "| mfcc1 | 0.2500 | 0.0500 | 0.5000 | 0.1000 |" in md and "tempo" not in md
    assert "40 tracks" in md and "0.9000 (95% CI 0.77-0.96, n=40)" in md


def test_explanation_lines_have_units_and_never_list_a_segment_twice():
    from genrekit.explain import explanation_lines

    p = np.array([[0.6, 0.4], [0.55, 0.45], [0.45, 0.55]])  # 3 segments: for, for, against
    times = np.array([[0.0, 3.0], [3.0, 6.0], [6.0, 9.0]])
    d = explain_track(p, times, ["folk", "pop"], method="mean_log").to_dict(top=3)
    pro = {s["segment"] for s in d["strongest"]}
    con = {s["segment"] for s in d["weakest"]}
    assert pro == {0, 1} and con == {2} and not pro & con
    lines = explanation_lines(d)
    lead = d["track_margin"]
    ratio = f"folk is {np.exp(lead):.2f}x as likely as pop"
    assert lines[0] == f"runner-up: pop; folk leads it by {lead:+.3g} log-odds ({ratio})"
    assert lines[2].startswith("segments most against folk (share of the lead, log-odds): 6.0-9.0 s -")
    assert "6.0-9.0" not in lines[1] and "0.0-3.0 s +" in lines[1]
    # all segments agree: nothing is listed against
    agree = explain_track(np.array([[0.7, 0.3], [0.8, 0.2]]), times[:2], ["folk", "pop"], method="mean_prob")
    text = explanation_lines(agree.to_dict())
    assert text[-1] == "segments most against folk: none (no segment prefers pop)"
    assert text[0] == "runner-up: pop; folk leads it by +50 probability points (75.0% against 25.0%)"
    assert "probability points" in text[1]
