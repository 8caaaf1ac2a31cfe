"""The ``genrekit`` program (``app()`` with no arguments) ends without the interpreter's teardown, losing
nothing: output flushed, exit codes kept, ``atexit`` handlers run; ``app(args)`` still raises SystemExit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-c", code, *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


PROGRAM = "import sys; sys.argv[0] = 'genrekit'; from genrekit.cli import app; app()"


def _with_teardown_probe(argv: list[str], extra: str = "") -> str:
    """The program run with ``argv``, plus a module global whose finaliser prints "teardown ran"."""
    return (
        f"import atexit, sys; sys.argv[:] = ['genrekit', *{argv!r}]\n{extra}\n"
        "class Late:\n"
        "    def __del__(self): print('teardown ran')\n"
        "keep = Late()\n" + PROGRAM.split("; ", 1)[1]
    )


def test_program_flushes_its_output_and_keeps_exit_codes():
    res = _run(PROGRAM, "models", "--json")
    assert res.returncode == 0, res.stderr
    assert [m["name"] for m in json.loads(res.stdout)][:2] == ["gtzan", "musicnn"]  # all of it, flushed
    res = _run(PROGRAM, "classify", "--model", "nope", "x.wav")
    assert res.returncode == 2 and "unknown model 'nope'" in res.stderr
    res = _run(PROGRAM, "no-such-command")
    assert res.returncode == 2 and "no-such-command" in res.stderr


def test_program_runs_atexit_handlers_and_ends_without_teardown():
    res = _run(
        _with_teardown_probe(
            ["--version"],
            "atexit.register(lambda: print('atexit ran, gc threshold', __import__('gc').get_threshold()[0]))",
        )
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("genrekit ") and "atexit ran, gc threshold 50000" in res.stdout
    assert "teardown ran" not in res.stdout  # the module teardown was skipped


def test_app_with_arguments_raises_system_exit_as_before(capsys):
    from genrekit.cli import app

    with pytest.raises(SystemExit) as exc:
        app(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("genrekit ")


def test_commands_that_write_files_keep_the_normal_teardown():
    """Only read-only commands skip the teardown: a writer's buffered files must not be lost."""
    from genrekit.cli import FAST_EXIT_COMMANDS, _command

    assert _command(["-v", "classify", "x.mp3"]) == "classify" and _command(["--version"]) is None
    assert {"train", "batch", "serve", "compare", "evaluate"}.isdisjoint(FAST_EXIT_COMMANDS)
    res = _run(_with_teardown_probe(["batch", "--help"]))
    assert res.returncode == 0, res.stderr
    assert "teardown ran" in res.stdout
