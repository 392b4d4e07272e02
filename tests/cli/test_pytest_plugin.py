"""The pytest plugin, driven by ``pytester`` on copies of the fixture projects.

Each run is a subprocess (``runpytest_subprocess``): the plugin is loaded through its
installed ``pytest11`` entry point, as for a user, and each project's env.py and models
are imported fresh.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES
from gitutil import GIT_ENV, commit_all, git, make_repo

pytestmark = pytest.mark.slow

pytest_plugins = ("pytester",)

HEAVY = ("alembic", "sqlalchemy", "libcst", "git")
# What an idle plugin loads of migfix (sorted).
IDLE = ["migfix", "migfix.cli", "migfix.cli.pytest_plugin", "migfix.errors", "migfix.pytest_plugin"]


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    for var in ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "MIGFIX_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)


def project(pytester: pytest.Pytester, name: str) -> Path:
    shutil.copytree(FIXTURES / name, pytester.path, dirs_exist_ok=True)
    return pytester.path


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """migfix item name -> PASSED / FAILED / SKIPPED, from ``-rA`` summary lines."""
    found: dict[str, str] = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "SKIPPED"):
            if line.startswith(word + " ") and "migfix-" in line:
                name = line.split("migfix-", 1)[1].split()[0]
                found["migfix-" + name.rstrip(":")] = word
    return found


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", *args)


def test_off_by_default_and_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    project(pytester, "two_heads")
    pytester.makepyfile(
        test_user=f"""
        import sys

        def test_plugin_loaded_but_idle():
            assert "migfix.pytest_plugin" in sys.modules
            heavy = [m for m in {HEAVY!r} if m in sys.modules]
            assert heavy == []
            # Nor migfix's own modules beyond the plugin and its errors.
            ours = sorted(m for m in sys.modules if m.startswith("migfix"))
            assert ours == {IDLE!r}
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "::migfix-" not in result.stdout.str()


def test_graph_item_fails_with_migfixs_message(pytester: pytest.Pytester) -> None:
    project(pytester, "two_heads")
    result = run(pytester, "--migfix")
    assert outcomes(result) == {
        "migfix-graph": "FAILED",
        "migfix-roundtrip": "PASSED",
        "migfix-new": "SKIPPED",
    }
    result.stdout.fnmatch_lines(
        [
            "*_ migfix-graph _*",
            "migrations/versions/cccc0003_create_team_table.py:15: error: 2 heads without "
            "branch labels: cccc0002 (cccc0002_add_user_email.py), cccc0003 "
            "(cccc0003_create_team_table.py); `alembic upgrade head` fails on this. Run "
            "`migfix merge` to join them*",
            "3 revisions, 2 heads: 1 error, 0 warnings",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "PASSED alembic.ini::migfix-roundtrip",
            "SKIPPED [[]1[]] alembic.ini:1: migfix-new: no new revisions to exercise (not in a "
            "git repository*",
            "FAILED alembic.ini::migfix-graph - *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_labelled_heads_and_merge_points_pass(pytester: pytest.Pytester) -> None:
    project(pytester, "labels")
    result = run(pytester, "--migfix", "-k", "graph")
    assert outcomes(result) == {"migfix-graph": "PASSED"}


def test_roundtrip_steps_through_merge_points(pytester: pytest.Pytester) -> None:
    project(pytester, "typed")  # a diamond: bbbb0004 merges bbbb0002 and bbbb0003
    result = run(pytester, "--migfix")
    assert outcomes(result) == {
        "migfix-graph": "PASSED",
        "migfix-roundtrip": "PASSED",
        "migfix-new": "SKIPPED",
    }
    # Every revision went down on its own, the merge revision included.
    err = result.stdout.str()  # the items' captured output
    for step in (
        "Running downgrade bbbb0004 -> bbbb0002, bbbb0003",
        "Running downgrade bbbb0003 -> bbbb0001",
        "Running downgrade bbbb0002 -> bbbb0001",
    ):
        assert step in err


def broken_repo(pytester: pytest.Pytester) -> Path:
    """fixtures/plain in git: aaaa0001-3 on main, aaaa0004 (broken downgrade) new on feature."""
    proj = project(pytester, "plain")
    fourth = next((proj / "migrations/versions").glob("aaaa0004_*.py"))
    text = fourth.read_text()
    fourth.unlink()
    make_repo(proj)
    commit_all(proj, "main")
    git(proj, "checkout", "-q", "-b", "feature")
    head, _, _ = text.partition("def downgrade():")
    fourth.write_text(head + 'def downgrade():\n    op.drop_table("no_such_table")\n')
    commit_all(proj, "feature")
    return proj


def test_broken_downgrade_fails_roundtrip_and_new(pytester: pytest.Pytester) -> None:
    broken_repo(pytester)
    result = run(pytester, "--migfix")
    assert outcomes(result) == {
        "migfix-graph": "PASSED",
        "migfix-roundtrip": "FAILED",
        "migfix-new": "FAILED",
    }
    result.stdout.fnmatch_lines(
        [
            "*_ migfix-new _*",
            "Revision aaaa0004 (migrations/versions/aaaa0004_index_post_title.py) failed on "
            "downgrade, during `alembic downgrade aaaa0004@-1` on a temporary SQLite database: "
            "sqlite3.OperationalError: no such table: no_such_table*",
        ]
    )


def test_new_item_passes_when_the_new_revision_is_sound(pytester: pytest.Pytester) -> None:
    proj = broken_repo(pytester)
    fourth = next((proj / "migrations/versions").glob("aaaa0004_*.py"))
    text = fourth.read_text().replace('op.drop_table("no_such_table")', "pass")
    fourth.write_text(text.replace("def upgrade():", "def upgrade():\n    return\n", 1))
    result = run(pytester, "--migfix", "--migfix-upstream", "main")
    assert outcomes(result) == {
        "migfix-graph": "PASSED",
        "migfix-roundtrip": "PASSED",
        "migfix-new": "PASSED",
    }


def test_pyproject_turns_it_on(pytester: pytest.Pytester) -> None:
    project(pytester, "two_heads")
    pytester.makepyprojecttoml("[tool.migfix]\npytest = true\n")
    result = run(pytester, "-k", "graph")
    assert outcomes(result) == {"migfix-graph": "FAILED"}


def test_no_project_is_one_clear_failure(pytester: pytest.Pytester) -> None:
    make_repo(pytester.path)
    result = run(pytester, "--migfix", "-k", "graph")
    assert outcomes(result) == {"migfix-graph": "FAILED"}
    result.stdout.fnmatch_lines(["No Alembic project found: *"])


def test_fixtures_give_the_project_and_a_database_at_head(pytester: pytest.Pytester) -> None:
    project(pytester, "plain")
    pytester.makepyfile(
        test_user="""
        import sqlalchemy as sa

        def test_database(migfix_project, migfix_database):
            assert migfix_project.root.name == migfix_project.root.name
            assert migfix_database.startswith("sqlite:///")
            engine = sa.create_engine(migfix_database)
            with engine.connect() as conn:
                tables = set(sa.inspect(conn).get_table_names())
                version = conn.execute(sa.text("select version_num from alembic_version"))
                assert [row[0] for row in version] == ["aaaa0004"]
            engine.dispose()
            assert {"user", "post", "alembic_version"} <= tables
            assert migfix_project.config_file.name == "alembic.ini"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "plain.db").exists()  # the configured database is untouched


@pytest.mark.postgres
def test_postgres_roundtrip_and_database(pytester: pytest.Pytester, postgres_ok: None) -> None:
    project(pytester, "postgres")
    pytester.makepyfile(
        test_user="""
        import sqlalchemy as sa

        def test_database(migfix_database):
            assert migfix_database.startswith("postgresql+psycopg://")
            engine = sa.create_engine(migfix_database)
            with engine.connect() as conn:
                kinds = {c["name"]: type(c["type"]).__name__
                         for c in sa.inspect(conn).get_columns("document")}
            engine.dispose()
            assert kinds["meta"] == "JSONB"
        """
    )
    result = run(pytester, "--migfix", "--migfix-postgres")
    assert outcomes(result) == {
        "migfix-graph": "PASSED",
        "migfix-roundtrip": "PASSED",
        "migfix-new": "SKIPPED",
    }
    result.assert_outcomes(passed=3, skipped=1)


def test_monorepo_gets_items_per_project(pytester: pytest.Pytester) -> None:
    make_repo(pytester.path)
    shutil.copytree(FIXTURES / "plain", pytester.path / "backend")
    shutil.copytree(FIXTURES / "two_heads", pytester.path / "billing")
    result = run(pytester, "--migfix", "-k", "graph")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "PASSED backend/alembic.ini::migfix-graph",
            "FAILED billing/alembic.ini::migfix-graph - *",
        ]
    )
    # The fixtures need one project, and say so.
    pytester.makepyfile(test_user="def test_it(migfix_project):\n    pass\n")
    result = run(pytester, "-k", "test_it")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*holds several Alembic projects*"])
