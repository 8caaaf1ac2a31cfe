from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from genrekit.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    res = invoke("--version")
    assert res.exit_code == 0 and res.stdout.startswith("genrekit ")


def test_synth_and_scan(tmp_path):
    out = tmp_path / "c"
    res = invoke(
        "synth", out, "--per-genre", "2", "--duration-s", "2", "--genres", "blues,metal", "--seed", "5"
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "metal").glob("*.wav")) == ["metal.00000.wav", "metal.00001.wav"]
    res = invoke("scan", out, "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["counts"] == {"blues": 2, "metal": 2}
    (out / "metal" / "bad.wav").write_bytes(b"")
    res = invoke("scan", out)
    assert res.exit_code == 6
    assert "bad.wav" in res.output


def test_errors_are_one_line_with_exit_codes(tmp_path):
    res = invoke("scan", tmp_path / "nowhere")
    assert res.exit_code == 4 and "error:" in res.output and "nowhere" in res.output
    res = invoke("synth", tmp_path / "x", "--genres", "polka")
    assert res.exit_code == 2 and "polka" in res.output and "blues" in res.output
    res = invoke("classify", "--model", tmp_path, tmp_path / "a.wav")
    assert res.exit_code == 5 and "bundle.json" in res.output


@pytest.mark.slow
def test_train_classify_evaluate_features(tiny_corpus, tmp_path):
    model = tmp_path / "model"
    res = invoke("train", tiny_corpus, "--out", model, "--model", "logreg", "--cache-dir", tmp_path / "cache")
    assert res.exit_code == 0, res.output
    assert "test accuracy" in res.output and (model / "bundle.json").is_file()
    assert "logreg on handcrafted: test accuracy" in res.output  # the features chosen, not "None"

    wav = sorted((tiny_corpus / "classical").glob("*.wav"))[0]
    missing = tmp_path / "missing.wav"
    res = invoke("classify", model, wav, missing, "--json", "--segments", "--top-k", "2")
    assert res.exit_code == 6  # one of two files failed
    lines = [json.loads(line) for line in res.stdout.strip().splitlines()]
    ok = next(d for d in lines if "genre" in d)
    assert len(ok["top_k"]) == 2 and abs(sum(ok["probabilities"].values()) - 1) < 1e-4
    assert ok["segments"][0]["start_s"] == 0.0 and ok["segments"][-1]["end_s"] == pytest.approx(6.0, abs=0.05)
    assert any("not found" in d.get("error", "") for d in lines)
    res = invoke("classify", model, wav, "--explain")
    assert res.exit_code == 0, res.output
    assert "runner-up:" in res.stdout and "segments most for" in res.stdout
    assert "segments most against" in res.stdout

    res = invoke(
        "evaluate", model, tiny_corpus, "--report", tmp_path / "eval", "--cache-dir", tmp_path / "cache"
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "eval" / "report.md").is_file()
    res = invoke(
        "evaluate",
        model,
        tiny_corpus,
        "--report",
        tmp_path / "eval2",
        "--cache-dir",
        tmp_path / "cache",
        "--importance",
    )
    assert res.exit_code == 0, res.output
    assert "most important features:" in res.stdout and (tmp_path / "eval2" / "importance.csv").is_file()

    res = invoke("features", tiny_corpus, "--out", tmp_path / "f.parquet", "--cache-dir", tmp_path / "cache")
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(tmp_path / "f.parquet")
    # the default hand-crafted features: one row per track, mean and std over its 3 s segments
    assert {"track_id", "label", "segment", "tempo.mean", "mfcc20_var.std"} <= set(df.columns)
    assert df.track_id.nunique() == 24 and len(df) == 24
    res = invoke(
        "features", tiny_corpus, "--out", tmp_path / "k.parquet",
        "-o", "extended=false", "-o", "summary=null",
        "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    df = pd.read_parquet(tmp_path / "k.parquet")
    assert {"tempo", "mfcc20_var"} <= set(df.columns)
    assert df.track_id.nunique() == 24 and len(df) == 24 * 2  # 6 s clips -> two 3 s segments


@pytest.mark.slow
def test_compare_unknown_model_lists_valid_ones(tiny_corpus, tmp_path):
    res = invoke("compare", tiny_corpus, "--report", tmp_path / "r", "--models", "knn,boosted-forest")
    assert res.exit_code == 2
    assert "boosted-forest" in res.output and "xgboost" in res.output
