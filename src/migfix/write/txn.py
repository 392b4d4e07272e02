"""Transactions over several files: a journal, recovery of an interrupted run, one writer.

A change of several files (a merge: a new file and repointed parents; a rebase: repoints and
deletes; the hook doing either) lands whole or not at all, even when the process is killed.
It works like SQLite's rollback journal:

1. Under the project's writer lock, the journal (``<state>/txn/journal.json``) is written and
   fsynced: every target path, the SHA-256 of its old and new bytes, where the new bytes will
   be staged and where the old ones will be kept.
2. The new contents are staged (fsynced) and every existing target gets a hard link (else a
   copy) in the transaction folder, so its old bytes outlive their replacement.
3. The targets are replaced by rename (``os.replace``) or unlinked, one after the other.
   Then the record of the moves they make is appended to the journal of moves
   (:mod:`migfix.write.moves`; its exact bytes are in the transaction's journal).
4. Removing the journal is the commit point; the leftovers go after it.

Recovery always rolls back, whatever the step reached: a file holding exactly the new bytes
gets its old bytes back (by rename of the kept link: mode and mtime too), a created file is
removed, a deleted one is put back; a file holding neither (edited since) is left alone and
named, and the journal and old contents stay until the user has chosen; the record of moves
is taken out of the journal of moves again. Rolling back is always possible, since the old
bytes are kept until the commit point, and it is what Ctrl-C does, so one rule holds: a run
that did not finish changed nothing. Recovery acts only on a journal that fits its schema
(:mod:`migfix.write.txnjournal`: paths relative to the work tree) and names only files in the
repository's version locations (:mod:`migfix.write.contain`); else it says so and touches
nothing.

Where: ``<git dir>/migfix`` (per worktree), found by walking up from the project root to
``.git`` (a folder, or a file naming it in worktrees and submodules), else
``<project root>/.migfix``. Staging there keeps every temp file out of the version locations;
a target on another file system has its two temp files beside it instead, named in the
journal so that recovery removes them. Nothing in that folder outlives a finished run.

Every command calls :func:`recover` once it knows the project (one ``stat`` when there is no
journal); a writer takes :func:`writer_lock` (see :mod:`migfix.write.lock`), which recovers
too.
Test hooks (hidden): ``MIGFIX_TEST_WRITE_READY`` names a file created when a transaction
starts; ``MIGFIX_TEST_WRITE_PAUSE`` is a number of seconds slept after each file replaced;
``MIGFIX_TEST_WRITE_STOP`` is ``moment:file``, where moment is ``first`` (the first file
replaced, the others staged), ``replaced`` (every file replaced, the moves not recorded),
``recorded`` (just before the commit point) or ``committed``: there the file is created and
the writer waits, up to a minute, to be killed or for the file to be removed (then it goes on).
A test that signals the writer there hits that moment however loaded the machine is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from migfix.errors import Refusal
from migfix.plan.records import FileChange
from migfix.project.model import Project
from migfix.write import moves, oslock, rollback, txnjournal
from migfix.write.contain import recovery_scope, refuse_outside
from migfix.write.fileio import fsync_dir, mode_for, new_file_mode, remove_stale_bytecode
from migfix.write.lock import (
    LOCK,
    Hold,
    acquire,
    critical,
    holds,
    install_handlers,
    release,
    restore_handlers,
    say,
)
from migfix.write.state import state_dir, work_tree

TXN = "txn"


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[bool]:
    """Hold the project's writer lock (re-entrant); first undo an interrupted transaction.

    Yields True when the project may have changed since the caller last read it (it waited
    for another writer, or undid an interrupted change): the caller plans again. While held,
    SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`, so a transaction is undone.
    """
    state = state_dir(root)
    held = holds.get(state)
    if held is not None:
        held.depth += 1
        try:
            yield False
        finally:
            held.depth -= 1
        return
    locked = acquire(state, wait=True)
    assert locked is not None
    fd, waited = locked
    hold = Hold(fd)
    holds[state] = hold
    try:
        install_handlers(hold)
        try:
            changed = _recover_locked(state, root, writer=True) is not None
            yield changed or waited
        except KeyboardInterrupt as exc:
            if hold.committed:  # whatever a transaction said before: one did land
                exc.migfix_state = "written"  # type: ignore[attr-defined]
            elif not hasattr(exc, "migfix_state") and not hold.wrote:
                exc.migfix_state = "nothing"  # type: ignore[attr-defined]
            raise
        finally:
            restore_handlers(hold)
    finally:
        del holds[state]
        release(state, fd)


def recover(root: Path, project: Project | None = None) -> str | None:
    """Undo an interrupted transaction of the project at ROOT, say so in one line, and
    return that line; None (and silence) when there is none or its writer is still alive.

    PROJECT (the command's) adds its version locations to those recovery may write in."""
    state = state_dir(root)
    # The folder exists only while a writer runs, or after one was killed (then its lock
    # file is tidied away too).
    if not os.path.isdir(state):
        return None
    if state in holds:
        return None  # this process is the writer
    locked = acquire(state, wait=False)
    if locked is None:
        return _unlockable(state)  # else a live writer: its transaction is not interrupted
    fd = locked[0]
    try:
        return _recover_locked(state, root, project=project)
    finally:
        release(state, fd)


def _unlockable(state: Path) -> str | None:
    """The line saying that an interrupted change waits behind a lock file migfix cannot
    open (an unwritable state folder); None when the lock is only held by a live writer."""
    journal = state / TXN / rollback.JOURNAL
    if not os.path.exists(journal):
        return None
    try:
        os.close(os.open(state / LOCK, os.O_RDWR | oslock.O_CLOEXEC))
    except OSError as exc:
        if not os.path.exists(journal):
            return None  # the writer committed and tidied up in between
        line = (
            f"cannot open its lock file {state / LOCK} ({exc.strerror or exc}), so the "
            f"interrupted change journaled in {journal} was not undone and its files may be "
            f"half changed. Make {state} and what it holds writable by you, then run any "
            "migfix command again."
        )
        say(line)
        return line
    return None


def _recover_locked(
    state: Path, root: Path, *, writer: bool = False, project: Project | None = None
) -> str | None:
    folder = state / TXN
    if not os.path.isdir(folder):
        return None
    with critical():
        try:
            result = rollback.roll_back(
                folder, work_tree(root), lambda: recovery_scope(root, project)
            )
        except rollback.Stuck as exc:
            if writer:  # a new journal would take the place of the one still needed
                raise Refusal(f"Nothing was written: migfix {exc.line}") from None
            say(exc.line)
            return exc.line
    if result is None:
        return None  # nothing had been written yet: only leftovers were removed
    restored = result
    if restored:
        line = (
            f"undid an interrupted migfix change ({restored} file(s) put back as they were; "
            "run that command again)."
        )
    else:
        line = "undid an interrupted migfix change (it had not replaced any file yet)."
    say(line)
    return line


# -- the transaction -----------------------------------------------------------------------


def write_changes(
    changes: Sequence[FileChange],
    *,
    root: Path | None = None,
    record: moves.Record | None = None,
) -> list[Path]:
    """Write every change or none of them, even if killed; return the paths written.

    This is the one place where a run's files change: the returned paths are exactly what
    changed on disk. Changes whose new content equals the old are skipped. Under the
    writer lock of the project at ROOT (default: the folder holding every target), each
    existing file must still hold exactly the bytes migfix read, and each new file must not
    exist yet; then the changes are written as one journaled transaction (below):
    an error, Ctrl-C or SIGTERM undoes what was done, and after SIGKILL the next migfix
    command does. RECORD, the moves these changes make, is appended to the journal of
    moves inside the same transaction.
    """
    pending = [change for change in changes if change.new != change.old]
    seen: set[Path] = set()
    for change in pending:
        if change.path in seen:
            raise ValueError(f"two changes for the same file: {change.path}")
        seen.add(change.path)
    if not pending:
        return []
    if root is None:
        root = Path(os.path.commonpath([c.path.parent for c in pending]))
    refuse_outside([change.path for change in pending], root)
    with writer_lock(root):
        for change in pending:
            _check_unchanged(change)
        commit(pending, root, record)

    written = [change.path for change in pending]
    for path in written:
        if path.suffix == ".py":
            remove_stale_bytecode(path)
    return written


def _check_unchanged(change: FileChange) -> None:
    if change.old is None:
        if os.path.lexists(change.path):
            raise Refusal(
                f"{change.path} already exists; migfix was about to create it. "
                "Nothing was written. Remove or rename that file, or run migfix again."
            )
        return
    try:
        current = change.path.read_bytes()
    except FileNotFoundError:
        current = None
    if current != change.old:
        raise Refusal(
            f"{change.path} changed under migfix while it was working. "
            "Nothing was written; run migfix again."
        )


def commit(changes: Sequence[FileChange], root: Path, record: moves.Record | None = None) -> None:
    """Write CHANGES (each checked, none a no-op) and RECORD as one transaction, under the
    writer lock."""
    with writer_lock(root):
        state = state_dir(root)
        hold = holds[state]
        folder = state / TXN
        tree = work_tree(root)
        try:
            _write(changes, folder, hold, tree, record)
        except BaseException as exc:
            with critical():
                try:
                    # Its own journal, just written: held to the write's rule, not recovery's.
                    result = rollback.roll_back(folder, tree, None)
                except rollback.Stuck as stuck:
                    say(stuck.line)
                    raise exc from None
            if isinstance(exc, KeyboardInterrupt):
                exc.migfix_state = "undone" if result is not None else "nothing"  # type: ignore[attr-defined]
                if result is None and hold.committed:
                    exc.migfix_state = "written"  # type: ignore[attr-defined]
            raise


def _write(
    changes: Sequence[FileChange],
    folder: Path,
    hold: Hold,
    tree: Path,
    record: moves.Record | None,
) -> None:
    """The four steps of the module docstring: journal, stage and keep, replace (and record
    the moves), commit."""
    folder.mkdir(exist_ok=True)
    entries, devices = _plan_entries(changes, folder)
    _test_ready()
    journal = folder / rollback.JOURNAL
    draft = folder / (rollback.JOURNAL + ".tmp")
    journaled: dict[str, Any] = {
        "version": txnjournal.VERSION,
        "pid": os.getpid(),
        "entries": txnjournal.stored(entries, tree),
    }
    if record is not None:
        # Only the bytes: recovery finds the journal of moves from the state folder itself.
        journaled["moves"] = record.data.decode("utf-8")
    data = json.dumps(journaled, indent=1)
    _write_synced(draft, data.encode("utf-8"), 0o644)
    os.replace(draft, journal)
    fsync_dir(folder)
    fsync_dir(folder.parent)

    _stage_and_keep(changes, entries)
    here = devices[folder]
    for directory in {folder, *(p for p, dev in devices.items() if dev != here)}:
        fsync_dir(directory)

    pause = _test_pause()
    for i, (change, entry) in enumerate(zip(changes, entries, strict=True)):
        if entry["staged"] is None:
            os.unlink(change.path)
        else:
            os.replace(entry["staged"], change.path)
        hold.wrote = True
        if i == 0:
            _test_stop("first")
        if pause:
            time.sleep(pause)
    for directory in devices:
        if directory != folder:
            fsync_dir(directory)
    _test_stop("replaced")
    if record is not None:
        moves.append(record)
    _test_stop("recorded")

    with critical():  # so that an interruption from here on is known to come after it
        os.unlink(journal)  # the commit point
        hold.committed = True
    fsync_dir(folder)
    rollback.remove_leftovers(entries)
    rollback.remove_folder(folder)
    _test_stop("committed")


def _plan_entries(
    changes: Sequence[FileChange], folder: Path
) -> tuple[list[dict[str, Any]], dict[Path, int]]:
    """The journal's entries, and the device of FOLDER and of each target's folder."""

    def sha(data: bytes | None) -> str | None:
        return None if data is None else hashlib.sha256(data).hexdigest()

    devices: dict[Path, int] = {folder: os.stat(folder).st_dev}
    here = devices[folder]
    token = secrets.token_hex(4)
    entries: list[dict[str, Any]] = []
    for i, change in enumerate(changes):
        parent = change.path.parent
        if parent not in devices:
            devices[parent] = os.stat(parent).st_dev
        if devices[parent] == here:
            staged, kept = folder / f"{i}.new", folder / f"{i}.old"
        else:  # another file system: a rename must stay on it
            staged = parent / f".migfix-{token}-{i}.new.tmp"
            kept = parent / f".migfix-{token}-{i}.old.tmp"
        entries.append(
            {
                "path": os.path.abspath(change.path),
                "old": sha(change.old),
                "new": sha(change.new),
                "staged": str(staged) if change.new is not None else None,
                "kept": str(kept) if change.old is not None else None,
            }
        )
    return entries, devices


def _stage_and_keep(changes: Sequence[FileChange], entries: Sequence[dict[str, Any]]) -> None:
    """Stage each new content, and keep each old one (a hard link, else a copy)."""
    for change, entry in zip(changes, entries, strict=True):
        if entry["kept"] is not None:
            try:
                os.link(change.path, entry["kept"])
            except OSError:  # no hard links here: keep a copy (the bytes were just checked)
                assert change.old is not None
                _write_synced(Path(entry["kept"]), change.old, mode_for(change.path))
        if entry["staged"] is not None:
            assert change.new is not None
            mode = new_file_mode() if change.old is None else mode_for(change.path)
            _write_synced(Path(entry["staged"]), change.new, mode)


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | oslock.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        os.chmod(path, mode)


# -- test hooks ----------------------------------------------------------------------------


def _test_ready() -> None:
    ready = os.environ.get("MIGFIX_TEST_WRITE_READY")
    if ready:
        Path(ready).touch()


def _test_stop(moment: str) -> None:
    wanted, _, marker = os.environ.get("MIGFIX_TEST_WRITE_STOP", "").partition(":")
    if wanted == moment and marker:
        path = Path(marker)
        path.touch()
        deadline = time.monotonic() + 60
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)


def _test_pause() -> float:
    try:
        return float(os.environ.get("MIGFIX_TEST_WRITE_PAUSE", "0"))
    except ValueError:
        return 0.0
