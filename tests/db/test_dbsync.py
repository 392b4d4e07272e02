"""Databases after a migration moved: ``migfix db status`` and ``migfix db sync``, end to end.

Each story is real: real git (hooks fired by real ``git pull``), real ``alembic upgrade`` /
``flask db upgrade`` on SQLite files, real ``migfix`` in a subprocess. The developer's
database ran R on A; then R moved onto S2 (S1 -> S2 also on A). Every story ends the same:
``db status`` exits 1 naming S1 and S2, ``db sync`` exits 0, every table exists, the row
written in R's table before the sync is still there, the database is recorded at R (the
head), and ``db status`` then exits 0.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import ok, python, python_m
from gitutil import commit_all, git, git_proc
from projutil import Proj, make_team, new_project

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

R, S1, S2 = "rrrr0001", "ssss0001", "ssss0002"
ADVICE = "`migfix db sync` brings a database that ran them in step"


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` (migfix, alembic, flask) in CWD."""
    return python_m(cwd, *args, env=env)


def give_table(path: Path, table: str) -> None:
    """Make the revision at PATH create TABLE (and drop it on downgrade)."""
    text = path.read_text()
    up = text.index("def upgrade(")
    create = (
        f"    op.create_table({table!r}, sa.Column('id', sa.Integer(), primary_key=True), "
        "sa.Column('note', sa.String(40)))\n"
    )
    pass_at = text.index("    pass\n", up)
    text = text[:pass_at] + create + text[pass_at + len("    pass\n") :]
    down = text.index("def downgrade(")
    pass_at = text.index("    pass\n", down)
    text = text[:pass_at] + f"    op.drop_table({table!r})\n" + text[pass_at + len("    pass\n") :]
    if "import sqlalchemy as sa" not in text:
        text = text.replace(
            "from alembic import op\n", "from alembic import op\nimport sqlalchemy as sa\n"
        )
    path.write_text(text)


def add(proj: Proj, rev: str, table: str, *, head: str = "head", splice: bool = False) -> None:
    give_table(proj.revision(rev, f"create {table}", head=head, splice=splice), table)


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute("select name from sqlite_master where type='table'")}


def version(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return sorted(r[0] for r in c.execute("select version_num from alembic_version"))


def write_row(db: Path) -> None:
    with sqlite3.connect(db) as c:
        c.execute("insert into r_table (note) values ('kept')")


def land_s1_s2(proj: Proj) -> None:
    """S1 -> S2 on main (on A), pushed: what the teammates merged meanwhile."""
    add(proj, S1, "s1_table")
    add(proj, S2, "s2_table")
    commit_all(proj.root, "add S1, S2")
    git(proj.root, "push", "-q", "origin", "main")


def brought_in_step(cwd: Path, db: Path, *cmd: str, env: dict[str, str] | None = None) -> None:
    """The end of every story: status says what never ran, sync runs it, status is happy."""
    cmd = cmd or ("migfix",)
    status = run(cwd, *cmd, "db", "status", env=env)
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"{S1}, {S2} never ran here" in status.stdout, status.stdout
    assert f"{R} moved" in status.stdout
    assert "db sync" in status.stdout

    data = json.loads(run(cwd, *cmd, "db", "status", "--json", env=env).stdout)
    assert data["state"] == "out-of-step"
    assert data["missing"] == [S1, S2]

    plan = run(cwd, *cmd, "db", "sync", "--dry-run", env=env)
    assert plan.returncode == 1, plan.stderr
    assert f"run {S1}, {S2}" in plan.stdout
    assert version(db) == [R]

    synced = ok(run(cwd, *cmd, "db", "sync", env=env))
    assert f"Ran {S1}, {S2}" in synced.stdout
    assert {"r_table", "s1_table", "s2_table"} <= tables(db)
    with sqlite3.connect(db) as c:
        assert c.execute("select note from r_table").fetchall() == [("kept",)]
    assert version(db) == [R]

    after = ok(run(cwd, *cmd, "db", "status", env=env))
    assert "in step" in after.stdout and "(head)" in after.stdout
    again = ok(run(cwd, *cmd, "db", "sync", env=env))
    assert "Nothing to do" in again.stdout


def feature_with_r(proj: Proj) -> Path:
    """Branch feature with R on A, R run on the developer's database, a row written in it."""
    git(proj.root, "checkout", "-q", "-b", "feature")
    add(proj, R, "r_table")
    commit_all(proj.root, "add R")
    ok(run(proj.root, "alembic", "upgrade", "heads"))
    db = proj.root / "typed.db"
    write_row(db)
    return db


# -- the stories ---------------------------------------------------------------------------------


def test_own_database_after_the_hook_repointed_r(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    ok(run(alice.root, "migfix", "hook", "install"))
    db = feature_with_r(alice)
    land_s1_s2(team.bob)

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit", "origin", "main")

    assert pulled.returncode == 0, pulled.stderr
    assert f"moved {R} ({alice.a} -> {S2}): {ADVICE}." in pulled.stderr
    # What Alembic alone would say: nothing to do. S1 and S2 silently never run.
    assert "Running upgrade" not in ok(run(alice.root, "alembic", "upgrade", "heads")).stderr
    assert "s1_table" not in tables(db)
    brought_in_step(alice.root, db)


def test_own_database_after_migfix_rebase_then_git_merge(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    db = feature_with_r(alice)
    land_s1_s2(team.bob)
    git(alice.root, "fetch", "-q")

    rebased = ok(run(alice.root, "migfix", "rebase", "--onto", "origin/main"))
    assert f"moved {R} ({alice.a} -> {S2}): {ADVICE}." in rebased.stderr
    commit_all(alice.root, "R onto S2")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")

    brought_in_step(alice.root, db)
    status = json.loads(run(alice.root, "migfix", "db", "status", "--json").stdout)
    assert status["state"] == "in-step"


@pytest.mark.parametrize("hooked", [True, False], ids=["hook", "reflog"])
def test_teammates_database_after_pull_rebase_of_a_force_pushed_branch(
    tmp_path: Path, hooked: bool
) -> None:
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    # Alice pushes feature with R on A; Bob works on it and runs it on his database.
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice.root, "add R")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    git(bob.root, "fetch", "-q")
    git(bob.root, "checkout", "-q", "-b", "feature", "--track", "origin/feature")
    if hooked:
        ok(run(bob.root, "migfix", "hook", "install"))
    ok(run(bob.root, "alembic", "upgrade", "heads"))
    db = bob.root / "typed.db"
    write_row(db)
    # Main gets S1 -> S2; Alice rebases feature onto it (R onto S2) and force-pushes.
    git(alice.root, "checkout", "-q", "main")
    land_s1_s2(alice)
    git(alice.root, "checkout", "-q", "feature")
    # R is on origin/feature, so settled: Alice says it may move (Bob's database ran it,
    # which is what this test is about).
    ok(run(alice.root, "migfix", "rebase", "--onto", "main", "--new", R))
    commit_all(alice.root, "R onto S2")
    git(alice.root, "rebase", "-q", "main")
    git(alice.root, "push", "-q", "--force", "origin", "feature")

    pulled = git_proc(bob.root, "pull", "--rebase")

    assert pulled.returncode == 0, pulled.stderr
    assert (f"{R} ({bob.a} -> {S2}): {ADVICE}" in pulled.stderr) == hooked, pulled.stderr
    brought_in_step(bob.root, db)


def test_flask_app_database_through_flask_migfix_db(tmp_path: Path) -> None:
    team = make_team(tmp_path, "flask")
    alice = team.alice
    db = tmp_path / "alice-dev.db"
    env = {"FLASK_APP": "app", "DATABASE_URL": f"sqlite:///{db}"}
    ok(run(alice.root, "migfix", "hook", "install"))
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice.root, "add R")
    ok(run(alice.root, "flask", "db", "upgrade", env=env))
    write_row(db)
    land_s1_s2(team.bob)

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit", "origin", "main")
    assert f"moved {R} ({alice.a} -> {S2}): {ADVICE}." in pulled.stderr, pulled.stderr

    brought_in_step(alice.root, db, "flask", "migfix", env=env)
    # `flask db` agrees: nothing left to run, and the database is at the head.
    current = ok(run(alice.root, "flask", "db", "current", env=env))
    assert f"{R} (head)" in current.stdout


# -- the details ---------------------------------------------------------------------------------


def moved_project(tmp_path: Path) -> tuple[Proj, Path]:
    """A repository whose database ran R on A; then main's S1 -> S2 and R moved onto S2."""
    team = make_team(tmp_path, "typed")
    alice = team.alice
    db = feature_with_r(alice)
    land_s1_s2(team.bob)
    git(alice.root, "fetch", "-q")
    ok(run(alice.root, "migfix", "rebase", "--onto", "origin/main"))
    commit_all(alice.root, "R onto S2")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    return alice, db


def test_a_failing_revision_on_sqlite_leaves_the_version_record_as_it_was(tmp_path: Path) -> None:
    alice, db = moved_project(tmp_path)
    # S2 conflicts with what R already did: it creates R's table again.
    s2 = alice.file(S2)
    s2.write_text(s2.read_text().replace("'s2_table', sa.Column", "'r_table', sa.Column", 1))

    failed = run(alice.root, "migfix", "db", "sync")

    assert failed.returncode == 1
    assert f"Revision {S2} (migrations/versions/{s2.name}) failed" in failed.stderr
    assert "already exists" in failed.stderr
    # The fix belongs in this branch's own new revision, not in main's published one.
    assert (
        f"{S2} collides with {R}, which already ran on this database: both change "
        f"r_table.id, r_table.note. {R} is new on this branch and {S2} is not: change {R} so "
        "the two no longer repeat one change. Then run `migfix db sync` again."
    ) in " ".join(failed.stderr.split())
    assert version(db) == [R]
    # SQLite has no transactional DDL here: S1 ran, stays, and is not run again.
    assert f"{S1} ran and stay" in failed.stderr
    s2.write_text(s2.read_text().replace("'r_table', sa.Column", "'s2_table', sa.Column", 1))
    synced = ok(run(alice.root, "migfix", "db", "sync"))
    assert f"Ran {S2} " in synced.stdout
    assert {"s1_table", "s2_table"} <= tables(db)
    ok(run(alice.root, "migfix", "db", "status"))


def test_a_database_created_after_the_move_is_recorded_in_step_by_its_owner(
    tmp_path: Path,
) -> None:
    alice, db = moved_project(tmp_path)
    db.unlink()
    ok(run(alice.root, "alembic", "upgrade", "heads"))  # S1, S2, then R: in the new order
    assert {"r_table", "s1_table", "s2_table"} <= tables(db)

    # Alembic records only heads: this database looks like one that ran R before the move.
    status = run(alice.root, "migfix", "db", "status")
    assert status.returncode == 1
    assert "`migfix db sync --already-in-step` records that and runs nothing." in status.stdout

    marked = ok(run(alice.root, "migfix", "db", "sync", "--already-in-step"))
    assert f"as in step at {R}" in marked.stdout and "Nothing was run." in marked.stdout
    assert version(db) == [R]
    assert "(head)" in ok(run(alice.root, "migfix", "db", "status")).stdout
    assert "Nothing to do" in ok(run(alice.root, "migfix", "db", "sync")).stdout
    again = ok(run(alice.root, "migfix", "db", "sync", "--already-in-step"))
    assert "already in step; nothing recorded" in again.stdout


def test_missing_branches_and_a_merge_run_in_graph_order(tmp_path: Path) -> None:
    """R moved from A onto the top of a diamond: S1 and S3 on A, merged by M, then S2."""
    proj = new_project(tmp_path, "typed", "repo")
    git(proj.root, "init", "-q", "-b", "main")
    (proj.root / ".gitignore").write_text("__pycache__/\n*.db\n")
    add(proj, R, "r_table")
    commit_all(proj.root, "R")
    ok(run(proj.root, "alembic", "upgrade", "heads"))
    db = proj.root / "typed.db"
    write_row(db)
    add(proj, S1, "s1_table", head=proj.a, splice=True)
    add(proj, "ssss0003", "s3_table", head=proj.a, splice=True)
    proj.alembic_merge("mmmm0001", [S1, "ssss0003"])
    add(proj, S2, "s2_table", head="mmmm0001")
    r = proj.file(R)
    r.write_text(r.read_text().replace(f"= '{proj.a}'", f"= '{S2}'"))
    from migfix.write import moves

    moves.record(proj.root, [(R, (proj.a,), (S2,))], "a test")

    data = json.loads(run(proj.root, "migfix", "db", "status", "--json").stdout)
    assert data["state"] == "out-of-step"
    assert data["missing"][0] in (S1, "ssss0003") and data["missing"][2:] == ["mmmm0001", S2]
    ok(run(proj.root, "migfix", "db", "sync"))
    assert {"s1_table", "s3_table", "s2_table", "r_table"} <= tables(db)
    assert version(db) == [R]
    ok(run(proj.root, "alembic", "upgrade", "heads"))  # Alembic agrees: nothing to run
    assert version(db) == [R]


def test_a_database_at_a_revision_no_file_declares_names_the_branch(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    feature_with_r(alice)
    git(alice.root, "checkout", "-q", "main")

    status = run(alice.root, "migfix", "db", "status")

    assert status.returncode == 1
    assert f"recorded at {R} (declared on branch feature" in status.stdout
    data = json.loads(run(alice.root, "migfix", "db", "status", "--json").stdout)
    assert data["state"] == "unknown-revision"
    assert data["unknown"][0]["declared"][0].startswith("branch feature (migrations/versions/")
    assert run(alice.root, "migfix", "db", "sync").returncode == 2


def test_a_database_behind_is_in_step_and_told_to_upgrade(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    ok(run(alice.root, "alembic", "upgrade", "bbbb0002"))

    status = ok(run(alice.root, "migfix", "db", "status"))

    assert "is in step: at bbbb0002, 2 revision(s) behind" in status.stdout
    assert "`alembic upgrade heads`" in status.stdout
    assert "Nothing to do" in ok(run(alice.root, "migfix", "db", "sync")).stdout


def test_dry_run_sql_prints_the_sql_and_changes_nothing(tmp_path: Path) -> None:
    alice, db = moved_project(tmp_path)

    shown = run(alice.root, "migfix", "db", "sync", "--dry-run", "--sql")

    assert shown.returncode == 1, shown.stderr
    assert "CREATE TABLE s1_table" in shown.stdout and "CREATE TABLE s2_table" in shown.stdout
    assert "s1_table" not in tables(db)
    assert version(db) == [R]


def test_sync_db_setting_lets_the_hook_sync(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    with (alice.root / "pyproject.toml").open("a") as f:
        f.write("[tool.migfix]\nsync_db = true\n")
    commit_all(alice.root, "sync_db")
    ok(run(alice.root, "migfix", "hook", "install"))
    db = feature_with_r(alice)
    land_s1_s2(team.bob)

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit", "origin", "main")

    assert f"Ran {S1}, {S2} on sqlite:///" in pulled.stderr, pulled.stderr
    assert {"s1_table", "s2_table"} <= tables(db)
    ok(run(alice.root, "migfix", "db", "status"))


# -- PostgreSQL: transactional DDL, one transaction ---------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    from migfix.db.pgserver import ServerError, embedded_postgres

    try:
        with embedded_postgres("dbsync") as url:
            yield url
    except ServerError as exc:
        pytest.skip(f"no PostgreSQL here: {exc}")


def test_postgres_a_failing_revision_leaves_nothing_half_done(
    tmp_path: Path, postgres_url: str
) -> None:
    import sqlalchemy as sa

    # Trust authentication ignores the password: it is there to prove it is never printed.
    url = postgres_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    env = {"MIGFIX_DATABASE_URL": url}
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice.root, "add R")
    ok(run(alice.root, "alembic", "upgrade", "heads", env=env))
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        c.exec_driver_sql("insert into r_table (note) values ('kept')")
    # S2 conflicts with what R already did: it creates R's table again.
    add(team.bob, S1, "s1_table")
    add(team.bob, S2, "r_table")
    commit_all(team.bob.root, "add S1, S2")
    git(team.bob.root, "push", "-q", "origin", "main")
    git(alice.root, "fetch", "-q")
    ok(run(alice.root, "migfix", "rebase", "--onto", "origin/main"))
    commit_all(alice.root, "R onto S2")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")

    def state() -> tuple[set[str], list[str], list[tuple[str]]]:
        with engine.connect() as c:
            names = set(sa.inspect(c).get_table_names())
            rows = sorted(
                r[0] for r in c.exec_driver_sql("select version_num from alembic_version")
            )
            kept = [tuple(r) for r in c.exec_driver_sql("select note from r_table")]
        return names, rows, kept

    status = run(alice.root, "migfix", "db", "status", env=env)
    as_json = run(alice.root, "migfix", "db", "status", "--json", env=env)
    failed = run(alice.root, "migfix", "db", "sync", env=env)

    assert status.returncode == 1 and f"{S1}, {S2} never ran here" in status.stdout
    assert json.loads(as_json.stdout)["database"].startswith("postgresql+psycopg://postgres:***@")
    assert failed.returncode == 1
    assert f"Revision {S2} (migrations/versions/" in failed.stderr
    assert "DuplicateTable" in failed.stderr and "the whole sync was rolled back" in failed.stderr
    for out in (status, as_json, failed):
        assert "s3cret-pw" not in out.stdout + out.stderr
    names, rows, kept = state()
    assert "s1_table" not in names  # S1 ran, then was rolled back with S2
    assert rows == [R]
    assert kept == [("kept",)]

    s2 = alice.file(S2)
    s2.write_text(s2.read_text().replace("'r_table', sa.Column", "'s2_table', sa.Column", 1))
    ok(run(alice.root, "migfix", "db", "sync", env=env))
    names, rows, kept = state()
    assert {"s1_table", "s2_table", "r_table"} <= names
    assert rows == [R] and kept == [("kept",)]
    ok(run(alice.root, "migfix", "db", "status", env=env))
    engine.dispose()


def test_post_checkout_tells_of_a_move_and_starts_python_only_when_migrations_differ(
    tmp_path: Path,
) -> None:
    from migfix.hook import install as hook

    proj = new_project(tmp_path, "typed", "repo")
    git(proj.root, "init", "-q", "-b", "main")
    (proj.root / ".gitignore").write_text("__pycache__/\n*.db\n")
    add(proj, R, "r_table")
    commit_all(proj.root, "R on A")
    log = tmp_path / "python-started.txt"
    exe = tmp_path / "bin" / "python"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    exe.chmod(0o755)
    hook.install(proj.root, interpreter=str(exe))
    git(proj.root, "checkout", "-q", "-b", "docs")
    (proj.root / "README").write_text("docs\n")
    commit_all(proj.root, "docs")
    git(proj.root, "checkout", "-q", "main")
    git(proj.root, "checkout", "-q", "docs")
    assert not log.exists()  # no migration differs: no Python

    git(proj.root, "checkout", "-q", "-b", "moved", "main")
    add(proj, S1, "s1_table", head=proj.a, splice=True)
    r = proj.file(R)
    r.write_text(r.read_text().replace(f"= '{proj.a}'", f"= '{S1}'"))
    commit_all(proj.root, "R on S1")
    back = git_proc(proj.root, "checkout", "-q", "main")

    assert f"migfix: moved {R} ({S1} -> {proj.a}): {ADVICE}." in back.stderr, back.stderr
    assert log.read_text().count("migfix.hookrun post-checkout") == 1


# -- migfix db upgrade: one command instead of `alembic upgrade` -----------------------------------


def pulled_rebase_without_hooks(
    tmp_path: Path, env: dict[str, str] | None = None, *, guard: bool = False
) -> Proj:
    """Bob, who never installed a hook, ran R on his database; then R moved onto S2
    upstream and he pulled with --rebase. Then T, his next revision, on top of R.

    With GUARD, the guard is in the project's env.py from the start, and Bob's upgrades
    before the move start no git process after the first."""
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    if guard:
        ok(run(alice.root, "migfix", "db", "guard", "init"))
        commit_all(alice.root, "the guard")
        git(alice.root, "push", "-q", "origin", "main")
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice.root, "add R")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    git(bob.root, "fetch", "-q")
    git(bob.root, "checkout", "-q", "-b", "feature", "--track", "origin/feature")
    ok(run(bob.root, "alembic", "upgrade", "heads", env=env))
    if guard:
        assert audited_upgrade(bob.root).started == []
    git(alice.root, "checkout", "-q", "main")
    land_s1_s2(alice)
    git(alice.root, "checkout", "-q", "feature")
    ok(run(alice.root, "migfix", "rebase", "--onto", "main", "--new", R))
    commit_all(alice.root, "R onto S2")
    git(alice.root, "rebase", "-q", "main")
    git(alice.root, "push", "-q", "--force", "origin", "feature")
    pulled = git_proc(bob.root, "pull", "--rebase")
    assert pulled.returncode == 0, pulled.stderr
    add(bob, "tttt0001", "t_table")
    commit_all(bob.root, "add T")
    return bob


def test_db_upgrade_runs_what_the_move_left_unrun_then_upgrades(tmp_path: Path) -> None:
    bob = pulled_rebase_without_hooks(tmp_path)
    db = bob.root / "typed.db"
    write_row(db)

    upgraded = ok(run(bob.root, "migfix", "db", "upgrade"))

    assert f"Ran {S1}, {S2}" in upgraded.stdout
    assert "to heads: ran tttt0001." in upgraded.stdout
    assert {"r_table", "s1_table", "s2_table", "t_table"} <= tables(db)
    with sqlite3.connect(db) as c:
        assert c.execute("select note from r_table").fetchall() == [("kept",)]
    assert version(db) == ["tttt0001"]
    ok(run(bob.root, "migfix", "db", "status"))
    again = ok(run(bob.root, "migfix", "db", "upgrade"))
    assert "already at heads; nothing to upgrade" in again.stdout


def test_db_upgrade_to_a_revision_stops_there(tmp_path: Path) -> None:
    bob = pulled_rebase_without_hooks(tmp_path)
    db = bob.root / "typed.db"

    ok(run(bob.root, "migfix", "db", "upgrade", R))

    assert {"s1_table", "s2_table"} <= tables(db) and "t_table" not in tables(db)
    assert version(db) == [R]


def test_flask_migfix_db_upgrade(tmp_path: Path) -> None:
    team = make_team(tmp_path, "flask")
    alice = team.alice
    db = tmp_path / "alice-dev.db"
    env = {"FLASK_APP": "app", "DATABASE_URL": f"sqlite:///{db}"}
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice.root, "add R")
    ok(run(alice.root, "flask", "db", "upgrade", env=env))
    write_row(db)
    land_s1_s2(team.bob)
    git(alice.root, "fetch", "-q")
    ok(run(alice.root, "migfix", "rebase", "--onto", "origin/main"))
    commit_all(alice.root, "R onto S2")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    # What Flask-Migrate alone does: nothing.
    assert "Running upgrade" not in ok(run(alice.root, "flask", "db", "upgrade", env=env)).stderr
    # With the guard in env.py, it stops and says what to run instead.
    ok(run(alice.root, "flask", "migfix", "db", "guard", "init", env=env))
    stopped = run(alice.root, "flask", "db", "upgrade", env=env)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert f"{S1}, {S2} never ran on this database" in stopped.stderr
    assert "Run `flask migfix db upgrade`" in stopped.stderr

    upgraded = ok(run(alice.root, "flask", "migfix", "db", "upgrade", env=env))

    assert f"Ran {S1}, {S2}" in upgraded.stdout, upgraded.stdout
    assert {"s1_table", "s2_table"} <= tables(db)
    with sqlite3.connect(db) as c:
        assert c.execute("select note from r_table").fetchall() == [("kept",)]
    ok(run(alice.root, "flask", "migfix", "db", "status", env=env))


def test_postgres_db_upgrade(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql("create database upgrade_story")
    admin.dispose()
    url = sa.make_url(postgres_url).set(database="upgrade_story").render_as_string(False)
    env = {"MIGFIX_DATABASE_URL": url}
    bob = pulled_rebase_without_hooks(tmp_path, env)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        c.exec_driver_sql("insert into r_table (note) values ('kept')")

    upgraded = ok(run(bob.root, "migfix", "db", "upgrade", env=env))

    assert f"Ran {S1}, {S2}" in upgraded.stdout and "ran tttt0001" in upgraded.stdout
    with engine.connect() as c:
        names = set(sa.inspect(c).get_table_names())
        rows = [r[0] for r in c.exec_driver_sql("select version_num from alembic_version")]
        kept = [r[0] for r in c.exec_driver_sql("select note from r_table")]
    engine.dispose()
    assert {"r_table", "s1_table", "s2_table", "t_table"} <= names
    assert rows == ["tttt0001"] and kept == ["kept"]


GUARDED_ONLINE = """\
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata
        )

        migfix_guard(context)  # migfix db guard: stop an upgrade that would skip moved revisions

        with context.begin_transaction():
            context.run_migrations()
"""


def test_the_guard_stops_a_plain_alembic_upgrade_that_would_skip_moved_revisions(
    tmp_path: Path,
) -> None:
    bob = pulled_rebase_without_hooks(tmp_path)
    db = bob.root / "typed.db"
    env_py = bob.migrations / "env.py"
    before = env_py.read_text()

    added = ok(run(bob.root, "migfix", "db", "guard", "init"))
    again = ok(run(bob.root, "migfix", "db", "guard", "init"))

    assert "Added the guard to migrations/env.py" in added.stdout
    assert "already has the guard; nothing changed" in again.stdout
    expected = before.replace(
        "from alembic import context\n",
        "from alembic import context\nfrom migfix.db.guard import check as migfix_guard\n",
    ).replace(
        GUARDED_ONLINE.replace(
            "        migfix_guard(context)  # migfix db guard: stop an "
            "upgrade that would skip moved revisions\n\n",
            "",
        ),
        GUARDED_ONLINE,
    )
    assert env_py.read_text() == expected

    stopped = run(bob.root, "alembic", "upgrade", "heads")

    assert stopped.returncode == 255  # alembic's exit code for a CommandError
    said = stopped.stderr
    assert f"records {R}, but {R} moved ({bob.a} -> {S2}) after it ran there" in said, said
    assert f"{S1}, {S2} never ran on this database" in said
    assert "Run `migfix db upgrade`, which runs them and then upgrades" in said
    assert "Traceback" not in said
    assert version(db) == [R] and "t_table" not in tables(db)
    # migfix's own upgrade goes through the same env.py, guard and all.
    ok(run(bob.root, "migfix", "db", "upgrade"))
    assert version(db) == ["tttt0001"]
    ok(run(bob.root, "alembic", "upgrade", "heads"))
    # A downgrade is never stopped.
    downgraded = ok(run(bob.root, "alembic", "downgrade", "-1"))
    assert "Running downgrade" in downgraded.stderr


def test_the_guard_lets_every_upgrade_through_when_nothing_moved_and_outside_git(
    tmp_path: Path,
) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    ok(run(alice.root, "migfix", "db", "guard", "init"))
    add(alice, R, "r_table")
    commit_all(alice.root, "add R and the guard")
    ok(run(alice.root, "alembic", "upgrade", "heads"))
    assert version(alice.root / "typed.db") == [R]

    outside = alice.copy(tmp_path / "outside")
    add(outside, S1, "s1_table")
    ok(run(outside.root, "alembic", "upgrade", "heads"))
    assert version(outside.root / "typed.db") == [S1]


# A real `alembic upgrade` (alembic.config.main, what the `alembic` command runs) with an audit
# hook that lists every process the run starts: the guard's usual case must start none.
AUDITED_UPGRADE = """\
import json, sys

started = []


def audit(event, args):
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.system", "os.fork"):
        argv = args[1] if len(args) > 1 else args
        words = argv if isinstance(argv, (list, tuple)) else [argv]
        started.append(" ".join([event, *map(str, words)]))


sys.addaudithook(audit)
from alembic.config import main

try:
    main(argv=["upgrade", "heads"], prog="alembic")
finally:
    print(json.dumps(started))
"""


class Audited(NamedTuple):
    proc: subprocess.CompletedProcess[str]
    started: list[str]
    """Each process the upgrade started, as ``<event> <argv>``."""


def audited_upgrade(cwd: Path) -> Audited:
    proc = python(cwd, "-c", AUDITED_UPGRADE)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "null"
    started = json.loads(last)
    assert isinstance(started, list), proc.stdout + proc.stderr
    return Audited(proc, started)


def test_the_guard_starts_no_git_process_when_nothing_moved(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    ok(run(alice.root, "migfix", "db", "guard", "init"))
    add(alice, R, "r_table")
    commit_all(alice.root, "add R and the guard")
    git(alice.root, "push", "-q", "origin", "main")
    carol = Proj(tmp_path / "carol", "typed")
    git(tmp_path, "clone", "-q", str(team.remote), "carol")

    # A fresh clone: one state in HEAD's reflog, nothing to compare.
    fresh = audited_upgrade(carol.root)
    assert fresh.proc.returncode == 0, fresh.proc.stderr
    assert fresh.started == [] and "Running upgrade" in fresh.proc.stderr
    assert version(carol.root / "typed.db") == [R]
    # A commit that changed no migration: the first upgrade compares the reflog's states
    # once (one `git cat-file`, seen by the audit hook), and leaves its mark for the next ones.
    (carol.root / "app.py").write_text("x = 1\n")
    commit_all(carol.root, "app only")
    first = audited_upgrade(carol.root)
    assert first.proc.returncode == 0, first.proc.stderr
    assert [p.split(" ", 3)[1:3] for p in first.started] == [["git", "cat-file"]]
    again = audited_upgrade(carol.root)
    assert again.proc.returncode == 0 and again.started == []
    # A linked worktree (a `.git` file), on its own database.
    git(carol.root, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    in_worktree = audited_upgrade(tmp_path / "wt")
    assert in_worktree.proc.returncode == 0, in_worktree.proc.stderr
    assert in_worktree.started == []
    assert version(tmp_path / "wt" / "typed.db") == [R]
    # Outside git.
    outside = carol.copy(tmp_path / "outside")
    out = audited_upgrade(outside.root)
    assert out.proc.returncode == 0 and out.started == []
    assert version(outside.root / "typed.db") == [R]


def test_the_guard_stops_after_a_move_only_the_journal_knows(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    ok(run(alice.root, "migfix", "db", "guard", "init"))
    commit_all(alice.root, "the guard")
    git(alice.root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice.root, "add R")
    ok(run(alice.root, "alembic", "upgrade", "heads"))
    land_s1_s2(team.bob)
    git(alice.root, "fetch", "-q")
    # R moves in the work tree, not yet committed: the journal records it, and no state of
    # HEAD's reflog declares R anywhere else than on A.
    ok(run(alice.root, "migfix", "rebase", "--onto", "origin/main"))
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    assert git(alice.root, "status", "--porcelain", "--", "migrations").startswith(" M ")

    # Twice: the first scan of the reflog finds nothing there and leaves its mark, which must
    # not hide the journal's move from the second.
    for _ in range(2):
        stopped = run(alice.root, "alembic", "upgrade", "heads")
        assert stopped.returncode == 255, stopped.stdout + stopped.stderr
        assert f"but {R} moved ({alice.a} -> {S2}) after it ran there" in stopped.stderr
        assert f"{S1}, {S2} never ran on this database" in stopped.stderr
    assert version(alice.root / "typed.db") == [R]


def test_the_guard_stops_a_move_pulled_after_upgrades_it_let_through(tmp_path: Path) -> None:
    bob = pulled_rebase_without_hooks(tmp_path, guard=True)

    stopped = audited_upgrade(bob.root)

    assert stopped.proc.returncode == 255, stopped.proc.stdout + stopped.proc.stderr
    said = stopped.proc.stderr
    assert f"records {R}, but {R} moved ({bob.a} -> {S2}) after it ran there" in said, said
    assert f"{S1}, {S2} never ran on this database" in said
    assert version(bob.root / "typed.db") == [R]


def test_guard_init_refuses_an_env_py_it_does_not_know_and_shows_the_lines(
    tmp_path: Path,
) -> None:
    proj = new_project(tmp_path, "typed")
    env_py = proj.migrations / "env.py"
    env_py.write_text("from alembic import context\nprint('custom')\n")

    refused = run(proj.root, "migfix", "db", "guard", "init")
    shown = ok(run(proj.root, "migfix", "db", "guard", "init", "--show"))

    assert refused.returncode == 2, refused.stderr
    assert "Cannot tell where the guard goes in" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert env_py.read_text() == "from alembic import context\nprint('custom')\n"
    assert "from migfix.db.guard import check as migfix_guard" in shown.stdout
    assert "migfix_guard(context)" in shown.stdout


def test_db_commands_from_a_monorepo_root_act_on_each_project_and_its_database(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "mono"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    backend = new_project(tmp_path, "typed", "backend").copy(repo / "backend")
    billing = new_project(tmp_path, "typed", "billing").copy(repo / "billing")
    (repo / ".gitignore").write_text("__pycache__/\n*.db\n")
    commit_all(repo, "two services")
    git(repo, "checkout", "-q", "-b", "feature")
    add(backend, R, "r_table")
    commit_all(repo, "add R")
    ok(run(backend.root, "alembic", "upgrade", "heads"))
    ok(run(billing.root, "alembic", "upgrade", "heads"))
    db = backend.root / "typed.db"
    write_row(db)
    git(repo, "checkout", "-q", "main")
    add(backend, S1, "s1_table")
    add(backend, S2, "s2_table")
    commit_all(repo, "add S1, S2")
    git(repo, "checkout", "-q", "feature")
    ok(run(backend.root, "migfix", "rebase", "--onto", "main"))
    commit_all(repo, "R onto S2")
    git(repo, "merge", "-q", "--no-edit", "main")

    status = run(repo, "migfix", "db", "status")
    as_json = json.loads(run(repo, "migfix", "db", "status", "--json").stdout)

    assert status.returncode == 1, status.stdout + status.stderr
    first, second = status.stdout.split("==> billing <==")
    assert "==> backend <==" in first and f"{S1}, {S2} never ran here" in first
    assert "in step" in second
    assert [(p["project"], p["exit_code"]) for p in as_json] == [("backend", 1), ("billing", 0)]

    upgraded = ok(run(repo, "migfix", "db", "upgrade"))

    assert f"Ran {S1}, {S2}" in upgraded.stdout.split("==> billing <==")[0]
    assert version(db) == [R] and {"s1_table", "s2_table"} <= tables(db)
    with sqlite3.connect(db) as c:
        assert c.execute("select note from r_table").fetchall() == [("kept",)]
    assert version(billing.root / "typed.db") == ["bbbb0004"]
    ok(run(repo, "migfix", "db", "status"))


def test_a_database_is_known_by_the_url_as_the_connection_resolves_it(tmp_path: Path) -> None:
    # sqlalchemy.url = sqlite:///typed.db is relative: Alembic resolves it from the folder
    # env.py runs in. Sync from migrations/, then from the root: the same database, synced
    # once; `db status` from either folder says in step.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    ini = alice.root / "alembic.ini"
    ini.write_text(ini.read_text().replace("sqlite:///%(here)s/typed.db", "sqlite:///typed.db"))
    commit_all(alice.root, "relative url")
    git(alice.root, "push", "-q", "origin", "main")
    git(team.bob.root, "pull", "-q")
    ok(run(alice.root, "migfix", "hook", "install"))
    db = feature_with_r(alice)
    land_s1_s2(team.bob)
    ok_pull = git_proc(alice.root, "pull", "--no-rebase", "--no-edit", "origin", "main")
    assert ok_pull.returncode == 0, ok_pull.stderr

    synced = ok(run(alice.migrations, "migfix", "db", "sync"))
    assert f"Ran {S1}, {S2}" in synced.stdout, synced.stdout

    again = run(alice.root, "migfix", "db", "sync")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing to do" in again.stdout, again.stdout
    assert not (alice.migrations / "typed.db").exists()
    # A hand-edited line whose "old" is a string (read as parents r, r, r, ...) is named and
    # never planned on.
    journal = alice.root / ".git" / "migfix-moves.jsonl"
    lines = journal.read_text().splitlines()
    bad = json.dumps({"kind": "move", "revision": R, "old": R, "new": [S2], "when": 1, "by": "x"})
    journal.write_text("\n".join([*lines, bad]) + "\n")
    for where in (alice.root, alice.migrations):
        status = ok(run(where, "migfix", "db", "status"))
        assert "in step" in status.stdout, status.stdout
        assert f'line {len(lines) + 1}: "old" is not a list of revision ids' in status.stdout
    assert {"r_table", "s1_table", "s2_table"} <= tables(db)
    plan = run(alice.root, "migfix", "db", "sync", "--dry-run")
    assert plan.returncode == 0 and "Nothing to do" in plan.stdout, plan.stdout + plan.stderr


def test_the_hook_syncs_a_sub_folder_project_at_the_root_and_status_there_agrees(
    tmp_path: Path,
) -> None:
    # backend/alembic.ini with sqlalchemy.url = sqlite:///app.db: the hook runs at the
    # repository root, the user later in backend/. Both mean backend/app.db, the file the
    # connection opens from the config's folder; a key taken from the caller's folder made
    # db status and db sync there see a database that never ran the moved revisions.
    remote = tmp_path / "origin.git"
    remote.mkdir()
    git(remote, "init", "-q", "--bare", "-b", "main")
    seed = new_project(tmp_path, "typed", "seed")
    alice_root = tmp_path / "alice"
    alice_root.mkdir()
    git(alice_root, "init", "-q", "-b", "main")
    seed.root.rename(alice_root / "backend")
    alice = Proj(alice_root / "backend", "typed")
    ini = alice.root / "alembic.ini"
    ini.write_text(ini.read_text().replace("sqlite:///%(here)s/typed.db", "sqlite:///app.db"))
    (alice.root / "pyproject.toml").write_text("[tool.migfix]\nsync_db = true\n")
    (alice_root / ".gitignore").write_text("__pycache__/\n*.db\n")
    commit_all(alice_root, "project")
    git(alice_root, "remote", "add", "origin", str(remote))
    git(alice_root, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(remote), "bob")
    bob = Proj(tmp_path / "bob" / "backend", "typed")
    ok(run(alice_root, "migfix", "hook", "install"))
    git(alice_root, "checkout", "-q", "-b", "feature")
    add(alice, R, "r_table")
    commit_all(alice_root, "add R")
    ok(run(alice.root, "alembic", "upgrade", "heads"))
    db = alice.root / "app.db"
    write_row(db)
    add(bob, S1, "s1_table")
    add(bob, S2, "s2_table")
    commit_all(bob.root.parent, "add S1, S2")
    git(bob.root.parent, "push", "-q", "origin", "main")

    pulled = git_proc(alice_root, "pull", "--no-rebase", "--no-edit", "origin", "main")

    assert f"Ran {S1}, {S2} on sqlite:///app.db" in pulled.stderr, pulled.stderr
    for where in (alice.root, alice.migrations, alice_root):
        status = ok(run(where, "migfix", "db", "status"))
        assert "in step" in status.stdout, (where, status.stdout)
        again = ok(run(where, "migfix", "db", "sync"))
        assert "Nothing to do" in again.stdout, (where, again.stdout)
    assert version(db) == [R] and {"r_table", "s1_table", "s2_table"} <= tables(db)
    assert not (alice_root / "app.db").exists() and not (alice.migrations / "app.db").exists()


def test_a_one_letter_password_is_masked_in_the_url_not_in_the_whole_message(
    tmp_path: Path,
) -> None:
    # Replacing "e" everywhere told the password: "conn***ction r***fus***d".
    proj = new_project(tmp_path, "typed")
    url = "postgresql+psycopg://app:e@127.0.0.1:1/app"

    failed = run(proj.root, "migfix", "db", "status", "--url", url)

    said = failed.stdout + failed.stderr
    assert failed.returncode == 2, said
    assert "refused" in said and "Check that the database is reachable" in said, said
    assert "***" not in said.replace("app:***@", ""), said
    assert ":e@" not in said, said
