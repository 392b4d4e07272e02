"""Commits and branches migfix makes itself: the hook's commit of its own fix
(:func:`commit_paths`), and what ``migfix ci fix`` does (fetch the base, merge it, commit,
push with a lease). Every git process starts through ``gitops``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from migfix.errors import GitError
from migfix.git import gitops, worktree

# -- CI: bring the base branch in, commit the fix, push it back (``migfix ci fix``) --------------

# Our own commits and merges in CI run none of the repository's hooks (migfix's included:
# ci fix does the hook's work itself, once, and says so).
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
# Who ci fix's merge and commit are made as when the job configured nobody.
BOT_NAME = "migfix"
BOT_EMAIL = "migfix@users.noreply.github.com"


def _identity(repo_root: Path) -> tuple[str, ...]:
    """``-c`` options that make migfix's bot the author and committer, unless the job set an
    identity (``user.name``/``user.email`` or ``GIT_COMMITTER_*``). An identity git would
    only guess from the host and the user name (``root@runner-7.internal``) is not one the
    job chose, so ``user.useConfigOnly`` keeps git from guessing."""
    configured = gitops.run(
        repo_root, "-c", "user.useConfigOnly=true", "var", "GIT_COMMITTER_IDENT"
    )
    if configured.returncode == 0:
        return ()
    return ("-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}")


def current_branch(repo_root: Path) -> str | None:
    """The checked-out branch's short name, or None on a detached HEAD (as CI checks out)."""
    proc = gitops.run(repo_root, "symbolic-ref", "--quiet", "--short", "HEAD")
    return gitops.out_line(proc.stdout) if proc.returncode == 0 else None


def fetch_branch(repo_root: Path, remote: str, branch: str) -> None:
    """Fetch REMOTE's BRANCH into ``refs/remotes/REMOTE/BRANCH``, with the whole history when
    this is a shallow clone (a merge needs the commit both sides share)."""
    deepen = ("--unshallow",) if gitops.is_shallow(repo_root) else ()
    gitops.output(
        repo_root,
        "fetch",
        "--quiet",
        "--no-tags",
        *deepen,
        remote,
        f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
    )


def merge_base(repo_root: Path, a: str, b: str) -> str | None:
    proc = gitops.run(repo_root, "merge-base", a, b)
    return gitops.out_line(proc.stdout) if proc.returncode == 0 else None


def blob_at(repo_root: Path, rev: str, path: Path) -> bytes | None:
    """PATH's content in commit REV, or None when REV has no such file."""
    proc = gitops.run(repo_root, "cat-file", "blob", f"{rev}:{gitops.relative(repo_root, path)}")
    return proc.stdout if proc.returncode == 0 else None


def start_merge(repo_root: Path, ref: str) -> list[Path]:
    """``git merge --no-commit --no-ff REF``; returns the files left in conflict (the merge
    stays in progress either way, for :func:`commit` or :func:`abort_merge`)."""
    if gitops.looks_like_option(ref):
        raise gitops.unknown_revision(repo_root, ref)
    # git wants an identity before it merges, though nothing is committed yet.
    proc = gitops.run(
        repo_root,
        *_NO_HOOKS,
        *_identity(repo_root),
        "merge",
        "--quiet",
        "--no-commit",
        "--no-ff",
        ref,
    )
    conflicted = worktree.conflicted_paths(repo_root, [repo_root])
    if proc.returncode != 0 and not conflicted:
        raise GitError(
            f"`git merge {ref}` failed in {repo_root} (exit {proc.returncode}): "
            f"{gitops.stderr_text(proc) or 'no message'}. Run it yourself to see what git needs."
        )
    return sorted(conflicted)


def abort_merge(repo_root: Path) -> None:
    gitops.run(repo_root, "merge", "--abort")


def take_theirs(repo_root: Path, path: Path) -> None:
    """Resolve a conflicted PATH with the side being merged in."""
    spec = gitops.relative(repo_root, path)
    gitops.output(repo_root, "checkout", "--theirs", "--", spec)
    gitops.output(repo_root, "add", "--", spec)


def commit(repo_root: Path, paths: Sequence[Path], message: str) -> str:
    """Stage PATHS (written or deleted) and commit the index (a merge in progress becomes a
    merge commit); returns the new commit's sha. Without a configured identity, the commit
    is made as migfix's bot."""
    if paths:
        gitops.output(repo_root, "add", "--all", "--", *gitops.pathspecs(repo_root, paths))
    gitops.output(
        repo_root,
        *_NO_HOOKS,
        *_identity(repo_root),
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        message,
    )
    return gitops.resolve_ref(repo_root, "HEAD")


def binary_diff(repo_root: Path, old: str, new: str) -> bytes:
    """The patch from commit OLD to NEW, as ``git apply`` takes it (binary files too)."""
    return gitops.output(repo_root, "diff", "--binary", "--no-renames", old, new)


def push_with_lease(repo_root: Path, remote: str, branch: str, expected: str) -> str | None:
    """Push HEAD to REMOTE's BRANCH only if that branch is still at EXPECTED (``git push
    --force-with-lease``): a push made meanwhile is never overwritten. Returns None when
    pushed, else git's message."""
    proc = gitops.run(
        repo_root,
        *_NO_HOOKS,
        "push",
        "--quiet",
        f"--force-with-lease=refs/heads/{branch}:{expected}",
        remote,
        f"HEAD:refs/heads/{branch}",
    )
    return None if proc.returncode == 0 else (gitops.stderr_text(proc) or f"exit {proc.returncode}")


def remote_branch_sha(repo_root: Path, remote: str, branch: str) -> str | None:
    """Where REMOTE's BRANCH is now (asked of the server), or None when git cannot tell."""
    proc = gitops.run(repo_root, "ls-remote", "--heads", remote, f"refs/heads/{branch}")
    if proc.returncode != 0:
        return None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        sha, _, name = line.partition("\t")
        if name == f"refs/heads/{branch}":
            return sha
    return None


def commit_paths(repo_root: Path, paths: Sequence[Path], message: str) -> None:
    """Commit PATHS on top of HEAD, and nothing else.

    Not ``git commit``: post-merge runs while MERGE_HEAD still exists, where ``git commit --
    PATHS`` refuses ("cannot do a partial commit during a merge") and a plain commit would
    record a second merge. The commit is built from HEAD's tree plus PATHS in a scratch index,
    so nothing else the user staged is swept in; then the real index takes PATHS too.
    """
    import tempfile

    rel = [str(p) for p in paths]

    def git(*args: str, index: str | None = None) -> str:
        return gitops.output(repo_root, *args, index=index).decode().strip()

    with tempfile.TemporaryDirectory(prefix="migfix-index-") as scratch:
        index = os.path.join(scratch, "index")
        head = git("rev-parse", "--verify", "HEAD")
        git("read-tree", head, index=index)
        git("add", "--", *rel, index=index)
        tree = git("write-tree", index=index)
        sha = git("commit-tree", tree, "-p", head, "-m", message)
    git("update-ref", "-m", f"migfix: {message}", "HEAD", sha, head)
    git("add", "--", *rel)
