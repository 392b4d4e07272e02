"""Tiny helpers for tests that drive real git repositories in ``tmp_path``.

Import as ``from gitutil import git, make_repo, commit_all`` (pytest puts ``tests/`` on
``sys.path``). Every git call runs with a fixed identity and without the developer's global or
system config, so a personal ``commit.gpgsign`` or ``core.hooksPath`` cannot change a test.
When code under test runs git itself, the test uses conftest's ``git_env`` fixture.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    # `git clone --depth` over file:// and `git worktree` must not depend on a user's config,
    # and merges must never open an editor.
    "GIT_EDITOR": "true",
    "GIT_MERGE_AUTOEDIT": "no",
    "LC_ALL": "C",
}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``git ARGS`` in CWD and return stdout without its trailing newline.

    Raises AssertionError (with git's stderr) when git fails; use :func:`git_proc` when the
    exit code or stderr is what the test checks. ENV adds to (or overrides) GIT_ENV.
    """
    proc = git_proc(cwd, *args, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout.rstrip("\n")


def git_proc(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``git ARGS`` in CWD and return the finished process (never raises on exit code)."""
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False
    )


def make_repo(path: Path) -> Path:
    """Create an empty repository at PATH on branch ``main``; return PATH."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    return path


def write(path: Path, text: str) -> Path:
    """Write TEXT to PATH, creating parent directories; return PATH."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def commit_all(path: Path, message: str, *, date: str | None = None) -> str:
    """Stage everything in the work tree at PATH, commit it, and return the new commit's sha.

    DATE (e.g. ``"2020-01-01T00:00:00+00:00"``) sets both author and committer dates, for tests
    that depend on commit times.
    """
    git(path, "add", "-A")
    dates = {} if date is None else {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git(path, "commit", "-q", "--no-verify", "-m", message, env=dates)
    return git(path, "rev-parse", "HEAD")
