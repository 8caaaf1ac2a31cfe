"""What a person sees at the terminal: formats, piped output, help, --top-k, hints (cli/output.py, help.py).

CliRunner captures stdout in a buffer, so every command here runs as if piped (not a terminal): tables
come out as Markdown with their full headers, and no line may be broken in the middle of a cell.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from genrekit.cli import app
from genrekit.cli.help import plain_help
from genrekit.cli.output import RUN_COLUMNS, Column, Output, markdown_table, rich_table, run_rows
from genrekit.config import MAX_TOP_K
from genrekit.metrics import ModelRun, evaluate_predictions
from genrekit.training import CompareResult

runner = CliRunner()
LONG_MODEL = "logreg-with-a-deliberately-long-name-that-would-not-fit-an-80-column-terminal-cell"


def invoke(*args: object, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def _run(name: str, rng: np.random.Generator, n_tracks: int = 8) -> ModelRun:
    classes = ["blues", "metal"]
    y = np.repeat(np.array(classes * (n_tracks // 2)), 2)  # two segments per track
    groups = np.repeat(np.arange(n_tracks), 2)
    p = rng.dirichlet([1.0, 1.0], size=len(y))
    return ModelRun(name, evaluate_predictions(y, p, groups, classes), fit_time_s=1.25, predict_time_s=0.01)


@pytest.fixture
def fake_runs(monkeypatch, tmp_path):
    """compare/evaluate return two known runs without training anything."""
    rng = np.random.default_rng(0)
    runs = [_run(LONG_MODEL, rng), _run("rf", rng)]
    result = CompareResult(runs=runs, folds=None, report=tmp_path / "rep", failures=[], split="test")
    import genrekit.training as training

    monkeypatch.setattr(training, "compare", lambda *a, **k: result)
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: result)
    return runs


def _wav(path, seconds: float = 4.0, sr: int = 22050, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (
        1 + 0.5 * np.sin(2 * np.pi * 2 * t)
    ) + 0.02 * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), sr)
    return path


# -------------------------------------------------------------------------------------- piped tables
def test_compare_piped_is_markdown_with_full_headers_and_no_wraps(fake_runs, tmp_path):
    res = invoke("compare", tmp_path, "--report", tmp_path / "rep")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| model |"))
    for full in ("95% CI (Wilson)", "balanced accuracy", "segment accuracy", "predict (ms/track)"):
        assert f"| {full} |" in header
    assert "track_balanced" not in res.stdout and "predict_ms_per" not in res.stdout
    assert "trac…" not in res.stdout and "…" not in res.stdout
    row = next(line for line in lines if LONG_MODEL in line)  # the long cell is whole, on one line
    assert row.startswith(f"| {LONG_MODEL} |") and row.count("|") == header.count("|")
    assert f"report: {tmp_path / 'rep'}" in res.stdout


def test_evaluate_piped_markdown_rows_match_runs(fake_runs, tmp_path):
    res = invoke("evaluate", tmp_path, tmp_path, "--report", tmp_path / "rep")
    assert res.exit_code == 0, res.output
    rows = [line for line in res.stdout.splitlines() if line.startswith("| ") and "model" not in line]
    assert len(rows) == 2
    acc = {r.name: r.result.track.accuracy for r in fake_runs}
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert float(cells[1]) == pytest.approx(acc[cells[0]], abs=5e-4)


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv"])
def test_compare_machine_formats_parse_back(fake_runs, tmp_path, fmt):
    res = invoke("compare", tmp_path, "--report", tmp_path / "rep", "--format", fmt)
    assert res.exit_code == 0, res.output
    if fmt == "json":
        table = pd.DataFrame(json.loads(res.stdout))
    else:
        table = pd.read_csv(io.StringIO(res.stdout), sep="," if fmt == "csv" else "\t")
    assert list(table.columns[:5]) == [
        "model",
        "track_accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "n_tracks",
    ]
    by_name = table.set_index("model")
    for run in fake_runs:
        assert by_name.loc[run.name, "track_accuracy"] == pytest.approx(run.result.track.accuracy)
        assert by_name.loc[run.name, "track_log_loss"] == pytest.approx(run.result.track.log_loss)
        assert by_name.loc[run.name, "n_tracks"] == 8
        assert 0 <= by_name.loc[run.name, "accuracy_ci_low"] <= by_name.loc[run.name, "accuracy_ci_high"] <= 1
    assert "report:" not in res.stdout and "report:" in res.stderr  # notes go to stderr


def test_output_dir_writes_what_was_printed(fake_runs, tmp_path):
    out = tmp_path / "out"
    res = invoke("evaluate", tmp_path, tmp_path, "--report", tmp_path / "rep", "--output-dir", out)
    assert res.exit_code == 0, res.output
    text = (out / "evaluate.md").read_text(encoding="utf-8")
    assert "| model | accuracy |" in text and LONG_MODEL in text
    res = invoke("compare", tmp_path, "--report", tmp_path / "rep", "-f", "json", "--output-dir", out)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "compare.json").read_text(encoding="utf-8")) == json.loads(res.stdout)
    assert f"wrote {out / 'compare.json'}" in res.stderr


def test_unknown_format_is_refused(fake_runs, tmp_path):
    res = invoke("compare", tmp_path, "--report", tmp_path / "rep", "--format", "xml")
    assert res.exit_code == 2 and "table, json, csv, tsv" in res.output


def test_terminal_table_fits_80_columns_with_short_headers():
    rng = np.random.default_rng(1)
    rows = run_rows([_run("logreg", rng), _run("svm", rng)])
    con = Console(width=80, record=True, file=io.StringIO())
    con.print(rich_table(rows, RUN_COLUMNS, width=80, title="results"))
    text = con.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "acc." in text and "95% CI" in text and "…" not in text
    assert "not shown at this width: " in text  # the columns left out are named
    wide = Console(width=200, record=True, file=io.StringIO())
    wide.print(rich_table(rows, RUN_COLUMNS, width=200))
    wide_text = wide.export_text()
    assert "not shown" not in wide_text and "ms/track" in wide_text


def test_markdown_and_tsv_keep_cells_on_one_line():
    cols = (Column("name", "file name", right=False), Column("value", "value"))
    rows = [{"name": "a|b\tc\nd", "value": 0.5}]
    md = markdown_table(rows, cols)
    assert md.splitlines()[2] == "| a\\|b c d | 0.500 |"
    out = Output("tsv", name="x")
    assert out.machine


def test_batch_show_formats(monkeypatch, tmp_path):
    import genrekit.batch as batch

    df = pd.DataFrame(
        {
            "path": ["a.wav", "b.wav", "c.wav", "d.wav"],
            "status": ["ok", "ok", "ok", "error"],
            "genre": ["rock", "rock", "jazz", None],
            "error": [None, None, None, "unreadable"],
        }
    )
    monkeypatch.setattr(batch, "read_meta", lambda out: {"signature": {"kind": "classify", "model": "gtzan"}})
    monkeypatch.setattr(batch, "read_results", lambda out: df)
    res = invoke("batch", "show", tmp_path, "--format", "csv", "--output-dir", tmp_path / "o")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout))
    assert table.to_dict("list") == {"genre": ["rock", "jazz"], "files": [2, 1], "share": [2 / 3, 1 / 3]}
    assert (tmp_path / "o" / "batch-show.csv").read_text(encoding="utf-8").strip() == res.stdout.strip()
    assert "d.wav: unreadable" in res.stderr
    res = invoke("batch", "show", tmp_path)
    assert res.exit_code == 0 and "| genre | files | share of files |" in res.stdout


# ----------------------------------------------------------------------------------- per-file output
def test_classify_piped_explain_and_formats(tmp_path):
    name = "a-" + "very-long-file-name-" * 5 + "end.wav"
    wav = _wav(tmp_path / name)
    res = invoke("classify", wav, "--explain", "--top-k", "2")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"{wav}: ") and lines[0].count("%") == 2  # whole, with its top 2
    assert any(line.startswith("  runner-up: ") for line in lines)
    assert all(line.startswith(("  ", str(wav))) for line in lines)  # no continuation from a hard wrap
    res = invoke("classify", wav, wav, "--format", "tsv", "--top-k", "3")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout), sep="\t")
    assert list(table["source"]) == [str(wav)] * 2 and table["top_k"].str.count(",").tolist() == [2, 2]
    res = invoke("classify", wav, "-f", "json", "--top-k", "1")
    assert len(json.loads(res.stdout)["top_k"]) == 1
    res = invoke("classify", wav, "-f", "csv", "--segments")
    assert res.exit_code == 2 and "--segments" in res.output


def test_classify_verbose_prints_stage_timings(tmp_path):
    wav = _wav(tmp_path / "a.wav")
    assert "decode" in invoke("classify", wav, "-v").stderr
    res = invoke("-v", "classify", wav)
    assert res.exit_code == 0, res.output
    timing = next(line for line in res.stderr.splitlines() if "total" in line)
    parts = {p.split()[0]: float(p.split()[1]) for p in timing.rsplit(": ", 1)[1].split(", ")}
    assert set(parts) == {"decode", "features", "network", "total"}
    assert parts["total"] >= parts["features"] + parts["network"] - 1  # ms, rounded
    assert "decode" not in res.stdout


def test_stage_timer_leaves_the_classifier_untouched(tmp_path):
    from genrekit.cli.output import StageTimer
    from genrekit.predict import load_model

    clf = load_model()
    model, extractor = clf.model, clf.extractor
    timer = StageTimer()
    timed = timer.attach(clf)
    wav = _wav(tmp_path / "a.wav")
    a, b = clf.predict(wav), timed.predict(wav)
    assert clf.model is model and clf.extractor is extractor and "predict_audio" not in vars(clf)
    assert a.genre == b.genre and np.allclose(list(a.probabilities.values()), list(b.probabilities.values()))
    assert timer.totals["features"] > 0 and timer.totals["network"] > 0


def test_tags_piped_is_not_wrapped_and_top_alias(tmp_path):
    wav = _wav(tmp_path / "t.wav", seconds=3.5)
    res = invoke("tags", wav, "--top-k", "12", "--which", "msd")
    assert res.exit_code == 0, res.output
    line = next(line for line in res.stdout.splitlines() if line.startswith("  MSD: "))
    assert len(line) > 80 and line.count(",") == 11  # one line of 12 tags
    res = invoke("tags", wav, "--top", "2", "--which", "mtt", "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["mtt"]) == 2
    assert "--top " not in invoke("tags", "--help").stdout


# ------------------------------------------------------------------------------------------ top-k
@pytest.mark.parametrize(
    "cmd",
    [
        ["classify", "x.wav"],
        ["batch", "classify", "in", "--out", "o"],
        ["tabular", "predict", "m", "r.csv"],
        ["tags", "x.wav"],
    ],
)
def test_top_k_range_is_the_api_range(cmd):
    for bad in ("0", str(MAX_TOP_K + 1)):
        res = invoke(*cmd, "--top-k", bad)
        assert res.exit_code == 2 and "--top-k" in res.output


# ------------------------------------------------------------------------------------------- hints
def test_classify_folder_hint(tmp_path):
    _wav(tmp_path / "a.wav")
    res = invoke("classify", tmp_path)
    assert res.exit_code == 2
    assert "is a folder" in res.stderr and "genrekit batch classify" in res.stderr


def test_scan_flat_folder_hint(tmp_path):
    for i in range(3):
        _wav(tmp_path / f"song{i}.wav", seconds=1.0)
    res = invoke("scan", tmp_path)
    assert "no genre folders" in res.stderr and "one folder per genre" in res.stderr
    (tmp_path / "rock").mkdir()
    _wav(tmp_path / "rock" / "r.wav", seconds=1.0)
    assert "no genre folders" not in invoke("scan", tmp_path).stderr


# -------------------------------------------------------------------------------------------- help
def _commands():
    def walk(cmd, path):
        if getattr(cmd, "commands", None):
            yield path, cmd
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, cmd

    return list(walk(typer.main.get_command(app), []))


def test_help_reads_like_a_command_line():
    for path, cmd in _commands():
        res = invoke(*path, "--help")
        assert res.exit_code == 0, (path, res.output)
        text = res.stdout
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage
        for bad in ("<bool>", "<list", "<str>", "<path>", "<int", "``"):
            assert bad not in text, (path, bad)
        for p in cmd.params:
            if p.param_type_name == "option" and not p.hidden:
                assert (p.help or "").strip(), (path, p.opts)
    usage = invoke("classify", "--help").stdout
    assert "genrekit classify [OPTIONS] FILES..." in usage
    assert "genrekit robustness [OPTIONS] MODEL_DIR... DATA" in invoke("robustness", "--help").stdout


def test_train_help_lists_choices_in_a_wide_column():
    text = invoke("train", "--help").stdout
    flat = " ".join(text.replace("│", " ").split())
    assert "musicnn-finetune" in flat and "logmel" in flat and "handcrafted" in flat
    row = next(line for line in text.splitlines() if "--model " in line)
    assert row.index("Model family") < 48  # the help column is not squeezed to ~20 characters


def test_plain_help_drops_rest_markup_and_joins_lines():
    assert plain_help("Mean vector (``features``)\nand ``n_segments``.\n\nNext.") == (
        "Mean vector (features) and n_segments.\n\nNext."
    )


# --------------------------------------------------------------------------- features by model family
def test_model_family_picks_its_features(monkeypatch, tmp_path):
    import genrekit.training as training
    from genrekit.models.registry import default_features

    assert default_features("cnn") == "logmel" and default_features("musicnn-finetune") == "musicnn-mel"
    assert default_features("svm") == "handcrafted"
    seen = {}

    def fake_train(data, config, **kw):
        seen.update(config.to_dict())
        raise SystemExit(0)

    monkeypatch.setattr(training, "train", fake_train)
    invoke("train", tmp_path, "--out", tmp_path / "m", "--model", "cnn")
    assert seen["features"] == "logmel"
    invoke("train", tmp_path, "--out", tmp_path / "m", "--model", "cnn", "--features", "mfcc")
    assert seen["features"] == "mfcc"
    res = invoke("compare", tmp_path, "--report", tmp_path / "r", "--models", "svm,cnn")
    assert res.exit_code == 2 and "--features" in res.output and "cnn: logmel" in res.output
