from __future__ import annotations

import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from genrekit.bundle import FORMAT_VERSION, Bundle, _sha256, load_bundle, save_bundle
from genrekit.errors import ModelError
from genrekit.models.classical import CLASSICAL_KINDS, make_model


def _data(rng, n=240):
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = np.where(X[:, 0] > 0.3, "rock", np.where(X[:, 1] > 0, "jazz", "pop"))
    return X, y


def _bundle(model, kind="logreg"):
    return Bundle(model=model, kind=kind, labels=[str(c) for c in model.classes_],
                  extractor=None, feature_names=[f"x{i}" for i in range(6)],
                  metrics={"test": {"accuracy": 0.9}}, data={"fingerprint": "abc"})


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_every_classical_model_round_trips(tmp_path, rng, kind):
    X, y = _data(rng)
    model = make_model(kind).fit(X, y)
    path = save_bundle(_bundle(model, kind), tmp_path / kind)
    loaded = load_bundle(path)
    np.testing.assert_array_equal(loaded.model.predict_proba(X), model.predict_proba(X))
    assert loaded.labels == ["jazz", "pop", "rock"]
    assert loaded.kind == kind and loaded.metrics["test"]["accuracy"] == 0.9
    meta = json.loads((path / "bundle.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["model"]["format"] == "skops"


def test_zip_round_trip(tmp_path, rng):
    X, y = _data(rng)
    model = make_model("logreg").fit(X, y)
    z = save_bundle(_bundle(model), tmp_path / "m.zip")
    assert zipfile.is_zipfile(z)
    np.testing.assert_allclose(load_bundle(z).model.predict_proba(X), model.predict_proba(X))


def test_tampered_weights_are_refused(tmp_path, rng):
    X, y = _data(rng)
    path = save_bundle(_bundle(make_model("logreg").fit(X, y)), tmp_path / "b")
    data = bytearray((path / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "model.skops").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its digest"):
        load_bundle(path)


def _replace_weights(path, payload: bytes):
    (path / "model.skops").write_bytes(payload)
    meta = json.loads((path / "bundle.json").read_text())
    meta["weights"]["model.skops"] = _sha256(path / "model.skops")
    (path / "bundle.json").write_text(json.dumps(meta))


def test_pickle_posing_as_skops_is_refused_without_running(tmp_path, rng):
    X, y = _data(rng)
    path = save_bundle(_bundle(make_model("logreg").fit(X, y)), tmp_path / "b")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    _replace_weights(path, pickle.dumps(Evil()))
    with pytest.raises(ModelError, match="not a readable skops file"):
        load_bundle(path)
    assert not marker.exists()


def test_untrusted_types_are_refused(tmp_path, rng):
    X, y = _data(rng)
    path = save_bundle(_bundle(make_model("logreg").fit(X, y)), tmp_path / "b")
    evil = Pipeline([("f", FunctionTransformer(func=os.system))])
    sio.dump(evil, tmp_path / "evil.skops")
    _replace_weights(path, (tmp_path / "evil.skops").read_bytes())
    with pytest.raises(ModelError, match="which genrekit does not load") as exc:
        load_bundle(path)
    assert "system" in str(exc.value)


def test_newer_format_and_foreign_folders(tmp_path, rng):
    X, y = _data(rng)
    path = save_bundle(_bundle(make_model("logreg").fit(X, y)), tmp_path / "b")
    meta = json.loads((path / "bundle.json").read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (path / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="newer than this genrekit supports"):
        load_bundle(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no bundle.json"):
        load_bundle(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "bundle.json").write_text('{"hello": 1}')
    with pytest.raises(ModelError, match="not a genrekit bundle"):
        load_bundle(tmp_path / "other")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelError, match="neither a directory nor a zip"):
        load_bundle(tmp_path / "notes.txt")
    with pytest.raises(ModelError, match="not found"):
        load_bundle(tmp_path / "missing")


def test_zip_with_path_traversal_is_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(ModelError, match="not a bundle file"):
        load_bundle(z)
    assert not (tmp_path.parent / "escape.txt").exists()
