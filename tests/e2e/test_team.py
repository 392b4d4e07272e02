"""A team covered through one committed file: pre-commit as migfix's installer.

Three clones of one bare origin: alice ran ``migfix hook install``, bob has no hook at all and
lands revisions upstream, carol has only the committed ``.pre-commit-config.yaml`` and ran
``pre-commit install`` once. Everything is real: git, pre-commit (building migfix from a clone
of this repository into its own virtualenv), ``alembic revision`` / ``alembic upgrade`` and
SQLite databases.
"""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import PRE_COMMIT, pre_commit_env
from gitutil import GIT_ENV, commit_all, git, make_repo, write
from projutil import Proj, alembic_view, land, make_team, migfix_proc, new_project, normalize

from migfix.hook import precommit

# Both stories run git, pre-commit and the installed hooks.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TEAM_HOOKS = [
    "migfix-check",
    "migfix-post-merge",
    "migfix-post-rewrite",
    "migfix-post-checkout",
    "migfix-post-commit",
]


# --- the guard in front of each pre-commit hook -----------------------------------------------


def _fake_python(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH whose `python` only records that it was started."""
    bin_dir = tmp_path / "bin"
    marker = tmp_path / "python-started"
    write(bin_dir / "python", f'#!/bin/sh\necho "$@" >> {shlex.quote(str(marker))}\n')
    (bin_dir / "python").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, marker


def _run_entry(repo: Path, hook_type: str, env: dict[str, str]) -> None:
    proc = subprocess.run(
        shlex.split(precommit.entry(hook_type)),
        cwd=repo,
        env={**os.environ, **GIT_ENV, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_pre_commit_hooks_start_python_only_when_a_migration_may_have_moved(
    tmp_path: Path,
) -> None:
    proj = new_project(tmp_path, "typed")
    repo = make_repo(proj.root)
    commit_all(repo, "project")
    path_env, marker = _fake_python(tmp_path)

    # A merge of application code only: the guard stops it (two `git diff`s, no Python).
    git(repo, "checkout", "-q", "-b", "app")
    write(repo / "app.py", "x = 1\n")
    commit_all(repo, "app code")
    git(repo, "checkout", "-q", "main")
    write(repo / "README", "readme\n")
    commit_all(repo, "readme")
    # A plain commit that adds no revision file.
    _run_entry(repo, "post-commit", path_env)
    git(repo, "merge", "-q", "--no-edit", "app")
    _run_entry(repo, "post-merge", {**path_env, "PRE_COMMIT_IS_SQUASH_MERGE": "0"})
    # A branch checkout whose diff changes no down_revision line.
    before = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "HEAD~1")
    checkout = {
        "PRE_COMMIT_FROM_REF": before,
        "PRE_COMMIT_TO_REF": git(repo, "rev-parse", "HEAD"),
        "PRE_COMMIT_CHECKOUT_TYPE": "1",
    }
    _run_entry(repo, "post-checkout", {**path_env, **checkout})
    # `git commit --amend` is a rewrite that moves nothing; so is a rebase onto app code.
    _run_entry(repo, "post-rewrite", {**path_env, "PRE_COMMIT_REWRITE_COMMAND": "amend"})
    git(repo, "checkout", "-q", "-b", "mine", "main~1")
    write(repo / "mine.py", "y = 1\n")
    commit_all(repo, "mine")
    git(repo, "rebase", "-q", "main")
    _run_entry(repo, "post-rewrite", {**path_env, "PRE_COMMIT_REWRITE_COMMAND": "rebase"})
    assert not marker.exists(), marker.read_text()

    # A merge that brings a revision in: now Python starts, with git's arguments.
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "rev")
    proj.revision("carol001", "c")
    commit_all(repo, "c")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "rev")
    _run_entry(repo, "post-merge", {**path_env, "PRE_COMMIT_IS_SQUASH_MERGE": "0"})
    assert marker.read_text() == "-m migfix.hookrun post-merge -- 0\n"
    # A commit that adds a revision file (a squash merge, a cherry-pick).
    marker.unlink()
    proj.revision("carol002", "d")
    commit_all(repo, "d")
    _run_entry(repo, "post-commit", path_env)
    assert marker.read_text() == "-m migfix.hookrun post-commit --\n"
    # A rebase onto a revision.
    marker.unlink()
    git(repo, "checkout", "-q", "mine")
    git(repo, "rebase", "-q", "main")
    _run_entry(repo, "post-rewrite", {**path_env, "PRE_COMMIT_REWRITE_COMMAND": "rebase"})
    assert marker.read_text() == "-m migfix.hookrun post-rewrite -- rebase\n"


# --- three clones, one with pre-commit only ---------------------------------------------------


def readme_config(migfix_repo: Path) -> str:
    """The team's `.pre-commit-config.yaml` exactly as the README shows it."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"## Set up a team\n.*?```yaml\n(.*?)```", readme, re.S)
    assert found is not None
    snippet = found.group(1)
    sha = git(migfix_repo, "rev-parse", "HEAD")
    return snippet.replace("<this repository's git URL>", str(migfix_repo)).replace(
        "<full commit id>", sha
    )


def _sh(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )


def _database(proj: Proj, name: str) -> tuple[str, Path]:
    db = proj.root.parent / f"{name}.db"
    return f"sqlite:///{db}", db


def _upgrade(proj: Proj, url: str) -> None:
    proc = _sh(
        proj.root,
        {**os.environ, "MIGFIX_DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"},
        sys.executable,
        "-m",
        "alembic",
        "upgrade",
        "heads",
    )
    assert proc.returncode == 0, proc.stderr


def _versions(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(r[0] for r in conn.execute("select version_num from alembic_version"))


def _notes(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("select text from notes")]


def test_a_team_covered_by_one_committed_pre_commit_config(
    tmp_path: Path, migfix_repo: Path, pre_commit_home: Path
) -> None:
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    write(alice.root / ".pre-commit-config.yaml", readme_config(migfix_repo))
    commit_all(alice.root, "pre-commit for the team")
    git(alice.root, "push", "-q", "origin", "main")
    ok = migfix_proc(alice.root, "hook", "install")
    assert ok.returncode == 0, ok.stderr
    git(tmp_path, "clone", "-q", str(team.remote), "carol")
    carol = Proj(tmp_path / "carol", "typed")
    env = pre_commit_env(pre_commit_home)
    # carol's hooks are pre-commit's, which need its home and this PATH's pre-commit.
    hook_env = {"PRE_COMMIT_HOME": str(pre_commit_home), "PYTHONPATH": ""}

    def cgit(*args: str) -> str:
        return git(carol.root, *args, env=hook_env)

    installed = _sh(carol.root, env, str(PRE_COMMIT), "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for hook_type in ("pre-commit", "pre-merge-commit", "post-merge", "post-rewrite"):
        assert (carol.root / ".git" / "hooks" / hook_type).exists(), hook_type
    assert not (carol.root / ".git" / "hooks" / "pre-push").exists()

    # carol's work: a revision she ran on her database, where her data lives now.
    carol.revision("carol001", "carol's")
    cgit("add", "-A")
    committed = _sh(carol.root, env, "git", "commit", "-q", "-m", "add carol001")
    assert committed.returncode == 0, committed.stdout + committed.stderr
    assert "migfix check (Alembic multiple heads)" in committed.stdout + committed.stderr
    url, db = _database(carol, "carol")
    _upgrade(carol, url)
    with sqlite3.connect(db) as conn:
        conn.execute("create table notes (text varchar)")
        conn.execute("insert into notes values ('carol was here')")

    # bob lands a revision on origin/main; carol pulls with --rebase.
    git(bob.root, "pull", "-q", "--no-rebase", "--no-edit")
    bob.revision("bob00001", "bob's")
    commit_all(bob.root, "add bob00001")
    git(bob.root, "push", "-q", "origin", "main")
    pulled = _sh(carol.root, env, "git", "pull", "-q", "--rebase")
    said = pulled.stdout + pulled.stderr
    assert pulled.returncode == 0, said
    assert "migfix after git rebase / git pull --rebase" in said
    # pre-commit's post-rewrite hook moved carol's revision on top of bob's.
    view = alembic_view(carol)
    assert view["heads"] == ["carol001"], said
    assert "down_revision: Union[str, Sequence[str], None] = 'bob00001'" in (
        carol.file("carol001").read_text()
    )
    # Her database ran carol001 on top of a, never bob00001: migfix sees it and runs it.
    status = migfix_proc(carol.root, "db", "status", env={"MIGFIX_DATABASE_URL": url})
    assert status.returncode == 1, status.stdout + status.stderr
    assert "bob00001" in status.stdout
    synced = migfix_proc(carol.root, "db", "sync", "-y", env={"MIGFIX_DATABASE_URL": url})
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert _versions(db) == ["carol001"]
    assert _notes(db) == ["carol was here"]
    cgit("add", "-A")
    if cgit("status", "--porcelain"):
        done = _sh(carol.root, env, "git", "commit", "-q", "-m", "rebase carol001 onto bob00001")
        assert done.returncode == 0, done.stdout + done.stderr
    pushed = _sh(carol.root, env, "git", "push", "-q", "origin", "HEAD:main")
    assert pushed.returncode == 0, pushed.stderr

    # carol's feature branch and bob's next revision meet in a merge git would commit by
    # itself: pre-merge-commit's migfix-check stops it before two heads are committed.
    cgit("checkout", "-q", "-b", "feature")
    carol.revision("carol002", "carol's feature")
    cgit("add", "-A")
    assert _sh(carol.root, env, "git", "commit", "-q", "-m", "add carol002").returncode == 0
    git(bob.root, "pull", "-q", "--no-rebase", "--no-edit")
    bob.revision("bob00002", "bob's next")
    commit_all(bob.root, "add bob00002")
    git(bob.root, "push", "-q", "origin", "main")
    cgit("fetch", "-q")
    merged = _sh(carol.root, env, "git", "merge", "--no-edit", "origin/main")
    said = merged.stdout + merged.stderr
    assert merged.returncode != 0, said
    assert "2 heads without branch labels" in said
    assert (carol.root / ".git" / "MERGE_HEAD").exists()
    joined = migfix_proc(carol.root, "merge")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    cgit("add", "-A")
    done = _sh(carol.root, env, "git", "commit", "-q", "--no-edit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(alembic_view(carol)["heads"]) == 1
    cgit("checkout", "-q", "main")
    cgit("merge", "-q", "--ff-only", "feature")
    assert _sh(carol.root, env, "git", "push", "-q", "origin", "main").returncode == 0

    # Everyone ends in step: one head, every database upgrades, carol's data is still there.
    for proj in (alice, bob):
        git(proj.root, "pull", "-q", "--no-rebase", "--no-edit")
    heads = {alembic_view(p)["heads"][0] for p in (alice, bob, carol)}
    assert len(heads) == 1
    for proj in (alice, bob, carol):
        assert alembic_view(proj, upgrade=True)["current"] == sorted(heads)
    _upgrade(carol, url)
    assert _versions(db) == sorted(heads)
    assert _notes(db) == ["carol was here"]


# --- each stage through pre-commit does what the installed hook does ----------------------------
# Two clones of one origin take the same steps: `hooked` ran `migfix hook install`, `pc` only
# `pre-commit install` with the team's committed config. What migfix says, the files it leaves,
# the commits and the working tree must be the same in both (a merge revision's id is Alembic's
# random one: it is named <new> in both).


@dataclass(frozen=True)
class Twins:
    bob: Proj  # no hook at all: lands revisions on origin/main
    hooked: Proj
    pc: Proj
    env: dict[str, str]  # pre-commit's home, for git in either clone

    def both(self, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
        """Run ARGS (a git command) in `hooked`, then in `pc`; each must succeed."""
        done = []
        for clone in (self.hooked, self.pc):
            proc = _sh(clone.root, self.env, *args)
            assert proc.returncode == 0, f"{clone.root.name}: {args}\n{proc.stdout}{proc.stderr}"
            done.append(proc)
        return tuple(done)

    def each(self, *args: str) -> None:
        """Run ARGS in both clones without a hook firing (setting the scene)."""
        for clone in (self.hooked, self.pc):
            git(clone.root, *args, env={**self.env, "MIGFIX_SKIP_HOOK": "1"})


def twins(tmp_path: Path, migfix_repo: Path, home: Path) -> Twins:
    team = make_team(tmp_path, "typed")
    write(team.bob.root / ".pre-commit-config.yaml", readme_config(migfix_repo))
    commit_all(team.bob.root, "pre-commit for the team")
    git(team.bob.root, "push", "-q", "origin", "main")
    env = pre_commit_env(home)
    clones = []
    for name in ("hooked", "pc"):
        git(tmp_path, "clone", "-q", str(team.remote), name)
        clones.append(Proj(tmp_path / name, "typed"))
    installed = migfix_proc(clones[0].root, "hook", "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    installed = _sh(clones[1].root, env, str(PRE_COMMIT), "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return Twins(team.bob, clones[0], clones[1], env)


_REVISION_ID = re.compile(r"^revision(?:: str)? = ['\"](\w+)['\"]", re.M)


class Outcome(NamedTuple):
    said: list[str]  # migfix's lines, in order
    files: dict[str, str]  # the versions folder
    log: str  # the last commits' subjects
    status: str  # `git status --porcelain`


def _ids(clone: Proj) -> set[str]:
    return {m for f in clone.versions.glob("*.py") for m in _REVISION_ID.findall(f.read_text())}


def _outcome(clone: Proj, proc: subprocess.CompletedProcess[str], new: set[str]) -> Outcome:
    """What PROC left in CLONE, with the id of the revision migfix wrote there (NEW: the other
    clone's has another random id) named <new>, and each file's Create Date blanked."""
    assert len(new) <= 1, new

    def named(text: str) -> str:
        text = normalize(text.encode()).decode()
        return text.replace(next(iter(new)), "<new>") if new else text

    files = {p.name: p.read_text() for p in sorted(clone.versions.glob("*.py"))}
    output = (proc.stdout + proc.stderr).splitlines()
    return Outcome(
        [named(line) for line in output if line.startswith("migfix:")],
        {named(name): named(text) for name, text in files.items()},
        # --topo-order: by date, the two sides of a merge come in the order of their commits'
        # seconds, which differ between the clones when a second turns between them.
        named(git(clone.root, "log", "--topo-order", "--format=%s", "-n", "4")),
        named(git(clone.root, "status", "--porcelain")),
    )


def _same(twins: Twins, procs: tuple[subprocess.CompletedProcess[str], ...]) -> Outcome:
    """The outcome of the same step in both clones, which must be equal."""
    ids = _ids(twins.hooked), _ids(twins.pc)
    hooked = _outcome(twins.hooked, procs[0], ids[0] - ids[1])
    pc = _outcome(twins.pc, procs[1], ids[1] - ids[0])
    assert pc == hooked
    return hooked


def test_post_merge_through_pre_commit_does_what_the_installed_hook_does(
    tmp_path: Path, migfix_repo: Path, pre_commit_home: Path
) -> None:
    t = twins(tmp_path, migfix_repo, pre_commit_home)
    # bob (no hook) merges two pull requests that each added a revision: main has two heads.
    land(t.bob, "bob00001", "bob's")
    land(t.bob, "bob00002", "bob's other", beside=True)

    pulled = t.both("git", "pull", "--no-rebase", "--no-edit")  # a fast-forward

    outcome = _same(t, pulled)
    assert "migfix after git merge / git pull" in pulled[1].stdout + pulled[1].stderr
    assert any("left several migration heads" in line for line in outcome.said)
    assert len(alembic_view(t.pc)["heads"]) == 1


def test_post_rewrite_of_git_pull_rebase_through_pre_commit_does_what_the_installed_hook_does(
    tmp_path: Path, migfix_repo: Path, pre_commit_home: Path
) -> None:
    t = twins(tmp_path, migfix_repo, pre_commit_home)
    for clone in (t.hooked, t.pc):
        clone.revision("carol001", "carol's")
    t.both("git", "add", "-A")
    t.both("git", "commit", "-q", "-m", "add carol001")
    land(t.bob, "bob00001", "bob's")

    pulled = t.both("git", "pull", "--rebase")

    outcome = _same(t, pulled)
    assert "migfix after git rebase / git pull --rebase" in pulled[1].stdout + pulled[1].stderr
    assert "down_revision: Union[str, Sequence[str], None] = 'bob00001'" in (
        t.pc.file("carol001").read_text()
    ), outcome
    assert alembic_view(t.pc)["heads"] == ["carol001"]


def test_post_commit_of_a_merge_resolved_by_hand_through_pre_commit_does_what_the_hook_does(
    tmp_path: Path, migfix_repo: Path, pre_commit_home: Path
) -> None:
    t = twins(tmp_path, migfix_repo, pre_commit_home)
    for clone in (t.hooked, t.pc):
        clone.revision("carol001", "carol's")
        write(clone.root / "app.py", "carol = 1\n")
    t.both("git", "add", "-A")
    t.both("git", "commit", "-q", "-m", "add carol001")
    write(t.bob.root / "app.py", "bob = 1\n")
    land(t.bob, "bob00001", "bob's")
    for clone in (t.hooked, t.pc):
        stopped = _sh(clone.root, t.env, "git", "pull", "--no-rebase", "--no-edit")
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "CONFLICT (add/add): Merge conflict in app.py" in stopped.stdout
        write(clone.root / "app.py", "carol = 1\nbob = 1\n")
    t.both("git", "add", "app.py")

    committed = t.both("git", "commit", "-q", "--no-edit")

    outcome = _same(t, committed)
    assert "migfix after a merge commit" in committed[1].stdout + committed[1].stderr
    assert outcome.said[:2] == [
        "migfix: the merge left several migration heads (bob00001, carol001); fixing with `merge`.",
        "migfix: Repointed carol001: bbbb0004 -> bob00001  "
        "(migrations/versions/carol001_carol_s.py)",
    ]
    assert len(alembic_view(t.pc)["heads"]) == 1


def test_post_checkout_through_pre_commit_does_what_the_installed_hook_does(
    tmp_path: Path, migfix_repo: Path, pre_commit_home: Path
) -> None:
    t = twins(tmp_path, migfix_repo, pre_commit_home)
    bob = t.bob
    # feature: carol001 on a. moved: the same revision, moved on top of bob00001 (a rebase).
    # split: bob00001 and carol001 both on a, two heads nobody joined.
    git(bob.root, "checkout", "-q", "-b", "feature")
    bob.revision("carol001", "carol's")
    commit_all(bob.root, "add carol001")
    git(bob.root, "checkout", "-q", "main")
    land(bob, "bob00001", "bob's")
    git(bob.root, "checkout", "-q", "-b", "split", "feature")
    git(bob.root, "merge", "-q", "--no-edit", "main")
    git(bob.root, "checkout", "-q", "-b", "moved", "main")
    git(bob.root, "checkout", "-q", "feature", "--", "migrations")
    carol = bob.file("carol001")
    carol.write_text(
        carol.read_text()
        .replace(f"Revises: {bob.a}\n", "Revises: bob00001\n")
        .replace(f"= '{bob.a}'\n", "= 'bob00001'\n")
    )
    commit_all(bob.root, "carol001 on top of bob00001")
    git(bob.root, "push", "-q", "origin", "feature", "split", "moved")
    t.each("fetch", "-q")
    t.each("checkout", "-q", "feature")

    moved = t.both("git", "checkout", "-q", "moved")

    outcome = _same(t, moved)
    assert "migfix after git checkout" in moved[1].stdout + moved[1].stderr
    assert any("moved carol001 (bbbb0004 -> bob00001)" in line for line in outcome.said), (
        outcome.said
    )

    # Back to two heads: the move back is told; a checkout fixes nothing and writes nothing.
    split = t.both("git", "checkout", "-q", "split")
    outcome = _same(t, split)
    assert outcome.status == ""
    assert len(alembic_view(t.pc)["heads"]) == 2


def _started_migfix(proc: subprocess.CompletedProcess[str]) -> bool:
    """Whether a Python process under PYTHONPROFILEIMPORTTIME imported migfix: pre-commit
    shows each hook's output, where the hook's interpreter lists what it imported."""
    return re.search(r"^import time:.*\|\s+migfix$", proc.stdout + proc.stderr, re.M) is not None


def test_through_pre_commit_a_step_that_touched_no_migration_starts_no_migfix(
    tmp_path: Path, migfix_repo: Path, pre_commit_home: Path
) -> None:
    t = twins(tmp_path, migfix_repo, pre_commit_home)
    pc, bob = t.pc, t.bob
    env = {**t.env, "PYTHONPROFILEIMPORTTIME": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = _sh(pc.root, env, "git", *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    write(pc.root / "app.py", "carol = 1\n")
    git(pc.root, "add", "app.py")
    committed = run("commit", "-q", "-m", "app code")  # post-commit: not a merge, no revision
    write(bob.root / "README", "bob\n")
    commit_all(bob.root, "readme")
    git(bob.root, "push", "-q", "origin", "main")
    merged = run("pull", "--no-rebase", "--no-edit")  # a merge commit: pre-merge-commit too
    write(bob.root / "README", "bob again\n")
    commit_all(bob.root, "readme again")
    git(bob.root, "push", "-q", "origin", "main")
    rebased = run("pull", "--rebase")
    checked_out = run("checkout", "-q", "-b", "other", "HEAD~1")
    for step, proc in (
        ("post-commit", committed),
        ("post-merge", merged),
        ("post-rewrite", rebased),
        ("post-checkout", checked_out),
    ):
        assert "import time:" in proc.stderr, step  # pre-commit's own Python ran, under git
        assert not _started_migfix(proc), step

    # A fast-forward that brings a revision starts the post-merge hook's migfix (and nothing
    # else would: no commit is made): the check above can fail.
    run("checkout", "-q", "main")
    git(pc.root, "push", "-q", "origin", "main")
    git(bob.root, "pull", "-q", "--no-rebase", "--no-edit")
    land(bob, "bob00001", "bob's")
    assert _started_migfix(run("pull", "--no-rebase", "--no-edit"))
