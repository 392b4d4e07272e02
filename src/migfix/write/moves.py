"""The journal of moves: which revision's ``down_revision`` changed, when, and by what.

Alembic records only a database's heads, so a database that ran R on A cannot tell that R
now sits on S2 and that S1 and S2 never ran there (see :mod:`migfix.db.sync`). This module
remembers every move, in ``<git common dir>/migfix-moves.jsonl`` (one JSON object a line,
shared by every worktree of the clone, never committed):

* ``{"kind": "move", "revision", "old", "new", "when", "by"}`` for every rewrite migfix makes
  (``merge``, ``rebase``, the hook) and for every move the hook sees arrive with a pull,
  merge, rebase or checkout (the same revision id declared with other parents before and
  after);
* ``{"kind": "synced", "database", "when", "ran", "complete", "reflog"}`` when ``migfix db
  sync`` brought a database in step (or ran part of the way on a database without
  transactional DDL). ``reflog`` (absent in records written before it existed) is where HEAD's
  reflog stood when the sync read it: ``{"head", "commit", "when", "subject"}`` of its newest
  entry, ``head`` naming the worktree (see :class:`ReflogPoint`).

Which moves came after a sync is told by position (:func:`order`), not by clock: the reflog's
times are whole seconds, a sync's are not, so by time a rebase in the second after a sync
looked synced.

Moves that happened without the hook (not installed yet) are found again in HEAD's reflog:
:func:`reflog_moves` reads the revision files of HEAD's earlier states.

Plain subprocess and the static reader only: the hook calls this after every pull that
touched a versions folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from migfix.git.gitfiles import Unusual, locate
from migfix.git.gitops import remembered
from migfix.write.nomove import JOURNAL

ADVICE = "`migfix db sync` brings a database that ran them in step"
_NULL_SHA = "0" * 40


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Move(NamedTuple):
    revision: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    when: float
    """Unix time."""
    by: str
    """What moved it: ``migfix merge``, ``migfix rebase``, ``git pull (post-merge hook)``..."""
    line: int = 0
    """Its line in the journal (from 1); 0 when seen in the reflog or not read from a file."""
    entry: int | None = None
    """The index of the reflog entry it was seen at, among HEAD's reflog entries as read now;
    None when it comes from the journal."""

    def to_json(self) -> dict[str, object]:
        return {
            "kind": "move",
            "revision": self.revision,
            "old": list(self.old),
            "new": list(self.new),
            "when": self.when,
            "by": self.by,
        }


class ReflogPoint(NamedTuple):
    """Where HEAD's reflog of one worktree stood: its newest entry, as git wrote it.

    An entry, not a line number or a size: ``git reflog expire`` drops old lines, and what
    is left still holds the entry as long as it matters."""

    head: str
    """Whose HEAD: this worktree's git dir relative to the common dir (``.`` for the main
    one). Another worktree's reflog is another sequence: no position there compares."""
    commit: str
    when: float
    """Whole seconds, as git wrote them."""
    subject: str

    def to_json(self) -> dict[str, object]:
        return dict(self._asdict())


class Synced(NamedTuple):
    database: str
    """The database's identity (see ``migfix.db.connect.database_key``), never with a password."""
    when: float
    ran: tuple[str, ...]
    complete: bool
    reflog: ReflogPoint | None = None
    """Where HEAD's reflog stood when the sync read the moves; None in older records."""
    line: int = 0
    """Its line in the journal (from 1); 0 when not read from one."""
    entry: int | None = None
    """The index of ``reflog`` among HEAD's reflog entries as read now
    (:func:`migfix.write.moves_seen.all_moves`); None when it is not found there."""


def ids(revs: Sequence[str]) -> str:
    return ", ".join(revs) if revs else "<base>"


def advice(moved: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> str:
    """The one line printed when revisions moved: which, and what to do about databases."""
    shown = "; ".join(f"{r} ({ids(old)} -> {ids(new)})" for r, old, new in moved[:5])
    more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
    return f"moved {shown}{more}: {ADVICE}."


# -- where the journal lives ---------------------------------------------------------------


def journal_path(repo: Path) -> Path | None:
    """``<git common dir>/migfix-moves.jsonl``: one journal for every worktree of a clone.

    Read from git's files where they are plainly laid out (no process), else asked of git."""
    try:
        dirs = locate(repo)
    except Unusual:
        dirs = None
    if dirs is not None:
        return dirs.common_dir.resolve().joinpath(JOURNAL)
    proc = remembered(repo, "rev-parse", "--git-common-dir")
    if proc.returncode != 0:
        return None
    common = Path(os.fsdecode(proc.stdout.rstrip(b"\n")))
    return (repo / common).resolve().joinpath(JOURNAL)


def _append(repo: Path, entries: Sequence[dict[str, object]]) -> bool:
    path = journal_path(repo)
    if path is None or not entries:
        return False
    return append(Record(path, _lines(entries), ()))


def read(repo: Path) -> tuple[list[Move], list[Synced]]:
    """Every move and sync in the journal, oldest first; lines that do not fit are left out
    (:func:`read_all` names them)."""
    moves, syncs, _faults = read_all(repo)
    return moves, syncs


def read_all(repo: Path) -> tuple[list[Move], list[Synced], list[str]]:
    """Every move and sync in the journal, oldest first, and one ``line N: why`` for each
    line that does not fit its schema. Such a line is never used: a string read as a list
    of parents (``"a0"`` as ``a``, ``0``) would plan revisions that do not exist."""
    path = journal_path(repo)
    moves: list[Move] = []
    syncs: list[Synced] = []
    faults: list[str] = []
    if path is None:
        return moves, syncs, faults
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return moves, syncs, faults
    except (OSError, UnicodeDecodeError) as exc:
        return moves, syncs, [f"unreadable ({exc})"]
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = _entry(line)
        except ValueError as exc:
            faults.append(f"line {number}: {exc}")
            continue
        if isinstance(entry, Move):
            moves.append(entry._replace(line=number))
        else:
            syncs.append(entry._replace(line=number))
    return moves, syncs, faults


def _entry(line: str) -> Move | Synced:
    """One journal line, checked field by field against its schema (ValueError says why)."""
    # Here, not at the top: the hook's no-op path imports this module and finds no journal
    # in most clones; json was 5.6M instructions of that path's start (callgrind).
    import json

    try:
        e = json.loads(line)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(e, dict):
        raise ValueError("not a JSON object")
    kind = e.get("kind")
    if kind == "move":
        return Move(_text(e, "revision"), _ids(e, "old"), _ids(e, "new"), _time(e), _text(e, "by"))
    if kind == "synced":
        return _synced(e)
    raise ValueError(f'"kind" is {json.dumps(kind)}, not "move" or "synced"')


def _synced(e: dict[str, object]) -> Synced:
    complete = e.get("complete", True)
    if not isinstance(complete, bool):
        raise ValueError('"complete" is not true or false')
    ran = _ids(e, "ran") if "ran" in e else ()
    reflog = _point(e["reflog"]) if "reflog" in e else None
    return Synced(_text(e, "database"), _time(e), ran, complete, reflog)


def _point(value: object) -> ReflogPoint:
    if not isinstance(value, dict):
        raise ValueError('"reflog" is not a JSON object')
    head, commit, subject = value.get("head"), value.get("commit"), value.get("subject")
    if not isinstance(head, str) or not head:
        raise ValueError('"reflog"."head" is not a non-empty string')
    if not isinstance(commit, str) or len(commit) < 40 or commit.strip("0123456789abcdef"):
        raise ValueError('"reflog"."commit" is not a commit id')
    if not isinstance(subject, str):
        raise ValueError('"reflog"."subject" is not a string')
    try:
        when = _time(value)
    except ValueError:
        raise ValueError('"reflog"."when" is not a number (seconds since 1970)') from None
    return ReflogPoint(head, commit, when, subject)


def _text(e: dict[str, object], name: str) -> str:
    value = e.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f'"{name}" is not a non-empty string')
    return value


def _ids(e: dict[str, object], name: str) -> tuple[str, ...]:
    value = e.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f'"{name}" is not a list of revision ids')
    return tuple(value)


def _time(e: dict[str, object]) -> float:
    value = e.get("when")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError('"when" is not a number (seconds since 1970)')
    return float(value)


class Record(NamedTuple):
    """Moves to append to the journal at PATH, as the exact bytes DATA.

    A merge or rebase appends them inside the transaction that writes the moved files
    (:func:`migfix.write.txn.write_changes`), so the files and their record land together or
    not at all: files without their record made ``db status`` say "in step" for a database
    that never ran the revisions now below them."""

    path: Path
    data: bytes
    moves: tuple[Move, ...]


def planned(
    repo: Path | None,
    moved: Iterable[tuple[str, Sequence[str], Sequence[str]]],
    by: str,
) -> Record | None:
    """The record of MOVED (revision, old parents, new parents), to append with the files
    that move them; None when there is nothing new to record or no journal.

    A move identical to the last one recorded for the same revision is the same event seen
    twice (post-checkout and post-rewrite both fire during ``git pull --rebase``).
    """
    wanted = [(r, tuple(o), tuple(n)) for r, o, n in moved if tuple(o) != tuple(n)]
    if repo is None or not wanted:
        return None
    path = journal_path(repo)
    if path is None:
        return None
    last: dict[str, Move] = {}
    for m in read(repo)[0]:
        last[m.revision] = m
    now = _now()
    fresh: list[Move] = []
    for r, o, n in wanted:
        prev = last.get(r)
        if prev is not None and (prev.old, prev.new) == (o, n):
            continue
        fresh.append(Move(r, o, n, now, by))
    if not fresh:
        return None
    return Record(path, _lines([m.to_json() for m in fresh]), tuple(fresh))


def record(
    repo: Path | None,
    moved: Iterable[tuple[str, Sequence[str], Sequence[str]]],
    by: str,
) -> list[Move]:
    """Append MOVED now, outside any transaction (the hook's sightings of moves that git
    made); return what was new."""
    planned_record = planned(repo, moved, by)
    if planned_record is None:
        return []
    append(planned_record)
    return list(planned_record.moves)


def append(record: Record) -> bool:
    """Append RECORD's lines; False (and nothing else) when the journal cannot be written."""
    # merge, rebase and db sync append under the writer lock (txn); the hook's sightings do
    # not need it: one O_APPEND write of whole lines never interleaves with another.
    try:
        record.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(record.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, record.data)
            os.fsync(fd)  # before the transaction's commit point, as its files are
        finally:
            os.close(fd)
    except OSError:
        # The journal is a help, not the work: a merge or rebase that wrote its files must
        # not fail over it (the reflog still shows the move once it is committed).
        return False
    return True


def unappend(path: Path, data: bytes) -> None:
    """Take DATA (lines :func:`append` wrote, unique by their time stamp) out of the journal
    at PATH again: an undone transaction leaves no record of the moves it undid."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return
    at = text.rfind(data)
    if at < 0:
        return  # never appended (killed before, or the journal was not writable)
    if at + len(data) == len(text):
        os.truncate(path, at)  # the usual case: they are still the last lines
        return
    # A sighting by the hook came after them: keep it, write the rest in place of the file.
    draft = path.with_name(path.name + ".tmp")
    draft.write_bytes(text[:at] + text[at + len(data) :])
    os.replace(draft, path)


def _now() -> float:
    """The time a record carries: ``time.time()``, or ``MIGFIX_TEST_NOW`` (a hidden test
    hook, as ``MIGFIX_TEST_STARTED`` in procexit) so that a test can put a sync in the very
    second of a reflog entry."""
    fixed = os.environ.get("MIGFIX_TEST_NOW")
    return float(fixed) if fixed else time.time()


def _lines(entries: Sequence[dict[str, object]]) -> bytes:
    import json  # see _entry

    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries).encode("utf-8")


def record_synced(
    repo: Path | None,
    database: str,
    ran: Sequence[str],
    complete: bool,
    reflog: ReflogPoint | None,
) -> None:
    """Record a sync of DATABASE; REFLOG is where HEAD's reflog stood when the sync read the
    moves it acted on (not now: a rebase while it ran is not one it settled)."""
    if repo is None:
        return
    entry: dict[str, object] = {
        "kind": "synced",
        "database": database,
        "when": _now(),
        "ran": list(ran),
        "complete": complete,
    }
    if reflog is not None:
        entry["reflog"] = reflog.to_json()
    _append(repo, [entry])


AFTER, BEFORE, UNORDERED = "after", "before", "unordered"


def order(move: Move, sync: Synced) -> str:
    """Whether MOVE came :data:`AFTER` SYNC or :data:`BEFORE` it, by their positions where
    both have one; :data:`UNORDERED` when only time can tell and it cannot (the same second).
    """
    if move.line and sync.line:
        # Both lines of the journal, which only ever grows at its end (merge, rebase and
        # sync append under the writer lock): its order is theirs, whatever the clock did.
        return AFTER if move.line > sync.line else BEFORE
    if move.entry is not None and sync.entry is not None:
        # Both entries of HEAD's reflog as read now: the sync had read up to its entry.
        return AFTER if move.entry > sync.entry else BEFORE
    # No common sequence: the sync's entry expired from the reflog (or lies beyond the
    # entries read), it was recorded in another worktree or before records kept one, or
    # the move is the hook's while the sync is not in the journal (tests). Then time; a
    # reflog entry's whole second equal to the sync's cannot be ordered.
    if move.when > sync.when:
        return AFTER
    if move.entry is not None and move.when > sync.when - 1:
        return UNORDERED
    return BEFORE
