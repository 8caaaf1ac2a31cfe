"""The HTTP service: every endpoint and error status with FastAPI's test client, plus a real server.

The fast tests serve a toy classifier built here: per-second RMS and zero-crossing-rate features and a
logistic regression fitted on synthesized low tones ("bass"), high tones ("treble") and white noise
("noise"), so that the genre of every segment of a test signal is known in advance.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import sniff_container
from genrekit.bundle import Bundle, save_bundle
from genrekit.errors import ConfigError, ModelError
from genrekit.predict import Classifier
from genrekit.service.app import (
    DEFAULT_PORT,
    ENV_MAX_IN_FLIGHT,
    ENV_MODEL,
    create_app,
    create_app_from_env,
)
from genrekit.service.runtime import upload_name
from toys import ToyExtractor

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project depends on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SR = 22050
LABELS = ["bass", "noise", "treble"]


# --------------------------------------------------------------------------------------- toy model
def tone(freq: float, dur: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(dur * SR))) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(dur: float = 1.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).uniform(-1, 1, int(round(dur * SR)))).astype(np.float32)


def toy_training_set() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    ext = ToyExtractor()
    feats, labels = [], []
    for i in range(30):
        for label, y in (
            ("bass", tone(rng.uniform(100, 300), amp=rng.uniform(0.2, 0.8))),
            ("treble", tone(rng.uniform(2000, 4000), amp=rng.uniform(0.2, 0.8))),
            ("noise", noise(amp=rng.uniform(0.1, 0.8), seed=i)),
        ):
            feats.append(ext(y, SR))
            labels.append(label)
    return np.vstack(feats), labels


def toy_model():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = toy_training_set()
    return make_pipeline(StandardScaler(), LogisticRegression(C=10.0)).fit(X, y)


class SlowModel:
    """Wraps a model: sleeps in predict_proba and records how many calls overlap."""

    def __init__(self, model, delay_s: float) -> None:
        self.model, self.delay_s = model, delay_s
        self.classes_ = model.classes_
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def predict_proba(self, X):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay_s)
            return self.model.predict_proba(X)
        finally:
            with self.lock:
                self.active -= 1


def audio_bytes(y: np.ndarray, fmt: str = "WAV", sr: int = SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt)
    return buf.getvalue()


def upload(data: bytes, name: str = "clip.wav", ctype: str = "audio/wav") -> dict:
    return {"audio": (name, data, ctype)}


@pytest.fixture(scope="module")
def model():
    return toy_model()


@pytest.fixture(scope="module")
def classifier(model) -> Classifier:
    return Classifier(ToyExtractor(), model, name="toy", noise_flatness=None)  # "noise" is a genre here


@pytest.fixture(scope="module")
def client(classifier):
    with TestClient(create_app(classifier, max_upload_mb=1)) as c:
        yield c


# A 7 s signal whose segments are known: 3 s bass, 2 s noise, 2 s treble.
MIX = np.concatenate([tone(200, 3), noise(2), tone(3000, 2)])
MIX_GENRES = ["bass"] * 3 + ["noise"] * 2 + ["treble"] * 2


# ------------------------------------------------------------------------------------------ probes
def test_health_and_ready(client):
    r = client.get("/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok" and h["model_loaded"] is True and h["in_flight"] == 0 and h["uptime_s"] >= 0
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "model": "toy", "input": "audio"}


def test_model_info_lists_labels_features_and_limits(client):
    r = client.get("/v1/model")
    assert r.status_code == 200
    d = r.json()
    assert d["labels"] == LABELS
    assert d["input"] == "audio"
    assert d["extractor"] == {
        "name": "toy-rms-zcr",
        "config": {"sr": SR, "segment_s": 1.0, "hop_s": None, "pad": "repeat"},
    }
    assert d["segment_s"] == 1.0 and d["sample_rate"] == SR
    assert d["genrekit_version"]
    assert d["limits"]["max_upload_mb"] == 1.0
    assert "metrics" in d


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    paths = ("/health", "/ready", "/v1/model", "/v1/classify", "/v1/classify/batch", "/v1/predict/features")
    assert set(paths) <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/v1/classify"]["post"]["parameters"]}
    assert params == {"top_k", "segments", "crop_s", "min_confidence", "explain"}
    assert client.get("/docs").status_code == 200


def test_web_page_and_its_assets(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="file"' in r.text and "/static/app.js" in r.text and 'name="viewport"' in r.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/v1/classify" in js.text
    assert client.get("/static/style.css").status_code == 200


# ---------------------------------------------------------------------------------------- classify
def test_classify_wav_gives_genre_sorted_probabilities_and_timeline(client):
    r = client.post("/v1/classify?top_k=2", files=upload(audio_bytes(MIX), "mix.wav"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["duration_s"] == pytest.approx(7.0)
    assert d["model"] == "toy" and d["source"] == "mix.wav"
    probs = list(d["probabilities"].values())
    assert sorted(d["probabilities"]) == LABELS
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert d["genre"] == next(iter(d["probabilities"]))
    assert [t["genre"] for t in d["top_k"]] == list(d["probabilities"])[:2]
    assert [s["genre"] for s in d["segments"]] == MIX_GENRES
    assert [(s["start_s"], s["end_s"]) for s in d["segments"]] == [(float(i), float(i + 1)) for i in range(7)]
    for s in d["segments"]:
        p = list(s["probabilities"].values())
        assert p == sorted(p, reverse=True) and s["genre"] == next(iter(s["probabilities"]))
    assert d["elapsed_ms"] >= 0


def test_classify_mp3(client):
    r = client.post("/v1/classify", files=upload(audio_bytes(tone(3000, 3), "MP3"), "high.mp3", "audio/mpeg"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["genre"] == "treble"
    assert d["duration_s"] == pytest.approx(3.0, abs=0.1)


def test_top_k_and_segments_parameters(client):
    data = audio_bytes(noise(2))
    d = client.post("/v1/classify?top_k=1&segments=false", files=upload(data)).json()
    assert d["genre"] == "noise" and len(d["top_k"]) == 1 and "segments" not in d
    d = client.post("/v1/classify?top_k=50", files=upload(data)).json()
    assert len(d["top_k"]) == len(LABELS)


def test_crop_s_classifies_the_middle_only(client):
    # 9 s: bass, then 3 s of noise in the middle, then bass; the 3 s crop sees only the noise.
    y = np.concatenate([tone(150, 3), noise(3), tone(150, 3)])
    d = client.post("/v1/classify?crop_s=3", files=upload(audio_bytes(y))).json()
    assert d["genre"] == "noise"
    assert d["duration_s"] == pytest.approx(9.0)
    assert [s["genre"] for s in d["segments"]] == ["noise"] * 3
    assert d["segments"][0]["start_s"] == pytest.approx(3.0)
    assert d["segments"][-1]["end_s"] == pytest.approx(6.0)


def test_min_confidence_answers_unsure(client):
    import inspect

    if "min_confidence" not in inspect.signature(Classifier.predict).parameters:
        pytest.skip("this genrekit's Classifier.predict has no min_confidence")
    y = np.concatenate([tone(200, 2), noise(2), tone(3000, 2)])  # three genres: no confident answer
    d = client.post("/v1/classify?min_confidence=0.99", files=upload(audio_bytes(y))).json()
    assert d["genre"] == "unsure" and d["unsure"] is True
    assert d["confidence"] == next(iter(d["probabilities"].values())) < 0.99
    assert [s["genre"] for s in d["segments"]] == ["bass"] * 2 + ["noise"] * 2 + ["treble"] * 2
    d = client.post("/v1/classify?min_confidence=0", files=upload(audio_bytes(y))).json()
    assert d["unsure"] is False and d["genre"] == next(iter(d["probabilities"]))
    assert_error(client.post("/v1/classify?min_confidence=1.5", files=upload(audio_bytes(y))), 422)


def test_explain_names_the_segments_against_the_answer(client):
    y = np.concatenate([tone(200, 4), tone(3000, 2)])  # 4 s bass then 2 s treble: the treble argues against
    d = client.post("/v1/classify", files=upload(audio_bytes(y))).json()
    assert "explanation" not in d
    d = client.post("/v1/classify?explain=true", files=upload(audio_bytes(y))).json()
    ex = d["explanation"]
    assert ex["genre"] == d["genre"] == "bass" and ex["runner_up"] == "treble"
    assert [s["genre"] for s in ex["segments"]] == ["bass"] * 4 + ["treble"] * 2
    weakest = [w["segment"] for w in ex["weakest"]]
    assert set(weakest[:2]) == {4, 5} and {s["segment"] for s in ex["strongest"]} <= {0, 1, 2, 3}
    assert ex["weakest"][0]["start_s"] == ex["segments"][weakest[0]]["start_s"]
    assert ex["segments"][4]["margin"] < 0 < ex["segments"][0]["margin"]
    assert sum(s["margin"] for s in ex["segments"]) == pytest.approx(ex["track_margin"], abs=1e-6)
    b = client.post("/v1/classify/batch?explain=true", files=upload(audio_bytes(y))).json()
    assert b["results"][0]["result"]["explanation"]["weakest"] == ex["weakest"]


def test_upload_name_is_reduced_to_a_base_name(client):
    d = client.post("/v1/classify", files=upload(audio_bytes(noise(1)), "../../etc/x.wav")).json()
    assert d["source"] == "x.wav"
    assert upload_name(None) == "upload" and upload_name("C:\\music\\a b.flac") == "a b.flac"


# ------------------------------------------------------------------------------------------ errors
def assert_error(r: httpx.Response, status: int, *words: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["type"], str) and isinstance(err["message"], str) and err["message"]
    for w in words:
        assert w.lower() in err["message"].lower(), (w, err["message"])
    return err


def test_not_audio_is_400_naming_the_file(client):
    r = client.post("/v1/classify", files=upload(b"hello, this is text" * 10, "notes.txt", "text/plain"))
    assert_error(r, 400, "notes.txt", "not an audio file")


def test_corrupt_and_empty_audio_are_400(client):
    wav = audio_bytes(tone(200, 2))
    r = client.post("/v1/classify", files=upload(wav[: len(wav) // 2], "cut.wav"))
    assert_error(r, 400, "cut.wav", "truncated")
    r = client.post("/v1/classify", files=upload(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk", "bad.wav"))
    err = assert_error(r, 400, "bad.wav")
    assert "object at 0x" not in err["message"]
    assert_error(client.post("/v1/classify", files=upload(b"", "empty.wav")), 400, "empty")


def test_unsupported_container_is_415(client, monkeypatch):
    import genrekit.audio.decoding

    monkeypatch.setattr(genrekit.audio.decoding.shutil, "which", lambda name: None)  # no ffmpeg
    m4a = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom" + bytes(200)
    assert_error(client.post("/v1/classify", files=upload(m4a, "song.m4a", "audio/mp4")), 415, "ffmpeg")
    # recognised by its bytes even when the client's name says nothing
    assert_error(client.post("/v1/classify", files=upload(m4a, "song.bin", "application/octet-stream")), 415)


def test_sniff_container():
    assert sniff_container(b"\x00\x00\x00\x20ftypM4A ") == ".m4a"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x01") == ".webm"
    assert sniff_container(b"\xff\xf1\x50\x80") == ".aac"
    assert sniff_container(b"\xff\xfb\x90\x64") is None  # an MPEG-1 layer III (mp3) frame
    assert sniff_container(b"RIFF\x00\x00\x00\x00WAVE") is None
    assert sniff_container(audio_bytes(tone(200, 0.1), "MP3")[:16]) is None


def test_body_over_the_cap_is_413_from_content_length(client):
    big = audio_bytes(noise(30))  # 1.3 MB, over the 1 MB cap
    err = assert_error(client.post("/v1/classify", files=upload(big, "big.wav")), 413, "limit", "1 MB")
    assert err["type"] == "PayloadTooLarge"
    small = audio_bytes(noise(20))  # 0.88 MB passes
    assert client.post("/v1/classify", files=upload(small, "ok.wav")).status_code == 200


def test_chunked_body_over_the_cap_is_413_while_streaming(client):
    big = audio_bytes(noise(30))
    boundary = uuid.uuid4().hex
    sent = []

    def body():  # no Content-Length: chunked transfer encoding
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        for i in range(0, len(big), 1 << 16):
            sent.append(i)
            yield big[i : i + (1 << 16)]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/v1/classify", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "limit")


@pytest.mark.parametrize(
    "query, word",
    [
        ("top_k=0", "top_k"),
        ("top_k=abc", "top_k"),
        ("top_k=51", "top_k"),
        ("crop_s=0.5", "crop_s"),
        ("crop_s=-3", "crop_s"),
        ("crop_s=nan", "crop_s"),
        ("segments=maybe", "segments"),
    ],
)
def test_bad_parameters_are_422(client, query, word):
    r = client.post(f"/v1/classify?{query}", files=upload(audio_bytes(noise(1))))
    err = assert_error(r, 422, word)
    assert err["type"] == "ValidationError" and err["details"]


def test_missing_file_and_wrong_body_are_422(client):
    assert_error(client.post("/v1/classify"), 422, "audio")
    assert_error(client.post("/v1/classify", json={"audio": "x"}), 422, "audio")
    assert_error(client.post("/v1/classify", data={"audio": "not a file"}), 422, "audio")


def test_unparseable_bodies_are_400_or_422(client, tabular_client):
    r = tabular_client.post(
        "/v1/predict/features", content=b"0;\xff", headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "cannot be parsed")
    r = tabular_client.post(
        "/v1/predict/features", content=b'{"rows": [', headers={"Content-Type": "application/json"}
    )
    assert_error(r, 422, "not valid JSON", "position 10")
    form = {"Content-Type": "multipart/form-data; boundary=xyz"}
    r = client.post("/v1/classify", content=b"--xyz\r\nnot a part", headers=form)
    assert r.status_code in (400, 422) and r.json()["error"]["message"]


def test_unknown_path_and_method_are_json(client):
    assert_error(client.get("/v1/nope"), 404, "not found")
    r = client.get("/v1/classify")
    assert_error(r, 405, "method")
    assert "POST" in r.headers["allow"]


# ------------------------------------------------------------------------------------------- batch
def test_batch_with_one_bad_file_among_good_ones(client):
    files = [
        ("audio", ("low.wav", audio_bytes(tone(200, 2)), "audio/wav")),
        ("audio", ("broken.wav", b"RIFF0000WAVEnot really", "audio/wav")),
        ("audio", ("hiss.mp3", audio_bytes(noise(2), "MP3"), "audio/mpeg")),
    ]
    r = client.post("/v1/classify/batch?top_k=1", files=files)
    assert r.status_code == 200, r.text
    d = r.json()
    assert [x["filename"] for x in d["results"]] == ["low.wav", "broken.wav", "hiss.mp3"]
    assert [x["ok"] for x in d["results"]] == [True, False, True]
    assert d["n_ok"] == 2 and d["n_failed"] == 1 and d["model"] == "toy"
    assert d["results"][0]["result"]["genre"] == "bass" and len(d["results"][0]["result"]["top_k"]) == 1
    assert d["results"][2]["result"]["genre"] == "noise"
    assert "segments" not in d["results"][0]["result"]  # the batch default is no timeline
    err = d["results"][1]["error"]
    assert err["status"] == 400 and "broken.wav" in err["message"]


def test_batch_limits(client):
    one = ("audio", ("a.wav", audio_bytes(noise(0.6)), "audio/wav"))  # the toy model's minimum: 0.5 s
    assert_error(client.post("/v1/classify/batch", files=[one] * 17), 422, "17 files", "16")
    assert_error(client.post("/v1/classify/batch"), 422, "audio")
    d = client.post("/v1/classify/batch?segments=true", files=[one]).json()
    assert d["n_ok"] == 1 and len(d["results"][0]["result"]["segments"]) == 1


# ---------------------------------------------------------------------------------- tabular models
def test_feature_rows_to_an_audio_model_are_422(client):
    r = client.post("/v1/predict/features", json={"rows": [{"rms": 0.1, "zcr": 0.5}]})
    assert_error(r, 422, "takes audio")


@pytest.fixture(scope="module")
def tabular_client(model):
    bundle = Bundle(
        model=model,
        kind="logreg",
        labels=LABELS,
        extractor=None,
        feature_names=["rms", "zcr"],
        metrics={"accuracy": 0.99},
    )
    with TestClient(create_app(bundle)) as c:
        yield c


def test_tabular_model_refuses_audio_and_describes_its_columns(tabular_client):
    d = tabular_client.get("/v1/model").json()
    assert d["input"] == "features" and d["feature_names"] == ["rms", "zcr"] and d["labels"] == LABELS
    assert d["metrics"] == {"accuracy": 0.99}
    r = tabular_client.post("/v1/classify", files=upload(audio_bytes(noise(1))))
    assert_error(r, 422, "feature rows")


@pytest.mark.parametrize(
    "body, word",
    [
        ({"rows": []}, "no feature rows"),
        ({"rows": [{}]}, "row 0 is empty"),
        ({"rows": [{"rms": 0.1, "zcr": float("nan")}]}, "finite"),
        ({"rows": [{"rms": 0.1}], "top_k": 0}, "top_k"),
        ({"rows": "rms=1"}, "rows"),
        ({}, "rows"),
    ],
)
def test_bad_feature_rows_are_422(tabular_client, body, word):
    import json

    r = tabular_client.post(
        "/v1/predict/features", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert_error(r, 422, word)


def test_feature_rows_are_classified(tabular_client):
    X, y = toy_training_set()
    rows = [{"rms": float(a), "zcr": float(b)} for a, b in X[:6]]
    r = tabular_client.post("/v1/predict/features", json={"rows": rows, "top_k": 2})
    assert r.status_code == 200, r.text
    d = r.json()
    assert len(d["results"]) == 6 and d["model"] == "logreg"
    assert [res["genre"] for res in d["results"]] == y[:6]
    one = tabular_client.post("/v1/predict/features", json={"rows": rows[0]}).json()
    assert len(one["results"]) == 1 and one["results"][0]["genre"] == y[0]
    r = tabular_client.post("/v1/predict/features", json={"rows": [{"rms": 0.1}]})
    assert_error(r, 422, "zcr")  # a missing column is named


def test_feature_rows_take_dates_in_a_date_column():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    years = np.arange(1960, 2021, dtype=np.float32)[:, None]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        years, np.where(years[:, 0] < 1990, "rock", "edm")
    )
    bundle = Bundle(
        model=model,
        kind="logreg",
        labels=["edm", "rock"],
        extractor=None,
        feature_names=["released"],
        extra={"tabular": {"dates": ["released"]}},  # as train_table records a date column
    )
    with TestClient(create_app(bundle)) as c:
        rows = [{"released": "1971-05-02"}, {"released": "2015-11"}, {"released": 2018}]
        r = c.post("/v1/predict/features", json={"rows": rows})
        assert r.status_code == 200, r.text
        assert [res["genre"] for res in r.json()["results"]] == ["rock", "edm", "edm"]
        r = c.post("/v1/predict/features", json={"rows": [rows[0], {"released": "May 1971"}]})
        assert_error(r, 422, "row 1, column 'released': value 'May 1971' is not a date")


# ------------------------------------------------------------------------ loading and concurrency
def test_model_that_fails_to_load(tmp_path):
    missing = tmp_path / "no-such-bundle"
    with pytest.raises(ModelError, match="not found"), TestClient(create_app(missing)):
        pass
    with TestClient(create_app(missing, load_at_startup=False)) as c:
        assert c.get("/health").json()["model_loaded"] is False
        for _ in range(100):
            r = c.get("/ready")
            if "failed" in r.text:
                break
            time.sleep(0.02)
        err = assert_error(r, 503, "failed to load", "no-such-bundle")
        assert err["type"] == "NotReady" and r.headers["retry-after"]
        assert_error(c.post("/v1/classify", files=upload(audio_bytes(noise(1)))), 503, "failed to load")
        assert_error(c.get("/v1/model"), 503)


def test_limits_are_checked():
    with pytest.raises(ConfigError, match="max_upload_mb"):
        create_app(None, max_upload_mb=0)
    with pytest.raises(ConfigError, match="max_in_flight"):
        create_app(None, max_in_flight=0)
    with pytest.raises(ConfigError, match="max_queue"):
        create_app(None, max_queue=-1)


def test_env_factory_reads_its_settings(monkeypatch):
    monkeypatch.setenv(ENV_MODEL, "/nowhere")
    monkeypatch.setenv(ENV_MAX_IN_FLIGHT, "3")
    app = create_app_from_env()
    assert app.state.runtime.max_in_flight == 3 and str(app.state.runtime.model_ref) == "/nowhere"
    monkeypatch.setenv(ENV_MAX_IN_FLIGHT, "three")
    with pytest.raises(ConfigError, match="GENREKIT_MAX_IN_FLIGHT"):
        create_app_from_env()


def test_inference_is_bounded_and_does_not_block_the_event_loop(model):
    slow = SlowModel(model, delay_s=0.6)
    clf = Classifier(ToyExtractor(), slow, name="slow", noise_flatness=None)
    data = audio_bytes(noise(1))
    with TestClient(create_app(clf, max_in_flight=2, warmup=False)) as c:
        codes: list[int] = []

        def post() -> None:
            codes.append(c.post("/v1/classify", files=upload(data)).status_code)

        threads = [threading.Thread(target=post) for _ in range(5)]
        for t in threads:
            t.start()
        deadline = time.time() + 5
        while True:  # until every request has arrived: two classifying, three queued
            t0 = time.perf_counter()
            h = c.get("/health").json()
            health_s = time.perf_counter() - t0
            if (h["in_flight"], h["waiting"]) == (2, 3) or time.time() > deadline:
                break
            time.sleep(0.02)
        assert (h["in_flight"], h["waiting"]) == (2, 3)
        for t in threads:
            t.join()
    assert codes == [200] * 5
    assert slow.max_active == 2  # never more than max_in_flight inference calls at once
    assert health_s < 0.3  # answered at once while both inference threads were busy


def test_full_queue_answers_503_busy(model):
    slow = SlowModel(model, delay_s=0.5)
    clf = Classifier(ToyExtractor(), slow, name="slow", noise_flatness=None)
    data = audio_bytes(noise(1))
    with TestClient(create_app(clf, max_in_flight=1, max_queue=0, warmup=False)) as c:
        results: list[httpx.Response] = []
        threads = [
            threading.Thread(target=lambda: results.append(c.post("/v1/classify", files=upload(data))))
            for _ in range(2)
        ]
        threads[0].start()
        time.sleep(0.2)
        threads[1].start()
        for t in threads:
            t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 503]
    busy = next(r for r in results if r.status_code == 503)
    assert busy.json()["error"]["type"] == "Busy" and busy.headers["retry-after"] == "1"


# --------------------------------------------------------------------------------- real bundles
def mfcc_bundle(path: Path) -> Path:
    """A small real bundle (registered MFCC extractor + logistic regression) saved on disk."""
    from genrekit.features.registry import get_extractor
    from genrekit.models.classical import make_model

    ext = get_extractor("mfcc", summary=True, segment_s=1.0, n_mfcc=8)
    rng = np.random.default_rng(1)
    X, y = [], []
    for i in range(6):
        for label, sig in (
            ("bass", tone(rng.uniform(100, 300), 2)),
            ("treble", tone(rng.uniform(2000, 4000), 2)),
            ("noise", noise(2, seed=100 + i)),
        ):
            f = ext(sig, SR)
            X.append(f)
            y += [label] * len(f)
    clf = make_model("logreg").fit(np.vstack(X), y)
    bundle = Bundle(
        model=clf,
        kind="logreg",
        labels=[str(c) for c in clf.classes_],
        extractor=ext.to_dict(),
        feature_names=list(ext.names),
        metrics={"note": "toy"},
    )
    return save_bundle(bundle, path)


@pytest.mark.slow
def test_bundle_trained_with_the_library(tmp_path):
    from genrekit.synth import render, write_corpus
    from genrekit.training import train

    write_corpus(tmp_path / "corpus", per_genre=3, duration_s=3.0, seed=3, genres=["classical", "metal"])
    res = train(
        tmp_path / "corpus", model="logreg", test_size=0.0, out=tmp_path / "bundle", seed=0,
        feature_options={"summary": None},  # per-segment rows: the response carries a segment timeline
    )  # fmt: skip
    with TestClient(create_app(res.out, warmup=False)) as c:
        info = c.get("/v1/model").json()
        assert info["labels"] == ["classical", "metal"] and info["kind"] == "logreg"
        assert info["extractor"]["name"] == "handcrafted"
        y = render("metal", duration_s=6.0, seed=99)
        d = c.post("/v1/classify", files=upload(audio_bytes(y), "metal.wav")).json()
        assert d["model"] == "bundle" and len(d["segments"]) == 2
        assert set(d["probabilities"]) == {"classical", "metal"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_real_server_wav_and_mp3(tmp_path):
    bundle = mfcc_bundle(tmp_path / "bundle")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genrekit.cli",
            "serve",
            "--model",
            str(bundle),
            "--port",
            str(port),
            "--max-upload-mb",
            "2",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, "server did not become ready in 60 s"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as http:
            r = http.post("/v1/classify", files=upload(audio_bytes(tone(180, 3)), "low.wav"))
            assert r.status_code == 200, r.text
            assert r.json()["genre"] == "bass" and r.json()["model"] == "bundle"
            mp3 = audio_bytes(noise(3), "MP3")
            r = http.post("/v1/classify", files=upload(mp3, "hiss.mp3", "audio/mpeg"))
            assert r.status_code == 200, r.text  # a served bundle answers white noise "unsure"
            assert r.json()["genre"] == "unsure" and "noise-like" in r.json()["unsure_reason"]
            r = http.post("/v1/classify", files=upload(audio_bytes(noise(60)), "big.wav"))
            assert_error(r, 413, "limit")
            assert http.get("/").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)  # what `docker stop` sends
        try:
            out = proc.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}" in out


def test_serve_cli_fails_cleanly_on_a_bad_model(tmp_path):
    from typer.testing import CliRunner

    from genrekit.cli import app

    r = CliRunner().invoke(app, ["serve", "--model", str(tmp_path / "missing"), "--port", str(DEFAULT_PORT)])
    assert r.exit_code == 5
    assert "not found" in r.output


def test_works_when_the_server_runs_no_lifespan(classifier):
    c = TestClient(create_app(classifier, warmup=False))  # no `with`: the ASGI lifespan never runs
    r = c.post("/v1/classify", files=upload(audio_bytes(tone(3000, 2))))
    assert r.status_code == 200 and r.json()["genre"] == "treble"
    assert c.get("/ready").json()["model"] == "toy"


def test_audio_over_the_duration_limit_needs_crop_s(classifier):
    with TestClient(create_app(classifier, max_duration_s=5, warmup=False)) as c:
        data = audio_bytes(noise(7))
        r = c.post("/v1/classify", files=upload(data, "long.wav"))
        assert_error(r, 400, "long.wav", "7.0 s long", "limit of 5 s", "crop_s")
        d = c.post("/v1/classify?crop_s=4", files=upload(data)).json()
        assert d["duration_s"] == pytest.approx(7.0)
        assert d["segments"][0]["start_s"] == pytest.approx(1.5)
        assert d["segments"][-1]["end_s"] == pytest.approx(5.5)
        assert c.get("/v1/model").json()["limits"]["max_duration_s"] == 5
        d = c.post("/v1/classify?crop_s=20", files=upload(data)).json()  # crop_s over the limit: 5 s
        assert d["duration_s"] == pytest.approx(7.0)
        assert (d["segments"][0]["start_s"], d["segments"][-1]["end_s"]) == pytest.approx((1.0, 6.0))


def test_ffmpeg_containers_are_held_to_the_duration_limit(classifier, monkeypatch):
    from genrekit import audio

    calls = []

    def fake_ffmpeg(cmd, input=None, capture_output=True, check=False):  # noqa: A002 - subprocess.run's
        calls.append(cmd)
        seconds = min(30.0, float(cmd[cmd.index("-t") + 1])) if "-t" in cmd else 30.0
        return subprocess.CompletedProcess(cmd, 0, audio_bytes(noise(seconds)), b"")

    monkeypatch.setattr(audio.decoding.shutil, "which", lambda name: "/usr/bin/ffmpeg")
    monkeypatch.setattr(audio.decoding.subprocess, "run", fake_ffmpeg)
    m4a = b"\x00\x00\x00\x20ftypM4A " + bytes(200)  # 30 s of audio, as far as the fake ffmpeg goes
    with TestClient(create_app(classifier, max_duration_s=10, warmup=False)) as c:
        r = c.post("/v1/classify", files=upload(m4a, "song.m4a", "audio/mp4"))
        assert_error(r, 400, "song.m4a", "longer than the limit of 10.0 s")
        assert calls[-1][calls[-1].index("-t") + 1] == "11.000"  # decoding stopped just past the limit
        d = c.post("/v1/classify?crop_s=4", files=upload(m4a, "song.m4a", "audio/mp4")).json()
        assert d["duration_s"] == pytest.approx(30.0) and d["segments"][-1]["end_s"] == pytest.approx(17.0)


def test_a_batch_is_one_request_in_the_queue_and_one_broken_file_loses_nothing(classifier, monkeypatch):
    from genrekit.service import runtime

    real = runtime.UploadReader.decode

    def flaky(self, data, filename, sr):
        if filename == "bug.wav":
            raise RuntimeError("a bug, not the file")
        return real(self, data, filename, sr)

    monkeypatch.setattr(runtime.UploadReader, "decode", flaky)
    files = [("audio", (f"c{i}.wav", audio_bytes(tone(200, 1)), "audio/wav")) for i in range(6)]
    files.insert(3, ("audio", ("bug.wav", audio_bytes(tone(200, 1)), "audio/wav")))
    with TestClient(create_app(classifier, max_in_flight=1, max_queue=2, warmup=False)) as c:
        r = c.post("/v1/classify/batch", files=files)  # 7 files > max_queue: still one request
        assert r.status_code == 200, r.text
        d = r.json()
        assert (d["n_ok"], d["n_failed"]) == (6, 1)
        bug = d["results"][3]
        assert bug["filename"] == "bug.wav" and bug["error"]["status"] == 500
        assert bug["error"]["type"] == "InternalError" and "a bug" not in bug["error"]["message"]
        assert all(x["result"]["genre"] == "bass" for i, x in enumerate(d["results"]) if i != 3)
        assert c.get("/health").json()["in_flight"] == 0


@pytest.mark.slow
def test_gunicorn_production_command(tmp_path):
    """The Dockerfile's command: gunicorn with uvicorn workers and the environment-reading factory."""
    pytest.importorskip("gunicorn", reason="gunicorn is not installed (the Docker image installs it)")
    bundle = mfcc_bundle(tmp_path / "svm")
    port = free_port()
    env = {**os.environ, ENV_MODEL: str(bundle), ENV_MAX_IN_FLIGHT: "1", "WEB_CONCURRENCY": "2"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-k",
            "uvicorn.workers.UvicornWorker",
            "--bind",
            f"127.0.0.1:{port}",
            "genrekit.service.app:create_app_from_env()",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        ready = 0
        while ready < 4:  # two workers: several answers in a row before trusting it
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.time() < deadline, "gunicorn did not become ready in 90 s"
            try:
                ready = ready + 1 if httpx.get(f"{base}/ready", timeout=2).status_code == 200 else 0
            except httpx.TransportError:
                ready = 0
            time.sleep(0.2)
        r = httpx.post(f"{base}/v1/classify", files=upload(audio_bytes(tone(3000, 2)), "hi.wav"), timeout=30)
        assert r.status_code == 200 and r.json()["genre"] == "treble" and r.json()["model"] == "svm"
        assert httpx.get(f"{base}/v1/model", timeout=5).json()["limits"]["max_in_flight"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    assert out.count("Application startup complete") == 2
