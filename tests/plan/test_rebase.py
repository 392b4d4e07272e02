"""migfix rebase --onto REF: real repositories with a real bare remote, real Alembic revisions.

Every scenario is two clones of one bare remote: ``up`` plays the colleagues pushing to main,
``dev`` is the developer whose feature branch is rebased. After each successful rebase,
Alembic itself loads the result (one head per intended branch) and upgrades a SQLite database.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SRC, Migfix
from gitutil import commit_all, git, git_proc

from migfix.errors import Refusal
from migfix.plan.rebase import RebasePlan, plan_rebase
from migfix.read.graph import Graph
from migfix.read.scan import scan_file
from migfix.write.moves import ADVICE

pytestmark = pytest.mark.usefixtures("git_env")

VERSIONS = Path("alembic") / "versions"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An `alembic init` project, made once and copied into each test's repository."""
    from alembic import command
    from alembic.config import Config

    root = tmp_path_factory.mktemp("template")
    command.init(Config(str(root / "alembic.ini")), str(root / "alembic"))
    # init writes the absolute path it was given; the copies must point at themselves.
    ini = root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            f"script_location = {root / 'alembic'}", "script_location = %(here)s/alembic"
        )
    )
    assert "%(here)s/alembic" in ini.read_text()
    return root


def alembic_config(root: Path, db: Path | None = None) -> object:
    from alembic.config import Config

    cfg = Config(str(root / "alembic.ini"))
    if db is not None:
        cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    return cfg


@dataclass
class Repos:
    tmp: Path
    remote: Path
    up: Path  # the colleagues' clone, pushing to main
    dev: Path  # the clone under test, on branch `feature`

    def rev(
        self,
        clone: Path,
        rev_id: str,
        message: str,
        *,
        head: str = "head",
        label: str | None = None,
        splice: bool = False,
    ) -> Path:
        """Create a revision with `alembic revision`; return its file."""
        from alembic import command

        script = command.revision(
            alembic_config(clone),  # type: ignore[arg-type]
            message=message,
            rev_id=rev_id,
            head=head,
            branch_label=label,
            splice=splice,
        )
        assert script is not None and not isinstance(script, list)
        return Path(script.path)

    def push(self, message: str) -> None:
        commit_all(self.up, message)
        git(self.up, "push", "-q", "origin", "main")

    def fetch(self) -> None:
        git(self.dev, "fetch", "-q", "origin")


@pytest.fixture
def repos(tmp_path: Path, template: Path) -> Repos:
    """main holds aaaa0001 (an `alembic init` project); dev is on branch feature."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(remote))
    up = tmp_path / "up"
    git(tmp_path, "clone", "-q", str(remote), str(up))
    git(up, "checkout", "-q", "-b", "main")
    shutil.copytree(template, up, dirs_exist_ok=True)
    r = Repos(tmp_path, remote, up, tmp_path / "dev")
    r.rev(up, "aaaa0001", "first")
    commit_all(up, "init", date="2020-01-01T00:00:00+00:00")
    git(up, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(remote), str(r.dev))
    git(r.dev, "checkout", "-q", "-b", "feature")
    return r


# What rebase tells on stderr when it moved bbbb0001, for databases that ran it.
MOVED_NOTICE = (
    "moved bbbb0001 (aaaa0001 -> aaaa0002): `migfix db sync` brings a database that ran them "
    "in step.\n"
)


def alembic_heads(root: Path) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(root)).get_heads())  # type: ignore[arg-type]


def alembic_upgrade(root: Path) -> set[str]:
    """`alembic upgrade heads` on a fresh SQLite database; returns what it recorded."""
    import sqlite3

    from alembic import command

    db = root.parent / f"{root.name}.sqlite"
    db.unlink(missing_ok=True)
    command.upgrade(alembic_config(root, db), "heads")  # type: ignore[arg-type]
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}


def assert_alembic_ok(root: Path, heads: set[str]) -> None:
    assert alembic_heads(root) == heads
    assert alembic_upgrade(root) == heads


def repointed(source: str, old: str, new: str) -> str:
    """SOURCE as `alembic revision` wrote it, with its parent OLD replaced by NEW."""
    out = source.replace(f"Revises: {old}\n", f"Revises: {new}\n", 1)
    out = out.replace(f"= '{old}'\n", f"= '{new}'\n", 1)
    assert out != source
    return out


def status(root: Path) -> str:
    return git(root, "status", "--porcelain")


# -- the common cases ----------------------------------------------------------------------------


@pytest.mark.slow
def test_behind_by_one_before_git_merge(repos: Repos, migfix: Migfix) -> None:
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    commit_all(repos.dev, "feature")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    before = b1.read_text()

    code, out, err = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert (code, err) == (0, MOVED_NOTICE)
    assert out == (
        "Rebasing onto origin/main:\n"
        "  bbbb0001: aaaa0001 -> aaaa0002  (alembic/versions/bbbb0001_feature_one.py)\n"
        "Chain: aaaa0002 -> bbbb0001\n"
        "Next: `git merge origin/main` (or `git rebase origin/main`). Until then this branch names "
        "origin/main's head aaaa0002, which is not in its files yet.\n"
    )
    assert b1.read_text() == repointed(before, "aaaa0001", "aaaa0002")
    # Only the rewritten file changed: no checkout, no stash.
    assert status(repos.dev) == " M alembic/versions/bbbb0001_feature_one.py"

    assert migfix(repos.dev, "rebase", "--onto", "origin/main") == (
        0,
        "Nothing to do: this branch's revisions are already on top of origin/main.\n"
        "Chain: aaaa0002 -> bbbb0001\n",
        "",
    )
    commit_all(repos.dev, "rebased")
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")
    assert_alembic_ok(repos.dev, {"bbbb0001"})


@pytest.mark.slow
def test_behind_by_many_after_git_merge(repos: Repos, migfix: Migfix) -> None:
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    b2 = repos.rev(repos.dev, "bbbb0002", "feature two")
    commit_all(repos.dev, "feature")
    for n in range(2, 6):
        repos.rev(repos.up, f"aaaa000{n}", f"main {n}")
    repos.push("main moves on")
    repos.fetch()
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")
    assert alembic_heads(repos.dev) == {"aaaa0005", "bbbb0002"}
    b1_before, b2_before = b1.read_bytes(), b2.read_bytes()

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert code == 0
    assert out == (
        "Rebasing onto origin/main:\n"
        "  bbbb0001: aaaa0001 -> aaaa0005  (alembic/versions/bbbb0001_feature_one.py)\n"
        "Chain: aaaa0005 -> bbbb0001 -> bbbb0002\n"
    )
    assert b1.read_text() == repointed(b1_before.decode(), "aaaa0001", "aaaa0005")
    assert b2.read_bytes() == b2_before
    assert_alembic_ok(repos.dev, {"bbbb0002"})
    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")
    assert code == 0 and out.startswith("Nothing to do")


@pytest.mark.slow
def test_several_chains_are_stacked_oldest_first_commit_first(repos: Repos, migfix: Migfix) -> None:
    c1 = repos.rev(repos.dev, "cccc0001", "newer chain")
    commit_all(repos.dev, "c", date="2021-06-01T12:00:00+00:00")
    d1 = repos.rev(repos.dev, "dddd0001", "older chain", head="aaaa0001", splice=True)
    repos.rev(repos.dev, "dddd0002", "older chain two", head="dddd0001")
    # Committed after c1 in history, but authored earlier: the author time orders.
    commit_all(repos.dev, "d", date="2020-06-01T12:00:00+00:00")
    e1 = repos.rev(repos.dev, "eeee0001", "uncommitted", head="aaaa0001", splice=True)
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    texts = {p: p.read_text() for p in (c1, d1, e1)}

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert code == 0
    assert out == (
        "Rebasing onto origin/main:\n"
        "  cccc0001: aaaa0001 -> dddd0002  (alembic/versions/cccc0001_newer_chain.py)\n"
        "  dddd0001: aaaa0001 -> aaaa0002  (alembic/versions/dddd0001_older_chain.py)\n"
        "  eeee0001: aaaa0001 -> cccc0001  (alembic/versions/eeee0001_uncommitted.py)\n"
        "3 independent chains of this branch were stacked onto aaaa0002, oldest first commit "
        "first: dddd0001 -> dddd0002 (first committed 2020-06-01 12:00:00 UTC); then cccc0001 "
        "(first committed 2021-06-01 12:00:00 UTC); then eeee0001 (not committed yet).\n"
        "Chain: aaaa0002 -> dddd0001 -> dddd0002 -> cccc0001 -> eeee0001\n"
        "Next: `git merge origin/main` (or `git rebase origin/main`). Until then this branch names "
        "origin/main's head aaaa0002, which is not in its files yet.\n"
    )
    assert c1.read_text() == repointed(texts[c1], "aaaa0001", "dddd0002")
    assert d1.read_text() == repointed(texts[d1], "aaaa0001", "aaaa0002")
    assert e1.read_text() == repointed(texts[e1], "aaaa0001", "cccc0001")
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")
    assert_alembic_ok(repos.dev, {"eeee0001"})
    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")
    assert code == 0 and out.startswith("Nothing to do")


@pytest.fixture
def own_merge(repos: Repos) -> Repos:
    """feature: bbbb0001, then a merge of main's aaaa0002 into it, then bbbb0002 on top;
    meanwhile main moved on to aaaa0003."""
    repos.rev(repos.dev, "bbbb0001", "feature one")
    commit_all(repos.dev, "feature")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")
    from alembic import command

    command.merge(
        alembic_config(repos.dev),  # type: ignore[arg-type]
        ["bbbb0001", "aaaa0002"],
        message="merge main",
        rev_id="mmmm0001",
    )
    repos.rev(repos.dev, "bbbb0002", "feature two")
    commit_all(repos.dev, "merge and more")
    repos.rev(repos.up, "aaaa0003", "third")
    repos.push("third")
    repos.fetch()
    return repos


def carry_operation(merge_file: Path) -> None:
    """Give a merge revision an operation: it no longer does nothing."""
    text = merge_file.read_text()
    body = '"""Upgrade schema."""\n    pass\n'
    assert text.count(body) == 1, text
    merge_file.write_text(text.replace(body, '"""Upgrade schema."""\n    op.execute("SELECT 1")\n'))


def assert_own_merge_dropped(own_merge: Repos, out: str, b1_before: str, b2_before: str) -> None:
    """Rebase deleted own_merge's merge mmmm0001, moved what stood on it, and said so (OUT)."""
    versions = own_merge.dev / VERSIONS
    assert out == (
        "Rebasing onto origin/main:\n"
        "  bbbb0001: aaaa0001 -> aaaa0003  (alembic/versions/bbbb0001_feature_one.py)\n"
        "  bbbb0002: mmmm0001 -> bbbb0001  (alembic/versions/bbbb0002_feature_two.py)\n"
        "  mmmm0001: deleted, it only merged origin/main's history (bbbb0001, aaaa0002)"
        "  (alembic/versions/mmmm0001_merge_main.py)\n"
        "Chain: aaaa0003 -> bbbb0001 -> bbbb0002\n"
        "Next: `git merge origin/main` (or `git rebase origin/main`). Until then this branch names "
        "origin/main's head aaaa0003, which is not in its files yet.\n"
    )
    assert not (versions / "mmmm0001_merge_main.py").exists()
    b1, b2 = versions / "bbbb0001_feature_one.py", versions / "bbbb0002_feature_two.py"
    assert b1.read_text() == repointed(b1_before, "aaaa0001", "aaaa0003")
    assert b2.read_text() == repointed(b2_before, "mmmm0001", "bbbb0001")
    git(own_merge.dev, "merge", "-q", "--no-edit", "origin/main")
    assert_alembic_ok(own_merge.dev, {"bbbb0002"})


@pytest.mark.slow
def test_own_merge_revision_with_operations_is_refused_without_drop_merges(
    own_merge: Repos, migfix: Migfix
) -> None:
    carry_operation(own_merge.dev / VERSIONS / "mmmm0001_merge_main.py")
    commit_all(own_merge.dev, "the merge does something")
    code, out, err = migfix(own_merge.dev, "rebase", "--onto", "origin/main")

    assert (code, out) == (2, "")
    assert err == (
        "migfix: mmmm0001 (alembic/versions/mmmm0001_merge_main.py) is a merge revision of this "
        "branch that only joins origin/main's history; on top of origin/main there is nothing "
        "left to merge. Run `migfix rebase --onto origin/main --drop-merges` to delete it and "
        "point its children at what it merged, or remove them yourself.\n"
    )
    assert status(own_merge.dev) == ""


@pytest.mark.slow
def test_own_empty_merge_revision_is_dropped_like_git_rebase_drops_merges(
    own_merge: Repos, migfix: Migfix
) -> None:
    versions = own_merge.dev / VERSIONS
    b1, b2 = versions / "bbbb0001_feature_one.py", versions / "bbbb0002_feature_two.py"
    b1_before, b2_before = b1.read_text(), b2.read_text()

    code, out, err = migfix(own_merge.dev, "rebase", "--onto", "origin/main")

    assert (code, err) == (
        0,
        "moved bbbb0001 (aaaa0001 -> aaaa0003); bbbb0002 (mmmm0001 -> bbbb0001): "
        "`migfix db sync` brings a database that ran them in step.\n",
    )
    assert_own_merge_dropped(own_merge, out, b1_before, b2_before)


@pytest.mark.slow
def test_own_merge_revision_is_dropped_with_drop_merges(own_merge: Repos, migfix: Migfix) -> None:
    versions = own_merge.dev / VERSIONS
    b1, b2 = versions / "bbbb0001_feature_one.py", versions / "bbbb0002_feature_two.py"
    merge_file = versions / "mmmm0001_merge_main.py"
    carry_operation(merge_file)
    b1_before, b2_before = b1.read_text(), b2.read_text()
    code, out, _ = migfix(
        own_merge.dev, "rebase", "--onto", "origin/main", "--drop-merges", "--dry-run"
    )
    assert code == 1
    assert "--- a/alembic/versions/mmmm0001_merge_main.py\n+++ /dev/null\n" in out
    assert merge_file.exists()

    code, out, _ = migfix(own_merge.dev, "rebase", "--onto", "origin/main", "--drop-merges")

    assert code == 0
    assert_own_merge_dropped(own_merge, out, b1_before, b2_before)
    code, out, _ = migfix(own_merge.dev, "rebase", "--onto", "origin/main", "--drop-merges")
    assert code == 0 and out.startswith("Nothing to do")


@pytest.mark.slow
def test_each_labelled_branch_goes_onto_the_head_with_its_label(
    repos: Repos, migfix: Migfix
) -> None:
    repos.rev(repos.up, "eeee0001", "expand base", head="base", label="expand")
    repos.rev(repos.up, "cccc0001", "contract base", head="base", label="contract")
    repos.push("labelled branches")
    git(repos.dev, "pull", "-q", "--no-rebase", "origin", "main")
    e2x = repos.rev(repos.dev, "eeee0002", "feature expand", head="expand@head")
    c2x = repos.rev(repos.dev, "cccc0002", "feature contract", head="contract@head")
    commit_all(repos.dev, "feature")
    repos.rev(repos.up, "eeee0003", "main expand", head="expand@head")
    repos.rev(repos.up, "cccc0003", "main contract", head="contract@head")
    repos.push("main moves on")
    repos.fetch()
    before = {p: p.read_text() for p in (e2x, c2x)}

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert code == 0
    assert out == (
        "Rebasing onto origin/main:\n"
        "  cccc0002: cccc0001 -> cccc0003  (alembic/versions/cccc0002_feature_contract.py)\n"
        "  eeee0002: eeee0001 -> eeee0003  (alembic/versions/eeee0002_feature_expand.py)\n"
        "Chain (contract): cccc0003 -> cccc0002\n"
        "Chain (expand): eeee0003 -> eeee0002\n"
        "Next: `git merge origin/main` (or `git rebase origin/main`). Until then this branch names "
        "origin/main's heads cccc0003, eeee0003, which are not in its files yet.\n"
    )
    assert e2x.read_text() == repointed(before[e2x], "eeee0001", "eeee0003")
    assert c2x.read_text() == repointed(before[c2x], "cccc0001", "cccc0003")
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")
    assert_alembic_ok(repos.dev, {"aaaa0001", "eeee0002", "cccc0002"})


@pytest.mark.slow
def test_after_git_pull_rebase(repos: Repos, migfix: Migfix) -> None:
    git(repos.dev, "checkout", "-q", "main")
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    commit_all(repos.dev, "local work")
    before = b1.read_text()
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    git(repos.dev, "pull", "-q", "--rebase")
    assert alembic_heads(repos.dev) == {"aaaa0002", "bbbb0001"}

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert code == 0
    assert "  bbbb0001: aaaa0001 -> aaaa0002  " in out
    assert b1.read_text() == repointed(before, "aaaa0001", "aaaa0002")
    assert_alembic_ok(repos.dev, {"bbbb0001"})


@pytest.mark.slow
def test_detached_head_is_fine(repos: Repos, migfix: Migfix) -> None:
    repos.rev(repos.dev, "bbbb0001", "feature one")
    commit_all(repos.dev, "feature")
    git(repos.dev, "checkout", "-q", "--detach")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert code == 0 and "bbbb0001: aaaa0001 -> aaaa0002" in out


@pytest.mark.slow
def test_nothing_on_the_branch(repos: Repos, migfix: Migfix) -> None:
    assert migfix(repos.dev, "rebase", "--onto", "origin/main") == (
        0,
        "Nothing to do: this branch has no revisions that origin/main lacks.\n",
        "",
    )


@pytest.mark.slow
def test_dry_run_prints_the_diff_and_writes_nothing(repos: Repos, migfix: Migfix) -> None:
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    commit_all(repos.dev, "feature")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    before = b1.read_bytes()

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main", "--dry-run")

    assert code == 1
    assert b1.read_bytes() == before
    diff = "".join(
        difflib.unified_diff(
            before.decode().splitlines(keepends=True),
            repointed(before.decode(), "aaaa0001", "aaaa0002").splitlines(keepends=True),
            "a/alembic/versions/bbbb0001_feature_one.py",
            "b/alembic/versions/bbbb0001_feature_one.py",
        )
    )
    assert out.startswith(diff)
    assert out.endswith(
        "Chain: aaaa0002 -> bbbb0001\n"
        + "Next: `git merge origin/main` (or `git rebase origin/main`). Until then this "
        "branch names origin/main's head aaaa0002, which is not in its files yet.\n"
    )

    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main", "--json")
    assert code == 0
    assert json.loads(out) == {
        "version": 1,
        "ref": "origin/main",
        "changed": True,
        "branch_revisions": ["bbbb0001"],
        "moves": [
            {
                "revision": "bbbb0001",
                "path": "alembic/versions/bbbb0001_feature_one.py",
                "old_parents": ["aaaa0001"],
                "new_parents": ["aaaa0002"],
            }
        ],
        "dropped_merges": [],
        "chains": [{"onto": "aaaa0002", "labels": [], "revisions": ["bbbb0001"], "stacked": []}],
        "notes": [],
        "unmerged_ref_heads": ["aaaa0002"],
    }
    assert migfix(repos.dev, "rebase", "--onto", "origin/main", "--dry-run")[0] == 0


@pytest.mark.slow
def test_console_entry_point_in_a_subprocess(repos: Repos) -> None:
    repos.rev(repos.dev, "bbbb0001", "feature one")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    proc = subprocess.run(
        [sys.executable, "-m", "migfix", "rebase", "--onto", "origin/main"],
        cwd=repos.dev,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, MOVED_NOTICE)
    assert "bbbb0001: aaaa0001 -> aaaa0002" in proc.stdout


# -- refusals: exit 2, nothing written -----------------------------------------------------------


def refused(migfix: Migfix, root: Path, *args: str) -> str:
    before = status(root)
    code, out, err = migfix(root, "rebase", *args)
    assert (code, out) == (2, "")
    assert status(root) == before
    assert err.startswith("migfix: ") and err.endswith("\n")
    return err[len("migfix: ") : -1]


@pytest.mark.slow
def test_refuses_an_unknown_ref(repos: Repos, migfix: Migfix) -> None:
    repos.rev(repos.dev, "bbbb0001", "feature one")
    assert refused(migfix, repos.dev, "--onto", "origin/nope") == (
        "Unknown git revision 'origin/nope'. If it is a remote branch, run `git fetch` first; "
        "otherwise check the name with `git branch -a`."
    )


@pytest.mark.slow
def test_refuses_a_ref_with_several_unintended_heads(repos: Repos, migfix: Migfix) -> None:
    repos.rev(repos.dev, "bbbb0001", "feature one")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.rev(repos.up, "aaaa0003", "third", head="aaaa0001", splice=True)
    repos.push("two heads")
    repos.fetch()
    assert refused(migfix, repos.dev, "--onto", "origin/main") == (
        "origin/main itself has several heads (aaaa0002, aaaa0003), so there is no single head "
        "to rebase onto. Run `migfix merge` on origin/main first (check it out, merge its "
        "heads, commit and push), then run `migfix rebase --onto origin/main` again."
    )


@pytest.mark.slow
def test_refuses_in_a_shallow_clone_lacking_the_ref(repos: Repos, migfix: Migfix) -> None:
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    shallow = repos.tmp / "shallow"
    git(repos.tmp, "clone", "-q", "--depth", "1", f"file://{repos.remote}", str(shallow))
    assert refused(migfix, shallow, "--onto", "origin/main~1") == (
        "Unknown git revision 'origin/main~1'. If it is a remote branch, run `git fetch` "
        "first. This repository is a shallow clone, so older commits are missing: run "
        "`git fetch --unshallow` (or `git fetch --deepen=<n>`) if the revision is older than "
        "the fetched history. Otherwise check the name with `git branch -a`."
    )


@pytest.mark.slow
def test_refuses_during_a_merge_with_conflicts_in_the_versions_folder(
    repos: Repos, migfix: Migfix
) -> None:
    first = "alembic/versions/aaaa0001_first.py"
    for clone, text in ((repos.dev, "# ours\n"), (repos.up, "# theirs\n")):
        with (clone / first).open("a") as f:
            f.write(text)
    commit_all(repos.dev, "ours")
    repos.push("theirs")
    repos.fetch()
    assert git_proc(repos.dev, "merge", "origin/main").returncode != 0
    assert refused(migfix, repos.dev, "--onto", "origin/main") == (
        "A git merge is in progress with unresolved conflicts in the versions folder "
        f"({first}). Resolve them and `git add` the files, then finish the merge "
        "(`git merge --continue`) or abort it, and run `migfix rebase --onto origin/main` again."
    )


@pytest.mark.slow
def test_a_conflicted_revision_file_it_rewrites_is_marked_resolved_and_nothing_else(
    repos: Repos, migfix: Migfix
) -> None:
    """A merge of a teammate's work on the same feature stopped on conflicts; the user settled
    them in the files but did not `git add` them yet, and rebases onto origin/main first."""
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    first = repos.dev / VERSIONS / "aaaa0001_first.py"
    commit_all(repos.dev, "feature")
    git(repos.dev, "checkout", "-q", "-b", "pair")
    for branch, who in (("pair", "pair"), ("feature", "mine")):
        git(repos.dev, "checkout", "-q", branch)
        b1.write_text(b1.read_text().replace('"""feature one', f'"""feature one, {who}', 1))
        with first.open("a") as f:
            f.write(f"# {who}\n")
        commit_all(repos.dev, f"{who} edits")
    assert git_proc(repos.dev, "merge", "--no-edit", "pair").returncode == 1
    b1_rel, first_rel = (str(p.relative_to(repos.dev)) for p in (b1, first))
    assert git(repos.dev, "diff", "--name-only", "--diff-filter=U") == f"{first_rel}\n{b1_rel}"
    # Settled by hand: both messages, both comments; no marker left, nothing added yet.
    ours = git_proc(repos.dev, "show", f":2:{b1_rel}").stdout
    b1.write_text(ours.replace("feature one, mine", "feature one, mine and pair's", 1))
    first.write_text(git_proc(repos.dev, "show", f":2:{first_rel}").stdout + "# pair\n")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    before = b1.read_text()

    code, out, err = migfix(repos.dev, "rebase", "--onto", "origin/main")

    assert (code, err) == (0, MOVED_NOTICE)
    assert out == (
        "Rebasing onto origin/main:\n"
        f"  bbbb0001: aaaa0001 -> aaaa0002  ({b1_rel})\n"
        f"Marked {b1_rel} resolved (git add): git listed it as conflicted, and migfix wrote "
        "its final content.\n"
        "Chain: aaaa0002 -> bbbb0001\n"
        "Next: `git merge origin/main` (or `git rebase origin/main`). Until then this branch names "
        "origin/main's head aaaa0002, which is not in its files yet.\n"
    )
    assert b1.read_text() == repointed(before, "aaaa0001", "aaaa0002")
    assert git_proc(repos.dev, "show", f":{b1_rel}").stdout == b1.read_text()  # staged as is
    # The file migfix did not write stays the user's to add.
    assert git(repos.dev, "diff", "--name-only", "--diff-filter=U") == first_rel
    git(repos.dev, "add", first_rel)
    git(repos.dev, "commit", "-q", "--no-edit")
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")
    assert_alembic_ok(repos.dev, {"bbbb0001"})


@pytest.mark.slow
def test_refuses_a_branch_revision_with_a_non_literal_down_revision(
    repos: Repos, migfix: Migfix
) -> None:
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    b1.write_text(b1.read_text().replace("= 'aaaa0001'\n", "= PREVIOUS\n"))
    line = (
        b1.read_text()
        .splitlines()
        .index("down_revision: Union[str, Sequence[str], None] = PREVIOUS")
    )
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    assert refused(migfix, repos.dev, "--onto", "origin/main") == (
        "The revision graph has faults that make rewriting unsafe: "
        f"alembic/versions/bbbb0001_feature_one.py:{line + 1}: down_revision is not a literal "
        "(PREVIOUS); migfix will not guess which revision it names. Replace it with the "
        "revision id(s) as string literals. Fix them first."
    )


@pytest.mark.slow
def test_refusal_to_edit_an_unpacked_down_revision_names_the_file_relative_to_the_project(
    repos: Repos, migfix: Migfix
) -> None:
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    old = "revision: str = 'bbbb0001'\ndown_revision: Union[str, Sequence[str], None] = 'aaaa0001'"
    assert old in b1.read_text()
    b1.write_text(b1.read_text().replace(old, "revision, down_revision = 'bbbb0001', 'aaaa0001'"))
    line = b1.read_text().splitlines().index("revision, down_revision = 'bbbb0001', 'aaaa0001'")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    assert refused(migfix, repos.dev, "--onto", "origin/main") == (
        f"alembic/versions/bbbb0001_feature_one.py:{line + 1}: down_revision is set by unpacking "
        "(revision, down_revision = 'bbbb0001', 'aaaa0001'); migfix will not guess what it "
        "means. Replace it with the revision id(s) it stands for, or edit this revision's "
        "parents by hand."
    )


@pytest.mark.slow
def test_refuses_a_ref_without_the_migrations_folder(repos: Repos, migfix: Migfix) -> None:
    repos.rev(repos.dev, "bbbb0001", "feature one")
    empty_tree = git(repos.dev, "hash-object", "-t", "tree", os.devnull)
    sha = git(repos.dev, "commit-tree", empty_tree, "-m", "nothing here")
    assert refused(migfix, repos.dev, "--onto", sha) == (
        f"{sha} has no folder alembic/versions in its tree, which is where this project's "
        f"revision files live, so there is nothing to rebase onto. Check that {sha} is the "
        f"branch you meant, then run `migfix rebase --onto {sha}` again."
    )


@pytest.mark.slow
def test_never_rewrites_a_file_whose_revision_is_on_the_ref(repos: Repos, migfix: Migfix) -> None:
    # The developer edited main's aaaa0002 locally (wrongly pointing it elsewhere): it is
    # REF's revision, so it is left alone even though it is not on top.
    repos.rev(repos.up, "aaaa0002", "second")
    repos.rev(repos.up, "aaaa0003", "third")
    repos.push("main")
    git(repos.dev, "pull", "-q", "--no-rebase", "origin", "main")
    theirs = repos.dev / VERSIONS / "aaaa0003_third.py"
    theirs.write_text(repointed(theirs.read_text(), "aaaa0002", "aaaa0001"))
    before = theirs.read_bytes()
    code, out, _ = migfix(repos.dev, "rebase", "--onto", "origin/main")
    assert (code, out) == (
        0,
        "Nothing to do: this branch has no revisions that origin/main lacks.\n",
    )
    assert theirs.read_bytes() == before


# -- real data -----------------------------------------------------------------------------------


def corpus_projects(root: Path) -> Iterator[tuple[str, list[Path]]]:
    index = root / "index.json"
    if not index.is_file():
        return
    for name, entry in sorted(json.loads(index.read_text()).items()):
        if not entry.get("recursive_version_locations"):
            yield name, [Path(p) for p in entry["version_locations"]]


@pytest.mark.slow
@pytest.mark.corpus
def test_real_corpus_feature_branch_rebased_onto_main(
    tmp_path: Path, template: Path, migfix: Migfix, corpus_dir: Path
) -> None:
    """From a real graph with a merge M(P1, P2): main holds P1's ancestry, the feature branch
    P2's; rebasing the feature onto main gives one head, and only parents change."""
    from alembic.script.revision import Revision, RevisionMap

    from migfix.read.scan import scan_locations

    projects = list(corpus_projects(corpus_dir))
    picked = None
    for name, locations in projects:
        if name not in ("galaxy", "langflow") or len(locations) != 1:
            continue
        g = Graph(scan_locations(locations, recursive=False))
        for m in sorted(g.merge_points):
            p1, p2 = g.nodes[m].down[:2]
            main_side = g.ancestors(p1) | {p1}
            feature_side = g.ancestors(p2) | {p2}
            own = feature_side - main_side
            # The shape a feature branch has: a few revisions of its own, no merges in them.
            if 2 <= len(own) <= 8 and all(len(g.nodes[r].down) == 1 for r in own):
                picked = (name, g, main_side, feature_side, own, p1, p2)
                break
        if picked:
            break
    assert picked is not None, "no merge revision of galaxy or langflow fits this scenario"
    name, g, main_side, feature_side, own, p1, p2 = picked

    remote, up = upstream_clone(tmp_path, template)

    # The shared history first; then the feature branch and main grow apart.
    place_revisions(up, g, main_side & feature_side)
    commit_all(up, f"{name}: shared history")
    git(up, "push", "-q", "-u", "origin", "main")
    dev = tmp_path / "dev"
    git(tmp_path, "clone", "-q", str(remote), str(dev))
    git(dev, "checkout", "-q", "-b", "feature")
    place_revisions(dev, g, own)
    commit_all(dev, f"{name}: feature")
    place_revisions(up, g, main_side - feature_side)
    commit_all(up, f"{name}: main")
    git(up, "push", "-q", "origin", "main")
    git(dev, "fetch", "-q", "origin")
    before = {r: g.nodes[r].path.read_bytes() for r in own}

    code, out, err = migfix(dev, "rebase", "--onto", "origin/main")

    # One line on stderr: which revisions moved, and what to do about databases.
    assert code == 0 and err.startswith("moved ") and err.endswith(f"{ADVICE}.\n"), err
    assert f"Chain: {p1} -> {' -> '.join(r for r in g.topological_order() if r in own)}\n" in out
    assert out.endswith(f"origin/main's head {p1}, which is not in its files yet.\n")
    git(dev, "merge", "-q", "--no-edit", "origin/main")
    after = Graph(scan_locations([dev / VERSIONS], recursive=False))
    assert after.heads == (p2,)
    # Alembic's own RevisionMap (the files import the application, so they are not imported).
    revmap = RevisionMap(lambda: [Revision(r, n.down or None) for r, n in after.nodes.items()])
    assert revmap.heads == (p2,)
    # Every rewritten file differs only in its down_revision value and Revises: line.
    moved = [r for r in own if (dev / VERSIONS / g.nodes[r].path.name).read_bytes() != before[r]]
    assert len(moved) == 1
    for r in moved:
        old = before[r].decode().splitlines()
        new = (dev / VERSIONS / g.nodes[r].path.name).read_text().splitlines()
        changed = [line for line in difflib.ndiff(old, new) if line.startswith(("- ", "+ "))]
        assert changed and all("down_revision" in c or "Revises:" in c for c in changed), changed
        assert p1 in "".join(c for c in changed if c.startswith("+ "))
    assert migfix(dev, "rebase", "--onto", "origin/main")[1].startswith("Nothing to do")


# -- the plan alone (pure): shapes that are awkward to make with git -----------------------------


def graph_of(*specs: tuple[str, tuple[str, ...]] | tuple[str, tuple[str, ...], str]) -> Graph:
    """A graph from (revision, parents[, branch label]) read as real files would be."""
    files = []
    for spec in specs:
        rev, down = spec[0], spec[1]
        label = f"({spec[2]!r},)" if len(spec) == 3 else "None"
        text = (
            f'"""{rev}\n\nRevision ID: {rev}\nRevises: {", ".join(down)}\n"""\n'
            f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = {label}\n"
        )
        files.append(scan_file(Path("/p/versions") / f"{rev}.py", text.encode()))
    return Graph(files)


def plan_of(work: Graph, onto: Graph, *, drop_merges: bool = False) -> RebasePlan:
    return plan_rebase(work, onto, ref="main", root=Path("/p"), drop_merges=drop_merges)


def refusal_of(work: Graph, onto: Graph) -> str:
    with pytest.raises(Refusal) as info:
        plan_of(work, onto)
    return info.value.message


MAIN = [("a1", ()), ("a2", ("a1",)), ("a3", ("a1",)), ("a4", ("a2", "a3"))]


def test_plan_drops_a_merge_of_two_ref_revisions_and_repoints_its_child() -> None:
    work = graph_of(
        ("a1", ()), ("a2", ("a1",)), ("a3", ("a1",)), ("m1", ("a2", "a3")), ("b1", ("m1",))
    )
    onto = graph_of(*MAIN)
    assert refusal_of(work, onto).startswith("m1 (versions/m1.py) is a merge revision")
    plan = plan_of(work, onto, drop_merges=True)
    assert [(m.revision, m.old, m.new) for m in plan.repoints] == [("b1", ("m1",), ("a4",))]
    assert [d.revision for d in plan.dropped] == ["m1"]


def test_plan_refuses_a_merge_of_own_revisions_and_ref_history() -> None:
    work = graph_of(
        ("a1", ()), ("a2", ("a1",)), ("b1", ("a1",)), ("b2", ("a1",)), ("m1", ("b1", "b2", "a2"))
    )
    assert refusal_of(work, graph_of(*MAIN)) == (
        "versions/m1.py: m1 merges this branch's revisions b1, b2 and also main's a2; migfix "
        "rebase only drops merges of main's history and will not guess this one. Remove a2 "
        "from its down_revision by hand, then run again."
    )


def test_plan_refuses_a_branch_with_two_heads_of_its_own() -> None:
    work = graph_of(("a1", ()), ("b1", ("a1",)), ("b2", ("b1",)), ("b3", ("b1",)))
    assert refusal_of(work, graph_of(*MAIN)) == (
        "This branch's own revisions have 2 heads (b2, b3) that grow from one line; migfix "
        "rebase makes one chain and will not guess their order. Join them with `migfix merge` "
        "first, then run `migfix rebase --onto main` again."
    )


def test_plan_refuses_a_parent_that_leads_to_several_labelled_heads() -> None:
    onto = graph_of(("a1", ()), ("e1", ("a1",), "expand"), ("c1", ("a1",), "contract"))
    work = graph_of(("a1", ()), ("b1", ("a1",)))
    assert refusal_of(work, onto) == (
        "versions/b1.py: b1 comes after a1, which leads to several heads on main (e1, c1), so "
        "migfix cannot tell which one it belongs on. Point its down_revision at the line you "
        "mean (or give it that line's branch label), then run migfix rebase again."
    )


def test_plan_leaves_a_new_labelled_branch_where_it_starts() -> None:
    work = graph_of(("a1", ()), ("f1", ("a1",), "feature"), ("f2", ("f1",)), ("b1", ("a1",)))
    plan = plan_of(work, graph_of(("a1", ()), ("a2", ("a1",))))
    assert [(m.revision, m.new) for m in plan.repoints] == [("b1", ("a2",))]


def test_plan_refuses_a_parent_nobody_declares() -> None:
    work = graph_of(("a1", ()), ("b1", ("zz",)))
    assert refusal_of(work, graph_of(*MAIN)) == (
        "versions/b1.py: down_revision of b1 names 'zz', which neither main nor this branch "
        "declares, so migfix cannot place it. Restore that revision or fix down_revision, then "
        "run migfix rebase again."
    )


def test_plan_json_lists_the_stacked_chains() -> None:
    work = graph_of(("a1", ()), ("b1", ("a1",)), ("c1", ("a1",)))
    plan = plan_of(work, graph_of(("a1", ()), ("a2", ("a1",))))
    data = plan.to_json()
    assert data["chains"] == [
        {"onto": "a2", "labels": [], "revisions": ["b1", "c1"], "stacked": [["b1"], ["c1"]]}
    ]
    assert data["moves"][1] == {
        "revision": "c1",
        "path": "versions/c1.py",
        "old_parents": ["a1"],
        "new_parents": ["b1"],
    }


@pytest.mark.slow
def test_nothing_is_written_or_deleted_when_a_file_changed_after_planning(
    own_merge: Repos,
) -> None:
    from migfix.commands.rebase import write_rebase
    from migfix.plan.rebase_onto import plan_onto
    from migfix.project.config import find_project

    versions = own_merge.dev / VERSIONS
    plan = plan_onto(find_project(own_merge.dev), "origin/main", drop_merges=True)
    b2 = versions / "bbbb0002_feature_two.py"
    b2.write_text(repointed(b2.read_text(), "mmmm0001", "aaaa0003"))
    before = {p: p.read_bytes() for p in versions.iterdir()}

    with pytest.raises(Refusal) as info:
        write_rebase(plan)

    assert info.value.message == (
        "alembic/versions/bbbb0002_feature_two.py changed since migfix read it (down_revision "
        "is now aaaa0003, was mmmm0001). Nothing was written; run `migfix rebase --onto "
        "origin/main` again."
    )

    assert {p: p.read_bytes() for p in versions.iterdir()} == before


@pytest.mark.slow
def test_a_merge_file_edited_after_planning_stops_every_write(own_merge: Repos) -> None:
    from migfix.plan.rebase_onto import plan_onto
    from migfix.project.config import find_project
    from migfix.write.rebase_changes import rebase_changes
    from migfix.write.txn import write_changes

    versions = own_merge.dev / VERSIONS
    plan = plan_onto(find_project(own_merge.dev), "origin/main", drop_merges=True)
    changes = rebase_changes(plan)
    merge_file = versions / "mmmm0001_merge_main.py"
    merge_file.write_text(merge_file.read_text() + "# kept by hand\n")
    before = {p: p.read_bytes() for p in versions.iterdir()}

    with pytest.raises(Refusal, match="changed under migfix while it was working"):
        write_changes(changes)

    assert {p: p.read_bytes() for p in versions.iterdir()} == before


@pytest.mark.slow
def test_hook_rebase_uses_the_default_upstream(repos: Repos) -> None:
    from migfix.commands.rebase import hook_rebase
    from migfix.project.config import find_project

    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    commit_all(repos.dev, "feature")
    repos.rev(repos.up, "aaaa0002", "second")
    repos.push("second")
    repos.fetch()
    git(repos.dev, "merge", "-q", "--no-edit", "origin/main")  # what fires post-merge

    written, report = hook_rebase(find_project(repos.dev))

    assert written == [b1]
    assert report == (
        "Rebasing onto origin/main:\n"
        "  bbbb0001: aaaa0001 -> aaaa0002  (alembic/versions/bbbb0001_feature_one.py)\n"
        "Chain: aaaa0002 -> bbbb0001"
    )
    assert_alembic_ok(repos.dev, {"bbbb0001"})


@pytest.mark.slow
def test_refuses_a_branch_revision_that_names_itself(repos: Repos, migfix: Migfix) -> None:
    b1 = repos.rev(repos.dev, "bbbb0001", "feature one")
    b1.write_text(b1.read_text().replace("= 'aaaa0001'\n", "= 'bbbb0001'\n"))
    before = b1.read_bytes()
    code, out, err = migfix(repos.dev, "rebase", "--onto", "origin/main")
    assert code == 2 and out == ""
    assert err.startswith(
        "migfix: The revision graph has faults that make rewriting unsafe: "
        "alembic/versions/bbbb0001_feature_one.py:"
    )
    assert "names itself in down_revision" in err and "Traceback" not in err
    assert b1.read_bytes() == before


def test_plan_drops_an_empty_merge_of_ref_history_without_being_asked() -> None:
    work = graph_of(
        ("a1", ()), ("a2", ("a1",)), ("a3", ("a1",)), ("m1", ("a2", "a3")), ("b1", ("m1",))
    )
    plan = plan_rebase(work, graph_of(*MAIN), ref="main", root=Path("/p"), empty_merges={"m1"})
    assert [(m.revision, m.old, m.new) for m in plan.repoints] == [("b1", ("m1",), ("a4",))]
    assert [(d.revision, d.parents) for d in plan.dropped] == [("m1", ("a2", "a3"))]


def test_plan_never_leaves_a_parent_that_is_an_ancestor_of_another() -> None:
    # m1 joined b1 and main's a2; b2 merges m1 and b1's child b3. Dropping m1 would give b2
    # the parents b1 and b3, and b1 is b3's parent: only b3 stays.
    work = graph_of(
        ("a1", ()),
        ("a2", ("a1",)),
        ("b1", ("a1",)),
        ("m1", ("b1", "a2")),
        ("b3", ("b1",)),
        ("b2", ("m1", "b3")),
    )
    onto = graph_of(("a1", ()), ("a2", ("a1",)))
    plan = plan_rebase(work, onto, ref="main", root=Path("/p"), empty_merges={"m1"})
    assert {m.revision: m.new for m in plan.repoints} == {"b1": ("a2",), "b2": ("b3",)}


def upstream_clone(tmp_path: Path, template: Path) -> tuple[Path, Path]:
    """A bare ``remote.git`` and its clone ``up`` on main, holding the Alembic TEMPLATE."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(remote))
    up = tmp_path / "up"
    git(tmp_path, "clone", "-q", str(remote), str(up))
    git(up, "checkout", "-q", "-b", "main")
    shutil.copytree(template, up, dirs_exist_ok=True)
    return remote, up


def place_revisions(clone: Path, g: Graph, revs: set[str]) -> None:
    """Copy the corpus files of REVS (revisions of G) into CLONE's versions folder."""
    for r in revs:
        src = g.nodes[r].path
        (clone / VERSIONS / src.name).write_bytes(src.read_bytes())


def _corpus_branches(corpus_dir: Path) -> Iterator[tuple[str, Graph, str, set[str], set[str]]]:
    """Real feature branches cut out of real graphs: for each merge M(P1, P2) of galaxy and
    langflow whose P2 side has a few revisions of its own, main holds P1's history and the
    branch P2's own revisions, then M itself (the branch merged main), then M's children."""
    from migfix.read.scan import scan_locations

    for name, locations in corpus_projects(corpus_dir):
        if name not in ("galaxy", "langflow") or len(locations) != 1:
            continue
        g = Graph(scan_locations(locations, recursive=False))
        for m in sorted(g.merge_points):
            if len(g.nodes[m].down) != 2:
                continue
            p1, p2 = g.nodes[m].down
            main_side = g.ancestors(p1) | {p1}
            own = (g.ancestors(p2) | {p2}) - main_side
            kids = [c for c in g.children[m] if g.nodes[c].down == (m,)]
            if 1 <= len(own) <= 8 and all(len(g.nodes[r].down) == 1 for r in own):
                yield name, g, m, main_side, own | {m, *kids}


@pytest.mark.corpus
def test_real_corpus_branches_that_merged_main_end_with_one_head(corpus_dir: Path) -> None:
    """Every such branch rebases to one head; only a merge that carries operations refuses."""
    from migfix.read.does_nothing import does_nothing

    outcomes: dict[str, int] = {"one head": 0, "refused: operations": 0}
    for name, g, m, main_side, branch in _corpus_branches(corpus_dir):
        work = Graph([g.nodes[r].file for r in main_side | branch])
        onto = Graph([g.nodes[r].file for r in main_side])
        empty = {m} if does_nothing(g.nodes[m].path.read_bytes()) else set()
        try:
            plan = plan_rebase(work, onto, ref="main", root=Path("/"), empty_merges=empty)
        except Refusal as exc:
            assert not empty, (name, m, exc.message)
            assert "is a merge revision of this branch that only joins main's" in exc.message
            outcomes["refused: operations"] += 1
            continue
        parents = {r: n.down for r, n in work.nodes.items()}
        parents.update({mv.revision: mv.new for mv in plan.repoints})
        for d in plan.dropped:
            del parents[d.revision]
        named = {p for ps in parents.values() for p in ps}
        assert [r for r in parents if r not in named] == [plan.chains[0].revisions[-1]], (name, m)
        assert [d.revision for d in plan.dropped] == [m]
        outcomes["one head"] += 1
    assert outcomes["one head"] >= 3, outcomes


@pytest.mark.slow
@pytest.mark.corpus
def test_real_corpus_branch_with_its_empty_merge_of_main_rebases_in_git(
    tmp_path: Path, template: Path, migfix: Migfix, corpus_dir: Path
) -> None:
    """A real branch (real files) that merged main with an empty merge revision: `migfix rebase`
    deletes that merge, re-roots the branch and points the merge's children at its own side."""
    from alembic.script.revision import Revision, RevisionMap

    from migfix.read.does_nothing import does_nothing
    from migfix.read.scan import scan_locations

    picked = next(
        (
            c
            for c in _corpus_branches(corpus_dir)
            if does_nothing(c[1].nodes[c[2]].path.read_bytes()) and len(c[4]) >= 3
        ),
        None,
    )
    assert picked is not None, "no empty merge of galaxy or langflow fits this scenario"
    name, g, m, main_side, branch = picked
    p1, p2 = g.nodes[m].down
    remote, up = upstream_clone(tmp_path, template)

    own = {r for r in branch if r != m and m not in g.ancestors(r)}
    shared = main_side & (g.ancestors(min(own, key=lambda r: len(g.ancestors(r)))))
    place_revisions(up, g, shared)
    commit_all(up, f"{name}: shared history")
    git(up, "push", "-q", "-u", "origin", "main")
    dev = tmp_path / "dev"
    git(tmp_path, "clone", "-q", str(remote), str(dev))
    git(dev, "checkout", "-q", "-b", "feature")
    place_revisions(dev, g, own)
    commit_all(dev, f"{name}: feature")
    place_revisions(up, g, main_side - shared)
    commit_all(up, f"{name}: main")
    git(up, "push", "-q", "origin", "main")
    git(dev, "fetch", "-q", "origin")
    git(dev, "merge", "-q", "--no-edit", "origin/main")
    place_revisions(dev, g, branch - own)  # the branch's real merge of main, and what came after it
    commit_all(dev, f"{name}: merged main")
    merge_file = dev / VERSIONS / g.nodes[m].path.name

    code, out, err = migfix(dev, "rebase", "--onto", "origin/main")

    # One line on stderr: which revisions moved, and what to do about databases.
    assert code == 0 and err.startswith("moved ") and err.endswith(f"{ADVICE}.\n"), err
    assert f"  {m}: deleted, it only merged origin/main's history ({p1}, {p2})" in out
    assert not merge_file.exists()
    after = Graph(scan_locations([dev / VERSIONS], recursive=False))
    assert m not in after.nodes and len(after.heads) == 1
    revmap = RevisionMap(lambda: [Revision(r, n.down or None) for r, n in after.nodes.items()])
    assert revmap.heads == after.heads
    assert p1 in after.ancestors(after.heads[0])


# -- a stale --onto / --against ref ----------------------------------------------------------------


@pytest.mark.slow
def test_a_stale_remote_ref_is_named_and_fetch_brings_it_current(tmp_path: Path) -> None:
    from projutil import make_team, migfix_proc

    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision("rrrr0001", "r")
    # Made after origin/main was last updated here (by the push in make_team).
    commit_all(alice.root, "add R", date="2030-01-01T00:00:00+00:00")
    bob.revision("ssss0001", "s")
    commit_all(bob.root, "add S")
    git(bob.root, "push", "-q", "origin", "main")

    stale = migfix_proc(alice.root, "rebase", "--onto", "origin/main")
    against = migfix_proc(alice.root, "check", "--against", "origin/main")

    assert stale.returncode == 0, stale.stderr
    assert "Nothing to do" in stale.stdout
    warning = "origin/main was last fetched "
    assert warning in stale.stderr and "Run `git fetch origin` (or pass --fetch)" in stale.stderr
    assert warning in against.stderr, against.stderr
    assert against.returncode == 0  # against what it knows, one head

    fetched = migfix_proc(alice.root, "rebase", "--onto", "origin/main", "--fetch")

    assert fetched.returncode == 0, fetched.stderr
    assert warning not in fetched.stderr
    assert "down_revision: Union[str, Sequence[str], None] = 'ssss0001'" in (
        alice.file("rrrr0001").read_text()
    )
    local = migfix_proc(alice.root, "rebase", "--onto", "main", "--fetch")
    assert local.returncode == 2
    assert "--fetch fetches a remote branch such as origin/main, and main is not one" in (
        local.stderr
    )
