"""Property: no settled revision file ever changes, whatever the graph, the git topology, the
side the merge is made from, the strategy, and whether the hook or a command does the work.

Each example is a real repository with a bare remote (named ``origin`` or ``upstream``): a
random base graph (graphgen), then the default branch (``main``, ``develop`` or ``trunk``)
and a feature branch each add a chain of revisions, with a random cut point, a random amount
of each side pushed, the remote's HEAD set or not. The feature is pushed with or without
``-u``, to the same remote or to a second one (a fork), or not at all. One side merges the
other with a real ``git merge`` (or ``git merge --squash`` + ``git commit``), from the
branch, from a detached HEAD, or in a linked worktree, in a shallow repository or not, and
either the installed hook fixes the heads (strategy merge or rebase) or ``migfix merge`` /
``migfix rebase --onto`` is run by hand. Published = every revision file on any
remote-tracking ref; each keeps its bytes. When migfix says it fixed the heads, no unintended
head is left; when it refuses, nothing was written.
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SRC
from gitutil import git, git_proc
from graphgen import GenGraph, GenRevision, graphs, render_project, render_revision, template_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projutil import migfix_proc, new_project

from migfix.hook import install as hook
from migfix.project.config import find_project
from migfix.read.graph import read_graph

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Topology:
    base: GenGraph
    main_before_cut: int
    feature: int
    main_after_cut: int
    main_pushed: str  # "base", "cut" or "tip": how far origin/main goes
    feature_pushed: bool
    origin_head: bool
    from_side: str  # the branch checked out when `git merge` runs
    merge_remote: bool  # the feature merges origin/main rather than main
    strategy: str
    via: str  # "hook", "squash" (the hook, after `git merge --squash` + commit) or "command"
    remote: str = "origin"  # the remote's name
    default: str = "main"  # the default branch's name
    feature_to: str = "same"  # where the feature is pushed: "same" remote or a "fork"
    upstream_set: bool = True  # the feature is pushed with -u
    checkout: str = "branch"  # "branch", "detached" (at the branch's commit) or "worktree"
    shallow: bool = False  # the history below the project's first commit is cut (a shallow
    # fetch): git cannot tell what is pushed, so every committed revision counts as published


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    return Topology(
        base=draw(graphs(max_size=5, max_bases=1)),
        main_before_cut=draw(st.integers(0, 2)),
        feature=draw(st.integers(1, 2)),
        main_after_cut=draw(st.integers(1, 2)),
        main_pushed=draw(st.sampled_from(["base", "cut", "tip"])),
        feature_pushed=draw(st.booleans()),
        origin_head=draw(st.booleans()),
        from_side=draw(st.sampled_from(["feature", "main"])),
        merge_remote=draw(st.booleans()),
        strategy=draw(st.sampled_from(["merge", "rebase"])),
        via=draw(st.sampled_from(["hook", "squash", "command"])),
        remote=draw(st.sampled_from(["origin", "upstream"])),
        default=draw(st.sampled_from(["main", "develop", "trunk"])),
        feature_to=draw(st.sampled_from(["same", "fork"])),
        upstream_set=draw(st.booleans()),
        checkout=draw(st.sampled_from(["branch", "detached", "worktree"])),
        shallow=draw(st.booleans()),
    )


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "migrations" / "versions"
        self.template = template_path(typed=True)
        self.env = {
            "PYTHONPATH": str(SRC),
            "PYTHONDONTWRITEBYTECODE": "1",
            "GIT_CEILING_DIRECTORIES": str(root.parent),
        }
        self.minutes = 0

    def git(self, *args: str) -> str:
        return git(self.root, *args, env=self.env)

    def head(self) -> str:
        heads = read_graph(find_project(self.root)).heads
        assert len(heads) == 1, heads
        return heads[0]

    def add_chain(self, prefix: str, count: int, *, start: int = 1) -> None:
        """COUNT revisions on top of the current head, one commit each."""
        for i in range(start, start + count):
            rev = GenRevision(f"{prefix}{i:07d}", (self.head(),))
            self.minutes += 1
            when = datetime.datetime(2025, 6, 1) + datetime.timedelta(minutes=self.minutes)
            text = render_revision(rev, template=self.template, create_date=when)
            (self.versions / f"{rev.rev}_step.py").write_bytes(text.encode())
            self.git("add", "-A")
            self.git("commit", "-q", "--no-verify", "-m", f"add {rev.rev}")

    def published_files(self) -> dict[str, bytes]:
        """Every revision file on any remote-tracking ref, as that ref has it."""
        out: dict[str, bytes] = {}
        refs = self.git("for-each-ref", "--format=%(refname:short)", "refs/remotes").split()
        for ref in refs:
            if ref.endswith("/HEAD") or "/" not in ref:
                continue
            tree = self.git("ls-tree", "--name-only", f"{ref}:migrations/versions").split()
            for name in tree:
                blob = git_proc(self.root, "cat-file", "blob", f"{ref}:migrations/versions/{name}")
                out[name] = blob.stdout.encode()
        return out


def build(tmp: Path, topo: Topology) -> Repo:
    remote = tmp / "remote.git"
    remote.mkdir()
    main, name = topo.default, topo.remote
    git(remote, "init", "-q", "--bare", "-b", main)
    proj = new_project(tmp, "typed", "repo")
    repo = Repo(proj.root)
    for old in repo.versions.glob("*.py"):
        old.unlink()
    base = topo.base
    if len(base.heads()) > 1:  # start from a clean project: one head
        base = GenGraph((*base.revisions, GenRevision("rrrr9999", tuple(base.heads()))))
    render_project(base, repo.versions, typed=True)
    (repo.root / ".gitignore").write_text("__pycache__/\n*.db\n")
    repo.git("init", "-q", "-b", main)
    if topo.shallow:  # a commit below the project's, for the shallow fetch to cut off
        repo.git("commit", "-q", "--allow-empty", "-m", "root")
        repo.git("tag", "root")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "project")
    # GitHub's "push an existing repository": the remote's HEAD is not set by this.
    repo.git("remote", "add", name, str(remote))
    repo.git("push", "-q", "-u", name, main)
    if topo.origin_head:
        repo.git("remote", "set-head", name, main)
    repo.add_chain("m", topo.main_before_cut)
    if topo.main_pushed == "cut":
        repo.git("push", "-q", name, main)
    repo.git("checkout", "-q", "-b", "feature")
    repo.add_chain("f", topo.feature)
    if topo.feature_pushed:
        to = name
        if topo.feature_to == "fork":
            to = "fork"
            fork = tmp / "fork.git"
            git(tmp, "clone", "-q", "--bare", str(remote), str(fork))
            repo.git("remote", "add", to, str(fork))
        repo.git("push", "-q", *(["-u"] if topo.upstream_set else []), to, "feature")
    repo.git("checkout", "-q", main)
    repo.add_chain("m", topo.main_after_cut, start=topo.main_before_cut + 1)
    if topo.main_pushed == "tip":
        repo.git("push", "-q", name, main)
    if topo.shallow:
        # As after `git clone --depth`: .git/shallow cuts the history, yet every commit the
        # merge needs is still there (the cut is below the project's first commit).
        repo.git("push", "-q", name, "root")
        repo.git("fetch", "-q", "--shallow-exclude=root", name)
        assert repo.git("rev-parse", "--is-shallow-repository").strip() == "true"
    return repo


def merged_in(topo: Topology) -> str:
    if topo.from_side == "main":
        return "feature"
    return f"{topo.remote}/{topo.default}" if topo.merge_remote else topo.default


def check_out(repo: Repo, topo: Topology) -> Repo:
    """Check out the side the merge is made from, as TOPO says; the repository to work in."""
    side = topo.default if topo.from_side == "main" else "feature"
    if topo.checkout == "branch":
        repo.git("checkout", "-q", side)
        return repo
    if topo.checkout == "detached":
        repo.git("checkout", "-q", "--detach", side)
        return repo
    # A linked worktree: the branch is checked out there (the main one moves off it).
    repo.git("checkout", "-q", "--detach")
    linked = Repo(repo.root.parent / "linked")
    repo.git("worktree", "add", "-q", str(linked.root), side)
    return linked


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(topo=topologies())
def test_no_settled_revision_ever_changes(topo: Topology) -> None:
    with tempfile.TemporaryDirectory(prefix="migfix-settled-") as scratch:
        repo = check_out(build(Path(scratch), topo), topo)
        other = merged_in(topo)
        if topo.via != "command":
            hook.install(repo.root, strategy=topo.strategy, interpreter=sys.executable)
        # What is published, by the rule, spelled out independently of migfix: every
        # revision file on any remote-tracking ref of any remote.
        settled = repo.published_files()
        assert settled  # the base is always pushed

        if topo.via == "squash":
            squashed = git_proc(repo.root, "merge", "--squash", other, env=repo.env)
            assert squashed.returncode == 0, squashed.stdout + squashed.stderr
            merged = git_proc(repo.root, "commit", "--allow-empty", "-m", "squash", env=repo.env)
        else:
            merged = git_proc(repo.root, "merge", "--no-edit", other, env=repo.env)
        assert merged.returncode == 0, merged.stdout + merged.stderr
        if topo.via != "command":
            said = merged.stderr
            fixed = "could not fix" not in said and "internal error" not in said
        else:
            args = ["merge"] if topo.strategy == "merge" else ["rebase", "--onto", other]
            before = repo.git("status", "--porcelain")
            ran = migfix_proc(repo.root, *args, env=repo.env)
            said = ran.stdout + ran.stderr
            assert ran.returncode in (0, 2), said
            assert "Traceback" not in said and "internal error" not in said, said
            fixed = ran.returncode == 0
            if not fixed:
                assert repo.git("status", "--porcelain") == before, said

        assert "internal error" not in said, said
        for name, data in settled.items():
            path = repo.versions / name
            assert path.is_file() and path.read_bytes() == data, (name, said)
        if fixed:
            assert not read_graph(find_project(repo.root)).unintended_heads(), said
        else:
            assert topo.via == "command" and topo.strategy == "rebase", said
            assert "is settled" in said or "are settled" in said, said
        for stray in repo.root.rglob("*.tmp"):
            pytest.fail(f"temp file left behind: {stray}")
