"""The structured report and its one renderer to Markdown and HTML (markdown-it-py)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from genrekit.metrics import wilson_interval
from genrekit.render import (
    Figures,
    Markdown,
    Paragraph,
    Report,
    Section,
    Table,
    fmt_accuracy,
    fmt_value,
    md_inline,
    plot_history,
    render_html,
    render_markdown,
    write_rendered,
)


def _assert_rendered(page: str) -> list[str]:
    """No Markdown table or image syntax left; every <img> a data: URI. Returns the <h2> texts."""
    assert "|---" not in page and "![" not in page
    srcs = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert page.count("<img") == len(srcs)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    return [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", page)]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a_b *c* [d](e)", "a_b *c* [d](e)"),
        ("<script>x</script> & |", "&lt;script&gt;x&lt;/script&gt; &amp; |"),
        ("- not a list", "- not a list"),
        ("1. not a list", "1. not a list"),
        ("# not a heading", "# not a heading"),
        ("-20 dB", "-20 dB"),
        ("two\nlines", "two lines"),
    ],
)
def test_md_inline_text_is_shown_as_typed(text, shown):
    page = render_html(Report("t", [Section("s", [Paragraph(text)])]), ".")
    assert f"<p>{shown}</p>" in page
    assert f"| {md_inline(text)} |" in render_markdown(Report("t", [Section("s", [Table(["h"], [[text]])])]))


def test_one_structure_renders_to_both_formats(tmp_path):
    plot_history({"loss": [1.0, 0.5]}, tmp_path / "h.png")
    report = Report(
        "Title <1>",
        [
            Section("Numbers", [Table(["name", "value | x"], [["a|b", "1.5"], ["<i>c</i>", "2"]])]),
            Section("Pictures", [Figures([("loss curve", "h.png")])], level=3),
            Section("Code", [Markdown("```\nkept   as is\n```"), Paragraph("careful", note=True)]),
        ],
    )
    md_path, html_path = write_rendered(report, tmp_path, "r")
    md, page = md_path.read_text(), html_path.read_text()
    assert md.startswith("# Title \\<1\\>\n") and "| a\\|b | 1.5 |" in md and "![loss curve](h.png)" in md
    assert md == render_markdown(report)
    _assert_rendered(page)
    assert "<td>a|b</td>" in page and "<td>&lt;i&gt;c&lt;/i&gt;</td>" in page and "<i>" not in page
    assert "<th>value | x</th>" in page and "<h3>Pictures</h3>" in page
    assert "<pre><code>kept   as is\n</code></pre>" in page
    assert '<blockquote class="note">' in page and "<title>Title &lt;1&gt;</title>" in page


def test_figures_outside_the_folder_or_missing_are_not_embedded(tmp_path):
    (tmp_path / "sub").mkdir()
    plot_history({"loss": [1.0, 0.5]}, tmp_path / "h.png")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not embed")
    report = Report(
        "t",
        [
            Section(
                "figs",
                [
                    Figures([("up", "../secret.txt"), ("gone", "missing.png"), ("ok", "h.png")]),
                    Markdown("![up](../h.png) ![abs](/etc/passwd)"),
                ],
            )
        ],
    )
    page = render_html(report, tmp_path / "sub")
    assert "missing figure: ../secret.txt" in page and "missing figure: missing.png" in page
    assert "do not embed" not in page and "/etc/passwd" not in page
    assert page.count("<img") == 0  # h.png is in the parent folder: not this report's
    assert "[up]" in page and "[abs]" in page


def test_fmt_value_and_accuracy():
    assert fmt_value({"name": "handcrafted", "config": {"sr": 22050, "segment_s": 3.0}}) == (
        "handcrafted (sr 22050, segment_s 3)"
    )
    assert fmt_value({"blues": 10, "jazz": 8}) == "blues 10, jazz 8"
    assert fmt_value([1, 2.5, True]) == "[1, 2.5, yes]"
    assert fmt_value(float("nan")) == "n/a" and fmt_value(0.125) == "0.125"
    lo, hi = wilson_interval(8, 8)
    assert 0.6 < lo < 0.7 and hi == 1.0
    assert fmt_accuracy(1.0, 8) == f"1.0000 (95% CI {lo:.2f}-1.00, n=8)"
    assert fmt_accuracy(0.5, 20, with_n=False).endswith("0.30-0.70)")
    assert fmt_accuracy(None, 3) == "n/a (n=3)"
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)


def test_demo_like_compare_report_renders(tiny_corpus, tmp_path):
    """What ``make demo`` writes: compare() with its calibration section, the dataset facts and models."""
    from genrekit.training import compare

    res = compare(
        tiny_corpus,
        features="handcrafted",
        models=["knn", "logreg"],
        report=tmp_path / "r",
        cache_dir=tmp_path / "cache",
    )
    page = (res.report / "report.html").read_text(encoding="utf-8")
    headings = _assert_rendered(page)
    assert "Calibration (track level)" in headings
    assert page.count("<img") == 1 + 4 * 2 + 2  # comparison, 4 per model, 2 reliability diagrams
    ranked = sorted(res.runs, key=lambda r: (-r.result.track.accuracy, -r.result.track.macro_f1))
    positions = [headings.index(r.name) for r in ranked]
    assert positions == sorted(positions)  # model sections best first
    dataset = page.split("<h2>Dataset</h2>")[1].split("<h2>")[0]
    assert "{" not in dataset and "handcrafted (" in dataset
    md = (res.report / "report.md").read_text(encoding="utf-8")
    assert md.count("| parameters |") == 2 and "| params |" not in md and "null" not in md
    n = res.runs[0].result.n_tracks
    assert f"n={n})" in page and "95% CI" in page
    assert np.isfinite(res.runs[0].result.track.accuracy)
