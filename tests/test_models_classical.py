from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import ConfigError, ModelError
from genrekit.models.aggregate import aggregate, aggregate_track
from genrekit.models.classical import CLASSICAL_KINDS, XGBoostClassifier, make_model, param_grid
from genrekit.models.registry import available, build_model


def _blobs(rng, n_per=60, n_classes=4, dim=8):
    centers = rng.normal(scale=3.0, size=(n_classes, dim))
    X = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centers]).astype(np.float32)
    y = np.repeat([f"g{i}" for i in range(n_classes)], n_per)
    return X, y


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_every_family_learns_above_chance(rng, kind):
    X, y = _blobs(rng)
    idx = rng.permutation(len(y))
    tr, te = idx[:160], idx[160:]
    model = make_model(kind, random_state=0).fit(X[tr], y[tr])
    proba = model.predict_proba(X[te])
    assert proba.shape == (len(te), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert list(model.classes_) == ["g0", "g1", "g2", "g3"]
    acc = np.mean(np.asarray(model.classes_)[proba.argmax(axis=1)] == y[te])
    assert acc > 0.6  # chance is 0.25


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_grids_are_valid_parameters(kind):
    model = make_model(kind)
    for key, values in param_grid(kind).items():
        model.set_params(**{key: values[0]})


def test_plain_parameter_names_reach_the_final_estimator():
    assert make_model("svm", C=3.0).get_params()["clf__estimator__C"] == 3.0
    assert make_model("knn", n_neighbors=3).get_params()["clf__n_neighbors"] == 3
    with pytest.raises(ModelError, match="bad parameter"):
        make_model("knn", no_such_thing=1)


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="valid models: .*knn.*svm"):
        build_model("deep-magic")
    assert set(CLASSICAL_KINDS) <= set(available())


def test_xgboost_binary_and_pca(rng):
    X, y = _blobs(rng, n_classes=2)
    m = XGBoostClassifier(pca_components=3, n_estimators=50).fit(X, y)
    assert m.pca_.n_components_ == 3
    p = m.predict_proba(X)
    assert p.shape == (120, 2) and np.mean(m.predict(X) == y) > 0.9


def test_aggregation_math():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    np.testing.assert_allclose(aggregate_track(p, method="mean_prob"), [0.55, 0.45])
    g = np.sqrt([0.9 * 0.2, 0.1 * 0.8])
    np.testing.assert_allclose(aggregate_track(p, method="mean_log"), g / g.sum())
    vote = aggregate_track(p, method="vote")  # 1-1 tie broken by the mean probability (class 0)
    assert vote[0] > vote[1] and vote.sum() == pytest.approx(1.0)
    three = np.array([[0.6, 0.4], [0.6, 0.4], [0.1, 0.9]])
    np.testing.assert_allclose(aggregate_track(three, method="vote"), [2 / 3, 1 / 3], atol=1e-6)
    with pytest.raises(ConfigError, match="valid aggregation methods"):
        aggregate_track(p, method="median")


def test_aggregate_by_group_keeps_first_appearance_order():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    out, keys = aggregate(p, np.array(["b", "a", "a", "b"]), method="mean_prob")
    assert keys.tolist() == ["b", "a"]
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.25, 0.75]])


def test_xgboost_follows_the_estimator_contract(rng):
    """A keyword-only estimator dataclass: clone keeps the parameters and drops the fit; repr is sklearn's."""
    import inspect

    from sklearn.base import clone

    params = inspect.signature(XGBoostClassifier).parameters.values()
    assert params and all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    with pytest.raises(TypeError):
        XGBoostClassifier(50)
    m = XGBoostClassifier(n_estimators=20, max_depth=2)
    assert repr(m) == "XGBoostClassifier(max_depth=2, n_estimators=20)"
    X, y = _blobs(rng, n_per=20, n_classes=3)
    m.fit(X, y)
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "booster_")
    assert c != m and m == m  # estimators compare by identity, like scikit-learn's
