"""The heads lock, end to end with real git and real Alembic / Flask-Migrate.

Two branches that each add a migration both change the lock's one line: a plain ``git merge``
(a server's, with no migfix installed) stops on that conflict; with migfix's hooks and merge
driver installed the same merge completes and the hook leaves one head and a correct lock.
Alembic keeps the lock current itself, through the post-write hook ``migfix lock init`` adds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_fixture, ok
from gitutil import GIT_ENV, commit_all, git, git_proc, make_repo, write
from projutil import GITIGNORE, Proj, migfix_proc, new_project

from migfix.plan import heads_lock as headlock
from migfix.project.config import find_project
from migfix.write import heads_lock_files

pytestmark = pytest.mark.usefixtures("git_env")

B, C = "b0000001", "c0000001"
LOCK = "migrations/heads.lock"
ALEMBIC = (sys.executable, "-m", "alembic")
FLASK_APP = Path(__file__).resolve().parents[1] / "data" / "verify" / "flaskapp"


def lock_text(*lines: str) -> str:
    return headlock.HEADER + "\n" + "\n\n".join(lines) + "\n"


def locked_project(tmp_path: Path, template: str = "typed") -> Proj:
    """A repository on main with a fixture project, `lock = true` and `migfix lock init` done."""
    proj = new_project(tmp_path, template, "repo")
    git(proj.root, "init", "-q", "-b", "main")
    (proj.root / ".gitignore").write_text(GITIGNORE)
    (proj.root / "pyproject.toml").write_text("[tool.migfix]\nlock = true\n")
    ok(migfix_proc(proj.root, "lock", "init"))
    commit_all(proj.root, "project with a heads lock")
    return proj


def two_branches(proj: Proj) -> None:
    """feat-b and feat-c each add a migration on main's head; main fast-forwards to feat-b."""
    for branch, rev in (("feat-b", B), ("feat-c", C)):
        git(proj.root, "checkout", "-q", "-b", branch, "main")
        proj.revision(rev, f"add {rev[0]}")  # Alembic's post-write hook updates the lock
        commit_all(proj.root, f"add {rev}")
    git(proj.root, "checkout", "-q", "main")
    git(proj.root, "merge", "-q", "feat-b")


def read_lock(proj: Proj) -> str:
    return (proj.root / LOCK).read_text(encoding="utf-8")


def heads(proj: Proj) -> list[str]:
    proc = migfix_proc(proj.root, "heads", "--json")
    return sorted(h["revision"] for h in json.loads(proc.stdout)["heads"])


# -- lock init ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lock_init_adds_the_post_write_hook_and_writes_the_lock(tmp_path: Path) -> None:
    proj = new_project(tmp_path, "typed", "repo")
    (proj.root / "pyproject.toml").write_text("[tool.migfix]\nlock = true\n")
    before = (proj.root / "alembic.ini").read_text()

    proc = ok(migfix_proc(proj.root, "lock", "init"))

    assert proc.stdout.splitlines()[:2] == [
        "added the migfix_lock post-write hook to alembic.ini",
        f"wrote {LOCK}",
    ]
    after = (proj.root / "alembic.ini").read_text()
    # Inserted under [post_write_hooks]; everything else stays byte for byte.
    assert after == before.replace(
        "[post_write_hooks]\n",
        "[post_write_hooks]\nhooks = migfix_lock\n"
        + heads_lock_files.ini_entry(find_project(proj.root)),
        1,
    )
    assert read_lock(proj) == lock_text("bbbb0004 merge invoice and address")
    # Alembic reads the entry as a hook.
    assert [h["_hook_name"] for h in proj.config().get_hooks_list()] == ["migfix_lock"]

    again = ok(migfix_proc(proj.root, "lock", "init"))
    assert again.stdout.splitlines()[:2] == [
        "alembic.ini already runs migfix after `alembic revision`",
        f"{LOCK} is already current",
    ]
    assert (proj.root / "alembic.ini").read_text() == after


@pytest.mark.slow
def test_lock_init_refuses_while_the_lock_is_off(tmp_path: Path) -> None:
    proj = new_project(tmp_path, "typed", "repo")
    proc = migfix_proc(proj.root, "lock", "init")
    assert proc.returncode == 2
    assert "The heads lock is off. Add `lock = true` under [tool.migfix]" in proc.stderr
    update = migfix_proc(proj.root, "lock", "update")
    assert update.returncode == 2
    assert "then run `migfix lock update` again." in update.stderr
    assert not (proj.root / LOCK).exists()


def test_ini_hook_joins_an_existing_hooks_list_and_keeps_crlf(tmp_path: Path) -> None:
    proj = find_project(copy_fixture("typed", tmp_path))
    text = "[alembic]\r\nx = 1\r\n\r\n[post_write_hooks]\r\nhooks = black\r\nblack.type = exec\r\n"
    out = heads_lock_files.add_ini_hook(text, proj)
    assert out == (
        "[alembic]\r\nx = 1\r\n\r\n[post_write_hooks]\r\nhooks = black, migfix_lock\r\n"
        + heads_lock_files.ini_entry(proj).replace("\n", "\r\n")
        + "black.type = exec\r\n"
    )
    plain = heads_lock_files.add_ini_hook("[alembic]\nx = 1\n", proj)
    assert plain == (
        "[alembic]\nx = 1\n\n[post_write_hooks]\nhooks = migfix_lock\n"
        + heads_lock_files.ini_entry(proj)
    )


# -- the conflict, and the driver --------------------------------------------------------------


@pytest.mark.slow
def test_plain_git_merge_stops_on_a_conflict_in_the_lock(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    two_branches(proj)
    assert read_lock(proj) == lock_text(f"{B} add b")
    assert git(proj.root, "show", f"feat-c:{LOCK}") == lock_text(f"{C} add c").rstrip("\n")

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")  # as on a server: no migfix

    assert merged.returncode == 1, merged.stdout
    assert f"CONFLICT (content): Merge conflict in {LOCK}" in merged.stdout
    assert git(proj.root, "diff", "--name-only", "--diff-filter=U") == LOCK


@pytest.mark.slow
def test_migfix_merge_after_a_lock_conflict_marks_the_lock_resolved(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    two_branches(proj)
    assert git_proc(proj.root, "merge", "--no-edit", "feat-c").returncode == 1
    (proj.root / "app.py").write_text("unrelated = 1\n")  # never staged by migfix

    merged = ok(migfix_proc(proj.root, "merge", "--rev-id", "dddd0001"))

    assert f"Marked {LOCK} resolved (git add)" in merged.stdout + merged.stderr
    assert git(proj.root, "diff", "--name-only", "--diff-filter=U") == ""
    assert git(proj.root, "diff", "--cached", "--name-only", "--", LOCK) == LOCK
    assert "?? app.py" in git(proj.root, "status", "--porcelain")
    assert "<<<<<<<" not in read_lock(proj)
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "--no-edit")
    ok(migfix_proc(proj.root, "check"))


@pytest.mark.slow
def test_migfix_rebase_after_a_lock_conflict_marks_the_lock_resolved(tmp_path: Path) -> None:
    """A clone without migfix's merge driver (pre-commit only): `git merge feat-c` into main
    stops on the lock; the user puts feat-c's revision on top of main's with `migfix rebase`."""
    proj = locked_project(tmp_path)
    two_branches(proj)
    for branch, line in (("feat-c", "theirs = 1\n"), ("main", "mine = 1\n")):
        git(proj.root, "checkout", "-q", branch)
        (proj.root / "app.py").write_text(line)
        commit_all(proj.root, f"app on {branch}")
    assert git_proc(proj.root, "merge", "--no-edit", "feat-c").returncode == 1
    assert git(proj.root, "diff", "--name-only", "--diff-filter=U") == f"app.py\n{LOCK}"
    (proj.root / "app.py").write_text("mine = 1\ntheirs = 1\n")  # settled, not added

    rebased = ok(migfix_proc(proj.root, "rebase", "--onto", "main"))

    assert f"  {C}: bbbb0004 -> {B}" in rebased.stdout
    assert (
        f"Marked {LOCK} resolved (git add): git listed it as conflicted, and migfix wrote its "
        "final content."
    ) in rebased.stdout
    assert read_lock(proj) == lock_text(f"{C} add c")
    assert git_proc(proj.root, "show", f":{LOCK}").stdout == read_lock(proj)
    # Only the lock: app.py is the user's to add, the rewritten revision is left unstaged.
    assert git(proj.root, "diff", "--name-only", "--diff-filter=U") == "app.py"
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "--no-edit")
    assert heads(proj) == [C]
    ok(migfix_proc(proj.root, "check"))


@pytest.mark.slow
def test_lock_update_after_a_lock_conflict_marks_the_lock_resolved(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    two_branches(proj)
    assert git_proc(proj.root, "merge", "--no-edit", "feat-c").returncode == 1
    # Two heads stay (nothing joined them yet): the lock lists both, and is resolved.
    updated = ok(migfix_proc(proj.root, "lock", "update"))

    assert f"updated {LOCK}; marked {LOCK} resolved (git add)" in updated.stdout
    assert git(proj.root, "diff", "--name-only", "--diff-filter=U") == ""


@pytest.mark.slow
def test_with_the_hooks_and_driver_the_merge_completes_with_one_head_and_a_correct_lock(
    tmp_path: Path,
) -> None:
    proj = locked_project(tmp_path)
    installed = ok(migfix_proc(proj.root, "hook", "install")).stdout
    assert "registered the merge driver migfix-lock for migrations/heads.lock" in installed
    assert (proj.root / ".gitattributes").read_text() == f"/{LOCK} merge=migfix-lock\n"
    assert git(proj.root, "config", "merge.migfix-lock.driver") == "true"
    commit_all(proj.root, "merge driver for the lock")
    two_branches(proj)

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-c")

    assert merged.returncode == 0, merged.stdout + merged.stderr
    (merge_rev,) = heads(proj)
    assert merge_rev not in (B, C)
    assert read_lock(proj) == lock_text(f"{merge_rev} merge heads")
    assert "migfix: Updated the heads lock migrations/heads.lock." in merged.stderr
    assert ok(migfix_proc(proj.root, "check")).stdout.endswith("0 errors, 0 warnings\n")
    assert git(proj.root, "log", "-1", "--format=%s") == "Merge branch 'feat-c'"

    removed = ok(migfix_proc(proj.root, "hook", "uninstall")).stdout
    assert "removed the merge driver migfix-lock from the git config" in removed
    assert git_proc(proj.root, "config", "merge.migfix-lock.driver").returncode == 1


@pytest.mark.slow
def test_git_rebase_with_the_hooks_and_driver_leaves_one_head_and_a_correct_lock(
    tmp_path: Path,
) -> None:
    proj = locked_project(tmp_path)
    ok(migfix_proc(proj.root, "hook", "install"))
    commit_all(proj.root, "merge driver for the lock")
    two_branches(proj)
    git(proj.root, "checkout", "-q", "feat-c")
    (proj.root / "pyproject.toml").write_text('[tool.migfix]\nlock = true\nstrategy = "rebase"\n')
    commit_all(proj.root, "rebase strategy")

    rebased = git_proc(proj.root, "rebase", "main")

    assert rebased.returncode == 0, rebased.stdout + rebased.stderr
    assert heads(proj) == [C]
    assert read_lock(proj) == lock_text(f"{C} add c")
    assert ok(migfix_proc(proj.root, "check")).returncode == 0


@pytest.mark.slow
def test_branches_on_different_labels_merge_without_a_conflict(tmp_path: Path) -> None:
    proj = Proj(copy_fixture("labels", tmp_path), "typed")
    make_repo(proj.root)
    (proj.root / ".gitignore").write_text(GITIGNORE)
    (proj.root / "pyproject.toml").write_text("[tool.migfix]\nlock = true\n")
    ok(migfix_proc(proj.root, "lock", "init"))
    assert read_lock(proj) == lock_text(
        "auth: dddd0003 add user email", "billing: dddd0004 invoice belongs to user"
    )
    commit_all(proj.root, "project")
    git(proj.root, "checkout", "-q", "-b", "auth-work")
    proj.revision("a0000001", "auth work", head="auth@head")
    commit_all(proj.root, "auth")
    git(proj.root, "checkout", "-q", "-b", "billing-work", "main")
    proj.revision("b0000001", "billing work", head="billing@head")
    commit_all(proj.root, "billing")

    ok(git_proc(proj.root, "merge", "--no-edit", "auth-work"))  # no migfix installed

    assert read_lock(proj) == lock_text(
        "auth: a0000001 auth work", "billing: b0000001 billing work"
    )
    assert ok(migfix_proc(proj.root, "check")).returncode == 0


# -- Alembic and Flask-Migrate keep it current ------------------------------------------------


@pytest.mark.slow
def test_alembic_revision_on_the_command_line_updates_the_lock(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    sub = proj.root / "migrations"  # alembic run elsewhere than the project root

    proc = ok(
        subprocess.run(
            [*ALEMBIC, "-c", "../alembic.ini", "revision", "-m", "add x", "--rev-id", "x0000001"],
            cwd=sub,
            capture_output=True,
            text=True,
        )
    )

    assert "migfix: updated migrations/heads.lock" in proc.stdout + proc.stderr
    assert read_lock(proj) == lock_text("x0000001 add x")
    # The new file is not committed, and the lock is right for the work tree.
    assert "?? migrations/versions/x0000001_add_x.py" in git(proj.root, "status", "--porcelain")
    assert ok(migfix_proc(proj.root, "check")).returncode == 0


@pytest.mark.slow
def test_pyproject_project_gets_the_hook_in_tool_alembic(tmp_path: Path) -> None:
    proj = Proj(copy_fixture("pyproject_cfg", tmp_path), "typed")
    pyproject = proj.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.migfix]\nlock = true\n")

    init = ok(migfix_proc(proj.root, "lock", "init"))
    assert "added the migfix_lock post-write hook to pyproject.toml" in init.stdout
    ok(
        subprocess.run(
            [*ALEMBIC, "revision", "-m", "add y", "--rev-id", "y0000001"],
            cwd=proj.root,
            capture_output=True,
            text=True,
        )
    )

    assert read_lock(proj) == lock_text("y0000001 add y")


@pytest.mark.slow
def test_flask_db_migrate_updates_the_lock(tmp_path: Path) -> None:
    repo = Path(shutil.copytree(FLASK_APP, tmp_path / "proj"))
    make_repo(repo)
    write(repo / ".gitignore", GITIGNORE)
    write(repo / "pyproject.toml", "[tool.migfix]\nlock = true\n")
    init = ok(migfix_proc(repo, "lock", "init"))
    assert "added the migfix_lock post-write hook to migrations/alembic.ini" in init.stdout
    commit_all(repo, "app")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(GIT_ENV)
    env["APP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'dev.db'}"

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )

    ok(flask("db", "upgrade"))
    app_py = repo / "app.py"
    app_py.write_text(
        app_py.read_text()
        + "\n\nclass Tag(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n"
    )
    ok(flask("db", "migrate", "-m", "tags", "--rev-id", "1111aaaa"))

    assert (repo / LOCK).read_text() == lock_text("1111aaaa tags")
    assert ok(migfix_proc(repo, "check")).returncode == 0


# -- check -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stale_lock_fails_check_with_the_expected_content(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    # A revision written without the post-write hook (by hand, or from another tool).
    (proj.root / "alembic.ini").write_text(
        (proj.root / "alembic.ini").read_text().replace("hooks = migfix_lock", "hooks =")
    )
    proj.revision(B, "add b")

    proc = migfix_proc(proj.root, "check")

    assert proc.returncode == 1
    expected = lock_text(f"{B} add b")
    assert (
        f"{LOCK}:1: error: the heads lock does not match the revision graph; run `migfix lock "
        "update` (or `migfix merge` if there are several heads) and commit it. Expected "
        f"content:\n{expected}"
    ) in proc.stdout
    data = json.loads(migfix_proc(proj.root, "check", "--format", "json").stdout)
    assert [p["code"] for p in data["problems"]] == ["lock-out-of-date"]

    assert ok(migfix_proc(proj.root, "lock", "update")).stdout == f"updated {LOCK}\n"
    assert read_lock(proj) == expected
    assert ok(migfix_proc(proj.root, "check")).returncode == 0


@pytest.mark.slow
def test_a_missing_lock_fails_check(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    (proj.root / LOCK).unlink()
    proc = migfix_proc(proj.root, "check")
    assert proc.returncode == 1
    assert "error: the heads lock does not exist; run `migfix lock update`" in proc.stdout


@pytest.mark.slow
def test_migfix_merge_writes_the_lock_with_its_other_changes(tmp_path: Path) -> None:
    proj = locked_project(tmp_path)
    two_branches(proj)
    git(proj.root, "checkout", "-q", "-b", "both", "main")
    git_proc(proj.root, "merge", "--no-edit", "feat-c")  # conflicts in the lock only
    git(proj.root, "checkout", "--ours", LOCK)
    git(proj.root, "add", LOCK)
    git(proj.root, "commit", "-q", "--no-edit")

    # c0000001 is new (main lacks it): it moves onto b0000001 and becomes the head.
    dry = migfix_proc(proj.root, "merge", "--dry-run")
    assert dry.returncode == 1
    assert "Would update the heads lock migrations/heads.lock." in dry.stdout
    assert f"+++ b/{LOCK}" in dry.stdout
    assert f"-{B} add b\n+{C} add c\n" in dry.stdout
    assert read_lock(proj) == lock_text(f"{B} add b")

    done = ok(migfix_proc(proj.root, "merge"))
    assert "Updated the heads lock migrations/heads.lock." in done.stdout
    assert read_lock(proj) == lock_text(f"{C} add c")
    assert ok(migfix_proc(proj.root, "check")).returncode == 0


@pytest.mark.slow
def test_the_hook_rewrites_a_lock_left_stale_by_the_driver_when_one_head_remains(
    tmp_path: Path,
) -> None:
    proj = locked_project(tmp_path)
    ok(migfix_proc(proj.root, "hook", "install"))
    commit_all(proj.root, "merge driver for the lock")
    git(proj.root, "checkout", "-q", "-b", "feat-b")
    proj.revision(B, "add b")
    commit_all(proj.root, "add b")
    git(proj.root, "checkout", "-q", "main")
    # main rewords its head's message: the same lock line changes on both sides.
    head = proj.file(proj.a)
    head.write_text(head.read_text().replace('"""merge invoice and address', '"""merge both', 1))
    ok(migfix_proc(proj.root, "lock", "update"))
    commit_all(proj.root, "reword")

    merged = git_proc(proj.root, "merge", "--no-edit", "feat-b")

    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert heads(proj) == [B]
    assert read_lock(proj) == lock_text(f"{B} add b")
    assert (
        "migfix: rewrote the heads lock migrations/heads.lock to match the merged migrations."
        in merged.stderr
    )
    assert ok(migfix_proc(proj.root, "check")).returncode == 0


def test_the_post_write_hook_ignores_migfix_merge_scratch_files_and_an_unlocked_project(
    tmp_path: Path,
) -> None:
    proj = new_project(tmp_path, "typed", "repo")
    scratch = proj.versions / ".migfix-abc" / "m_merge.py"
    assert heads_lock_files.hook_update(scratch) is None
    # lock = false: Alembic's hook call changes nothing.
    assert heads_lock_files.hook_update(proj.file(proj.a)) is None
    assert not (proj.root / LOCK).exists()


@pytest.mark.slow
def test_a_lock_checked_out_with_crlf_is_current_and_keeps_crlf_when_updated(
    tmp_path: Path,
) -> None:
    # core.autocrlf=true checks the lock out with CRLF: the content is the same.
    proj = locked_project(tmp_path)
    git(proj.root, "config", "core.autocrlf", "true")
    (proj.root / LOCK).unlink()
    git(proj.root, "checkout", "--", LOCK)
    assert b"\r\n" in (proj.root / LOCK).read_bytes()

    assert ok(migfix_proc(proj.root, "check")).returncode == 0

    (proj.root / "alembic.ini").write_text(
        (proj.root / "alembic.ini").read_text().replace("hooks = migfix_lock", "hooks =")
    )
    proj.revision(B, "add b")
    assert migfix_proc(proj.root, "check").returncode == 1
    ok(migfix_proc(proj.root, "lock", "update"))
    assert (proj.root / LOCK).read_bytes() == lock_text(f"{B} add b").replace("\n", "\r\n").encode()
    assert ok(migfix_proc(proj.root, "check")).returncode == 0
