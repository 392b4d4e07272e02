"""The hook runner's options are the click command's: one declaration
(migfix.commands.options), two parsers, and what ``hook install`` writes both accept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gitutil import GIT_ENV, git
from projutil import SRC, new_project

from migfix.cli.hook import hook_run
from migfix.commands import options as declared
from migfix.hook.watch import Watch


def _run(cwd: Path, *argv: str) -> tuple[int, str, str]:
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        ["--config", "alembic.ini"],
        ["-c", "alembic.ini", "-n", "alembic"],
        ["--strategy", "rebase", "--no-commit", "--always", "--directory", "migrations"],
        ["--config", "nowhere.ini"],
    ],
)
def test_hook_run_through_click_does_what_the_hook_runner_does(
    tmp_path: Path, options: list[str]
) -> None:
    """`migfix hook run post-merge --config alembic.ini -- 0` once failed with "No such
    option '--config'" while `python -m migfix.hookrun` took the same arguments."""
    proj = new_project(tmp_path, "typed")
    git(proj.root, "init", "-q")
    argv = ["post-merge", *options, "--", "0"]
    through_click = _run(proj.root, "-m", "migfix", "hook", "run", *argv)
    runner = _run(proj.root, "-m", "migfix.hookrun", *argv)
    assert through_click == runner
    assert through_click[0] == 0
    assert "No such option" not in through_click[2]


def test_what_hook_install_records_both_parsers_read_back() -> None:
    written = declared.hook_run_argv(
        {"strategy": "rebase", "commit": False, "always": True, "config": "a/alembic.ini"}
    )
    assert written == (
        "--strategy",
        "rebase",
        "--no-commit",
        "--always",
        "--config",
        "a/alembic.ini",
    )
    values, unknown = declared.parse(declared.HOOK_RUN, written)
    assert unknown == []
    assert values == {
        "strategy": "rebase",
        "commit": False,
        "always": True,
        "config": "a/alembic.ini",
    }
    ctx = hook_run.make_context("run", ["post-merge", *written, "--", "0"])
    assert {k: v for k, v in ctx.params.items() if v not in (None, ())} == {
        "hook_type": "post-merge",
        "strategy": "rebase",
        "commit": False,
        "always": True,
        "config": Path("a/alembic.ini"),
        "git_args": ("0",),
    }
    assert Watch.from_options(written) == Watch(config="a/alembic.ini")
    assert Watch(config="a", name="x", directory="m").args() == (
        "--config",
        "a",
        "--name",
        "x",
        "--directory",
        "m",
    )


def test_every_hook_run_option_is_a_click_option_of_hook_run() -> None:
    click_names = {n for p in hook_run.params for n in [*p.opts, *p.secondary_opts]}
    for opt in declared.HOOK_RUN:
        assert set(opt.names) <= click_names, opt
        if opt.negative:
            assert opt.negative in click_names


def test_no_option_string_is_written_in_two_modules() -> None:
    """Each option is declared once: in migfix.cli.options, or in migfix.commands.options
    for those the click-free hook runner reads too. (The layers below name a flag only in
    a message: plan.merge's refusals of --rev-id and --branch-label.)"""
    src = Path(__file__).resolve().parents[2] / "src" / "migfix"
    where: dict[str, set[str]] = {}
    edge = [*src.glob("*.py"), *(src / "cli").rglob("*.py"), *(src / "commands").rglob("*.py")]
    for path in [*edge, *(src / "hook").rglob("*.py")]:
        text = path.read_text()
        for opt in (
            "--branch-label",
            "--upstream",
            "--strict",
            "--config",
            "--strategy",
            "--always",
            "--rev-id",
            "--dry-run",
            "--json",
            "--new",
            "--versions",
        ):
            if f'"{opt}"' in text:
                where.setdefault(opt, set()).add(path.relative_to(src).as_posix())
    shared = {opt: sorted(files) for opt, files in where.items() if len(files) > 1}
    assert shared == {}
