"""The lean entry point: ``heads``, ``check`` and ``merge`` without click, same output as
through click."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import SRC, copy_fixture, python
from gitutil import git
from projutil import land, make_team

from migfix.cli import fast as fastcli
from migfix.cli import main as cli

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_heads_and_check_never_import_click(tmp_path: Path) -> None:
    root = copy_fixture("two_heads", tmp_path)
    code = (
        "import sys\nfrom migfix.cli.fast import main\nrc = main(sys.argv[1:])\n"
        "print('click' in sys.modules, rc)\n"
    )
    for argv in (["heads"], ["check", "--format", "json"]):
        proc = python(root, "-c", code, *argv)
        assert proc.stdout.splitlines()[-1] == "False 1", proc.stderr


@pytest.mark.slow
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
    dry_merge = ["merge", "--dry-run", "--rev-id", "ffff0001"]
    for argv in (["heads"], ["check"], ["check", "--format", "json"], dry_merge):
        capsys.readouterr()
        fast_code = fastcli.main(argv)
        fast = capsys.readouterr()
        click_code = cli.main(argv)
        slow = capsys.readouterr()
        assert "api" in fast.out
        fast_out, slow_out = (_CREATE_DATE.sub("<date>", out) for out in (fast.out, slow.out))
        assert (fast_code, fast_out, fast.err) == (click_code, slow_out, slow.err), argv


@pytest.mark.slow
def test_the_console_script_reports_through_a_pipe(tmp_path: Path) -> None:
    root = copy_fixture("two_heads", tmp_path)
    for argv in (["heads"], ["merge", "--dry-run"]):
        proc = python(root, "-m", "migfix", *argv)
        assert proc.returncode == 1 and proc.stdout.strip(), (argv, proc.stderr)


def test_the_command_word_is_found_after_global_options() -> None:
    assert fastcli._command(["merge"]) == "merge"
    assert fastcli._command(["-c", "merge", "heads"]) == "heads"
    assert fastcli._command(["--config", "a.ini", "-d", "api", "merge", "-m", "x"]) == "merge"
    assert fastcli._command(["--all", "merge"]) == "merge"
    assert fastcli._command(["-c"]) is None


# -- merge ---------------------------------------------------------------------------------

MERGE_ARGVS = [
    ["merge", "--dry-run", "--rev-id", "ffff0001"],
    ["merge", "--rev-id=ffff0001", "--dry-run", "--json"],
    ["merge", "--rev-id", "ffff0001"],
    ["merge", "--json", "--rev-id", "ffff0001", "-m", "join them"],
    ["merge", "-mjoin", "--rev-id", "ffff0001", "--branch-label", "joined", "--strict"],
    ["merge", "-m", "--json", "--rev-id", "ffff0001", "--no-repoint"],  # the message is --json
    ["merge", "cccc0002", "--rev-id", "ffff0001", "cccc0003", "--dry-run", "--dry-run"],
    ["merge", "dddd0004", "dddd0003", "--rev-id", "ffff0001", "--branch-label=both"],
    ["merge", "--rev-id", "bad-id"],
    ["merge", "--rev-id", "a" * 300],  # an OSError: the file name is too long
    ["merge", "--dry-run", "--upstream", "main", "--new", "cccc0002", "--new=x", "--rev-id=f1"],
    ["merge", "-c", "alembic.ini", "-n", "alembic", "--rev-id", "ffff0001"],
    ["merge", "--versions", "migrations/versions", "--recursive", "--rev-id", "ffff0001"],
]
_CREATE_DATE = re.compile(r"Create Date: [^\r\n]*")
_CREATE_DATE_BYTES = re.compile(rb"Create Date: [^\r\n]*")


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ROOT but git's own, with merge files' Create Date (the clock) blanked."""
    return {
        p.relative_to(root).as_posix(): _CREATE_DATE_BYTES.sub(b"<date>", p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts and "__pycache__" not in p.parts
    }


def _both_ways(
    argv: list[str],
    make: Callable[[], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[tuple[int, str, str, dict[str, bytes]], ...]:
    """Run ARGV through fastcli, then through click, each on a fresh copy at the same path
    (MAKE makes it): exit code, stdout, stderr and the files afterwards, per path."""
    runs = []
    for main in (fastcli.main, cli.main):
        root = make()
        monkeypatch.chdir(root)
        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
        runs.append((code, _CREATE_DATE.sub("<date>", out), err, _tree(root)))
        monkeypatch.chdir(root.parent)
        shutil.rmtree(root)
    return tuple(runs)


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["two_heads", "labels", "faults", "recursive"])
def test_merge_does_what_it_does_through_click(
    fixture: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    codes = set()
    for argv in MERGE_ARGVS:
        assert fastcli._parse(argv) is not None, argv
        fast, slow = _both_ways(argv, lambda: copy_fixture(fixture, tmp_path), monkeypatch, capsys)
        assert fast == slow, argv
        codes.add(fast[0])
    if fixture == "two_heads":
        assert codes == {0, 1, 2}  # written, would write, refused: every ending was compared


@pytest.mark.slow
@pytest.mark.usefixtures("git_env")
def test_merge_that_moves_new_revisions_prints_the_notice_as_through_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repo with an upstream, this branch's own revision new: merge moves it (the bench's
    case), and says so on stderr."""
    team = make_team(tmp_path, "typed")
    team.alice.revision("b0000001", "add b")
    git(team.alice.root, "add", "-A")
    git(team.alice.root, "commit", "-q", "-m", "b")
    land(team.bob, "c0000001", "add c")
    git(team.alice.root, "pull", "-q", "--no-rebase", "--no-edit")
    saved = tmp_path / "saved"
    shutil.copytree(team.alice.root, saved, symlinks=True)

    def make() -> Path:
        return Path(shutil.copytree(saved, team.alice.root, symlinks=True))

    shutil.rmtree(team.alice.root)
    for argv in (
        ["merge"],
        ["merge", "--json"],
        ["merge", "--dry-run"],
        ["merge", "--no-repoint", "--rev-id", "ffff0001"],
    ):
        fast, slow = _both_ways(argv, make, monkeypatch, capsys)
        assert fast == slow, argv
        if argv == ["merge"]:
            assert fast[0] == 0 and fast[2].startswith("moved b0000001 ("), fast


def test_merge_parses_as_click_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fastcli's options are click's, value for value; what click refuses, fastcli leaves
    to click."""
    argvs = [
        ["merge", "-m=x", "-nfoo", "--new", "a", "--new=b", "h1", "--rev-id", "r1"],
        ["merge", "--rev-id", "r2", "-m", "--json", "h2", "--message=", "--upstream", "-x"],
        ["merge", "--json", "--json", "--strict", "--no-repoint", "--dry-run", "--recursive"],
        ["merge", "--branch-label", "--", "-c", "alembic.ini", "--config", "x.toml", ""],
        ["merge", "--versions", "a", "--versions=b", "--name", "-m"],
        ["merge", "-m"],
        ["merge", "--json=1"],
        ["merge", "-c", "migrations"],
        ["merge", "--versions", "alembic.ini"],
        ["merge", "--mess", "x"],
        ["heads", "-v", "--json", "-c=x", "--versions", "-c"],
        ["check", "--format", "github", "--against", "--strict", "--deep"],
        ["check", "--format=xml"],
        ["check", "--against"],
    ]
    monkeypatch.chdir(copy_fixture("two_heads", tmp_path))
    for argv in argvs:
        command = cli.cli.commands[argv[0]]
        try:
            params: dict[str, Any] | None = command.make_context(argv[0], argv[1:]).params
        except click.ClickException:
            params = None
        parsed = fastcli._parse(argv)
        assert (parsed and _as_click(*parsed)) == params, argv


def _as_click(command: str, opts: dict[str, Any]) -> dict[str, Any]:
    """fastcli's OPTS spelled as click's ``ctx.params`` for COMMAND."""
    params: dict[str, Any] = {
        "config": opts.get("config"),
        "name": opts.get("name"),
        "versions": tuple(opts["versions"]),
        "recursive": opts["recursive"],
    }
    params.update({key: bool(opts.get(key)) for key in fastcli._FLAGS[command].values()})
    for key in fastcli._VALUES[command].values():
        params[key] = tuple(opts[key]) if key == "new" else opts.get(key)
    if command == "check":
        params["fmt"] = opts.get("fmt") or "text"
    if command == "merge":
        params.update(heads=tuple(opts["heads"]), run_verify=False, postgres=None)
    return params


def test_merge_leaves_the_rest_to_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_fixture("two_heads", tmp_path)
    monkeypatch.chdir(root)
    for argv in (
        ["merge", "--verify"],
        ["merge", "--postgres"],
        ["merge", "--sqlite"],
        ["merge", "--help"],
        ["merge", "-h"],
        ["merge", "--", "cccc0002"],
        ["merge", "-"],
        ["merge", "-d", "migrations"],
        ["merge", "--all"],
        ["merge", "--rev-id"],
        ["merge", "--dry-run=yes"],
        ["merge", "-c", "migrations"],
    ):
        assert fastcli._parse(argv) is None, argv
    capsys.readouterr()
    assert fastcli.main(["merge", "-m"]) == 2
    assert "Option '-m' requires an argument." in capsys.readouterr().err


@pytest.mark.slow
def test_merge_never_imports_click(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom migfix.cli.fast import main\nrc = main(sys.argv[1:])\n"
        "print('click' in sys.modules, rc)\n"
    )
    for argv, rc in ((["merge", "--dry-run"], 1), (["merge"], 0), (["merge"], 0)):
        root = copy_fixture("two_heads", tmp_path / str(len(list(tmp_path.iterdir()))))
        proc = python(root, "-c", code, *argv)
        assert proc.stdout.splitlines()[-1] == f"False {rc}", proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["heads"], ["check"], ["merge", "--dry-run"]])
def test_no_stdout_at_all_is_no_crash(tmp_path: Path, argv: list[str]) -> None:
    """Started with stdout closed (`migfix heads >&-`), Python has no sys.stdout: the
    report goes nowhere, as click.echo would do, and the exit code is the usual one."""
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
