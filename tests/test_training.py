from __future__ import annotations

import shutil

import numpy as np
import pytest

from genrekit.config import TrainConfig
from genrekit.data.folders import load_dataset
from genrekit.errors import ConfigError, DatasetError
from genrekit.predict import load_model
from genrekit.training import compare, evaluate, extract_features, make_split, train

pytestmark = pytest.mark.slow


def train_logreg(corpus, root, **options):
    """Train logreg on hand-crafted features into ``root/m``, with the feature cache in ``root/cache``."""
    return train(
        corpus, features="handcrafted", model="logreg", out=root / "m", cache_dir=root / "cache", **options
    )


def test_train_scores_held_out_tracks_and_saves_a_bundle(tiny_corpus, tmp_path):
    res = train_logreg(tiny_corpus, tmp_path, seed=0)
    run = res.run
    assert run is not None and run.result.n_tracks >= 4
    assert run.result.track.accuracy > 0.5  # 4 genres: chance is 0.25
    # no track of the test side was seen in training
    split = make_split(load_dataset(tiny_corpus), seed=0)
    assert set(run.result.track_keys) == set(split.test)
    assert not set(split.test) & set(split.train + split.val)
    # the saved bundle predicts exactly what the in-memory classifier does
    clf = load_model(tmp_path / "m")
    wav = sorted(tiny_corpus.glob("metal/*.wav"))[0]
    a, b = clf.predict(wav), res.classifier.predict(wav)
    assert a.probabilities == b.probabilities
    assert clf.bundle.metrics["test"]["track"]["accuracy"] == pytest.approx(run.result.track.accuracy)
    assert clf.bundle.data["n_tracks"] == 24
    # the bundle holds the run's config whole: training from it again gives the same model
    assert clf.bundle.training == TrainConfig(model="logreg")
    again = train(tiny_corpus, clf.bundle.training, cache_dir=tmp_path / "cache")
    assert again.classifier.predict(wav).probabilities == a.probabilities


def test_compare_with_folds_writes_a_report(tiny_corpus, tmp_path):
    res = compare(
        tiny_corpus,
        features="handcrafted",
        models=["knn", "rf"],
        folds=3,
        report=tmp_path / "r",
        cache_dir=tmp_path / "cache",
    )
    assert {r.name for r in res.runs} == {"knn", "rf"}
    for r in res.runs:
        assert r.result.n_tracks == 24  # pooled out-of-fold predictions cover every track once
        assert r.result.track.accuracy > 0.5
        assert "folds" in r.extra
    assert (res.report / "report.html").is_file() and (res.report / "metrics.json").is_file()
    md = (res.report / "report.md").read_text()
    assert "Calibration (track level)" in md and (res.report / "reliability_knn.png").is_file()


@pytest.fixture(scope="module")
def all_tracks_bundle(tiny_corpus, tmp_path_factory):
    """A logreg bundle trained on every track of the tiny corpus, and its feature cache."""
    root = tmp_path_factory.mktemp("all_tracks")
    train_logreg(tiny_corpus, root, test_size=0)
    return root / "m", root / "cache"


def test_evaluate_bundle_on_data(tiny_corpus, all_tracks_bundle, tmp_path):
    model, cache = all_tracks_bundle
    res = evaluate(model, tiny_corpus, report=tmp_path / "e", cache_dir=cache)
    assert res.runs[0].result.n_tracks == 24
    assert res.runs[0].result.track.accuracy > 0.8  # scored on its own training data


def test_unreadable_file_is_reported_and_skipped(tiny_corpus, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_corpus, data)
    (data / "jazz" / "broken.wav").write_text("not audio at all")
    fs = extract_features(load_dataset(data), _extractor(), cache_dir=None)
    assert len(fs.failures) == 1 and "broken.wav" in fs.failures[0][0]
    assert "not an audio file" in fs.failures[0][1]
    assert len(np.unique(fs.groups)) == 24


def _extractor():
    from genrekit.features.registry import get_extractor

    return get_extractor("handcrafted")


def test_bad_datasets(tiny_corpus, tmp_path):
    single = tmp_path / "single"
    shutil.copytree(tiny_corpus / "jazz", single / "jazz")
    with pytest.raises(DatasetError, match="single class"):
        train(single, model="logreg", test_size=0)
    empty = tmp_path / "empty_class"
    shutil.copytree(tiny_corpus, empty)
    (empty / "blues").mkdir()
    with pytest.raises(DatasetError, match="blues"):
        train(empty, model="logreg")
    with pytest.raises(ConfigError, match="valid models: .*logreg"):
        train(tiny_corpus, model="deep-forest")


def test_calibrated_and_augmented_training(tiny_corpus, tmp_path):
    from genrekit.models.calibrated import TemperatureScaled

    res = train_logreg(tiny_corpus, tmp_path, calibrate=True, augment="noise")
    cal = res.bundle.metrics["calibration"]
    assert cal["temperature"] > 0 and cal["fitted_on_tracks"] >= 4
    assert {"test_ece_before", "test_ece_after"} <= set(cal)
    assert res.bundle.extra["augment"] == {"degradations": "noise", "copies": 1}
    clf = load_model(tmp_path / "m")
    assert isinstance(clf.model, TemperatureScaled)
    assert clf.model.temperature == pytest.approx(cal["temperature"])
    # the bundle describes the plain extractor: prediction never augments
    assert clf.extractor.to_dict() == res.classifier.extractor.to_dict()
    assert "augment" not in clf.extractor.to_dict()


def test_evaluate_report_has_calibration_and_importance(tiny_corpus, all_tracks_bundle, tmp_path):
    model, cache = all_tracks_bundle
    res = evaluate(
        model, tiny_corpus, report=tmp_path / "e", cache_dir=cache, importance=True, importance_repeats=2
    )
    md, name = (res.report / "report.md").read_text(), res.runs[0].name  # the bundle's folder name
    assert "Calibration (track level)" in md and (res.report / f"reliability_{name}.png").is_file()
    assert f"Permutation importance: {name}" in md and (res.report / f"importance_{name}.png").is_file()
    table = res.importance
    # the 218 default hand-crafted columns form 66 groups (mean/var/std summaries of one feature permuted
    # together: the 29 Kaggle ones, 20 MFCC deltas, 7 contrast bands, 6 tonnetz, flatness, onset, pulse,
    # low energy), each scored once
    assert len(table) == 66 and table["feature"].is_unique and "mfcc1" in set(table["feature"])
    assert table.attrs["baseline"]["accuracy"] == pytest.approx(res.runs[0].result.track.accuracy)
    assert table["log_loss_increase_mean"].iloc[:3].max() > 0  # permuting something matters
    assert (res.report / "importance.csv").is_file()
    with pytest.raises(ConfigError, match="folds"):
        evaluate(model, tiny_corpus, folds=2, importance=True)


def test_knn_on_fewer_rows_than_neighbours_votes_over_them_all():
    """A tiny training side: knn's 7 neighbours (and a search grid up to 31) are capped, with a warning,
    instead of a fit that fails at every prediction."""
    from genrekit.data.featureset import FeatureSet
    from genrekit.fitting import fit_model

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 0.1, (3, 2)), rng.normal(2, 0.1, (3, 2))]).astype(np.float32)
    y = np.array(["a"] * 3 + ["b"] * 3)
    tracks, artists = np.array([f"t{i}" for i in range(6)]), np.array([None] * 6, dtype=object)
    fs = FeatureSet(X, y, tracks, artists, ["u", "v"])
    with pytest.warns(UserWarning, match=r"n_neighbors=7 is more than the 6 training segments; using 6"):
        res = fit_model("knn", fs)
    assert res.model.get_params()["clf__n_neighbors"] == 6
    assert list(res.model.predict(np.array([[-2.0, -2.0], [2.0, 2.0]], dtype=np.float32))) == ["a", "b"]
    with pytest.warns(UserWarning):
        searched = fit_model("knn", fs, search=True, cv_folds=3)
    assert searched.params["clf__n_neighbors"] <= 4  # a 3-fold training side holds 4 of the 6 rows
