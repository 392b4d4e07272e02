"""A SIMULATION of Windows for migfix's end-to-end stories, not Windows itself.

Put this folder on PYTHONPATH and every Python started with it (migfix's commands, the
Python the installed git hook starts) loses the names that exist only on POSIX before
migfix is imported: the ``fcntl`` module, ``os.O_CLOEXEC``, ``os.fork``, ``os.symlink``,
``signal.SIGHUP`` and ``signal.pthread_sigmask``. What Windows has instead is put in their
place: an ``msvcrt`` module with ``locking`` (a byte-range lock, here POSIX ``lockf`` on
the same byte, which, like Windows', goes away with the process). And, as on Windows, a file
that any process holds open cannot be removed: ``os.unlink`` / ``os.remove`` raise
PermissionError (Python's ``open`` and ``os.open`` there share no delete access). The
writer lock depends on that: the holder's own attempt to remove its lock file must fail
while a waiter has it open, or two runs hold two lock files at once. Linux would remove
it, so without this the simulation tests a lock that Windows never runs. Paths, ``sh``,
git and renames stay Linux's: this catches a POSIX-only name used without a guard and the
removal rule, not every difference.
The standard library's ``subprocess`` tells Windows by importing ``msvcrt``: it is imported
first, so it keeps its POSIX code (there is no ``_winapi`` here).
"""

from __future__ import annotations

import fcntl as _posix_fcntl
import os
import signal
import stat
import subprocess  # noqa: F401  # before msvcrt exists: its probe for it must still say POSIX
import sys
import types

_msvcrt = types.ModuleType("msvcrt", "Stand-in for Windows' msvcrt (tests/winsim).")
_msvcrt.LK_UNLCK = 0  # type: ignore[attr-defined]
_msvcrt.LK_LOCK = 1  # type: ignore[attr-defined]
_msvcrt.LK_NBLCK = 2  # type: ignore[attr-defined]
_msvcrt.LK_RLCK = 3  # type: ignore[attr-defined]
_msvcrt.LK_NBRLCK = 4  # type: ignore[attr-defined]


def _locking(fd: int, mode: int, nbytes: int) -> None:
    """msvcrt.locking: NBYTES from the current position; OSError when taken (non-blocking)."""
    if mode == _msvcrt.LK_UNLCK:  # type: ignore[attr-defined]
        _posix_fcntl.lockf(fd, _posix_fcntl.LOCK_UN, nbytes, 0, os.SEEK_CUR)
        return
    flags = _posix_fcntl.LOCK_EX
    if mode in (_msvcrt.LK_NBLCK, _msvcrt.LK_NBRLCK):  # type: ignore[attr-defined]
        flags |= _posix_fcntl.LOCK_NB
    try:
        _posix_fcntl.lockf(fd, flags, nbytes, 0, os.SEEK_CUR)
    except BlockingIOError as exc:
        raise PermissionError(13, "Permission denied") from exc  # what Windows raises


_msvcrt.locking = _locking  # type: ignore[attr-defined]
sys.modules["msvcrt"] = _msvcrt
sys.modules["fcntl"] = None  # type: ignore[assignment]  # `import fcntl` raises ImportError

_posix_unlink = os.unlink


def _open_anywhere(path: object) -> bool:
    """Whether a regular file at PATH is open in any process (Linux's /proc)."""
    try:
        target = os.stat(path)  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return False
    if not stat.S_ISREG(target.st_mode):
        return False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        for fd in fds:
            try:
                held = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if (held.st_dev, held.st_ino) == (target.st_dev, target.st_ino):
                return True
    return False


def _unlink(path: object, *, dir_fd: int | None = None) -> None:
    """os.unlink / os.remove as on Windows: an open file cannot be removed."""
    if dir_fd is None and _open_anywhere(path):
        raise PermissionError(
            13, "The process cannot access the file because it is being used", path
        )
    _posix_unlink(path, dir_fd=dir_fd)  # type: ignore[arg-type]


os.unlink = os.remove = _unlink  # type: ignore[assignment]

for _module, _names in (
    (os, ("O_CLOEXEC", "fork", "symlink")),
    (signal, ("SIGHUP", "pthread_sigmask")),
):
    for _name in _names:
        if hasattr(_module, _name):
            delattr(_module, _name)

os.environ["MIGFIX_WINDOWS_SIMULATION"] = "1"  # lets a story check the simulation was on
