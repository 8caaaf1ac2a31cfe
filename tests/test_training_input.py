"""Workflow edge cases: grouping with partial artists, folds that cannot train a genre, damaged bundles."""

from __future__ import annotations

import json
import os
import shutil
import warnings
import zipfile

import numpy as np
import pytest

from genrekit import fitting, training
from genrekit.bundle import Bundle, load_bundle, save_bundle
from genrekit.data.folders import load_dataset
from genrekit.data.tracks import resolve_group_by
from genrekit.errors import DatasetError, ModelError
from genrekit.training import FeatureSet, compare, evaluate, fit_model, make_split, train


def _manifest(tiny_corpus, path, rows):
    path.write_text(
        "path,label,artist\n" + "".join(f"{tiny_corpus / p},{lab},{art}\n" for p, lab, art in rows)
    )
    return path


def _files(tiny_corpus):
    return sorted(p.relative_to(tiny_corpus).as_posix() for p in tiny_corpus.rglob("*.wav"))


def test_one_missing_artist_keeps_artist_grouping(tiny_corpus, tmp_path):
    files = _files(tiny_corpus)[:6]
    rows = [(f, f.split("/")[0], f"artist {i // 2}") for i, f in enumerate(files)]
    rows[5] = (rows[5][0], rows[5][1], "")  # one track without an artist
    ds = load_dataset(_manifest(tiny_corpus, tmp_path / "m.csv", rows))
    assert resolve_group_by(ds, "auto") == "artist"
    groups = ds.groups("auto")
    assert groups[0] == groups[1] == "artist:artist 0" and groups[5].startswith("track:")


def test_search_groups_artists_like_the_splits():
    fs = FeatureSet(
        np.zeros((4, 1), np.float32), np.array(["a", "a", "b", "b"]), np.array(["t1", "t2", "t3", "t4"]),
        np.array(["The Beatles", "the beatles ", "Queen", None], dtype=object), ["x"],
    )  # fmt: skip
    g = fs.split_groups()
    assert g[0] == g[1] == "artist:the beatles" and g[2] == "artist:queen" and g[3] == "track:t4"


def test_select_tracks_matches_whole_ids_only():
    fs = FeatureSet(
        np.arange(3, dtype=np.float32)[:, None], np.array(["rock", "rock", "jazz"]),
        np.array(["rock/song", "rock/song", "jazz/tune"]), np.full(3, None, dtype=object), ["x"],
    )  # fmt: skip
    assert len(fs.select_tracks(["rock/song (live)"]).X) == 0
    assert len(fs.select_tracks(["rock/song"]).X) == 2


def test_folds_that_cannot_train_a_genre_fail_before_any_fit(tiny_corpus, tmp_path, monkeypatch):
    files = _files(tiny_corpus)
    genres = sorted({f.split("/")[0] for f in files})
    keep = [f for f in files if not f.startswith(genres[0])] + [
        next(f for f in files if f.startswith(genres[0]))
    ]
    ds = load_dataset(_manifest(tiny_corpus, tmp_path / "m.csv", [(f, f.split("/")[0], "") for f in keep]))
    fits = []
    monkeypatch.setattr(training, "fit_model", lambda *a, **k: fits.append(a) or pytest.fail("fitted"))
    with pytest.raises(
        DatasetError, match=rf"with 3 folds, fold \d tests genre\(s\) \['{genres[0]}'\] without"
    ):
        compare(ds, models=["knn"], folds=3, cache_dir=tmp_path / "c")
    assert fits == []


def test_a_model_that_cannot_fit_is_a_model_error():
    fs = FeatureSet(
        np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32), np.array(list("aabbcc")),
        np.array([f"t{i}" for i in range(6)]), np.full(6, None, dtype=object), ["x", "y", "z"],
    )  # fmt: skip
    with pytest.raises(ModelError, match=r"model 'mlp' could not be fitted on 6 segments of 6 tracks: .*"):
        fit_model("mlp", fs)


def test_evaluate_with_folds_refits_the_bundles_parameters(tiny_corpus, tmp_path, monkeypatch):
    out = tmp_path / "m"
    train(tiny_corpus, features="handcrafted", model="logreg", params={"C": 0.01}, out=out,
          test_size=0, cache_dir=tmp_path / "c")  # fmt: skip
    shipped = load_bundle(out).params
    seen = []
    real = training.fit_model

    def spy(kind, fs, **kw):
        seen.append(kw.get("params"))
        return real(kind, fs, **kw)

    monkeypatch.setattr(training, "fit_model", spy)
    evaluate(out, tiny_corpus, folds=3, cache_dir=tmp_path / "c")
    assert len(seen) == 3 and all(p == shipped for p in seen) and shipped


def test_damaged_and_doctored_bundles_are_model_errors(tiny_corpus, tmp_path):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0]]), ["a", "b"])
    z = save_bundle(Bundle(model, "logreg", ["a", "b"], None, feature_names=["x"]), tmp_path / "m.zip")
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("model.skops")
    data[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF  # one byte of the stored weights
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(
        ModelError, match=r"bad.zip: (damaged bundle zip|weight file model.skops does not match)"
    ):
        load_bundle(bad)
    d = save_bundle(Bundle(model, "logreg", ["a", "b"], None, feature_names=["x"]), tmp_path / "dir")
    meta = json.loads((d / "bundle.json").read_text())
    (d / "bundle.json").write_text(json.dumps({**meta, "weights": {}}))
    with pytest.raises(ModelError, match="lists no digest for model.skops; refusing to load it unchecked"):
        load_bundle(d)
    (d / "bundle.json").write_text(json.dumps({**meta, "weights": ["model.skops"]}))
    with pytest.raises(ModelError, match=r"dir: weights has the wrong type \(list, expected an object\)"):
        load_bundle(d)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(ModelError, match=r"^.*empty.zip: not a genrekit bundle \(no bundle.json\)$"):
        load_bundle(empty)


def test_symlinked_album_folders_are_walked_once(tiny_corpus, tmp_path):
    root = tmp_path / "lib"
    genre = sorted(p.name for p in tiny_corpus.iterdir() if p.is_dir())[0]
    (root / genre).mkdir(parents=True)
    album = tmp_path / "elsewhere"
    album.mkdir()
    for f in sorted((tiny_corpus / genre).glob("*.wav"))[:2]:
        shutil.copy(f, album / f.name)
    os.symlink(album, root / genre / "album")
    os.symlink(root / genre, album / "back-up")  # a loop
    ds = load_dataset(root)
    assert len(ds) == 2 and ds.counts() == {genre: 2}


def test_a_single_test_list_leaves_nothing_out(tiny_corpus, tmp_path):
    ds = load_dataset(tiny_corpus)
    lst = tmp_path / "test.txt"
    lst.write_text("\n".join(t.relpath for t in ds.tracks[:3]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split = make_split(ds, split_file=lst)
    assert len(split.test) == 3 and len(split.train) == len(ds) - 3


def test_svm_calibration_folds_keep_each_track_on_one_side():
    from genrekit.models.registry import build_model

    rng = np.random.default_rng(0)
    groups = np.repeat([f"t{i}" for i in range(12)], 5)  # 12 tracks x 5 segments
    y = np.repeat(list("abc" * 4), 5)
    fs = FeatureSet(
        (rng.standard_normal((60, 4)) + (y == "a")[:, None]).astype(np.float32), y, groups,
        np.full(60, None, dtype=object), list("wxyz"),
    )  # fmt: skip
    model = build_model("svm")
    restore = fitting._group_calibration_folds(model, fs, seed=0)
    folds = model.named_steps["clf"].cv
    assert len(folds) == 3
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te]) and set(y[tr]) == {"a", "b", "c"}
    restore()
    assert model.named_steps["clf"].cv == 3
    fitted = fit_model("svm", fs).model
    assert fitted.named_steps["clf"].cv == 3 and fitted.predict_proba(fs.X[:2]).shape == (2, 3)


def test_search_refits_the_best_parameters_with_grouped_calibration(monkeypatch):
    rng = np.random.default_rng(1)
    groups = np.repeat([f"t{i}" for i in range(12)], 5)
    y = np.repeat(list("abc" * 4), 5)
    fs = FeatureSet(
        (rng.standard_normal((60, 4)) + 2 * (y == "a")[:, None]).astype(np.float32), y, groups,
        np.full(60, None, dtype=object), list("wxyz"),
    )  # fmt: skip
    seen = []
    real = fitting._group_calibration_folds

    def spy(model, fs_, seed):
        restore = real(model, fs_, seed)
        seen.append(model.named_steps["clf"].cv)
        return restore

    monkeypatch.setattr(fitting, "_group_calibration_folds", spy)
    r = fit_model("svm", fs, search=True)
    best = r.search["best_params"]
    assert r.params == best and r.model.named_steps["clf"].estimator.C == best["clf__estimator__C"]
    assert len(seen) == 1 and isinstance(seen[0], list)  # the refit's calibration folds were grouped
    assert r.model.named_steps["clf"].cv == 3
