"""A move and a ``db sync`` in the same second: which came first is read from their positions
(HEAD's reflog, the journal's lines), never from their clocks.

A move that a hook-less ``git rebase`` made is seen in HEAD's reflog, whose times are whole
seconds; a sync's time is ``time.time()``. Told apart by time, a rebase just *after* a sync,
in the same second, looked synced (``db status`` said "in step" while the moved revision's new
parents never ran), and rounding the other way would make a rebase just *before* a sync look
unsynced (``db sync`` would run again what the sync ran). Every story here is real: a git
repository, ``alembic upgrade`` on SQLite, a plain ``git rebase`` (no migfix hook), ``migfix db
sync`` in a subprocess. Each revision inserts its own id into a table ``ran``, so a revision run
twice shows as two rows. The seconds are made equal on purpose: the rebase's reflog time through
``GIT_COMMITTER_DATE``, the sync's recorded time through the hidden ``MIGFIX_TEST_NOW``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from conftest import ok, python_m
from gitutil import commit_all, git
from projutil import Proj, make_team

from migfix.write import moves

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

R, S1, S2, S3 = "rrrr0001", "ssss0001", "ssss0002", "ssss0003"


def add(proj: Proj, rev: str) -> None:
    """A revision on the current head that records, in table ``ran``, that it ran."""
    path = proj.revision(rev, f"mark {rev}")
    text = path.read_text()
    up = text.index("def upgrade(")
    pass_at = text.index("    pass\n", up)
    body = (
        '    op.execute("CREATE TABLE IF NOT EXISTS ran (rev TEXT)")\n'
        f"    op.execute(\"INSERT INTO ran (rev) VALUES ('{rev}')\")\n"
    )
    path.write_text(text[:pass_at] + body + text[pass_at + len("    pass\n") :])


def ran(db: Path) -> list[str]:
    """Every revision id the database's migrations inserted, one row per run."""
    with sqlite3.connect(db) as c:
        return sorted(r[0] for r in c.execute("select rev from ran"))


def version(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return sorted(r[0] for r in c.execute("select version_num from alembic_version"))


def feature_with_r(tmp_path: Path) -> tuple[Proj, Proj, Path]:
    """Alice pushes branch feature with R on A; Bob checks it out and runs it on his database."""
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R)
    commit_all(alice.root, "add R")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    git(bob.root, "fetch", "-q")
    git(bob.root, "checkout", "-q", "-b", "feature", "--track", "origin/feature")
    ok(python_m(bob.root, "alembic", "upgrade", "heads"))
    db = bob.root / "typed.db"
    assert ran(db) == [R]
    return alice, bob, db


def alice_moves_r_onto(alice: Proj, *revs: str) -> None:
    """Alice lands REVS on main, puts R on top of them and force-pushes feature (R was
    pushed: she says it may move, which is what these stories are about)."""
    git(alice.root, "checkout", "-q", "main")
    for rev in revs:
        add(alice, rev)
    commit_all(alice.root, f"add {', '.join(revs)}")
    git(alice.root, "checkout", "-q", "feature")
    ok(python_m(alice.root, "migfix", "rebase", "--onto", "main", "--new", R))
    commit_all(alice.root, f"R onto {revs[-1]}")
    git(alice.root, "rebase", "-q", "main")
    git(alice.root, "push", "-q", "--force", "origin", "feature")


def pull_rebase(bob: Proj, date: dict[str, str] | None = None) -> None:
    """Bob's plain `git pull --rebase` (no migfix hook): the move is only in his reflog."""
    git(bob.root, "pull", "-q", "--rebase", env=date)


def at(second: int) -> dict[str, str]:
    """What makes git write SECOND as the time of its reflog entries (and commits)."""
    stamp = f"@{second} +0000"
    return {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}


def last_sync(proj: Proj) -> moves.Synced:
    syncs = moves.read(proj.root)[1]
    assert syncs, "db sync recorded nothing"
    return syncs[-1]


def test_a_rebase_in_the_same_second_after_a_sync_is_seen(tmp_path: Path) -> None:
    alice, bob, db = feature_with_r(tmp_path)
    alice_moves_r_onto(alice, S1, S2)
    pull_rebase(bob)  # R: A -> S2
    synced = ok(python_m(bob.root, "migfix", "db", "sync"))
    assert f"Ran {S1}, {S2}" in synced.stdout
    assert ran(db) == [R, S1, S2]
    alice_moves_r_onto(alice, S3)

    # In the second the sync recorded, whatever it was: R: S2 -> S3, after the sync.
    pull_rebase(bob, at(math.floor(last_sync(bob).when)))

    status = python_m(bob.root, "migfix", "db", "status")
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"{S3} never ran here" in status.stdout, status.stdout
    assert f"{R} moved ({S2} -> {S3}" in status.stdout
    data = json.loads(python_m(bob.root, "migfix", "db", "status", "--json").stdout)
    assert data["missing"] == [S3]

    synced = ok(python_m(bob.root, "migfix", "db", "sync"))
    assert f"Ran {S3} " in synced.stdout, synced.stdout
    assert ran(db) == [R, S1, S2, S3]  # each once
    assert version(db) == [R]
    assert "in step" in ok(python_m(bob.root, "migfix", "db", "status")).stdout


@pytest.mark.parametrize("ahead", [0, 1], ids=["same-second", "clock-a-second-ahead"])
def test_a_rebase_just_before_a_sync_is_not_run_again(tmp_path: Path, ahead: int) -> None:
    """The rebase's reflog time is the sync's second (or the next one: git's clock ahead of
    the one migfix read); by position it came first, so the sync settled it."""
    alice, bob, db = feature_with_r(tmp_path)
    alice_moves_r_onto(alice, S1, S2)
    second = 1_700_000_000  # any second: both times below are set from it
    pull_rebase(bob, at(second + ahead))  # R: A -> S2

    synced = ok(python_m(bob.root, "migfix", "db", "sync", env={"MIGFIX_TEST_NOW": f"{second}.5"}))
    assert f"Ran {S1}, {S2}" in synced.stdout
    assert last_sync(bob).when == second + 0.5

    status = python_m(bob.root, "migfix", "db", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "in step" in status.stdout
    again = ok(python_m(bob.root, "migfix", "db", "sync"))
    assert "Nothing to do" in again.stdout
    assert ran(db) == [R, S1, S2]  # each once
    assert version(db) == [R]


def test_when_the_syncs_reflog_entry_expired_a_same_second_move_counts_as_synced_and_is_said(
    tmp_path: Path,
) -> None:
    """Nothing orders them any more: the safe side is to run nothing again, and tell."""
    alice, bob, db = feature_with_r(tmp_path)
    alice_moves_r_onto(alice, S1, S2)
    # R: A -> S2, seconds before the sync by time too (only the later move shares its second).
    pull_rebase(bob, at(1_700_000_000))
    ok(python_m(bob.root, "migfix", "db", "sync"))
    sync = last_sync(bob)
    assert sync.reflog is not None
    alice_moves_r_onto(alice, S3)
    pull_rebase(bob, at(math.floor(sync.when)))  # R: S2 -> S3, after the sync
    # The sync's entry is gone, as `git reflog expire` would take it.
    entries = git(bob.root, "log", "-g", "--format=%H %gs", "HEAD").splitlines()
    point = f"{sync.reflog.commit} {sync.reflog.subject}"
    git(bob.root, "reflog", "delete", f"HEAD@{{{entries.index(point)}}}")

    status = ok(python_m(bob.root, "migfix", "db", "status"))
    assert "in step" in status.stdout
    assert f"Note: {R} moved ({S2} -> {S3}, by `git pull" in status.stdout, status.stdout
    assert f"If the move came after the sync, {S3} never ran here" in status.stdout
    data = json.loads(python_m(bob.root, "migfix", "db", "status", "--json").stdout)
    assert data["doubtful"] == [S3] and data["state"] == "in-step"
    assert "Nothing to do" in ok(python_m(bob.root, "migfix", "db", "sync")).stdout
    assert ran(db) == [R, S1, S2]
