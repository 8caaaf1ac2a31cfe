from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from genrekit.bundle import Bundle, load_bundle, save_bundle
from genrekit.errors import ConfigError
from genrekit.predict import Classifier, classifier_from_bundle
from toys import ToyExtractor

SR = 8000


class LoudnessExtractor(ToyExtractor):
    """RMS of every 1 s segment at 8 kHz: a tiny extractor with a known answer."""

    name = "test-loudness"
    stats = ("rms",)
    defaults = {"sr": SR}


class LoudQuietModel:
    """p(loud) = clip(2 * rms, 0, 1): a fixed, transparent model."""

    classes_ = np.array(["loud", "quiet"])

    def predict_proba(self, X):
        p = np.clip(2 * np.asarray(X)[:, 0], 0.01, 0.99)
        return np.stack([p, 1 - p], axis=1)


def _signal(levels):
    return np.concatenate(
        [lvl * np.sqrt(2) * np.sin(2 * np.pi * 220 * np.arange(SR) / SR) for lvl in levels]
    ).astype(np.float32)


def test_prediction_timeline_and_sorted_probabilities():
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    pred = clf.predict_audio(_signal([0.4, 0.4, 0.1]), SR)
    assert [s.genre for s in pred.segments] == ["loud", "loud", "quiet"]
    assert [(s.start_s, s.end_s) for s in pred.segments] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    # mean_prob of p(loud) = 0.8, 0.8, 0.2
    assert pred.genre == "loud" and pred.probabilities["loud"] == pytest.approx(0.6, abs=1e-3)
    assert list(pred.probabilities) == ["loud", "quiet"] and pred.top_k(1) == [("loud", pred.confidence)]
    # contributions to the top genre add up to its track probability; the quiet segment gives least
    contrib = [s.contribution for s in pred.segments]
    assert sum(contrib) == pytest.approx(pred.probabilities["loud"], abs=1e-5)
    assert contrib[2] < contrib[0]
    d = pred.to_dict(top_k=1)
    assert d["top_k"] == [{"genre": "loud", "probability": pred.confidence}] and len(d["segments"]) == 3


def test_unsure_exactly_below_the_threshold():
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    y = _signal([0.4, 0.4, 0.1])
    conf = clf.predict_audio(y, SR).confidence
    sure = clf.predict_audio(y, SR, min_confidence=conf)
    unsure = clf.predict_audio(y, SR, min_confidence=conf + 1e-6)
    assert sure.genre == "loud" and not sure.unsure
    assert unsure.genre == "unsure" and unsure.unsure
    assert unsure.probabilities == sure.probabilities  # the probabilities are still shown
    strict = Classifier(LoudnessExtractor(), LoudQuietModel(), min_confidence=0.99)
    assert strict.predict_audio(y, SR).genre == "unsure"
    with pytest.raises(ConfigError):
        Classifier(LoudnessExtractor(), LoudQuietModel(), min_confidence=1.5)


def test_crop_reads_only_the_middle_window(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _signal([0.1, 0.1, 0.4, 0.4, 0.1, 0.1]), SR)
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    full = clf.predict(path)
    crop = clf.predict(path, crop_s=2.0)
    assert full.genre == "quiet" and crop.genre == "loud"
    assert crop.duration_s == pytest.approx(6.0)
    assert [(s.start_s, s.end_s) for s in crop.segments] == [(2.0, 3.0), (3.0, 4.0)]


def test_crop_is_taken_from_offset_on_and_the_same_for_paths_bytes_and_files(tmp_path):
    import io

    path = tmp_path / "a.wav"
    sf.write(path, _signal([0.1, 0.1, 0.1, 0.1, 0.4, 0.4, 0.1, 0.1]), SR)  # loud seconds 4-6
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    data = path.read_bytes()
    for src in (path, str(path), data, io.BytesIO(data)):
        p = clf.predict(src, crop_s=2.0, offset_s=2.0)  # the middle 2 s of seconds 2-8: seconds 4-6
        assert [(s.start_s, s.end_s) for s in p.segments] == [(4.0, 5.0), (5.0, 6.0)], src
        assert p.genre == "loud" and p.duration_s == pytest.approx(6.0)
    with pytest.raises(ConfigError, match="crop_s must be > 0 seconds, got 0"):
        clf.predict(path, crop_s=0)


def test_window_s_decodes_a_window_and_duration_s_is_its_deprecated_name(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _signal([0.1, 0.1, 0.1, 0.1, 0.4, 0.4, 0.1, 0.1]), SR)  # loud seconds 4-6
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    p = clf.predict(path, offset_s=4.0, window_s=2.0)  # seconds 4-6 only
    assert [(s.start_s, s.end_s) for s in p.segments] == [(4.0, 5.0), (5.0, 6.0)] and p.genre == "loud"
    with pytest.warns(DeprecationWarning, match=r"duration_s=\.\.\.\) is deprecated, use window_s") as rec:
        old = clf.predict(path, offset_s=4.0, duration_s=2.0)
    assert rec[0].filename == __file__  # the warning points at the caller's line
    assert old.probabilities == p.probabilities and old.segments == p.segments
    with pytest.raises(ConfigError, match="give window_s only"):
        clf.predict(path, window_s=2.0, duration_s=2.0)


def test_result_types_and_signal_checks_are_re_exported_by_predict():
    import genrekit
    import genrekit.predict as gp
    from genrekit import prediction, signal_checks

    assert gp.Prediction is prediction.Prediction is genrekit.Prediction
    assert gp.SegmentPrediction is prediction.SegmentPrediction
    assert gp.check_signal is signal_checks.check_signal
    assert gp.spectral_flatness is signal_checks.spectral_flatness
    assert (gp.NOISE_FLATNESS, gp.MIN_RMS_DBFS) == (signal_checks.NOISE_FLATNESS, signal_checks.MIN_RMS_DBFS)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_silent_and_non_finite_audio_are_audio_errors_naming_the_source():
    from genrekit.errors import AudioError

    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    with pytest.raises(AudioError, match=r"^quiet.wav: is silent \(every sample below -120 dBFS\)"):
        clf.predict_audio(np.zeros(3 * SR, np.float32), SR, source="quiet.wav")
    with pytest.raises(AudioError, match="^nan.wav: contains non-finite samples"):
        clf.predict_audio(np.full(3 * SR, np.nan, np.float32), SR, source="nan.wav")
    loud = np.full(3 * SR, 3e38, np.float32)  # squares would overflow float32: refused before features
    with pytest.raises(AudioError, match=r"^loud.wav: samples reach 3e\+38, far beyond full scale"):
        clf.predict_audio(loud, SR, source="loud.wav")


def test_segment_times_match_the_resampled_features():
    from genrekit.features.registry import get_extractor

    # 198449 samples at 44100 Hz are 99224.5 at 22050: round-half-even gave one segment time, soxr's
    # length two feature rows
    y = (0.1 * np.sin(2 * np.pi * 440 * np.arange(198449) / 44100)).astype(np.float32)
    p = Classifier(get_extractor("handcrafted", summary=None), LoudQuietModel()).predict_audio(y, 44100)
    assert [(s.start_s, s.end_s) for s in p.segments] == [(0.0, 3.0), (3.0, 4.5)]


def test_bundle_temperature_is_applied(tmp_path, monkeypatch):
    from genrekit.features import registry
    from genrekit.models.calibrated import TemperatureScaled

    monkeypatch.setitem(registry._REGISTRY, "test-loudness", f"{__name__}:LoudnessExtractor")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 0.5, size=(200, 1))
    y = np.where(X[:, 0] > 0.25, "loud", "quiet")
    model = LogisticRegression().fit(X, y)
    b = Bundle(
        model=model,
        kind="logreg",
        labels=["loud", "quiet"],
        extractor=LoudnessExtractor().to_dict(),
        feature_names=["rms"],
        extra={"temperature": 2.0},
    )
    clf = classifier_from_bundle(load_bundle(save_bundle(b, tmp_path / "b")))
    assert isinstance(clf.model, TemperatureScaled)
    hot, plain = clf.model.predict_proba(X[:5]), model.predict_proba(X[:5])
    assert np.all(np.abs(hot[:, 0] - 0.5) <= np.abs(plain[:, 0] - 0.5) + 1e-12)  # T > 1 softens


def test_explanation_names_the_segments_for_and_against(tmp_path):
    # p(loud) per segment 0.8, 0.8, 0.2, 0.8 -> loud wins; the quiet third segment argues against it
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    y = _signal([0.4, 0.4, 0.1, 0.4])
    plain = clf.predict_audio(y, SR)
    assert "explanation" not in plain.to_dict()
    ex = clf.predict_audio(y, SR, explain=True).extra["explanation"]
    assert ex["genre"] == "loud" and ex["runner_up"] == "quiet"
    assert [w["segment"] for w in ex["weakest"]] == [2] and 2 not in [s["segment"] for s in ex["strongest"]]
    assert ex["weakest"][0]["start_s"] == ex["segments"][2]["start_s"]
    # mean_prob: margin of a segment = (p_loud - p_quiet) / n; they sum to the track's lead
    assert [s["margin"] for s in ex["segments"]] == pytest.approx([0.15, 0.15, -0.15, 0.15], abs=1e-6)
    assert ex["track_margin"] == pytest.approx(0.65 - 0.35, abs=1e-6)
    assert [s["support"] for s in ex["segments"]] == pytest.approx([0.2, 0.2, 0.05, 0.2], abs=1e-6)
    # a window read from a file: explanation times follow the segments' absolute times
    path = tmp_path / "a.wav"
    sf.write(path, _signal([0.1, 0.1, 0.4, 0.1, 0.1, 0.1]), SR)
    crop = clf.predict(path, crop_s=2.0, explain=True)
    ex = crop.to_dict()["explanation"]
    assert [(s["start_s"], s["end_s"]) for s in ex["segments"]] == [(2.0, 3.0), (3.0, 4.0)]
    assert [(s.start_s, s.end_s) for s in crop.segments] == [(2.0, 3.0), (3.0, 4.0)]
    bio = clf.predict(path.read_bytes(), crop_s=2.0, explain=True).extra["explanation"]
    assert [(s["start_s"], s["end_s"]) for s in bio["segments"]] == [(2.0, 3.0), (3.0, 4.0)]


def test_prediction_and_classifier_read_well():
    kw = {"aggregation": "mean_prob", "name": "rms", "max_segments": 10}
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), **kw)
    assert clf.labels == ["loud", "quiet"] and clf.labels is not clf.classes_
    assert repr(clf) == (
        "Classifier('rms': 2 labels [loud, quiet], features 'test-loudness' at 8000 Hz, "
        "aggregation 'mean_prob')"
    )
    pred = clf.predict_audio(_signal([0.4] * 30), SR, source="song.wav")
    text = repr(pred)
    assert text.startswith(
        "Prediction('song.wav', genre='loud', confidence=0.800, top 3: loud 80.0%, quiet 20.0%"
    )
    assert "30.0 s, 10 segments" in text and "probabilities" not in text and len(text) < 200
    assert str(pred) == "song.wav: loud (loud 80%, quiet 20%; 30.0 s, 10 segments)"
    assert repr(pred.segments[1]) == "SegmentPrediction(4.0-5.0 s: loud 80%)"


def test_predict_takes_samples_with_their_rate():
    clf = Classifier(LoudnessExtractor(), LoudQuietModel(), aggregation="mean_prob")
    y = _signal([0.4, 0.4, 0.1])
    same = clf.predict_audio(y, SR)
    got = clf.predict(y, sr=SR)
    assert got.probabilities == same.probabilities and len(got.segments) == 3
    stereo = np.stack([y, y], axis=1)  # (n, channels)
    assert clf.predict(stereo, sr=SR).probabilities == pytest.approx(same.probabilities)
    with pytest.raises(ConfigError, match=r"predict\(y, sr=...\) or predict_audio\(y, sr\)"):
        clf.predict(y)
    with pytest.raises(ConfigError, match="shape"):
        clf.predict(np.zeros((2, 2, SR), dtype=np.float32), sr=SR)


# ---------------------------------------------------------------------- long files: only the sampled windows
class WindowedLoudness(LoudnessExtractor):
    """:class:`LoudnessExtractor` that also computes its rows from windows of a file (musicnn's protocol)."""

    name = "test-loudness-windowed"

    def window_spans(self, n_samples, sr, indices):
        from genrekit.audio import segment_bounds

        return segment_bounds(n_samples, sr, segment_s=self.config.segment_s)[np.asarray(indices)]

    def extract_windows(self, pieces, spans, n_samples, indices):
        seg = int(round(self.config.segment_s * self.sr))
        return np.array([[np.sqrt(np.mean(np.resize(p, seg) ** 2))] for p in pieces])


def _count_whole_decodes(monkeypatch) -> list[int]:
    import genrekit.predict as gp

    calls: list[int] = []
    real = gp.load_crop  # the one whole-file (or crop window) decode of Classifier.predict

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(gp, "load_crop", counting)
    return calls


def test_long_file_decodes_only_the_sampled_windows(tmp_path, monkeypatch):
    import io

    from genrekit.audio import load

    levels = [0.4 if i % 3 else 0.1 for i in range(40)]
    path = tmp_path / "long.flac"
    sf.write(path, _signal(levels), SR)
    clf = Classifier(WindowedLoudness(), LoudQuietModel(), aggregation="mean_prob", max_segments=10)
    want = clf.predict_audio(*load(path, sr=SR))  # the whole decode, sampled
    calls = _count_whole_decodes(monkeypatch)
    for src in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        got = clf.predict(src)
        assert [(s.start_s, s.end_s) for s in got.segments] == [(s.start_s, s.end_s) for s in want.segments]
        assert got.probabilities == pytest.approx(want.probabilities, abs=1e-5)
        assert got.extra["analysed"] == {"segments": 10, "of": 40} and got.duration_s == pytest.approx(40.0)
        # the analysed stretches span the song
        assert got.segments[0].start_s <= 2.0 and got.segments[-1].end_s >= 38.0
    assert calls == []  # never the whole file
    full = clf.predict(path, full=True)
    assert len(full.segments) == 40 and calls == [1]


def test_sampled_windows_refused_by_the_signal_checks_fall_back_to_the_whole_file(tmp_path, monkeypatch):
    from genrekit.errors import AudioError
    from genrekit.predict import select_segments

    sampled = set(select_segments(40, 10).tolist())
    levels = [0.0 if i in sampled else 0.4 for i in range(40)]  # silent exactly where it samples
    path = tmp_path / "gaps.wav"
    sf.write(path, _signal(levels), SR)
    clf = Classifier(WindowedLoudness(), LoudQuietModel(), aggregation="mean_prob", max_segments=10)
    calls = _count_whole_decodes(monkeypatch)
    pred = clf.predict(path)  # the windows are silent, the song is not: answered from the whole decode
    assert calls == [1] and pred.extra["analysed"] == {"segments": 10, "of": 40}
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(40 * SR, np.float32), SR)
    with pytest.raises(AudioError, match=r"silent.wav: is silent"):
        clf.predict(silent)


def test_a_long_file_only_ffmpeg_decodes_is_decoded_once_not_by_windows(tmp_path, monkeypatch):
    """An m4a has no header soundfile reads (its length would be a whole ffmpeg decode) and cannot be read
    by windows: it is decoded once, whole, and sampled from that."""
    import io
    import subprocess

    from genrekit import audio

    buf = io.BytesIO()
    sf.write(buf, _signal([0.4 if i % 3 else 0.1 for i in range(40)]), SR, format="WAV")
    calls = []

    def fake_ffmpeg(cmd, input=None, capture_output=True, check=False):  # noqa: A002 - subprocess.run's
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, buf.getvalue(), b"")

    monkeypatch.setattr(audio.decoding.shutil, "which", lambda name: "/usr/bin/ffmpeg")
    monkeypatch.setattr(audio.decoding.subprocess, "run", fake_ffmpeg)
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    clf = Classifier(WindowedLoudness(), LoudQuietModel(), aggregation="mean_prob", max_segments=10)
    pred = clf.predict(path)
    assert pred.extra["analysed"] == {"segments": 10, "of": 40} and pred.duration_s == pytest.approx(40.0)
    assert len(calls) == 1


def test_gtzan_on_a_long_file_equals_the_whole_decode(tmp_path):
    from genrekit.audio import load
    from genrekit.predict import load_model

    sr = 44100
    t = np.arange(40 * sr) / sr
    melody = np.sin(2 * np.pi * 330.0 * (1 + 0.25 * np.sign(np.sin(2 * np.pi * 0.5 * t))) * t)
    clicks = np.where(t % 0.5 < 0.01, np.sin(2 * np.pi * 1500 * t), 0.0)  # a 120 bpm click over it
    path = tmp_path / "song.mp3"
    sf.write(path, (0.4 * melody + 0.3 * clicks).astype(np.float32), sr)
    gtzan = load_model("gtzan")
    got = gtzan.predict(path)
    want = gtzan.predict_audio(*load(path, sr=gtzan.sr))
    assert got.extra["analysed"] == want.extra["analysed"] == {"segments": 12, "of": 13}
    assert [s.start_s for s in got.segments] == [s.start_s for s in want.segments]
    assert got.genre == want.genre
    assert got.probabilities == pytest.approx(want.probabilities, abs=1e-4)


def test_librosa_refusal_is_an_audio_error_and_a_lookalike_is_not():
    """librosa's ParameterError (degenerate audio) becomes an AudioError naming the cause; another
    exception that only shares its class name is a bug and propagates (no match on class-name strings)."""
    from librosa.util.exceptions import ParameterError

    from genrekit.errors import AudioError
    from genrekit.predict import _extract_one

    class Refusing:
        sr = SR

        def __init__(self, exc):
            self.exc = exc

        def __call__(self, y, sr):
            raise self.exc

    y = np.zeros(SR, dtype=np.float32)
    with pytest.raises(AudioError, match="cannot compute features"):
        _extract_one(Refusing(ParameterError("Audio buffer is not finite")), y, None)
    lookalike = type("ParameterError", (ValueError,), {})
    with pytest.raises(ValueError) as exc:
        _extract_one(Refusing(lookalike("boom")), y, None)
    assert not isinstance(exc.value, AudioError)
