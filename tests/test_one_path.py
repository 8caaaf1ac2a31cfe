"""One predict path: the Python API, the CLI, the service and batch give the same answer for a file.

The same synthesized files (tones the tiny model tells apart, broadband noise it must answer ``unsure``
to, tracks longer than ``max_segments`` segments, so the segment sampling is exercised, among them
75 s songs of chords as wav and as mp3 at another rate than the model's) go through
``Classifier.predict``, ``genrekit classify --json`` (in process), ``POST /v1/classify`` and
``/v1/classify/batch`` (TestClient) and ``run_batch`` to its output store, with and without a crop
window, with the tiny extractor and with one that computes segments from windows (so a long file is
classified from the windows of its sampled segments only, decoded by seeking, on every path); genres must
be identical, probabilities agree to 1e-6 and durations to the millisecond.
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
from genrekit.features import registry
from genrekit.predict import MAX_SEGMENTS, load_model
from genrekit.service.app import create_app
from test_batch import SR, TinyExtractor, _tone, _train_bundle
from toys import WindowedToy

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project depends on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOL = 1e-6
LONG_S = MAX_SEGMENTS + 4.5  # the tiny extractor's segments are 1 s: more than max_segments of them
SONG_S, SONG_SR = 75.0, 22050  # the songs: 75 segments, at a rate the model resamples from
N_FILES = 6


class WindowedTiny(WindowedToy, TinyExtractor):
    """The tiny extractor that computes its segments from windows of a file too (as musicnn does)."""

    name = "tiny-windowed-test"


registry.register(WindowedTiny.name, f"{WindowedTiny.__module__}:WindowedTiny")


def _noise(duration_s: float, seed: int) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(int(duration_s * SR))).astype(np.float32)


def _long(seed: int) -> np.ndarray:
    """Low tone, then high, then low: the middle (the crop) is high, the whole track mostly low."""
    parts = [_tone(300, 5.0, seed), _tone(2500, 5.0, seed + 1), _tone(300, LONG_S - 10.0, seed + 2)]
    return np.concatenate(parts)


def _song(seed: int, sr: int = SONG_SR) -> np.ndarray:
    """5 s blocks of low chords (300 + 450 Hz), every fourth from the second one high (2500 + 3300 Hz)."""
    t = np.arange(int(5.0 * sr)) / sr
    rng = np.random.default_rng(seed)
    blocks = []
    for i in range(int(SONG_S // 5)):
        f1, f2 = (2500, 3300) if i % 4 == 1 else (300, 450)
        y = 0.3 * np.sin(2 * np.pi * f1 * t) + 0.2 * np.sin(2 * np.pi * f2 * t)
        blocks.append(y + 0.03 * rng.standard_normal(len(t)))
    return np.concatenate(blocks).astype(np.float32)


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
    sf.write(root / "song.wav", _song(seed=5), SONG_SR)
    sf.write(root / "song.mp3", _song(seed=6), SONG_SR)
    return root


@pytest.fixture(scope="module", params=["tiny", "windowed"])
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, on the tiny extractor or on its windowed twin (long files read by windows)."""
    ext = WindowedTiny() if request.param == "windowed" else None
    return _train_bundle(tmp_path_factory.mktemp("model") / f"{request.param}-logreg", extractor=ext)


def _api(bundle: Path, paths: list[Path], crop_s: float | None) -> dict[str, dict[str, Any]]:
    clf = load_model(bundle)
    out = {}
    for p in paths:
        pred = clf.predict(p, crop_s=crop_s)
        out[p.name] = _answer(pred.to_dict())
    return out


def _answer(d: dict[str, Any]) -> dict[str, Any]:
    """What is compared of a prediction (as ``Prediction.to_dict`` gives it)."""
    return {
        "genre": d["genre"],
        "probabilities": d["probabilities"],
        "n": len(d["segments"]),
        "duration_s": d["duration_s"],
    }


def _cli(bundle: Path, paths: list[Path], crop_s: float | None) -> dict[str, dict[str, Any]]:
    args = ["classify", "-m", str(bundle), "--json", "--segments", *map(str, paths)]
    if crop_s is not None:
        args += ["--crop-s", str(crop_s)]
    res = CliRunner().invoke(cli_app, args)
    assert res.exit_code == 0, res.output
    out = {}
    for line in res.stdout.splitlines():
        d = json.loads(line)
        out[Path(d["source"]).name] = _answer(d)
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
            single[d["source"]] = _answer(d)
        sep = "&" if query else "?"
        r = c.post(f"/v1/classify/batch{query}{sep}segments=true", files=uploads)
        assert r.status_code == 200, r.text
        for item in r.json()["results"]:
            assert item["ok"], item
            batched[item["filename"]] = _answer(item["result"])
    return [single, batched]


def _batch(bundle: Path, root: Path, out: Path, crop_s: float | None) -> dict[str, dict[str, Any]]:
    job = batch.BatchJob("classify", model=str(bundle), top_k=0, crop_s=crop_s)
    res = batch.run_batch(root, out, job, chunk_size=3)
    assert res.errors == 0 and res.ok == N_FILES
    rows = batch.read_results(out)
    return {
        Path(r.path).name: {
            "genre": r.genre,
            "probabilities": dict(zip(r.top_genres, r.top_probs, strict=True)),
            "n": int(r.n_segments),
            "duration_s": r.duration_s,
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
    for song in ("song.wav", "song.mp3"):  # mostly low chords, and low in the middle
        assert api[song]["genre"] == "low" and api[song]["n"] == (5 if crop_s else MAX_SEGMENTS), song
        assert api[song]["duration_s"] == pytest.approx(SONG_S, abs=0.1)
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
            assert got["duration_s"] == pytest.approx(want["duration_s"], abs=1e-3), (entry, name)
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


def test_batch_and_the_service_read_a_long_file_by_its_sampled_windows_only(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Batch runs and ``/v1/classify/batch`` decode a long file as ``predict`` does: only the windows of its
    sampled segments (what a batch group's memory bound counts); windows the signal checks refuse (silent
    exactly where it samples) send the file to the whole decode, as in ``predict``."""
    import genrekit.predict as gp
    from genrekit.predict import Classifier, select_segments

    bundle = _train_bundle(tmp_path / "windowed", extractor=WindowedTiny())
    root = tmp_path / "in"
    root.mkdir()
    for name in ("song.wav", "song.mp3"):
        (root / name).write_bytes((files / name).read_bytes())
    sampled = set(select_segments(40, MAX_SEGMENTS).tolist())
    gaps = [np.zeros(SR, np.float32) if i in sampled else _tone(300, 1.0, seed=i) for i in range(40)]
    sf.write(root / "gaps.wav", np.concatenate(gaps), SR)

    decoded: dict[str, list[str]] = {"windows": [], "whole": []}
    groups: list[list[tuple[str, int]]] = []

    def spy(kind: str, real: Any) -> Any:
        def call(source: Any, *args: Any, **kwargs: Any) -> Any:
            decoded[kind].append(Path(getattr(source, "name", source)).name)
            return real(source, *args, **kwargs)

        return call

    def batch_spy(self: Classifier, signals: list[Any], *args: Any, **kwargs: Any) -> Any:
        groups.append(sorted((type(s).__name__, len(s)) for s in signals))
        return real_batch(self, signals, *args, **kwargs)

    real_batch = Classifier.predict_batch
    monkeypatch.setattr(gp, "load_windows", spy("windows", gp.load_windows))
    monkeypatch.setattr(gp, "load_crop", spy("whole", gp.load_crop))
    monkeypatch.setattr(Classifier, "predict_batch", batch_spy)
    job = batch.BatchJob("classify", model=str(bundle), top_k=0, group_audio_s=30.0)
    res = batch.run_batch(root, tmp_path / "out", job, chunk_size=3)
    assert (res.ok, res.errors) == (3, 0)
    assert sorted(decoded["windows"]) == ["gaps.wav", "song.mp3", "song.wav"]
    assert decoded["whole"] == ["gaps.wav"]  # its windows are silent: the whole file, as predict does
    assert "mpg123" not in capfd.readouterr().err  # its complaints after a seek into the mp3 are not shown
    # the group bound counts what was decoded: twelve 1 s windows of each song (not 75 s), gaps.wav whole
    window = SR * MAX_SEGMENTS
    assert sorted(groups) == [[("SampledAudio", window), ("SampledAudio", window)], [("ndarray", 40 * SR)]]
    clf = load_model(bundle)
    rows = {Path(r.path).name: r for r in batch.read_results(tmp_path / "out").itertuples()}
    for name, row in rows.items():
        want = clf.predict(root / name)
        assert row.genre == want.genre and row.duration_s == pytest.approx(want.duration_s, abs=1e-3)
        assert row.n_segments == len(want.segments) == MAX_SEGMENTS and row.elapsed_s > 0
        got = dict(zip(row.top_genres, row.top_probs, strict=True))
        assert got == pytest.approx(want.probabilities, abs=TOL), name

    decoded["windows"].clear()
    decoded["whole"].clear()
    uploads = [("audio", (p.name, p.read_bytes(), "audio/x-wav")) for p in sorted(root.iterdir())]
    with TestClient(create_app(str(bundle), warmup=False)) as c:
        r = c.post("/v1/classify/batch", files=uploads)
    assert r.status_code == 200 and r.json()["n_ok"] == 3, r.text
    assert sorted(decoded["windows"]) == ["gaps.wav", "song.mp3", "song.wav"]
    assert decoded["whole"] == ["gaps.wav"]
