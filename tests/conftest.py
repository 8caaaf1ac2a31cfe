"""Shared fixtures: a seeded generator and synthesized signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

SR = 22050


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture
def tone_440() -> tuple[np.ndarray, int]:
    """Three seconds of a 440 Hz sine (A4) at half scale, 22050 Hz."""
    t = np.arange(3 * SR) / SR
    return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), SR


@pytest.fixture
def click_train_120() -> tuple[np.ndarray, int]:
    """Ten seconds of 10 ms noise-burst clicks at 120 BPM (every 0.5 s), 22050 Hz."""
    rng = np.random.default_rng(7)
    y = np.zeros(10 * SR, dtype=np.float32)
    click = (rng.standard_normal(int(0.01 * SR)) * np.hanning(int(0.01 * SR))).astype(np.float32)
    for start in range(0, len(y) - len(click), SR // 2):
        y[start : start + len(click)] += click
    return y, SR


TINY_GENRES = ("classical", "metal", "hiphop", "jazz")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A small synthesized GTZAN-layout corpus: 4 genres x 6 clips x 6 s (made once per session)."""
    from genrekit.synth import write_corpus

    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, per_genre=6, duration_s=6.0, seed=3, genres=TINY_GENRES)
    return out
