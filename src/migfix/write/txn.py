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
4. Removing the journal is the commit point; the leftovers go after it.

Recovery always rolls back, whatever the step reached: a file holding exactly the new bytes
gets its old bytes back (by rename of the kept link: mode and mtime too), a created file is
removed, a deleted one is put back; a file holding neither (edited since) is left alone and
named. Rolling back is always possible, since the old bytes are kept until the commit point,
and it is what Ctrl-C does, so one rule holds: a run that did not finish changed nothing.

Where: ``<git dir>/migfix`` (per worktree), found by walking up from the project root to
``.git`` (a folder, or a file naming it in worktrees and submodules), else
``<project root>/.migfix``. Staging there keeps every temp file out of the version locations;
a target on another file system has its two temp files beside it instead, named in the
journal so that recovery removes them. Nothing in that folder outlives a finished run.

Every command calls :func:`recover` once it knows the project (one ``stat`` when there is no
journal); a writer takes :func:`writer_lock` (``fcntl.flock``, on Windows ``msvcrt.locking``:
see :mod:`migfix.write.oslock`), which recovers too.
Test hooks (hidden): ``MIGFIX_TEST_WRITE_READY`` names a file created when a transaction
starts; ``MIGFIX_TEST_WRITE_PAUSE`` is a number of seconds slept after each file replaced.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migfix.errors import MigfixError, Refusal
from migfix.write import oslock

if TYPE_CHECKING:
    from migfix.write.fileio import FileChange

TXN = "txn"
JOURNAL = "journal.json"
LOCK = "lock"
LOCK_TIMEOUT_ENV = "MIGFIX_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 15: "SIGTERM"}


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP while migfix held the writer lock."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# -- where ---------------------------------------------------------------------------------


def state_dir(root: Path) -> Path:
    """``<git dir>/migfix`` for a project in a git work tree, else ``<root>/.migfix``."""
    for folder in (root, *root.parents):
        dotgit = folder / ".git"
        if os.path.isdir(dotgit):
            return dotgit / "migfix"
        if os.path.isfile(dotgit):
            # A linked worktree or a submodule: ".git" is a file "gitdir: <path>".
            try:
                text = dotgit.read_text(encoding="utf-8", errors="replace")
            except OSError:
                break
            if text.startswith("gitdir:"):
                return (folder / text[len("gitdir:") :].strip()) / "migfix"
            break
    return root / ".migfix"


# -- the lock ------------------------------------------------------------------------------


class _Hold:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.depth = 1
        self.wrote = False
        self.handlers: dict[int, Any] = {}


_holds: dict[Path, _Hold] = {}


def _timeout() -> float:
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def _lock(state: Path, *, wait: bool) -> tuple[int, bool] | None:
    """Open and flock ``state/lock``; None when it is held and WAIT is false.

    The holder removes the lock file before releasing it (so nothing is left behind), so a
    waiter may end up holding a file no longer at that path: it checks, and starts again.
    """
    deadline = time.monotonic() + _timeout()
    said = False
    path = state / LOCK
    while True:
        try:
            state.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | oslock.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            continue  # the holder removed the folder in between
        except OSError as exc:
            if not wait:
                return None
            raise Refusal(
                f"Cannot create migfix's lock file {path} ({exc.strerror}), which keeps two "
                "migfix runs from writing at once. Nothing was written. Make that folder "
                "writable (or free some space) and run this again."
            ) from exc
        while not oslock.try_lock(fd):
            if not wait:
                os.close(fd)
                return None
            if time.monotonic() >= deadline:
                os.close(fd)
                raise Refusal(
                    f"Another migfix run is writing this project and kept its lock "
                    f"({path}) for {_timeout():g} s. Nothing was written. Wait for it to "
                    "finish and run this again (the lock goes away with the process that "
                    "holds it, even if it is killed)."
                ) from None
            if not said:
                _say("another migfix run is writing this project; waiting for it.")
                said = True
            time.sleep(0.05)
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, said
        os.close(fd)


def _unlock(state: Path, fd: int) -> None:
    _tidy(state)
    os.close(fd)
    if not oslock.REMOVES_OPEN_FILES:
        _tidy(state)  # Windows: the lock file could not go while open


def _tidy(state: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(state / LOCK)
    with contextlib.suppress(OSError):
        os.rmdir(state)  # only when empty


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[bool]:
    """Hold the project's writer lock (re-entrant); first undo an interrupted transaction.

    Yields True when the project may have changed since the caller last read it (it waited
    for another writer, or undid an interrupted change): the caller plans again. While held,
    SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`, so a transaction is undone.
    """
    state = state_dir(root)
    held = _holds.get(state)
    if held is not None:
        held.depth += 1
        try:
            yield False
        finally:
            held.depth -= 1
        return
    locked = _lock(state, wait=True)
    assert locked is not None
    fd, waited = locked
    hold = _Hold(fd)
    _holds[state] = hold
    try:
        _install_handlers(hold)
        try:
            changed = _recover_locked(state, writer=True) is not None
            yield changed or waited
        except KeyboardInterrupt as exc:
            if not hasattr(exc, "migfix_state") and not hold.wrote:
                exc.migfix_state = "nothing"  # type: ignore[attr-defined]
            raise
        finally:
            _restore_handlers(hold)
    finally:
        del _holds[state]
        _unlock(state, fd)


def recover(root: Path) -> str | None:
    """Undo an interrupted transaction of the project at ROOT, say so in one line, and
    return that line; None (and silence) when there is none or its writer is still alive."""
    state = state_dir(root)
    # The folder exists only while a writer runs, or after one was killed (then its lock
    # file is tidied away too).
    if not os.path.isdir(state):
        return None
    if state in _holds:
        return None  # this process is the writer
    locked = _lock(state, wait=False)
    if locked is None:
        return None  # a live writer: its transaction is not interrupted
    fd = locked[0]
    try:
        return _recover_locked(state)
    finally:
        _unlock(state, fd)


def _recover_locked(state: Path, *, writer: bool = False) -> str | None:
    folder = state / TXN
    if not os.path.isdir(folder):
        return None
    with _critical():
        try:
            result = _roll_back(folder)
        except _Stuck as exc:
            if writer:  # a new journal would take the place of the one still needed
                raise Refusal(f"Nothing was written: migfix {exc.line}") from None
            _say(exc.line)
            return exc.line
    if result is None:
        return None  # nothing had been written yet: only leftovers were removed
    restored, edited = result
    if restored:
        line = (
            f"undid an interrupted migfix change ({restored} file(s) put back as they were; "
            "run that command again)."
        )
    else:
        line = "undid an interrupted migfix change (it had not replaced any file yet)."
    if edited:
        line = line[:-1] + f"; left alone, edited since: {', '.join(edited)}."
    _say(line)
    return line


# -- the transaction -----------------------------------------------------------------------


def commit(changes: Sequence[FileChange], root: Path) -> None:
    """Write CHANGES (each checked, none a no-op) as one transaction, under the writer lock."""
    with writer_lock(root):
        state = state_dir(root)
        hold = _holds[state]
        folder = state / TXN
        try:
            _write(changes, folder, hold)
        except BaseException as exc:
            with _critical():
                try:
                    result = _roll_back(folder)
                except _Stuck as stuck:
                    _say(stuck.line)
                    raise exc from None
            if isinstance(exc, KeyboardInterrupt):
                exc.migfix_state = "undone" if result is not None else "nothing"  # type: ignore[attr-defined]
                if result is None and hold.wrote:
                    exc.migfix_state = "written"  # type: ignore[attr-defined]
            raise


def _write(changes: Sequence[FileChange], folder: Path, hold: _Hold) -> None:
    import hashlib
    import json
    import secrets

    from migfix.write.fileio import _fsync_dir, _mode_for, _new_file_mode

    def sha(data: bytes | None) -> str | None:
        return None if data is None else hashlib.sha256(data).hexdigest()

    folder.mkdir(exist_ok=True)
    here = os.stat(folder).st_dev
    token = secrets.token_hex(4)
    devices: dict[Path, int] = {}
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
    _test_ready()
    journal = folder / JOURNAL
    draft = folder / (JOURNAL + ".tmp")
    data = json.dumps({"version": 1, "pid": os.getpid(), "entries": entries}, indent=1)
    _write_synced(draft, data.encode("utf-8"), 0o644)
    os.replace(draft, journal)
    _fsync_dir(folder)
    _fsync_dir(folder.parent)

    for change, entry in zip(changes, entries, strict=True):
        if entry["kept"] is not None:
            try:
                os.link(change.path, entry["kept"])
            except OSError:  # no hard links here: keep a copy (the bytes were just checked)
                assert change.old is not None
                _write_synced(Path(entry["kept"]), change.old, _mode_for(change.path))
        if entry["staged"] is not None:
            assert change.new is not None
            mode = _new_file_mode() if change.old is None else _mode_for(change.path)
            _write_synced(Path(entry["staged"]), change.new, mode)
    for directory in {folder, *(p for p, dev in devices.items() if dev != here)}:
        _fsync_dir(directory)

    pause = _test_pause()
    for change, entry in zip(changes, entries, strict=True):
        if entry["staged"] is None:
            os.unlink(change.path)
        else:
            os.replace(entry["staged"], change.path)
        hold.wrote = True
        if pause:
            time.sleep(pause)
    for directory in devices:
        _fsync_dir(directory)

    os.unlink(journal)  # the commit point
    _fsync_dir(folder)
    for entry in entries:
        for key in ("staged", "kept"):
            if entry[key] is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry[key])
    _remove_folder(folder)


class _Stuck(Exception):
    """A file could not be put back; the journal and the kept bytes stay for a later try."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def _roll_back(folder: Path) -> tuple[int, list[str]] | None:
    """Undo the transaction journaled in FOLDER, then remove FOLDER.

    Returns (files restored, files left alone because edited since), or None when there
    was no journal (nothing had been replaced yet, or the transaction had committed).
    Raises :class:`_Stuck`, keeping the journal, when a file cannot be put back.
    """
    import json

    from migfix.write.fileio import _fsync_dir, remove_stale_bytecode

    try:
        data = json.loads((folder / JOURNAL).read_bytes())
    except (FileNotFoundError, ValueError):
        data = None
    except OSError as exc:
        raise _Stuck(_stuck_line(folder, [str(folder / JOURNAL)], exc)) from exc
    if data is None:
        _remove_folder(folder)
        return None
    restored = 0
    edited: list[str] = []
    touched: set[Path] = set()
    failed: list[str] = []
    error: OSError | None = None
    for entry in reversed(data["entries"]):
        path = Path(entry["path"])
        now = _sha_of(path)
        if now != entry["old"]:
            try:
                if now == entry["new"] and entry["old"] is None:
                    path.unlink()
                elif now == entry["new"]:
                    os.replace(entry["kept"], path)
                else:
                    edited.append(str(path))
                    continue
            except OSError as exc:
                failed.append(str(path))
                error = exc
                continue
            restored += 1
            touched.add(path.parent)
            if path.suffix == ".py":
                remove_stale_bytecode(path)
    if error is not None:
        raise _Stuck(_stuck_line(folder, failed, error))
    for entry in data["entries"]:
        for key in ("staged", "kept"):
            if entry[key] is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry[key])
    for directory in touched:
        _fsync_dir(directory)
    os.unlink(folder / JOURNAL)
    _fsync_dir(folder)
    _remove_folder(folder)
    return restored, sorted(edited)


def _stuck_line(folder: Path, paths: list[str], exc: OSError) -> str:
    return (
        f"could not undo an interrupted migfix change: {', '.join(paths)} "
        f"({exc.strerror or exc}). Its journal and the old contents stay in {folder}; fix "
        "the cause and run any migfix command again to finish undoing it."
    )


def _sha_of(path: Path) -> str | None:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError:
        return "?"  # a folder or unreadable: neither old nor new


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | oslock.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        os.chmod(path, mode)


def _remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def scratch(root: Path) -> Iterator[Path]:
    """A fresh folder on the project's file system but outside every version location
    (where Alembic renders a merge file); removed afterwards, or by recovery if killed."""
    import tempfile

    folder = state_dir(root) / TXN
    folder.mkdir(parents=True, exist_ok=True)
    # The ".migfix-" prefix tells the heads lock's post-write hook to skip this render.
    path = Path(tempfile.mkdtemp(prefix=".migfix-render-", dir=folder))
    try:
        yield path
    finally:
        _remove_folder(path)
        with contextlib.suppress(OSError):
            folder.rmdir()


# -- signals -------------------------------------------------------------------------------

_critical_depth = 0
_pending: list[int] = []
_interrupting = False


def _on_signal(signum: int, frame: object) -> None:
    global _interrupting
    if _critical_depth or _interrupting:
        _pending.append(signum)
        return
    _interrupting = True
    raise Interrupted(signum)


def _signals() -> tuple[int, ...]:
    """SIGINT, SIGTERM and SIGHUP, the last where it exists (not on Windows)."""
    import signal

    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return tuple(getattr(signal, n) for n in names if hasattr(signal, n))


def _install_handlers(hold: _Hold) -> None:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _signals():
        hold.handlers[signum] = signal.signal(signum, _on_signal)


def _restore_handlers(hold: _Hold) -> None:
    import signal

    global _interrupting
    for signum, handler in hold.handlers.items():
        signal.signal(signum, handler)
    _interrupting = False


@contextlib.contextmanager
def _critical() -> Iterator[None]:
    """Signals wait until the block is done (undoing must not itself be interrupted)."""
    import signal

    global _critical_depth
    # Windows has no signal mask: there _on_signal's deferral (the depth) is the only guard.
    mask = getattr(signal, "pthread_sigmask", None)
    old = mask(signal.SIG_BLOCK, _signals()) if mask is not None else None
    _critical_depth += 1
    try:
        yield
    finally:
        _critical_depth -= 1
        if mask is not None and old is not None:
            mask(signal.SIG_SETMASK, old)
    if _pending and not _critical_depth and not _interrupting:
        raise Interrupted(_pending.pop())


class Interruption(MigfixError):
    """A KeyboardInterrupt / :class:`Interrupted` as an error with its line and exit code."""

    def __init__(self, exc: BaseException) -> None:
        text, code = interrupted_line(exc)
        super().__init__(text)
        self.exit_code = code


def interrupted_line(exc: BaseException) -> tuple[str, int]:
    """The one line to print for Ctrl-C / SIGTERM / SIGHUP, and the exit code (128 + signal)."""
    signum = getattr(exc, "signum", 2)
    name = SIGNAL_NAMES.get(signum, f"signal {signum}")
    state = getattr(exc, "migfix_state", None)
    if state == "undone":
        text = f"interrupted ({name}); the partial change was undone, every file is as it was."
    elif state == "nothing":
        text = f"interrupted ({name}); nothing was written."
    else:
        text = f"interrupted ({name})."
    return text, 128 + signum


# -- test hooks ----------------------------------------------------------------------------


def _test_ready() -> None:
    ready = os.environ.get("MIGFIX_TEST_WRITE_READY")
    if ready:
        Path(ready).touch()


def _test_pause() -> float:
    try:
        return float(os.environ.get("MIGFIX_TEST_WRITE_PAUSE", "0"))
    except ValueError:
        return 0.0


def _say(text: str) -> None:
    print(f"migfix: {text}", file=sys.stderr, flush=True)
