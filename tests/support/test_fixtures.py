"""The example projects in fixtures/ are what fixtures/README.md says, according to real Alembic.

These tests guard the test data itself: if a fixture is edited so that Alembic sees a different
graph, or its migrations stop running on SQLite, every test built on it would mislead.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic_oracle import alembic_graph, fixture_graph
from conftest import copy_fixture, corpus_index, corpus_truth

# project -> (heads, bases) as `alembic heads` / the revision map report them
EXPECTED_SHAPE = {
    "plain": (["aaaa0004"], ["aaaa0001"]),
    "typed": (["bbbb0004"], ["bbbb0001"]),
    "two_heads": (["cccc0002", "cccc0003"], ["cccc0001"]),
    "labels": (["dddd0003", "dddd0004"], ["dddd0001", "dddd0002"]),
    "recursive": (["eeee0004"], ["eeee0001"]),
    "pyproject_cfg": (["ffff0003"], ["ffff0001"]),
    "flask_app": (["gggg0003"], ["gggg0001"]),
}

# project -> tables that exist after `upgrade heads` (besides alembic_version)
EXPECTED_TABLES = {
    "plain": {"user", "post"},
    "typed": {"account", "invoice", "address"},
    "two_heads": {"user", "team"},
    "labels": {"invoice", "user"},
    "recursive": {"project", "tag"},
    "pyproject_cfg": {"customer", "order"},
}


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def _versions(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {v for (v,) in conn.execute("SELECT version_num FROM alembic_version")}


def _alembic(project: Path, *args: str, db: Path) -> None:
    env = {**os.environ, "MIGFIX_DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPE))
def test_alembic_sees_the_documented_heads_and_bases(name: str, fixtures_dir: Path) -> None:
    graph = fixture_graph(fixtures_dir / name)

    assert (graph["heads"], graph["bases"]) == EXPECTED_SHAPE[name]
    prefix = EXPECTED_SHAPE[name][0][0][:4]
    assert all(rev.startswith(prefix) for rev in graph["revisions"])


def test_typed_has_a_diamond_closed_by_a_multiline_merge(fixtures_dir: Path) -> None:
    graph = fixture_graph(fixtures_dir / "typed")
    merge = graph["revisions"]["bbbb0004"]

    assert merge["down"] == ["bbbb0002", "bbbb0003"]
    assert graph["revisions"]["bbbb0002"]["down"] == graph["revisions"]["bbbb0003"]["down"]
    source = Path(merge["file"]).read_text(encoding="utf-8")
    assert 'down_revision: Union[str, Sequence[str], None] = (\n    "bbbb0002",\n' in source


def test_labels_declares_two_labelled_bases_and_a_cross_branch_dependency(
    fixtures_dir: Path,
) -> None:
    revs = fixture_graph(fixtures_dir / "labels")["revisions"]

    assert {rev: r["labels"] for rev, r in revs.items() if r["labels"]} == {
        "dddd0001": ["billing"],
        "dddd0002": ["auth"],
    }
    assert {rev: r["deps"] for rev, r in revs.items() if r["deps"]} == {"dddd0004": ["dddd0002"]}
    folders = {rev: Path(r["file"]).parent.name for rev, r in revs.items()}
    assert folders == {
        "dddd0001": "billing",
        "dddd0002": "auth",
        "dddd0003": "auth",
        "dddd0004": "billing",
    }


def test_recursive_keeps_files_alembic_skips_beside_the_revisions(fixtures_dir: Path) -> None:
    versions = fixtures_dir / "recursive" / "migrations" / "versions"
    graph = fixture_graph(fixtures_dir / "recursive")

    loaded = {Path(r["file"]).relative_to(versions.resolve()) for r in graph["revisions"].values()}
    assert {p.parts[0] for p in loaded} == {"2024", "2025"}
    skipped = {
        Path("README"),
        Path("2024/__init__.py"),
        Path("2025/eeee0004_index_tag_label.py~"),
        Path("2025/.#eeee0004_index_tag_label.py"),
    }
    assert all((versions / p).is_file() for p in skipped)
    # the editor backup declares eeee0004 too: a scanner that reads it sees a duplicate
    assert (
        "revision: str = 'eeee0004'" in (versions / "2025/eeee0004_index_tag_label.py~").read_text()
    )
    assert not loaded & skipped


def test_faults_as_a_whole_is_rejected_by_alembic(fixtures_dir: Path) -> None:
    from alembic.util import CommandError

    with pytest.raises(CommandError, match="Could not determine revision id from filename helpers"):
        fixture_graph(fixtures_dir / "faults")


def test_faults_dangling_parent_breaks_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("faults", tmp_path)
    (project / "migrations/versions/helpers.py").unlink()
    monkeypatch.syspath_prepend(str(project))  # for hhhh0005's `import revision_ids`

    with pytest.raises(KeyError, match="hhhh9999"):
        fixture_graph(project)


def test_faults_without_the_fatal_files_loads_as_its_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture("faults", tmp_path)
    (project / "migrations/versions/helpers.py").unlink()
    (project / "migrations/versions/hhhh0002_parent_was_deleted.py").unlink()
    # hhhh0005 imports revision_ids, which alembic.ini's prepend_sys_path = . makes importable
    monkeypatch.syspath_prepend(str(project))

    graph = fixture_graph(project)

    # the shadowed first hhhh0003 stays in Alembic's head set: duplicates confuse Alembic too
    assert graph["heads"] == ["hhhh0003", "hhhh0004", "hhhh0005"]
    assert graph["revisions"]["hhhh0004"]["down"] == ["hhhh0003"]  # header says hhhh0001
    assert graph["revisions"]["hhhh0005"]["down"] == ["hhhh0001"]
    # of the duplicate hhhh0003, Alembic keeps the file it loaded last
    assert graph["revisions"]["hhhh0003"]["file"].endswith("hhhh0003_copy_of_add_user_email.py")

    (project / "migrations/versions/hhhh0003_copy_of_add_user_email.py").unlink()
    assert fixture_graph(project)["heads"] == ["hhhh0004", "hhhh0005"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_migrations_run_up_and_down_on_sqlite(name: str, tmp_path: Path) -> None:
    project = copy_fixture(name, tmp_path)
    db = tmp_path / "test.db"

    _alembic(project, "upgrade", "heads", db=db)
    assert _tables(db) == EXPECTED_TABLES[name]
    assert _versions(db) == set(EXPECTED_SHAPE[name][0])

    _alembic(project, "downgrade", "base", db=db)
    assert _tables(db) == set()
    assert not list(project.rglob("*.db")), "MIGFIX_DATABASE_URL was ignored"


@pytest.mark.slow
def test_flask_app_upgrades_and_downgrades_with_flask_migrate(tmp_path: Path) -> None:
    project = copy_fixture("flask_app", tmp_path)
    db = tmp_path / "flask.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}

    def flask(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", *args],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
        )

    flask("upgrade")
    assert _tables(db) == {"user", "post"}
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info('user')")}
        indexes = {row[1] for row in conn.execute("PRAGMA index_list('post')")}
    assert columns == {"id", "username", "email"}
    assert "ix_post_created_at" in indexes

    flask("downgrade")
    assert _versions(db) == {"gggg0002"}
    flask("downgrade", "base")
    assert _tables(db) == set()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["labels", "recursive"])
def test_copy_fixture_copies_every_tracked_file_byte_for_byte(name: str, tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", f"fixtures/{name}"],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: no list of tracked fixture files")
    expected = {Path(p).relative_to(f"fixtures/{name}") for p in tracked.stdout.split("\0") if p}

    copy = copy_fixture(name, tmp_path)

    copied = {p.relative_to(copy) for p in copy.rglob("*") if p.is_file()}
    assert copied == expected
    source = Path(__file__).parents[2] / "fixtures" / name
    assert all((copy / p).read_bytes() == (source / p).read_bytes() for p in expected)


@pytest.mark.corpus
def test_oracle_reproduces_the_corpus_truth_file(corpus_dir: Path) -> None:
    # synthetic-5000 is the one corpus graph plain Alembic can import without its host app
    entry = corpus_index(corpus_dir).get("synthetic-5000")
    if entry is None:
        pytest.skip("corpus downloaded with SYNTH_N=0: no synthetic-5000")

    graph = alembic_graph(
        [Path(p) for p in entry["version_locations"]],
        recursive=entry["recursive_version_locations"],
    )

    truth = corpus_truth(corpus_dir, "synthetic-5000")
    assert graph == {k: truth[k] for k in ("heads", "bases", "revisions")}
