"""Telling, without starting git, that no revision can have moved in this clone.

Moves are found in two places (:func:`migfix.write.moves_seen.all_moves`): the journal of
moves, and HEAD's reflog, whose earlier states are compared with ``git cat-file`` and
``git diff``. Nothing can have moved when there is no journal and either HEAD never left
one commit, or the reflog's states are the ones an earlier scan found nothing in. For that,
each scan that finds nothing leaves a mark in the git dir: the tree of each versions folder
at each commit of the reflog (a fact about a commit, which never changes) and the sequence
of those trees it walked. The next reflog whose commits are all known and whose sequence is
the same cannot hold a move either; a new commit sends the caller to the scan once.

The standard library and :mod:`migfix.git.gitfiles` only: the env.py guard asks this inside
every ``alembic upgrade``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migfix.git.gitfiles import GitDirs, ReflogEntry, Unusual, head_reflog

JOURNAL = "migfix-moves.jsonl"
"""The journal of moves (see :mod:`migfix.write.moves`), in the git common dir beside txn's
state folder (``migfix``), which is empty when no write is under way."""
REFLOG_LIMIT = 300
"""How many of HEAD's newest reflog entries the scan compares."""
_MARK = "migfix-reflog-seen.json"
"""In this worktree's git dir, beside the HEAD whose reflog it describes."""

Key = tuple[str, ...]
"""What ``git cat-file --batch-check`` says of each versions folder at one commit."""


def rel(repo: Path, path: Path) -> str:
    """PATH as the scan names it to git: relative to the work tree REPO, POSIX form."""
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix() or "."
    except ValueError:
        return path.as_posix()


def nothing_moved(dirs: GitDirs, under: Sequence[Path]) -> bool:
    """True when neither the journal nor HEAD's reflog can hold a move of a revision under
    UNDER; False when this cannot be told without git (then ask ``all_moves``)."""
    if (dirs.common_dir / JOURNAL).exists():
        return False
    try:
        states = head_reflog(dirs, REFLOG_LIMIT)
    except Unusual:
        return False
    if len({s.commit for s in states}) < 2:
        return True  # a fresh clone, or only upgrades since: one state, nothing to compare
    import json  # see moves._entry: most runs stop above, without reading JSON

    try:
        mark = json.loads((dirs.git_dir / _MARK).read_text(encoding="utf-8"))
        if mark["specs"] != [rel(dirs.work_tree, p) for p in under]:
            return False
        keys = mark["keys"]
        seen = [tuple(keys[s.commit]) for s in states]
        return _walked(seen) == [tuple(k) for k in mark["walked"]]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no mark, another scan's, or not ours to read: ask git


def _walked(keys: Sequence[Key]) -> list[Key]:
    """The states the scan compares: each run of equal keys once."""
    out: list[Key] = []
    for key in keys:
        if not out or out[-1] != key:
            out.append(key)
    return out


def mark(
    dirs: GitDirs, specs: Sequence[str], states: Sequence[ReflogEntry], keys: Sequence[Key]
) -> tuple[Path, bytes]:
    """Where and what to write after a scan of STATES (their KEYS) found no move."""
    import json  # see nothing_moved

    data = {
        "specs": list(specs),
        "keys": {s.commit: list(k) for s, k in zip(states, keys, strict=True)},
        "walked": [list(k) for k in _walked(keys)],
    }
    return dirs.git_dir / _MARK, json.dumps(data).encode()
