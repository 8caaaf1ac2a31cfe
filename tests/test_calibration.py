from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from genrekit import calibration as C
from genrekit.errors import ConfigError
from genrekit.models import calibrated as M
from genrekit.models.aggregate import aggregate


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def calibrated(rng) -> tuple[np.ndarray, np.ndarray]:
    """Logits z (n, 5) and labels drawn from softmax(z): z is calibrated by construction."""
    z = 2.0 * rng.standard_normal((6000, 5))
    p = softmax(z)
    y = np.array([rng.choice(5, p=row) for row in p])
    return z, y


class OverConfident(ClassifierMixin, BaseEstimator):
    """Wraps a fitted model and sharpens its probabilities: p ** power, renormalised."""

    def __init__(self, model=None, power: float = 4.0):
        self.model = model
        self.power = power

    @property
    def classes_(self):
        return self.model.classes_

    def predict_proba(self, X):
        p = self.model.predict_proba(X) ** self.power
        return p / p.sum(axis=1, keepdims=True)


def test_fit_temperature_recovers_the_sharpening_factor(calibrated):
    z, y = calibrated
    over = softmax(3.0 * z)  # deliberately over-confident by a factor 3
    t = M.fit_temperature(over, y)
    assert t == pytest.approx(3.0, rel=0.08)
    assert M.fit_temperature(3.0 * z, y, kind="logits") == pytest.approx(t, rel=1e-3)
    assert M.fit_temperature(z, y, kind="logits") == pytest.approx(1.0, rel=0.08)
    scaled = M.apply_temperature(over, t)
    assert M.nll(y, scaled) < M.nll(y, over) - 0.1
    assert C.expected_calibration_error(y, over) > 0.1
    assert C.expected_calibration_error(y, scaled) < 0.03
    assert np.array_equal(scaled.argmax(axis=1), over.argmax(axis=1))  # accuracy unchanged


def test_temperature_scaling_lowers_validation_log_loss_of_an_overconfident_model(rng):
    centers = 1.2 * rng.standard_normal((4, 6))
    lab = rng.integers(0, 4, 1600)
    X = centers[lab] + rng.standard_normal((1600, 6))
    y = np.array(["a", "b", "c", "d"])[lab]
    base = LogisticRegression(max_iter=500).fit(X[:800], y[:800])
    over = OverConfident(base, power=4.0)
    X_val, y_val = X[800:1200], y[800:1200]
    X_test, y_test = X[1200:], y[1200:]
    scaled = M.TemperatureScaled(over).fit(X_val, y_val)
    assert scaled.temperature_ > 2.0
    classes = list(scaled.classes_)
    yv, yt = M.labels_to_index(y_val, classes), M.labels_to_index(y_test, classes)
    assert M.nll(yv, scaled.predict_proba(X_val)) < M.nll(yv, over.predict_proba(X_val)) - 0.2
    assert M.nll(yt, scaled.predict_proba(X_test)) < M.nll(yt, over.predict_proba(X_test))
    assert C.expected_calibration_error(yt, scaled.predict_proba(X_test)) < C.expected_calibration_error(
        yt, over.predict_proba(X_test)
    )
    assert np.array_equal(scaled.predict(X_test), base.predict(X_test))


def test_temperature_scaled_follows_the_sklearn_contract(rng):
    X = rng.standard_normal((60, 3))
    y = np.where(X[:, 0] > 0, "hi", "lo")
    inner = LogisticRegression().fit(X, y)
    m = M.TemperatureScaled(inner, 2.0)
    assert list(m.classes_) == ["hi", "lo"]
    p = m.predict_proba(X)
    assert p.shape == (60, 2) and np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(p, M.apply_temperature(inner.predict_proba(X), 2.0))
    assert np.allclose(M.TemperatureScaled(inner, 1.0).predict_proba(X), inner.predict_proba(X))
    assert m.get_params()["temperature"] == 2.0
    assert clone(m).temperature == 2.0
    with pytest.raises(ConfigError, match="temperature"):
        M.TemperatureScaled(inner, 0.0).predict_proba(X)


def test_track_temperature_matches_track_level_fit_for_mean_log(rng):
    n_tracks, n_seg, k = 300, 4, 3
    track_logits = np.clip(1.2 * rng.standard_normal((n_tracks, k)), -3, 3)
    y_idx = np.array([rng.choice(k, p=row) for row in softmax(track_logits)])
    # twice too sharp; no probability below the 1e-7 floor of the aggregation, so the identity is exact
    seg_logits = np.repeat(2.0 * track_logits, n_seg, axis=0) + 0.3 * rng.standard_normal(
        (n_tracks * n_seg, k)
    )
    seg_p = softmax(seg_logits)
    groups = np.repeat([f"t{i}" for i in range(n_tracks)], n_seg)
    classes = ["x", "y", "z"]
    labels = np.repeat(np.array(classes)[y_idx], n_seg)
    t = M.fit_track_temperature(seg_p, labels, groups, classes, aggregation="mean_log")
    track_p, _ = aggregate(seg_p, groups, method="mean_log")
    assert t == pytest.approx(M.fit_temperature(track_p, y_idx), rel=1e-3)
    assert t == pytest.approx(2.0, rel=0.15)
    assert softmax(seg_logits).min() > 1e-7
    # the model wrapper then gives exactly the calibrated tracks
    scaled_tracks, _ = aggregate(M.apply_temperature(seg_p, t), groups, method="mean_log")
    assert np.allclose(scaled_tracks, M.apply_temperature(track_p, t), atol=1e-9)
    t_prob = M.fit_track_temperature(seg_p, labels, groups, classes, aggregation="mean_prob")
    assert t_prob > 1.3


def test_ece_and_reliability_curve_on_hand_made_cases():
    p = np.tile([0.8, 0.2], (10, 1))
    y_all = np.zeros(10, dtype=int)
    y_eight = np.array([0] * 8 + [1] * 2)
    assert C.expected_calibration_error(y_eight, p) == pytest.approx(0.0)
    assert C.expected_calibration_error(y_all, p) == pytest.approx(0.2)
    conf, acc, count = C.reliability_curve(y_eight, p, n_bins=5)
    assert count.tolist() == [0, 0, 0, 10, 0]  # 0.8 lies in (0.6, 0.8]
    assert conf[3] == pytest.approx(0.8) and acc[3] == pytest.approx(0.8)
    assert np.isnan(conf[0]) and np.isnan(acc[0])
    # two bins: 0.6 confident and right half the time, 0.9 confident and always right
    p2 = np.array([[0.6, 0.4]] * 4 + [[0.9, 0.1]] * 4)
    y2 = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    assert C.expected_calibration_error(y2, p2, n_bins=10) == pytest.approx((4 * 0.1 + 4 * 0.1) / 8)
    s = C.calibration_summary(y2, p2, n_bins=10)
    assert s["n"] == 8 and s["accuracy"] == pytest.approx(0.75) and s["mce"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="n_bins"):
        C.reliability_curve(y2, p2, n_bins=0)
    with pytest.raises(ConfigError, match="integer"):
        C.expected_calibration_error(np.array(["a"] * 8), p2)


def test_decide_answers_unsure_exactly_below_the_threshold():
    probs = {"rock": 0.6, "pop": 0.3, "jazz": 0.1}
    assert M.decide(probs, 0.6) == ("rock", 0.6)
    assert M.decide(probs, 0.59999) == ("rock", 0.6)
    assert M.decide(probs, 0.60001) == (M.UNSURE, 0.6)
    assert M.decide(probs, None) == ("rock", 0.6)
    assert M.decide(probs, 0.0) == ("rock", 0.6)
    assert M.decide({"a": 0.5, "b": 0.5}, 1.0) == ("unsure", 0.5)
    assert M.decide({"b": 0.2, "a": 0.8}, 0.5) == ("a", 0.8)  # the top, not the first
    for bad in (-0.1, 1.5, "high"):
        with pytest.raises(ConfigError, match="min_confidence"):
            M.decide(probs, bad)
    with pytest.raises(ConfigError):
        M.decide({}, 0.5)


def test_plot_reliability_and_table(tmp_path, calibrated):
    z, y = calibrated
    over = softmax(3.0 * z)
    curves = {"raw": (y, over), "scaled": (y, M.apply_temperature(over, 3.0))}
    path = C.plot_reliability(curves, tmp_path / "r" / "rel.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = C.calibration_table(curves)
    assert table["name"].tolist() == ["raw", "scaled"]
    assert table.loc[0, "ece"] > table.loc[1, "ece"]
    assert table.loc[0, "accuracy"] == pytest.approx(table.loc[1, "accuracy"])


def test_calibration_section_for_a_report(tmp_path, rng):
    from genrekit.metrics import ModelRun, evaluate_predictions

    classes = ["a", "b", "c"]
    y = np.repeat(np.array(classes)[rng.integers(0, 3, 20)], 2)
    p = rng.dirichlet(np.ones(3), size=40)
    groups = np.repeat([f"t{i}" for i in range(20)], 2)
    run = ModelRun("svm/x", evaluate_predictions(y, p, groups, classes))
    from genrekit.render import blocks_markdown

    section = C.calibration_section([run], tmp_path)
    text = blocks_markdown(section.blocks)
    assert section.heading == "Calibration (track level)"
    assert "| svm/x | 20 |" in text and "ECE" in text and "95% CI" in text
    png = next(tmp_path.glob("reliability_*.png"))
    assert f"]({png.name})" in text
    ece = C.expected_calibration_error(
        M.labels_to_index(run.result.track_true, classes), run.result.track_proba
    )
    assert f"{ece:.4f}" in text


def test_a_perfect_validation_set_does_not_drive_the_temperature_to_zero(rng):
    n, k = 50, 4
    y = rng.integers(0, k, n)
    z = rng.standard_normal((n, k))
    z[np.arange(n), y] += 6.0  # every row right
    assert (z.argmax(axis=1) == y).all()
    assert M.fit_temperature(z, y, kind="logits", cap_confidence=False) == pytest.approx(
        M.T_BOUNDS[0], rel=1e-3
    )
    t = M.fit_temperature(z, y, kind="logits")
    assert t > 0.2
    assert np.mean(softmax(z / t).max(axis=1)) == pytest.approx((n + 1) / (n + 2), abs=1e-5)
    # the same at track level
    seg = softmax(np.repeat(z, 2, axis=0))
    groups = np.repeat([f"t{i}" for i in range(n)], 2)
    labels = np.repeat(np.array(list("abcd"))[y], 2)
    tt = M.fit_track_temperature(seg, labels, groups, list("abcd"))
    track, _ = aggregate(M.apply_temperature(seg, tt), groups)
    assert np.mean(track.max(axis=1)) == pytest.approx((n + 1) / (n + 2), abs=1e-5)
