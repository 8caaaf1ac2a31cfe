from __future__ import annotations

import base64
import html
import json
import re
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from genrekit.errors import ConfigError, GenreKitError
from genrekit.metrics import (
    HEADLINE_METRICS,
    Metrics,
    ModelRun,
    comparison_table,
    evaluate_predictions,
    wilson_interval,
)
from genrekit.render import plot_comparison, plot_history, plot_matrix, plot_per_class, sanitize_name
from genrekit.report import write_report

CLASSES = ("blues", "jazz", "rock")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "loss": [1.0, 0.7, 0.5],
    "val_loss": [1.1, 0.9, 0.8],
    "acc": [0.4, 0.6, 0.7],
    "val_acc": [0.3, 0.5, 0.6],
}


def _run(name: str, seed: int, strength: float) -> ModelRun:
    rng = np.random.default_rng(seed)
    n_tracks, n_seg = 12, 3
    y_track = np.arange(n_tracks) % 3
    y = np.repeat(y_track, n_seg)
    logits = rng.normal(size=(y.size, 3))
    logits[np.arange(y.size), y] += strength
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    groups = np.repeat([f"track{i}" for i in range(n_tracks)], n_seg)
    res = evaluate_predictions(np.asarray(CLASSES)[y], proba, groups, CLASSES)
    return ModelRun(name, res, fit_time_s=0.5, predict_time_s=0.12, n_params=42, extra={"C": 1.0})


@pytest.fixture(scope="module")
def runs() -> list[ModelRun]:
    return [_run("<b>svm & co</b>", 1, 1.5), _run("knn/5", 2, 0.5)]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, runs) -> Path:
    out = tmp_path_factory.mktemp("rep") / "nested" / "report"
    result = write_report(
        out,
        runs,
        title="Test <report>",
        dataset_info={"name": "synthetic", "tracks": np.int64(12)},
        extra_sections=[("Notes", "a <script>alert(1)</script> note")],
        history={"knn/5": HISTORY},
    )
    assert result == out
    return out


def _read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return mpimg.imread(path)


def test_sanitize_name():
    assert sanitize_name("<b>svm & co</b>") == "b_svm_co_b"
    assert sanitize_name("knn/5") == "knn_5"
    assert sanitize_name("../..") == "model"
    assert sanitize_name("xgb-1.0_fast") == "xgb-1.0_fast"


def test_report_writes_all_files(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    expected = {"report.md", "report.html", "metrics.json", "comparison.png", "history_knn_5.png"}
    for stem in ("b_svm_co_b", "knn_5"):
        expected |= {f"{kind}_{stem}.png" for kind in ("confusion", "recall", "precision", "per_class")}
    assert names == expected


def test_pngs_are_valid_images_of_sensible_size(report_dir):
    for path in report_dir.glob("*.png"):
        img = _read_png(path)
        h, w = img.shape[:2]
        assert img.ndim == 3 and img.shape[2] in (3, 4)
        assert 250 <= h <= 2000 and 250 <= w <= 2500, (path.name, img.shape)
        assert img[..., :3].std() > 0.05  # not a blank canvas


def test_metrics_json_round_trips_the_numbers(report_dir, runs):
    data = json.loads((report_dir / "metrics.json").read_text(encoding="utf-8"))
    assert data["title"] == "Test <report>" and data["dataset_info"] == {"name": "synthetic", "tracks": 12}
    assert [r["name"] for r in data["runs"]] == [r.name for r in runs]
    for saved, run in zip(data["runs"], runs, strict=True):
        for level in ("track", "segment"):
            back = Metrics.from_dict(saved[level])
            original = getattr(run.result, level)
            for name in HEADLINE_METRICS:
                assert getattr(back, name) == getattr(original, name)
            np.testing.assert_array_equal(back.confusion, original.confusion)
            np.testing.assert_array_equal(back.precision_matrix, original.precision_matrix)
        assert saved["n_params"] == 42 and saved["predict_time_per_track_s"] == pytest.approx(0.01)
    table = comparison_table(runs)
    assert [row["model"] for row in data["comparison"]] == table["model"].tolist()
    assert data["comparison"][0]["track_macro_f1"] == table.loc[0, "track_macro_f1"]


def test_html_is_self_contained_and_escaped(report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 10  # 2 runs x (confusion, recall, precision, per-class) + comparison + history
    assert all(base64.b64decode(u)[:8] == PNG_SIGNATURE for u in uris)
    assert '.png"' not in page  # no link to an external image file
    assert "&lt;b&gt;svm &amp; co&lt;/b&gt;" in page and "<b>svm" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "<title>Test &lt;report&gt;</title>" in page


def test_markdown_has_tables_and_linked_images(report_dir, runs):
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Test \\<report\\>")  # Markdown-escaped: shown as typed, never markup
    assert "| model | accuracy (95% CI, n tracks) |" in md
    for name in ("confusion_b_svm_co_b.png", "recall_knn_5.png", "comparison.png", "history_knn_5.png"):
        assert f"]({name})" in md
    best = comparison_table(runs).loc[0]
    assert f"{best['track_macro_f1']:.4f}" in md
    assert "## \\<b\\>svm \\& co\\</b\\>" in md  # no raw HTML from model names
    assert "a <script>alert(1)</script> note" in md  # extra sections are Markdown, passed through


def test_single_run_without_comparison_plot(tmp_path, runs):
    out = write_report(tmp_path / "one", runs[0])
    names = {p.name for p in out.iterdir()}
    assert "comparison.png" not in names and "report.html" in names and "confusion_b_svm_co_b.png" in names
    assert len(json.loads((out / "metrics.json").read_text())["runs"]) == 1


def test_duplicate_names_get_distinct_files(tmp_path, runs):
    out = write_report(tmp_path / "dup", [runs[1], ModelRun("knn/5", runs[0].result)])
    assert (out / "confusion_knn_5.png").exists() and (out / "confusion_knn_5_2.png").exists()


def test_unwritable_location_names_it(tmp_path, runs):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    target = blocker / "report"
    with pytest.raises(GenreKitError) as err:
        write_report(target, runs[0])
    assert str(target) in str(err.value)
    with pytest.raises(ConfigError):
        write_report(tmp_path / "empty", [])


def test_plot_matrix_many_classes(tmp_path):
    n = 25
    rng = np.random.default_rng(0)
    counts = np.diag(np.full(n, 20)) + (rng.random((n, n)) < 0.08) * rng.integers(1, 5, size=(n, n))
    classes = [f"genre_{i:02d}" for i in range(n)]
    path = plot_matrix(counts, classes, title="confusion", fmt="d", path=tmp_path / "m.png")
    h, w = _read_png(path).shape[:2]
    assert 800 <= h <= 1600 and 800 <= w <= 1800
    rates = counts / counts.sum(axis=1, keepdims=True)
    assert (
        _read_png(plot_matrix(rates, classes, title="recall", fmt=".2f", path=tmp_path / "r.png")).shape[0]
        == h
    )
    with pytest.raises(ConfigError, match="square"):
        plot_matrix(counts[:3], classes, title="bad", fmt="d", path=tmp_path / "bad.png")


def test_plot_comparison_per_class_and_history(tmp_path, runs):
    table = comparison_table(runs)
    table.loc[1, "track_roc_auc"] = np.nan  # undefined metric: a gap, not an error
    assert _read_png(plot_comparison(table, tmp_path / "c.png")).shape[1] >= 600
    assert _read_png(plot_per_class(runs[0].result.track, tmp_path / "p.png")).shape[0] >= 250
    img = _read_png(plot_history(HISTORY, tmp_path / "h.png"))
    assert img.shape[1] > img.shape[0]  # two panels side by side
    with pytest.raises(ConfigError, match="at least one"):
        plot_history({"loss": []}, tmp_path / "none.png")


def test_plotting_leaves_no_pyplot_state(tmp_path):
    pyplot = sys.modules.get("matplotlib.pyplot")  # another test module may have imported it
    open_before = pyplot.get_fignums() if pyplot is not None else None
    plot_history({"loss": [1.0, 0.5]}, tmp_path / "h.png")
    plot_matrix(np.eye(3, dtype=int), CLASSES, title="m", fmt="d", path=tmp_path / "m.png")
    if pyplot is None:
        assert "matplotlib.pyplot" not in sys.modules  # no backend selected, no figure manager
    else:
        assert pyplot.get_fignums() == open_before  # nothing registered, nothing left open


# ------------------------------------------------------------------ rendered reports: no raw Markdown


def _assert_rendered(page: str) -> list[str]:
    """No Markdown table or image syntax left in the HTML; every picture embedded. Returns the <h2>s."""
    assert "|---" not in page and "![" not in page
    srcs = re.findall(r"<img [^>]*src=\"([^\"]*)\"", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert page.count("<img") == len(srcs)
    return [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", page)]


def test_html_report_renders_every_section_and_orders_models_best_first(report_dir, runs):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    headings = _assert_rendered(page)
    best, worst = sorted(runs, key=lambda r: -r.result.track.accuracy)
    assert best.result.track.accuracy > worst.result.track.accuracy
    assert headings.index(best.name) < headings.index(worst.name)
    assert "<table>" in page and page.count("<table>") >= 2 + 3 * len(runs)
    # every track accuracy with its Wilson interval and the test count
    lo, hi = wilson_interval(best.result.track.accuracy * 12, 12)
    assert f"{best.result.track.accuracy:.4f} (95% CI {lo:.2f}-{hi:.2f}, n=12)" in page
    # the Notes extra section is Markdown rendered to HTML, raw HTML escaped
    assert "<p>a &lt;script&gt;alert(1)&lt;/script&gt; note</p>" in page


def test_dataset_and_parameters_read_as_text(tmp_path, runs):
    fitted = ModelRun(
        "svm",
        runs[0].result,
        fit_time_s=1.0,
        extra={"params": {"C": 10.0, "gamma": "scale"}, "search": None},
    )
    info = {
        "features": {"name": "handcrafted", "config": {"sr": 22050, "segment_s": 3.0}},
        "genres": {"blues": 4, "jazz": 4, "rock": 4},
    }
    out = write_report(tmp_path / "r", [fitted, ModelRun("knn", runs[1].result)], dataset_info=info)
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    _assert_rendered(page)
    assert "handcrafted (sr 22050, segment\\_s 3)" in md and "blues 4, jazz 4, rock 4" in md
    assert "{" not in md.split("## Comparison")[0]  # no Python dicts in the Dataset table
    assert "| parameters | C=10, gamma=scale |" in md and "| parameters | defaults |" in md
    assert md.count("| parameters |") == 2 and "params" not in md and "null" not in md


def test_rank_runs_is_best_accuracy_then_macro_f1(runs):
    from genrekit.report import rank_runs

    twin = ModelRun("twin", runs[1].result)
    ranked = rank_runs([runs[1], runs[0], twin])
    assert ranked[0] is runs[0] and [r.name for r in ranked[1:]] == ["knn/5", "twin"]  # stable on ties


def test_evaluate_report_with_calibration_and_importance_renders(tmp_path, runs):
    """The sections evaluate --report --importance adds: HTML tables and embedded pictures."""
    import pandas as pd

    from genrekit.calibration import calibration_section
    from genrekit.explain import importance_section

    rng = np.random.default_rng(3)
    n_tracks, n_seg = 12, 3
    y = np.repeat(np.arange(n_tracks) % 3, n_seg)
    X = rng.normal(size=(y.size, 4))
    X[:, 0] += 2.0 * y  # the one informative feature
    groups = np.repeat([f"t{i}" for i in range(n_tracks)], n_seg)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=500).fit(X, np.asarray(CLASSES)[y])
    out = tmp_path / "eval"
    section, table = importance_section(
        model, X, np.asarray(CLASSES)[y], groups, ["a_mean", "b_mean", "c", "d"], out, n_repeats=2
    )
    assert isinstance(table, pd.DataFrame) and table.loc[0, "feature"] == "a"
    sections = [calibration_section(runs, out), section]
    write_report(out, runs, title="evaluation", extra_sections=sections)
    page = (out / "report.html").read_text(encoding="utf-8")
    headings = _assert_rendered(page)
    assert "Calibration (track level)" in headings and "Permutation importance: model" in headings
    tail = page.split("<h2>Calibration (track level)</h2>")[1]
    assert tail.count("<table>") == 2  # calibration + importance tables, rendered
    assert tail.count("<img") == len(runs) + 1  # reliability diagrams + importance bars
    assert "95% CI" in tail.split("<h2>Permutation")[0]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "](reliability_" in md and "](importance_model.png)" in md
