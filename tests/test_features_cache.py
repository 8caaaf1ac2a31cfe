from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.errors import ConfigError
from genrekit.features.cache import ExtractionResult, FeatureCache, config_digest, extract_files
from genrekit.features.spectrogram import LogMelExtractor

SR = 22050


class CountingLogMel(LogMelExtractor):
    """A small log-mel summary extractor that counts how often it really computes."""

    calls = 0

    def _extract(self, y: np.ndarray) -> np.ndarray:
        type(self).calls += 1
        return super()._extract(y)


def small_extractor(cls: type = LogMelExtractor, **overrides) -> LogMelExtractor:
    return cls(**{"n_mels": 16, "summary": True, "segment_s": 0.5, **overrides})


def write_tone(path: Path, freq: float, seconds: float = 1.2, sr: int = SR) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    d = tmp_path / "audio"
    d.mkdir()
    write_tone(d / "a.wav", 220.0)
    write_tone(d / "b.flac", 440.0, seconds=1.7)
    write_tone(d / "c.wav", 880.0, sr=44100)  # resampled to the extractor's rate on load
    return d


def test_put_get_round_trip(tmp_path: Path, rng) -> None:
    cache = FeatureCache(tmp_path / "cache")
    ext = small_extractor()
    feats = rng.standard_normal((3, ext.dim)).astype(np.float32)
    times = np.array([[0.0, 0.5], [0.5, 1.0], [1.0, 1.2]])
    digest = config_digest(ext)
    assert cache.get("f" * 32, digest) is None and cache.misses == 1
    path = cache.put("f" * 32, digest, feats, times, extractor=ext)
    assert path == tmp_path / "cache" / digest / ("f" * 32 + ".parquet")
    got_feats, got_times = cache.get("f" * 32, digest, dim=ext.dim)
    np.testing.assert_array_equal(got_feats, feats)
    np.testing.assert_array_equal(got_times, times)
    assert got_feats.dtype == np.float32 and cache.hits == 1
    assert cache.get("f" * 32, digest, dim=ext.dim + 1) is None  # a mismatching entry is a miss
    assert json.loads((path.parent / "config.json").read_text())["extractor"] == ext.to_dict()
    assert cache.entries(digest) == [path]


def test_config_digest_depends_on_every_option() -> None:
    base = config_digest(small_extractor())
    assert base == config_digest(small_extractor())
    assert len(base) == 32
    assert config_digest(small_extractor(n_mels=17)) != base
    assert config_digest(small_extractor(segment_s=0.6)) != base
    assert config_digest(small_extractor(), {"duration_s": 1.0}) != base


def test_extract_files_in_order_with_failures(audio_dir: Path) -> None:
    corrupt = audio_dir / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + np.random.default_rng(1).bytes(3000))
    text = audio_dir / "notes.txt"
    text.write_text("these are not samples\n" * 20)
    missing = audio_dir / "missing.wav"
    paths = [audio_dir / "a.wav", corrupt, audio_dir / "b.flac", text, missing, audio_dir / "c.wav"]
    ext = small_extractor()
    res = extract_files(paths, ext, progress=True)  # stderr is not a terminal here: no bar
    assert isinstance(res, ExtractionResult)
    assert res.paths == [str(audio_dir / n) for n in ("a.wav", "b.flac", "c.wav")]
    assert [p for p, _ in res.failures] == [str(corrupt), str(text), str(missing)]
    assert all(msg for _, msg in res.failures)
    assert "not found" in res.failures[2][1]
    assert res.names == ext.names
    # 1.2 s -> 2 full 0.5 s segments + 0.2 s tail (< half a segment, dropped); 1.7 s -> 3 + 0.2 dropped
    assert [len(f) for f in res.features] == [2, 3, 2]
    for feats, times in zip(res.features, res.times, strict=True):
        assert feats.shape[1] == ext.dim and times.shape == (len(feats), 2)
    np.testing.assert_allclose(res.times[1], [[0.0, 0.5], [0.5, 1.0], [1.0, 1.5]])
    # the louder band follows the tone: 220 Hz < 440 Hz < 880 Hz
    peaks = [int(np.argmax(f[0, :16])) for f in res.features]
    assert peaks[0] < peaks[1] < peaks[2]
    X, idx = res.stacked()
    assert X.shape == (7, ext.dim) and idx.tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_second_run_hits_the_cache(audio_dir: Path, tmp_path: Path) -> None:
    paths = sorted(audio_dir.iterdir())
    cache = FeatureCache(tmp_path / "cache")
    CountingLogMel.calls = 0
    first = extract_files(paths, small_extractor(CountingLogMel), cache=cache, progress=False)
    assert CountingLogMel.calls == 3 and first.from_cache == [False] * 3 and cache.misses == 3
    assert len(cache.entries()) == 3

    second = extract_files(paths, small_extractor(CountingLogMel), cache=cache, progress=False)
    assert CountingLogMel.calls == 3  # nothing extracted again
    assert second.from_cache == [True] * 3 and second.n_cached == 3
    for a, b in zip(first.features, second.features, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first.times, second.times, strict=True):
        np.testing.assert_array_equal(a, b)

    # the same bytes under another name still hit (the key is the content)
    copy = tmp_path / "copy.wav"
    copy.write_bytes((audio_dir / "a.wav").read_bytes())
    again = extract_files([copy], small_extractor(CountingLogMel), cache=cache, progress=False)
    assert again.from_cache == [True]

    # another config misses; so does a changed file, while the others still hit
    extract_files(paths, small_extractor(CountingLogMel, n_mels=20), cache=tmp_path / "cache", progress=False)
    assert CountingLogMel.calls == 6
    write_tone(audio_dir / "b.flac", 330.0, seconds=1.7)
    third = extract_files(paths, small_extractor(CountingLogMel), cache=cache, progress=False)
    assert third.from_cache == [True, False, True] and CountingLogMel.calls == 7
    assert not np.array_equal(third.features[1], first.features[1])

    # load options are part of the key
    fourth = extract_files(paths[:1], small_extractor(CountingLogMel), cache=cache, progress=False,
                           load_kwargs={"duration_s": 1.0})
    assert fourth.from_cache == [False] and len(fourth.features[0]) == 2


def test_damaged_entry_is_recomputed(audio_dir: Path, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    paths = [audio_dir / "a.wav"]
    first = extract_files(paths, small_extractor(), cache=cache, progress=False)
    cache.entries()[0].write_bytes(b"not parquet")
    again = extract_files(paths, small_extractor(), cache=cache, progress=False)
    assert again.from_cache == [False]
    np.testing.assert_array_equal(again.features[0], first.features[0])
    assert extract_files(paths, small_extractor(), cache=cache, progress=False).from_cache == [True]


@pytest.mark.slow  # starting worker processes (and their imports) takes a few seconds
def test_two_workers_equal_one(audio_dir: Path) -> None:
    bad = audio_dir / "bad.wav"
    bad.write_text("not audio")
    paths = [bad, *sorted(p for p in audio_dir.iterdir() if p != bad)]
    ext = small_extractor()
    one = extract_files(paths, ext, workers=1, progress=False)
    two = extract_files(paths, ext, workers=2, progress=False)
    assert two.paths == one.paths and two.failures == one.failures and len(one.paths) == 3
    for a, b in zip(one.features, two.features, strict=True):
        np.testing.assert_array_equal(a, b)


class DyingLogMel(LogMelExtractor):
    """Kills its process on signals longer than 1.5 s (only ever run inside a worker below)."""

    def _extract(self, y: np.ndarray) -> np.ndarray:
        if len(y) > 1.5 * SR:
            os._exit(3)
        return super()._extract(y)


@pytest.mark.slow
def test_a_dying_worker_does_not_abort_the_batch(audio_dir: Path) -> None:
    paths = [audio_dir / "a.wav", audio_dir / "b.flac"]  # a: 1.2 s, done in this process; b: 1.7 s
    res = extract_files(paths, small_extractor(DyingLogMel), workers=2, progress=False)
    assert res.paths == [str(paths[0])]
    assert res.failures[0][0] == str(paths[1]) and "worker process died" in res.failures[0][1]


def test_progress_bar_runs(audio_dir: Path, monkeypatch, capsys) -> None:
    import genrekit.features.cache as cache_module

    monkeypatch.setattr(cache_module, "_progress_enabled", lambda progress: progress)
    res = extract_files([audio_dir / "a.wav", audio_dir / "b.flac"], small_extractor(), progress=True)
    assert len(res) == 2
    assert "logmel features" in capsys.readouterr().err


def test_bad_arguments(audio_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers"):
        extract_files([audio_dir / "a.wav"], small_extractor(), workers=0)
    with pytest.raises(ConfigError, match="sr"):
        extract_files([audio_dir / "a.wav"], small_extractor(), load_kwargs={"sr": 16000})
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        FeatureCache(not_dir)
    empty = extract_files([], small_extractor())
    assert len(empty) == 0 and empty.stacked()[0].shape == (0, 32)
