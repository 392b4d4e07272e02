"""The action's "Fix migrations" step (``fix: rebase | merge``), its shell run locally.

As in test_action.py: the step's script is run with bash, its ``env:`` filled in as the
runner would, against a bare repository that plays GitHub (``refs/pull/N/head`` included).
On ``push`` the step lists open pull requests with the ``gh`` CLI; GitHub's API is not
here, so a ``gh`` script on PATH answers with the list GitHub would give.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO
from gitutil import GIT_ENV, git
from projutil import Team
from test_action import ACTION, evaluate, step
from test_ci_fix import branches, push_docs_branch, server

GITHUB_REPO = "octo/shop"


def run_step(
    name: str, cwd: Path, tmp_path: Path, *, inputs: dict[str, str], github: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], str, str]:
    s = step(name)
    defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    context = {
        "inputs": {**defaults, **inputs},
        "github": {"action_path": str(REPO), "repository": GITHUB_REPO, "token": "", **github},
        "steps": {},
    }
    summary = tmp_path / "summary.md"
    output = tmp_path / "output.txt"
    summary.write_text("")
    output.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))},
        **GIT_ENV,
        "PATH": os.pathsep.join(
            [str(tmp_path / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": github.get("event_name", ""),
        "GITHUB_BASE_REF": github.get("base_ref", ""),
        "GITHUB_HEAD_REF": github.get("head_ref", ""),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(cwd),
    }
    env.update({k: evaluate(str(v), context) for k, v in s.get("env", {}).items()})
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s["run"]],
        cwd=cwd / evaluate(s.get("working-directory", "."), context),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, summary.read_text(), output.read_text()


def pull_refs(team: Team) -> None:
    """What GitHub keeps for each pull request: refs/pull/N/head at its branch's tip."""
    for number, branch in ((7, "feature-a"), (8, "feature-b")):
        git(team.remote, "update-ref", f"refs/pull/{number}/head", f"refs/heads/{branch}")


def runner_checkout(team: Team, ref: str) -> Path:
    """actions/checkout: one commit deep, detached."""
    dest = team.remote.parent / "runner"
    git(
        dest.parent,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        ref,
        f"file://{team.remote}",
        "runner",
    )
    git(dest, "checkout", "-q", "--detach")
    return dest


def pr_event(number: int, branch: str, head_repo: str = GITHUB_REPO) -> dict[str, Any]:
    return {
        "event_name": "pull_request",
        "base_ref": "main",
        "head_ref": branch,
        "ref_name": f"{number}/merge",
        "event": {"pull_request": {"number": number, "head": {"repo": {"full_name": head_repo}}}},
    }


@pytest.fixture
def team(tmp_path: Path) -> Team:
    made = branches(tmp_path)
    pull_refs(made)
    return made


@pytest.mark.slow
def test_pull_request_is_fixed_pushed_and_then_checks_clean(team: Team, tmp_path: Path) -> None:
    runner = runner_checkout(team, "feature-a")
    tip = server(team, "feature-a")
    event = pr_event(7, "feature-a")
    # ci fix gets only the options that find the project (it has no --strict).
    inputs = {"fix": "rebase", "args": "-c alembic.ini --strict"}
    proc, summary, output = run_step(
        "Fix migrations", runner, tmp_path, inputs=inputs, github=event
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert output == "status=0\n"
    assert "Pushed the fix to origin/feature-a." in proc.stdout
    assert git(team.remote, "rev-list", "--count", "--first-parent", f"{tip}..feature-a") == "1"
    assert git(runner, "rev-parse", "HEAD") == server(team, "feature-a")
    assert summary.startswith("### migfix: fixed the migrations of feature-a for origin/main\n")
    # What moved, the db sync it needs, and the picture before and after.
    assert "aaaa0101: bbbb0004 -> cccc0101" in summary
    assert "moved aaaa0101 (bbbb0004 -> cccc0101): `migfix db sync`" in summary
    assert summary.count("```mermaid") == 2
    # Committed as the action's bot, not as whoever the runner is.
    bot = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
    assert git(team.remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "feature-a") == (
        f"{bot}|{bot}"
    )
    # The check step that follows sees the fixed branch.
    proc, summary, output = run_step(
        "Check migrations", runner, tmp_path, inputs=inputs, github=event
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary == "### migfix: migrations OK against origin/main\n"


@pytest.mark.slow
def test_pull_request_from_a_fork_gets_a_patch_and_fails_after_the_check(
    team: Team, tmp_path: Path
) -> None:
    runner = runner_checkout(team, "feature-b")
    tip = server(team, "feature-b")
    event = pr_event(8, "feature-b", head_repo="someone/shop")
    proc, summary, output = run_step(
        "Fix migrations", runner, tmp_path, inputs={"fix": "rebase"}, github=event
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the check step runs next
    assert output == "status=1\n"
    assert "not asked to push (--no-push)" in proc.stderr
    assert server(team, "feature-b") == tip
    assert (runner / "migfix-fix-8.patch").is_file()
    assert "git apply migfix-fix-8.patch" in summary
    assert git(runner, "rev-parse", "HEAD") == tip  # the pull request itself is checked
    proc, _, _ = run_step("Check migrations", runner, tmp_path, inputs={}, github=event)
    assert proc.returncode == 1
    fail = step("Fail when the fix failed")
    env = {**os.environ, "FIX_STATUS": output.split("=")[1].strip()}
    done = subprocess.run(["bash", "-c", fail["run"]], env=env, check=False)
    assert done.returncode == 1


@pytest.mark.slow
def test_push_to_main_fixes_every_open_pull_request_that_touches_the_migrations(
    team: Team, tmp_path: Path
) -> None:
    # A third pull request touches no migration: it is skipped with one line, never checked
    # out nor run through ci fix, and left as it is.
    push_docs_branch(team)
    git(team.remote, "update-ref", "refs/pull/9/head", "refs/heads/docs")
    docs = server(team, "docs")
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir()
    # What `gh pr list --json ... --jq ...` prints for the three open pull requests.
    gh.write_text(
        '#!/bin/sh\n[ "$1 $2 $3 $4" = "pr list --base main" ] || exit 3\n'
        'printf "7 feature-a false\\n8 feature-b false\\n9 docs false\\n"\n'
    )
    gh.chmod(0o755)
    runner = runner_checkout(team, "main")
    start = git(runner, "rev-parse", "HEAD")
    tips = {b: server(team, b) for b in ("feature-a", "feature-b")}
    event = {"event_name": "push", "ref_name": "main", "base_ref": ""}
    proc, summary, output = run_step(
        "Fix migrations", runner, tmp_path, inputs={"fix": "rebase"}, github=event
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert output == "status=0\n"
    for branch, tip in tips.items():
        assert git(team.remote, "rev-list", "--count", "--first-parent", f"{tip}..{branch}") == "1"
    assert "::group::migfix ci fix: #8 (feature-b)" in proc.stdout
    assert summary.count("### migfix: fixed the migrations of") == 2
    assert "::group::migfix ci fix: #9 (docs)" not in proc.stdout
    assert "Nothing to fix: docs" not in proc.stdout
    assert (
        "Skipped #9 (docs): pull/9/head changes nothing in migrations/versions or alembic.ini "
        "since origin/main.\n"
    ) in proc.stdout
    # HEAD's reflog holds every commit the runner checked out: the docs one is not there.
    checked_out = git(runner, "reflog", "--format=%H", "HEAD").split()
    assert tips["feature-a"] in checked_out
    assert docs not in checked_out
    assert server(team, "docs") == docs
    assert git(runner, "rev-parse", "HEAD") == start


@pytest.mark.slow
@pytest.mark.parametrize("fix", ["none", "rebase"])
def test_nothing_is_pushed_for_none_or_a_merge_queue(team: Team, tmp_path: Path, fix: str) -> None:
    runner = runner_checkout(team, "feature-a")
    tip = server(team, "feature-a")
    event = pr_event(7, "feature-a") if fix == "none" else {"event_name": "merge_group"}
    proc, summary, output = run_step(
        "Fix migrations", runner, tmp_path, inputs={"fix": fix}, github=event
    )
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, summary, output) == ("", "", "")
    assert server(team, "feature-a") == tip


def queue(team: Team, number: int, *branches: str) -> str:
    """What a merge queue builds: main with BRANCHES merged in, on a gh-readonly-queue branch."""
    bob = team.bob.root
    git(bob, "fetch", "-q", "origin")
    git(bob, "checkout", "-q", "--detach", "origin/main")
    for branch in branches:
        git(bob, "merge", "-q", "--no-edit", f"origin/{branch}")
    ref = f"gh-readonly-queue/main/pr-{number}-{git(bob, 'rev-parse', 'origin/main')}"
    git(bob, "push", "-q", "origin", f"HEAD:refs/heads/{ref}")
    return ref


def merge_group_event() -> dict[str, Any]:
    # A merge_group event has no base_ref of its own; the queue's branch is in the payload
    # (the default branch is another one here, so the test sees which was used).
    return {
        "event_name": "merge_group",
        "event": {
            "merge_group": {"base_ref": "refs/heads/main"},
            "repository": {"default_branch": "trunk"},
        },
    }


@pytest.mark.slow
def test_merge_group_checks_the_queued_result(team: Team, tmp_path: Path) -> None:
    inputs = {"fix": "rebase"}
    # Two unfixed pull requests queued together: the queued result has three heads.
    ref = queue(team, 8, "feature-a", "feature-b")
    runner = runner_checkout(team, ref)
    proc, summary, output = run_step(
        "Check migrations", runner, tmp_path, inputs=inputs, github=merge_group_event()
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert output == "status=1\n"
    assert summary.startswith("### migfix: migration problems against origin/main\n")
    shutil.rmtree(runner)
    # feature-a fixed on its pull request, then queued alone: the queued result passes.
    fixer = runner_checkout(team, "feature-a")
    proc, _, _ = run_step(
        "Fix migrations", fixer, tmp_path, inputs=inputs, github=pr_event(7, "feature-a")
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.rmtree(fixer)
    runner = runner_checkout(team, queue(team, 7, "feature-a"))
    proc, summary, output = run_step(
        "Check migrations", runner, tmp_path, inputs=inputs, github=merge_group_event()
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary == "### migfix: migrations OK against origin/main\n"


@pytest.mark.slow
def test_unknown_fix_is_a_usage_error(team: Team, tmp_path: Path) -> None:
    runner = runner_checkout(team, "feature-a")
    proc, _, _ = run_step(
        "Fix migrations",
        runner,
        tmp_path,
        inputs={"fix": "squash"},
        github=pr_event(7, "feature-a"),
    )
    assert proc.returncode == 2
    assert "::error title=migfix::fix: 'squash' is none, rebase or merge" in proc.stdout


def test_docs_workflow_uses_the_fix() -> None:
    workflow = yaml.safe_load((REPO / "docs" / "fix-migrations.yml").read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    assert set(workflow[True]) == {"pull_request", "push", "merge_group"}
    steps = workflow["jobs"]["migfix"]["steps"]
    action = next(s for s in steps if str(s.get("uses", "")).endswith("/migfix@v0.1.0"))
    assert action["with"]["fix"] == "rebase"
    assert workflow["permissions"]["contents"] == "write"


def run_gitlab_job(team: Team, **variables: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The template's job on a merge request pipeline for feature-b, as a GitLab runner runs
    it; returns the finished script and the runner's checkout."""
    job = yaml.safe_load((REPO / "docs" / "gitlab-ci-migfix.yml").read_text(encoding="utf-8"))
    job = job["migfix-fix"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert set(job["artifacts"]["paths"]) == {"migfix-fix.patch", "migfix-summary.md"}
    # A GitLab runner's checkout: the whole history (GIT_DEPTH 0), detached at the commit.
    runner = team.remote.parent / "runner"
    git(runner.parent, "clone", "-q", f"file://{team.remote}", "runner")
    git(runner, "checkout", "-q", "--detach", "origin/feature-b")
    # The runner has no git identity of its own: the template leaves it to migfix's bot.
    identity = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))},
        **{k: v for k, v in GIT_ENV.items() if k not in identity},
        **{k: str(v) for k, v in job["variables"].items()},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature-b",
        "CI_PROJECT_ID": "1",
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "1",
        "CI_SERVER_HOST": "gitlab.example",
        "CI_PROJECT_PATH": "octo/shop",
        **variables,
    }
    for name in identity:
        env.pop(name, None)
    proc = subprocess.run(
        # GitLab runs the script's lines in one bash that stops at the first failure.
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "\n".join(job["script"])],
        cwd=runner,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, runner


@pytest.mark.slow
def test_gitlab_template_without_a_token_saves_a_patch(team: Team) -> None:
    tip = server(team, "feature-b")
    proc, runner = run_gitlab_job(team)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not asked to push (--no-push)" in proc.stderr
    assert server(team, "feature-b") == tip
    assert (runner / "migfix-fix.patch").is_file()
    assert "git apply migfix-fix.patch" in (runner / "migfix-summary.md").read_text()


@pytest.mark.slow
def test_gitlab_template_with_a_token_pushes_the_fix(team: Team) -> None:
    tip = server(team, "feature-b")
    # The URL the template pushes to, with the token in it, leads to the bare repository.
    url = "https://oauth2:glpat-secret@gitlab.example/octo/shop.git"
    proc, runner = run_gitlab_job(
        team,
        MIGFIX_PUSH_TOKEN="glpat-secret",
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.file://{team.remote}.insteadOf",
        GIT_CONFIG_VALUE_0=url,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Pushed the fix to origin/feature-b." in proc.stdout
    assert git(team.remote, "rev-list", "--count", "--first-parent", f"{tip}..feature-b") == "1"
    bot = "migfix <migfix@users.noreply.github.com>"
    assert git(team.remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "feature-b") == (
        f"{bot}|{bot}"
    )
    assert "bbbb0101 (bbbb0004 -> cccc0101)" in (runner / "migfix-summary.md").read_text()
