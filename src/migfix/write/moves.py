"""The journal of moves: which revision's ``down_revision`` changed, when, and by what.

Alembic records only a database's heads, so a database that ran R on A cannot tell that R
now sits on S2 and that S1 and S2 never ran there (see :mod:`migfix.db.sync`). This module
remembers every move, in ``<git common dir>/migfix-moves.jsonl`` (one JSON object a line,
shared by every worktree of the clone, never committed):

* ``{"kind": "move", "revision", "old", "new", "when", "by"}`` for every rewrite migfix makes
  (``merge``, ``rebase``, the hook) and for every move the hook sees arrive with a pull,
  merge, rebase or checkout (the same revision id declared with other parents before and
  after);
* ``{"kind": "synced", "database", "when", "ran", "complete"}`` when ``migfix db sync``
  brought a database in step (or ran part of the way on a database without transactional DDL).

Moves that happened without the hook (not installed yet) are found again in HEAD's reflog:
:func:`reflog_moves` reads the revision files of HEAD's earlier states.

Plain subprocess and the static reader only: the hook calls this after every pull that
touched a versions folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from migfix.git.gitops import remembered, run
from migfix.read.gittree import cat_blobs
from migfix.read.revision_file import Unknown
from migfix.read.scan import scan_file

if TYPE_CHECKING:  # a signature only: recovery, which every command runs, needs no git history
    from migfix.git.history import TreeDiff

# Beside txn's state folder (<git dir>/migfix), which is empty when no write is under way.
JOURNAL = ("migfix-moves.jsonl",)
ADVICE = "`migfix db sync` brings a database that ran them in step"
_NULL_SHA = "0" * 40


@dataclass(frozen=True)
class Move:
    revision: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    when: float
    """Unix time."""
    by: str
    """What moved it: ``migfix merge``, ``migfix rebase``, ``git pull (post-merge hook)``..."""

    def to_json(self) -> dict[str, object]:
        return {
            "kind": "move",
            "revision": self.revision,
            "old": list(self.old),
            "new": list(self.new),
            "when": self.when,
            "by": self.by,
        }


@dataclass(frozen=True)
class Synced:
    database: str
    """The database's identity (see ``migfix.db.connect.database_key``), never with a password."""
    when: float
    ran: tuple[str, ...]
    complete: bool


def ids(revs: Sequence[str]) -> str:
    return ", ".join(revs) if revs else "<base>"


def advice(moved: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> str:
    """The one line printed when revisions moved: which, and what to do about databases."""
    shown = "; ".join(f"{r} ({ids(old)} -> {ids(new)})" for r, old, new in moved[:5])
    more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
    return f"moved {shown}{more}: {ADVICE}."


# -- where the journal lives ---------------------------------------------------------------


def journal_path(repo: Path) -> Path | None:
    """``<git common dir>/migfix-moves.jsonl``: one journal for every worktree of a clone."""
    proc = remembered(repo, "rev-parse", "--git-common-dir")
    if proc.returncode != 0:
        return None
    common = Path(os.fsdecode(proc.stdout.rstrip(b"\n")))
    return (repo / common).resolve().joinpath(*JOURNAL)


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
            moves.append(entry)
        else:
            syncs.append(entry)
    return moves, syncs, faults


def _entry(line: str) -> Move | Synced:
    """One journal line, checked field by field against its schema (ValueError says why)."""
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
        complete = e.get("complete", True)
        if not isinstance(complete, bool):
            raise ValueError('"complete" is not true or false')
        ran = _ids(e, "ran") if "ran" in e else ()
        return Synced(_text(e, "database"), _time(e), ran, complete)
    raise ValueError(f'"kind" is {json.dumps(kind)}, not "move" or "synced"')


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


@dataclass(frozen=True)
class Record:
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
    now = time.time()
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


def _lines(entries: Sequence[dict[str, object]]) -> bytes:
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries).encode("utf-8")


def record_synced(repo: Path | None, database: str, ran: Sequence[str], complete: bool) -> None:
    if repo is None:
        return
    _append(
        repo,
        [
            {
                "kind": "synced",
                "database": database,
                "when": time.time(),
                "ran": list(ran),
                "complete": complete,
            }
        ],
    )


# -- moves seen in git ---------------------------------------------------------------------


def _rel(repo: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix() or "."
    except ValueError:
        return path.as_posix()


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
    return _Tracker(repo, [_rel(repo, p) for p in under]).step(old, new)


def moves_in(
    repo: Path, diff: TreeDiff, under: Sequence[Path]
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Same as :func:`moves_between` for DIFF's two commits, from the diff already running
    (the hook's, which also told it which files changed), so no second ``git diff``."""
    if not under or _NULL_SHA in (diff.old, diff.new):
        return []
    specs = [_rel(repo, p) for p in under]
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


def reflog_moves(repo: Path, under: Sequence[Path], *, limit: int = 300) -> list[Move]:
    """Moves found in HEAD's reflog: a revision's parents in HEAD's earlier states.

    Covers a teammate who pulled a branch that was rebased and force-pushed while no hook was
    installed. Only states whose versions folders differ are compared (one ``cat-file`` call
    tells them apart), so a long reflog costs little.
    """
    specs = [_rel(repo, p) for p in under]
    proc = run(repo, "log", "-g", f"-n{limit}", "--date=unix", "--format=%H %gd %gs", "HEAD")
    if proc.returncode != 0 or not specs:
        return []
    states: list[tuple[str, float, str]] = []
    for line in reversed(proc.stdout.decode("utf-8", "replace").splitlines()):
        sha, _, rest = line.partition(" ")
        selector, _, subject = rest.partition(" ")
        try:
            when = float(selector[selector.index("{") + 1 : selector.index("}")])
        except ValueError:
            when = 0.0
        states.append((sha, when, subject))
    if len(states) < 2:
        return []
    query = "".join(f"{sha}:{spec}\n" for sha, _, _ in states for spec in specs)
    check = run(repo, "cat-file", "--batch-check", stdin=query.encode())
    trees = check.stdout.decode().splitlines()
    keys = [tuple(trees[i * len(specs) : (i + 1) * len(specs)]) for i in range(len(states))]
    tracker = _Tracker(repo, specs)
    found: list[Move] = []
    prev = 0
    for i in range(1, len(states)):
        if keys[i] == keys[prev]:
            continue
        sha, when, subject = states[i]
        what = subject.split(":", 1)[0].strip() or "git"
        for rev, old, new in tracker.step(states[prev][0], sha):
            found.append(Move(rev, old, new, when, f"git {what} (seen in the reflog)"))
        prev = i
    return found


def all_moves(repo: Path | None, under: Sequence[Path]) -> tuple[list[Move], list[Synced]]:
    """The journal's moves and the reflog's, each move once (the earliest sighting), by time."""
    if repo is None:
        return [], []
    journal, syncs = read(repo)
    seen: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Move] = {}
    for m in [*journal, *reflog_moves(repo, under)]:
        key = (m.revision, m.old, m.new)
        if key not in seen or m.when < seen[key].when:
            seen[key] = m
    return sorted(seen.values(), key=lambda m: m.when), syncs
