"""The hook's fixing path does nothing twice and loads nothing it does not use.

After a real ``git pull`` left two heads, the hook runner fixes them with a ``git`` first on
PATH that logs each call and runs the real one. What is counted is git processes and
imported modules, never time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SRC, python
from gitutil import GIT_ENV, commit_all
from projutil import land, make_team, pull

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

C, N = "c0000001", "n0000001"

_RUN = r"""
import sys
from migfix import hookrun
rc = hookrun.main(sys.argv[1:])
print(rc, sorted({"click", "libcst", "git"} & set(sys.modules)))
"""


def logging_git(tmp_path: Path) -> tuple[Path, Path]:
    """A folder holding a ``git`` that logs its arguments, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    log = tmp_path / "git-calls.txt"
    shim = tmp_path / "shim" / "git"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    return shim.parent, log


@pytest.mark.parametrize("always", [False, True], ids=["changed-paths", "always"])
def test_fixing_after_a_pull_asks_git_each_question_once(tmp_path: Path, always: bool) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    alice.revision(N, "add n")
    commit_all(alice.root, "n")
    land(team.bob, C, "add c")
    pull(alice)  # no hook installed: two heads, and ORIG_HEAD is where alice was
    shim, log = logging_git(tmp_path)
    args = ["post-merge", *(["--always"] if always else []), "--", "0"]

    path = f"{shim}{os.pathsep}{os.environ['PATH']}"
    proc = python(alice.root, "-c", _RUN, *args, env={"PATH": path})

    # The fix is made (N moves onto C) without click, libcst or GitPython.
    assert proc.stdout == "0 []\n", proc.stderr
    assert f"migfix: Repointed {N}: {alice.a} -> {C}" in proc.stderr
    calls = log.read_text().splitlines()
    # One diff both tells which files changed and which revisions arrived moved.
    diffs = [c for c in calls if c.startswith("diff")]
    assert diffs == ["diff --raw -z --no-renames --no-abbrev --no-ext-diff ORIG_HEAD HEAD --"]
    # The pull only added a revision file: nothing can have moved, so no blob is read for
    # that. Whether alice's own revision (on no ref she pushed) is published anywhere is
    # asked of every remote-tracking ref and tag at once: two batch look-ups of names, no
    # blob read, however many refs there are.
    lookups = [c for c in calls if c.startswith("cat-file")]
    assert all(c.startswith("cat-file --batch-check") for c in lookups), calls
    assert len(lookups) <= 2, calls
    # Where the repository and its journal are is asked once, however many parts need it.
    assert calls.count("rev-parse --show-toplevel") == 1, calls
    # The git dir is read from git's files (a plain clone): git is not asked at all.
    assert calls.count("rev-parse --git-common-dir") == 0, calls


def test_always_fixes_its_own_project_while_git_lists_the_others(tmp_path: Path) -> None:
    # The project at the root and one in services/billing, both left with two heads. With
    # --always, discovery's `git ls-files` runs while the root project is fixed; the
    # projects are still fixed in the same order, each once.
    from conftest import copy_fixture
    from projutil import Proj

    repo = tmp_path / "repo"
    shutil.copytree(copy_fixture("typed", tmp_path / "a"), repo)
    shutil.copytree(copy_fixture("typed", tmp_path / "b"), repo / "services" / "billing")
    root, billing = Proj(repo, "typed"), Proj(repo / "services" / "billing", "typed")
    (repo / ".gitignore").write_text("__pycache__/\n")
    git = ["git", "-C", str(repo)]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "two"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    for branch, rev in (("feat-b", "b0000001"), ("feat-c", C)):
        subprocess.run([*git, "checkout", "-q", "-b", branch, "main"], check=True)
        root.revision(rev, "add")
        billing.revision(rev, "add")
        commit_all(repo, f"add {rev}")
    subprocess.run([*git, "checkout", "-q", "main"], check=True)
    subprocess.run([*git, "merge", "-q", "feat-b"], check=True)
    subprocess.run([*git, "merge", "-q", "--no-edit", "feat-c"], check=True)
    shim, log = logging_git(tmp_path)
    env = {
        **os.environ,
        **GIT_ENV,
        "PYTHONPATH": str(SRC),
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
    }

    proc = subprocess.run(
        [sys.executable, "-m", "migfix.hookrun", "post-merge", "--always", "--", "0"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert proc.returncode == 0
    said = [line for line in proc.stderr.splitlines() if "left several migration heads" in line]
    assert said == [
        f"migfix: the merge left several migration heads (b0000001, {C}); fixing with `merge`.",
        f"migfix: in services/billing: the merge left several migration heads (b0000001, {C}); "
        "fixing with `merge`.",
    ], proc.stderr
    assert len(list(root.versions.glob("*_merge_heads.py"))) == 1
    assert len(list(billing.versions.glob("*_merge_heads.py"))) == 1
    calls = log.read_text().splitlines()
    assert len([c for c in calls if c.startswith("ls-files -z --cached --others")]) == 1


def test_migfix_merge_asks_where_the_repository_is_once(tmp_path: Path) -> None:
    """``migfix merge`` (the console script's path) after the same pull: the repository
    and its git dir are asked for once each, as in the hook."""
    team = make_team(tmp_path, "typed")
    alice = team.alice
    alice.revision(N, "add n")
    commit_all(alice.root, "n")
    land(team.bob, C, "add c")
    pull(alice)
    shim, log = logging_git(tmp_path)
    env = {
        **os.environ,
        **GIT_ENV,
        "PYTHONPATH": str(SRC),
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
    }

    proc = subprocess.run(
        [sys.executable, "-m", "migfix", "merge"],
        cwd=alice.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert f"Repointed {N}: {alice.a} -> {C}" in proc.stdout
    calls = log.read_text().splitlines()
    assert calls.count("rev-parse --show-toplevel") == 1, calls
    assert calls.count("rev-parse --git-common-dir") == 0, calls  # read from git's files
