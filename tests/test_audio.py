from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit import audio
from genrekit.errors import AudioError, ConfigError, UnsupportedFormatError

SR = 22050

# (extension, soundfile format, subtype, tolerance on the samples)
FORMATS = [
    (".wav", "WAV", "PCM_16", 1e-4),
    (".au", "AU", "PCM_16", 1e-4),
    (".aiff", "AIFF", "PCM_16", 1e-4),
    (".flac", "FLAC", "PCM_16", 1e-4),
    (".ogg", "OGG", "VORBIS", None),
    (".opus", "OGG", "OPUS", None),
    (".mp3", "MP3", "MPEG_LAYER_III", None),
]


def _tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize(("ext", "fmt", "subtype", "tol"), FORMATS)
def test_round_trip_every_format(tmp_path, ext, fmt, subtype, tol):
    sr = 48000 if subtype == "OPUS" else SR  # opus only encodes at 8/12/16/24/48 kHz
    y = _tone(440.0, 2.0, sr)
    path = tmp_path / f"tone{ext}"
    sf.write(path, y, sr, format=fmt, subtype=subtype)
    out, out_sr = audio.load(path, sr=None)
    assert out_sr == sr
    assert out.dtype == np.float32 and out.ndim == 1
    # lossy codecs may add encoder delay/padding: allow a few hundredths of a second
    assert abs(len(out) / sr - 2.0) < (1e-6 if tol else 0.08)
    if tol:
        np.testing.assert_allclose(out, y, atol=tol)
    else:
        assert abs(_peak_hz(out, sr) - 440.0) < 3.0
    # the same bytes, and a binary file object, give the same samples
    data = path.read_bytes()
    from_bytes, _ = audio.load(data, sr=None)
    from_file, _ = audio.load(io.BytesIO(data), sr=None)
    np.testing.assert_array_equal(from_bytes, out)
    np.testing.assert_array_equal(from_file, out)


@pytest.mark.parametrize(("sr_in", "sr_out"), [(44100, 22050), (22050, 16000), (8000, 22050)])
def test_resampling_keeps_the_peak_frequency(tmp_path, sr_in, sr_out):
    path = tmp_path / "t.wav"
    sf.write(path, _tone(1000.0, 1.0, sr_in), sr_in)
    y, sr = audio.load(path, sr=sr_out)
    assert sr == sr_out
    assert len(y) == pytest.approx(sr_out, abs=2)
    assert abs(_peak_hz(y, sr) - 1000.0) < 2.0
    assert np.max(np.abs(y)) == pytest.approx(0.5, abs=0.02)


def test_mono_mixdown_and_stereo(tmp_path):
    left, right = _tone(440.0, 1.0), _tone(660.0, 1.0, amp=0.25)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    mono, _ = audio.load(path, sr=None)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    stereo, _ = audio.load(path, sr=None, mono=False)
    assert stereo.shape == (2, SR)
    np.testing.assert_allclose(stereo[1], right, atol=1e-6)


def test_offset_and_duration_read_only_the_window(tmp_path):
    ramp = np.linspace(-0.9, 0.9, 3 * SR, dtype=np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(path, ramp, SR, subtype="FLOAT")
    y, _ = audio.load(path, sr=None, offset_s=1.0, duration_s=0.5)
    np.testing.assert_array_equal(y, ramp[SR : SR + SR // 2])
    tail, _ = audio.load(path, sr=None, offset_s=2.5)
    np.testing.assert_array_equal(tail, ramp[int(2.5 * SR) :])
    with pytest.raises(AudioError, match="past the end"):
        audio.load(path, offset_s=5.0)
    with pytest.raises(ConfigError):
        audio.load(path, duration_s=0)


def test_max_duration(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(5 * SR, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="over the limit"):
        audio.load(path, max_duration_s=4.0)
    y, _ = audio.load(path, max_duration_s=4.0, duration_s=3.0)
    assert len(y) == 3 * SR


def test_missing_empty_and_directory(tmp_path):
    with pytest.raises(AudioError, match="not found") as exc:
        audio.load(tmp_path / "nope.wav")
    assert "nope.wav" in str(exc.value)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        audio.load(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="empty"):
        audio.load(b"")
    with pytest.raises(AudioError, match="directory"):
        audio.load(tmp_path)


def test_zero_length_wav(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="zero length"):
        audio.load(path)


def test_non_audio_files(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError, match="not an audio file") as exc:
        audio.load(text)
    assert "notes.wav" in str(exc.value)
    png = tmp_path / "image.wav"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(AudioError, match="not an audio file"):
        audio.load(png)


def test_truncated_and_corrupt(tmp_path):
    path = tmp_path / "full.wav"
    sf.write(path, _tone(440.0, 2.0), SR)
    data = path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])  # half the samples are gone
    with pytest.raises(AudioError, match="truncated") as exc:
        audio.load(cut)
    assert "cut.wav" in str(exc.value)
    with pytest.raises(AudioError, match="truncated"):
        audio.load(data[:1000])
    garbage = tmp_path / "garbage.flac"
    garbage.write_bytes(b"fLaC" + bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    with pytest.raises(AudioError):
        audio.load(garbage)


def test_non_finite_samples(tmp_path):
    y = _tone(440.0, 0.5)
    y[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="non-finite"):
        audio.load(path)


def test_sample_rate_out_of_range(tmp_path):
    path = tmp_path / "low.wav"
    sf.write(path, np.zeros(100, dtype=np.float32), 500)
    with pytest.raises(AudioError, match="sample rate 500"):
        audio.load(path)


def test_m4a_needs_ffmpeg(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    monkeypatch.setattr(audio.decoding.shutil, "which", lambda name: None)
    with pytest.raises(UnsupportedFormatError, match="ffmpeg"):
        audio.load(path)


@pytest.mark.parametrize("fmt, ext, kind", [("AIFF", ".aiff", "aiff"), ("AU", ".au", "au")])
def test_truncated_aiff_and_au_are_refused(tmp_path, fmt, ext, kind):
    buf = io.BytesIO()
    sf.write(buf, _tone(440, 1.0), SR, format=fmt, subtype="PCM_16")
    whole = buf.getvalue()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(AudioError, match=rf"cut{ext}: truncated {kind}: the header declares \d+ bytes"):
        audio.load(path)
    with pytest.raises(AudioError, match=f"truncated {kind}"):
        audio.load(whole[: len(whole) // 2])
    y, _ = audio.load(whole)  # the whole file is fine
    assert len(y) == SR


def test_a_cut_off_mp3_is_called_truncated():
    buf = io.BytesIO()
    sf.write(buf, _tone(440, 3.0), SR, format="MP3")
    want = r"^clip.mp3: truncated mp3: the header declares \d+ bytes of audio data but only 300 "
    with pytest.raises(AudioError, match=want):
        cut = io.BytesIO(buf.getvalue()[:300])
        cut.name = "clip.mp3"
        audio.load(cut)


class FakeFfmpeg:
    """Stands in for the ffmpeg binary: 'decodes' a 30 s tone, honouring ``-t``, and records the calls."""

    def __init__(self, seconds: float = 30.0) -> None:
        self.seconds = seconds
        self.calls: list[list[str]] = []

    def __call__(self, cmd, input=None, capture_output=True, check=False):  # noqa: A002 - subprocess.run's name
        import subprocess

        self.calls.append(list(cmd))
        seconds = min(self.seconds, float(cmd[cmd.index("-t") + 1])) if "-t" in cmd else self.seconds
        buf = io.BytesIO()
        sf.write(buf, _tone(440, seconds), SR, format="WAV", subtype="FLOAT")
        return subprocess.CompletedProcess(cmd, 0, buf.getvalue(), b"")


def test_ffmpeg_decodes_no_more_than_the_window_or_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    fake = FakeFfmpeg(30.0)
    monkeypatch.setattr(audio.decoding.shutil, "which", lambda name: "/usr/bin/ffmpeg")
    monkeypatch.setattr(audio.decoding.subprocess, "run", fake)
    y, sr = audio.load(path, sr=SR)  # the library's own cap (an hour) is far away: decoded whole
    assert len(y) == 30 * SR and fake.calls[-1][fake.calls[-1].index("-t") + 1] == f"{3601.0:.3f}"
    y, _ = audio.load(path, sr=SR, offset_s=5.0, duration_s=2.0)  # a window: decoding stops at its end
    assert len(y) == 2 * SR and fake.calls[-1][fake.calls[-1].index("-t") + 1] == "7.000"
    with pytest.raises(AudioError, match=r"song.m4a.*longer than the limit of 10.0 s"):
        audio.load(path, sr=SR, max_duration_s=10.0)  # refused after 11 s decoded, not 30
    assert fake.calls[-1][fake.calls[-1].index("-t") + 1] == "11.000"
    y, _ = audio.load(path, sr=SR, max_duration_s=None)
    assert len(y) == 30 * SR and "-t" not in fake.calls[-1]


def test_info_reads_the_header(tmp_path):
    path = tmp_path / "h.flac"
    sf.write(path, np.zeros((SR, 2), dtype=np.float32), SR)
    inf = audio.info(path)
    assert (inf.sr, inf.channels, inf.frames, inf.format) == (SR, 2, SR, "FLAC")
    assert inf.duration_s == pytest.approx(1.0)


def test_segment_bounds_and_segments():
    sr = 10
    y = np.arange(73, dtype=np.float32)  # 7.3 s at 10 Hz
    b = audio.segment_bounds(len(y), sr, segment_s=3.0)
    # two full segments; the 1.3 s tail is under half a segment and is dropped
    np.testing.assert_array_equal(b, [[0, 30], [30, 60]])
    segs = audio.segments(y, sr, segment_s=2.0)
    assert segs.shape == (4, 20)  # starts 0, 20, 40; the 1.3 s tail (>= 1 s) padded
    np.testing.assert_array_equal(segs[1], y[20:40])
    np.testing.assert_array_equal(segs[-1][:13], y[60:73])
    np.testing.assert_array_equal(segs[-1][13:], y[60:67])  # repeat padding
    zero = audio.segments(y, sr, segment_s=2.0, pad="zero")
    assert np.all(zero[-1][13:] == 0)
    assert audio.segments(y, sr, segment_s=2.0, pad="drop").shape == (3, 20)
    # overlapping: full starts 0..50 reach 70; the 0.3 s left uncovered is too short for another
    overlap = audio.segment_bounds(len(y), sr, segment_s=2.0, hop_s=1.0)
    np.testing.assert_array_equal(overlap[:, 0], [0, 10, 20, 30, 40, 50])


def test_short_signal_gives_one_padded_segment():
    y = np.array([1, 2, 3], dtype=np.float32)
    np.testing.assert_array_equal(audio.segments(y, 1, segment_s=7.0), [[1, 2, 3, 1, 2, 3, 1]])
    assert audio.segments(y, 1, segment_s=7.0, pad="drop").shape == (0, 7)
    with pytest.raises(ConfigError):
        audio.segments(y, 1, segment_s=2.0, pad="mirror")


def test_center_crop():
    y = np.arange(100, dtype=np.float32)
    np.testing.assert_array_equal(audio.center_crop(y, 10, duration_s=2.0), y[40:60])
    assert audio.center_crop(y, 10, duration_s=20.0) is y


def test_digests_are_stable(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"abc")
    assert audio.file_digest(p) == audio.file_digest(p)
    assert audio.array_digest(np.zeros(3)) != audio.array_digest(np.zeros(4))


# ------------------------------------------------------------------------------------- windowed decoding
def _chirp_file(tmp_path, name: str, sr: int, seconds: float, fmt: str, channels: int = 2):
    t = np.arange(int(seconds * sr)) / sr
    y = 0.4 * np.sin(2 * np.pi * (100 + 300 * t) * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)
    frames = np.stack([y, 0.5 * y], axis=1)[:, :channels].astype(np.float32)
    path = tmp_path / name
    sf.write(path, frames, sr, format=fmt)
    return path


@pytest.mark.parametrize(
    ("name", "sr_in", "fmt", "atol"),
    [
        ("a.wav", 44100, "WAV", 1e-5),  # resampled 44.1 kHz -> 16 kHz (grid of 160 samples)
        ("b.flac", 22050, "FLAC", 1e-5),  # 22.05 kHz -> 16 kHz (grid of 320)
        ("c.wav", 16000, "WAV", 0.0),  # no resampling: the very samples
        ("d.ogg", 44100, "OGG", 1e-5),
        ("e.mp3", 44100, "MP3", 1e-5),
    ],
)
def test_load_windows_gives_the_whole_decodes_samples(tmp_path, name, sr_in, fmt, atol):
    path = _chirp_file(tmp_path, name, sr_in, 6.0, fmt)
    y, _ = audio.load(path, sr=16000)
    n = len(y)
    wins = [(0, 3000), (12345, 20000), (n - 7001, n), (40001, 40500), (n - 100, n + 50)]
    pieces = audio.load_windows(path, wins, sr=16000)
    assert [len(p) for p in pieces] == [3000, 7655, 7001, 499, 100]
    for p, (a, b) in zip(pieces, wins, strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, y[a:b], rtol=0, atol=atol)
    assert audio.window_grid(44100, 16000) == 160 and audio.window_grid(48000, 16000) == 1


def test_load_windows_from_bytes_and_file_objects(tmp_path):
    path = _chirp_file(tmp_path, "a.wav", 22050, 3.0, "WAV", channels=1)
    y, _ = audio.load(path, sr=16000)
    data = path.read_bytes()
    for src in (data, io.BytesIO(data), str(path)):
        (piece,) = audio.load_windows(src, [(1000, 9000)], sr=16000)
        np.testing.assert_allclose(piece, y[1000:9000], rtol=0, atol=1e-5)


def test_load_windows_refuses_what_load_refuses(tmp_path):
    y = _tone(440.0, 10.0)
    for fmt, ext in (("FLAC", "flac"), ("WAV", "wav"), ("OGG", "ogg")):
        buf = io.BytesIO()
        sf.write(buf, y, SR, format=fmt)
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        # the window lies in the part that is there: the file's end is decoded all the same
        with pytest.raises(AudioError, match="truncated") as exc:
            audio.load_windows(cut, [(0, 1000)], sr=SR)
        assert f"cut.{ext}" in str(exc.value)
    path = tmp_path / "ok.wav"
    sf.write(path, y, SR)
    with pytest.raises(AudioError, match="past the end"):
        audio.load_windows(path, [(11 * SR, 12 * SR)], sr=SR)
    with pytest.raises(AudioError, match="limit of 5.0 s"):
        audio.load_windows(path, [(0, 100)], sr=SR, max_duration_s=5.0)
    with pytest.raises(ConfigError, match="windows"):
        audio.load_windows(path, [(100, 100)], sr=SR)
    bad = y.copy()
    bad[3 * SR] = np.inf
    sf.write(tmp_path / "inf.wav", bad, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="non-finite"):
        audio.load_windows(tmp_path / "inf.wav", [(2 * SR, 4 * SR)], sr=SR)
    with pytest.raises(AudioError, match="not an audio file"):
        audio.load_windows(b"hello, this is text" * 10, [(0, 10)], sr=SR)


def _beats_mp3(tmp_path, seconds: float, seed: int, *, stereo: bool) -> Path:
    """A chord with noise bursts as mp3 at 44.1 kHz: mpg123's first frames after a seek differ here unless
    prerolled, and a read that stops inside an MPEG frame spoils the next one."""
    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * np.random.default_rng(seed).standard_normal(len(t))
    left = 0.5 * chord + 0.2 * beat
    y = np.stack([left, 0.4 * chord], axis=1) if stereo else left
    path = tmp_path / "beats.mp3"
    sf.write(path, y.astype(np.float32), sr)
    return path


def test_mp3_windows_equal_the_continuous_decode(tmp_path):
    path = _beats_mp3(tmp_path, 12.0, 0, stereo=True)
    y, _ = audio.load(path, sr=16000)
    starts = np.sort(np.random.default_rng(1).integers(0, len(y) - 5000, 25))
    wins = [(int(a), int(a) + 4000) for a in starts]
    for p, (a, b) in zip(audio.load_windows(path, wins, sr=16000), wins, strict=True):
        np.testing.assert_allclose(p, y[a:b], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("fmt", "subtype"), [("MP3", None), ("OGG", "VORBIS"), ("OGG", "OPUS"), ("FLAC", "PCM_16")]
)
def test_an_offset_read_equals_the_whole_decode(tmp_path, fmt, subtype):
    # load(offset_s=) reads through the same FrameReader as load_windows: an mp3 seeks with preroll (its
    # first frames differed by up to 0.4 without it) and an Ogg decodes forward (a seek landed elsewhere:
    # Vorbis crop windows differed by up to 0.7), so a crop window gives the whole decode's samples
    sr = 48000 if subtype == "OPUS" else 44100
    if fmt == "MP3":
        path = _beats_mp3(tmp_path, 8.0, 2, stereo=False)
    else:
        path = tmp_path / f"beats.{fmt.lower()}"
        y, _ = audio.load(_beats_mp3(tmp_path, 8.0, 2, stereo=False), sr=sr)
        sf.write(path, y, sr, format=fmt, subtype=subtype)
    whole, _ = audio.load(path, sr=None)
    for offset in (0.5, 3.0, 5.25, 7.5):
        part, _ = audio.load(path, sr=None, offset_s=offset, duration_s=0.4)
        a = int(round(offset * sr))
        assert len(part) == int(0.4 * sr)
        np.testing.assert_allclose(part, whole[a : a + len(part)], rtol=0, atol=1e-4)


def test_check_crop_is_the_one_crop_rule():
    """load_crop, Classifier.predict_audio and batch jobs all refuse a crop window through check_crop."""
    from genrekit.audio import check_crop

    check_crop(None)
    check_crop(0.5)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="crop_s must be > 0 seconds"):
            check_crop(bad)
