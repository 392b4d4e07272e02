"""Nothing git pulls can make migfix write outside the repository's work tree.

A teammate (or an attacker with push access) commits ``evil/alembic.ini`` and a symlink
``evil/migrations`` to a project elsewhere on the disk, one with two heads. The installed
post-merge hook, fired by a real ``git pull``, reads that project like any other, says that it
will not write there, and writes nothing; so does ``migfix merge``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import commit_all, git, git_proc
from projutil import Proj, make_team, migfix_proc, new_project
from test_hookrun import install

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

OUTSIDE = "outside the repository's work tree"


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def victim_with_two_heads(tmp_path: Path) -> Proj:
    """A project elsewhere on the disk, not in this repository, with two heads."""
    victim = new_project(tmp_path, "typed", "victim")
    victim.revision("b0000001", "b")
    victim.revision("c0000001", "c", head=victim.a, splice=True)
    return victim


def push_evil(bob: Proj, victim: Proj) -> None:
    evil = bob.root / "evil"
    evil.mkdir()
    (evil / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (evil / "migrations").symlink_to(victim.migrations)
    commit_all(bob.root, "a harmless-looking folder")
    git(bob.root, "push", "-q", "origin", "HEAD:main")


def test_a_pulled_symlinked_version_location_is_read_and_never_written(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    install(alice.root)
    victim = victim_with_two_heads(tmp_path)
    before = files(victim.root)
    push_evil(team.bob, victim)

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit")

    assert pulled.returncode == 0, pulled.stderr
    assert files(victim.root) == before
    said = [line for line in pulled.stderr.splitlines() if OUTSIDE in line]
    assert len(said) == 1 and "evil/migrations" in said[0], pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert git(alice.root, "status", "--porcelain") == ""

    # Read, and reported as it is: two heads.
    heads = migfix_proc(alice.root / "evil", "heads")
    assert "b0000001" in heads.stdout and "c0000001" in heads.stdout, heads.stdout
    # Asked for by hand, merge refuses too, in one paragraph, exit 2.
    run = migfix_proc(alice.root / "evil", "merge")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert OUTSIDE in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert files(victim.root) == before
