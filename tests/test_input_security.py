"""Hostile input (issue 14, the input half): every bad audio file, upload or table gets a one-line error
or a flagged answer, never a confident genre, a traceback, a hang or a stray file."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit import audio, batch
from genrekit.errors import AudioError, DatasetError
from genrekit.predict import NOISE_FLATNESS, load_model, spectral_flatness
from test_batch import SR, _tone, _train_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cheap trained bundle: 3 features per 1 s segment at 8 kHz (minimum duration 0.5 s)."""
    return _train_bundle(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def clf(bundle: Path):
    return load_model(bundle)


def _wav(path: Path, y: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    sf.write(path, y, sr, subtype=subtype)
    return path


def _encoded(y: np.ndarray, fmt: str, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt)
    return buf.getvalue()


# ------------------------------------------------------------------------------------ minimum duration
def test_minimum_duration_per_extractor():
    from genrekit.features.registry import get_extractor

    assert get_extractor("handcrafted").min_duration_s == pytest.approx(1.5)  # half of a 3 s segment
    assert get_extractor("musicnn").min_duration_s == pytest.approx(187 * 256 / 16000)  # one patch
    assert get_extractor("musicnn-mel").min_duration_s == pytest.approx(187 * 256 / 16000)


def test_a_one_sample_file_is_too_short_everywhere(clf, bundle: Path, tmp_path: Path):
    one = _wav(tmp_path / "one.wav", np.array([0.5], np.float32))
    with pytest.raises(AudioError, match=r"^.*one.wav: too short: .* samples at 8000 Hz.* at least 0.50 s$"):
        clf.predict(one)
    short = _wav(tmp_path / "short.wav", _tone(440, 0.3, seed=1))
    with pytest.raises(AudioError, match=r"short.wav: too short: 0.3 s of audio"):
        clf.predict(short)
    assert clf.predict(_wav(tmp_path / "ok.wav", _tone(440, 0.6, seed=1))).genre in clf.classes_

    # batch: an error row, the other file ok
    res = batch.classify_batch(tmp_path, tmp_path / "out", model=str(bundle))
    df = batch.read_results(tmp_path / "out").set_index("path")
    assert (res.ok, res.errors) == (1, 2)
    assert "too short" in df.loc[str(one), "error"] and "too short" in df.loc[str(short), "error"]


def test_service_and_cli_refuse_short_audio(bundle: Path, tmp_path: Path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from genrekit.cli import app as cli_app
    from genrekit.service.app import create_app

    data = _encoded(np.array([0.5], np.float32), "WAV")
    with TestClient(create_app(str(bundle), warmup=False)) as c:
        r = c.post("/v1/classify", files={"audio": ("one.wav", data, "audio/wav")})
    assert r.status_code == 400 and "one.wav: too short" in r.json()["error"]["message"]
    one = tmp_path / "one.wav"
    one.write_bytes(data)
    res = CliRunner().invoke(cli_app, ["classify", "-m", str(bundle), str(one)])
    assert res.exit_code == 3 and "too short" in res.output and len(res.output.strip().splitlines()) == 1


# -------------------------------------------------------------------------------------- degenerate input
def test_constant_dc_and_far_too_quiet_signals_are_refused(clf):
    for y, why in (
        (np.full(2 * SR, 0.5, np.float32), "constant \\(DC\\) signal"),
        (np.full(2 * SR, -0.01, np.float32), "constant \\(DC\\) signal"),
        (1e-5 * _tone(440, 2.0, seed=2), "nearly silent: RMS -10\\d.\\d dBFS"),
    ):
        with pytest.raises(AudioError, match=f"^x.wav: is (a )?{why}"):
            clf.predict_audio(y, SR, source="x.wav")


def test_dc_is_constant_after_resampling_too(clf, tmp_path: Path):
    # the resampler rings at the step at both ends: the DC test looks inside 10 ms from the ends
    path = _wav(tmp_path / "dc.wav", np.full(5 * 22050, 0.5, np.float32), sr=22050)
    with pytest.raises(AudioError, match=r"dc.wav: is a constant \(DC\) signal"):
        clf.predict(path)


def test_quiet_music_still_gets_a_genre(clf):
    y = _tone(440, 2.0, seed=3)
    loud = clf.predict_audio(y, SR)
    quiet = clf.predict_audio(y * 10 ** (-50 / 20), SR)  # -50 dB: RMS about -59 dBFS
    assert not quiet.unsure and quiet.genre == loud.genre


def test_white_noise_is_unsure_and_pink_noise_is_not_flagged(clf):
    rng = np.random.default_rng(0)
    white = (0.3 * rng.uniform(-1, 1, 10 * SR)).astype(np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(10 * SR))
    pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(len(spectrum)), 1)), 10 * SR)
    pink = (0.5 * pink / np.abs(pink).max()).astype(np.float32)
    assert spectral_flatness(white) == pytest.approx(0.56, abs=0.03)
    assert spectral_flatness(pink) < NOISE_FLATNESS / 1.5
    assert spectral_flatness(_tone(440, 2.0, seed=0)) < 0.05
    p = clf.predict_audio(white, SR, source="hiss.wav")
    assert p.unsure and p.genre == "unsure" and "noise-like" in p.to_dict()["unsure_reason"]
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-4)  # the probabilities are all there
    assert "unsure_reason" not in clf.predict_audio(pink, SR).extra


def test_batch_answers_white_noise_unsure_like_the_predict_path(bundle: Path, tmp_path: Path):
    rng = np.random.default_rng(1)
    _wav(tmp_path / "hiss.wav", (0.3 * rng.uniform(-1, 1, 3 * SR)).astype(np.float32))
    batch.classify_batch(tmp_path, tmp_path / "out", model=str(bundle))
    row = batch.read_results(tmp_path / "out").iloc[0]
    assert row.status == "ok" and row.genre == "unsure"


# ---------------------------------------------------------------------------------------- truncation
def test_an_ogg_cut_at_half_its_bytes_is_truncated():
    whole = _encoded(_tone(440, 8.0, seed=4), "OGG")
    y, _ = audio.load(whole, sr=None)
    assert len(y) == 8 * SR
    with pytest.raises(AudioError, match="truncated ogg: its last page is cut off"):
        audio.load(whole[: len(whole) // 2])


def test_an_ogg_cut_at_a_page_boundary_is_truncated():
    whole = _encoded(_tone(440, 8.0, seed=4), "OGG")
    last_page = whole.rfind(b"OggS")
    with pytest.raises(AudioError, match="truncated ogg: it ends without the end-of-stream page"):
        audio.load(whole[:last_page])


def test_an_mp3_missing_its_last_tenth_is_truncated(capfd):
    whole = _encoded(_tone(440, 8.0, seed=5), "MP3")
    assert len(audio.load(whole, sr=None)[0]) == 8 * SR
    with pytest.raises(AudioError, match=r"truncated mp3: the header declares \d+ bytes .* but only"):
        audio.load(whole[: int(0.9 * len(whole))])
    # without the Xing byte count, the frame count still tells: no slack any more
    xing = whole.find(b"Xing") if b"Xing" in whole else whole.find(b"Info")
    nobytes = bytearray(whole)
    nobytes[xing + 12 : xing + 16] = bytes(4)
    with pytest.raises(AudioError, match=r"truncated: decoded 7\.\d\d s of 8\.00 s"):
        audio.load(bytes(nobytes[: int(0.9 * len(nobytes))]))
    assert "Xing" not in capfd.readouterr().err  # libmpg123's own warning is not printed


# ----------------------------------------------------------------------------------- the smaller points
def test_special_files_are_never_opened(tmp_path: Path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(AudioError, match=r"pipe.wav: is not a regular file \(a FIFO\)"):
        audio.load(fifo)  # opening a FIFO would block until a writer came
    with pytest.raises(AudioError, match=r"is not a regular file \(a character device\)"):
        audio.info("/dev/null")
    assert time.monotonic() - t0 < 5


def test_symlink_loops_are_named_and_batch_goes_on(bundle: Path, tmp_path: Path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    _wav(folder / "good.wav", _tone(440, 1.0, seed=6))
    (folder / "loop.wav").symlink_to("loop.wav")
    (folder / "sub" / "up").symlink_to("..")  # a folder loop
    (folder / "dangling.wav").symlink_to("missing.wav")
    with pytest.raises(AudioError, match="loop.wav: is a symbolic link loop"):
        audio.load(folder / "loop.wav")
    with pytest.raises(AudioError, match="dangling.wav: is a broken symbolic link"):
        audio.load(folder / "dangling.wav")
    res = batch.classify_batch(folder, tmp_path / "out", model=str(bundle))
    df = batch.read_results(tmp_path / "out").set_index("path")
    assert (res.ok, res.errors) == (1, 2)
    assert "symbolic link loop" in df.loc[str(folder / "loop.wav"), "error"]


def test_a_text_file_is_not_an_audio_file(tmp_path: Path):
    text = tmp_path / "notes.wav"
    text.write_text("hello, this is not audio\n" * 10)
    with pytest.raises(AudioError, match=r"^.*notes.wav: not an audio file \(no known audio header\)$"):
        audio.load(text)
    with pytest.raises(AudioError, match=r"not an audio file \(no known audio header\)"):
        audio.info(b"Creative but not voice" * 4)


def test_a_float_wav_far_beyond_full_scale_is_refused_without_warnings(clf, tmp_path: Path):
    path = _wav(tmp_path / "loud.wav", np.full(SR, 1e30, np.float32), subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AudioError, match=r"loud.wav: samples reach 1e\+30, far beyond full scale"):
            clf.predict(path)
    y, _ = audio.load(_wav(tmp_path / "hot.wav", 4 * _tone(440, 1.0, seed=7), subtype="FLOAT"))
    assert np.abs(y).max() > 1.5  # a little over full scale is fine


def test_the_over_long_message_names_the_cli_option():
    data = _encoded(_tone(440, 3.0, seed=8), "WAV")
    with pytest.raises(AudioError, match=r"over the limit of 2.0 s; .*--crop-s") as exc:
        audio.load(data, max_duration_s=2.0)
    assert "duration_s" not in str(exc.value).replace("max_duration_s", "")
    assert "max_duration_s" not in str(exc.value)


def test_one_unreadable_file_does_not_stop_a_classify_run(bundle: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from genrekit.cli import app as cli_app

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    good = _wav(tmp_path / "good.wav", _tone(440, 1.0, seed=9))
    long_name = tmp_path / ("x" * 300 + ".wav")  # ENAMETOOLONG: an OSError, not "not found"
    res = CliRunner().invoke(cli_app, ["classify", "-m", str(bundle), str(fifo), str(long_name), str(good)])
    assert res.exit_code == 6, res.output
    assert "not a regular file" in res.output and "cannot read: File name too long" in res.output
    assert f"{good}: " in res.output and "Traceback" not in res.output


def test_semicolon_csv_with_decimal_commas_gets_the_semicolon_hint(tmp_path: Path):
    from genrekit.tabular import load_table

    path = tmp_path / "semi.csv"
    path.write_text("tempo;rms;label\n120,5;0,25;rock\n98,0;0,1;jazz\n")
    with pytest.raises(DatasetError, match=r"semi.csv: .*looks semicolon-separated \(with decimal commas"):
        load_table(path, label="label")


def test_csv_export_defuses_formulas_and_writes_lists_as_json(tmp_path: Path):
    import pandas as pd

    df = pd.DataFrame(
        {
            "path": ["=HYPERLINK(1)", "+1.wav", "-x.wav", "@sum.wav", "\tt.wav", "\rr.wav", "ok.wav"],
            "top_genres": [np.array(["blues", "rock"], dtype=object)] + [None] * 6,
            "top_probs": [np.array([0.75, 0.25])] + [None] * 6,
            "confidence": [-0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    out = tmp_path / "x.csv"
    batch.export_csv(df, out)
    with open(out, newline="") as f:
        back = list(csv.DictReader(f))
    assert [r["path"] for r in back[:4]] == ["'=HYPERLINK(1)", "'+1.wav", "'-x.wav", "'@sum.wav"]
    assert [r["path"] for r in back[4:]] == ["'\tt.wav", "'\rr.wav", "ok.wav"]
    assert json.loads(back[0]["top_genres"]) == ["blues", "rock"]
    assert json.loads(back[0]["top_probs"]) == [0.75, 0.25]
    assert back[0]["confidence"] == "-0.5"  # a number, written as a number: untouched


def test_feature_rows_refuse_json_booleans_and_classify_refuses_two_files(bundle: Path):
    from fastapi.testclient import TestClient

    from genrekit.service.app import create_app
    from test_service import LABELS, Bundle, toy_model

    names = ["rms", "zcr"]
    tab = Bundle(model=toy_model(), kind="logreg", labels=LABELS, extractor=None, feature_names=names)
    with TestClient(create_app(tab, warmup=False)) as c:
        r = c.post("/v1/predict/features", json={"rows": [{"rms": True, "zcr": 0.5}]})
        assert r.status_code == 422 and "feature 'rms': true is not a number" in r.json()["error"]["message"]
        assert c.post("/v1/predict/features", json={"rows": [{"rms": 0.1, "zcr": 0.5}]}).status_code == 200
    wav = _encoded(_tone(440, 1.0, seed=10), "WAV")
    with TestClient(create_app(str(bundle), warmup=False)) as c:
        files = [("audio", ("a.wav", wav, "audio/wav")), ("audio", ("b.wav", wav, "audio/wav"))]
        r = c.post("/v1/classify", files=files)
        assert r.status_code == 422
        assert "one file per request" in r.json()["error"]["message"] and "/v1/classify/batch" in r.text
        assert c.post("/v1/classify", files=files[:1]).status_code == 200


def test_a_connection_sending_half_a_header_is_closed():
    import uvicorn

    from genrekit.service.server import HeadDeadlineProtocol, uvicorn_options

    class Quick(HeadDeadlineProtocol):
        head_timeout_s = 0.5

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    opts = {**uvicorn_options(), "http": Quick}
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="error", **opts)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # a whole request is answered
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok"):
                answer += s.recv(1024)
            assert answer.startswith(b"HTTP/1.1 200")
            t0 = time.monotonic()  # ... and the next head must come in time too
            s.sendall(b"GET / HTTP/1.1\r\nHo")
            assert s.recv(1024) == b"" and time.monotonic() - t0 < 3
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            t0 = time.monotonic()
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a header, then nothing
            assert s.recv(1024) == b"" and 0.4 < time.monotonic() - t0 < 3
    finally:
        server.should_exit = True
        thread.join(10)
