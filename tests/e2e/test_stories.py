"""The stories a release must pass wherever migfix is installed: ``merge``, ``rebase --onto``,
``verify``, and a real ``git merge`` through the installed hook, in real git repositories
on Alembic's typed template.

Each story runs in up to three Pythons:

- ``source``: this checkout's ``src`` (what every other test runs);
- ``windows-sim``: the same with ``tests/winsim`` on PYTHONPATH, a SIMULATION of Windows
  (the POSIX-only names removed before migfix loads, see its sitecustomize), in migfix's
  commands and in the Python the git hook starts;
- ``installed``: ``$MIGFIX_STORY_PYTHON``, an interpreter with migfix installed from the built
  wheel and the lowest dependency versions pyproject.toml declares (``.ci/minversions`` makes
  it); skipped when the variable is unset.

Revisions are made by this test's Alembic; every migfix command, the hook included, runs in
the Python under test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitutil import GIT_ENV, git
from projutil import SRC, Proj, alembic_view, land, make_team, new_project, repointed

pytestmark = pytest.mark.slow

WINSIM = Path(__file__).resolve().parents[1] / "winsim"
B, C = "b0000001", "c0000001"
MERGE_FILE = re.compile(r"\?\? migrations/versions/([0-9a-f]{12})_merge_heads\.py")


class Python:
    """How to start the Python under test: its interpreter and what goes on PYTHONPATH."""

    def __init__(self, executable: str, pythonpath: list[Path]) -> None:
        self.executable = executable
        self.pythonpath = pythonpath

    def env(self) -> dict[str, str]:
        env = {**os.environ, **GIT_ENV, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)
        env.pop("MIGFIX_SKIP_HOOK", None)
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(map(str, self.pythonpath))
        return env

    def migfix(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, "-m", "migfix", *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture(params=["source", "windows-sim", "installed"])
def python(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Python]:
    import sys

    if request.param == "installed":
        exe = os.environ.get("MIGFIX_STORY_PYTHON")
        if not exe:
            pytest.skip("MIGFIX_STORY_PYTHON is unset (.ci/minversions sets it)")
        py = Python(exe, [])
        where = py.migfix(Path.cwd(), "--version")
        assert where.returncode == 0, where.stderr
        # The wheel, not this checkout: its migfix must not come from src/.
        found = subprocess.run(
            [exe, "-c", "import migfix; print(migfix.__file__)"],
            env=py.env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert "site-packages" in found and str(SRC) not in found, found
    elif request.param == "windows-sim":
        if sys.platform == "win32":
            # Its sitecustomize starts from POSIX's fcntl; on Windows "source" is the real thing.
            pytest.skip("the Windows simulation runs off Windows only")
        py = Python(sys.executable, [WINSIM, SRC])
    else:
        py = Python(sys.executable, [SRC])
    for name in list(os.environ):
        if name.startswith("GIT_"):  # a test run from inside a git hook
            monkeypatch.delenv(name)
    yield py


def local_project(tmp_path: Path) -> Proj:
    proj = new_project(tmp_path, "typed", "repo")
    git(proj.root, "init", "-q", "-b", "main")
    (proj.root / ".gitignore").write_text("__pycache__/\n*.db\ninstance/\n")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "project")
    return proj


def two_migration_branches(proj: Proj) -> None:
    """feat-b and feat-c each add one migration on main's head; main has feat-b."""
    for branch, rev in (("feat-b", B), ("feat-c", C)):
        git(proj.root, "checkout", "-q", "-b", branch, "main")
        proj.revision(rev, f"add {rev[0]}")
        git(proj.root, "add", "-A")
        git(proj.root, "commit", "-q", "-m", f"add {rev}")
    git(proj.root, "checkout", "-q", "main")
    git(proj.root, "merge", "-q", "feat-b")


def test_the_windows_simulation_is_on(python: Python) -> None:
    if WINSIM not in python.pythonpath:
        pytest.skip("only the windows-sim Python removes the POSIX-only names")
    probe = "import os, signal, migfix.write.txn as t; print(hasattr(os, 'O_CLOEXEC'), "
    probe += "hasattr(signal, 'SIGHUP'), hasattr(os, 'fork'), __import__('sys').modules['fcntl'])"
    proc = subprocess.run(
        [python.executable, "-c", probe],
        env=python.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.split() == ["False", "False", "False", "None"], proc.stderr


def test_merge_then_alembic_upgrades_one_head(tmp_path: Path, python: Python) -> None:
    proj = local_project(tmp_path)
    two_migration_branches(proj)
    git(proj.root, "merge", "-q", "--no-edit", "feat-c")
    assert alembic_view(proj)["heads"] == [B, C]

    merged = python.migfix(proj.root, "merge")

    assert merged.returncode == 0, merged.stderr
    found = MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))
    assert found, git(proj.root, "status", "--porcelain")
    assert alembic_view(proj, upgrade=True) == {
        "heads": [found.group(1)],
        "current": [found.group(1)],
    }
    assert not (proj.root / ".git" / "migfix").exists()  # the lock and journal are gone


def test_rebase_onto_repoints_only_this_branchs_revision(tmp_path: Path, python: Python) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature")
    mine = alice.revision(C, "add c")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "add c")
    before = mine.read_bytes()
    land(team.bob, B, "add b")
    git(alice.root, "fetch", "-q", "origin")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")

    rebased = python.migfix(alice.root, "rebase", "--onto", "origin/main")

    assert rebased.returncode == 0, rebased.stderr
    assert mine.read_bytes() == repointed(before, "typed", alice.a, B)
    assert alembic_view(alice, upgrade=True)["current"] == [C]


def test_verify_runs_the_migrations_on_a_scratch_database(tmp_path: Path, python: Python) -> None:
    proj = local_project(tmp_path)
    two_migration_branches(proj)

    verified = python.migfix(proj.root, "verify", "--steps", "2")

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert not list(proj.root.glob("*.db"))  # a scratch database, not the project's


def test_real_git_merge_fires_the_installed_hook(tmp_path: Path, python: Python) -> None:
    proj = local_project(tmp_path)
    installed = python.migfix(proj.root, "hook", "install")
    assert installed.returncode == 0, installed.stderr
    two_migration_branches(proj)

    # The hook's Python starts with git's environment: the one under test.
    merged = subprocess.run(
        ["git", "merge", "--no-edit", "feat-c"],
        cwd=proj.root,
        env=python.env(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert merged.returncode == 0, merged.stderr
    assert f"several migration heads ({B}, {C}); fixing with `merge`" in merged.stderr
    found = MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))
    assert found, (git(proj.root, "status", "--porcelain"), merged.stderr)
    heads = python.migfix(proj.root, "heads", "--json")
    assert [h["revision"] for h in json.loads(heads.stdout)["heads"]] == [found.group(1)]
