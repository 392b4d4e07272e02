"""The ``.pre-commit-hooks.yaml`` manifest, run by the real ``pre-commit run``.

pre-commit builds migfix from a clone of this repository into its own virtualenv with pip
(about 8 s here, from the package index pip is configured with), then runs the
``migfix-check`` hook in a temp repository holding an Alembic project. The build happens once
per session: the clone and ``PRE_COMMIT_HOME`` are shared (conftest), and the hook is run
from a config naming the clone at its commit, as a team's is (``pre-commit try-repo`` would
build a new environment in a new store on every call).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PRE_COMMIT, REPO, copy_fixture, pre_commit_env
from gitutil import commit_all, git, make_repo

# slow: pre-commit builds migfix into its own virtualenv, then runs git and migfix.
pytestmark = [
    pytest.mark.slow,
]


def run_check(
    migfix_repo: Path, project: Path, home: Path, *, all_files: bool = True
) -> subprocess.CompletedProcess[str]:
    """`pre-commit run migfix-check` in PROJECT, from a config beside it (outside the
    repository, so pre-commit does not ask for it to be staged)."""
    config = project.parent / "pre-commit-config.yaml"
    sha = git(migfix_repo, "rev-parse", "HEAD")
    config.write_text(
        f"repos:\n- repo: {migfix_repo}\n  rev: {sha}\n  hooks: [{{id: migfix-check}}]\n"
    )
    return subprocess.run(
        [
            str(PRE_COMMIT),
            "run",
            "-c",
            str(config),
            "migfix-check",
            *(["--all-files"] if all_files else []),
        ],
        cwd=project,
        env=pre_commit_env(home),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def project_repo(tmp_path: Path, fixture: str) -> Path:
    repo = make_repo(tmp_path / "project")
    shutil.copytree(copy_fixture(fixture, tmp_path), repo, dirs_exist_ok=True)
    commit_all(repo, "project")
    return repo


def test_migfix_check_hook_fails_on_two_heads(
    migfix_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    repo = project_repo(tmp_path, "two_heads")

    proc = run_check(migfix_repo, repo, pre_commit_home)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "migfix check (Alembic multiple heads)" in proc.stdout
    assert "Failed" in proc.stdout
    assert "2 heads without branch labels: cccc0002" in proc.stdout
    assert "run `migfix merge` to join the heads" in proc.stdout


def test_migfix_check_hook_passes_on_one_head(
    migfix_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    repo = project_repo(tmp_path, "typed")

    proc = run_check(migfix_repo, repo, pre_commit_home)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "migfix check (Alembic multiple heads)" in proc.stdout
    assert "Passed" in proc.stdout


def test_the_readme_snippet_works_with_a_commit_id_and_autoupdate(
    migfix_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    """The README's `.pre-commit-config.yaml`, with this repository's URL and a commit id,
    runs the hook; `pre-commit autoupdate` then keeps a rev that still works."""
    import re

    readme = (REPO / "README.md").read_text()
    found = re.search(r"### pre-commit\n.*?```yaml\n(.*?)```", readme, re.S)
    assert found is not None
    snippet = found.group(1)
    assert "<this repository's git URL>" in snippet and "<full commit id>" in snippet
    sha = git(migfix_repo, "rev-parse", "HEAD")
    repo = project_repo(tmp_path, "two_heads")
    config = repo / ".pre-commit-config.yaml"
    config.write_text(
        snippet.replace("<this repository's git URL>", str(migfix_repo)).replace(
            "<full commit id>", sha
        )
    )
    env = pre_commit_env(pre_commit_home)

    def pre_commit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PRE_COMMIT), *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    ran = pre_commit("run", "--all-files")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "2 heads without branch labels" in ran.stdout
    updated = pre_commit("autoupdate")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert f"rev: {sha}" in config.read_text()  # no tag yet: the newest commit
    assert pre_commit("run", "--all-files").returncode == 1


def test_migfix_check_hook_at_a_monorepo_root_checks_the_projects_of_the_staged_files(
    migfix_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    from projutil import Proj

    repo = make_repo(tmp_path / "project")
    shutil.copytree(copy_fixture("typed", tmp_path), repo / "backend")
    shutil.copytree(copy_fixture("flask_app", tmp_path), repo / "services" / "billing")
    (repo / ".gitignore").write_text("__pycache__/\n")
    commit_all(repo, "two services")
    billing = Proj(repo / "services" / "billing", "flask")
    billing.revision("b0000001", "add b")
    commit_all(repo, "add b")
    # The commit being made adds a second head to billing only.
    billing.revision("c0000001", "add c", head=billing.a, splice=True)
    git(repo, "add", "-A")

    proc = run_check(migfix_repo, repo, pre_commit_home, all_files=False)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "==> services/billing <==" in proc.stdout
    assert "2 heads without branch labels: b0000001" in proc.stdout
    assert "backend" not in proc.stdout

    # Committed as it is, a change staged in backend alone checks backend alone: passes.
    commit_all(repo, "add c")
    Proj(repo / "backend", "typed").revision("d0000001", "add d")
    git(repo, "add", "-A")
    proc = run_check(migfix_repo, repo, pre_commit_home, all_files=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout
