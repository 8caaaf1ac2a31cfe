"""Bundles are untrusted input (issue 14): no callable is loaded, bundle.json is bounded, zips are capped.

Every test builds its hostile bundle from a small valid one saved here (an 8 kHz MFCC-summary logistic
regression), so the suite needs no data and each case takes milliseconds.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import genrekit.bundle as bundle_mod
from genrekit.bundle import (
    SKOPS_ALLOWED_TYPES,
    Bundle,
    _sha256,
    load_bundle,
    save_bundle,
    skops_types,
)
from genrekit.bundle_schema import MAX_DEPTH, MAX_META_BYTES
from genrekit.errors import AudioError, GenreKitError, ModelError
from genrekit.features.registry import get_extractor
from genrekit.models.classical import CLASSICAL_KINDS, make_model, param_grid
from genrekit.predict import load_model

SR = 8000


def _extractor():
    return get_extractor(
        "mfcc", sr=SR, n_fft=256, hop_length=128, n_mels=16, n_mfcc=8, segment_s=1.0, summary=True
    )


def _signal(seconds: float = 2.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(3)
    return (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="session")
def valid_bundle(tmp_path_factory) -> Path:
    """A small audio bundle that loads and predicts (features from synthesized signals)."""
    ext = _extractor()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, ext.dim)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "loud", "soft")
    model = make_model("logreg").fit(X, y)
    b = Bundle(model=model, kind="logreg", labels=["loud", "soft"], extractor=ext.to_dict(),
               feature_names=list(ext.names), extra={"temperature": 1.5})
    return save_bundle(b, tmp_path_factory.mktemp("valid") / "bundle")


@pytest.fixture
def bundle_dir(valid_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(valid_bundle, tmp_path / "b"))


def _meta(path: Path) -> dict:
    return json.loads((path / "bundle.json").read_text())


def _write_meta(path: Path, meta: dict) -> None:
    (path / "bundle.json").write_text(json.dumps(meta))


def _replace_weights(path: Path, model) -> None:
    """What the attacker does: new model.skops, and its digest written into bundle.json."""
    sio.dump(model, path / "model.skops")
    meta = _meta(path)
    meta["weights"]["model.skops"] = _sha256(path / "model.skops")
    _write_meta(path, meta)


def _one_line_error(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    assert type(exc.value) is ModelError, type(exc.value)
    return msg


# ------------------------------------------------------------------------------- no callable loaded
def _exploit(path: Path, func, kw_args: dict) -> Pipeline:
    fitted = load_bundle(path).model
    evil = Pipeline([("f", FunctionTransformer(func=func, kw_args=kw_args)), ("m", fitted)])
    _replace_weights(path, evil)
    return evil


def test_the_issue_exploit_is_refused_and_writes_nothing(bundle_dir, tmp_path):
    from sklearn.datasets import dump_svmlight_file

    target = tmp_path / "pwned"
    _exploit(bundle_dir, dump_svmlight_file, {"y": [0], "f": str(target)})
    # the control: what the old prefix rule ("sklearn.", "numpy.") let through writes the file
    untrusted = sio.get_untrusted_types(file=bundle_dir / "model.skops")
    assert untrusted == ["sklearn.datasets._svmlight_format_io.dump_svmlight_file"]
    with warnings.catch_warnings(), pytest.raises(Exception):  # noqa: B017 - fails after the write
        warnings.simplefilter("ignore")
        sio.load(bundle_dir / "model.skops", trusted=untrusted).predict_proba(np.zeros((1, 16)))
    assert target.exists()
    target.unlink()

    with pytest.raises(ModelError) as exc:
        load_model(bundle_dir).predict_audio(_signal(), SR)
    msg = _one_line_error(exc, bundle_dir)
    assert "sklearn.datasets._svmlight_format_io.dump_svmlight_file" in msg
    assert "type sklearn.preprocessing._function_transformer.FunctionTransformer" in msg  # not listed either
    assert "a FunctionNode" in msg
    assert not target.exists()


def test_np_save_variant_is_refused(bundle_dir, tmp_path):
    target = tmp_path / "pwned.npy"
    _exploit(bundle_dir, np.save, {"file": str(target)})
    with pytest.raises(ModelError) as exc:
        load_model(bundle_dir)
    assert "numpy.save" in _one_line_error(exc, bundle_dir)
    assert not target.exists()


def test_function_transformer_alone_is_refused(bundle_dir):
    fitted = load_bundle(bundle_dir).model
    _replace_weights(bundle_dir, Pipeline([("f", FunctionTransformer()), ("m", fitted)]))
    with pytest.raises(ModelError, match="FunctionTransformer, which genrekit does not load"):
        load_bundle(bundle_dir)


def test_a_zipped_exploit_is_refused(bundle_dir, tmp_path):
    target = tmp_path / "pwned.npy"
    _exploit(bundle_dir, np.save, {"file": str(target)})
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in bundle_dir.iterdir():
            zf.write(f, f.name)
    with pytest.raises(ModelError) as exc:
        load_model(z)
    assert "numpy.save" in _one_line_error(exc, z) and "/tmp/genrekit-bundle-" not in str(exc.value)
    assert not target.exists()


def _variants(kind: str) -> list[dict]:
    """The model as built, and each value of its search grid on its own."""
    out: list[dict] = [{}]
    for key, values in param_grid(kind).items():
        out += [{key: v} for v in values]
    if kind == "rf":
        out.append({"clf__n_estimators": 5})
    return out


@pytest.mark.parametrize("kind", CLASSICAL_KINDS)
def test_every_model_genrekit_saves_is_on_the_allow_list(tmp_path, kind):
    """The allow-list is derived from this: every family, every grid value, 2 and 3 classes."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    labels = (np.where(X[:, 0] > 0, "rock", "jazz"), np.where(X[:, 0] > 0.4, "rock",
                                                              np.where(X[:, 1] > 0, "jazz", "pop")))
    seen: set[str] = set()
    for i, params in enumerate(_variants(kind)):
        for j, y in enumerate(labels if i == 0 else labels[1:]):  # grid values: three classes only
            # the types do not depend on the tree count or the iterations: keep the fits small
            if kind == "rf" and "clf__n_estimators" not in params:
                params = {**params, "clf__n_estimators": 20}
            if kind == "mlp":
                params = {**params, "clf__max_iter": 20, "clf__early_stopping": False}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = make_model(kind, **params).fit(X, y)
            path = save_bundle(
                Bundle(model=model, kind=kind, labels=sorted(set(y)), extractor=None,
                       feature_names=[f"f{k}" for k in range(5)]),
                tmp_path / f"{i}-{j}",
            )
            types = skops_types(path / "model.skops", path)
            assert set(types) <= SKOPS_ALLOWED_TYPES
            seen.update(types)
            back = load_bundle(path).model
            np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X), rtol=1e-6, atol=1e-9)
    assert "sklearn.pipeline.Pipeline" in seen


# ----------------------------------------------------------------------------------- the schema
@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("extractor", "config", "n_fft"), 2**40,
         "extractor.config.n_fft = 1099511627776 is out of range [16, 65536]"),
        (("extractor", "config", "segment_s"), 1e308, "extractor.config.segment_s = 1e+308 is out of range"),
        (("extractor", "config", "segment_s"), 1e-9, "extractor.config.segment_s = 1e-09 is out of range"),
        (("extractor", "config", "sr"), 10**15,
         "extractor.config.sr = 1000000000000000 is out of range [1000, 384000]"),
        (("extractor", "config", "hop_length"), "128", "hop_length = \"128\" has the wrong type"),
        (("extractor", "config", "n_mels"), -1, "extractor.config.n_mels = -1 is out of range"),
        (("extractor", "config", "hop_s"), float("nan"), "extractor.config.hop_s = nan is not a finite"),
        (("extractor", "config", "hop_length"), 1, "hop_length = 1 at sr = 8000 gives 8,000 frames per"),
        (("extractor", "config", "n_mfcc"), 17, "extractor: n_mfcc must be an integer in [1, n_mels=16]"),
        (("extractor", "name"), "nope", "extractor: unknown feature extractor 'nope'"),
        (("format_version",), 1.0, "format_version = 1.0 has the wrong type (number, expected an integer)"),
        (("format_version",), True, "format_version = true has the wrong type"),
        (("format_version",), 2, "newer than this genrekit supports"),
        (("labels",), ["loud"], "labels has 1 entries; allowed: 2 to 10000"),
        (("labels", 0), 7, "labels[0] = 7 has the wrong type"),
        (("aggregation",), "max", "aggregation = \"max\" is not one of"),
        (("extra", "temperature"), 0.0, "extra.temperature = 0.0 is out of range"),
        (("model", "format"), "pickle", "model.format = \"pickle\" is not one of 'skops' or 'safetensors'"),
        (("weights", "model.skops"), "00", "is not a sha256 hex digest"),
        (("feature_names",), ["a", "b"], "feature_names (2) do not match the 'mfcc' extractor's output"),
        (("model",), None, "model = null has the wrong type"),
    ],
)
def test_bundle_json_values_are_typed_and_bounded(bundle_dir, where, value, message):
    meta = _meta(bundle_dir)
    node = meta
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    _write_meta(bundle_dir, meta)
    with pytest.raises(ModelError) as exc:  # a bundle error, never the user's AudioError
        load_model(bundle_dir).predict_audio(_signal(), SR)
    msg = _one_line_error(exc, bundle_dir)
    assert message in msg
    assert msg.startswith(f"bundle {bundle_dir}: ")


def test_missing_keys_are_named(bundle_dir):
    meta = _meta(bundle_dir)
    del meta["labels"]
    _write_meta(bundle_dir, meta)
    with pytest.raises(ModelError, match="labels is missing"):
        load_bundle(bundle_dir)


def test_deep_nesting_is_refused_before_parsing(bundle_dir):
    n = 100_000
    text = (bundle_dir / "bundle.json").read_text()
    text = text.replace('"metrics": {}', '"metrics": ' + "[" * n + "]" * n, 1)
    (bundle_dir / "bundle.json").write_text(text)
    with pytest.raises(ModelError) as exc:
        load_bundle(bundle_dir)
    msg = _one_line_error(exc, bundle_dir)
    assert f"bundle.json is nested {n + 1} deep; at most {MAX_DEPTH} allowed" in msg


def test_brackets_inside_strings_do_not_count_as_nesting(bundle_dir):
    meta = _meta(bundle_dir)
    meta["created"] = "[[[[{{{{" * 8
    meta["metrics"] = {"note": "]]]] \\\" [[[[" * 30}
    _write_meta(bundle_dir, meta)
    assert load_bundle(bundle_dir).created.startswith("[[[[")


def test_oversized_bundle_json_is_refused(bundle_dir):
    meta = _meta(bundle_dir)
    meta["metrics"] = {"pad": "x" * (MAX_META_BYTES + 10)}
    _write_meta(bundle_dir, meta)
    with pytest.raises(ModelError, match="bundle.json is larger than 4 MiB"):
        load_bundle(bundle_dir)


def test_a_deep_skops_schema_is_refused(bundle_dir):
    n = 50_000
    with zipfile.ZipFile(bundle_dir / "model.skops", "w") as zf:
        zf.writestr("schema.json", '{"protocol": 2, "x": ' + "[" * n + "]" * n + "}")
    meta = _meta(bundle_dir)
    meta["weights"]["model.skops"] = _sha256(bundle_dir / "model.skops")
    _write_meta(bundle_dir, meta)
    with pytest.raises(ModelError, match="schema.json is nested"):
        load_bundle(bundle_dir)


def test_a_huge_network_description_is_refused(tmp_path):
    """A safetensors bundle's architecture is bounded before any layer is built."""
    meta = {
        "format": "genrekit-bundle", "format_version": 1, "labels": ["a", "b"], "extractor": None,
        "model": {"kind": "dnn", "format": "safetensors", "config": {
            "estimator": "DNNClassifier", "classes": ["a", "b"], "frame_shape": [65536, 1],
            "architecture": {"type": "dense", "in_dim": 65536, "hidden": [65536, 65536], "n_classes": 2,
                             "dropout": 0.1}}},
        "weights": {"model.safetensors": "0" * 64},
    }
    (tmp_path / "b").mkdir()
    _write_meta(tmp_path / "b", meta)
    with pytest.raises(ModelError, match=r"network of [\d,]+ parameters; at most 268,435,456"):
        load_bundle(tmp_path / "b")


# ----------------------------------------------------------------------------------------- zips
def _zip(bundle_dir: Path, z: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(bundle_dir.iterdir()):
            zf.write(f, f.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return z


@pytest.fixture
def extracted(monkeypatch) -> list[str]:
    """Names of the zip members unpacked to disk."""
    names: list[str] = []
    original = bundle_mod._extract_member

    def spy(zf, info, dest, name):
        names.append(info.filename)
        return original(zf, info, dest, name)

    monkeypatch.setattr(bundle_mod, "_extract_member", spy)
    return names


def test_a_zip_bomb_member_is_refused_before_unpacking(bundle_dir, tmp_path, extracted):
    z = _zip(bundle_dir, tmp_path / "bomb.zip")
    with zipfile.ZipFile(z, "a", zipfile.ZIP_DEFLATED) as zf, zf.open("pad.bin", "w", force_zip64=True) as f:
        chunk = bytes(1 << 20)
        for _ in range(48):  # 48 MiB of zeros, about 50 kB compressed
            f.write(chunk)
    assert z.stat().st_size < 1 << 20
    with pytest.raises(ModelError) as exc:
        load_bundle(z)
    assert "member 'pad.bin' expands" in _one_line_error(exc, z)
    assert extracted == []


def test_total_size_and_member_count_are_capped(bundle_dir, tmp_path, monkeypatch, extracted):
    noise = np.random.default_rng(0).bytes(1 << 20)  # incompressible: not a ratio problem
    z = _zip(bundle_dir, tmp_path / "big.zip", {"a.bin": noise, "b.bin": noise})
    monkeypatch.setattr(bundle_mod, "ZIP_MAX_TOTAL_BYTES", 2 << 20)
    with pytest.raises(ModelError, match=r"unpacks to [\d,]+ bytes; at most 2,097,152 allowed"):
        load_bundle(z)
    many = _zip(bundle_dir, tmp_path / "many.zip", {f"n{i}": b"" for i in range(bundle_mod.ZIP_MAX_MEMBERS)})
    with pytest.raises(ModelError, match=r"the zip has \d+ members; at most 64 allowed"):
        load_bundle(many)
    assert extracted == []


def test_a_huge_bundle_json_in_a_zip_is_refused_unread(bundle_dir, tmp_path, monkeypatch):
    z = tmp_path / "m.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("bundle.json", "w", force_zip64=True) as f:
            for _ in range(5):
                f.write(b" " * (1 << 20))
        zf.write(bundle_dir / "model.skops", "model.skops")
    monkeypatch.setattr(bundle_mod, "ZIP_RATIO_MIN_BYTES", 1 << 30)  # reach the size rule, not the ratio
    read = []
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, name: read.append(name))
    with pytest.raises(ModelError, match="bundle.json is larger than 4 MiB"):
        load_bundle(z)
    assert read == []


def test_only_the_bundle_files_are_unpacked(bundle_dir, tmp_path, extracted):
    z = _zip(bundle_dir, tmp_path / "m.zip", {"notes.txt": b"hello", "evil.py": b"import os"})
    clf = load_model(z)
    assert extracted == ["model.skops"]
    assert clf.predict_audio(_signal(), SR).genre in ("loud", "soft")


@pytest.mark.parametrize("member", ["../escape.txt", "/abs.txt", "sub/bundle.json", "a\\..\\b", ".."])
def test_zip_members_outside_the_bundle_are_refused(bundle_dir, tmp_path, member, extracted):
    z = _zip(bundle_dir, tmp_path / "m.zip", {member: b"x"})
    with pytest.raises(ModelError, match="is not a bundle file"):
        load_bundle(z)
    assert extracted == []
    assert not (tmp_path / "escape.txt").exists()


def test_weight_files_are_only_the_known_names(bundle_dir):
    meta = _meta(bundle_dir)
    meta["weights"]["../../etc/passwd"] = "0" * 64
    _write_meta(bundle_dir, meta)
    with pytest.raises(ModelError, match="weights names '../../etc/passwd'"):
        load_bundle(bundle_dir)


# ----------------------------------------------------------------------------------- serve start-up
@pytest.mark.parametrize("hostile", ["exploit", "n_fft", "deep"])
def test_serve_refuses_a_bad_bundle_at_start_up(bundle_dir, tmp_path, monkeypatch, hostile):
    import uvicorn
    from typer.testing import CliRunner

    from genrekit.cli import app

    target = tmp_path / "pwned.npy"
    if hostile == "exploit":
        _exploit(bundle_dir, np.save, {"file": str(target)})
    elif hostile == "n_fft":
        meta = _meta(bundle_dir)
        meta["extractor"]["config"]["n_fft"] = 2**40
        _write_meta(bundle_dir, meta)
    else:
        (bundle_dir / "bundle.json").write_text("[" * 100_000 + "]" * 100_000)

    def never(*a, **k):
        raise AssertionError("the server started")

    monkeypatch.setattr(uvicorn, "run", never)
    r = CliRunner().invoke(app, ["serve", "--model", str(bundle_dir), "--port", "0"])
    assert r.exit_code == 5, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: bundle ") and str(bundle_dir) in lines[0]
    assert not target.exists()


def test_serve_refuses_a_bundle_whose_model_does_not_fit_its_features(bundle_dir, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from genrekit.cli import app

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(bundle_mod, "_check_input_width", lambda *a: None)  # a check bypassed: the probe
    meta = _meta(bundle_dir)
    meta["extractor"]["config"]["n_mfcc"] = 4
    meta["feature_names"] = None
    _write_meta(bundle_dir, meta)
    r = CliRunner().invoke(app, ["serve", "--model", str(bundle_dir), "--port", "0"])
    assert r.exit_code == 5, r.output
    assert "the model fails on a test input (ValueError" in r.output


def test_serve_starts_with_a_valid_bundle(bundle_dir, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from genrekit.cli import app

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **k: started.append(application))
    r = CliRunner().invoke(app, ["serve", "--model", str(bundle_dir), "--port", "0"])
    assert r.exit_code == 0, r.output
    assert len(started) == 1


# ----------------------------------------------------------------------------------------- fuzzing
_FIELDS: list[tuple] = [
    ("format",), ("format_version",), ("genrekit_version",), ("created",), ("labels",), ("labels", 0),
    ("extractor",), ("extractor", "name"), ("extractor", "config"), ("extractor", "config", "sr"),
    ("extractor", "config", "n_fft"), ("extractor", "config", "hop_length"),
    ("extractor", "config", "n_mels"),
    ("extractor", "config", "n_mfcc"), ("extractor", "config", "segment_s"), ("extractor", "config", "hop_s"),
    ("extractor", "config", "pad"), ("extractor", "config", "summary"), ("feature_names",),
    ("feature_names", 0), ("aggregation",), ("model",), ("model", "kind"), ("model", "format"),
    ("model", "params"), ("model", "config"), ("weights",), ("weights", "model.skops"), ("metrics",),
    ("data",), ("extra",), ("extra", "temperature"),
]
_DELETE = object()
_DEEP = "__genrekit_deep_nesting__"
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2, 16, 2**31, 2**63, 10**15, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-9, 1e308, -0.0, 0.5, 3.0, 1e-300]),
    st.text(max_size=12),
    st.sampled_from(["mfcc", "logmel", "musicnn", "skops", "safetensors", "vote", "repeat", ""]),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=3),
    st.just(_DELETE),
    st.integers(min_value=MAX_DEPTH - 2, max_value=MAX_DEPTH + 2).map(lambda n: (_DEEP, n)),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: (_DEEP, n)),
)


def _mutate(meta: dict, where: tuple, value) -> None:
    node = meta
    for key in where[:-1]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return  # an earlier mutation removed or replaced the parent
    last = where[-1]
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int) and last < len(node)):
        if value is _DELETE:
            if isinstance(node, dict):
                node.pop(last, None)
        else:
            node[last] = list(value) if isinstance(value, tuple) else value


def _dumps(meta: dict) -> str:
    text = json.dumps(meta)  # NaN and Infinity as JavaScript's tokens: the parser must cope with them
    while f'["{_DEEP}", ' in text:
        i = text.index(f'["{_DEEP}", ')
        j = text.index("]", i)
        n = int(text[i + len(f'["{_DEEP}", '): j])
        text = text[:i] + "[" * n + "]" * n + text[j + 1:]
    return text


@settings(
    max_examples=70,
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.sampled_from(_FIELDS), _values), min_size=1, max_size=3))
def test_fuzzed_bundle_json_gives_an_answer_or_a_genrekit_error(valid_bundle, mutations):
    y = _signal(2.5)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(shutil.copytree(valid_bundle, Path(tmp) / "b"))
        meta = _meta(path)
        for where, value in mutations:
            _mutate(meta, where, value)
        (path / "bundle.json").write_text(_dumps(meta))
        try:
            clf = load_model(path)
            pred = clf.predict_audio(y, SR)
        except GenreKitError as exc:
            assert "\n" not in str(exc)
            if not isinstance(exc, AudioError):
                assert str(path) in str(exc) or "bundle" in str(exc), str(exc)
            return
        assert pred.genre in ("loud", "soft", "unsure")
        assert abs(sum(pred.probabilities.values()) - 1.0) < 1e-6
        assert sorted(Path(tmp).iterdir()) == [path]  # nothing written beside the bundle
