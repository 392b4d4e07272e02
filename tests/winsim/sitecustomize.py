"""A SIMULATION of Windows for migfix's end-to-end stories, not Windows itself.

Put this folder on PYTHONPATH and every Python started with it (migfix's commands, the
Python the installed git hook starts) loses the names that exist only on POSIX before
migfix is imported: the ``fcntl`` module, ``os.O_CLOEXEC``, ``os.fork``, ``os.symlink``,
``signal.SIGHUP`` and ``signal.pthread_sigmask``. What Windows has instead is put in their
place: an ``msvcrt`` module with ``locking`` (a byte-range lock, here POSIX ``lockf`` on
the same byte, which, like Windows', goes away with the process). Paths, ``sh`` and git stay
Linux's: this catches a POSIX-only name used without a guard, not every difference.
The standard library's ``subprocess`` tells Windows by importing ``msvcrt``: it is imported
first, so it keeps its POSIX code (there is no ``_winapi`` here).
"""

from __future__ import annotations

import fcntl as _posix_fcntl
import os
import signal
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

for _module, _names in (
    (os, ("O_CLOEXEC", "fork", "symlink")),
    (signal, ("SIGHUP", "pthread_sigmask")),
):
    for _name in _names:
        if hasattr(_module, _name):
            delattr(_module, _name)

os.environ["MIGFIX_WINDOWS_SIMULATION"] = "1"  # lets a story check the simulation was on
