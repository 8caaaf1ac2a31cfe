"""Augmentations on known inputs: exact effects, scales, probabilities and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import ConfigError
from genrekit.features.spectrogram import mfcc_from_log_mel
from genrekit.models.augment import (
    AUGMENTATIONS,
    AugmentConfig,
    Augmenter,
    add_noise,
    crop_resize,
    freq_mask,
    from_power,
    mixup,
    parse_augment,
    random_gain,
    spec_augment,
    time_mask,
    time_reverse,
    to_power,
    window_across,
)


@pytest.fixture
def batch(rng: np.random.Generator) -> np.ndarray:
    """A batch of 5 random 'dB spectrograms' of 12 bands x 20 frames."""
    return rng.uniform(-60.0, 0.0, size=(5, 12, 20)).astype(np.float32)


def ramps(n: int, bands: int, frames: int, start: np.ndarray) -> np.ndarray:
    """Matrices whose every band holds the frame index ``start[i] + t`` (time is visible in the values)."""
    t = np.asarray(start)[:, None] + np.arange(frames)[None, :]
    return np.broadcast_to(t[:, None, :], (n, bands, frames)).astype(np.float32)


# ---- names -----------------------------------------------------------------------------------------
def test_parse_augment_orders_dedupes_and_rejects_unknown() -> None:
    assert parse_augment("mixup, reverse,reverse") == ("reverse", "mixup")
    assert parse_augment(("noise", "crop")) == ("crop", "noise")
    assert parse_augment("") == () and parse_augment(None) == () and parse_augment("none") == ()
    assert parse_augment(",".join(AUGMENTATIONS)) == AUGMENTATIONS
    with pytest.raises(ConfigError, match="valid: crop, reverse"):
        parse_augment("reverse,timewarp")


def test_augment_config_options() -> None:
    cfg = AugmentConfig.from_options({"snr_db": 15, "gain_db": 3.0})
    assert cfg.snr_db == (15.0, 15.0) and cfg.gain_db == 3.0
    with pytest.raises(ConfigError, match="unknown augment option"):
        AugmentConfig.from_options({"snr": 10})
    with pytest.raises(ConfigError, match="reverse_p"):
        AugmentConfig(reverse_p=1.5)
    with pytest.raises(ConfigError, match="snr_db"):
        AugmentConfig(snr_db=(30.0, 10.0))


# ---- time reversal and masks -----------------------------------------------------------------------
def test_time_reverse_flips_time_and_twice_is_identity(batch: np.ndarray) -> None:
    r = time_reverse(batch)
    np.testing.assert_array_equal(r[:, :, 0], batch[:, :, -1])
    np.testing.assert_array_equal(r[:, 3, :], batch[:, 3, ::-1])
    np.testing.assert_array_equal(time_reverse(r), batch)


def test_masks_zero_exactly_the_chosen_bands_and_frames(batch: np.ndarray) -> None:
    starts, widths = np.array([0, 2, 5, 7, 11]), np.array([3, 0, 1, 4, 1])
    f = freq_mask(batch, starts, widths)
    for i, (s, w) in enumerate(zip(starts, widths, strict=True)):
        inside = np.zeros(12, bool)
        inside[s : s + w] = True
        assert np.all(f[i, inside] == 0.0)
        np.testing.assert_array_equal(f[i, ~inside], batch[i, ~inside])
    t = time_mask(batch, np.array([0, 4, 19, 10, 3]), np.array([2, 5, 1, 0, 20]), value=-7.0)
    assert np.all(t[0, :, :2] == -7.0) and np.array_equal(t[0, :, 2:], batch[0, :, 2:])
    assert np.all(t[1, :, 4:9] == -7.0) and np.array_equal(t[1, :, 9:], batch[1, :, 9:])
    assert np.all(t[2, :, 19] == -7.0) and np.array_equal(t[2, :, :19], batch[2, :, :19])
    np.testing.assert_array_equal(t[3], batch[3])
    assert np.all(t[4, :, 3:] == -7.0)
    np.testing.assert_array_equal(batch, batch.copy())  # the input is not modified


def test_spec_augment_masks_whole_rows_and_columns_within_limits(rng: np.random.Generator) -> None:
    x = rng.uniform(1.0, 2.0, size=(200, 20, 50))  # no value is 0 before masking
    out = spec_augment(x, rng, time_masks=1, time_max=0.2, freq_masks=1, freq_max=0.25)
    zero = out == 0.0
    cols = zero.all(axis=1)  # (batch, frames): masked time columns
    rows = zero.all(axis=2)  # (batch, bands): masked frequency rows
    # every zero lies in a masked row or column; one mask of each kind covers <= 20 % / 25 %
    assert np.array_equal(zero, cols[:, None, :] | rows[:, :, None])
    assert cols.sum(axis=1).max() <= 10 and rows.sum(axis=1).max() <= 5
    assert cols.any(axis=1).mean() > 0.7 and rows.any(axis=1).mean() > 0.7
    # contiguous: each example's masked columns form one run
    for c in cols[:20]:
        idx = np.flatnonzero(c)
        assert len(idx) == 0 or idx[-1] - idx[0] + 1 == len(idx)
    np.testing.assert_array_equal(out[~zero], x[~zero])


# ---- scales, gain and noise ----------------------------------------------------------------------------
@pytest.mark.parametrize("scale", ["db", "log1p"])
def test_power_round_trip(batch: np.ndarray, scale: str) -> None:
    x = batch if scale == "db" else np.log10(1 + 10000 * 10 ** (batch / 10)).astype(np.float32)
    np.testing.assert_allclose(from_power(to_power(x, scale=scale), scale=scale), x, rtol=1e-5, atol=1e-4)


def test_mfcc_power_round_trip_with_all_coefficients(batch: np.ndarray) -> None:
    c = mfcc_from_log_mel(batch.astype(np.float64), n_mfcc=12)
    p = to_power(c, scale="mfcc", n_mels=12)
    np.testing.assert_allclose(10 * np.log10(p), batch, atol=1e-6)
    np.testing.assert_allclose(from_power(p, scale="mfcc", n_bands=12), c, atol=1e-6)


def test_gain_in_db_adds_to_every_cell(batch: np.ndarray) -> None:
    g = np.array([-6.0, 0.0, 3.0, 1.5, 6.0])
    np.testing.assert_allclose(random_gain(batch, g, scale="db"), batch + g[:, None, None], atol=1e-5)


def test_gain_on_mfcc_equals_mfcc_of_the_louder_log_mel(batch: np.ndarray) -> None:
    g = np.array([-6.0, 0.0, 3.0, 1.5, 6.0])
    c = mfcc_from_log_mel(batch, n_mfcc=5)
    louder = mfcc_from_log_mel(batch + g[:, None, None], n_mfcc=5)
    out = random_gain(c, g, scale="mfcc", n_mels=12)
    np.testing.assert_allclose(out, louder, atol=1e-3)
    np.testing.assert_array_equal(out[:, 1:], c[:, 1:].astype(np.float32))


def test_gain_on_log1p_scales_the_power(batch: np.ndarray) -> None:
    x = np.log10(1 + 10000 * 10 ** (batch / 10)).astype(np.float32)
    g = np.array([-6.0, 0.0, 3.0, 1.5, 6.0])
    out = random_gain(x, g, scale="log1p")
    ratio = to_power(out, scale="log1p") / to_power(x, scale="log1p")
    np.testing.assert_allclose(ratio, np.broadcast_to(10 ** (g / 10)[:, None, None], ratio.shape), rtol=1e-3)


def test_noise_power_matches_the_snr(rng: np.random.Generator) -> None:
    x = rng.uniform(-40.0, 0.0, size=(4, 64, 100)).astype(np.float32)
    snr = np.array([0.0, 10.0, 20.0, 30.0])
    out = add_noise(x, snr, rng, scale="db")
    p_sig, p_out = to_power(x, scale="db"), to_power(out, scale="db")
    measured = 10 * np.log10(p_sig.mean(axis=(1, 2)) / (p_out - p_sig).mean(axis=(1, 2)))
    np.testing.assert_allclose(measured, snr, atol=0.3)
    assert np.all(out >= x - 1e-4)  # adding noise power never lowers a cell


def test_noise_on_mfcc_raises_the_quiet_bands(rng: np.random.Generator) -> None:
    logmel = np.full((1, 16, 30), -80.0)
    logmel[:, :4] = 0.0  # loud low bands, silent high bands
    c = mfcc_from_log_mel(logmel, n_mfcc=16)
    out = add_noise(c, np.array([10.0]), rng, scale="mfcc", n_mels=16)
    back = 10 * np.log10(to_power(out, scale="mfcc", n_mels=16))
    assert np.all(back[:, 8:] > -30.0)  # the silent bands now hold noise about 10 dB under the mean
    np.testing.assert_allclose(back[:, :4], 0.0, atol=1.0)


# ---- crop ------------------------------------------------------------------------------------------------
def test_window_across_continues_into_the_next_segment() -> None:
    first = ramps(3, 2, 10, np.zeros(3))
    second = ramps(3, 2, 10, np.full(3, 10))
    w = window_across(first, second, np.array([0, 4, 10]))
    np.testing.assert_array_equal(w[0], first[0])
    np.testing.assert_array_equal(w[1, 0], np.arange(4, 14))
    np.testing.assert_array_equal(w[2], second[2])


def test_crop_resize_is_identity_at_full_length_and_stretches_a_ramp() -> None:
    x = ramps(2, 3, 11, np.zeros(2))
    np.testing.assert_array_equal(crop_resize(x, np.array([0, 0]), np.array([11, 11])), x)
    out = crop_resize(x, np.array([2, 0]), np.array([6, 11]))
    np.testing.assert_allclose(out[0, 1], np.linspace(2.0, 7.0, 11), atol=1e-6)


def test_augmenter_crop_moves_within_the_track(rng: np.random.Generator) -> None:
    # a track of 3 consecutive 10-frame segments whose values are the frame index within the track
    frames = 10
    seg = ramps(3, 4, frames, np.array([0, 10, 20]))
    aug = Augmenter("crop", AugmentConfig(crop_p=1.0))
    x = np.repeat(seg[1:2], 300, axis=0)
    prev, nxt = np.repeat(seg[0:1], 300, axis=0), np.repeat(seg[2:3], 300, axis=0)
    out = aug.crop(x, rng, prev=prev, next_=nxt, has_prev=np.ones(300, bool), has_next=np.ones(300, bool))
    starts = out[:, 0, 0]
    assert np.all(np.diff(out[:, 0, :], axis=1) == 1.0)  # contiguous audio of the track
    assert starts.min() >= 1 and starts.max() <= 19 and not np.any(starts == 10)  # shifted, both ways
    assert (starts < 10).mean() > 0.3 and (starts > 10).mean() > 0.3
    # no neighbour: a sub-window stretched back (still increasing, covering at least 80 % of the frames)
    lone = aug.crop(x[:50], rng)
    span = lone[:, 0, -1] - lone[:, 0, 0]
    assert np.all(np.diff(lone[:, 0, :], axis=1) > 0) and span.min() >= 0.8 * frames - 1 - 1e-6


# ---- mixup and the augmenter -------------------------------------------------------------------------
def test_mixup_mixes_inputs_and_targets_alike(rng: np.random.Generator) -> None:
    labels = rng.integers(0, 2, 64)
    x = np.broadcast_to(labels[:, None, None].astype(np.float32), (64, 3, 4)).copy()  # value == class
    y = np.eye(2, dtype=np.float32)[labels]
    xm, ym = mixup(x, y, rng, alpha=0.4)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(xm[:, 0, 0], ym[:, 1], atol=1e-6)  # the input is mixed like the target
    assert ((ym > 0.01) & (ym < 0.99)).any()
    x0, y0 = mixup(x, y, rng, alpha=0.0)
    np.testing.assert_array_equal(x0, x)
    np.testing.assert_array_equal(y0, y)


def test_augmenter_is_deterministic_and_respects_probabilities(batch: np.ndarray) -> None:
    names = "reverse,gain,noise,specaugment"
    a = Augmenter(names)
    out1 = a.after_standardise(
        a.before_standardise(batch, np.random.default_rng(1)), np.random.default_rng(2)
    )
    out2 = a.after_standardise(
        a.before_standardise(batch, np.random.default_rng(1)), np.random.default_rng(2)
    )
    np.testing.assert_array_equal(out1, out2)
    assert not np.array_equal(out1, batch)
    always = Augmenter("reverse", AugmentConfig(reverse_p=1.0))
    np.testing.assert_array_equal(
        always.before_standardise(batch, np.random.default_rng(0)), time_reverse(batch)
    )
    never = Augmenter("reverse,gain,noise", AugmentConfig(reverse_p=0.0, gain_p=0.0, noise_p=0.0))
    np.testing.assert_array_equal(never.before_standardise(batch, np.random.default_rng(0)), batch)
    off = Augmenter("")
    assert not off
    np.testing.assert_array_equal(off.after_standardise(batch, np.random.default_rng(0)), batch)
    xs, ys = off.mix(batch, np.eye(5), np.random.default_rng(0))
    assert xs is batch
    with pytest.raises(ConfigError, match="feature scale"):
        Augmenter("gain", scale="linear")
