"""Remote-tracking branches: which remote and branch a ref names, whether it was fetched
before this branch's newest commit (so the remote may have moved), and fetching it. Every
git process starts through ``gitops``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from migfix.git import gitops

# A fetch this close before the branch's newest commit counts as current. Without a margin
# the note fired on the ordinary fetch-then-commit rhythm (and flipped with the second a
# commit landed in); with it, it names the fetch that is plainly older than the work.
FRESH_ENOUGH_S = 10 * 60


def remote_branch(repo_root: Path, ref: str) -> tuple[str, str] | None:
    """(remote, branch) when REF names a remote-tracking branch (``origin/main``), else None."""
    proc = gitops.run(repo_root, "rev-parse", "--symbolic-full-name", ref)
    full = gitops.out_line(proc.stdout) if proc.returncode == 0 else None
    if not full or not full.startswith("refs/remotes/"):
        return None
    rest = full[len("refs/remotes/") :]
    remotes = gitops.out_line(gitops.run(repo_root, "remote").stdout) or ""
    for remote in sorted(remotes.split(), key=len, reverse=True):
        if rest.startswith(remote + "/"):
            return remote, rest[len(remote) + 1 :]
    return None


def stale_remote_ref(repo_root: Path, ref: str) -> str | None:
    """A sentence when REF is a remote-tracking branch last fetched more than
    ``FRESH_ENOUGH_S`` before HEAD's newest commit was made (so the remote may well have
    moved since); None otherwise.

    The fetch time is the newest entry of the ref's own reflog (git writes one per fetch
    that moved it), else FETCH_HEAD's time."""
    import time

    found = remote_branch(repo_root, ref)
    if found is None:
        return None
    remote, _branch = found
    full = f"refs/remotes/{ref}" if not ref.startswith("refs/") else ref
    log = gitops.run(repo_root, "log", "-g", "-n1", "--date=unix", "--format=%gd", full, "--")
    line = gitops.out_line(log.stdout) if log.returncode == 0 else None
    fetched: float | None = None
    if line and "@{" in line:
        with contextlib.suppress(ValueError):
            fetched = float(line[line.index("@{") + 2 : line.rindex("}")])
    where = gitops.run(repo_root, "rev-parse", "--git-path", "FETCH_HEAD")
    fetch_head = repo_root / gitops.out_line(where.stdout)
    if where.returncode == 0 and fetch_head.is_file():
        fetched = max(fetched or 0.0, fetch_head.stat().st_mtime)
    newest = gitops.run(repo_root, "log", "-1", "--format=%ct", "HEAD")
    try:
        head_time = float(gitops.out_line(newest.stdout) or "")
    except ValueError:
        return None
    if fetched is None or fetched + FRESH_ENOUGH_S >= head_time:
        return None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(fetched))
    return (
        f"{ref} was last fetched {when}, before this branch's newest commit: {remote} may "
        f"have moved since. Run `git fetch {remote}` (or pass --fetch) to compare with it."
    )


def fetch_remote_ref(repo_root: Path, ref: str) -> bool:
    """``git fetch REMOTE BRANCH`` when REF is a remote-tracking branch; whether it was."""
    found = remote_branch(repo_root, ref)
    if found is None:
        return False
    remote, branch = found
    gitops.output(repo_root, "fetch", "-q", remote, branch)
    return True
