"""Finding every Alembic project in a repository (migfix.project.discover) and the commands run
across them at the root of a monorepo: real git repositories, fixture projects, real
``alembic revision`` for new migrations, the CLI called in process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Migfix, copy_fixture
from gitutil import commit_all, git, make_repo, write
from projutil import Proj

from migfix.project import discover
from migfix.project.config import find_project

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

B, C = "b0000001", "c0000001"
TWO_SECTIONS = """\
[alembic]
script_location = %(here)s/main_db

[audit]
script_location = %(here)s/audit_db

[loggers]
keys = root
"""


def place(fixture: str, tmp_path: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = tmp_path / "copies" / str(dest).replace("/", "_")
    shutil.copytree(copy_fixture(fixture, scratch), dest)
    return dest


def monorepo(tmp_path: Path) -> Path:
    """backend/ (alembic.ini, [tool.migfix] in its pyproject.toml) and services/billing/
    (Flask-Migrate), committed on main."""
    repo = make_repo(tmp_path / "repo")
    place("typed", tmp_path, repo / "backend")
    write(repo / "backend" / "pyproject.toml", '[tool.migfix]\nmessage = "join backend"\n')
    place("flask_app", tmp_path, repo / "services" / "billing")
    write(repo / ".gitignore", "__pycache__/\n*.db\ninstance/\n")
    commit_all(repo, "two services")
    return repo


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def second_billing_head(repo: Path) -> Proj:
    billing = Proj(repo / "services" / "billing", "flask")
    billing.revision(B, "add b")
    billing.revision(C, "add c", head=billing.a, splice=True)
    return billing


# -- discovery ---------------------------------------------------------------------------------


def test_discovery_finds_every_kind_and_never_walks_ignored_folders(tmp_path: Path) -> None:
    repo = monorepo(tmp_path)
    place("pyproject_cfg", tmp_path, repo / "tools" / "reports")
    write(repo / "multi" / "alembic.ini", TWO_SECTIONS)
    for folder in ("main_db", "audit_db"):
        (repo / "multi" / folder / "versions").mkdir(parents=True)
    # Installed packages that ship an alembic.ini: ignored (node_modules) or hidden and
    # ignored (.venv), so git never lists them.
    place("plain", tmp_path, repo / "node_modules" / "pkg")
    place("plain", tmp_path, repo / ".venv" / "lib" / "pkg")
    write(repo / ".gitignore", "__pycache__/\n*.db\ninstance/\nnode_modules/\n.venv/\n")
    write(repo / "docs" / "pyproject.toml", '[project]\nname = "docs"\n')

    entries = discover.discover(repo)

    assert [(e.label, e.config.relative_to(repo).as_posix(), e.error) for e in entries] == [
        ("backend", "backend/alembic.ini", None),
        ("multi", "multi/alembic.ini", None),
        ("multi [audit]", "multi/alembic.ini", None),
        ("services/billing", "services/billing/migrations/alembic.ini", None),
        ("tools/reports", "tools/reports/pyproject.toml", None),
    ]
    kinds = {e.label: e.project.kind for e in entries if e.project}
    assert kinds["services/billing"] == "flask"
    assert kinds["tools/reports"] == "pyproject"
    billing = next(e.project for e in entries if e.label == "services/billing")
    assert billing is not None and billing.root == repo / "services" / "billing"


def test_discovery_outside_git_is_a_bounded_walk_skipping_hidden_and_installed_folders(
    tmp_path: Path,
) -> None:
    top = tmp_path / "work"
    place("typed", tmp_path, top / "api")
    place("plain", tmp_path, top / "node_modules" / "pkg")
    place("plain", tmp_path, top / ".hidden" / "pkg")
    place("plain", tmp_path, top / "venv" / "pkg")

    assert [e.label for e in discover.discover(top)] == ["api"]


def test_a_flask_folder_named_by_migrate_directory_keeps_the_app_directory(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    app = place("flask_app", tmp_path, repo / "shop")
    (app / "migrations").rename(app / "db_migs")
    text = (app / "app.py").read_text()
    (app / "app.py").write_text(
        text.replace("Migrate(render_as_batch=True)", 'Migrate(directory="db_migs")')
    )

    [entry] = discover.discover(repo)

    assert entry.label == "shop"
    assert entry.project is not None and entry.project.root == app
    assert entry.project.version_locations == (app / "db_migs" / "versions",)


def test_flask_migrate_ini_that_names_a_script_location_is_read_as_flask_migrate_does(
    tmp_path: Path, migfix: Migfix
) -> None:
    # Seen in a redash fork: Flask-Migrate ignores this value (it always uses its folder),
    # read as Alembic reads it, it would point at migrations/migrations.
    app = place("flask_app", tmp_path, tmp_path / "app")
    ini = app / "migrations" / "alembic.ini"
    text = ini.read_text().replace("[alembic]\n", "[alembic]\nscript_location = migrations\n")
    ini.write_text(text)
    expected = (app / "migrations" / "versions",)

    assert find_project(app).version_locations == expected
    assert find_project(tmp_path, directory=Path("app/migrations")).version_locations == expected
    [entry] = discover.discover(app)
    assert entry.project is not None and entry.project.version_locations == expected
    assert migfix(app, "check")[0] == 0
    assert migfix(tmp_path, "-d", "app/migrations", "check")[0] == 0


# -- commands at the root of a monorepo --------------------------------------------------------


def test_check_at_the_root_names_the_one_project_with_two_heads(
    tmp_path: Path, migfix: Migfix
) -> None:
    repo = monorepo(tmp_path)
    billing = second_billing_head(repo)

    rc, out, err = migfix(repo, "check")

    assert (rc, err) == (1, "")
    c_file = billing.file(C).relative_to(repo).as_posix()
    assert out.splitlines()[:2] == ["==> backend <==", "4 revisions, 1 head: 0 errors, 0 warnings"]
    assert out.splitlines()[3] == "==> services/billing <=="
    # Named relative to where migfix ran: the path opens from the root.
    assert out.splitlines()[4].startswith(f"{c_file}:")
    assert out.splitlines()[4].endswith("[multiple-heads]")
    assert out.splitlines()[5] == (
        "5 revisions, 2 heads: 1 error, 0 warnings; run `migfix merge` to join the heads"
    )

    rc, out, err = migfix(repo, "check", "--format", "json")
    data = json.loads(out)
    assert rc == 1
    assert [(d["project"], d["config"], d["exit_code"]) for d in data] == [
        ("backend", "backend/alembic.ini", 0),
        ("services/billing", "services/billing/migrations/alembic.ini", 1),
    ]
    assert data[1]["result"]["heads"] == [B, C]
    assert data[1]["result"]["ok"] is False

    # --all from inside a project, and -c from the root still pick as before.
    assert migfix(repo / "backend", "check")[:2] == (
        0,
        "4 revisions, 1 head: 0 errors, 0 warnings\n",
    )
    assert migfix(repo / "backend", "check", "--all")[0] == 1
    rc, out, _ = migfix(repo, "-c", "backend/alembic.ini", "heads", "--json")
    assert rc == 0 and json.loads(out)["heads"][0]["revision"] == "bbbb0004"


def test_merge_at_the_root_fixes_only_the_project_with_two_heads(
    tmp_path: Path, migfix: Migfix
) -> None:
    repo = monorepo(tmp_path)
    billing = second_billing_head(repo)
    backend_before = snapshot(repo / "backend")

    rc, out, err = migfix(repo, "merge")

    assert (rc, err) == (0, "")
    assert snapshot(repo / "backend") == backend_before
    [merge_file] = [p for p in billing.versions.glob("*_merge_heads.py")]
    lines = out.splitlines()
    assert lines[:3] == ["==> backend <==", "Nothing to do: no unintended heads.", ""]
    assert lines[3] == "==> services/billing <=="
    assert lines[4].endswith(f"({B}, {C}): {merge_file.relative_to(repo).as_posix()}")
    assert migfix(repo, "check")[0] == 0


def test_an_unreadable_project_is_reported_and_does_not_stop_the_others(
    tmp_path: Path, migfix: Migfix
) -> None:
    repo = monorepo(tmp_path)
    write(repo / "broken" / "alembic.ini", "[alembic]\nscript_location = %(here)s/nowhere\n")

    rc, out, err = migfix(repo, "heads")

    assert rc == 2
    assert out.splitlines() == [
        "==> backend <==",
        "bbbb0004 (head)",
        "",
        "==> broken <==",
        "",
        "==> services/billing <==",
        "gggg0003 (head)",
    ]
    assert err.startswith("migfix: broken: ")
    assert "script_location" in err and "does not exist" in err

    rc, out, _ = migfix(repo, "heads", "--json")
    data = json.loads(out)
    assert [(d["project"], d["exit_code"], d["error"] is None) for d in data] == [
        ("backend", 0, True),
        ("broken", 2, False),
        ("services/billing", 0, True),
    ]


def test_nothing_anywhere_in_the_repository_says_so(tmp_path: Path, migfix: Migfix) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "README", "no migrations here\n")

    rc, out, err = migfix(repo, "check")

    assert (rc, out) == (2, "")
    assert err.startswith("migfix: No Alembic project found: looked for")
    assert f"Nor is there one anywhere in the repository at {repo}" in err


def test_check_with_file_names_checks_only_their_projects(tmp_path: Path, migfix: Migfix) -> None:
    # What pre-commit passes: the staged files.
    repo = monorepo(tmp_path)
    billing = second_billing_head(repo)
    staged = billing.file(C).relative_to(repo).as_posix()

    rc, out, _ = migfix(repo, "check", staged)
    assert rc == 1
    assert out.splitlines()[0] == "==> services/billing <=="
    assert "==> backend <==" not in out

    rc, out, _ = migfix(repo, "check", "backend/alembic.ini")
    assert (rc, out.splitlines()[0]) == (0, "==> backend <==")
    rc, out, _ = migfix(repo, "check", "README.md")
    assert (rc, out) == (0, "No Alembic project among the given files; nothing to check.\n")


def test_check_against_at_the_root(tmp_path: Path, migfix: Migfix) -> None:
    # main got a billing migration after this branch was cut; this branch adds another one.
    repo = monorepo(tmp_path)
    billing = Proj(repo / "services" / "billing", "flask")
    git(repo, "checkout", "-q", "-b", "feature")
    billing.revision(C, "add c")
    commit_all(repo, "add c")
    git(repo, "checkout", "-q", "main")
    billing.revision(B, "add b")
    commit_all(repo, "add b")
    git(repo, "checkout", "-q", "feature")

    assert migfix(repo, "check")[0] == 0
    rc, out, err = migfix(repo, "check", "--against", "main")
    assert (rc, err) == (1, "")
    assert "==> services/billing <==\n" in out
    assert "6 revisions, 1 head" not in out and "2 heads" in out

    # docs/check-migrations.yml runs exactly this at the root of the pull request's checkout.
    rc, out, _ = migfix(repo, "check", "--format", "github", "--against", "main")
    c_file = billing.file(C).relative_to(repo).as_posix()
    assert rc == 1
    assert out.startswith(f"::error file={c_file},line=")
    assert len(out.splitlines()) == 1


def test_graph_json_at_the_root_is_one_result_per_project(tmp_path: Path, migfix: Migfix) -> None:
    repo = monorepo(tmp_path)

    rc, out, err = migfix(repo, "graph", "--json")

    assert (rc, err) == (0, "")
    data = json.loads(out)
    assert [(d["project"], d["result"]["heads"]) for d in data] == [
        ("backend", ["bbbb0004"]),
        ("services/billing", ["gggg0003"]),
    ]
