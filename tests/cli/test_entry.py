"""The ``migfix`` console script and ``python -m migfix``: click's command line in its own
process, then the quick exit (migfix.procexit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_fixture
from projutil import SRC


@pytest.mark.slow
def test_the_console_script_reports_through_a_pipe(tmp_path: Path) -> None:
    """Piped stdout is block-buffered: the quick exit must flush it."""
    root = copy_fixture("two_heads", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for argv in (["heads"], ["merge", "--dry-run"]):
        proc = subprocess.run(
            [sys.executable, "-m", "migfix", *argv],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1 and proc.stdout.strip(), (argv, proc.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["heads"], ["check"], ["merge", "--dry-run"]])
def test_no_stdout_at_all_is_no_crash(tmp_path: Path, argv: list[str]) -> None:
    """Started with stdout closed (`migfix heads >&-`), Python has no sys.stdout: the
    report goes nowhere, as click.echo does, and the exit code is the usual one."""
    root = copy_fixture("two_heads", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-m", "migfix", *argv],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`migfix heads | head -1`: the reader had all it wanted; no error, no traceback."""
    root = copy_fixture("two_heads", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        f"{sys.executable} -m migfix heads -v | head -c 1",
        shell=True,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stderr == ""
