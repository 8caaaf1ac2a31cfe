"""Byte-mutation fuzzing of the audio input path (hypothesis).

Small valid wav, aiff, ogg and mp3 files are mutated (bytes overwritten, mostly in the header, cut
short, bytes inserted) and fed to :func:`genrekit.audio.load` (as bytes and as files) and to a cheap
trained classifier. The only outcomes allowed: an answer or a GenreKitError. Never another exception,
never more than a few seconds for one case, never a file written outside the test's folder.
"""

from __future__ import annotations

import io
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genrekit import audio
from genrekit.errors import GenreKitError
from genrekit.predict import Prediction, load_model
from test_batch import SR, _tone, _train_bundle

#: Seconds one case may take (decoding a mutated 0.6 s file takes milliseconds).
CASE_TIMEOUT_S = 5.0
REPO = Path(__file__).resolve().parents[1]


def _encode(fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, _tone(440, 0.6, seed=0), SR, format=fmt, subtype=subtype)
    return buf.getvalue()


SEEDS = {
    "wav": _encode("WAV", "PCM_16"),
    "wav-float": _encode("WAV", "FLOAT"),
    "aiff": _encode("AIFF", "PCM_16"),
    "ogg": _encode("OGG"),
    "mp3": _encode("MP3"),
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file with a few byte edits: overwrites (mostly in the first 128 bytes), a cut, an insert."""
    kind = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[kind])
    for _ in range(draw(st.integers(0, 6))):
        head = draw(st.booleans())
        pos = draw(st.integers(0, min(127, len(data) - 1) if head else len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):  # a 32-bit field set to an extreme value (sizes, counts, rates)
        pos = draw(st.integers(0, min(124, len(data) - 4)))
        extremes = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00"]
        data[pos : pos + 4] = draw(st.sampled_from(extremes))
    if draw(st.integers(0, 3)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 5)) == 0:
        pos = draw(st.integers(0, len(data)))
        data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
    return kind, bytes(data)


@contextmanager
def _deadline(seconds: float):
    """Raise TimeoutError in this (main) thread when the block runs longer than ``seconds``."""

    def expired(signum, frame):  # noqa: ANN001, ARG001
        raise TimeoutError(f"one fuzz case ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _repo_files() -> set[str]:
    return {e.name for e in os.scandir(REPO)} | {e.name for e in os.scandir(REPO / "tests")}


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    return load_model(_train_bundle(tmp_path_factory.mktemp("model") / "tiny"))


def test_the_seeds_are_valid_audio():
    for kind, data in SEEDS.items():
        y, sr = audio.load(data, sr=None)
        assert sr == SR and abs(len(y) - 0.6 * SR) <= 2, kind


#: Reproducible cases, nothing written to a .hypothesis folder, our own per-case deadline (signal based).
FUZZ = dict(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
#: An exception inside soundfile's C callbacks is only printed ("Exception ignored ..."): a failure here.
NO_IGNORED = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


@NO_IGNORED
@settings(max_examples=100, **FUZZ)
@given(case=mutated())
def test_mutated_audio_loads_or_is_a_genrekit_error(case: tuple[str, bytes], tmp_path: Path):
    kind, data = case
    before = _repo_files()
    path = tmp_path / f"fuzz.{kind.split('-')[0]}"
    path.write_bytes(data)
    with _deadline(CASE_TIMEOUT_S):
        for source in (data, path, io.BytesIO(data)):
            try:
                y, sr = audio.load(source, sr=16000)
            except GenreKitError:
                continue
            assert y.dtype == np.float32 and y.ndim == 1 and np.all(np.isfinite(y)) and sr == 16000
    assert _repo_files() == before


@NO_IGNORED
@settings(max_examples=40, **FUZZ)
@given(case=mutated())
def test_mutated_audio_is_classified_or_is_a_genrekit_error(case: tuple[str, bytes], clf, tmp_path: Path):
    kind, data = case
    before = _repo_files()
    path = tmp_path / f"fuzz.{kind.split('-')[0]}"
    path.write_bytes(data)
    with _deadline(CASE_TIMEOUT_S):
        for source in (path, data):
            try:
                pred = clf.predict(source, crop_s=2.0)
            except GenreKitError:
                continue
            assert isinstance(pred, Prediction)
            assert pred.genre in [*clf.classes_, "unsure"]
            assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert _repo_files() == before
