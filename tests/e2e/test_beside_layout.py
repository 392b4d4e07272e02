"""A config that sits beside its migrations rather than above them: ``backend/alembic.ini``
(or ``backend/pyproject.toml``'s ``[tool.alembic]``) with ``script_location =
%(here)s/../migrations``. The revision files are outside the config's folder but inside the
repository, and every command names them from there as it does for the usual layout: real
git, the real CLI, real ``alembic revision``, a real ``git merge`` firing the installed hook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import copy_fixture
from gitutil import commit_all, git, git_proc, make_repo, write
from projutil import GITIGNORE, migfix_proc

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

B, C = "b0000001", "c0000001"
HEAD = "bbbb0004"  # the typed fixture's head


def beside_repo(tmp_path: Path, form: str) -> Path:
    """A repository with migrations/ at its root and the config that reads it in backend/."""
    repo = make_repo(tmp_path / "repo")
    write(repo / ".gitignore", GITIGNORE)
    fixture = copy_fixture("typed", tmp_path / "copy")
    shutil.copytree(fixture / "migrations", repo / "migrations")
    ini = (fixture / "alembic.ini").read_text()
    assert "script_location = %(here)s/migrations\n" in ini
    ini = ini.replace("%(here)s/migrations", "%(here)s/../migrations")
    if form == "ini":
        write(repo / "backend" / "alembic.ini", ini)
    else:
        # Alembic's pyproject form: the locations in [tool.alembic], the rest in the ini.
        ini = ini.replace("script_location = %(here)s/../migrations\n", "")
        write(repo / "backend" / "alembic.ini", ini)
        write(
            repo / "backend" / "pyproject.toml",
            '[tool.alembic]\nscript_location = "%(here)s/../migrations"\n',
        )
    commit_all(repo, "project")
    return repo


def revision(repo: Path, rev: str) -> None:
    from alembic import command
    from alembic.config import Config

    backend = repo / "backend"
    toml = backend / "pyproject.toml"
    cfg = Config(str(backend / "alembic.ini"), toml_file=str(toml) if toml.exists() else None)
    command.revision(cfg, message=f"add {rev[0]}", rev_id=rev)


def two_branches(repo: Path) -> None:
    """feat-b and feat-c each add one migration on top of main's head; main has feat-b."""
    for branch, rev in (("feat-b", B), ("feat-c", C)):
        git(repo, "checkout", "-q", "-b", branch, "main")
        revision(repo, rev)
        commit_all(repo, f"add {rev}")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "feat-b")


def file_of(repo: Path, rev: str) -> str:
    [found] = (repo / "migrations" / "versions").glob(f"{rev}_*.py")
    return found.relative_to(repo).as_posix()


@pytest.fixture(params=["ini", "pyproject"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    repo = beside_repo(tmp_path, request.param)
    two_branches(repo)
    return repo


@pytest.mark.parametrize("where", ["backend", "root"])
def test_merge_and_its_dry_run_name_the_files_from_the_repository(repo: Path, where: str) -> None:
    git(repo, "merge", "-q", "--no-edit", "feat-c")
    cwd, args = (
        (repo / "backend", ()) if where == "backend" else (repo, ("-c", "backend/alembic.ini"))
    )

    dry = migfix_proc(cwd, *args, "merge", "--dry-run", "--rev-id", "m0000001")

    assert dry.returncode == 1, dry.stderr  # changes needed
    made = "migrations/versions/m0000001_merge_heads.py"
    assert dry.stdout.splitlines()[0] == f"Would create merge revision m0000001 ({B}, {C}): {made}"
    assert f"--- /dev/null\n+++ b/{made}\n" in dry.stdout

    planned = migfix_proc(cwd, *args, "merge", "--dry-run", "--rev-id", "m0000001", "--json")

    assert planned.returncode == 1, planned.stderr
    assert json.loads(planned.stdout)["merges"][0]["path"] == made

    done = migfix_proc(cwd, *args, "merge", "--rev-id", "m0000001")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"Created merge revision m0000001 ({B}, {C}): {made}"
    assert (repo / made).is_file()
    assert str(repo) not in done.stdout + done.stderr + dry.stdout + dry.stderr + planned.stdout


@pytest.mark.parametrize("where", ["backend", "root"])
def test_rebase_and_its_dry_run_name_the_files_from_the_repository(repo: Path, where: str) -> None:
    git(repo, "checkout", "-q", "feat-c")
    cwd, args = (
        (repo / "backend", ()) if where == "backend" else (repo, ("-c", "backend/alembic.ini"))
    )
    moved = file_of(repo, C)

    dry = migfix_proc(cwd, *args, "rebase", "--onto", "main", "--dry-run")

    assert dry.returncode == 1, dry.stderr  # changes needed
    assert f"--- a/{moved}\n+++ b/{moved}\n" in dry.stdout
    assert str(repo) not in dry.stdout + dry.stderr

    done = migfix_proc(cwd, *args, "rebase", "--onto", "main")

    assert done.returncode == 0, done.stderr
    assert f"  {C}: {HEAD} -> {B}  ({moved})" in done.stdout.splitlines()
    assert str(repo) not in done.stdout + done.stderr


def test_the_hook_names_the_merge_file_from_the_repository(repo: Path) -> None:
    installed = migfix_proc(repo / "backend", "hook", "install")
    assert installed.returncode == 0, installed.stderr

    merged = git_proc(repo, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    [made] = (repo / "migrations" / "versions").glob("*_merge_heads.py")
    lines = [line for line in merged.stderr.splitlines() if line.startswith("migfix:")]
    assert lines[1].endswith(f"({B}, {C}): {made.relative_to(repo).as_posix()}"), lines
    assert str(repo) not in merged.stderr
