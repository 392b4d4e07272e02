"""post-commit after a commit that is not a merge: ``git merge --squash`` + ``git commit`` and
``git cherry-pick`` bring another branch's revision files in with an ordinary commit. The
installed hook starts Python only when the commit added files under the version locations
recorded in the script, and acts when the graph then has unintended heads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import git, git_proc
from projutil import Proj, local_project, two_migration_branches
from test_hookrun import (
    MERGE_FILE,
    commit,
    heads,
    hook_lines,
    install,
    logging_python,
)

from migfix.hook import install as hook

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

B, C, D = "b0000001", "c0000001", "d0000001"
FIXING = f"migfix: the merge left several migration heads ({B}, {C}); fixing with `merge`."


def assert_fixed_by_a_merge_revision(proj: Proj, stderr: str) -> None:
    lines = hook_lines(stderr)
    assert lines[0] == FIXING, stderr
    found = MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))
    assert found, git(proj.root, "status", "--porcelain")
    assert heads(proj) == [found.group(1)]


def test_squash_merge_then_commit_fires_post_commit(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    squashed = git_proc(proj.root, "merge", "--squash", "feat-c")
    assert squashed.returncode == 0, squashed.stderr
    assert hook_lines(squashed.stderr) == []  # nothing is committed yet

    committed = git_proc(proj.root, "commit", "-m", "squashed feat-c")

    assert committed.returncode == 0, committed.stderr
    assert git(proj.root, "rev-list", "--merges", "HEAD") == ""
    assert_fixed_by_a_merge_revision(proj, committed.stderr)


def test_cherry_pick_fires_post_commit(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)

    picked = git_proc(proj.root, "cherry-pick", "feat-c")

    assert picked.returncode == 0, picked.stderr
    assert git(proj.root, "log", "-1", "--format=%s") == f"add {C}"
    assert_fixed_by_a_merge_revision(proj, picked.stderr)


def test_cherry_pick_of_several_commits_acts_once_after_the_last(tmp_path: Path) -> None:
    # Fixing after the first pick would leave the work tree dirty under the picks to come.
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    git(proj.root, "checkout", "-q", "feat-c")
    proj.revision(D, "add d")
    commit(proj, f"add {D}")
    git(proj.root, "checkout", "-q", "main")

    picked = git_proc(proj.root, "cherry-pick", "feat-c~1", "feat-c")

    assert picked.returncode == 0, picked.stderr
    lines = hook_lines(picked.stderr)
    assert lines[0] == (
        f"migfix: the merge left several migration heads ({B}, {D}); fixing with `merge`."
    ), picked.stderr
    assert sum("several migration heads" in line for line in lines) == 1
    found = MERGE_FILE.fullmatch(git(proj.root, "status", "--porcelain"))
    assert found and heads(proj) == [found.group(1)]


def test_cherry_pick_with_commit_true_commits_the_fix(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root, "--commit")
    two_migration_branches(proj)

    picked = git_proc(proj.root, "cherry-pick", "feat-c")

    assert picked.returncode == 0, picked.stderr
    assert hook_lines(picked.stderr)[-1] == "migfix: committed the result."
    assert git(proj.root, "status", "--porcelain") == ""
    assert git(proj.root, "log", "--format=%s", "-2").splitlines() == [
        "Merge migration heads (migfix)",
        f"add {C}",
    ]
    assert len(heads(proj)) == 1


def test_ordinary_commits_start_python_only_when_they_add_a_revision_file(
    tmp_path: Path,
) -> None:
    proj = local_project(tmp_path)
    exe, log = logging_python(tmp_path)
    hook.install(proj.root, interpreter=str(exe))

    (proj.root / "README").write_text("docs\n")
    commit(proj, "docs")
    path = proj.file(proj.a)
    path.write_text(path.read_text() + "# a comment\n")
    commit(proj, "edit a revision")  # changed, not added: no heads can appear
    assert not log.exists()

    proj.revision(B, "add b")
    git(proj.root, "add", "-A")
    committed = git_proc(proj.root, "commit", "-m", "add b")

    assert committed.returncode == 0, committed.stderr
    assert log.read_text() == "-m migfix.hookrun post-commit --\n"
    assert hook_lines(committed.stderr) == []  # one head: nothing to say
    assert git(proj.root, "status", "--porcelain") == ""


def test_commits_replayed_by_a_rebase_leave_it_to_post_rewrite(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    two_migration_branches(proj)
    git(proj.root, "checkout", "-q", "feat-c")

    rebased = git_proc(proj.root, "rebase", "main")

    assert rebased.returncode == 0, rebased.stderr
    lines = hook_lines(rebased.stderr)
    assert lines[0] == (
        f"migfix: the rebase left several migration heads ({B}, {C}); fixing with `merge`."
    ), rebased.stderr
    assert sum("several migration heads" in line for line in lines) == 1


def test_script_records_the_version_locations_it_watches(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    install(proj.root)
    script = (proj.root / ".git" / "hooks" / "post-commit").read_text()

    assert "# migfix-versions: migrations/versions\n" in script
