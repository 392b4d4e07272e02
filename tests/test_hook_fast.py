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
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitutil import GIT_ENV, commit_all, isolate_git
from projutil import SRC, land, make_team, pull

C, N = "c0000001", "n0000001"

_RUN = r"""
import sys
from migfix import hookrun
rc = hookrun.main(sys.argv[1:])
print(rc, sorted({"click", "libcst", "git"} & set(sys.modules)))
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    isolate_git(monkeypatch)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    yield


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
    env = {
        **os.environ,
        **GIT_ENV,
        "PYTHONPATH": str(SRC),
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
    }
    args = ["post-merge", *(["--always"] if always else []), "--", "0"]

    proc = subprocess.run(
        [sys.executable, "-c", _RUN, *args],
        cwd=alice.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    # The fix is made (N moves onto C) without click, libcst or GitPython.
    assert proc.stdout == "0 []\n", proc.stderr
    assert f"migfix: Repointed {N}: {alice.a} -> {C}" in proc.stderr
    calls = log.read_text().splitlines()
    # One diff both tells which files changed and which revisions arrived moved.
    diffs = [c for c in calls if c.startswith("diff")]
    assert diffs == ["diff --raw -z --no-renames --no-abbrev --no-ext-diff ORIG_HEAD HEAD --"]
    # The pull only added a revision file: nothing can have moved, so no blob is read for
    # that (nor for what is settled: alice's own revision is not on origin/main).
    assert not [c for c in calls if c.startswith("cat-file")], calls
    # Where the repository and its journal are is asked once, however many parts need it.
    assert calls.count("rev-parse --show-toplevel") == 1, calls
    assert calls.count("rev-parse --git-common-dir") == 1, calls
