from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf

from genrekit.degrade import DEGRADATIONS
from genrekit.errors import ConfigError, DatasetError
from genrekit.features.augmenting import AugmentingExtractor
from genrekit.predict import Classifier
from genrekit.robustness import evaluate_robustness, write_robustness_report
from toys import LoudnessModel, ToyExtractor

SR = 22050


class RmsExtractor(ToyExtractor):
    """Per 1 s segment (a short tail dropped): RMS level and zero-crossing rate."""

    name = "test-rms"
    defaults = {"pad": "drop"}


def loudness_classifier(name: str = "rms", threshold: float = 0.05) -> Classifier:
    return Classifier(RmsExtractor(), LoudnessModel(threshold=threshold), aggregation="mean_log", name=name)


@pytest.fixture(scope="module")
def loud_quiet_data(tmp_path_factory):
    """Folder-per-genre data: 3 'loud' tracks (RMS 0.3) and 3 'quiet' ones (RMS 0.01), 2 s each."""
    root = tmp_path_factory.mktemp("lq")
    rng = np.random.default_rng(0)
    for label, rms in (("loud", 0.3), ("quiet", 0.01)):
        (root / label).mkdir()
        for i in range(3):
            t = np.arange(2 * SR) / SR
            y = np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.3 * rng.standard_normal(len(t))
            y = rms * y / np.sqrt(np.mean(y**2))
            sf.write(root / label / f"{label}.{i:05d}.wav", y.astype(np.float32), SR, subtype="FLOAT")
    return root


# ------------------------------------------------------------------------------------------ augmenting
def test_augmenting_extractor_stacks_clean_and_degraded_views(rng):
    base = RmsExtractor()
    y = (0.2 * rng.standard_normal(3 * SR)).astype(np.float32)
    aug = AugmentingExtractor(base, "gain,noise", copies=3, seed=7)
    out = aug(y, SR)
    clean = base(y, SR)
    assert out.shape == (4 * len(clean), 2) and out.dtype == np.float32
    assert np.array_equal(out[: len(clean)], clean)
    assert np.array_equal(aug.clean_rows(out), clean)
    assert aug.view_index(len(out)).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    plan = aug.plan(y)
    assert len(plan) == 3 and all(name in ("quiet", "clip", "noise_white", "noise_pink") for name, _ in plan)
    for (name, level), k in zip(plan, range(1, 4), strict=True):
        lo, hi = DEGRADATIONS[name].augment_range
        assert lo <= level <= hi
        view = out[k * 3 : (k + 1) * 3]
        assert not np.array_equal(view, clean)
        if name == "quiet":  # the RMS column drops by exactly the gain
            assert np.allclose(view[:, 0], clean[:, 0] * 10 ** (level / 20), rtol=1e-4)
    # deterministic by seed and content
    assert np.array_equal(aug(y, SR), out)
    assert aug.plan(y) == AugmentingExtractor(base, "gain,noise", copies=3, seed=7).plan(y)
    assert aug.plan(y) != AugmentingExtractor(base, "gain,noise", copies=3, seed=8).plan(y)
    assert aug.plan(y) != aug.plan(y[::-1].copy())
    assert aug.segment_times(len(y), SR).shape == (12, 2)


def test_augmenting_extractor_delegates_and_keeps_lengths(rng):
    base = RmsExtractor()
    aug = AugmentingExtractor(base, ["time_stretch", "pitch_shift"], copies=2)
    y = (0.2 * rng.standard_normal(2 * SR)).astype(np.float32)
    assert aug(y, SR).shape == (6, 2)  # a stretched copy is cut/looped back to 2 s
    assert aug.names == base.names and aug.dim == 2 and aug.sr == SR and aug.frame_shape is None
    assert AugmentingExtractor(base, "", copies=3).n_views == 1
    assert np.array_equal(AugmentingExtractor(base, "noise", copies=0)(y, SR), base(y, SR))
    with pytest.raises(ConfigError, match="noise_white"):
        AugmentingExtractor(base, "hiss")
    with pytest.raises(ConfigError, match="copies"):
        AugmentingExtractor(base, "noise", copies=-1)
    with pytest.raises(ConfigError, match="already"):
        AugmentingExtractor(aug, "noise")


def test_augmenting_description_separates_caches_and_rebuilds_the_base(tmp_path, rng, monkeypatch):
    from genrekit.features import registry
    from genrekit.features.cache import FeatureCache, config_digest, extract_files

    monkeypatch.setitem(registry._REGISTRY, "test-rms", f"{__name__}:RmsExtractor")
    base = RmsExtractor()
    aug = AugmentingExtractor(base, "noise", copies=1, seed=3)
    d = aug.to_dict()
    assert d["augment"] == {"degradations": ["noise_white", "noise_pink"], "copies": 1, "seed": 3}
    rebuilt = registry.extractor_from_dict(d)
    assert type(rebuilt) is RmsExtractor and rebuilt.to_dict() == base.to_dict()
    assert config_digest(aug) != config_digest(base)
    wav = tmp_path / "a.wav"
    y = (0.2 * rng.standard_normal(4 * SR)).astype(np.float32)
    sf.write(wav, y, SR, subtype="FLOAT")
    cache = FeatureCache(tmp_path / "cache")
    first = extract_files([wav], aug, cache=cache, progress=False)
    again = extract_files([wav], aug, cache=cache, progress=False)
    plain = extract_files([wav], base, cache=cache, progress=False)
    assert not first.failures and again.from_cache == [True] and plain.from_cache == [False]
    assert first.features[0].shape == (8, 2)
    assert np.array_equal(first.features[0], again.features[0])
    assert np.array_equal(first.features[0][:4], plain.features[0])


# ------------------------------------------------------------------------------------------ evaluation
def test_robustness_table_has_the_known_answers(loud_quiet_data):
    res = evaluate_robustness(
        [loudness_classifier("rms"), loudness_classifier("rms", threshold=0.002)],
        loud_quiet_data,
        degradations="quiet,noise_white",
        seed=0,
    )
    assert res.models == ["rms", "rms (2)"] and res.degradations == ["quiet", "noise_white"]
    acc = res.pivot("accuracy")
    assert acc.index.tolist() == [
        "clean",
        "quiet -10 dB",
        "quiet -20 dB",
        "quiet -30 dB",
        "noise_white 30 dB SNR",
        "noise_white 20 dB SNR",
        "noise_white 10 dB SNR",
    ]
    # loud tracks (RMS 0.3) fall under the 0.05 threshold from -20 dB on: half the tracks go wrong
    assert acc["rms"].tolist() == [1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    # a 0.002 threshold calls the clean quiet tracks (RMS 0.01) 'loud'; attenuated by 20 dB they drop
    # below it while the loud ones stay above: a degradation can help a badly tuned model
    assert acc["rms (2)"].tolist() == [0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5]
    drop = res.pivot("accuracy_drop")
    assert drop.loc["quiet -30 dB", "rms"] == pytest.approx(0.5)
    assert len(res.predictions) == 2 * 7 * 6
    assert set(res.predictions.columns) >= {"model", "degradation", "level", "track", "true", "predicted"}
    s = res.summary().set_index("model")
    assert s.loc["rms", "clean"] == 1.0 and s.loc["rms", "worst"] == 0.5
    assert s.loc["rms", "white_10dB"] == 1.0
    assert res.info["tracks"] == 6 and not res.failures
    assert ((res.table["ece"] >= 0) & (res.table["ece"] <= 1)).all()


def test_robustness_is_reproducible_and_max_tracks_balances(loud_quiet_data):
    kw = {"degradations": "noise_pink,reverb", "seed": 4}
    a = evaluate_robustness([loudness_classifier()], loud_quiet_data, **kw)
    b = evaluate_robustness([loudness_classifier()], loud_quiet_data, **kw)
    assert a.predictions.equals(b.predictions)
    few = evaluate_robustness([loudness_classifier()], loud_quiet_data, degradations="quiet", max_tracks=4)
    assert few.info["tracks"] == 4 and few.info["genres"] == {"loud": 2, "quiet": 2}


def test_robustness_refuses_unknown_genres_and_names(loud_quiet_data):
    class Other(LoudnessModel):
        @property
        def classes_(self):
            return np.array(["loud", "other"])

    clf = Classifier(RmsExtractor(), Other(), name="other")
    with pytest.raises(DatasetError, match="quiet"):
        evaluate_robustness([clf], loud_quiet_data, degradations="quiet")
    with pytest.raises(ConfigError, match="noise_white"):
        evaluate_robustness([loudness_classifier()], loud_quiet_data, degradations="hiss")
    with pytest.raises(ConfigError, match="at least one model"):
        evaluate_robustness([], loud_quiet_data)


def test_write_robustness_report(loud_quiet_data, tmp_path):
    res = evaluate_robustness([loudness_classifier()], loud_quiet_data, degradations="quiet")
    out = write_robustness_report(tmp_path / "rep", res)
    for name in ("robustness.md", "robustness.html", "robustness.json", "robustness.csv", "predictions.csv"):
        assert (out / name).is_file(), name
    assert (out / "robustness.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "robustness.md").read_text()
    assert "| quiet -20 dB | 0.500 (95% CI " in md and "![accuracy" in md
    html = (out / "robustness.html").read_text()
    assert "data:image/png;base64," in html and "quiet -20 dB" in html
    assert "|---" not in html and "![" not in html  # rendered, not raw Markdown
    srcs = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert len(srcs) == 1 and srcs[0].startswith("data:image/png;base64,")
    payload = json.loads((out / "robustness.json").read_text())
    assert payload["models"] == ["rms"] and len(payload["table"]) == 1 + 3


@pytest.mark.slow
def test_robustness_with_workers_matches_sequential(loud_quiet_data):
    kw = {"degradations": "noise_white,quiet", "seed": 2}
    seq = evaluate_robustness([loudness_classifier()], loud_quiet_data, **kw)
    par = evaluate_robustness([loudness_classifier()], loud_quiet_data, workers=2, **kw)
    assert seq.table.equals(par.table)


def test_cli_robustness(loud_quiet_data, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import genrekit.cli.robustness  # noqa: F401 - registers the command
    import genrekit.predict
    from genrekit.cli import app

    monkeypatch.setattr(genrekit.predict, "load_model", lambda path=None: loudness_classifier(str(path)))
    result = CliRunner().invoke(
        app,
        [
            "robustness",
            "m1",
            "m2",
            str(loud_quiet_data),
            "--report",
            str(tmp_path / "r"),
            "--degradations",
            "gain",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "quiet -20 dB" in result.output and "m2" in result.output
    assert (tmp_path / "r" / "robustness.md").is_file()
    bad = CliRunner().invoke(
        app,
        ["robustness", "m1", str(loud_quiet_data), "--report", str(tmp_path / "r2"), "--degradations", "x"],
    )
    assert bad.exit_code == 2 and "valid degradations" in bad.output
