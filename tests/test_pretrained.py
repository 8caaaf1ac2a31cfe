"""The named pretrained models: the shipped ``gtzan`` bundle, the listing, names, whole-song sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genrekit.errors import ConfigError, ModelError
from genrekit.synth import chord_loop

GTZAN_GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
SR = 16000


def _song(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A music-like signal: a chord loop of harmonic tones over a bass line and noise-burst drums."""
    return chord_loop(seconds, sr, seed=seed, harmonics=3, hit_every_s=0.5, hit_level=0.3)


# ------------------------------------------------------------------------------------- shipped bundle
def test_shipped_bundle_metadata():
    from genrekit.bundle import load_bundle, read_meta
    from genrekit.pretrained import PACKAGE_DIR

    path = PACKAGE_DIR / "gtzan"
    meta = read_meta(path)
    assert meta["labels"] == GTZAN_GENRES
    assert meta["extractor"]["name"] == "musicnn-msd"
    assert meta["extractor"]["config"]["output"] == "embedding" and meta["extractor"]["config"]["sr"] == 16000
    assert meta["aggregation"] == "mean_log"
    assert meta["genrekit_version"] and meta["format_version"] == 1
    assert set(meta["weights"]) == {"model.skops"}  # no pickle, a digest for the one weight file
    cv = meta["metrics"]["cv"]
    assert 0.85 <= cv["macro_recall"] <= 1.0 and 0.9 <= cv["accuracy_complete4"] <= 1.0
    assert cv["macro_recall_ci95"][0] <= cv["macro_recall"] <= cv["macro_recall_ci95"][1]
    assert sorted(cv["per_genre_recall"]) == GTZAN_GENRES
    cm = np.asarray(cv["confusion"]["matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 321 * cv["confusion"]["repeats"]
    assert set(cv["degraded"]) == {"noise_white@10", "noise_pink@10", "mp3@16"}
    for name, deg in cv["degraded"].items():  # every clip's held-out fold degraded, within 10 points of clean
        assert deg["n_clips"] == 321 and deg["gap"]["macro_recall"][0] <= 0.10, name
        assert deg["gap"]["accuracy_complete4"][0] <= 0.10 and 0 <= cv[f"ece_{name}"] <= 0.1, name
    assert "StratifiedGroupKFold" in cv["protocol"] and set(cv["rotation"]) == {
        "train->valid",
        "valid->train",
    }
    assert 0.05 < meta["extra"]["temperature"] < 20
    assert meta["data"]["n_tracks"] == 321 and sum(meta["data"]["counts"].values()) == 321
    bundle = load_bundle(path)  # digests checked, skops types allow-listed
    assert list(bundle.model.classes_) == GTZAN_GENRES
    # small: the package must stay light
    assert sum(f.stat().st_size for f in path.iterdir()) < 200_000
    assert json.loads((path / "bundle.json").read_text())["model"]["format"] == "skops"


@pytest.fixture(scope="module")
def gtzan():
    from genrekit.predict import load_model

    return load_model(None)


def test_default_is_gtzan_and_answers_calibrated_on_synthesized_audio(gtzan):
    from genrekit.models.calibrated import TemperatureScaled

    assert gtzan.name == "gtzan" and gtzan.classes_ == GTZAN_GENRES
    assert gtzan.extractor.name == "musicnn-msd"  # one network per patch
    assert isinstance(gtzan.model, TemperatureScaled) and gtzan.model.temperature > 0
    pred = gtzan.predict_audio(_song(9.0, 22050), 22050)
    assert pred.genre in GTZAN_GENRES and pred.model == "gtzan"
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert len(pred.segments) == 3 and "analysed" not in pred.extra
    for s in pred.segments:
        assert sum(s.probabilities.values()) == pytest.approx(1.0, abs=1e-4)


def test_gtzan_by_name_is_the_same_cached_classifier(gtzan):
    from genrekit.predict import load_model

    assert load_model("gtzan") is gtzan


def test_robustness_cli_takes_the_shipped_model_by_name(gtzan, tmp_path):
    import soundfile as sf
    from typer.testing import CliRunner

    import genrekit.cli.robustness  # noqa: F401 - registers the command
    from genrekit.cli import app

    for genre, seed in (("blues", 0), ("jazz", 1)):
        (tmp_path / "data" / genre).mkdir(parents=True)
        sf.write(tmp_path / "data" / genre / f"{genre}.00000.wav", _song(4.0, seed=seed), SR)
    (tmp_path / "held_out.txt").write_text("jazz/jazz.00000.wav\n")
    args = ["robustness", "gtzan", str(tmp_path / "data"), "--report", str(tmp_path / "r")]
    args += ["--degradations", "noise_white", "--split-file", str(tmp_path / "held_out.txt")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "r" / "robustness.json").read_text())
    assert payload["models"] == ["gtzan"] and payload["info"]["tracks"] == 1  # the held-out list only
    rows = [(r["degradation"], r["label"]) for r in payload["table"]][1:]
    assert rows == [("noise_white", f"{v} dB SNR") for v in (30, 20, 10)]


# -------------------------------------------------------------------------------------------- listing
def test_list_models_names_genres_and_figures():
    import genrekit
    from genrekit.pretrained import DEFAULT_MODEL, names

    models = genrekit.list_models()
    assert [m.name for m in models] == list(names()) and models[0].name == DEFAULT_MODEL == "gtzan"
    by = {m.name: m for m in models}
    assert set(by) >= {"gtzan", "musicnn", "musicnn-msd", "musicnn-mtt"}
    assert list(by["gtzan"].genres) == GTZAN_GENRES and by["gtzan"].networks == ("msd",)
    assert by["gtzan"].accuracy["macro_recall"] >= 0.85
    assert len(by["musicnn"].genres) == 13 and "electronic" in by["musicnn"].genres
    assert "disco" not in by["musicnn"].genres and by["musicnn"].networks == ("msd", "mtt")
    assert by["musicnn-msd"].networks == ("msd",) and "classical" not in by["musicnn-msd"].genres
    for m in models:
        assert 0 < m.accuracy["macro_recall"] <= 1 and m.accuracy["measured"]
        d = m.to_dict()
        assert d["default"] == (m.name == "gtzan") and json.dumps(d)


def test_unknown_model_name_lists_the_names(tmp_path):
    from genrekit.predict import load_model

    with pytest.raises(ConfigError, match="unknown model 'gztan'.*gtzan, musicnn, musicnn-msd, musicnn-mtt"):
        load_model("gztan")
    with pytest.raises(ModelError, match="not found"):  # a path stays a path
        load_model(tmp_path / "no-such-bundle")


def test_cli_models_and_unknown_name():
    from typer.testing import CliRunner

    from genrekit.cli import app, register_all

    register_all()
    runner = CliRunner()
    res = runner.invoke(app, ["models", "--json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    assert [m["name"] for m in listed][:2] == ["gtzan", "musicnn"] and listed[0]["default"] is True
    res = runner.invoke(app, ["models"], env={"COLUMNS": "300", "TERM": "dumb"})
    assert res.exit_code == 0 and "gtzan (default)" in res.stdout and "reggae" in res.stdout
    res = runner.invoke(app, ["classify", "--model", "nope", "x.wav"])
    assert res.exit_code == 2 and "gtzan" in res.output


# --------------------------------------------------------------------------------- whole-song sampling
def test_select_segments_spreads_over_the_whole_track():
    from genrekit.predict import select_segments

    assert select_segments(7, 10).tolist() == list(range(7))
    assert select_segments(7, None).tolist() == list(range(7))
    idx = select_segments(80, 10)
    assert len(idx) == 10 and np.all(np.diff(idx) == 8) and idx[0] == 4 and idx[-1] == 76
    idx = select_segments(23, 10)
    assert len(set(idx.tolist())) == 10 and np.all(np.diff(idx) > 0) and idx[0] <= 2 and idx[-1] >= 20


def test_sampled_patches_are_the_full_analysis_rows():
    from genrekit.features.musicnn.extractor import MusicnnMSDExtractor
    from genrekit.predict import select_segments

    ext = MusicnnMSDExtractor()
    y = _song(45.0)
    full = ext(y, SR)
    keep = select_segments(len(full), 4)
    np.testing.assert_allclose(ext.extract_selected(y, SR, keep), full[keep], rtol=1e-4, atol=1e-4)


def test_long_signal_sampled_by_default_full_on_request(gtzan):
    from genrekit.predict import Classifier

    y = _song(75.0, seed=3)  # 25 patches of ~3 s
    sampled = gtzan.predict_audio(y, SR)
    full = gtzan.predict_audio(y, SR, full=True)
    assert len(full.segments) == 25 and "analysed" not in full.extra
    assert len(sampled.segments) == 12 and sampled.extra["analysed"] == {"segments": 12, "of": 25}
    # the analysed stretches span the song, not just its middle
    assert sampled.segments[0].start_s < 6.1 and sampled.segments[-1].end_s > 69.0
    starts = [s.start_s for s in sampled.segments]
    assert starts == sorted(starts) and {round(s, 2) for s in starts} <= {
        round(s.start_s, 2) for s in full.segments
    }
    assert sum(sampled.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    unbounded = Classifier(gtzan.extractor, gtzan.model, name="x", max_segments=None)
    assert len(unbounded.predict_audio(y, SR).segments) == 25
    with pytest.raises(ConfigError, match="max_segments"):
        Classifier(gtzan.extractor, gtzan.model, max_segments=0)
