"""Batch runs: inputs, rows, engines (serial / processes / Dask), resume after a crash, pre-flight errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genrekit import batch
from genrekit.audio import file_digest
from genrekit.bundle import Bundle, save_bundle
from genrekit.errors import ConfigError, DatasetError, ModelError
from genrekit.features import registry
from toys import ToyConfig, ToyExtractor

SR = 8000
TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
#: Columns that must agree between engines (elapsed time and worker id naturally differ).
SAME_COLS = [
    "path", "label", "size", "mtime_ns", "hash", "status", "error", "duration_s", "n_segments",
    "genre", "confidence", "top_genres", "top_probs", "model",
]  # fmt: skip


# ------------------------------------------------------------------------------------- a tiny extractor
@dataclass(frozen=True)
class TinyConfig(ToyConfig):
    sr: int = SR
    delay_s: float = 0.0  # sleep per call: makes a run slow enough to be killed part-way


class TinyExtractor(ToyExtractor):
    """RMS, zero-crossing rate and spectral centroid (kHz) per 1 s segment; refuses clips under 0.1 s."""

    name = "tiny-batch-test"
    config_cls = TinyConfig
    stats = ("rms", "zcr", "centroid_khz")
    group_seconds: ClassVar[list[float]] = []  # audio seconds of each extract_many call (this process)

    def extract_many(self, signals: list[np.ndarray], sr: int) -> list[np.ndarray]:
        TinyExtractor.group_seconds.append(sum(len(y) for y in signals) / sr)
        return super().extract_many(signals, sr)

    def _extract(self, y: np.ndarray) -> np.ndarray:
        if len(y) < 0.1 * self.sr:
            raise ValueError(f"{len(y)} samples is too short for the tiny extractor")
        if self.config.delay_s:
            time.sleep(self.config.delay_s)
        return super()._extract(y)


registry.register(TinyExtractor.name, f"{TinyExtractor.__module__}:TinyExtractor")


def _tone(freq: float, duration_s: float, seed: int) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * noise).astype(np.float32)


# ------------------------------------------------------------------------------------------- fixtures
GOOD = [f"x/clip{i:02d}.wav" for i in range(5)] + [f"y/z/clip{i:02d}.wav" for i in range(5, 10)]
BAD = {
    "x/notaudio.wav": "not an audio file",
    "y/empty.flac": "empty file",
    "y/z/truncated.wav": "truncated",
    "x/short.wav": "too short: 0.05 s of audio",
}


def _write_corpus(root: Path) -> Path:
    for i, rel in enumerate(GOOD):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, _tone(300 if i % 2 else 2500, 1.5 + 0.5 * (i % 4), seed=i), SR)
    (root / "x/notaudio.wav").write_text("this is text, not audio\n")
    (root / "y/empty.flac").write_bytes(b"")
    sf.write(root / "y/z/truncated.wav", _tone(440, 2.0, seed=99), SR, subtype="PCM_16")
    data = (root / "y/z/truncated.wav").read_bytes()
    (root / "y/z/truncated.wav").write_bytes(data[: len(data) // 2])
    sf.write(root / "x/short.wav", _tone(440, 0.05, seed=98), SR)
    (root / "x/readme.txt").write_text("not an input: wrong extension")
    sf.write(root / ".hidden.wav", _tone(440, 1.0, seed=97), SR)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_corpus(tmp_path_factory.mktemp("corpus"))


def _train_bundle(
    path: Path,
    *,
    freqs: tuple[float, float] = (300, 2500),
    seed: int = 0,
    names: tuple[str, str] = ("low", "high"),
    extractor: ToyExtractor | None = None,
) -> Path:
    """A logistic regression telling tones at ``freqs`` apart on ``extractor``'s features (the tiny one's)."""
    from genrekit.models.classical import make_model

    ext = extractor if extractor is not None else TinyExtractor()
    X, y = [], []
    for j in range(12):
        f = freqs[j % 2]
        feats = ext(_tone(f, 2.0, seed=1000 + seed * 100 + j), SR)
        X.append(feats)
        y += [names[0] if f < 1000 else names[1]] * len(feats)
    model = make_model("logreg", random_state=seed).fit(np.concatenate(X), y)
    return save_bundle(
        Bundle(model, "logreg", [str(c) for c in model.classes_], ext.to_dict(), feature_names=ext.names),
        path,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train_bundle(tmp_path_factory.mktemp("model") / "tiny-logreg")


@pytest.fixture(scope="module")
def serial_run(
    corpus: Path, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, batch.BatchResult]:
    out = tmp_path_factory.mktemp("serial") / "results.parquet"
    res = batch.classify_batch(corpus, out, model=bundle, chunk_size=3)
    return out, res


def _same_view(out: Path) -> pd.DataFrame:
    df = batch.read_results(out)
    return df[SAME_COLS].sort_values("path").reset_index(drop=True)


def _n_parts(out: Path) -> int:
    return len(list(out.glob("part-*.parquet")))


# --------------------------------------------------------------------------------------------- inputs
def test_inputs_folder_manifest_and_list_stream_the_same_files(corpus: Path, tmp_path: Path) -> None:
    src = batch.InputSource(corpus)
    paths = [it.path for it in src]
    expected = sorted(str(corpus / p) for p in GOOD + list(BAD))
    assert sorted(paths) == expected
    assert src.ignored == 2  # readme.txt and .hidden.wav
    assert paths == [it.path for it in src]  # a second pass gives the same order

    manifest = corpus / "manifest.csv"
    manifest.write_text("label,path\nhigh,x/clip00.wav\nlow, x/clip01.wav \n\n")
    items = list(batch.InputSource(manifest))
    assert items == [
        batch.InputItem(str(corpus / "x/clip00.wav"), "high"),
        batch.InputItem(str(corpus / "x/clip01.wav"), "low"),
    ]
    manifest.unlink()

    listing = tmp_path / "todo.txt"
    listing.write_text(f"# catalogue\n{corpus / 'x/clip00.wav'}\n\n{corpus / 'y/z/clip05.wav'}\n")
    assert [it.path for it in batch.InputSource(listing)] == [
        str(corpus / "x/clip00.wav"),
        str(corpus / "y/z/clip05.wav"),
    ]

    (corpus / "x" / "out.parquet").mkdir()  # a batch output inside the input folder is not walked
    (corpus / "x" / "out.parquet" / "part-00000.wav").write_bytes(b"")
    assert (
        sorted(it.path for it in batch.InputSource(corpus, exclude=[corpus / "x" / "out.parquet"]))
        == expected
    )
    (corpus / "x" / "out.parquet" / "part-00000.wav").unlink()
    (corpus / "x" / "out.parquet").rmdir()

    bad_manifest = tmp_path / "m.csv"
    bad_manifest.write_text("file,label\na.wav,x\n")
    with pytest.raises(DatasetError, match="no 'path' column.*file, label"):
        list(batch.InputSource(bad_manifest))


# ------------------------------------------------------------------------------------------------ rows
def test_serial_rows_match_the_predict_path_and_bad_files_become_error_rows(
    serial_run, corpus: Path, bundle: Path
) -> None:
    out, res = serial_run
    assert (res.total, res.processed, res.ok, res.errors, res.ignored) == (14, 14, 10, 4, 2)
    assert res.parts == 5  # 14 files in chunks of 3
    from genrekit.predict import load_model

    df = batch.read_results(out)
    assert len(df) == 14 and df["path"].is_unique
    clf = load_model(bundle)
    for rel in GOOD:
        row = df[df.path == str(corpus / rel)].iloc[0]
        pred = clf.predict(corpus / rel)
        assert row.status == "ok" and pd.isna(row.error)
        assert row.genre == pred.genre
        assert list(row.top_genres) == [g for g, _ in pred.top_k(3)]
        np.testing.assert_allclose(row.top_probs, [p for _, p in pred.top_k(3)], atol=1e-6)
        assert row.confidence == pytest.approx(pred.confidence, abs=1e-6)
        assert row.n_segments == len(pred.segments)
        assert row.duration_s == pytest.approx(pred.duration_s, abs=1e-3)
        assert row.hash == file_digest(corpus / rel)
        assert row["size"] == (corpus / rel).stat().st_size
        assert row.model.startswith("tiny-logreg@")
        assert row.elapsed_s > 0
    # the tones are separable: the model gets every clip right
    assert all(
        df[df.path == str(corpus / rel)].genre.iloc[0] == ("low" if i % 2 else "high")
        for i, rel in enumerate(GOOD)
    )
    for rel, msg in BAD.items():
        row = df[df.path == str(corpus / rel)].iloc[0]
        assert row.status == "error" and msg in row.error, (rel, row.error)
        assert pd.isna(row.genre)
    meta = batch.read_meta(out)
    assert meta["signature"]["kind"] == "classify" and meta["labels"] == ["high", "low"]
    assert not (out / batch.LOCK_NAME).exists()
    assert pd.read_parquet(out).shape[0] == 14  # the folder is a plain parquet dataset too


def test_min_confidence_answers_unsure_exactly_below_the_threshold(
    serial_run, corpus: Path, bundle: Path, tmp_path: Path
) -> None:
    out, _ = serial_run
    ok = batch.read_results(out).query("status == 'ok'").sort_values("confidence")
    assert ok.confidence.nunique() > 1
    threshold = float(ok.confidence.iloc[len(ok) // 2])  # the middle file's own confidence
    res = batch.classify_batch(
        corpus, tmp_path / "unsure", model=bundle, chunk_size=3, min_confidence=threshold
    )
    assert res.ok == 10
    df = batch.read_results(tmp_path / "unsure").query("status == 'ok'").set_index("path")
    for path, row in ok.set_index("path").iterrows():
        got = df.loc[path]
        assert got.confidence == row.confidence and list(got.top_genres) == list(row.top_genres)
        assert got.genre == ("unsure" if row.confidence < threshold else row.genre), path
    assert (df.genre == "unsure").sum() == (ok.confidence < threshold).sum() >= 1
    assert batch.read_meta(tmp_path / "unsure")["signature"]["min_confidence"] == threshold
    with pytest.raises(ConfigError, match="min_confidence"):
        batch.classify_batch(corpus, tmp_path / "bad", model=bundle, min_confidence=1.5)


def test_groups_bound_the_audio_decoded_at_once_and_isolate_a_failing_file(
    corpus: Path, tmp_path: Path
) -> None:
    TinyExtractor.group_seconds.clear()
    items = [batch.InputItem(str(corpus / rel)) for rel in [*GOOD[:6], "x/short.wav"]]
    job = batch.BatchJob("features", extractor=TinyExtractor().to_dict(), group_audio_s=4.0, threads=None)
    res = batch.process_chunk(job, items)
    # clips are 1.5-3 s: every group holds at most 4 s of audio, and there are several groups
    batched = [s for s in TinyExtractor.group_seconds if s > 0.1]
    assert len(batched) >= 3 and max(batched) <= 4.0
    status = {Path(r["path"]).name: r["status"] for r in res.rows}
    assert status.pop("short.wav") == "error" and set(status.values()) == {"ok"}
    assert [r["path"] for r in res.rows] == [it.path for it in items]  # input order kept


def test_features_pooled_per_segment_and_manifest_labels(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "train.csv"
    manifest.write_text(
        "path,label\n"
        + "".join(f"{corpus / rel},{'low' if i % 2 else 'high'}\n" for i, rel in enumerate(GOOD))
    )
    pooled, per_seg = tmp_path / "pooled", tmp_path / "seg"
    r1 = batch.features_batch(manifest, pooled, extractor=TinyExtractor.name, chunk_size=4)
    r2 = batch.features_batch(manifest, per_seg, extractor=TinyExtractor.name, per_segment=True, chunk_size=4)
    assert r1.ok == r2.ok == 10 and r1.errors == r2.errors == 0
    X, rows, names = batch.read_features(pooled)
    assert X.shape == (10, 3) and X.dtype == np.float32 and names == TinyExtractor().names
    assert list(rows.label) == ["high", "low"] * 5
    ext = TinyExtractor()
    y, _ = sf.read(corpus / GOOD[3], dtype="float32")
    np.testing.assert_allclose(X[3], ext(y, SR).mean(axis=0), rtol=1e-5)
    Xs, srows, _ = batch.read_features(per_seg)
    assert len(Xs) == int(rows.n_segments.sum())
    one = srows[srows.path == str(corpus / GOOD[3])]
    assert list(one.segment) == list(range(len(one)))
    assert list(one.start_s) == [float(i) for i in range(len(one))]
    np.testing.assert_allclose(Xs[one.index], ext(y, SR), rtol=1e-5)


# --------------------------------------------------------------------------------------------- resume
def test_resume_skips_done_files_redoes_changed_ones_and_retries_errors(
    corpus: Path, bundle: Path, tmp_path: Path
) -> None:
    root = _write_corpus(tmp_path / "c")
    out = tmp_path / "out"
    first = batch.classify_batch(root, out, model=bundle, chunk_size=4)
    assert (first.processed, first.errors) == (14, 4)
    again = batch.classify_batch(root, out, model=bundle, chunk_size=4)
    assert (again.processed, again.skipped, again.previous_errors, again.parts) == (0, 14, 4, 0)

    touched, changed = root / GOOD[0], root / GOOD[1]
    os.utime(touched, ns=(time.time_ns(), time.time_ns() + 10**9))  # new mtime, same bytes: still done
    sf.write(changed, _tone(2500, 2.0, seed=500), SR)  # new content: done again, new row supersedes
    sf.write(root / "x/notaudio.wav", _tone(300, 2.0, seed=501), SR)  # a fixed bad file: a changed file
    third = batch.classify_batch(root, out, model=bundle, chunk_size=4)
    assert (third.processed, third.ok, third.skipped, third.previous_errors) == (2, 2, 12, 3)
    df = batch.read_results(out)
    assert len(df) == 14 and df.path.is_unique
    row = df[df.path == str(changed)].iloc[0]
    assert row.genre == "high" and row.hash == file_digest(changed)
    attempts = batch.read_results(out, all_attempts=True)
    assert attempts.path.value_counts()[str(changed)] == 2 and attempts.path.value_counts()[str(touched)] == 1

    retried = batch.classify_batch(root, out, model=bundle, chunk_size=4, retry_errors=True)
    assert (retried.processed, retried.errors, retried.skipped) == (3, 3, 11)
    df = batch.read_results(out)
    assert len(df) == 14 and df.path.is_unique and (df.status == "error").sum() == 3
    latest = batch.read_results(out, all_attempts=True).groupby("path").part.max()
    assert latest[str(root / "y/empty.flac")] == latest.max()  # the retried row supersedes the first


def test_ctrl_c_keeps_finished_chunks_and_the_rerun_finishes(
    corpus: Path, bundle: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv(batch.STOP_AFTER_ENV, "2")
    with pytest.raises(KeyboardInterrupt):
        batch.classify_batch(corpus, out, model=bundle, chunk_size=3)
    assert _n_parts(out) == 2 and not (out / batch.LOCK_NAME).exists()
    assert len(batch.read_results(out)) == 6
    monkeypatch.delenv(batch.STOP_AFTER_ENV)
    res = batch.classify_batch(corpus, out, model=bundle, chunk_size=3)
    assert (res.processed, res.skipped) == (8, 6)
    attempts = batch.read_results(out, all_attempts=True)
    assert len(attempts) == 14 and attempts.path.is_unique  # no file done twice, none skipped


def _cli_driver(*args: str) -> list[str]:
    """A `genrekit` command line in a fresh interpreter that also knows the tiny test extractor."""
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); import test_batch; "
        f"from genrekit.cli import app; app({list(args)!r})"
    )
    return [sys.executable, "-c", code]


@pytest.mark.slow
def test_a_killed_run_resumes_with_every_file_exactly_once(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "feats"
    args = ["batch", "features", str(corpus), "--out", str(out), "--extractor", TinyExtractor.name,
            "-o", "delay_s=0.15", "--chunk-size", "2", "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(_cli_driver(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _n_parts(out) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done_before = _n_parts(out)
    assert 2 <= done_before < 7  # killed part-way: some of the 7 chunks missing
    assert (out / batch.LOCK_NAME).exists()  # a stale lock from a dead process: taken over below

    rerun = subprocess.run(_cli_driver(*args), env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 6, rerun.stderr  # the bad files are error rows
    assert "already done" in rerun.stdout
    attempts = batch.read_results(out, all_attempts=True)
    assert sorted(attempts.path) == sorted(str(corpus / p) for p in GOOD + list(BAD))  # each once, none lost
    assert (attempts.status == "ok").sum() == 10


# ----------------------------------------------------------------------------------------- pre-flight
def test_preflight_errors_come_before_any_work(corpus: Path, bundle: Path, tmp_path: Path) -> None:
    calls: list[batch.BatchProgress] = []
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="no audio files"):
        batch.classify_batch(empty, tmp_path / "o1", model=bundle, progress=calls.append)
    assert not (tmp_path / "o1").exists()  # nothing left behind
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(DatasetError, match="no files"):
        batch.classify_batch(tmp_path / "empty.txt", tmp_path / "o1", model=bundle)
    with pytest.raises(DatasetError, match="input not found"):
        batch.classify_batch(tmp_path / "missing", tmp_path / "o1", model=bundle)

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create the output folder") as exc:
        batch.classify_batch(corpus, blocker / "results.parquet", model=bundle)
    assert str(blocker / "results.parquet") in str(exc.value)
    with pytest.raises(ConfigError, match="not a folder"):
        batch.classify_batch(corpus, blocker, model=bundle)
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(ConfigError, match="not a genrekit batch output"):
        batch.classify_batch(corpus, foreign, model=bundle)

    with pytest.raises(ConfigError, match="unknown feature extractor 'nope'.*handcrafted"):
        batch.features_batch(corpus, tmp_path / "o2", extractor="nope")
    with pytest.raises(ModelError, match="not found"):
        batch.classify_batch(corpus, tmp_path / "o2", model=tmp_path / "no-such-bundle")
    assert calls == []


def test_resuming_with_another_model_or_extractor_is_refused(
    serial_run, corpus: Path, tmp_path: Path
) -> None:
    out, _ = serial_run
    parts = _n_parts(out)
    other = _train_bundle(tmp_path / "tiny-logreg", freqs=(200, 3000), seed=1)  # same name, other weights
    with pytest.raises(ConfigError, match="different job.*model"):
        batch.classify_batch(corpus, out, model=other)
    with pytest.raises(ConfigError, match="different job.*top_k"):
        batch.classify_batch(corpus, out, model=batch.read_meta(out)["model_source"], top_k=5)
    with pytest.raises(ConfigError, match="different job.*kind"):
        batch.features_batch(corpus, out, extractor=TinyExtractor.name)
    assert _n_parts(out) == parts and not (out / batch.LOCK_NAME).exists()
    feats = tmp_path / "feats"
    batch.features_batch(corpus, feats, extractor=TinyExtractor.name, chunk_size=50)
    with pytest.raises(ConfigError, match="different job.*extractor"):
        batch.features_batch(corpus, feats, extractor=TinyExtractor.name, options={"segment_s": 0.5})


def test_a_bundle_rewritten_at_the_same_path_is_loaded_afresh(corpus: Path, tmp_path: Path) -> None:
    path = _train_bundle(tmp_path / "model")
    first = tmp_path / "first"
    batch.classify_batch(corpus, first, model=path)
    before = batch.read_results(first).set_index("path").genre
    time.sleep(1.1)  # another bundle.json "created" second
    _train_bundle(path, names=("high", "low"))  # same path, labels swapped: every answer flips
    second = tmp_path / "second"
    batch.classify_batch(corpus, second, model=path)  # same process: no model cached by path
    after = batch.read_results(second).set_index("path").genre
    ok = before.index[before.notna()]
    assert len(ok) == 10 and set(before[ok]) == {"low", "high"}
    assert (after[ok] != before[ok]).all()
    assert batch.read_meta(second)["signature"]["model"] != batch.read_meta(first)["signature"]["model"]
    with pytest.raises(ConfigError, match="different job.*model"):
        batch.classify_batch(corpus, first, model=path)  # resuming the first output is refused


def test_a_changed_manifest_label_redoes_the_file(corpus: Path, tmp_path: Path) -> None:
    manifest, out = tmp_path / "m.csv", tmp_path / "feats"
    rows = [(corpus / GOOD[0], "jazz"), (corpus / GOOD[1], "rock")]
    manifest.write_text("path,label\n" + "".join(f"{p},{lab}\n" for p, lab in rows))
    batch.features_batch(manifest, out, extractor=TinyExtractor.name)
    manifest.write_text("path,label\n" + f"{rows[0][0]},blues\n{rows[1][0]},rock\n")
    res = batch.features_batch(manifest, out, extractor=TinyExtractor.name)
    assert (res.processed, res.skipped) == (1, 1)
    _, meta, _ = batch.read_features(out)
    assert list(meta.label) == ["blues", "rock"]


def test_error_rows_the_driver_writes_keep_the_file_facts(corpus: Path, tmp_path: Path) -> None:
    item = batch.InputItem(str(corpus / GOOD[0]))
    row = batch.engines._error_row(item, "Dask workers died repeatedly on this chunk")
    st = os.stat(item.path)
    assert (row["size"], row["mtime_ns"], row["status"]) == (st.st_size, st.st_mtime_ns, "error")
    index = {item.path: batch.store._Done(row["size"], row["mtime_ns"], None, "error")}
    plan = list(batch.run._plan([item], index, retry_errors=False, memo={}))
    assert plan == [(item, "failed")]  # kept, as any error row, until --retry-errors
    assert list(batch.run._plan([item], index, retry_errors=True, memo={})) == [(item, "todo")]
    gone = batch.engines._error_row(batch.InputItem(str(tmp_path / "gone.wav")), "x")
    assert "size" not in gone and gone["status"] == "error"


def test_a_live_lock_refuses_a_second_writer(corpus: Path, bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / batch.LOCK_NAME).write_text(
        json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "started": "now"})
    )
    with pytest.raises(ConfigError, match=f"in use by another batch run \\(pid {os.getpid()}"):
        batch.classify_batch(corpus, out, model=bundle)


def test_bundle_whose_features_do_not_match_its_extractor_is_refused(tmp_path: Path, corpus: Path) -> None:
    from genrekit.models.classical import make_model

    ext = TinyExtractor()
    model = make_model("logreg").fit(np.random.default_rng(0).standard_normal((20, 3)), ["a", "b"] * 10)
    bad = save_bundle(
        Bundle(model, "logreg", ["a", "b"], ext.to_dict(), feature_names=["x", "y", "z"]), tmp_path / "b"
    )
    with pytest.raises(ModelError, match="do not match"):
        batch.classify_batch(corpus, tmp_path / "o", model=bad)
    assert not (tmp_path / "o").exists()


def test_read_results_keeps_only_the_latest_attempt(tmp_path: Path) -> None:
    out = tmp_path / "o"
    store = batch.ResultStore(out)
    store.acquire()
    store.open({"kind": "classify"}, {})
    schema = batch.store._schema("classify", False)
    row = {"path": "/a.wav", "size": 1, "mtime_ns": 1, "hash": "h", "model": "m"}
    store.write_part(
        batch.rows_to_table(
            [
                {**row, "status": "error", "error": "boom"},
                {**row, "path": "/b.wav", "status": "ok", "genre": "rock"},
            ],
            schema,
        )
    )
    store.write_part(
        batch.rows_to_table(
            [{**row, "status": "ok", "genre": "jazz", "top_genres": ["jazz"], "top_probs": [1.0]}], schema
        )
    )
    store.release()
    df = batch.read_results(out)
    assert list(df.path) == ["/a.wav", "/b.wav"] and list(df.genre) == ["jazz", "rock"]
    assert list(batch.read_results(out, all_attempts=True).part) == [0, 1, 0]
    assert store.index()["/a.wav"].status == "ok"


def test_engine_options_are_checked(corpus: Path, bundle: Path, tmp_path: Path) -> None:
    for kw, msg in [
        ({"workers": 0}, "workers must be >= 1"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"scheduler": "tcp://h:8786", "dask_local": 2}, "not both"),
        ({"workers": 2, "dask_local": 2}, "--workers is for local processes"),
        ({"scheduler": "localhost:8786"}, "tcp://HOST:8786"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            batch.classify_batch(corpus, tmp_path / "o", model=bundle, **kw)


def test_cli_exit_codes_and_summary(corpus: Path, bundle: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from genrekit.cli import app

    runner = CliRunner()
    out = tmp_path / "o"
    r = runner.invoke(
        app, ["batch", "classify", str(corpus), "--out", str(out), "-m", str(bundle), "--no-progress"]
    )
    assert r.exit_code == 6, r.output
    assert "14 file(s) processed (10 ok, 4 error(s))" in r.output
    r = runner.invoke(app, ["batch", "show", str(out), "--export", str(tmp_path / "rows.csv")])
    assert r.exit_code == 0 and "10 ok, 4 error(s)" in r.output
    assert len(pd.read_csv(tmp_path / "rows.csv")) == 14
    (tmp_path / "none").mkdir()
    r = runner.invoke(
        app, ["batch", "classify", str(tmp_path / "none"), "--out", str(tmp_path / "o3"), "-m", str(bundle)]
    )
    assert r.exit_code == 4 and "no audio files" in r.output


# ------------------------------------------------------------------------------------ parallel engines
def _assert_same_feature_rows(a_out: Path, b_out: Path) -> None:
    cols = [
        "path",
        "segment",
        "start_s",
        "end_s",
        "status",
        "error",
        "hash",
        "size",
        "n_segments",
        "duration_s",
        "model",
    ]
    a, b = batch.read_results(a_out), batch.read_results(b_out)
    pd.testing.assert_frame_equal(a[cols], b[cols])
    ok = a.status == "ok"
    np.testing.assert_array_equal(np.stack(a.features[ok]), np.stack(b.features[ok]))


@pytest.fixture(scope="module")
def serial_features(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serial-features") / "feats"
    batch.features_batch(corpus, out, extractor=TinyExtractor.name, per_segment=True, chunk_size=2)
    return out


@pytest.mark.slow
def test_local_processes_give_the_same_rows_as_a_serial_run(
    serial_features: Path, corpus: Path, tmp_path: Path
) -> None:
    res = batch.features_batch(
        corpus, tmp_path / "procs", extractor=TinyExtractor.name, per_segment=True, chunk_size=2, workers=2
    )
    assert res.engine == "processes" and (res.ok, res.errors, res.parts) == (10, 4, 7)
    assert os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in res.worker_peak_rss_mb}
    _assert_same_feature_rows(serial_features, tmp_path / "procs")


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_rows_as_a_serial_run(
    serial_features: Path, corpus: Path, tmp_path: Path
) -> None:
    import logging

    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        res = batch.features_batch(
            corpus,
            tmp_path / "dask",
            extractor=TinyExtractor.name,
            per_segment=True,
            chunk_size=2,
            scheduler=cluster.scheduler_address,
        )
    assert res.engine == "dask" and (res.ok, res.errors, res.parts) == (10, 4, 7)
    workers = batch.read_results(tmp_path / "dask").worker.dropna().unique()
    assert 1 <= len(workers) <= 2 and os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in workers}
    _assert_same_feature_rows(serial_features, tmp_path / "dask")


@pytest.mark.slow
def test_musicnn_batches_give_the_predict_path_answers(corpus: Path, tmp_path: Path) -> None:
    from genrekit.predict import load_model

    try:
        clf = load_model(None)
    except ModelError as exc:  # pragma: no cover - the musicnn weights package is not installed
        pytest.skip(str(exc))
    clips = [tmp_path / f"long{i}.wav" for i in range(3)]  # musicnn takes one whole 3 s patch at least
    for i, clip in enumerate(clips):
        sf.write(clip, _tone(300 if i % 2 else 2500, 3.5 + 0.5 * i, seed=i), SR)
    listing = tmp_path / "four.txt"
    listing.write_text("".join(f"{c}\n" for c in clips) + f"{corpus / 'x/clip00.wav'}\n")
    res = batch.classify_batch(listing, tmp_path / "o", chunk_size=4, top_k=0)  # one chunk: one musicnn batch
    assert (res.ok, res.errors) == (3, 1)  # the 1.5 s clip00 is under one musicnn patch
    df = batch.read_results(tmp_path / "o")
    assert "too short" in df[df.path == str(corpus / "x/clip00.wav")].iloc[0].error
    for clip in clips:
        row = df[df.path == str(clip)].iloc[0]
        pred = clf.predict(clip)
        assert row.genre == pred.genre and row.model.startswith("gtzan@")  # the default model
        assert list(row.top_genres) == list(pred.probabilities)
        np.testing.assert_allclose(row.top_probs, list(pred.probabilities.values()), atol=1e-4)


@pytest.mark.slow
def test_local_cluster_workers_keep_thread_limits_but_not_the_malloc_trim_threshold(monkeypatch) -> None:
    # MALLOC_TRIM_THRESHOLD_ also disables glibc's dynamic mmap threshold: every large buffer is mapped
    # afresh, 1.5x the CPU per chunk in a Dask worker (docs/benchmarks.md). A default LocalCluster copies
    # it into this process's environment (as an earlier test's does), where it would win: clear it.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    env = batch.engines._worker_environ()
    assert env["MALLOC_TRIM_THRESHOLD_"] is None and str(env.get("OMP_NUM_THREADS")) == "1"
    with batch.engines._dask_client(None, 1, 1) as client:
        names = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")
        got = client.submit(lambda: {k: os.environ.get(k) for k in names})
        assert got.result(timeout=120) == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}


def test_a_silent_file_is_an_error_row_not_a_genre(bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    sf.write(root / "silence.wav", np.zeros(2 * SR, np.float32), SR)
    sf.write(root / "tone.wav", _tone(300, 2.0, seed=1), SR)
    batch.classify_batch(root, tmp_path / "out", model=bundle)
    df = batch.read_results(tmp_path / "out").set_index("path")
    assert df.loc[str(root / "tone.wav"), "status"] == "ok"
    row = df.loc[str(root / "silence.wav")]
    assert row.status == "error" and "is silent" in row.error and pd.isna(row.genre)
