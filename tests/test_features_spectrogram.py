from __future__ import annotations

import numpy as np
import pytest

from genrekit.audio import segment_bounds, segments
from genrekit.errors import ConfigError
from genrekit.features.registry import extractor_from_dict, get_extractor
from genrekit.features.spectrogram import (
    LogMelExtractor,
    MFCCExtractor,
    delta,
    log_mel,
    mel_filterbank,
    mfcc,
    n_frames,
    power_to_db,
)

SR = 22050


def test_log_mel_shape_and_tone_band(tone_440) -> None:
    y, sr = tone_440
    lm = log_mel(y, sr, n_fft=2048, hop_length=512, n_mels=128)
    assert lm.shape == (128, 1 + len(y) // 512) and lm.dtype == np.float32
    assert lm.max() <= 10 * np.log10((0.5 * 1024 / 2) ** 2) + 1  # sine peak power at most (A * sum(w) / 2)^2
    assert lm.max() - lm.min() <= 80.0 + 1e-4
    # the loudest band is the one whose filter peaks nearest 440 Hz
    band = int(np.argmax(lm.mean(axis=1)))
    fb = mel_filterbank(sr, 2048, 128)
    freqs = np.fft.rfftfreq(2048, 1 / sr)
    assert abs(freqs[np.argmax(fb[band])] - 440) < 40


def test_log_mel_matches_librosa(rng) -> None:
    import librosa

    y = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR))
    np.testing.assert_allclose(log_mel(y, SR), ref, atol=1e-3)
    np.testing.assert_allclose(mfcc(y, SR), librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20), atol=1e-2, rtol=1e-4)


def test_silence_is_stable() -> None:
    z = np.zeros(SR, dtype=np.float32)
    lm = log_mel(z, SR)
    # numpy's log10 differs in the last bits between SIMD widths (AVX2 vs AVX-512): a tolerance, not ==.
    assert np.all(np.isfinite(lm))
    np.testing.assert_allclose(lm, -100.0, atol=1e-3)
    assert np.all(np.isfinite(mfcc(z, SR)))
    assert np.all(np.isfinite(power_to_db(np.zeros((2, 3, 4)))))


def test_batch_items_are_independent(rng) -> None:
    loud = (0.5 * rng.standard_normal(SR)).astype(np.float32)
    quiet = (1e-4 * rng.standard_normal(SR)).astype(np.float32)
    both = log_mel(np.stack([loud, quiet]), SR)
    np.testing.assert_allclose(both[1], log_mel(quiet, SR), atol=1e-4)
    np.testing.assert_allclose(both[0], log_mel(loud, SR), atol=1e-4)
    assert both[1].max() < both[0].max() - 40  # no clipping of the quiet item relative to the loud one


def test_logmel_extractor_rows(tone_440) -> None:
    y, sr = tone_440
    y = np.concatenate([y, y[: int(1.6 * sr)]])  # 4.6 s: one full 3 s segment and a 1.6 s padded tail
    ext = LogMelExtractor()
    assert ext.frame_shape == (128, n_frames(3 * SR, 512)) == (128, 130)
    assert ext.dim == 128 * 130 and len(ext.names) == ext.dim
    assert ext.names[:2] == ["mel000_t000", "mel000_t001"] and ext.names[-1] == "mel127_t129"
    out = ext(y, sr)
    bounds = segment_bounds(len(y), sr, segment_s=3.0)
    assert out.shape == (len(bounds), ext.dim) == (2, 16640)
    np.testing.assert_allclose(ext.segment_times(len(y), sr), bounds / sr)
    segs = segments(y, sr, segment_s=3.0)
    np.testing.assert_allclose(out[1].reshape(ext.frame_shape), log_mel(segs[1], sr), atol=1e-5)


def test_logmel_summary(rng) -> None:
    y = (0.1 * rng.standard_normal(4 * SR)).astype(np.float32)
    ext = LogMelExtractor(summary=True, n_mels=64, segment_s=None)
    assert ext.frame_shape is None and ext.dim == 128 == len(ext.names)
    assert ext.names[0] == "mel000_mean" and ext.names[64] == "mel000_std"
    out = ext(y, SR)
    lm = log_mel(y, SR, n_mels=64)
    assert out.shape == (1, 128)
    np.testing.assert_allclose(out[0, :64], lm.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(out[0, 64:], lm.std(axis=1), rtol=1e-4, atol=1e-4)


def test_mfcc_extractor_rows_and_summary(rng) -> None:
    y = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    ext = MFCCExtractor()
    assert ext.frame_shape == (20, 130) and ext.names[0] == "mfcc00_t000"
    out = ext(y, SR)
    np.testing.assert_allclose(out[0].reshape(20, 130), mfcc(y, SR), rtol=1e-5, atol=1e-4)

    summ = MFCCExtractor(summary=True, n_mfcc=13)
    assert summ.dim == 52 == len(summ.names)
    firsts = [summ.names[i] for i in (0, 13, 26, 39)]
    assert firsts == ["mfcc00_mean", "mfcc00_std", "mfcc00_dmean", "mfcc00_dstd"]
    row = summ(y, SR)[0]
    m = mfcc(y, SR, n_mfcc=13)
    np.testing.assert_allclose(row[:13], m.mean(axis=1), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(row[39:], delta(m).std(axis=1), rtol=1e-4, atol=1e-4)


def test_delta_of_a_ramp_is_its_slope() -> None:
    x = np.tile(np.arange(30, dtype=np.float64) * 0.5, (2, 1))
    np.testing.assert_allclose(delta(x)[:, 5:-5], 0.5)
    assert np.all(delta(x[:, :2]) == 0)  # too short for any window
    assert delta(x[:, :5]).shape == (2, 5)


def test_frames_fixed_for_a_config() -> None:
    ext = LogMelExtractor(segment_s=1.0, n_mels=32)
    assert ext.frame_shape == (32, 1 + SR // 512)
    for seconds in (1.0, 2.7, 5.2):
        y = np.zeros(int(seconds * SR), dtype=np.float32)
        assert ext(y, SR).shape[1] == 32 * (1 + SR // 512)


def test_round_trip_through_dict(rng) -> None:
    cases = [("logmel", {"n_mels": 40, "summary": True}), ("mfcc", {"n_mfcc": 13, "segment_s": 1.0})]
    for name, options in cases:
        ext = get_extractor(name, **options)
        again = extractor_from_dict(ext.to_dict())
        assert type(again) is type(ext) and again.config == ext.config
        y = (0.1 * rng.standard_normal(SR)).astype(np.float32)
        np.testing.assert_array_equal(again(y, SR), ext(y, SR))


def test_bad_configs() -> None:
    with pytest.raises(ConfigError, match="segment_s"):
        LogMelExtractor(segment_s=None)  # flattened matrices need a fixed number of frames
    with pytest.raises(ConfigError, match="n_mfcc"):
        MFCCExtractor(n_mfcc=200)
    with pytest.raises(ConfigError, match="n_mels"):
        LogMelExtractor(n_mels=0)
