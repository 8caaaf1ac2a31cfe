"""``genrekit models``: ``--verbose`` reports the musicnn kernels and precision chosen on this machine."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genrekit.cli import app
from genrekit.features.musicnn import kernels

CHOSEN = {"timbral.0": "onednn_cl", "temporal.0": "onednn_cl"}


@pytest.fixture
def forced(monkeypatch):
    """A deterministic choice: the family forced, float32, the blocks as if a model had loaded."""
    monkeypatch.setenv("GENREKIT_MUSICNN_KERNEL", "onednn_cl")
    monkeypatch.delenv("GENREKIT_MUSICNN_PRECISION", raising=False)
    monkeypatch.setitem(kernels._CHOSEN, "float32", dict(CHOSEN))
    monkeypatch.setitem(kernels._SOURCE, "float32", "forced")


def test_models_verbose_shows_the_kernels_precision_and_machine(forced):
    res = CliRunner().invoke(app, ["models", "--verbose"], env={"COLUMNS": "300", "TERM": "dumb"})
    assert res.exit_code == 0, res.output
    info = kernels.kernel_info()
    tail = res.stdout[res.stdout.index("musicnn on this machine") :]
    assert "precision    float32" in tail
    assert "kernels      timbral.0 onednn_cl, temporal.0 onednn_cl (forced, forced onednn_cl)" in tail
    assert f"CPU          {info['cpu']}" in tail and f"{info['threads']} threads" in tail
    assert f"torch        {info['torch']}" in tail and info["cache"] in tail
    plain = CliRunner().invoke(app, ["models"], env={"COLUMNS": "300", "TERM": "dumb"})
    assert plain.exit_code == 0 and "musicnn on this machine" not in plain.stdout
    group = CliRunner().invoke(app, ["-v", "models"], env={"COLUMNS": "300", "TERM": "dumb"})
    assert group.exit_code == 0 and "musicnn on this machine" in group.stdout  # genrekit -v models too


def test_models_json_verbose_adds_the_kernel_info(forced):
    res = CliRunner().invoke(app, ["models", "--json", "-v"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [m["name"] for m in out["models"]][:2] == ["gtzan", "musicnn"]
    m = out["musicnn"]
    assert m["precision"] == "float32" and m["kernel_setting"] == "onednn_cl"
    assert m["kernels"] == CHOSEN and m["source"] == "forced"
    assert m == json.loads(json.dumps(kernels.kernel_info()))
    listed = json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)
    assert isinstance(listed, list) and listed == out["models"]  # without -v: the plain list, as before
