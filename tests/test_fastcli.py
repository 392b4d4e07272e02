"""The lean entry point: ``heads`` and ``check`` without click, same output as through click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_fixture

from migfix import cli, fastcli

SRC = Path(__file__).resolve().parents[1] / "src"

ARGVS = [
    ["heads"],
    ["heads", "--json"],
    ["heads", "-v"],
    ["heads", "--verbose", "--json"],
    ["check"],
    ["check", "--strict"],
    ["check", "--format", "json"],
    ["check", "--format=github", "--deep"],
    ["check", "-c", "alembic.ini", "-n", "alembic"],
    ["check", "--versions", "migrations/versions"],
    ["heads", "--versions=migrations/versions", "--recursive"],
]


@pytest.mark.parametrize("fixture", ["two_heads", "faults", "labels"])
def test_same_output_and_exit_code_as_through_click(
    fixture: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_fixture(fixture, tmp_path)
    monkeypatch.chdir(root)
    for argv in ARGVS:
        if "alembic.ini" in argv and not (root / "alembic.ini").exists():
            continue
        assert fastcli._parse(argv) is not None, argv
        capsys.readouterr()
        fast_code = fastcli.main(argv)
        fast = capsys.readouterr()
        click_code = cli.main(argv)
        slow = capsys.readouterr()
        assert (fast_code, fast.out, fast.err) == (click_code, slow.out, slow.err), argv


def test_anything_else_goes_to_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_fixture("two_heads", tmp_path)
    monkeypatch.chdir(root)
    for argv in (
        ["heads", "--bogus"],
        ["check", "--format", "xml"],
        ["heads", "extra"],
        ["graph"],
        ["--help"],
        ["check", "--versions", "alembic.ini"],
        [],
    ):
        assert fastcli._parse(argv) is None, argv
    capsys.readouterr()
    assert fastcli.main(["check", "--format", "xml"]) == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err


def test_heads_and_check_never_import_click(tmp_path: Path) -> None:
    root = copy_fixture("two_heads", tmp_path)
    code = (
        "import sys\nfrom migfix.fastcli import main\nrc = main(sys.argv[1:])\n"
        "print('click' in sys.modules, rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for argv in (["heads"], ["check", "--format", "json"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.stdout.splitlines()[-1] == "False 1", proc.stderr


def test_several_projects_below_print_as_through_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No project at or above here, two below (a monorepo): discovery's output, unchanged."""
    import shutil

    root = tmp_path / "mono"
    root.mkdir()
    shutil.copytree(copy_fixture("two_heads", tmp_path), root / "api")
    shutil.copytree(copy_fixture("typed", tmp_path), root / "billing")
    monkeypatch.chdir(root)
    for argv in (["heads"], ["check"], ["check", "--format", "json"]):
        capsys.readouterr()
        fast_code = fastcli.main(argv)
        fast = capsys.readouterr()
        click_code = cli.main(argv)
        slow = capsys.readouterr()
        assert "api" in fast.out
        assert (fast_code, fast.out, fast.err) == (click_code, slow.out, slow.err), argv


def _exit_now(script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )


def test_the_quick_exit_flushes_the_streams_and_runs_atexit_handlers() -> None:
    """Piped stdout is block-buffered: without the flush the report would be lost."""
    proc = _exit_now(
        "import atexit, sys\nfrom migfix.procexit import exit_now\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "print('report', end=' ')\nsys.stderr.write('notice')\nexit_now(3)\n"
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "report handler ran\n", "notice")


def test_the_quick_exit_waits_for_a_running_thread() -> None:
    proc = _exit_now(
        "import threading, time\nfrom migfix.procexit import exit_now\n"
        "def late():\n    time.sleep(0.3)\n    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\nexit_now(0)\n"
    )
    assert (proc.returncode, proc.stdout) == (0, "thread done\n")


def test_the_console_script_reports_through_a_pipe(tmp_path: Path) -> None:
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


def test_the_command_word_is_found_after_global_options() -> None:
    assert fastcli._command(["merge"]) == "merge"
    assert fastcli._command(["-c", "merge", "heads"]) == "heads"
    assert fastcli._command(["--config", "a.ini", "-d", "api", "merge", "-m", "x"]) == "merge"
    assert fastcli._command(["--all", "merge"]) == "merge"
    assert fastcli._command(["-c"]) is None


GC_AT_EXIT = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print('GC', gc.isenabled()))\n"
    "sys.argv = ['migfix', *sys.argv[1:]]\n"
    "from migfix.fastcli import run\nrun()\n"
)


@pytest.mark.parametrize(("argv", "collecting"), [(["heads"], False), (["verify"], True)])
def test_the_collector_is_off_for_migfixs_work_and_on_for_the_projects_code(
    tmp_path: Path, argv: list[str], collecting: bool
) -> None:
    """Reading thousands of revisions with the collector on costs ~10% of a run; running
    the project's migrations (verify, db) with it off could hold their garbage."""
    root = copy_fixture("plain", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-c", GC_AT_EXIT, *argv],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"GC {collecting}"
