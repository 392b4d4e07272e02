"""Hooks that travel: ``core.hooksPath`` naming a folder committed in the repository puts the
same scripts on every clone, so they name no interpreter of the machine that installed them.
They find migfix when they run: the work tree's ``.venv``, then ``migfix`` on PATH, and say in
one line when neither is there. A hooks folder outside the work tree keeps the absolute path.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from gitutil import git, git_proc
from projutil import Proj
from test_hookrun import (
    commit,
    heads,
    hook_lines,
    install,
    local_project,
    project_venv,
    two_migration_branches,
)

from migfix.hook import install as hook

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]


def shared_hooks_clone(tmp_path: Path) -> Proj:
    """A repository whose hooks live in the committed .githooks, installed there on one
    machine, and a fresh clone of it (another machine) with two migration branches."""
    first = local_project(tmp_path)
    git(first.root, "config", "core.hooksPath", ".githooks")
    install(first.root)
    commit(first, "shared hooks")
    two_migration_branches(first)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(first.root), str(clone))
    git(clone, "config", "core.hooksPath", ".githooks")
    for branch in ("feat-b", "feat-c"):
        git(clone, "branch", "-q", branch, f"origin/{branch}")
    git(clone, "merge", "-q", "feat-b")
    return Proj(clone, "typed")


def assert_fixed(proj: Proj, stderr: str) -> None:
    lines = hook_lines(stderr)
    assert lines and "several migration heads" in lines[0], stderr
    assert len(heads(proj)) == 1


def path_without_migfix() -> str:
    return os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "migfix").exists()
    )


def test_scripts_in_a_committed_folder_name_no_interpreter(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    git(proj.root, "config", "core.hooksPath", ".githooks")
    said = install(proj.root)

    assert "inside the work tree, so the scripts find migfix when they run" in said
    for hook_type in hook.HOOK_TYPES:
        text = (proj.root / ".githooks" / hook_type).read_text()
        assert sys.executable not in text and os.path.dirname(sys.executable) not in text
    assert {s.state for s in hook.status(proj.root)} == {hook.STATE_INSTALLED}
    # A second install on another machine would write the same bytes: nothing to commit.
    assert git(proj.root, "status", "--porcelain") == "?? .githooks/"
    install(proj.root)
    assert git(proj.root, "status", "--porcelain") == "?? .githooks/"


def test_a_hooks_folder_outside_the_work_tree_keeps_the_interpreter(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    git(proj.root, "config", "core.hooksPath", str(tmp_path / "machine-hooks"))
    install(proj.root)

    text = (tmp_path / "machine-hooks" / "post-merge").read_text()
    assert f"python={sys.executable}\n" in text


def test_a_clone_with_migfix_in_its_venv_runs_the_hook(tmp_path: Path) -> None:
    clone = shared_hooks_clone(tmp_path)
    project_venv(clone.root)

    merged = git_proc(
        clone.root, "merge", "--no-edit", "feat-c", env={"PATH": path_without_migfix()}
    )

    assert merged.returncode == 0, merged.stderr
    assert_fixed(clone, merged.stderr)


def test_a_clone_with_migfix_on_path_runs_the_hook(tmp_path: Path) -> None:
    clone = shared_hooks_clone(tmp_path)
    bin_dir = project_venv(tmp_path / "elsewhere")  # a migfix installed outside the project
    path = os.pathsep.join([str(bin_dir), path_without_migfix()])

    merged = git_proc(clone.root, "merge", "--no-edit", "feat-c", env={"PATH": path})

    assert merged.returncode == 0, merged.stderr
    assert_fixed(clone, merged.stderr)


def test_a_clone_without_migfix_is_told_in_one_line(tmp_path: Path) -> None:
    clone = shared_hooks_clone(tmp_path)
    assert shutil.which("migfix", path=path_without_migfix()) is None

    merged = git_proc(
        clone.root, "merge", "--no-edit", "feat-c", env={"PATH": path_without_migfix()}
    )

    assert merged.returncode == 0, merged.stderr
    assert hook_lines(merged.stderr) == [
        "migfix: skipped the post-merge hook: migfix is neither in this repository's .venv nor "
        "on PATH; install it in one of them"
    ]
    assert git(clone.root, "status", "--porcelain") == ""
