"""migfix verify and Flask-Migrate support: real migrations on real SQLite files.

The Flask projects are copies of ``tests/data/verify/`` (generated with ``flask db init``
and ``flask db migrate --rev-id ...``, see the README there). Every run of the CLI is a
subprocess: each project has its own ``app`` module, which must not be cached between tests.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, SRC, python_m
from gitutil import commit_all, git, make_repo, write
from projutil import migfix_proc

from migfix.db.verify import Step, plan_full, plan_only_new, plan_steps
from migfix.project.config import find_project
from migfix.project.flask_app import flask_directory
from migfix.read.graph import read_graph

pytestmark = pytest.mark.usefixtures("git_env")


DATA = Path(__file__).resolve().parents[1] / "data" / "verify"

BROKEN_DOWNGRADE = '''"""broken downgrade

Revision ID: dddd0004
Revises: cccc0003
"""
from alembic import op
import sqlalchemy as sa

revision = "dddd0004"
down_revision = "cccc0003"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("post", sa.Column("body", sa.Text()))


def downgrade():
    op.drop_table("comment")
'''


def errors(proc: subprocess.CompletedProcess[str]) -> str:
    """stderr without Alembic's own INFO log lines (env.py's logging config prints them)."""
    return "\n".join(
        line for line in proc.stderr.splitlines() if not line.startswith(("INFO ", "WARNI"))
    )


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DATA / "flaskapp", tmp_path / "proj"))


def ok_line(exercised: str, revisions: int = 3, note: str = "") -> str:
    return (
        f"verify: ok on a temporary SQLite database: upgraded to heads ({revisions} revisions), "
        f"{exercised}{note}.\n"
    )


def break_downgrade(path: Path) -> None:
    text = path.read_text()
    head, _, _ = text.partition("def downgrade():")
    path.write_text(head + 'def downgrade():\n    op.drop_table("no_such_table")\n')


# -- the Flask app of tests/data/verify/flaskapp -------------------------------------------


@pytest.mark.slow
def test_verify_passes_and_never_touches_the_apps_database(app_dir: Path) -> None:
    real = app_dir / "app.db"
    with sqlite3.connect(real) as conn:
        conn.execute("CREATE TABLE precious (id INTEGER)")
    before = real.read_bytes()
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line("stepped 1 revision(s) down and up again (cccc0003)")
    assert real.read_bytes() == before
    assert _listing(app_dir) == ["app.db", "app.py", "migrations"]


@pytest.mark.slow
def test_broken_downgrade_is_named_with_direction_and_database_error(app_dir: Path) -> None:
    write(app_dir / "migrations/versions/dddd0004_broken.py", BROKEN_DOWNGRADE)
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert errors(proc) == (
        "migfix: Revision dddd0004 (migrations/versions/dddd0004_broken.py) failed on "
        "downgrade, during `alembic downgrade dddd0004@-1` on a temporary SQLite database: "
        "sqlite3.OperationalError: no such table: comment [SQL: DROP TABLE comment]. Fix its "
        "downgrade() and run migfix verify again."
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broken", "args"),
    [("aaaa0001_users.py", ("--full",)), ("bbbb0002_posts.py", ("--steps", "2"))],
)
def test_deeper_modes_reach_older_revisions(app_dir: Path, broken: str, args: tuple[str]) -> None:
    break_downgrade(app_dir / "migrations/versions" / broken)
    # The default (one step) never runs that downgrade ...
    assert migfix_proc(app_dir, "verify").returncode == 0
    # ... the deeper mode does, and names it.
    proc = migfix_proc(app_dir, "verify", *args)
    assert proc.returncode == 1
    rev = broken[:8]
    assert errors(proc) == (
        f"migfix: Revision {rev} (migrations/versions/{broken}) failed on downgrade, during "
        f"`alembic downgrade {rev}@-1` on a temporary SQLite database: "
        "sqlite3.OperationalError: no such table: no_such_table [SQL: DROP TABLE no_such_table]. "
        "Fix its downgrade() and run migfix verify again."
    )


@pytest.mark.slow
def test_full_and_steps_report_what_they_exercised(app_dir: Path) -> None:
    full = migfix_proc(app_dir, "verify", "--full")
    assert full.stdout == ok_line(
        "stepped 3 revision(s) down and up again (aaaa0001, bbbb0002, cccc0003)"
    )
    two = migfix_proc(app_dir, "verify", "--steps", "2")
    assert two.stdout == ok_line("stepped 2 revision(s) down and up again (bbbb0002, cccc0003)")


@pytest.mark.slow
def test_url_stamped_with_a_revision_is_not_an_empty_database(
    app_dir: Path, tmp_path: Path
) -> None:
    # Only alembic_version, at a revision (say, a database of data-only migrations): it is not
    # empty. Running verify on it would step the real database down, and report upgrades that
    # never ran.
    target = tmp_path / "given.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('cccc0003')")
    before = target.read_bytes()
    url = f"sqlite:///{target}"
    proc = migfix_proc(app_dir, "verify", "--url", url)
    assert proc.returncode == 2
    assert errors(proc) == (
        f"migfix: The database {url} already has tables (alembic_version); verify downgrades "
        "and upgrades, which can destroy data. Nothing was migrated. Give an empty database, or "
        "pass --allow-existing if this one may be changed."
    )
    assert target.read_bytes() == before


@pytest.mark.slow
def test_url_with_tables_is_refused_unless_allowed(app_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "given.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE customer (id INTEGER)")
    before = target.read_bytes()
    url = f"sqlite:///{target}"
    proc = migfix_proc(app_dir, "verify", "--url", url)
    assert proc.returncode == 2
    assert errors(proc) == (
        f"migfix: The database {url} already has tables (customer); verify downgrades and "
        "upgrades, which can destroy data. Nothing was migrated. Give an empty database, or "
        "pass --allow-existing if this one may be changed."
    )
    assert target.read_bytes() == before
    # The same database through the environment variable, now allowed.
    proc = migfix_proc(app_dir, "verify", "--allow-existing", env={"MIGFIX_DATABASE_URL": url})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line("stepped 1 revision(s) down and up again (cccc0003)").replace(
        "a temporary SQLite database", url
    )
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("cccc0003",)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"customer", "user", "post"} <= tables
    assert not (app_dir / "app.db").exists()


@pytest.mark.slow
def test_env_py_importing_a_missing_module_gets_one_clear_paragraph(app_dir: Path) -> None:
    env_py = app_dir / "migrations/env.py"
    env_py.write_text("import migfix_no_such_pkg.sub\n" + env_py.read_text())
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 2
    assert errors(proc) == (
        "migfix: Cannot import the project's migration environment: No module named "
        "'migfix_no_such_pkg' (imported by migrations/env.py). verify runs env.py and the app's "
        "code like Alembic does, so they must import: install 'migfix_no_such_pkg' in the "
        "environment migfix runs in (or run migfix from the project's virtualenv), or fix the "
        "import. Nothing was migrated."
    )


@pytest.mark.slow
def test_app_factory_that_needs_settings(app_dir: Path) -> None:
    with (app_dir / "app.py").open("a") as f:
        f.write('\nif "SECRET_KEY" not in os.environ:\n    raise KeyError("SECRET_KEY")\n')
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 2
    assert errors(proc) == (
        "migfix: Creating the Flask app failed: KeyError: 'SECRET_KEY'. The app factory may "
        "need settings (environment variables, a .env file or an instance config): set them as "
        "you would for `flask db upgrade`, and run again."
    )
    assert migfix_proc(app_dir, "verify", env={"SECRET_KEY": "x"}).returncode == 0


@pytest.mark.slow
def test_only_new_in_a_repo_with_a_bare_remote(app_dir: Path, tmp_path: Path) -> None:
    # A settled revision with a broken downgrade: --only-new must not step it down.
    break_downgrade(app_dir / "migrations/versions/aaaa0001_users.py")
    make_repo(app_dir)
    write(app_dir / ".gitignore", "__pycache__/\n*.db\n")
    commit_all(app_dir, "app")
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(app_dir, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(app_dir, "push", "-q", "-u", "origin", "main")
    git(app_dir, "checkout", "-q", "-b", "feature")
    good = BROKEN_DOWNGRADE.replace('op.drop_table("comment")', 'op.drop_column("post", "body")')
    write(app_dir / "migrations/versions/dddd0004_body.py", good)
    commit_all(app_dir, "body")

    proc = migfix_proc(app_dir, "verify", "--only-new", "--upstream", "origin/main")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line(
        "stepped 1 revision(s) down and up again (dddd0004)", 4, "; new = not on origin/main"
    )
    assert migfix_proc(app_dir, "verify", "--full").returncode == 1

    # A new revision with a broken downgrade is caught (uncommitted counts as new too).
    bad = BROKEN_DOWNGRADE.replace("dddd0004", "eeee0005").replace("cccc0003", "dddd0004")
    write(app_dir / "migrations/versions/eeee0005_bad.py", bad.replace('"body"', '"summary"'))
    proc = migfix_proc(app_dir, "verify", "--only-new", "--upstream", "origin/main")
    assert proc.returncode == 1
    assert errors(proc).startswith(
        "migfix: Revision eeee0005 (migrations/versions/eeee0005_bad.py) failed on downgrade"
    )


# -- Flask-Migrate layouts -----------------------------------------------------------------


@pytest.mark.slow
def test_multidb_layout_scans_and_verifies(tmp_path: Path) -> None:
    proj = Path(shutil.copytree(DATA / "multidb", tmp_path / "proj"))
    project = find_project(proj)
    assert project.kind == "flask"
    assert [f.revision for f in read_graph(project).files] == ["aaaa0001", "bbbb0002"]
    assert migfix_proc(proj, "heads").stdout == "bbbb0002 (head)\n"
    proc = migfix_proc(proj, "verify", "--full")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line("stepped 2 revision(s) down and up again (aaaa0001, bbbb0002)", 2)
    # Neither of the app's two databases was created.
    assert _listing(proj) == ["app.py", "migrations"]
    # A broken downgrade in the second database is caught too.
    break_downgrade_of = proj / "migrations/versions/bbbb0002_logins.py"
    text = break_downgrade_of.read_text()
    break_downgrade_of.write_text(
        text.replace("op.drop_table('login')", "op.drop_table('no_such_table')")
    )
    proc = migfix_proc(proj, "verify")
    assert proc.returncode == 1
    assert "Revision bbbb0002 (migrations/versions/bbbb0002_logins.py) failed on downgrade" in (
        errors(proc)
    )


def custom_directory_app(app_dir: Path) -> Path:
    (app_dir / "migrations").rename(app_dir / "db_migrations")
    app_py = app_dir / "app.py"
    app_py.write_text(
        app_py.read_text().replace(
            "migrate = Migrate(app, db)", 'migrate = Migrate(app, db, directory="db_migrations")'
        )
    )
    return app_dir


@pytest.mark.slow
def test_migrate_directory_is_found_statically(app_dir: Path) -> None:
    custom_directory_app(app_dir)
    assert flask_directory(app_dir) == app_dir / "db_migrations"
    project = find_project(app_dir)
    assert (project.kind, project.script_location) == ("flask", app_dir / "db_migrations")
    assert migfix_proc(app_dir, "heads").stdout == "cccc0003 (head)\n"
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_nested_migrate_directory_keeps_the_app_directory_as_the_root(app_dir: Path) -> None:
    # Migrate(app, db, directory="db/migs"): Flask-Migrate resolves it against the app's
    # directory, so that is the project root (paths in reports, where verify loads the app).
    (app_dir / "db").mkdir()
    (app_dir / "migrations").rename(app_dir / "db" / "migs")
    app_py = app_dir / "app.py"
    app_py.write_text(
        app_py.read_text().replace(
            "migrate = Migrate(app, db)", 'migrate = Migrate(app, db, directory="db/migs")'
        )
    )
    project = find_project(app_dir)
    assert (project.root, project.script_location) == (app_dir, app_dir / "db" / "migs")
    heads = json.loads(migfix_proc(app_dir, "heads", "--json").stdout)["heads"]
    assert [h["path"] for h in heads] == ["db/migs/versions/cccc0003_longer_names.py"]
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_flask_app_environment_variable_names_the_app(app_dir: Path) -> None:
    # The app lives in a module that is neither app.py nor wsgi.py: FLASK_APP names it, as
    # for `flask db upgrade` (and migfix's own message tells the user to set it).
    (app_dir / "app.py").rename(app_dir / "service.py")
    proc = migfix_proc(app_dir, "verify")
    assert proc.returncode == 2
    assert "Set FLASK_APP" in errors(proc)
    proc = migfix_proc(app_dir, "verify", env={"FLASK_APP": "service"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line("stepped 1 revision(s) down and up again (cccc0003)")


@pytest.mark.slow
def test_directory_option(app_dir: Path) -> None:
    (app_dir / "migrations").rename(app_dir / "elsewhere")
    # Not where Flask-Migrate looks by default; discovery still finds the folder (env.py
    # beside alembic.ini) and names it.
    proc = migfix_proc(app_dir, "heads")
    assert proc.stdout == "==> elsewhere/alembic.ini <==\ncccc0003 (head)\n"
    assert migfix_proc(app_dir, "heads", "-d", "elsewhere").stdout == "cccc0003 (head)\n"
    assert migfix_proc(app_dir, "heads", "--directory", "elsewhere").stdout == "cccc0003 (head)\n"
    proc = migfix_proc(app_dir, "heads", "-d", "nowhere")
    assert errors(proc) == (
        f"migfix: --directory {app_dir / 'nowhere'}: no alembic.ini or env.py there. Give the "
        "migrations folder itself (the one `flask db init` created, holding env.py and "
        "versions/)."
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('migrate = Migrate(app, db, directory="m1")', "m1"),
        ("migrate = Migrate(app, db, 'm2')", "m2"),
        ('migrate.init_app(app, db, directory="sub/m3")', "sub/m3"),
        ("migrate = Migrate(app, db, directory=os.path.join(base, 'x'))", None),
        ("migrate = Migrate(app, db)", None),
    ],
)
def test_flask_directory_reads_only_literals(tmp_path: Path, source: str, expected: str) -> None:
    write(tmp_path / "pkg/__init__.py", f"from flask_migrate import Migrate\n{source}\n")
    found = flask_directory(tmp_path)
    assert found == (tmp_path / expected if expected else None)


# -- `flask migfix` through the flask.commands entry point ---------------------------------


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH on which migfix is an installed distribution with its entry points.

    ``pip install`` of the worktree needs hatchling, which the dev environment lacks, and
    network access; what Flask looks up is only the distribution's ``entry_points.txt``, so
    the dist-info is written from pyproject.toml's own table (the thing under test).
    """
    import tomllib

    from migfix import __version__  # the version's one source (pyproject.toml reads it)

    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = data["project"]
    site = tmp_path_factory.mktemp("site")
    info = site / f"migfix-{__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: migfix\nVersion: {__version__}\n")
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return os.pathsep.join([str(SRC), str(site)])


def flask(cwd: Path, pythonpath: str, *args: str) -> subprocess.CompletedProcess[str]:
    return python_m(cwd, "flask", *args, env={"PYTHONPATH": pythonpath})


@pytest.mark.slow
def test_flask_migfix_heads_uses_the_apps_directory(app_dir: Path, installed: str) -> None:
    custom_directory_app(app_dir)
    # Hide the literal from the static scan: only the app itself knows the folder now.
    app_py = app_dir / "app.py"
    app_py.write_text(
        app_py.read_text().replace('directory="db_migrations"', 'directory="db_" + "migrations"')
    )
    # Discovery still finds the folder (env.py beside alembic.ini), under a heading;
    # `flask migfix` asks the app, which names exactly one project.
    assert migfix_proc(app_dir, "heads").stdout.startswith("==> db_migrations/alembic.ini <==\n")
    proc = flask(app_dir, installed, "migfix", "heads")
    assert (proc.returncode, proc.stdout) == (0, "cccc0003 (head)\n"), proc.stderr
    # A second head: migfix's exit code 1 survives Flask's standalone mode.
    second = BROKEN_DOWNGRADE.replace("dddd0004", "eeee0005").replace('"cccc0003"', '"bbbb0002"')
    write(app_dir / "db_migrations/versions/eeee0005_other.py", second)
    proc = flask(app_dir, installed, "migfix", "heads")
    assert (proc.returncode, proc.stdout) == (1, "cccc0003 (head)\neeee0005 (head)\n")
    (app_dir / "db_migrations/versions/eeee0005_other.py").unlink()
    proc = flask(app_dir, installed, "migfix", "verify", "--full")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line(
        "stepped 3 revision(s) down and up again (aaaa0001, bbbb0002, cccc0003)"
    )
    # An error becomes migfix's one paragraph and exit code 2, not a traceback.
    proc = flask(app_dir, installed, "migfix", "heads", "-d", "nowhere")
    assert proc.returncode == 2
    assert proc.stderr.startswith("migfix: --directory ")
    assert "Traceback" not in proc.stderr


# -- plain Alembic, with a merge revision ----------------------------------------------------

PLAIN_ENV = """\
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def plain_revision(rev: str, down: str | tuple[str, ...] | None, table: str | None) -> str:
    up = f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))'
    return textwrap.dedent(f'''\
        """{rev}"""
        from alembic import op
        import sqlalchemy as sa

        revision = "{rev}"
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            {up if table else "pass"}


        def downgrade():
            {f'op.drop_table("{table}")' if table else "pass"}
        ''')


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    proj = tmp_path / "plain"
    write(
        proj / "alembic.ini",
        "[alembic]\nscript_location = %(here)s/migrations\n"
        "sqlalchemy.url = driver://user:pass@localhost/dbname\n",
    )
    write(proj / "migrations/env.py", PLAIN_ENV)
    write(proj / "migrations/script.py.mako", "")
    versions = proj / "migrations/versions"
    write(versions / "aaaa0001_a.py", plain_revision("aaaa0001", None, "a"))
    write(versions / "bbbb0002_b.py", plain_revision("bbbb0002", "aaaa0001", "b"))
    write(versions / "cccc0003_c.py", plain_revision("cccc0003", "aaaa0001", "c"))
    write(versions / "dddd0004_m.py", plain_revision("dddd0004", ("bbbb0002", "cccc0003"), None))
    return proj


def test_plans_step_merges_down_through_a_parent(plain: Path) -> None:
    graph = read_graph(find_project(plain))
    assert plan_steps(graph, 1).steps == (
        Step("upgrade", "heads", None),
        # `dddd0004@-1` would be Alembic's "Ambiguous walk".
        Step("downgrade", "bbbb0002", "dddd0004"),
        Step("upgrade", "dddd0004", "dddd0004"),
    )
    assert [s.target for s in plan_full(graph).steps] == [
        "heads",
        "bbbb0002",
        "cccc0003@-1",
        "bbbb0002@-1",
        "aaaa0001@-1",
        "aaaa0001",
        "bbbb0002",
        "cccc0003",
        "dddd0004",
    ]
    only = plan_only_new(graph, frozenset({"cccc0003", "dddd0004"}))
    assert [(s.direction, s.target) for s in only.steps] == [
        ("upgrade", "bbbb0002"),
        ("upgrade", "cccc0003"),
        ("downgrade", "cccc0003@-1"),
        ("upgrade", "cccc0003"),
        ("upgrade", "dddd0004"),
        ("downgrade", "bbbb0002"),
        ("upgrade", "dddd0004"),
    ]
    assert only.exercised == ("cccc0003", "dddd0004")


@pytest.mark.slow
def test_plain_alembic_with_merge_verifies_fully(plain: Path) -> None:
    for args in ((), ("--full",)):
        proc = migfix_proc(plain, "verify", *args)
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line(
        "stepped 4 revision(s) down and up again (aaaa0001, bbbb0002, cccc0003, dddd0004)", 4
    )


@pytest.mark.slow
def test_env_py_that_ignores_the_url_is_refused_before_migrating(plain: Path) -> None:
    env_py = plain / "migrations/env.py"
    real = plain / "real.db"
    env_py.write_text(
        env_py.read_text().replace(
            'config.get_section(config.config_ini_section, {}), prefix="sqlalchemy."',
            f'{{"sqlalchemy.url": "sqlite:///{real}"}}, prefix="sqlalchemy."',
        )
    )
    proc = migfix_proc(plain, "verify")
    assert proc.returncode == 2
    assert errors(proc) == (
        f"migfix: env.py connected to sqlite:///{real} instead of the database migfix gave it, "
        "so it takes its URL from somewhere other than sqlalchemy.url (or the Flask app's "
        'engine). Nothing was migrated. Make env.py read config.get_main_option("sqlalchemy.url"), '
        "or pass --use-app-db to run on the database env.py chooses."
    )
    with sqlite3.connect(real) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


@pytest.mark.slow
def test_use_app_db_migrates_the_apps_own_database_only_when_allowed(app_dir: Path) -> None:
    proc = migfix_proc(app_dir, "verify", "--use-app-db")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ok_line("stepped 1 revision(s) down and up again (cccc0003)").replace(
        "a temporary SQLite database", "the app's database"
    )
    with sqlite3.connect(app_dir / "app.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("cccc0003",)]
    # Now it has tables: a second run needs --allow-existing.
    proc = migfix_proc(app_dir, "verify", "--use-app-db")
    assert proc.returncode == 2
    assert "already has tables (post, user)" in errors(proc)
    assert migfix_proc(app_dir, "verify", "--use-app-db", "--allow-existing").returncode == 0


def _listing(folder: Path) -> list[str]:
    """What a folder holds, less the bytecode Python writes when it imports the app there
    (present or not depending on PYTHONDONTWRITEBYTECODE)."""
    return sorted(p.name for p in folder.iterdir() if p.name != "__pycache__")
