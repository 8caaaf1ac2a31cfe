from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from genrekit.cli import app
from genrekit.cli.groups import OptionGroup, option_groups
from genrekit.cli.help import App

runner = CliRunner()

LevelOpt = Annotated[int, typer.Option(min=1, max=5, help="Level, 1-5.")]
ModeOpt = Annotated[str, typer.Option("--mode", "-m", help="Mode.")]
FlagOpt = Annotated[bool, typer.Option("--loud/--quiet", help="Loudness.")]


@dataclass(frozen=True)
class Knobs(OptionGroup):
    level: LevelOpt = 2
    mode: ModeOpt = "fast"
    loud: FlagOpt = False


@dataclass(frozen=True)
class Factory(OptionGroup):
    items: list = field(default_factory=list)


def _app(seen: list) -> typer.Typer:
    """A one-command app whose command records what it was called with."""
    demo = App()

    @demo.command()
    @option_groups
    def run(
        name: Annotated[str, typer.Argument(help="A name.")],
        knobs: Knobs = Knobs(),
        after: Annotated[int, typer.Option(help="After the group.")] = 0,
    ) -> None:
        """Run."""
        seen.append((name, knobs, after))

    @demo.command()
    def other() -> None:
        """Another command, so that ``run`` stays a sub-command."""

    return demo


def test_group_options_reach_the_command_as_one_object():
    seen: list = []
    res = runner.invoke(_app(seen), ["run", "x", "--level", "4", "-m", "slow", "--loud", "--after", "7"])
    assert res.exit_code == 0, res.output
    assert seen == [("x", Knobs(level=4, mode="slow", loud=True), 7)]
    seen.clear()
    res = runner.invoke(_app(seen), ["run", "y"])
    assert res.exit_code == 0, res.output
    assert seen == [("y", Knobs(), 0)]


def test_group_options_stand_in_help_where_the_group_stands():
    res = runner.invoke(_app([]), ["run", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert res.exit_code == 0
    order = [res.output.index(o) for o in ("--level", "--mode", "--loud", "--after")]
    assert order == sorted(order)
    assert "Level, 1-5." in res.output and "-m" in res.output and "[default: fast]" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "9"], "--level"),  # typer's range check (max=5)
        (["--level", "two"], "--level"),  # typer's type check
        (["--volume", "3"], "--volume"),  # no such option
    ],
)
def test_bad_group_values_get_typers_usage_error(args, message):
    seen: list = []
    res = runner.invoke(_app(seen), ["run", "x", *args])
    assert res.exit_code == 2 and message in res.output
    assert seen == []


def test_a_name_twice_or_no_group_is_refused_at_declaration():
    def clash(level: int = 0, knobs: Knobs = Knobs()) -> None: ...

    with pytest.raises(TypeError, match="level"):
        option_groups(clash)

    def plain(level: int = 0) -> None: ...

    with pytest.raises(TypeError, match="no option group"):
        option_groups(plain)

    def takes(f: Factory = Factory()) -> None: ...

    with pytest.raises(TypeError, match="factory"):
        option_groups(takes)


def test_genrekit_groups_build_the_library_arguments(monkeypatch, tmp_path):
    """``batch classify`` hands the engine options to the library as before the groups."""
    import genrekit.batch

    calls: list = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(genrekit.batch, "classify_batch", fake)
    args = ["batch", "classify", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "3"]
    args += ["--chunk-size", "8", "--extensions", "wav,.mp3", "--crop-s", "5", "--no-progress"]
    runner.invoke(app, args)
    (_, out), kw = calls[0]
    assert out == tmp_path / "o"
    assert kw == {
        "model": None,
        "top_k": 3,
        "crop_s": 5.0,
        "min_confidence": None,
        "workers": 3,
        "scheduler": None,
        "dask_local": None,
        "chunk_size": 8,
        "max_in_flight": None,
        "retry_errors": False,
        "progress": False,
        "extensions": [".wav", ".mp3"],
    }


def test_serve_limits_reach_the_app_or_the_workers_environment(monkeypatch):
    """One worker: ``create_app`` gets the limits; several: the environment each worker reads."""
    import os
    import types

    import uvicorn

    import genrekit.cli.serve as serve_cli
    import genrekit.service.app as service_app

    served = types.SimpleNamespace(name="m", input="audio", labels=["a", "b"])
    monkeypatch.setattr(serve_cli, "check_served_model", lambda load, model: served)
    made: list = []
    monkeypatch.setattr(service_app, "create_app", lambda model, **kw: made.append((model, kw)) or "app")
    runs: list = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: runs.append((target, kw)))
    names = [f"GENREKIT_MAX_{n}" for n in ("UPLOAD_MB", "IN_FLIGHT", "QUEUE", "DURATION_S")]
    for name in (*names, "GENREKIT_MODEL"):
        monkeypatch.setenv(name, "unset")  # restored after the test

    res = runner.invoke(app, ["serve", "--max-queue", "5", "--max-upload-mb", "2.5"])
    assert res.exit_code == 0, res.output
    limits = {"max_upload_mb": 2.5, "max_in_flight": 2, "max_queue": 5, "max_duration_s": 1800.0}
    assert made == [(served, limits)] and runs[0][0] == "app"

    res = runner.invoke(app, ["serve", "--workers", "2", "--max-in-flight", "3", "--model", "gtzan"])
    assert res.exit_code == 0, res.output
    assert [os.environ[n] for n in names] == ["50.0", "3", "64", "1800.0"]
    assert os.environ["GENREKIT_MODEL"] == "gtzan"
    assert runs[1][0] == "genrekit.service.app:create_app_from_env" and runs[1][1]["workers"] == 2

    res = runner.invoke(app, ["serve", "--max-queue", "-1"])
    assert res.exit_code == 2 and "--max-queue" in res.output  # typer's range check (min=0), as before


def test_tabular_reading_group_reaches_load_table_parsed(monkeypatch, tmp_path):
    import genrekit.tabular
    from genrekit.errors import DatasetError

    calls: list = []

    def fake(table, **kwargs):
        calls.append((table, kwargs))
        raise DatasetError("stop here")

    monkeypatch.setattr(genrekit.tabular, "load_table", fake)
    args = ["tabular", "clean", "t.csv", "-l", "genre", "--exclude", "year, key", "--artist-column", "none"]
    args += ["--label-map", str(tmp_path / "map.json"), "--duplicates", "drop", "--min-label-count", "5"]
    res = runner.invoke(app, args)
    assert res.exit_code == 4 and "stop here" in res.output
    assert calls == [
        (
            Path("t.csv"),
            {
                "label": "genre",
                "features": None,
                "exclude": ("year", "key"),
                "id_column": "auto",
                "artist_column": None,
                "label_map": str(tmp_path / "map.json"),
                "duplicates": "drop",
                "min_label_count": 5,
            },
        )
    ]
    res = runner.invoke(app, ["tabular", "clean", "t.csv", "-l", "g", "--min-label-count", "many"])
    assert res.exit_code == 2 and "--min-label-count" in res.output and len(calls) == 1
