"""Issue 19 behaviours on synthesized data: split lists naming clips one lacks, lists checked before any
extraction, accuracies with intervals and small-test warnings, ``compare -p``, grouped neural holdout."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from genrekit import training
from genrekit.cli import app
from genrekit.data.folders import load_dataset
from genrekit.data.splits import split_from_files
from genrekit.errors import ConfigError, DatasetError
from genrekit.features.handcrafted import HandcraftedExtractor
from genrekit.metrics import (
    accuracy_with_interval,
    evaluate_predictions,
    small_test_warnings,
    wilson_interval,
)
from genrekit.training import FeatureSet, compare, fit_model, make_split, train

runner = CliRunner()


def invoke(*args: object):
    """Run the CLI; ``.output`` with rich's line wrapping undone (runs of whitespace become one space)."""
    res = runner.invoke(app, [str(a) for a in args])
    res.flat = " ".join(res.output.split())
    return res


def _lists(tiny_corpus, folder, n_missing=3):
    """train/test lists over the corpus (4 tracks per genre train, 2 test) plus entries it lacks."""
    ds = load_dataset(tiny_corpus)
    folder.mkdir(exist_ok=True)
    train, test = [], []
    for genre in sorted(ds.counts()):
        paths = [t.relpath for t in ds.tracks if t.label == genre]
        train += paths[:4]
        test += paths[4:]
    missing = [f"blues/blues.{900 + i:05d}.wav" for i in range(n_missing)]
    (folder / "train_filtered.txt").write_text("\n".join(train + missing[:1]) + "\n")
    (folder / "test_filtered.txt").write_text("\n".join(test + missing[1:]) + "\n")
    return ds, folder


# ---- split lists naming clips the user does not have ---------------------------------------------------
def test_missing_entries_are_an_error_by_default_and_say_how_to_ignore(tiny_corpus, tmp_path):
    ds, folder = _lists(tiny_corpus, tmp_path / "lists")
    with pytest.raises(DatasetError, match=r"3 split-list entries not in the dataset.*split-missing ignore"):
        make_split(ds, split_file=folder)


def test_missing_entries_ignored_are_counted_per_list(tiny_corpus, tmp_path):
    ds, folder = _lists(tiny_corpus, tmp_path / "lists")
    with pytest.warns(UserWarning, match=r"3 split-list entries name no track .*1 train, 2 test"):
        split = make_split(ds, split_file=folder, split_missing="ignore")
    assert split.missing == {"train": 1, "test": 2}
    assert len(split.train) == 16 and len(split.test) == 8 and "3 listed tracks not in the dataset" in (
        split.description
    )
    with pytest.raises(ConfigError, match="split-missing rule"):
        split_from_files(ds, train=[], test=[], missing="skip")


def test_a_bad_split_file_fails_before_any_extraction(tiny_corpus, tmp_path, monkeypatch):
    ds, folder = _lists(tiny_corpus, tmp_path / "lists")

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were extracted before the split lists were checked")

    monkeypatch.setattr(training, "extract_features", no_extraction)
    with pytest.raises(DatasetError, match="not in the dataset"):
        train(ds, model="logreg", split_file=folder)
    with pytest.raises(DatasetError, match="not in the dataset"):
        compare(ds, models=["logreg"], split_file=folder)
    res = invoke("train", tiny_corpus, "--out", tmp_path / "m", "--split-file", folder / "nowhere.txt")
    assert res.exit_code != 0 and "split file not found" in res.flat


def test_cli_train_takes_a_list_with_missing_clips_and_prints_an_interval(tiny_corpus, tmp_path):
    _, folder = _lists(tiny_corpus, tmp_path / "lists")
    res = invoke(
        "train", tiny_corpus, "--out", tmp_path / "m", "--model", "logreg", "--split-file", folder,
        "--split-missing", "ignore", "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    m = re.search(r"test accuracy (\d\.\d{3}) \(95% CI (\d\.\d{3})-(\d\.\d{3})\)", res.flat)
    assert m, res.output
    acc, lo, hi = map(float, m.groups())
    assert lo <= acc <= hi and hi - lo > 0.2  # 8 test tracks: a wide interval
    assert "3 listed tracks not in the dataset ignored" in res.flat
    # 2 test tracks per genre: every genre is flagged
    assert "few test tracks for 4 genre(s)" in res.flat


def test_cli_train_says_when_the_split_is_by_track_only(tiny_corpus, tmp_path):
    res = invoke(
        "train", tiny_corpus, "--out", tmp_path / "m", "--model", "logreg", "--test-size", "0.34",
        "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "grouped by track only: no artist information" in res.flat


# ---- intervals and warnings ----------------------------------------------------------------------------
def test_wilson_interval_known_values():
    lo, hi = wilson_interval(40, 50)
    assert lo == pytest.approx(0.6697, abs=1e-3) and hi == pytest.approx(0.8876, abs=1e-3)
    lo, hi = wilson_interval(8, 8)  # "1.000 on 8 tracks" is at best "above ~0.68"
    assert lo == pytest.approx(0.6756, abs=1e-3) and hi == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0) and wilson_interval(0, 10)[0] == 0.0
    assert accuracy_with_interval(1.0, 8) == "1.000 (95% CI 0.676-1.000)"
    with pytest.raises(ConfigError):
        wilson_interval(1, 2, confidence=1.5)


def test_small_test_warning_names_the_genres_under_five_tracks():
    y = np.array(["a"] * 6 + ["b"] * 2)
    proba = np.tile([[0.9, 0.1]], (8, 1))
    res = evaluate_predictions(y, proba, np.arange(8).astype(str), ["a", "b"])
    (line,) = small_test_warnings(res)
    assert "1 genre(s) (b 2;" in line
    assert small_test_warnings(res, min_tracks=2) == []


# ---- compare -p ----------------------------------------------------------------------------------------
def test_compare_takes_per_model_params(tiny_corpus, tmp_path):
    res = compare(
        tiny_corpus, models=["logreg", "knn"], params={"knn": {"n_neighbors": 1}}, test_size=0.34,
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    params = {r.name: r.extra["params"] for r in res.runs}
    assert params["knn"] == {"n_neighbors": 1} and params["logreg"] == {}
    out = invoke(
        "compare", tiny_corpus, "--report", tmp_path / "r", "--models", "logreg,knn",
        "-p", "knn:n_neighbors=1", "-p", "logreg:C=0.5", "--test-size", "0.34",
        "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "95% CI" in out.flat
    bad = invoke(
        "compare", tiny_corpus, "--report", tmp_path / "r2", "--models", "logreg", "-p", "svm:C=3",
    )  # fmt: skip
    assert bad.exit_code != 0 and "not compared" in bad.flat


def test_per_model_params_plain_keys_go_to_every_model():
    from genrekit.cli.core import per_model_params

    got = per_model_params(["random_state=3", "svm:C=2"], ["svm", "logreg"])
    assert got == {"svm": {"random_state": 3, "C": 2}, "logreg": {"random_state": 3}}


# ---- SVM calibration with few tracks per genre ---------------------------------------------------------
def _track_rows(n_per_class, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n_per_class)
    X = (rng.standard_normal((len(y), 4)) + 3 * (y == "a")[:, None]).astype(np.float32)
    ids = np.array([f"t{i}" for i in range(len(y))])
    return FeatureSet(X, y, ids, np.full(len(y), None, object), list("wxyz"))


def test_svm_on_track_rows_with_two_tracks_a_genre_calibrates_on_two_folds():
    fitted = fit_model("svm", _track_rows(2)).model
    assert fitted.predict_proba(np.zeros((1, 4), np.float32)).shape == (1, 3)


def test_svm_with_a_single_track_of_a_genre_fits_and_says_it_is_uncalibrated():
    from genrekit.errors import ModelError

    fs = _track_rows(4)
    keep = np.r_[0:8, 8]  # one track of "c"
    fs = FeatureSet(fs.X[keep], fs.y[keep], fs.groups[keep], fs.artists[keep], fs.names)
    with pytest.warns(UserWarning, match=r"\['c'\] have a single training track"):
        fitted = fit_model("svm", fs).model
    assert list(fitted.classes_) == ["a", "b", "c"] and fitted.named_steps["clf"].cv == 3
    fs2 = FeatureSet(fs.X[:6], np.array(["a"] * 4 + ["b", "c"]), fs.groups[:6], fs.artists[:6], fs.names)
    with pytest.raises(ModelError, match="at least 2 training tracks of two genres"):
        fit_model("svm", fs2)


# ---- neural early-stopping holdout grouped by artist ---------------------------------------------------
def test_neural_holdout_is_grouped_by_artist():
    pytest.importorskip("torch")

    rng = np.random.default_rng(0)
    n_tracks, segs = 16, 2
    y = np.repeat(np.array(["a", "b"] * (n_tracks // 2)), segs)
    groups = np.repeat([f"t{i}" for i in range(n_tracks)], segs)
    artists = np.repeat([f"artist {i // 2}" for i in range(n_tracks)], segs).astype(object)  # 2 tracks each
    X = rng.standard_normal((len(y), 8 * 8)).astype(np.float32)
    fs = FeatureSet(X, y, groups, artists, [f"f{i}" for i in range(64)], frame_shape=(8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_model("cnn", fs, params={"epochs": 1, "val_size": 0.25, "batch_size": 8}).model
    val_tracks = set(model.val_groups_)
    assert val_tracks
    artist_of = dict(zip(groups, artists, strict=True))
    val_artists = {artist_of[t] for t in val_tracks}
    # every track of a validation artist is on the validation side: no artist on both sides
    assert {t for t in set(groups) if artist_of[t] in val_artists} == val_tracks


# ---- compare --ablate / --separability -----------------------------------------------------------------
def test_compare_ablation_and_separability_in_the_report(tiny_corpus, tmp_path):
    res = compare(
        tiny_corpus, models=["logreg"], test_size=0.34, cache_dir=tmp_path / "cache", report=tmp_path / "r",
        ablate=True, separability=True,
    )  # fmt: skip
    rows = res.ablation
    assert [r["dropped"] for r in rows] == ["none", "mfcc", "chroma", "spectral shape", "rhythm", "energy"]
    n_cols = len(HandcraftedExtractor().names)
    assert rows[1]["columns"] == 2 * 60 and sum(r["columns"] for r in rows) == n_cols
    for r in rows[1:]:
        assert r["change_lo"] <= r["change"] <= r["change_hi"]
        assert r["change"] == pytest.approx(r["accuracy"] - rows[0]["accuracy"])
    classes, m = res.separability
    assert classes == sorted(load_dataset(tiny_corpus).counts()) and m.shape == (4, 4)
    assert np.isnan(np.diag(m)).all() and np.allclose(m, m.T, equal_nan=True)
    off = m[~np.eye(4, dtype=bool)]
    assert ((off >= 0) & (off <= 1)).all() and off.mean() > 0.75  # synthesized genres are easy to tell apart
    md = (res.report / "report.md").read_text()
    assert "Feature-group ablation" in md and "Genre-pair separability" in md
    assert (res.report / "separability.png").is_file()


def test_ablation_needs_named_groups(tiny_corpus, tmp_path):
    with pytest.raises(ConfigError, match="named feature groups"):
        compare(tiny_corpus, features="mfcc", feature_options={"summary": True}, models=["logreg"],
                test_size=0.34, ablate=True)  # fmt: skip
