"""CI output: ``migfix check --format github`` and the GitHub Actions workflow in docs/."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from conftest import Migfix
from gitutil import git
from projutil import land, make_team, new_project

pytestmark = pytest.mark.usefixtures("git_env")

WORKFLOW = Path(__file__).resolve().parents[2] / "docs" / "check-migrations.yml"
B, C = "b0000001", "c0000001"


@pytest.mark.slow
def test_check_format_github_on_two_heads(tmp_path: Path, migfix: Migfix) -> None:
    from conftest import copy_fixture

    project = copy_fixture("two_heads", tmp_path)

    rc, out, err = migfix(project, "check", "--format", "github")

    assert (rc, err) == (1, "")
    assert out == (
        "::error file=migrations/versions/cccc0003_create_team_table.py,line=15,"
        "title=migfix multiple-heads::2 heads without branch labels: cccc0002 "
        "(cccc0002_add_user_email.py), cccc0003 (cccc0003_create_team_table.py); `alembic "
        "upgrade head` fails on this. Run `migfix merge` to join them (or `migfix rebase "
        "--onto <ref>`), or list them in [tool.migfix] allow_heads if they are intended.\n"
    )
    # One head: nothing printed at all (GitHub would show an empty annotation otherwise).
    one = copy_fixture("typed", tmp_path)
    assert migfix(one, "check", "--format", "github") == (0, "", "")


def _workflow() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")  # PyYAML comes with pre-commit
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def _migfix_command(base_ref: str) -> list[str]:
    steps = _workflow()["jobs"]["migfix"]["steps"]
    (cmd,) = [s["run"] for s in steps if "migfix check" in s.get("run", "")]
    # What GitHub substitutes before the shell sees the line.
    cmd = cmd.replace("${{ github.base_ref }}", base_ref)
    assert "${{" not in cmd
    return shlex.split(cmd)


def test_workflow_is_a_pull_request_job_with_full_history() -> None:
    data = _workflow()
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    assert "pull_request" in data[True]
    steps = data["jobs"]["migfix"]["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0
    assert "actions/setup-python" in uses
    # From the repository until the first release (README says so too).
    install = next(s["run"] for s in steps if "run" in s)
    assert install == 'pip install "migfix @ git+https://github.com/<owner>/migfix"'
    argv = _migfix_command("main")
    assert argv == ["migfix", "check", "--format", "github", "--against", "origin/main"]


@pytest.mark.slow
def test_workflow_command_flags_a_pull_request_before_it_is_merged(
    tmp_path: Path, migfix: Migfix
) -> None:
    team = make_team(tmp_path, "typed")
    pr = team.alice
    git(pr.root, "checkout", "-q", "-b", "feature")
    pr.revision(B, "add b")
    git(pr.root, "add", "-A")
    git(pr.root, "commit", "-q", "-m", "b")
    argv = _migfix_command("main")[1:]

    # Nothing new on main yet: the pull request is fine.
    assert migfix(pr.root, *argv) == (0, "", "")

    # Someone lands another migration on main: this branch's b now sits on an outdated parent,
    # although the branch itself still has one head.
    land(team.bob, C, "add c")
    git(pr.root, "fetch", "-q")
    assert migfix(pr.root, "check")[0] == 0
    rc, out, err = migfix(pr.root, *argv)
    assert (rc, err) == (1, "")
    # The annotation lands on this pull request's own file, where the reviewer sees it.
    assert re.fullmatch(
        rf"::error file=migrations/versions/{B}_add_b\.py,line=\d+,title=migfix multiple-heads::"
        rf"2 heads without branch labels: {C} \({C}_add_c\.py\), {B} \({B}_add_b\.py\); .*\n",
        out,
    ), out


@pytest.mark.slow
def test_workflow_command_needs_the_base_branch_fetched(tmp_path: Path, migfix: Migfix) -> None:
    proj = new_project(tmp_path, "typed")
    git(proj.root, "init", "-q", "-b", "feature")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "project")
    rc, out, err = migfix(proj.root, *_migfix_command("main")[1:])
    assert (rc, out) == (2, "")
    assert err == (
        "migfix: Unknown git revision 'origin/main'. If it is a remote branch, run `git fetch` "
        "first; otherwise check the name with `git branch -a`.\n"
    )


@pytest.mark.slow
def test_workflow_command_works_unchanged_at_the_root_of_a_monorepo(
    tmp_path: Path, migfix: Migfix
) -> None:
    import shutil

    from conftest import copy_fixture
    from gitutil import commit_all, make_repo
    from projutil import Proj

    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    repo = make_repo(tmp_path / "repo")
    shutil.copytree(copy_fixture("typed", tmp_path / "a"), repo / "backend")
    shutil.copytree(copy_fixture("flask_app", tmp_path / "b"), repo / "services" / "billing")
    (repo / ".gitignore").write_text("__pycache__/\n")
    commit_all(repo, "two services")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    billing = Proj(repo / "services" / "billing", "flask")
    git(repo, "checkout", "-q", "-b", "feature")
    billing.revision(B, "add b")
    commit_all(repo, "b")
    git(repo, "checkout", "-q", "main")
    billing.revision(C, "add c")
    commit_all(repo, "c")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "feature")
    argv = _migfix_command("main")[1:]

    rc, out, err = migfix(repo, *argv)

    assert (rc, err) == (1, "")
    assert re.fullmatch(
        rf"::error file=services/billing/migrations/versions/{B}_add_b\.py,line=\d+,"
        rf"title=migfix multiple-heads::2 heads without branch labels: .*\n",
        out,
    ), out
