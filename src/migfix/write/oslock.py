"""The writer lock's two system calls, on POSIX (``fcntl.flock``) and Windows (``msvcrt``).

Both locks belong to the open file and go away with the process that holds them, even when
it is killed, which is what :mod:`migfix.write.txn` relies on to tell an interrupted run
from a live one. The standard library has both, so no dependency is needed: ``filelock``
from PyPI falls back to a lock file that outlives a killed process where ``fcntl`` is
missing, and leaves its lock file behind, where migfix removes it.

On Windows an open file cannot be removed, so the holder's tidy-up (unlink, then close)
fails quietly and the next writer finds the same file: the lock is still exclusive.
"""

from __future__ import annotations

import os

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

# Whether an open file can be removed (POSIX), or removing it fails until it is closed.
REMOVES_OPEN_FILES = fcntl is not None

# Python opens files non-inheritable already (PEP 446); O_CLOEXEC also covers a fork that
# execs before Python could mark the descriptor. Windows has no such flag.
O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on FD without waiting; False when another process has it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt

    # One byte at offset 0 stands for the whole file; LK_NBLCK fails at once when taken.
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def unlock(fd: int) -> None:
    """Release FD's lock (closing FD would too; Windows asks for it to be explicit)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    import msvcrt

    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
