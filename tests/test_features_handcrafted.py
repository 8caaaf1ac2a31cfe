from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage

from genrekit.audio import segment_bounds
from genrekit.errors import ConfigError
from genrekit.features.handcrafted import (
    LEGACY_OPTIONS,
    HandcraftedConfig,
    HandcraftedExtractor,
    extended_names,
    feature_group,
    handcrafted_names,
    median_filter_last_axis,
    pulse_clarity,
    zero_crossing_rate,
)
from genrekit.features.registry import extractor_from_dict, get_extractor

SR = 22050

#: The header of the Kaggle GTZAN features_30_sec.csv, without filename, length and label.
KAGGLE_COLUMNS = [
    "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var", "spectral_centroid_mean",
    "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var", "rolloff_mean",
    "rolloff_var", "zero_crossing_rate_mean", "zero_crossing_rate_var", "harmony_mean", "harmony_var",
    "perceptr_mean", "perceptr_var", "tempo", "mfcc1_mean", "mfcc1_var", "mfcc2_mean", "mfcc2_var",
    "mfcc3_mean", "mfcc3_var", "mfcc4_mean", "mfcc4_var", "mfcc5_mean", "mfcc5_var", "mfcc6_mean",
    "mfcc6_var", "mfcc7_mean", "mfcc7_var", "mfcc8_mean", "mfcc8_var", "mfcc9_mean", "mfcc9_var",
    "mfcc10_mean", "mfcc10_var", "mfcc11_mean", "mfcc11_var", "mfcc12_mean", "mfcc12_var", "mfcc13_mean",
    "mfcc13_var", "mfcc14_mean", "mfcc14_var", "mfcc15_mean", "mfcc15_var", "mfcc16_mean", "mfcc16_var",
    "mfcc17_mean", "mfcc17_var", "mfcc18_mean", "mfcc18_var", "mfcc19_mean", "mfcc19_var", "mfcc20_mean",
    "mfcc20_var",
]


def kaggle_extractor(**options) -> HandcraftedExtractor:
    """The Kaggle table's 57 columns per segment (no extended columns, no track summary)."""
    return HandcraftedExtractor(**{**LEGACY_OPTIONS, **options})


def col(row: np.ndarray, name: str) -> float:
    return float(row[KAGGLE_COLUMNS.index(name)])


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Chord tones with vibrato, noisy drum hits and a little noise: every feature is non-trivial."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(0.1 * np.sin(2 * np.pi * f * t + 0.3 * np.sin(2 * np.pi * 5 * t)) for f in (220.0, 277.2, 329.6))
    for start in np.arange(0.0, seconds, 0.25):
        i = int(start * SR)
        n = min(int(0.06 * SR), len(t) - i)
        y[i : i + n] += 0.4 * np.exp(-np.arange(n) / (0.01 * SR)) * rng.standard_normal(n)
    y += 0.005 * rng.standard_normal(len(t))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def _load_bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_handcrafted.py"
    spec = importlib.util.spec_from_file_location("bench_handcrafted", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def librosa_numba_ok() -> None:
    """Skip when librosa's numba-compiled kernels crash this interpreter (a corrupt shared numba cache,
    numba#10128: parallel first compilations mix cache files). The naive reference needs them."""
    code = (
        "import numpy as np, librosa; y = np.random.default_rng(0).standard_normal(8192).astype(np.float32); "
        "librosa.feature.chroma_stft(y=y, sr=22050); librosa.feature.zero_crossing_rate(y)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(
            f"librosa's numba kernels crash in this environment (exit {proc.returncode}); the numba cache "
            "in site-packages/librosa/**/__pycache__ is likely corrupt: delete its *.nbi/*.nbc files"
        )


def test_names_are_the_kaggle_header() -> None:
    ext = kaggle_extractor()
    assert ext.names == KAGGLE_COLUMNS
    assert ext.dim == 57
    assert ext.frame_shape is None
    assert handcrafted_names(3)[-6:] == ["mfcc1_mean", "mfcc1_var", "mfcc2_mean", "mfcc2_var", "mfcc3_mean",
                                         "mfcc3_var"]


def test_tone_440(tone_440) -> None:
    y, sr = tone_440
    row = kaggle_extractor(segment_s=None)(y, sr)[0]
    assert abs(col(row, "spectral_centroid_mean") - 440) < 15
    assert abs(col(row, "rolloff_mean") - 440) < 25
    assert col(row, "spectral_bandwidth_mean") < 60
    assert abs(col(row, "rms_mean") - 0.5 / np.sqrt(2)) < 0.01
    # 880 sign changes per second over 22050 samples, within a frame
    assert abs(col(row, "zero_crossing_rate_mean") - 880 / SR) < 0.002
    # a steady tone is all harmonic
    assert col(row, "harmony_var") > 100 * col(row, "perceptr_var")
    assert abs(col(row, "harmony_var") - 0.125) < 0.01


def test_tone_chroma_peaks_at_a(tone_440) -> None:
    from genrekit.features.handcrafted import chroma_stft
    from genrekit.features.spectrogram import stft

    y, sr = tone_440
    power = np.abs(stft(y[None])) ** 2
    chroma = chroma_stft(power, sr=sr, n_fft=2048)
    assert chroma.shape == (1, 12, 1 + len(y) // 512)
    assert int(np.argmax(chroma[0].mean(axis=-1))) == 9  # C, C#, ..., A = 9


def test_click_train_tempo(click_train_120) -> None:
    y, sr = click_train_120
    # The tempo grid of hop 512 at 22050 Hz is 60 * sr / (512 * lag): 117.45 (lag 22) and 123.05 (lag 21)
    # are the nearest values to 120, so "within one grid step" is the best any estimate can do.
    whole = col(kaggle_extractor(segment_s=None)(y, sr)[0], "tempo")
    assert abs(whole - 120) < 3.1
    per_segment = kaggle_extractor()(y, sr)[:, KAGGLE_COLUMNS.index("tempo")]
    assert len(per_segment) == 3
    assert np.all(np.abs(per_segment - 120) < 3.1)


def test_click_train_on_the_tempo_grid() -> None:
    lag = 21  # frames of 512 samples: 123.046875 BPM, the value the Kaggle table shows for many clips
    y = np.zeros(8 * SR, dtype=np.float32)
    click = np.hanning(64).astype(np.float32)
    for start in range(0, len(y) - 64, lag * 512):
        y[start : start + 64] = click
    tempo = col(kaggle_extractor(segment_s=None)(y, SR)[0], "tempo")
    assert tempo == pytest.approx(60 * SR / (512 * lag), abs=1e-3)


def test_silence_is_finite() -> None:
    y = np.zeros(4 * SR, dtype=np.float32)
    for segment_s in (None, 3.0):
        out = kaggle_extractor(segment_s=segment_s)(y, SR)
        assert np.all(np.isfinite(out))
        assert np.all(out[:, :17] == 0)  # no energy: every base feature is 0 (tempo too, as beat_track)
        mfcc1 = out[:, KAGGLE_COLUMNS.index("mfcc1_mean")]
        assert np.allclose(mfcc1, -100 * np.sqrt(128), rtol=1e-5)  # the -100 dB floor, DCT-II ortho


def test_white_noise_zero_crossing_rate(rng) -> None:
    y = (0.2 * rng.standard_normal(3 * SR)).astype(np.float32)
    row = kaggle_extractor(segment_s=None)(y, SR)[0]
    assert abs(col(row, "zero_crossing_rate_mean") - 0.5) < 0.01
    assert abs(col(row, "spectral_centroid_mean") - SR / 4) < 300  # flat spectrum: centre of 0..sr/2


@pytest.mark.slow  # the environment probe and librosa's numba kernels take a few seconds to load
def test_zero_crossing_rate_matches_librosa(rng, librosa_numba_ok) -> None:
    import librosa

    x = rng.standard_normal((2, 5000)).astype(np.float32)
    x[0, 100:300] = 0.0
    x[1, 10:20] = 1e-12
    ours = zero_crossing_rate(x, frame_length=2048, hop_length=512)
    ref = librosa.feature.zero_crossing_rate(x, frame_length=2048, hop_length=512)[:, 0]
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("shape", [(3, 40), (2, 7), (5, 1)])
def test_median_filter_matches_ndimage(rng, shape) -> None:
    x = rng.random(shape).astype(np.float32)
    expected = scipy.ndimage.median_filter(x, size=(1, 31), mode="reflect")
    np.testing.assert_array_equal(median_filter_last_axis(x, 31), expected)


@pytest.mark.slow  # the first naive call loads (or, on a fresh install, compiles) librosa's numba kernels
def test_fast_path_equals_naive_script(librosa_numba_ok) -> None:
    bench = _load_bench()
    y = music_like(2.0)
    names = handcrafted_names()
    # whole signal (one row), and 0.8 s segments: two full ones and a repeat-padded 0.4 s tail
    for segment_s in (None, 0.8):
        ours = kaggle_extractor(segment_s=segment_s)(y, SR)
        ref = bench.naive_extract(y, SR, segment_s=segment_s)
        assert ours.shape == ref.shape
        rel = bench.relative_difference(ours, ref, names)
        worst = np.unravel_index(np.argmax(rel), rel.shape)
        assert rel.max() < 1e-4, f"{names[worst[1]]}: ours {ours[worst]} vs naive {ref[worst]}"
    # the comparison is not vacuous: tempo, percussive and chroma carry real values
    row = ours[0]
    assert col(row, "tempo") > 0 and col(row, "perceptr_var") > 1e-5 and col(row, "chroma_stft_var") > 0


def test_segments_follow_segment_bounds() -> None:
    y = music_like(7.7)
    ext = kaggle_extractor(segment_s=3.0, hop_s=1.5)
    out = ext(y, SR)
    bounds = segment_bounds(len(y), SR, segment_s=3.0, hop_s=1.5)
    assert out.shape == (len(bounds), 57)
    np.testing.assert_allclose(ext.segment_times(len(y), SR), bounds / SR)
    assert out.dtype == np.float32


def test_resamples_to_config_rate(tone_440) -> None:
    y, sr = tone_440
    t = np.arange(3 * 44100) / 44100
    y44 = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    ext = kaggle_extractor(segment_s=None)
    a, b = ext(y, sr)[0], ext(y44, 44100)[0]
    assert col(b, "spectral_centroid_mean") == pytest.approx(col(a, "spectral_centroid_mean"), rel=1e-3)


def test_round_trip_through_dict() -> None:
    ext = get_extractor("handcrafted", segment_s=1.5, n_mfcc=13, **LEGACY_OPTIONS)
    d = ext.to_dict()
    assert d == {
        "name": "handcrafted",
        "config": {"sr": 22050, "n_fft": 2048, "hop_length": 512, "n_mfcc": 13, "segment_s": 1.5,
                   "hop_s": None, "pad": "repeat", "extended": False, "summary": None},
    }
    again = extractor_from_dict(d)
    assert isinstance(again, HandcraftedExtractor) and again.config == ext.config
    assert again.dim == 17 + 26
    y = music_like(2.0, seed=3)
    np.testing.assert_array_equal(again(y, SR), ext(y, SR))


@pytest.mark.parametrize(
    ("option", "value"),
    [("n_mfcc", 0), ("hop_length", -1), ("segment_s", 0.0), ("pad", "wrap"), ("summary", "median"),
     ("extended", "yes")],
)
def test_bad_config_is_refused(option, value) -> None:
    with pytest.raises(ConfigError, match=option):
        HandcraftedConfig(**{option: value})


# ---- the extended columns and the track summary (the defaults) ------------------------------------------
def test_default_is_extended_track_summary() -> None:
    y = music_like(9.0, seed=1)
    ext = HandcraftedExtractor()
    per_segment = HandcraftedExtractor(summary=None)(y, SR)
    assert per_segment.shape == (3, 57 + len(extended_names()))
    np.testing.assert_allclose(per_segment[:, :57], kaggle_extractor()(y, SR), rtol=1e-5, atol=1e-6)
    row = ext(y, SR)
    assert row.shape == (1, 2 * per_segment.shape[1]) and ext.dim == row.shape[1] == len(ext.names)
    np.testing.assert_allclose(row[0, : per_segment.shape[1]], per_segment.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(row[0, per_segment.shape[1] :], per_segment.std(axis=0), rtol=1e-4, atol=1e-5)
    assert ext.names[0] == "chroma_stft_mean.mean" and ext.names[-1] == "low_energy.std"
    np.testing.assert_allclose(ext.segment_times(len(y), SR), [[0.0, 9.0]])


def test_extended_columns_on_known_signals(tone_440, rng) -> None:
    y, sr = tone_440
    names = HandcraftedExtractor(summary=None, segment_s=None).names
    tone = dict(zip(names, HandcraftedExtractor(summary=None, segment_s=None)(y, sr)[0], strict=True))
    noise = dict(
        zip(names, HandcraftedExtractor(summary=None, segment_s=None)(
            (0.1 * rng.standard_normal(3 * SR)).astype(np.float32), SR)[0], strict=True)
    )
    # a pure tone is peaky (flatness near 0, strong contrast around 440 Hz), white noise flat
    assert tone["flatness_mean"] < 0.01 < 0.3 < noise["flatness_mean"]
    assert tone["contrast3_mean"] > noise["contrast3_mean"] + 10
    # a steady tone has no onsets to speak of; a click train at 120 BPM is strongly periodic
    clicks = np.zeros(6 * SR, dtype=np.float32)
    clicks[:: SR // 2] = 1.0
    pulse = dict(zip(names, HandcraftedExtractor(summary=None, segment_s=None)(clicks, SR)[0], strict=True))
    assert pulse["pulse_clarity"] > 0.5 and pulse["onset_std"] > tone["onset_std"]
    assert all(np.isfinite(list(tone.values())))


def test_pulse_clarity_of_flat_and_periodic_envelopes() -> None:
    env = np.zeros((2, 400))
    env[1, ::22] = 1.0  # ~117 BPM at 22050 / 512 frames per second
    out = pulse_clarity(env, sr=SR, hop_length=512)
    assert out[0] == 0.0 and out[1] > 0.8


def test_bundle_written_before_the_options_rebuilds_kaggle_features() -> None:
    old = {"name": "handcrafted", "config": {"sr": 22050, "n_fft": 2048, "hop_length": 512, "n_mfcc": 20,
                                             "segment_s": 3.0, "hop_s": None, "pad": "repeat"}}
    ext = extractor_from_dict(old)
    assert ext.names == KAGGLE_COLUMNS and ext.config == HandcraftedConfig.kaggle()
    again = extractor_from_dict(HandcraftedExtractor().to_dict())
    assert again.config == HandcraftedConfig() and again.config.summary == "mean_std"


def test_feature_groups_cover_every_column() -> None:
    groups = {feature_group(n.split(".")[0]) for n in HandcraftedExtractor().names}
    assert groups == {"mfcc", "chroma", "spectral shape", "rhythm", "energy"}
    assert feature_group("tonnetz3_mean") == "chroma" and feature_group("pulse_clarity") == "rhythm"
