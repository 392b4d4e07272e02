"""The ``.pre-commit-hooks.yaml`` manifest, run by the real ``pre-commit try-repo``.

pre-commit builds migfix from the repository into its own virtualenv with pip (about 8 s per
run here, from the package index pip is configured with), then runs the ``migfix-check`` hook
in a temp repository holding an Alembic project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, copy_fixture
from gitutil import GIT_ENV, commit_all, git, make_repo

# The test extra installs pre-commit beside the interpreter running the tests.
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

# slow: each try-repo builds migfix and its dependencies into a fresh virtualenv with pip.
pytestmark = [
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def migfix_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's HEAD, as pre-commit would fetch it by URL."""
    dest = tmp_path_factory.mktemp("migfix-repo") / "migfix"
    git(REPO.parent, "clone", "-q", "--no-hardlinks", str(REPO), str(dest))
    if not (dest / "README.md").exists():
        # pyproject.toml names README.md as the readme; a branch cut before it was written
        # cannot be built. The manifest is what this test is about.
        (dest / "README.md").write_text("# migfix\n")
        commit_all(dest, "readme for the build")
    return dest


def try_repo(
    migfix_repo: Path, project: Path, tmp_path: Path, *, all_files: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("PYTHONPATH", None)  # the hook must use the migfix pre-commit installed
    return subprocess.run(
        [
            str(PRE_COMMIT),
            "try-repo",
            str(migfix_repo),
            "migfix-check",
            *(["--all-files"] if all_files else []),
        ],
        cwd=project,
        env=env,
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


def test_migfix_check_hook_fails_on_two_heads(migfix_repo: Path, tmp_path: Path) -> None:
    repo = project_repo(tmp_path, "two_heads")

    proc = try_repo(migfix_repo, repo, tmp_path)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "migfix check (Alembic multiple heads)" in proc.stdout
    assert "Failed" in proc.stdout
    assert "2 heads without branch labels: cccc0002" in proc.stdout
    assert "run `migfix merge` to join the heads" in proc.stdout


def test_migfix_check_hook_passes_on_one_head(migfix_repo: Path, tmp_path: Path) -> None:
    repo = project_repo(tmp_path, "typed")

    proc = try_repo(migfix_repo, repo, tmp_path)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "migfix check (Alembic multiple heads)" in proc.stdout
    assert "Passed" in proc.stdout


def test_the_readme_snippet_works_with_a_commit_id_and_autoupdate(
    migfix_repo: Path, tmp_path: Path
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
    env = {
        **os.environ,
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("PYTHONPATH", None)

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
    migfix_repo: Path, tmp_path: Path
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

    proc = try_repo(migfix_repo, repo, tmp_path, all_files=False)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "==> services/billing <==" in proc.stdout
    assert "2 heads without branch labels: b0000001" in proc.stdout
    assert "backend" not in proc.stdout

    # Committed as it is, a change staged in backend alone checks backend alone: passes.
    commit_all(repo, "add c")
    Proj(repo / "backend", "typed").revision("d0000001", "add d")
    git(repo, "add", "-A")
    proc = try_repo(migfix_repo, repo, tmp_path, all_files=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout
