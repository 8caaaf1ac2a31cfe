from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate

from genrekit import degrade as D
from genrekit.errors import AudioError, ConfigError

SR = 22050


def band_energy(y: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum())


def peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


@pytest.fixture
def music_like(rng) -> np.ndarray:
    """Two seconds of a decaying harmonic note train with noise bursts: broadband, not periodic."""
    n = 2 * SR
    t = np.arange(n) / SR
    y = np.zeros(n)
    for k, start in enumerate(range(0, n - SR // 4, SR // 4)):
        f0 = 110.0 * 2 ** (k % 7 / 12)
        seg = t[: SR // 4]
        note = sum(np.sin(2 * np.pi * f0 * h * seg) / h for h in range(1, 8)) * np.exp(-seg * 8)
        y[start : start + SR // 4] += note
    y += 0.05 * rng.standard_normal(n) * (np.sin(2 * np.pi * 2 * t) > 0.7)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


# ------------------------------------------------------------------------------------------------ noise
@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [30.0, 20.0, 10.0, 0.0])
def test_add_noise_hits_the_snr(music_like, color, snr_db):
    out = D.add_noise(music_like, SR, snr_db=snr_db, color=color, rng=np.random.default_rng(1))
    assert out.dtype == np.float32 and out.shape == music_like.shape
    assert D.measure_snr_db(music_like, out) == pytest.approx(snr_db, abs=0.5)
    assert abs(D.measure_snr_db(music_like, out) - snr_db) < 0.01  # exact up to float32 rounding


def test_pink_noise_has_equal_power_per_octave_and_white_does_not(rng):
    pink = D.pink_noise(4 * SR, SR, rng)
    white = rng.standard_normal(4 * SR)
    low, high = (200, 400), (3200, 6400)  # one octave each, 4 octaves apart
    ratio_pink = band_energy(pink, SR, *low) / band_energy(pink, SR, *high)
    ratio_white = band_energy(white, SR, *low) / band_energy(white, SR, *high)
    assert 0.7 < ratio_pink < 1.4
    assert ratio_white == pytest.approx(1 / 16, rel=0.2)
    assert np.mean(pink**2) == pytest.approx(1.0)


def test_add_noise_is_seeded_and_leaves_silence_alone(music_like):
    a = D.add_noise(music_like, SR, snr_db=10, rng=np.random.default_rng(5))
    b = D.add_noise(music_like, SR, snr_db=10, rng=np.random.default_rng(5))
    c = D.add_noise(music_like, SR, snr_db=10, rng=np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    silent = np.zeros(100, dtype=np.float32)
    assert np.array_equal(D.add_noise(silent, SR, snr_db=10), silent)
    with pytest.raises(ConfigError, match="pink"):
        D.add_noise(music_like, SR, snr_db=10, color="brown")


# ------------------------------------------------------------------------------------------------ codec
def _lag(a: np.ndarray, b: np.ndarray, max_lag: int = 3000) -> int:
    c = correlate(a.astype(np.float64), b.astype(np.float64), mode="full", method="fft")
    mid = len(b) - 1
    return int(np.argmax(c[mid - max_lag : mid + max_lag + 1])) - max_lag


@pytest.mark.parametrize(
    ("fmt", "kw"),
    [
        ("mp3", {"bitrate_kbps": 64}),
        ("mp3", {"bitrate_kbps": 16}),
        ("ogg", {"quality": 0.5}),
        ("ogg", {"quality": 0.0}),
    ],
)
def test_codec_round_trip_decodes_aligned_and_same_length(music_like, fmt, kw):
    out = D.codec(music_like, SR, format=fmt, **kw)
    assert out.dtype == np.float32 and out.shape == music_like.shape and np.all(np.isfinite(out))
    assert _lag(out, music_like) == 0  # the encoder delay was removed
    assert not np.array_equal(out, music_like)  # lossy
    assert np.corrcoef(out, music_like)[0, 1] > 0.8


def test_lower_bitrate_means_fewer_bytes_and_more_error(music_like):
    sizes = {kb: len(D.encode(music_like, SR, format="mp3", bitrate_kbps=kb)) for kb in (64, 16)}
    assert sizes[16] < sizes[64] / 2.5
    # nominal bitrate is met within 15 %
    assert sizes[64] * 8 / (len(music_like) / SR) / 1000 == pytest.approx(64, rel=0.15)
    snr64 = D.measure_snr_db(music_like, D.codec(music_like, SR, format="mp3", bitrate_kbps=64))
    snr16 = D.measure_snr_db(music_like, D.codec(music_like, SR, format="mp3", bitrate_kbps=16))
    assert snr64 > snr16 + 3
    ogg_hi, ogg_lo = (len(D.encode(music_like, SR, format="ogg", quality=q)) for q in (0.6, 0.0))
    assert ogg_lo < ogg_hi


def test_codec_resamples_rates_mp3_cannot_carry(music_like):
    from genrekit.audio import resample

    y = resample(music_like, SR, 20000)
    out = D.codec(y, 20000, format="mp3", bitrate_kbps=64)
    assert out.shape == y.shape and np.corrcoef(out, y)[0, 1] > 0.8
    hi = resample(music_like, SR, 44100)  # MPEG-1 has no 16 kbps: coded at 24 kHz, like LAME would
    out = D.codec(hi, 44100, format="mp3", bitrate_kbps=16)
    assert out.shape == hi.shape and np.corrcoef(out, hi)[0, 1] > 0.5
    assert D._mp3_rate(44100, 16) == 24000 and D._mp3_rate(20000, 64) == 16000 and D._mp3_rate(SR, 64) == SR
    with pytest.raises(ConfigError, match="valid rates"):
        D.encode(y, 20000, format="mp3")
    with pytest.raises(ConfigError, match="outside the MP3 range"):
        D.encode(music_like, SR, format="mp3", bitrate_kbps=320)
    with pytest.raises(ConfigError, match="mp3, ogg"):
        D.codec(music_like, SR, format="aac")


# --------------------------------------------------------------------------------------------- filters
@pytest.mark.parametrize("cutoff", [1000.0, 2000.0, 4000.0])
def test_lowpass_removes_energy_above_cutoff(rng, cutoff):
    y = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    out = D.lowpass(y, SR, cutoff_hz=cutoff)
    assert out.shape == y.shape and out.dtype == np.float32
    above = band_energy(out, SR, 1.5 * cutoff, SR / 2) / band_energy(y, SR, 1.5 * cutoff, SR / 2)
    below = band_energy(out, SR, 0, 0.5 * cutoff) / band_energy(y, SR, 0, 0.5 * cutoff)
    assert 10 * np.log10(above) < -50
    assert abs(10 * np.log10(below)) < 0.5
    assert np.array_equal(D.lowpass(y, SR, cutoff_hz=SR), y)  # at/above Nyquist: unchanged


def test_telephone_keeps_300_to_3400_hz(rng):
    y = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    out = D.telephone(y, SR)
    ratio = {
        band: band_energy(out, SR, *band) / band_energy(y, SR, *band)
        for band in [(20, 100), (800, 2000), (7000, 11000)]
    }
    assert 10 * np.log10(ratio[(20, 100)]) < -30
    assert 10 * np.log10(ratio[(7000, 11000)]) < -40
    assert abs(10 * np.log10(ratio[(800, 2000)])) < 0.5


# ------------------------------------------------------------------------------------- level and time
def test_gain_clip(tone_440):
    y, _ = tone_440  # peak 0.5
    quiet = D.gain_clip(y, gain_db=-20)
    assert np.max(np.abs(quiet)) == pytest.approx(0.05, rel=1e-4)
    loud = D.gain_clip(y, gain_db=12)  # peak 2.0 before clipping
    assert np.max(np.abs(loud)) == 1.0
    assert np.mean(np.abs(loud) == 1.0) > 0.3


@pytest.mark.parametrize("rate", [0.9, 1.1])
def test_time_stretch_changes_length_not_pitch(tone_440, rate):
    y, sr = tone_440
    out = D.time_stretch(y, sr, rate=rate)
    assert len(out) == round(len(y) / rate)
    assert peak_hz(out, sr) == pytest.approx(440, rel=0.01)
    assert np.sqrt(np.mean(out[sr // 4 : -sr // 4] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)


@pytest.mark.parametrize("semitones", [-2, 1, 2])
def test_pitch_shift_changes_pitch_not_length(tone_440, semitones):
    y, sr = tone_440
    out = D.pitch_shift(y, sr, semitones=semitones)
    assert out.shape == y.shape and out.dtype == np.float32
    assert peak_hz(out, sr) == pytest.approx(440 * 2 ** (semitones / 12), rel=0.01)


def test_reverb_decays_at_rt60_and_keeps_level():
    y = np.zeros(2 * SR, dtype=np.float32)
    y[100] = 1.0
    rt60 = 0.8
    out = D.reverb(y, SR, rt60_s=rt60, rng=np.random.default_rng(0))
    assert out.shape == y.shape
    assert np.sqrt(np.mean(out.astype(np.float64) ** 2)) == pytest.approx(np.sqrt(np.mean(y**2.0)), rel=1e-5)

    def energy(t0: float) -> float:
        a = 100 + int(t0 * SR)
        return float(np.sum(out[a : a + int(0.05 * SR)].astype(np.float64) ** 2))

    decay_db = 10 * np.log10(energy(0.05) / energy(0.05 + rt60 / 2))
    assert decay_db == pytest.approx(30, abs=4)  # 60 dB per rt60


def test_fix_length_trims_and_loops():
    y = np.arange(5, dtype=np.float32)
    assert D.fix_length(y, 3).tolist() == [0, 1, 2]
    assert D.fix_length(y, 12).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


# -------------------------------------------------------------------------------------------- registry
def test_every_registered_degradation_runs_at_every_level(music_like):
    y = music_like[: SR // 2]
    for name, d in D.DEGRADATIONS.items():
        assert d.levels and d.unit and d.description
        lo, hi = d.augment_range
        assert lo <= d.sample_level(np.random.default_rng(0)) <= hi
        for level in d.levels:
            out = D.apply(name, level, y, SR, np.random.default_rng(0))
            assert out.dtype == np.float32 and np.all(np.isfinite(out)), name
            if name == "time_stretch":
                assert len(out) == round(len(y) / level)
            else:
                assert out.shape == y.shape, name
            assert not np.array_equal(out, y), f"{name} at {level} did nothing"


def test_apply_and_resolve_name_errors_list_the_valid_names(music_like):
    with pytest.raises(ConfigError, match="noise_white") as exc:
        D.apply("hiss", 10, music_like, SR)
    assert "reverb" in str(exc.value)
    assert D.resolve("noise, codec,noise_white") == ("noise_white", "noise_pink", "mp3", "ogg")
    assert D.resolve(["reverb"]) == ("reverb",)
    assert D.resolve("") == () and D.resolve(None) == ()
    assert set(D.resolve("all")) == set(D.DEGRADATIONS)
    with pytest.raises(ConfigError, match="bandlimit"):
        D.resolve("noise,hiss")


def test_bad_signals_are_refused():
    with pytest.raises(AudioError, match="mono"):
        D.apply("quiet", -10, np.zeros((10, 2), dtype=np.float32), SR)
    with pytest.raises(AudioError, match="NaN"):
        D.lowpass(np.array([0.0, np.nan], dtype=np.float32), SR, cutoff_hz=1000)
    with pytest.raises(ConfigError, match="sr"):
        D.add_noise(np.ones(10, dtype=np.float32), 0, snr_db=10)
