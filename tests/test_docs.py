"""The command lines shown in README.md and docs/*.md name real subcommands and options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrekit.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
runner = CliRunner()


def _command_lines(path: Path) -> list[str]:
    """``genrekit ...`` lines of the fenced bash/sh/console blocks, comments and continuations joined."""
    out: list[str] = []
    in_block, pending = False, ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_block = not in_block and line[3:].strip() in ("", "bash", "sh", "console", "shell")
            pending = ""
            continue
        if not in_block:
            continue
        line = pending + re.sub(r"\s+#.*$", "", line).removeprefix("$ ")
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.startswith("genrekit "):
            out.append(line)
    return out


CASES = [(p.relative_to(ROOT).as_posix(), line) for p in DOCS for line in _command_lines(p)]


def _help(path: list[str]) -> str:
    res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert res.exit_code == 0, f"genrekit {' '.join(path)} --help failed:\n{res.output}"
    return res.output


def test_the_docs_show_commands():
    files = {f for f, _ in CASES}
    assert "README.md" in files and "docs/tabular.md" in files
    assert len(CASES) >= 20


@pytest.mark.parametrize("doc, line", CASES, ids=[f"{f}:{i}" for i, (f, _) in enumerate(CASES)])
def test_documented_command_exists_with_its_options(doc, line):
    words = shlex.split(line.split("|")[0])[1:]
    path: list[str] = []
    text = _help([])
    while words and not words[0].startswith("-") and re.search(rf"^\W*{re.escape(words[0])}\s", text, re.M):
        path.append(words.pop(0))
        text = _help(path)
    assert path, f"{doc}: {line!r} names no genrekit subcommand"
    options = {w.split("=")[0] for w in words if w.startswith("--")}
    unknown = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text))
    assert not unknown, f"{doc}: `genrekit {' '.join(path)}` has no option(s) {unknown} (line: {line})"
