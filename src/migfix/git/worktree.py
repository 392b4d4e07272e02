"""The state of the work tree and index: uncommitted and conflicted files (and whether a
conflict's content is settled, waiting only for ``git add``), and a git operation stopped
half-way. Every git process starts through ``gitops``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from migfix.git.gitops import from_git_path, out_line, output, pathspecs


def uncommitted_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """Files under UNDER whose state differs from HEAD, plus untracked (not ignored) files.

    That is: modified (staged or not), added, deleted, both sides of a rename, unmerged, and
    untracked. Deleted paths are included so that a "nothing uncommitted" check really means
    the directories match HEAD; callers looking up files on disk simply will not meet them.
    """
    if not under:
        return set()
    out = _status(repo_root, under)
    paths: set[Path] = set()
    entries = iter(out.split(b"\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        paths.add(from_git_path(repo_root, path))
        if b"R" in status or b"C" in status:
            # -z prints a rename as "XY new NUL old": the next entry is the source path.
            source = next(entries, b"")
            if b"R" in status and source:
                paths.add(from_git_path(repo_root, source))
    return paths


def added_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """Files under UNDER that HEAD does not have: untracked (not ignored) or added."""
    if not under:
        return set()
    return {
        from_git_path(repo_root, entry[3:])
        for entry in _status(repo_root, under, "--no-renames").split(b"\0")
        if entry[:2] == b"??" or entry[:1] == b"A"
    }


def _status(repo_root: Path, under: Sequence[Path], *flags: str) -> bytes:
    """``git status --porcelain -z`` of every file under UNDER, untracked ones listed one by
    one (the entries are ``XY path``)."""
    return output(
        repo_root,
        "--literal-pathspecs",
        "status",
        "--porcelain",
        "-z",
        "--untracked-files=all",
        *flags,
        "--",
        *pathspecs(repo_root, under),
    )


def conflicted_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """Files under UNDER with unmerged index entries (an unresolved merge conflict)."""
    return set(_unmerged(repo_root, under))


def unresolved_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """The conflicted files under UNDER that still need the user's decision: conflict markers
    are left in them, or one side deleted the file (keep or delete is not migfix's call)."""
    return {p for p, stages in _unmerged(repo_root, under).items() if not _settled(p, stages)}


def _unmerged(repo_root: Path, under: Sequence[Path]) -> dict[Path, set[bytes]]:
    """Each file under UNDER with unmerged index entries, and the stages git holds for it."""
    if not under:
        return {}
    out = output(
        repo_root,
        "--literal-pathspecs",
        "ls-files",
        "--unmerged",
        "-z",
        "--",
        *pathspecs(repo_root, under),
    )
    # Each entry is "mode sha stage<TAB>path"; a conflicted file has one entry per stage
    # (1 the common ancestor's, 2 ours, 3 theirs).
    found: dict[Path, set[bytes]] = {}
    for entry in out.split(b"\0"):
        if b"\t" in entry:
            head, path = entry.split(b"\t", 1)
            found.setdefault(from_git_path(repo_root, path), set()).add(head[-1:])
    return found


# A line git's merge writes around each conflicting hunk (the default marker size, 7).
_MARKER = re.compile(rb"^(?:<{7}|>{7})(?: |\r?$)", re.M)


def _settled(path: Path, stages: set[bytes]) -> bool:
    """Whether the content of conflicted PATH is resolved, with only `git add` left to do:
    both sides have the file and no conflict marker is left in it."""
    if not {b"2", b"3"} <= stages:
        return False
    try:
        return _MARKER.search(path.read_bytes()) is None
    except OSError:
        return False


def mark_resolved(repo_root: Path | None, written: Sequence[Path]) -> list[Path]:
    """``git add`` exactly those of WRITTEN that git lists as conflicted; return them.

    migfix wrote their final content (a heads lock, a revision file), so the conflict is
    resolved; left unmerged, git would keep listing them (UU) and refuse to commit.
    Nothing else is staged, nor a file that still holds a conflict marker or that one side
    deleted."""
    if repo_root is None or not written:
        return []
    unmerged = _unmerged(repo_root, written)
    conflicted = sorted(p for p, stages in unmerged.items() if _settled(p, stages))
    if conflicted:
        output(repo_root, "--literal-pathspecs", "add", "--", *pathspecs(repo_root, conflicted))
    return conflicted


def operation_in_progress(repo_root: Path) -> str | None:
    """'rebase', 'am', 'merge', 'cherry-pick' or 'revert' when one is stopped half-way.

    Looks in this worktree's own git dir, where git keeps that state for linked worktrees too.
    ``git am`` shares ``rebase-apply/`` with old-style rebases and is told apart by the
    ``applying`` marker git writes there.
    """
    git_dir = Path(out_line(output(repo_root, "rev-parse", "--absolute-git-dir")))
    if (git_dir / "rebase-merge").is_dir():
        return "rebase"
    if (git_dir / "rebase-apply").is_dir():
        return "am" if (git_dir / "rebase-apply" / "applying").exists() else "rebase"
    for marker, name in (
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ):
        if (git_dir / marker).exists():
            return name
    return None


def picks_left(repo_root: Path) -> int:
    """How many picks a running ``git cherry-pick A B ...`` makes after the one being committed.

    0 for a single pick (git keeps no sequencer state for it) and for the last one. Read from
    the sequencer's todo list, where git keeps the pick being made as the first line until
    the next one starts (git 2.x).
    """
    git_dir = Path(out_line(output(repo_root, "rev-parse", "--absolute-git-dir")))
    try:
        todo = (git_dir / "sequencer" / "todo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    picks = [ln for ln in todo.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return max(0, len(picks) - 1)
