"""Moves seen in git: revisions whose ``down_revision`` changed between two commits, in a
merge's diff (what the hook sees arrive) or along the reflog (a clone where no migfix hook
ever ran records nothing in the journal of moves, :mod:`migfix.write.moves`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from migfix.git.gitfiles import ReflogEntry, Unusual, locate
from migfix.git.gitops import run
from migfix.git.history import head_reflog
from migfix.read.gittree import cat_blobs
from migfix.read.revision_file import Unknown
from migfix.read.scan import scan_file
from migfix.write import nomove
from migfix.write.fileio import atomic_write
from migfix.write.moves import _NULL_SHA, Move, ReflogPoint, Synced, read
from migfix.write.nomove import rel

if TYPE_CHECKING:  # a signature only
    from migfix.git.history import TreeDiff


def _diff(repo: Path, old: str, new: str, specs: Sequence[str]) -> list[tuple[str, str, str]]:
    """(path, old blob, new blob) of each revision file that differs between OLD and NEW."""
    proc = run(repo, "diff", "--raw", "-z", "--no-renames", "--no-abbrev", old, new, "--", *specs)
    if proc.returncode != 0:
        return []
    parts = proc.stdout.split(b"\0")
    out: list[tuple[str, str, str]] = []
    for i in range(0, len(parts) - 1, 2):
        meta = parts[i].decode().split()
        path = os.fsdecode(parts[i + 1])
        if len(meta) >= 4 and path.endswith(".py"):
            out.append((path, meta[2], meta[3]))
    return out


def _parents_of(
    repo: Path, entries: Sequence[tuple[str, str]], blobs: dict[str, bytes]
) -> dict[str, tuple[str, ...]]:
    """revision -> down_revisions of the files (path, blob) ENTRIES, read statically from
    BLOBS."""

    out: dict[str, tuple[str, ...]] = {}
    for path, blob in entries:
        data = blobs.get(blob)
        if data is None:
            continue
        f = scan_file(repo / PurePosixPath(path), data)
        if f.revision and not isinstance(f.down_revision.value, Unknown):
            out[f.revision] = f.down_revisions
    return out


class _Tracker:
    """Parents of each revision as last seen along a walk through commits."""

    def __init__(self, repo: Path, specs: Sequence[str]) -> None:
        self.repo = repo
        self.specs = specs
        self.last: dict[str, tuple[str, ...]] = {}

    def step(self, old: str, new: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        return self.compare(_diff(self.repo, old, new, self.specs))

    def compare(
        self, changed: Sequence[tuple[str, str, str]]
    ) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """The moves among CHANGED: (path, old blob, new blob) of revision files."""
        if not changed:
            return []
        # Both sides' blobs in one `git cat-file`.
        wanted = {b for _, o, n in changed for b in (o, n) if b != _NULL_SHA}
        blobs = cat_blobs(self.repo, sorted(wanted))
        before = _parents_of(self.repo, [(p, o) for p, o, _ in changed], blobs)
        after = _parents_of(self.repo, [(p, n) for p, _, n in changed], blobs)
        for rev, down in before.items():
            self.last.setdefault(rev, down)
        moved = []
        for rev, down in after.items():
            seen = self.last.get(rev)
            if seen is not None and seen != down:
                moved.append((rev, seen, down))
            self.last[rev] = down
        return moved


def moves_between(
    repo: Path, old: str, new: str, under: Sequence[Path]
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Revisions declared both in commit OLD and in commit NEW, with other parents in NEW."""
    if not under or _NULL_SHA in (old, new):
        return []
    return _Tracker(repo, [rel(repo, p) for p in under]).step(old, new)


def moves_in(
    repo: Path, diff: TreeDiff, under: Sequence[Path]
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Same as :func:`moves_between` for DIFF's two commits, from the diff already running
    (the hook's, which also told it which files changed), so no second ``git diff``."""
    if not under or _NULL_SHA in (diff.old, diff.new):
        return []
    specs = [rel(repo, p) for p in under]
    if any(PurePosixPath(spec).is_absolute() for spec in specs):
        return []  # `git diff -- <a path outside the work tree>` fails: as moves_between
    entries = diff.raw()
    if entries is None:
        return []
    changed = [
        (path, o, n)
        for path, o, n in entries
        if path.endswith(".py")
        and any(spec == "." or path == spec or path.startswith(f"{spec}/") for spec in specs)
    ]
    if all(o == _NULL_SHA for _, o, _ in changed):
        # Only added files (a pull that brought new revisions, the usual case): nothing
        # was declared before, so nothing moved, and no file needs reading.
        return []
    return _Tracker(repo, specs).compare(changed)


def reflog_moves(
    repo: Path, under: Sequence[Path], *, limit: int = nomove.REFLOG_LIMIT
) -> list[Move]:
    """Moves found in HEAD's reflog: a revision's parents in HEAD's earlier states.

    Covers a teammate who pulled a branch that was rebased and force-pushed while no hook was
    installed. Only states whose versions folders differ are compared (one ``cat-file`` call
    tells them apart), so a long reflog costs little. A scan that finds nothing leaves its
    mark (:mod:`migfix.write.nomove`), so that the next one need not start git at all.
    """
    return _reflog_moves(repo, under, head_reflog(repo, limit))


def _reflog_moves(repo: Path, under: Sequence[Path], states: Sequence[ReflogEntry]) -> list[Move]:
    """:func:`reflog_moves` along STATES, each move placed at its state's index there."""
    specs = [rel(repo, p) for p in under]
    if len(states) < 2 or not specs:
        return []
    query = "".join(f"{s.commit}:{spec}\n" for s in states for spec in specs)
    check = run(repo, "cat-file", "--batch-check", stdin=query.encode())
    trees = check.stdout.decode().splitlines()
    keys = [tuple(trees[i * len(specs) : (i + 1) * len(specs)]) for i in range(len(states))]
    tracker = _Tracker(repo, specs)
    found: list[Move] = []
    prev = 0
    for i in range(1, len(states)):
        if keys[i] == keys[prev]:
            continue
        state = states[i]
        what = state.subject.split(":", 1)[0].strip() or "git"
        for rev, old, new in tracker.step(states[prev].commit, state.commit):
            by = f"git {what} (seen in the reflog)"
            found.append(Move(rev, old, new, state.when, by, entry=i))
        prev = i
    if not found and check.returncode == 0 and len(trees) == len(states) * len(specs):
        _leave_mark(repo, specs, states, keys)
    return found


def _leave_mark(
    repo: Path, specs: list[str], states: Sequence[ReflogEntry], keys: list[tuple[str, ...]]
) -> None:
    try:
        dirs = locate(repo)
        if dirs is not None:
            atomic_write(*nomove.mark(dirs, specs, states, keys))
    except (Unusual, OSError):
        pass  # a read-only git dir: the next scan starts git again, nothing worse


class Seen(NamedTuple):
    moves: list[Move]
    """The journal's moves and the reflog's, each move once (the earliest sighting), by time."""
    syncs: list[Synced]
    """The journal's syncs, oldest first, each placed in HEAD's reflog where it still can be."""
    reflog: ReflogPoint | None
    """Where HEAD's reflog stands: what a sync acting on these moves records."""


def all_moves(repo: Path | None, under: Sequence[Path]) -> Seen:
    """Every move and sync known, placed so that :func:`migfix.write.moves.order` can tell
    which moves came after which sync by position."""
    if repo is None:
        return Seen([], [], None)
    journal, syncs = read(repo)
    states = head_reflog(repo, nomove.REFLOG_LIMIT)
    seen: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Move] = {}
    for m in [*journal, *_reflog_moves(repo, under, states)]:
        key = (m.revision, m.old, m.new)
        if key not in seen or m.when < seen[key].when:
            seen[key] = m
    moves = sorted(seen.values(), key=lambda m: m.when)
    head = _head_name(repo)
    if head is None or not states:
        return Seen(moves, syncs, None)
    placed = [s._replace(entry=_find(s.reflog, head, states)) for s in syncs]
    newest = states[-1]
    return Seen(moves, placed, ReflogPoint(head, newest.commit, newest.when, newest.subject))


def _find(point: ReflogPoint | None, head: str, states: Sequence[ReflogEntry]) -> int | None:
    """POINT's index among STATES (this worktree's reflog entries, oldest first); None when it
    is another worktree's, expired, beyond the entries read, or not told apart from a twin."""
    if point is None or point.head != head:
        return None
    at = [
        i
        for i, s in enumerate(states)
        if (s.commit, s.when, s.subject) == (point.commit, point.when, point.subject)
    ]
    return at[0] if len(at) == 1 else None


def _head_name(repo: Path) -> str | None:
    """Which worktree's HEAD REPO's reflog is: its git dir relative to the common dir (``.``
    for the main worktree); None when git's files are not laid out plainly."""
    try:
        dirs = locate(repo)
    except Unusual:
        return None
    if dirs is None:
        return None
    git_dir, common = dirs.git_dir.resolve(), dirs.common_dir.resolve()
    if git_dir == common:
        return "."
    try:
        return git_dir.relative_to(common).as_posix()
    except ValueError:
        return None
