"""One predict path: the Python API, the CLI, the service and batch give the same answer for a file.

The same synthesized files (tones the tiny model tells apart, broadband noise it must answer ``unsure``
to, a track longer than ``max_segments`` segments, so the segment sampling is exercised) go through
``Classifier.predict``, ``genrekit classify --json`` (in process), ``POST /v1/classify`` and
``/v1/classify/batch`` (TestClient) and ``run_batch`` to its output store, with and without a crop
window; genres must be identical and probabilities agree to 1e-6.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from genrekit import batch
from genrekit.cli import app as cli_app
from genrekit.predict import MAX_SEGMENTS, load_model
from genrekit.service.app import create_app
from test_batch import SR, _tone, _train_bundle

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project depends on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOL = 1e-6
LONG_S = MAX_SEGMENTS + 4.5  # the tiny extractor's segments are 1 s: more than max_segments of them


def _noise(duration_s: float, seed: int) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(int(duration_s * SR))).astype(np.float32)


def _long(seed: int) -> np.ndarray:
    """Low tone, then high, then low: the middle (the crop) is high, the whole track mostly low."""
    parts = [_tone(300, 5.0, seed), _tone(2500, 5.0, seed + 1), _tone(300, LONG_S - 10.0, seed + 2)]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("one-path")
    signals = {
        "low.wav": _tone(300, 2.5, seed=1),
        "high.wav": _tone(2500, 3.2, seed=2),
        "hiss.wav": _noise(2.0, seed=3),
        "long.flac": _long(seed=4),
    }
    for name, y in signals.items():
        sf.write(root / name, y, SR)
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train_bundle(tmp_path_factory.mktemp("model") / "tiny-logreg")


def _api(bundle: Path, paths: list[Path], crop_s: float | None) -> dict[str, dict[str, Any]]:
    clf = load_model(bundle)
    out = {}
    for p in paths:
        pred = clf.predict(p, crop_s=crop_s)
        out[p.name] = {"genre": pred.genre, "probabilities": pred.probabilities, "n": len(pred.segments)}
    return out


def _cli(bundle: Path, paths: list[Path], crop_s: float | None) -> dict[str, dict[str, Any]]:
    args = ["classify", "-m", str(bundle), "--json", "--segments", *map(str, paths)]
    if crop_s is not None:
        args += ["--crop-s", str(crop_s)]
    res = CliRunner().invoke(cli_app, args)
    assert res.exit_code == 0, res.output
    out = {}
    for line in res.stdout.splitlines():
        d = json.loads(line)
        out[Path(d["source"]).name] = {
            "genre": d["genre"],
            "probabilities": d["probabilities"],
            "n": len(d["segments"]),
        }
    return out


def _service(bundle: Path, paths: list[Path], crop_s: float | None) -> list[dict[str, dict[str, Any]]]:
    """The answers of ``/v1/classify`` (one request a file) and of one ``/v1/classify/batch`` request."""
    query = "" if crop_s is None else f"?crop_s={crop_s}"
    uploads = [("audio", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    single, batched = {}, {}
    with TestClient(create_app(str(bundle), warmup=False)) as c:
        for up in uploads:
            r = c.post(f"/v1/classify{query}", files=[up])
            assert r.status_code == 200, r.text
            d = r.json()
            single[d["source"]] = {
                "genre": d["genre"],
                "probabilities": d["probabilities"],
                "n": len(d["segments"]),
            }
        sep = "&" if query else "?"
        r = c.post(f"/v1/classify/batch{query}{sep}segments=true", files=uploads)
        assert r.status_code == 200, r.text
        for item in r.json()["results"]:
            assert item["ok"], item
            d = item["result"]
            batched[item["filename"]] = {
                "genre": d["genre"],
                "probabilities": d["probabilities"],
                "n": len(d["segments"]),
            }
    return [single, batched]


def _batch(bundle: Path, root: Path, out: Path, crop_s: float | None) -> dict[str, dict[str, Any]]:
    job = batch.BatchJob("classify", model=str(bundle), top_k=0, crop_s=crop_s)
    res = batch.run_batch(root, out, job, chunk_size=3)
    assert res.errors == 0 and res.ok == 4
    rows = batch.read_results(out)
    return {
        Path(r.path).name: {
            "genre": r.genre,
            "probabilities": dict(zip(r.top_genres, r.top_probs, strict=True)),
            "n": int(r.n_segments),
        }
        for r in rows.itertuples()
    }


@pytest.mark.parametrize("crop_s", [None, 5.0])
def test_api_cli_service_and_batch_give_the_same_answer(
    files: Path, bundle: Path, tmp_path: Path, crop_s: float | None
) -> None:
    paths = sorted(files.iterdir())
    api = _api(bundle, paths, crop_s)
    # the known answers: the model and the path work, so agreement below is not agreement on nonsense
    assert api["low.wav"]["genre"] == "low" and api["high.wav"]["genre"] == "high"
    assert api["hiss.wav"]["genre"] == "unsure"  # broadband noise, by the predict path's own check
    assert api["long.flac"]["genre"] == ("high" if crop_s else "low")
    assert api["long.flac"]["n"] == (5 if crop_s else MAX_SEGMENTS)  # sampled: not all 14 segments
    others = {
        "cli": _cli(bundle, paths, crop_s),
        **dict(zip(("service", "service batch"), _service(bundle, paths, crop_s), strict=True)),
        "batch": _batch(bundle, files, tmp_path / "out", crop_s),
    }
    for entry, answers in others.items():
        assert set(answers) == set(api), entry
        for name, want in api.items():
            got = answers[name]
            assert got["genre"] == want["genre"], (entry, name)
            assert got["n"] == want["n"], (entry, name)
            assert list(got["probabilities"]) == list(want["probabilities"]), (entry, name)  # same order
            np.testing.assert_allclose(
                list(got["probabilities"].values()),
                list(want["probabilities"].values()),
                atol=TOL,
                err_msg=f"{entry}: {name}",
            )


class _NaNWhenLoud:
    """A model that gives non-finite probabilities for segments louder than 0.4 RMS (a broken model)."""

    def __init__(self, model) -> None:
        self.model, self.classes_ = model, model.classes_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        p[X[:, 0] > 0.4] = np.nan
        return p


def test_predict_batch_keeps_each_failure_with_its_signal(bundle: Path) -> None:
    from genrekit.errors import AudioError, ModelError
    from genrekit.predict import Classifier

    base = load_model(bundle)
    clf = Classifier(base.extractor, _NaNWhenLoud(base.model), name="nan-when-loud")
    quiet, loud = _tone(300, 2.0, seed=5), 2.0 * _tone(2500, 2.0, seed=6)
    signals = [quiet, np.zeros(SR, np.float32), loud, _tone(2500, 2.0, seed=7)]
    out = clf.predict_batch(signals, SR, sources=["quiet", "silent", "loud", "high"])
    assert isinstance(out[1], AudioError) and out[1].source == "silent"
    # the grouped predict_proba call had NaN rows: only the loud signal's answer is an error
    assert isinstance(out[2], ModelError) and "non-finite probabilities" in out[2].message
    assert out[2].source == "loud"
    assert (out[0].genre, out[3].genre) == ("low", "high")
    for i in (0, 3):  # each answer is the one-signal path's
        one = clf.predict_audio(signals[i], SR)
        assert out[i].probabilities == pytest.approx(one.probabilities, abs=TOL)
        assert len(out[i].segments) == len(one.segments) == 2
