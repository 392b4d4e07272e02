"""The installed hooks in repositories whose Alembic projects are not at the root: real
``migfix hook install`` (CLI subprocess), real ``git merge`` firing the hook, projects made
from the fixtures with real ``alembic revision``."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_fixture
from gitutil import commit_all, git, git_proc, make_repo, write
from projutil import Proj, migfix_proc

from migfix.hook import install as hook
from migfix.hook.projects import choose, watched
from migfix.hook.watch import Watch

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

B, C = "b0000001", "c0000001"


def place(fixture: str, tmp_path: Path, dest: Path) -> Path:
    scratch = tmp_path / "copies" / str(dest).replace("/", "_")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(copy_fixture(fixture, scratch), dest)
    return dest


def new_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    write(repo / ".gitignore", "__pycache__/\n*.db\ninstance/\n")
    return repo


def install(cwd: Path, *args: str) -> str:
    proc = migfix_proc(cwd, "hook", "install", *args)
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout)


def branches_with_two_heads(repo: Path, proj: Proj) -> None:
    """feat-b and feat-c each add one migration to PROJ; main has feat-b (one head)."""
    for branch, rev in (("feat-b", B), ("feat-c", C)):
        git(repo, "checkout", "-q", "-b", branch, "main")
        proj.revision(rev, f"add {rev[0]}")
        commit_all(repo, f"add {rev}")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "feat-b")


def hook_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("migfix:")]


def merge_files(proj: Proj) -> list[Path]:
    return sorted(proj.versions.glob("*_merge_heads.py"))


@pytest.mark.parametrize("installed_from", ["backend", "root"])
def test_backend_layout_hook_fixes_heads_whichever_directory_installed_it(
    tmp_path: Path, installed_from: str
) -> None:
    # The FastAPI full-stack template layout: backend/alembic.ini, nothing at the root.
    repo = new_repo(tmp_path)
    backend = Proj(place("typed", tmp_path, repo / "backend"), "typed")
    commit_all(repo, "project")
    out = install(repo / "backend" if installed_from == "backend" else repo)
    assert "watches backend/alembic.ini" in out.splitlines()
    branches_with_two_heads(repo, backend)

    merged = git_proc(repo, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    [made] = merge_files(backend)
    lines = hook_lines(merged.stderr)
    assert lines[0] == (
        f"migfix: in backend: the merge left several migration heads ({B}, {C}); "
        "fixing with `merge`."
    )
    # Files named from the root, where git ran the hook.
    assert lines[1].endswith(f"({B}, {C}): {made.relative_to(repo).as_posix()}")
    assert migfix_proc(repo, "check").returncode == 0


def test_monorepo_hook_fixes_only_the_touched_project_with_its_own_settings(
    tmp_path: Path,
) -> None:
    repo = new_repo(tmp_path)
    backend = Proj(place("typed", tmp_path, repo / "backend"), "typed")
    billing = Proj(place("flask_app", tmp_path, repo / "services" / "billing"), "flask")
    write(repo / "services" / "billing" / "pyproject.toml", "[tool.migfix]\ncommit = true\n")
    commit_all(repo, "two services")
    install(repo)
    status = migfix_proc(repo, "hook", "status")
    assert status.stdout.splitlines()[-2:] == [
        "watches backend/alembic.ini",
        "watches services/billing/migrations/alembic.ini",
    ]
    branches_with_two_heads(repo, billing)
    backend_files = sorted(p.name for p in backend.versions.iterdir())

    merged = git_proc(repo, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    assert sorted(p.name for p in backend.versions.iterdir()) == backend_files
    assert len(merge_files(billing)) == 1
    # billing's own [tool.migfix] commit = true: the fix is committed, the tree clean.
    assert hook_lines(merged.stderr)[-1] == "migfix: committed the result."
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s") == "Merge migration heads (migfix)"

    # A later merge that touches backend's code but no migration: silent, nothing read.
    git(repo, "checkout", "-q", "-b", "code", "main~1")
    write(repo / "backend" / "app" / "models.py", "X = 1\n")
    commit_all(repo, "code")
    git(repo, "checkout", "-q", "main")
    merged = git_proc(repo, "merge", "--no-edit", "code")
    assert merged.returncode == 0, merged.stderr
    assert hook_lines(merged.stderr) == []
    assert git(repo, "status", "--porcelain") == ""


class DbIni(Proj):
    """A project whose Alembic config is db.ini (``alembic -c db.ini``)."""

    def config(self) -> Any:
        from alembic.config import Config

        return Config(str(self.root / "db.ini"))


NASTY = "we ird 'q\" $(touch PWNED); x `touch PWNED2` & y"


def test_install_records_a_chosen_project_and_its_path_round_trips_without_executing(
    tmp_path: Path,
) -> None:
    # db.ini is not a name discovery looks for: only -c can point the hooks at it.
    repo = new_repo(tmp_path)
    folder = place("typed", tmp_path, repo / "svc" / NASTY)
    (folder / "alembic.ini").rename(folder / "db.ini")
    proj = DbIni(folder, "typed")
    commit_all(repo, "project")
    config = f"svc/{NASTY}/db.ini"

    out = install(repo / "svc", "-c", f"{NASTY}/db.ini")

    assert f"watches {config}" in out.splitlines()
    script = (repo / ".git" / "hooks" / "post-merge").read_text()
    assert f"--config {shlex.quote(config)}" in script
    [state, *_] = hook.status(repo)
    assert Watch.from_options(state.options) == Watch(config=config)
    proc = migfix_proc(repo, "hook", "status", "--json")
    data = json.loads(proc.stdout)
    assert data["hooks"][0]["options"] == ["--config", config]
    assert data["projects"] == [
        {"project": config, "config": config, "section": "alembic", "error": None}
    ]

    branches_with_two_heads(repo, proj)
    merged = git_proc(repo, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    assert len(merge_files(proj)) == 1, merged.stderr
    assert f"migfix: in {config}: the merge left several migration heads" in merged.stderr
    assert not list(tmp_path.rglob("PWNED*"))
    assert not list(Path.cwd().glob("PWNED*"))


def test_install_refuses_a_chosen_project_that_cannot_be_read(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    commit_all(repo, "empty")

    proc = migfix_proc(repo, "hook", "install", "-c", "nowhere/alembic.ini")

    assert proc.returncode == 2
    assert "nowhere/alembic.ini does not exist" in proc.stderr
    assert not (repo / ".git" / "hooks" / "post-merge").exists()


def test_post_merge_starts_python_only_when_a_revision_line_or_a_config_changed(
    tmp_path: Path,
) -> None:
    repo = new_repo(tmp_path)
    backend = Proj(place("typed", tmp_path, repo / "backend"), "typed")
    commit_all(repo, "project")
    log = tmp_path / "python-started.txt"
    exe = tmp_path / "bin" / "python"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    exe.chmod(0o755)
    hook.install(repo, interpreter=str(exe))

    def merge_branch(name: str, change: Callable[[], object]) -> bool:
        log.unlink(missing_ok=True)
        git(repo, "checkout", "-q", "-b", name, "main~0")
        change()
        commit_all(repo, name)
        git(repo, "checkout", "-q", "main")
        git(repo, "reset", "-q", "--hard", "HEAD")
        git(repo, "checkout", "-q", "-b", f"{name}-base", "main")
        write(repo / f"{name}.txt", "diverge\n")  # a real merge, not a fast-forward
        commit_all(repo, f"{name} base")
        merged = git_proc(repo, "merge", "--no-edit", name)
        assert merged.returncode == 0, merged.stderr
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--ff-only", f"{name}-base")
        return log.exists()

    first = backend.file("bbbb0001")
    body = first.read_text()
    # Application code, a revision's upgrade() body: the graph cannot have moved.
    assert not merge_branch("code", lambda: write(repo / "backend" / "app.py", "X = 1\n"))
    assert not merge_branch("body", lambda: first.write_text(body + "# reviewed\n"))
    # A new revision file, a config: Python looks.
    assert merge_branch("rev", lambda: backend.revision(B, "add b"))
    assert merge_branch("ini", lambda: write(repo / "backend" / "pyproject.toml", "[x]\n"))


def test_a_recorded_directory_or_section_is_kept_relative_to_the_work_tree(
    tmp_path: Path,
) -> None:
    repo = new_repo(tmp_path)
    app = place("flask_app", tmp_path, repo / "web")
    (app / "migrations").rename(app / "db")
    commit_all(repo, "project")

    watch = choose(repo / "web", None, None, Path("db"))

    assert watch == Watch(directory="web/db")
    assert Watch.from_options(("--strategy", "rebase", *watch.args())) == watch
    # Discovery finds the same folder: one project, under the recorded name.
    [entry] = watched(repo, repo, watch, None)
    assert (entry.label, entry.error) == ("web/db", None)
    assert entry.project is not None and entry.project.root == app
    named = Watch(config="web/db/alembic.ini", name="other")
    [bad, _] = watched(repo, repo, named, None)
    assert bad.label == "web/db/alembic.ini [other]"
    assert bad.error is not None and "has no [other] section" in bad.error.message


def test_the_hook_at_the_root_renders_a_template_importing_the_projects_own_package(
    tmp_path: Path,
) -> None:
    """Alembic renders from the config's folder, where ``prepend_sys_path = .`` puts the
    project's own package on sys.path: so does migfix, whatever folder the hook starts in (it
    runs at the repository root, where ``.`` is not server/)."""
    repo = new_repo(tmp_path)
    server = Proj(place("typed", tmp_path, repo / "server"), "typed")
    write(repo / "server" / "shop" / "__init__.py", "STAMP = '# stamped by shop'\n")
    ini = repo / "server" / "alembic.ini"
    text = ini.read_text()
    text = text.replace("prepend_sys_path = .\n", "")
    ini.write_text(text.replace("[alembic]\n", "[alembic]\nprepend_sys_path = .\n", 1))
    mako = server.migrations / "script.py.mako"
    mako.write_text("<%! import shop %>\n" + mako.read_text() + "${shop.STAMP}\n")
    commit_all(repo, "project")
    install(repo)
    # alembic revision runs from server/, as a user would.
    monkey = pytest.MonkeyPatch()
    with monkey.context() as m:
        m.chdir(repo / "server")
        m.syspath_prepend(str(repo / "server"))
        branches_with_two_heads(repo, server)

    merged = git_proc(repo, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    assert "internal error" not in merged.stderr
    [made] = merge_files(server)
    assert made.read_text().endswith("# stamped by shop\n")
