"""Every snippet of the README's quick tour runs: Python blocks in one namespace, shell lines
through the command line in-process (``torchrun`` lines as a subprocess), in an empty folder:
the tour needs nothing but the repository (its data is the ``embedded`` dataset)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from inception_v4.cli import main

REPO = Path(__file__).resolve().parents[1]


def tour_blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block between "## Quick tour" and the next "## "."""
    text = (REPO / "README.md").read_text()
    tour = text.split("## Quick tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(python|sh)\n(.*?)```", tour, flags=re.S)


def shell_lines(code: str) -> list[str]:
    joined = code.replace("\\\n", " ")
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]


def run_line(line: str) -> None:
    argv = shlex.split(line.split(" #", 1)[0])
    if argv[0] == "inception-v4":
        assert main(argv[1:]) == 0, line
    elif argv[0] == "torchrun":
        torchrun = Path(sys.executable).with_name("torchrun")
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run([str(torchrun), *argv[1:]], check=True, env=env, timeout=300)
    else:
        raise AssertionError(f"README tour line the test cannot run: {line}")


def test_readme_quick_tour_needs_only_the_repository() -> None:
    """No path outside the checkout: a reader has only the repository."""
    for _, code in tour_blocks():
        assert "../" not in code, code


def test_readme_quick_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    blocks = tour_blocks()
    assert blocks, "README has no quick-tour snippets"
    for lang, code in blocks:
        if lang == "python":
            exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
        else:
            for line in shell_lines(code):
                run_line(line)
