"""The project's writer lock, and what it does with signals while held.

One migfix run writes a project at a time: ``acquire`` takes an exclusive lock on
``<state>/lock`` (``fcntl.flock``, on Windows ``msvcrt.locking``: see
:mod:`migfix.write.oslock`), where the state folder is ``<git dir>/migfix`` (per worktree)
or ``<project root>/.migfix``. While a writer holds it, SIGINT, SIGTERM and SIGHUP raise
:class:`Interrupted`, so the transaction (``migfix.write.txn``) is undone, and ``critical``
defers them while undoing. ``migfix.errors.interrupted_line`` is the one line a user sees
for them (there, so reporting an interruption imports no lock).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from migfix import procexit
from migfix.errors import MigfixError, Refusal, interrupted_line
from migfix.write import oslock

LOCK = "lock"

LOCK_TIMEOUT_ENV = "MIGFIX_LOCK_TIMEOUT"

DEFAULT_LOCK_TIMEOUT = 30.0


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP while migfix held the writer lock."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Hold:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.depth = 1
        self.wrote = False
        self.committed = False
        """A transaction reached its commit point: its files and moves record are written."""
        self.handlers: dict[int, Any] = {}


holds: dict[Path, Hold] = {}


def _timeout() -> float:
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def acquire(state: Path, *, wait: bool) -> tuple[int, bool] | None:
    """Open and flock ``state/lock``; None when it is held and WAIT is false. Also says
    whether it had to wait.

    The holder removes the lock file before releasing it (so nothing is left behind), so a
    waiter may end up holding a file no longer at that path: it checks, and starts again.
    """
    deadline = time.monotonic() + _timeout()
    said = False
    path = state / LOCK
    while True:
        fd = _open_lock_file(state, path, wait=wait)
        if fd is None:
            return None
        waited = _wait_for_lock(fd, path, wait=wait, deadline=deadline, said=said)
        if waited is None:
            return None
        said = said or waited
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, said
        os.close(fd)


def _open_lock_file(state: Path, path: Path, *, wait: bool) -> int | None:
    while True:
        try:
            state.mkdir(parents=True, exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT | oslock.O_CLOEXEC, 0o644)
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


def _wait_for_lock(fd: int, path: Path, *, wait: bool, deadline: float, said: bool) -> bool | None:
    """Lock FD, waiting until DEADLINE if WAIT; None (FD closed) when not locked. True when
    it said it was waiting."""
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
            say("another migfix run is writing this project; waiting for it.")
            said = True
        time.sleep(0.05)
    return said


def release(state: Path, fd: int) -> None:
    _tidy(state)
    os.close(fd)
    if not oslock.REMOVES_OPEN_FILES:
        _tidy(state)  # Windows: the lock file could not go while open


def _tidy(state: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(state / LOCK)
    with contextlib.suppress(OSError):
        os.rmdir(state)  # only when empty


_critical_depth = 0

_pending: list[int] = []

_interrupting = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _interrupting
    if _critical_depth or _interrupting:
        _pending.append(signum)
        return
    if procexit.in_finalizer(frame):
        procexit.deliver_later(signum)  # raised there, it would be swallowed (migfix.procexit)
        return
    _interrupting = True
    raise Interrupted(signum)


def _signals() -> tuple[int, ...]:
    """SIGINT, SIGTERM and SIGHUP, the last where it exists (not on Windows)."""
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return tuple(getattr(signal, n) for n in names if hasattr(signal, n))


def install_handlers(hold: Hold) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _signals():
        hold.handlers[signum] = signal.signal(signum, _on_signal)


def restore_handlers(hold: Hold) -> None:
    global _interrupting
    for signum, handler in hold.handlers.items():
        signal.signal(signum, handler)
    _interrupting = False


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """Signals wait until the block is done (undoing must not itself be interrupted)."""
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


def say(text: str) -> None:
    print(f"migfix: {text}", file=sys.stderr, flush=True)
