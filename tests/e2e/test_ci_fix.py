"""``migfix ci fix`` end to end, with a bare repository as the server.

origin/main has the typed fixture (head bbbb0004). Branch ``feature-a`` adds aaaa0101; branch
``feature-b`` adds bbbb0101 and bbbb0102 on top of it; then main gets cccc0101. A CI checkout
of each branch (a fresh clone, as a runner has) runs ``migfix ci fix``, and bob merges the
branches into main with plain ``git merge`` as the server's merge button would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Migfix, Result
from gitutil import git, git_proc
from projutil import Proj, Team, alembic_view, land, make_team

from migfix.cli.main import main

A, B1, B2, M = "aaaa0101", "bbbb0101", "bbbb0102", "cccc0101"

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]


def branches(tmp_path: Path) -> Team:
    """The two pull requests, then main moves on with cccc0101."""
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature-a")
    alice.revision(A, "add a")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "a")
    git(alice.root, "push", "-q", "-u", "origin", "feature-a")
    git(alice.root, "checkout", "-q", "-b", "feature-b", "main")
    alice.revision(B1, "add b one")
    alice.revision(B2, "add b two")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "b")
    git(alice.root, "push", "-q", "-u", "origin", "feature-b")
    land(team.bob, M, "main moves on")
    return team


def checkout(team: Team, branch: str, name: str) -> Path:
    """A runner's checkout of BRANCH: a fresh clone, that branch checked out."""
    dest = team.remote.parent / name
    git(team.remote.parent, "clone", "-q", "--branch", branch, str(team.remote), name)
    return dest


def ci_fix(migfix: Migfix, cwd: Path, *args: str) -> Result:
    return migfix(cwd, "ci", "fix", "--base", "origin/main", *args)


def server(team: Team, branch: str) -> str:
    return git(team.remote, "rev-parse", f"refs/heads/{branch}")


def main_files(team: Team) -> dict[str, bytes]:
    """Every revision file on the server's main, by path."""
    names = git(team.remote, "ls-tree", "-r", "--name-only", "main", "migrations/versions")
    return {
        n: git_proc(team.remote, "show", f"main:{n}").stdout.encode() for n in names.splitlines()
    }


def push_docs_branch(team: Team) -> None:
    """Alice pushes ``docs``, a branch from main that changes no migration."""
    alice = team.alice.root
    git(alice, "checkout", "-q", "-b", "docs", "main")
    (alice / "NOTES").write_text("docs only\n")
    git(alice, "add", "NOTES")
    git(alice, "commit", "-q", "-m", "docs")
    git(alice, "push", "-q", "origin", "docs")


def merge_into_main(team: Team, branch: str) -> None:
    """The merge button: a plain `git merge` of the branch into main, pushed."""
    bob = team.bob.root
    git(bob, "checkout", "-q", "main")
    git(bob, "pull", "-q", "--no-rebase", "--no-edit")
    git(bob, "merge", "-q", "--no-edit", f"origin/{branch}")
    git(bob, "push", "-q", "origin", "main")


def test_two_branches_are_fixed_and_merge_with_one_head(tmp_path: Path, migfix: Migfix) -> None:
    team = branches(tmp_path)
    before = {b: server(team, b) for b in ("feature-a", "feature-b")}
    for branch in ("feature-a", "feature-b"):
        rc, out, err = ci_fix(migfix, checkout(team, branch, f"ci-{branch}"))
        assert rc == 0, err
        assert f"Pushed the fix to origin/{branch}." in out
        # One commit on top of what the branch had (merging main in, the fix with it).
        assert (
            git(team.remote, "rev-list", "--count", "--first-parent", f"{before[branch]}..{branch}")
            == "1"
        )
        assert git(team.remote, "rev-parse", f"{branch}^1") == before[branch]
        # Every moved revision is named with the `migfix db sync` a database that ran it needs.
        moved = {"feature-a": [A], "feature-b": [B1]}[branch]
        assert err == (
            "moved "
            + "; ".join(f"{r} (bbbb0004 -> cccc0101)" for r in moved)
            + ": `migfix db sync` brings a database that ran them in step.\n"
        )
    assert "aaaa0101: bbbb0004 -> cccc0101" in git(team.remote, "log", "-1", "feature-a")
    assert "bbbb0101: bbbb0004 -> cccc0101" in git(team.remote, "log", "-1", "feature-b")
    # The branch alone now upgrades too (a review app deployed from it).
    assert alembic_view(Proj(tmp_path / "ci-feature-b", "typed"), upgrade=True)["current"] == [B2]

    main_before = main_files(team)
    merge_into_main(team, "feature-a")
    bob = team.bob
    view = alembic_view(bob, upgrade=True)
    assert view["heads"] == [A] and view["current"] == [A]
    after = main_files(team)
    assert {n: after[n] for n in main_before} == main_before

    # main moved again: the push to main runs the fix on feature-b once more.
    tip = server(team, "feature-b")
    rc, out, err = ci_fix(migfix, checkout(team, "feature-b", "ci-b-again"))
    assert rc == 0, err
    assert "bbbb0101: cccc0101 -> aaaa0101" in out
    assert git(team.remote, "rev-list", "--count", "--first-parent", f"{tip}..feature-b") == "1"
    main_before = main_files(team)
    merge_into_main(team, "feature-b")
    view = alembic_view(bob, upgrade=True)
    assert view["heads"] == [B2] and view["current"] == [B2]
    after = main_files(team)
    assert {n: after[n] for n in main_before} == main_before


@pytest.mark.parametrize(
    "identity",
    [{}, {"EMAIL": "ci@runner.example.com"}],
    ids=["none", "guessed-from-the-host"],
)
def test_the_fix_is_committed_as_a_bot_unless_an_identity_is_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migfix: Migfix, identity: dict[str, str]
) -> None:
    """A runner with no git identity (or one git would only guess from the host and user
    name) commits as migfix; an identity the job configured (the action's bot) is kept."""
    team = branches(tmp_path)
    for name in ("NAME", "EMAIL"):
        for who in ("AUTHOR", "COMMITTER"):
            monkeypatch.delenv(f"GIT_{who}_{name}")
    for name, value in identity.items():
        monkeypatch.setenv(name, value)
    rc, _, err = ci_fix(migfix, checkout(team, "feature-a", "ci"))
    assert rc == 0, err
    bot = "migfix <migfix@users.noreply.github.com>"
    assert git(team.remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "feature-a") == (
        f"{bot}|{bot}"
    )
    clone = checkout(team, "feature-b", "ci-b")
    git(clone, "config", "user.name", "shop-bot")
    git(clone, "config", "user.email", "bot@shop.example")
    assert ci_fix(migfix, clone)[0] == 0
    assert git(team.remote, "log", "-1", "--format=%an <%ae>", "feature-b") == (
        "shop-bot <bot@shop.example>"
    )


def test_nothing_to_fix_changes_nothing(tmp_path: Path, migfix: Migfix) -> None:
    team = branches(tmp_path)
    clone = checkout(team, "feature-a", "ci")
    assert ci_fix(migfix, clone)[0] == 0
    tip = server(team, "feature-a")
    again = checkout(team, "feature-a", "ci-again")
    rc, out, _ = ci_fix(migfix, again)
    assert rc == 0
    assert (
        out
        == "Nothing to fix: merging feature-a into origin/main leaves one head per branch label.\n"
    )
    assert server(team, "feature-a") == tip
    assert git(again, "status", "--porcelain") == ""
    assert git(again, "rev-parse", "HEAD") == tip


def more_work(team: Team, branch: str) -> str:
    """Alice commits more on BRANCH and pushes it to ``BRANCH-next``; returns that commit."""
    alice = team.alice.root
    git(alice, "checkout", "-q", branch)
    (alice / "NOTES").write_text("more work\n")
    git(alice, "add", "NOTES")
    git(alice, "commit", "-q", "-m", "more work")
    git(alice, "push", "-q", "origin", f"HEAD:refs/heads/{branch}-next")
    return git(alice, "rev-parse", "HEAD")


def test_a_push_made_before_the_job_ran_is_not_overwritten(tmp_path: Path, migfix: Migfix) -> None:
    team = branches(tmp_path)
    clone = checkout(team, "feature-a", "ci")
    # Alice pushes again while the job is queued on the older commit.
    theirs = more_work(team, "feature-a")
    git(team.remote, "update-ref", "refs/heads/feature-a", theirs)
    rc, out, err = ci_fix(migfix, clone)
    assert rc == 1
    assert f"origin/feature-a is at {theirs[:12]}, not at the checked-out commit" in err
    assert "nothing was changed" in err and out == ""
    assert server(team, "feature-a") == theirs
    assert git(clone, "status", "--porcelain") == ""


def test_a_push_that_lands_during_the_run_is_not_overwritten(
    tmp_path: Path, migfix: Migfix
) -> None:
    team = branches(tmp_path)
    clone = checkout(team, "feature-a", "ci")
    theirs = more_work(team, "feature-a")
    # Alice's push lands on the server just before ours: the server's hook moves the branch
    # as our push arrives (outside git's quarantine, as a concurrent push would).
    hook = team.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"env -u GIT_QUARANTINE_PATH git update-ref refs/heads/feature-a {theirs}\n"
        "cat >/dev/null\n"
    )
    hook.chmod(0o755)
    rc, _, err = ci_fix(migfix, clone)
    assert rc == 1
    assert f"origin/feature-a moved while migfix fixed it (it is at {theirs[:12]} now" in err
    assert "nothing was pushed" in err
    assert server(team, "feature-a") == theirs


def test_a_branch_it_cannot_push_to_gets_a_patch(tmp_path: Path, migfix: Migfix) -> None:
    team = branches(tmp_path)
    hook = team.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        '  [ "$ref" = refs/heads/feature-b ] && { echo "feature-b is protected" >&2; exit 1; }\n'
        "done\nexit 0\n"
    )
    hook.chmod(0o755)
    tip = server(team, "feature-b")
    clone = checkout(team, "feature-b", "ci")
    summary = tmp_path / "summary.md"
    rc, _, err = ci_fix(
        migfix,
        clone,
        "--patch",
        str(tmp_path / "fix.patch"),
        "--summary",
        str(summary),
    )
    assert rc == 1
    assert err.count("\n") == 1 and "could not push it" in err and "feature-b is protected" in err
    assert server(team, "feature-b") == tip
    text = summary.read_text()
    assert "needs a migration fix this run could not push" in text
    assert "git apply fix.patch" in text and text.count("```mermaid") == 2

    # The author applies it on the branch and pushes (bob can: the hook is only for CI's push).
    hook.unlink()
    mine = checkout(team, "feature-b", "author")
    git(mine, "apply", str(tmp_path / "fix.patch"))
    git(mine, "add", "-A")
    git(mine, "commit", "-q", "-m", "apply migfix's fix")
    git(mine, "push", "-q", "origin", "feature-b")
    main_before = main_files(team)
    merge_into_main(team, "feature-b")
    view = alembic_view(team.bob, upgrade=True)
    assert view["heads"] == [B2] and view["current"] == [B2]
    after = main_files(team)
    assert {n: after[n] for n in main_before} == main_before


def test_merge_strategy_writes_a_merge_revision(tmp_path: Path, migfix: Migfix) -> None:
    team = branches(tmp_path)
    clone = checkout(team, "feature-b", "ci")
    rc, out, err = ci_fix(migfix, clone, "--strategy", "merge")
    assert rc == 0, err
    assert "Created merge revision" in out
    text = git(team.remote, "log", "-1", "--format=%B", "feature-b")
    assert text.startswith("Merge migration heads of origin/main and feature-b")
    main_before = main_files(team)
    merge_into_main(team, "feature-b")
    view = alembic_view(team.bob, upgrade=True)
    assert len(view["heads"]) == 1 and view["current"] == view["heads"]
    after = main_files(team)
    assert {n: after[n] for n in main_before} == main_before


def test_heads_lock_conflict_is_resolved_and_the_merge_is_clean(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    migfix: Migfix,
) -> None:
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob

    def lock_update(proj: Proj, message: str) -> None:
        monkeypatch.chdir(proj.root)
        assert main(["lock", "update"]) == 0
        git(proj.root, "add", "-A")
        git(proj.root, "commit", "-q", "-m", message)

    (alice.root / "pyproject.toml").write_text("[tool.migfix]\nlock = true\n")
    lock_update(alice, "lock the heads")
    git(alice.root, "push", "-q", "origin", "main")
    git(alice.root, "checkout", "-q", "-b", "feature-a")
    alice.revision(A, "add a")
    lock_update(alice, "a")
    git(alice.root, "push", "-q", "-u", "origin", "feature-a")
    git(bob.root, "pull", "-q", "--no-rebase", "--no-edit")
    bob.revision(M, "main moves on")
    lock_update(bob, "m")
    git(bob.root, "push", "-q", "origin", "main")
    # Without the fix, the merge button would stop on the lock.
    probe = git_proc(bob.root, "merge", "--no-commit", "--no-ff", "origin/feature-a")
    assert probe.returncode == 1 and "heads.lock" in probe.stdout
    git(bob.root, "merge", "--abort")

    rc, out, err = ci_fix(migfix, checkout(team, "feature-a", "ci"))
    assert rc == 0, err
    assert "Both origin/main and this branch changed the heads lock migrations/heads.lock" in out
    assert "aaaa0101: bbbb0004 -> cccc0101" in out
    main_before = main_files(team)
    merge_into_main(team, "feature-a")  # no conflict: git merges it by itself
    view = alembic_view(bob, upgrade=True)
    assert view["heads"] == [A] and view["current"] == [A]
    after = main_files(team)
    assert {n: after[n] for n in main_before} == main_before
    capsys.readouterr()
    monkeypatch.chdir(bob.root)
    assert main(["check"]) == 0, capsys.readouterr()  # the lock matches the one head


def test_a_base_that_conflicts_outside_the_migrations_is_left_to_a_person(
    tmp_path: Path, migfix: Migfix
) -> None:
    team = branches(tmp_path)
    for proj, branch, text in ((team.alice, "feature-a", "ours\n"), (team.bob, "main", "theirs\n")):
        git(proj.root, "checkout", "-q", branch)
        git(proj.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", branch)
        (proj.root / "app.cfg").write_text(text)
        git(proj.root, "add", "app.cfg")
        git(proj.root, "commit", "-q", "-m", "config")
        git(proj.root, "push", "-q", "origin", branch)
    tip = server(team, "feature-a")
    clone = checkout(team, "feature-a", "ci")
    rc, _, err = ci_fix(migfix, clone)
    assert rc == 1
    assert err == (
        "migfix: Merging origin/main into feature-a conflicts outside the migrations "
        "(app.cfg), so migfix ci fix cannot fix the migrations on its own. Merge origin/main "
        "into feature-a by hand, then run `migfix rebase --onto origin/main` (or let this job "
        "run again).\n"
    )
    # The checkout is as it was: no merge in progress, no file changed, nothing pushed.
    assert git(clone, "status", "--porcelain") == ""
    assert git(clone, "rev-parse", "HEAD") == tip == server(team, "feature-a")
    assert not (clone / ".git" / "MERGE_HEAD").exists()


@pytest.mark.parametrize(
    ("base_var", "branch_var"),
    [
        ("GITHUB_BASE_REF", "GITHUB_HEAD_REF"),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
    ],
    ids=["github", "gitlab"],
)
def test_without_a_base_or_a_branch_it_says_what_to_give(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    base_var: str,
    branch_var: str,
) -> None:
    team = branches(tmp_path)
    clone = checkout(team, "feature-a", "ci")
    monkeypatch.chdir(clone)
    assert main(["ci", "fix"]) == 2
    assert "needs the branch the pull request merges into: give `--base origin/main`" in (
        capsys.readouterr().err
    )
    git(clone, "checkout", "-q", "--detach")
    assert main(["ci", "fix", "--base", "origin/main"]) == 2
    assert "HEAD is detached: give `--branch NAME`" in capsys.readouterr().err
    # A pull request's workflow (GitHub) or a merge request pipeline (GitLab) names both.
    monkeypatch.setenv(base_var, "main")
    monkeypatch.setenv(branch_var, "feature-a")
    assert main(["ci", "fix"]) == 0
    assert "Pushed the fix to origin/feature-a." in capsys.readouterr().out


def test_a_branch_without_revisions_is_left_alone(tmp_path: Path, migfix: Migfix) -> None:
    team = branches(tmp_path)
    push_docs_branch(team)
    clone = checkout(team, "docs", "ci")
    rc, out, _ = ci_fix(migfix, clone)
    assert rc == 0
    assert out == "Nothing to fix: docs adds no revisions that origin/main lacks.\n"
    assert git(clone, "rev-parse", "HEAD") == server(team, "docs")


def test_untouched_says_which_pull_requests_change_the_migrations(
    tmp_path: Path, migfix: Migfix
) -> None:
    team = branches(tmp_path)
    # docs left main before cccc0101 landed there: what main gained since is not docs' change.
    push_docs_branch(team)
    assert git(team.remote, "diff", "--name-only", "docs", "main").endswith(
        "cccc0101_main_moves_on.py"
    )
    # A runner's checkout of main: one commit deep, so the merge base must be fetched.
    git(team.remote.parent, "clone", "-q", "--depth", "1", f"file://{team.remote}", "runner")
    runner = team.remote.parent / "runner"
    for branch in ("docs", "feature-b"):
        git(runner, "fetch", "-q", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    untouched = ("ci", "untouched", "--base", "origin/main")
    rc, out, err = migfix(runner, *untouched, "origin/docs")
    assert (rc, err) == (0, "")
    assert out == (
        "origin/docs changes nothing in migrations/versions or alembic.ini since origin/main.\n"
    )
    rc, out, err = migfix(runner, *untouched, "origin/feature-b")
    assert (rc, err) == (1, "")
    assert out == (
        "origin/feature-b changes migrations/versions or alembic.ini since origin/main: "
        "`migfix ci fix` has to look at it.\n"
    )
    rc, _, err = migfix(runner, *untouched, "no-such-ref")
    assert rc == 2
    assert "no-such-ref" in err


def test_untouched_counts_the_heads_lock_as_the_migrations(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migfix: Migfix
) -> None:
    # A pull request that changes only the heads lock may still need ci fix (a stale lock).
    team = make_team(tmp_path, "typed")
    alice = team.alice.root
    (alice / "pyproject.toml").write_text("[tool.migfix]\nlock = true\n")
    monkeypatch.chdir(alice)
    assert main(["lock", "update"]) == 0
    git(alice, "add", "-A")
    git(alice, "commit", "-q", "-m", "lock the heads")
    git(alice, "push", "-q", "origin", "main")
    git(alice, "checkout", "-q", "-b", "relock")
    lock = alice / "migrations" / "heads.lock"
    lock.write_text(lock.read_text() + "\n")
    git(alice, "commit", "-q", "-am", "touch the lock")
    git(alice, "push", "-q", "origin", "relock")
    runner = checkout(team, "main", "ci")
    rc, out, err = migfix(runner, "ci", "untouched", "--base", "origin/main", "origin/relock")
    assert (rc, err) == (1, "")
    assert out == (
        "origin/relock changes migrations/versions, migrations/heads.lock, alembic.ini or "
        "pyproject.toml since origin/main: `migfix ci fix` has to look at it.\n"
    )


# What the base's project reads its configuration from, and what the pull request changes.
CONFIG_CHANGES = {
    # A second version location: the heads are read from more folders.
    "alembic.ini": (
        None,
        (
            "alembic.ini",
            lambda t: t.replace(
                "[alembic]\n",
                "[alembic]\nversion_locations = %(here)s/migrations/versions %(here)s/shared\n",
            ),
        ),
    ),
    # Two heads become allowed (or no longer are): what check and fix accept changes.
    "tool.migfix": (
        '[tool.migfix]\nstrategy = "merge"\n',
        ("pyproject.toml", lambda t: t + 'allow_heads = ["bbbb0004"]\n'),
    ),
    "tool.alembic": (
        "[tool.alembic]\nrecursive_version_locations = false\n",
        ("pyproject.toml", lambda t: t.replace("false", "true")),
    ),
    # A pyproject.toml without [tool.migfix] is where discovery read the settings from.
    "new tool.migfix": (
        '[project]\nname = "app"\n',
        ("pyproject.toml", lambda t: t + "[tool.migfix]\nlock = true\n"),
    ),
}


@pytest.mark.parametrize("change", list(CONFIG_CHANGES))
def test_untouched_counts_the_projects_configuration_as_the_migrations(
    tmp_path: Path, migfix: Migfix, change: str
) -> None:
    # A pull request that changes only how the project is configured can change its heads
    # (a version location) or what is allowed of them (allow_heads): ci fix must look at it.
    team = make_team(tmp_path, "typed")
    alice = team.alice.root
    base, (name, edit) = CONFIG_CHANGES[change]
    if base is not None:
        (alice / "pyproject.toml").write_text(base)
        git(alice, "add", "-A")
        git(alice, "commit", "-q", "-m", "configure")
        git(alice, "push", "-q", "origin", "main")
    git(alice, "checkout", "-q", "-b", "config")
    (alice / name).write_text(edit((alice / name).read_text()))
    git(alice, "commit", "-q", "-am", "reconfigure")
    git(alice, "push", "-q", "origin", "config")
    runner = checkout(team, "main", "ci")

    rc, out, err = migfix(runner, "ci", "untouched", "--base", "origin/main", "origin/config")

    assert (rc, err) == (1, "")
    read = (
        "migrations/versions or alembic.ini"
        if base is None
        else "migrations/versions, alembic.ini or pyproject.toml"
    )
    assert out == (
        f"origin/config changes {read} since origin/main: `migfix ci fix` has to look at it.\n"
    )


def test_a_stale_heads_lock_alone_is_brought_up_to_date(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migfix: Migfix
) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    (alice.root / "pyproject.toml").write_text("[tool.migfix]\nlock = true\n")
    monkeypatch.chdir(alice.root)
    assert main(["lock", "update"]) == 0
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "lock the heads")
    git(alice.root, "push", "-q", "origin", "main")
    git(alice.root, "checkout", "-q", "-b", "feature-a")
    alice.revision(A, "add a")  # on main's head, but the lock is not updated
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "a")
    git(alice.root, "push", "-q", "-u", "origin", "feature-a")
    tip = server(team, "feature-a")
    rc, out, err = ci_fix(migfix, checkout(team, "feature-a", "ci"))
    assert rc == 0, err
    assert out.startswith(
        "The heads lock migrations/heads.lock would not match the merged graph.\n"
        "Updated the heads lock migrations/heads.lock.\n"
    )
    assert git(team.remote, "log", "-1", "--format=%s", "feature-a") == (
        "Update the heads lock for origin/main"
    )
    assert git(team.remote, "rev-parse", "feature-a^") == tip  # no merge: main was in already
    lock = git(team.remote, "show", "feature-a:migrations/heads.lock")
    assert lock.endswith(f"\n{A} add a")


def test_all_projects_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["ci", "fix", "--all", "--base", "origin/main"]) == 2
    assert "fixes one project per run; name it with -c" in capsys.readouterr().err


def test_a_pull_request_that_edits_a_base_revision_is_still_fixed(
    tmp_path: Path, migfix: Migfix
) -> None:
    """The guard before the push is about what migfix changed: a pull request may edit one
    of main's revisions itself (a comment, a fix not deployed yet), and that edit is kept."""
    team = branches(tmp_path)
    alice = team.alice.root
    git(alice, "checkout", "-q", "feature-a")
    old = alice / "migrations" / "versions" / "bbbb0001_create_account_table.py"
    old.write_bytes(old.read_bytes() + b"# reviewed\n")
    git(alice, "commit", "-q", "-am", "note on an old revision")
    git(alice, "push", "-q", "origin", "feature-a")
    tip = server(team, "feature-a")
    rc, out, err = ci_fix(migfix, checkout(team, "feature-a", "ci"))
    assert rc == 0, err
    assert "aaaa0101: bbbb0004 -> cccc0101" in out
    rel = "migrations/versions/bbbb0001_create_account_table.py"
    assert git(team.remote, "show", f"feature-a:{rel}") == git(team.remote, "show", f"{tip}:{rel}")
