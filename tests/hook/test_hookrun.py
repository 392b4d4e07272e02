"""What the installed hooks do: real ``migfix hook install`` (through the CLI, so the recorded
interpreter is this test's Python), then real ``git merge`` / ``git pull`` / ``git pull
--rebase`` firing them in real repositories with Alembic projects made by ``alembic revision``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import child_imports
from gitutil import commit_all, git, git_proc
from projutil import (
    Proj,
    land,
    local_project,
    make_team,
    migfix_proc,
    two_migration_branches,
)

from migfix.hook import install as hook

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

B, C, N = "b0000001", "c0000001", "n0000001"
MERGE_FILE = re.compile(r"\?\? migrations/versions/([0-9a-f]{12})_merge_heads\.py")


def install(repo: Path, *args: str) -> str:
    proc = migfix_proc(repo, "hook", "install", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commit(proj: Proj, message: str) -> None:
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", message)


def behind(tmp_path: Path, template: str = "typed", *install_args: str) -> Proj:
    """alice, with the hooks installed (INSTALL_ARGS), committed N on main's head; bob has
    since landed C on origin/main: her next pull leaves two heads."""
    team = make_team(tmp_path, template)
    alice = team.alice
    install(alice.root, *install_args)
    alice.revision(N, "add n")
    commit(alice, "n")
    land(team.bob, C, "add c")
    return alice


def hook_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("migfix:")]


def heads(proj: Proj) -> list[str]:
    proc = migfix_proc(proj.root, "heads", "--json")
    return sorted(h["revision"] for h in json.loads(proc.stdout)["heads"])


# --- post-merge ------------------------------------------------------------------------------


def test_real_merge_fires_the_hook_which_writes_the_merge_and_leaves_it_uncommitted(
    tmp_path: Path,
) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    status = git(proj.root, "status", "--porcelain")
    found = MERGE_FILE.fullmatch(status)
    assert found, status
    rev = found.group(1)
    path = f"migrations/versions/{rev}_merge_heads.py"
    assert hook_lines(merged.stderr) == [
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`.",
        f"migfix: Created merge revision {rev} ({B}, {C}): {path}",
        "migfix: Review the result and commit it; `migfix check` now passes.",
        # `git diff` alone would not show the new file.
        f"migfix: left uncommitted for review: `git status` (new: {path}) and `git diff`, "
        "then commit.",
    ]
    assert git(proj.root, "log", "-1", "--format=%s") == "Merge branch 'feat-c'"
    assert heads(proj) == [rev]
    assert migfix_proc(proj.root, "check").returncode == 0


@pytest.mark.parametrize("how", ["config", "install-option"])
def test_commit_setting_commits_the_fix(tmp_path: Path, how: str) -> None:
    proj = local_project(tmp_path)
    if how == "config":
        (proj.root / "pyproject.toml").write_text("[tool.migfix]\ncommit = true\n")
        commit(proj, "migfix config")
        install(proj.root)
    else:
        assert "post-merge" in install(proj.root, "--commit")
    two_migration_branches(proj)

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    [added] = proj.versions.glob("*_merge_heads.py")
    # Says what happened, and only that: no "Review the result and commit it" before it.
    assert hook_lines(merged.stderr) == [
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`.",
        f"migfix: Created merge revision {added.name[:12]} ({B}, {C}): "
        f"migrations/versions/{added.name}",
        "migfix: committed the result.",
    ]
    assert git(proj.root, "status", "--porcelain") == ""
    assert git(proj.root, "log", "-1", "--format=%s") == "Merge migration heads (migfix)"
    changed = git(proj.root, "show", "--name-status", "--format=", "HEAD")
    assert re.fullmatch(r"A\tmigrations/versions/[0-9a-f]{12}_merge_heads\.py", changed)
    # A plain commit on top of the merge commit, not a second merge.
    assert len(git(proj.root, "rev-list", "--parents", "-n1", "HEAD").split()) == 2
    assert git(proj.root, "rev-parse", "HEAD~1^2") == git(proj.root, "rev-parse", "feat-c")
    assert migfix_proc(proj.root, "check").returncode == 0


def test_commit_after_pull_rebase(tmp_path: Path) -> None:
    alice = behind(tmp_path, "typed", "--commit")

    pulled = git_proc(alice.root, "pull", "--rebase")

    assert pulled.returncode == 0, pulled.stderr
    assert hook_lines(pulled.stderr)[-1] == "migfix: committed the result."
    assert git(alice.root, "status", "--porcelain") == ""
    assert git(alice.root, "log", "--format=%s", "-3").splitlines() == [
        "Merge migration heads (migfix)",
        "n",
        f"add {C}",
    ]
    assert heads(alice) == [N]


def test_commit_setting_never_commits_a_migration_the_user_had_not_committed(
    tmp_path: Path,
) -> None:
    # n is still being written (untracked) when `git pull` brings c: the hook moves n onto c
    # but must not commit the user's unfinished migration in a "Merge migration heads" commit.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    install(alice.root, "--commit")
    n_path = alice.revision(N, "add n")
    land(team.bob, C, "add c")

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit")

    assert pulled.returncode == 0, pulled.stderr
    assert git(alice.root, "rev-parse", "HEAD") == git(alice.root, "rev-parse", "origin/main")
    assert git(alice.root, "status", "--porcelain") == f"?? migrations/versions/{n_path.name}"
    assert hook_lines(pulled.stderr)[1:] == [
        f"migfix: Repointed {N}: {alice.a} -> {C}  (migrations/versions/{n_path.name})",
        f"migfix: moved {N} ({alice.a} -> {C}): `migfix db sync` brings a database that ran "
        "them in step.",
        "migfix: Review the result and commit it; `migfix check` now passes.",
        f"migfix: did not commit migrations/versions/{n_path.name}: it holds changes of yours "
        "that were not committed yet. Review it and commit it yourself.",
    ]
    assert heads(alice) == [N]


def test_git_pull_from_a_bare_remote_repoints_this_branchs_revision(tmp_path: Path) -> None:
    alice = behind(tmp_path, "flask")

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit")

    assert pulled.returncode == 0, pulled.stderr
    assert hook_lines(pulled.stderr)[:2] == [
        f"migfix: the merge left several migration heads ({C}, {N}); fixing with `merge`.",
        f"migfix: Repointed {N}: {alice.a} -> {C}  (migrations/versions/{N}_add_n.py)",
    ]
    assert git(alice.root, "status", "--porcelain") == f" M migrations/versions/{N}_add_n.py"
    assert heads(alice) == [N]


def test_git_pull_rebase_fires_post_rewrite(tmp_path: Path) -> None:
    alice = behind(tmp_path)

    pulled = git_proc(alice.root, "pull", "--rebase")

    assert pulled.returncode == 0, pulled.stderr
    assert hook_lines(pulled.stderr)[:2] == [
        f"migfix: the rebase left several migration heads ({C}, {N}); fixing with `merge`.",
        f"migfix: Repointed {N}: {alice.a} -> {C}  (migrations/versions/{N}_add_n.py)",
    ]
    # A rebase, not a merge: linear history, and the fix waits in the work tree.
    assert git(alice.root, "rev-list", "--merges", "HEAD") == ""
    assert git(alice.root, "status", "--porcelain") == f" M migrations/versions/{N}_add_n.py"
    assert heads(alice) == [N]


def test_a_rebase_that_brought_no_migration_starts_no_python(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    exe, log = logging_python(tmp_path)
    # post-rewrite alone: post-checkout and post-commit start Python for the rebase's own
    # checkout and the commit of her revision.
    hook.install(alice.root, hook_types=["post-rewrite"], interpreter=str(exe))
    alice.revision(N, "add n")  # her own revision: unchanged by a rebase onto app code
    commit(alice, "n")
    (bob.root / "app.py").write_text("x = 1\n")
    commit(bob, "app code")
    git(bob.root, "push", "-q", "origin", "main")

    pulled = git_proc(alice.root, "pull", "--rebase")

    assert pulled.returncode == 0, pulled.stderr
    assert hook_lines(pulled.stderr) == []
    assert not log.exists(), log.read_text()  # two `git diff`s, no Python
    # One that brings a revision does start it, with git's arguments.
    land(bob, C, "add c")
    pulled = git_proc(alice.root, "pull", "--rebase")
    assert pulled.returncode == 0, pulled.stderr
    assert log.read_text() == "-m migfix.hookrun post-rewrite -- rebase\n"
    assert heads(alice) == [N]


_IMPORTS = r"""
import sys
from migfix.cli.main import main
rc = main(["hook", "run", *sys.argv[1:]])
heavy = {"alembic", "sqlalchemy", "libcst", "git", "mako"} & set(sys.modules)
print(rc, sorted(heavy))
"""


def _hook_run_imports(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _IMPORTS, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )


def _hookrun_imports(repo: Path, *args: str) -> tuple[int, set[str]]:
    """Exit code and modules of ``python -m migfix.hookrun ARGS``, the installed hook's own
    command, as ``-X importtime`` lists them."""
    proc, modules = child_imports(repo, "-m", "migfix.hookrun", *args)
    return proc.returncode, set(modules)


def test_merge_without_migrations_is_silent_and_cheap(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    git(proj.root, "merge", "-q", "--no-edit", "feat-c")  # the hook fixed these heads
    commit(proj, "merge heads")
    git(proj.root, "checkout", "-q", "-b", "docs", "main~1")
    (proj.root / "README").write_text("docs\n")
    commit(proj, "docs")
    git(proj.root, "checkout", "-q", "main")

    started = time.monotonic()
    merged = git_proc(proj.root, "merge", "--no-edit", "docs")
    elapsed = time.monotonic() - started

    assert merged.returncode == 0, merged.stderr
    assert hook_lines(merged.stderr) == []
    assert git(proj.root, "status", "--porcelain") == ""
    assert elapsed < 5, elapsed  # generous: it is one `git diff` and no heavy import
    # The same path, timed by what it imports: nothing heavy, and none of migfix's modules
    # that find projects, read graphs or write.
    code, imported = _hookrun_imports(proj.root, "post-merge", "--", "0")
    assert code == 0
    assert "migfix.hook.run" in imported  # the listing is real
    assert {"alembic", "sqlalchemy", "libcst", "git", "mako", "click"} & imported == set()
    reading = ("migfix.project.discover", "migfix.read.", "migfix.plan.", "migfix.write.txn")
    assert sorted(m for m in imported if m.startswith(reading)) == []


def test_one_head_is_silent(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    git(proj.root, "checkout", "-q", "-b", "feat-b")
    proj.revision(B, "add b")
    commit(proj, "b")
    git(proj.root, "checkout", "-q", "main")
    (proj.root / "README").write_text("x\n")
    commit(proj, "readme")

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-b")

    assert merged.returncode == 0, merged.stderr
    assert hook_lines(merged.stderr) == []
    assert git(proj.root, "status", "--porcelain") == ""
    # Migrations changed, so the graph was read, but with one head nothing heavy is imported.
    git(proj.root, "reset", "-q", "--hard", "HEAD~1")
    git(proj.root, "merge", "-q", "--no-edit", "feat-b")
    proc = _hook_run_imports(proj.root, "post-merge", "--", "0")
    assert (proc.stdout, proc.stderr) == ("0 []\n", "")


def test_always_checks_after_a_merge_that_did_not_touch_migrations(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    # Two heads already committed, before any hook.
    proj.revision(B, "add b")
    proj.revision(C, "add c", head=proj.a, splice=True)
    commit(proj, "two heads")
    for name in ("docs1", "docs2"):
        git(proj.root, "checkout", "-q", "-b", name, "main~1")
        (proj.root / f"{name}.txt").write_text("x\n")
        commit(proj, name)
    git(proj.root, "checkout", "-q", "main")
    install(proj.root)

    quiet = git_proc(proj.root, "merge", "--no-edit", "docs1")
    assert quiet.returncode == 0
    assert hook_lines(quiet.stderr) == []

    install(proj.root, "--always")
    fixed = git_proc(proj.root, "merge", "--no-edit", "docs2")
    assert fixed.returncode == 0
    assert hook_lines(fixed.stderr)[0] == (
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`."
    )
    assert MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))


@pytest.mark.skipif(
    importlib.util.find_spec("migfix.plan.rebase") is None,
    reason="migfix.plan.rebase is not written yet",
)
def test_rebase_strategy_moves_the_branch_instead_of_merging(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    (alice.root / "pyproject.toml").write_text('[tool.migfix]\nstrategy = "rebase"\n')
    commit(alice, "config")
    install(alice.root)
    alice.revision(N, "add n")
    commit(alice, "n")
    land(team.bob, C, "add c")

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit")

    assert pulled.returncode == 0, pulled.stderr
    assert hook_lines(pulled.stderr)[0] == (
        f"migfix: the merge left several migration heads ({C}, {N}); fixing with `rebase`."
    )
    assert "merge_heads" not in git(alice.root, "status", "--porcelain")
    assert heads(alice) == [N]


def test_rebase_strategy_never_rewrites_a_revision_the_merge_brought_in(tmp_path: Path) -> None:
    # A feature branch that tracks origin/feature merges origin/main. The revision that came
    # from main is on main (maybe applied in production): the hook must not rewrite it, even
    # when this branch's own revision was committed earlier.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    (alice.root / "pyproject.toml").write_text('[tool.migfix]\nstrategy = "rebase"\n')
    commit(alice, "config")
    git(alice.root, "push", "-q", "origin", "main")
    git(alice.root, "checkout", "-q", "-b", "feature")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    install(alice.root)
    alice.revision(N, "add n")
    commit_all(alice.root, "n", date="2020-01-01T00:00:00+00:00")
    git(team.bob.root, "pull", "-q")
    land(team.bob, C, "add c")
    git(alice.root, "fetch", "-q")
    c_bytes = git(alice.root, "show", f"origin/main:migrations/versions/{C}_add_c.py")

    merged = git_proc(alice.root, "merge", "--no-edit", "origin/main")

    assert merged.returncode == 0, merged.stderr
    assert (alice.file(C)).read_text() == c_bytes + "\n"
    assert heads(alice) == [N]


def test_broken_project_exits_0_changes_nothing_and_says_why(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    git(proj.root, "checkout", "-q", "feat-c")
    broken = proj.versions / "zzzz0001_half_written.py"
    broken.write_text('"""half written\n\nrevision = (\n')
    commit(proj, "broken file")
    git(proj.root, "checkout", "-q", "main")
    before = proj.snapshot()

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    assert git(proj.root, "log", "-1", "--format=%s") == "Merge branch 'feat-c'"
    assert git(proj.root, "status", "--porcelain") == ""
    assert {k: v[0] for k, v in proj.snapshot().items()} == {
        **{k: v[0] for k, v in before.items()},
        f"{C}_add_c.py": (proj.versions / f"{C}_add_c.py").read_bytes(),
        broken.name: broken.read_bytes(),
    }
    lines = hook_lines(merged.stderr)
    assert lines[0] == (
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`."
    )
    assert lines[1].startswith(
        "migfix: could not fix the migration heads automatically: The revision graph has "
        f"faults that make rewriting unsafe: migrations/versions/{broken.name}:"
    )
    assert lines[1].endswith(". Fix them first.")
    assert lines[2] == (
        "migfix: Your merge is complete and no file was changed; run `migfix check` and "
        "`migfix merge` by hand."
    )


def test_hook_never_acts_on_a_graph_alembic_would_not_load(tmp_path: Path) -> None:
    # feat-c's revision reads fine in its header but holds committed conflict markers in
    # its body: Alembic cannot import it, so the hook must not write a merge on top.
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    git(proj.root, "checkout", "-q", "feat-c")
    c_file = proj.file(C)
    text = c_file.read_text()
    c_file.write_text(text + "\n<<<<<<< HEAD\nX = 1\n=======\nX = 2\n>>>>>>> other\n")
    line = len(text.splitlines()) + 2
    commit(proj, "conflict committed")
    git(proj.root, "checkout", "-q", "main")

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    assert git(proj.root, "status", "--porcelain") == ""
    lines = hook_lines(merged.stderr)
    assert (
        f"migrations/versions/{c_file.name}:{line}: the file holds git conflict markers"
    ) in lines[1]


# --- post-commit: a merge that stopped on conflicts --------------------------------------------


def logging_python(tmp_path: Path) -> tuple[Path, Path]:
    """An interpreter to record in the hooks: logs each start, then runs this test's Python."""
    log = tmp_path / "python-started.txt"
    exe = tmp_path / "bin" / "python"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    exe.chmod(0o755)
    return exe, log


def conflicted_merge(proj: Proj, *, feature_migration: bool = True, b_on: str = "head") -> str:
    """Both branches edit models.py, main adds b (on B_ON), feature adds c (unless told not
    to); main merges feature, stops on the conflict in models.py, and the user resolves it.

    Returns the commit main was on before the merge. The merge commit is not made yet.
    """
    models = proj.root / "models.py"
    models.write_text("class User:\n    id = 1\n")
    commit(proj, "models")
    git(proj.root, "checkout", "-q", "-b", "feature")
    models.write_text("class User:\n    id = 1\n    name = 'feature'\n")
    if feature_migration:
        proj.revision(C, "add c")
    commit(proj, "feature")
    git(proj.root, "checkout", "-q", "main")
    models.write_text("class User:\n    id = 1\n    email = 'main'\n")
    proj.revision(B, "add b", head=b_on, splice=b_on != "head")
    commit(proj, "main")
    before = git(proj.root, "rev-parse", "HEAD")

    stopped = git_proc(proj.root, "merge", "--no-edit", "feature")

    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "CONFLICT (content): Merge conflict in models.py" in stopped.stdout
    # git runs no post-merge for a merge that stopped: nothing from migfix yet.
    assert hook_lines(stopped.stdout + stopped.stderr) == []
    models.write_text("class User:\n    id = 1\n    name = 'feature'\n    email = 'main'\n")
    git(proj.root, "add", "models.py")
    return before


def test_commit_that_concludes_a_conflicted_merge_fires_post_commit(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    before = conflicted_merge(proj)

    committed = git_proc(proj.root, "commit", "--no-edit")

    assert committed.returncode == 0, committed.stderr
    status = git(proj.root, "status", "--porcelain")
    found = MERGE_FILE.fullmatch(status)
    assert found, status
    rev = found.group(1)
    assert hook_lines(committed.stderr) == [
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`.",
        f"migfix: Created merge revision {rev} ({B}, {C}): "
        f"migrations/versions/{rev}_merge_heads.py",
        "migfix: Review the result and commit it; `migfix check` now passes.",
        f"migfix: left uncommitted for review: `git status` (new: "
        f"migrations/versions/{rev}_merge_heads.py) and `git diff`, then commit.",
    ]
    # The user's merge commit is untouched, and ORIG_HEAD, which the hook compares HEAD with,
    # is still where the merge started: `git commit` does not move it.
    assert git(proj.root, "log", "-1", "--format=%s") == "Merge branch 'feature'"
    assert git(proj.root, "rev-parse", "ORIG_HEAD", "HEAD^1").splitlines() == [before, before]
    assert heads(proj) == [rev]
    assert migfix_proc(proj.root, "check").returncode == 0


def test_conflicted_merge_that_brought_no_migration_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # main already has two heads (b and n, both on a); the merged branch touched only
    # models.py, so ORIG_HEAD..HEAD shows no migration change and the hook, although it
    # starts (this is a merge commit), has nothing to say.
    proj = local_project(tmp_path)
    proj.revision(N, "add n")
    commit(proj, "n")
    exe, log = logging_python(tmp_path)
    hook.install(proj.root, interpreter=str(exe))
    # The commit adding b makes the second head: post-commit would fix it there already.
    monkeypatch.setenv("MIGFIX_SKIP_HOOK", "1")
    conflicted_merge(proj, feature_migration=False, b_on=proj.a)
    monkeypatch.delenv("MIGFIX_SKIP_HOOK")
    assert heads(proj) == [B, N]
    before = proj.snapshot()

    committed = git_proc(proj.root, "commit", "--no-edit")

    assert committed.returncode == 0, committed.stderr
    assert log.read_text() == "-m migfix.hookrun post-commit --\n"
    assert hook_lines(committed.stderr) == []
    assert git(proj.root, "status", "--porcelain") == ""
    assert proj.snapshot() == before
    assert heads(proj) == [B, N]


def test_post_commit_with_commit_true_commits_once_and_ordinary_commits_start_no_python(
    tmp_path: Path,
) -> None:
    proj = local_project(tmp_path)
    exe, log = logging_python(tmp_path)
    # post-checkout starts Python when a checkout changes the migrations, as these do.
    hook.install(proj.root, hook_types=hook.HOOK_TYPES[:3], commit=True, interpreter=str(exe))
    conflicted_merge(proj)  # three ordinary commits and a merge that stopped
    # Python started for the two commits that added a revision file (one head each), not
    # for the one that only changed models.py.
    started = "-m migfix.hookrun post-commit --commit --\n"
    assert log.read_text() == started * 2

    committed = git_proc(proj.root, "commit", "--no-edit")

    assert committed.returncode == 0, committed.stderr
    # One start of Python, for the user's merge commit; the hook's own commit (plumbing)
    # fires no hook, so there is no second round.
    assert log.read_text() == started * 3
    [added] = proj.versions.glob("*_merge_heads.py")
    assert hook_lines(committed.stderr) == [
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`.",
        f"migfix: Created merge revision {added.name[:12]} ({B}, {C}): "
        f"migrations/versions/{added.name}",
        "migfix: committed the result.",
    ]
    assert git(proj.root, "status", "--porcelain") == ""
    assert git(proj.root, "log", "--format=%s", "-3").splitlines() == [
        "Merge migration heads (migfix)",
        "Merge branch 'feature'",
        "main",
    ]
    assert git(proj.root, "rev-parse", "HEAD~1^2") == git(proj.root, "rev-parse", "feature")
    assert len(git(proj.root, "rev-list", "--parents", "-n1", "HEAD").split()) == 2
    assert heads(proj) == [added.name[:12]]

    (proj.root / "README").write_text("after\n")
    commit(proj, "an ordinary commit")
    git(proj.root, "commit", "-q", "--amend", "-m", "amended")

    assert log.read_text() == started * 3


def test_post_commit_keeps_out_of_a_rebase_in_progress(tmp_path: Path) -> None:
    # `git rebase -r` replays merge commits; stopped half-way, HEAD can be a merge commit with
    # two heads. Moving HEAD under the sequencer would break the rebase: post-commit waits, and
    # post-rewrite deals with the result when the rebase is done.
    proj = local_project(tmp_path)
    git(proj.root, "checkout", "-q", "-b", "topic")
    proj.revision(B, "add b")
    commit(proj, "b")
    git(proj.root, "checkout", "-q", "-b", "side", "main")
    proj.revision(C, "add c")
    commit(proj, "c")
    git(proj.root, "checkout", "-q", "topic")
    git(proj.root, "merge", "-q", "--no-ff", "--no-edit", "side")  # two heads, no hook yet
    git(proj.root, "checkout", "-q", "main")
    (proj.root / "README").write_text("main moves on\n")
    commit(proj, "readme")
    git(proj.root, "checkout", "-q", "topic")
    install(proj.root, "--always")
    post_commit = proj.root / ".git" / "hooks" / "post-commit"
    add_break = tmp_path / "add-break"
    add_break.write_text('#!/bin/sh\necho break >> "$1"\n')
    add_break.chmod(0o755)

    stopped = git_proc(
        proj.root, "rebase", "-i", "-r", "main", env={"GIT_SEQUENCE_EDITOR": str(add_break)}
    )

    assert stopped.returncode == 0, stopped.stderr
    # git runs post-commit for the merge commit it replays (git 2.39 shows none of the
    # hook's output there): migfix must write nothing.
    assert git(proj.root, "status", "--porcelain") == ""
    assert (proj.root / ".git" / "rebase-merge").is_dir()
    assert git(proj.root, "log", "-1", "--format=%p").count(" ") == 1  # a merge commit
    before = proj.snapshot()
    during = subprocess.run([str(post_commit)], cwd=proj.root, capture_output=True, text=True)
    assert (during.returncode, hook_lines(during.stderr)) == (0, [])
    assert proj.snapshot() == before
    assert git(proj.root, "status", "--porcelain") == ""

    # The same merge commit with no rebase going on: the same script acts.
    git(proj.root, "rebase", "--abort")
    after = subprocess.run([str(post_commit)], cwd=proj.root, capture_output=True, text=True)
    assert hook_lines(after.stderr)[0] == (
        f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`."
    )
    assert MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))


# --- where the hook lives ----------------------------------------------------------------------


def test_foreign_hook_installed_before_still_runs(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    hook = proj.root / ".git" / "hooks" / "post-merge"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text('#!/bin/sh\necho "team hook ran: $*" >> "$(git rev-parse --git-dir)/ran"\n')
    hook.chmod(0o755)
    assert "moved the existing post-merge hook" in install(proj.root)
    two_migration_branches(proj)

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    # Once for the fast-forward of feat-b, once for this merge.
    assert (proj.root / ".git" / "ran").read_text() == "team hook ran: 0\n" * 2
    assert MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))


def test_linked_worktree_fixes_its_own_checkout(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    wt_root = tmp_path / "wt"
    git(proj.root, "worktree", "add", "-q", "-b", "combined", str(wt_root), "feat-b")
    wt = Proj(wt_root, proj.template)

    merged = git_proc(wt.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    # This branch has no upstream, so main decides: b is on main (settled), c is not (new).
    assert f"migfix: Repointed {C}: {proj.a} -> {B}" in merged.stderr
    assert git(wt.root, "status", "--porcelain") == f" M migrations/versions/{C}_add_c.py"
    assert git(proj.root, "status", "--porcelain") == ""  # the main checkout is untouched
    assert migfix_proc(wt.root, "check").returncode == 0


def project_venv(root: Path) -> Path:
    """A ``.venv`` at ROOT with migfix in it, as hooks in a committed folder look for: its
    python and migfix are this test's Python (migfix from src/, on PYTHONPATH)."""
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, run in (("python", ""), ("migfix", " -m migfix")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}"{run} "$@"\n')
        (bin_dir / name).chmod(0o755)
    return bin_dir


def test_core_hooks_path(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    with (proj.root / ".gitignore").open("a") as f:
        f.write(".venv/\n")
    project_venv(proj.root)
    git(proj.root, "config", "core.hooksPath", ".githooks")
    install(proj.root)
    assert (proj.root / ".githooks" / "post-merge").is_file()
    assert not (proj.root / ".git" / "hooks" / "post-merge").exists()
    commit(proj, "shared hooks")  # the hooks folder is part of the project
    two_migration_branches(proj)

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stderr
    assert MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))


def test_status_text_shows_the_recorded_options(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    hooks = proj.root / ".git" / "hooks"
    install(proj.root, "--hook-type", "post-merge", "--strategy", "rebase", "--commit")
    install(proj.root, "--hook-type", "post-commit")

    proc = migfix_proc(proj.root, "hook", "status")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"post-merge: installed ({sys.executable}) with --strategy rebase --commit  "
        f"{hooks / 'post-merge'}",
        f"post-rewrite: not installed  {hooks / 'post-rewrite'}",
        f"post-commit: installed ({sys.executable})  {hooks / 'post-commit'}",
        f"post-checkout: not installed  {hooks / 'post-checkout'}",
        "watches alembic.ini",
    ]


def test_rebase_strategy_with_commit_says_it_rebased_onto_the_named_ref(tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    (alice.root / "pyproject.toml").write_text('[tool.migfix]\nstrategy = "rebase"\n')
    commit(alice, "config")
    install(alice.root, "--commit")
    alice.revision(N, "add n")
    commit(alice, "n")
    land(team.bob, C, "add c")

    pulled = git_proc(alice.root, "pull", "--no-rebase", "--no-edit")

    assert pulled.returncode == 0, pulled.stderr
    assert hook_lines(pulled.stderr) == [
        f"migfix: the merge left several migration heads ({C}, {N}); fixing with `rebase`.",
        "migfix: Rebasing onto origin/main:",
        f"migfix:   {N}: {alice.a} -> {C}  (migrations/versions/{N}_add_n.py)",
        f"migfix: Chain: {C} -> {N}",
        f"migfix: moved {N} ({alice.a} -> {C}): `migfix db sync` brings a database that ran "
        "them in step.",
        "migfix: committed the result.",
    ]
    assert git(alice.root, "log", "-1", "--format=%s") == (
        "Rebase migrations onto origin/main (migfix)"
    )
    assert git(alice.root, "status", "--porcelain") == ""
    assert heads(alice) == [N]


def test_hook_says_why_it_wrote_a_merge_for_published_revisions(tmp_path: Path) -> None:
    """A feature branch pushed to origin/feature merges origin/main: its own revision is
    published, so the hook joins the heads with a merge revision, and says so."""
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "remote", "set-head", "origin", "main")
    git(alice.root, "checkout", "-q", "-b", "feature")
    install(alice.root)
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    land(team.bob, C, "add c")
    git(alice.root, "fetch", "-q")

    merged = git_proc(alice.root, "merge", "--no-edit", "origin/main")

    assert merged.returncode == 0, merged.stderr
    lines = hook_lines(merged.stderr)
    assert lines[1].startswith("migfix: Created merge revision ")
    assert lines[3] == (
        f"migfix: wrote a merge revision instead of moving {N}: it is on origin/feature "
        "already (published), and migfix never rewrites a published revision. If nobody has "
        f"applied it yet, `migfix merge --upstream origin/main` moves it instead."
    )
    assert len(heads(alice)) == 1


def test_rebase_strategy_falls_back_to_a_merge_when_this_side_already_had_several_heads(
    tmp_path: Path,
) -> None:
    # main already had two heads (b and c, committed while no hook was installed); merging a
    # feature with n cannot be fixed by rebasing onto one side: the hook merges instead.
    proj = local_project(tmp_path)
    (proj.root / "pyproject.toml").write_text('[tool.migfix]\nstrategy = "rebase"\n')
    commit(proj, "config")
    git(proj.root, "checkout", "-q", "-b", "feature")
    proj.revision(N, "add n")
    commit(proj, "n")
    git(proj.root, "checkout", "-q", "main")
    two_migration_branches(proj)
    git(proj.root, "merge", "-q", "--no-edit", "feat-c")
    assert heads(proj) == [B, C]
    install(proj.root)

    merged = git_proc(proj.root, "merge", "--no-edit", "feature")

    assert merged.returncode == 0, merged.stderr
    lines = hook_lines(merged.stderr)
    assert any(
        "using the merge strategy instead" in line and "several heads" in line for line in lines
    ), merged.stderr
    assert any("Created merge revision" in line for line in lines), merged.stderr
    assert len(heads(proj)) == 1, merged.stderr
