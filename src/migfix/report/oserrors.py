"""One paragraph for an operating-system error: what happened, and what to do.

A full disk, a read-only mount, an immutable file or a name too long for the file system
reach migfix as an ``OSError`` from wherever the write failed (Alembic rendering a merge
file, staging a rewrite, replacing a file). Every write is one transaction (``migfix.write.txn``
undoes the files already replaced before the error propagates), so by the time ``cli.main``
or the hook reports the error, nothing was changed.
"""

from __future__ import annotations

import errno
import os

_MAX_SHOWN = 60  # characters of a file name too long to show whole

# errno -> (what happened, what to do)
_ADVICE: dict[int, tuple[str, str]] = {
    errno.ENOSPC: (
        "no space left on the device",
        "Free some disk space and run the command again.",
    ),
    errno.EDQUOT: (
        "the disk quota is exceeded",
        "Free some space (or ask for a larger quota) and run the command again.",
    ),
    errno.EFBIG: (
        "the file became too large for the file system or the process's file size limit "
        "(`ulimit -f`)",
        "Raise the limit (or free space) and run the command again.",
    ),
    errno.EROFS: (
        "it is on a read-only file system",
        "Remount it read-write, or run migfix in a writable checkout.",
    ),
    errno.EACCES: (
        "permission denied",
        "Make the folder and its files writable for your user (`ls -l` shows who owns them), "
        "or run migfix as their owner.",
    ),
    errno.EPERM: (
        "the operation is not permitted (the file or its folder may be immutable or "
        "append-only: `lsattr` shows it)",
        "Remove the flag (`chattr -i <file>`) or ask whoever set it, then run the command again.",
    ),
    errno.ENAMETOOLONG: (
        "a file name is too long for the file system",
        "Use a shorter --rev-id or -m message (the file name is built from them and "
        "file_template), then run the command again.",
    ),
    errno.EMFILE: (
        "too many files are open",
        "Raise the limit (`ulimit -n`) and run the command again.",
    ),
}


def describe(exc: OSError) -> str:
    """The paragraph ``cli.main`` and the hook print for EXC."""
    code = exc.errno if exc.errno is not None else -1
    what, todo = _ADVICE.get(
        code,
        (
            (exc.strerror or str(exc)).rstrip(".").lower() or "the operating system refused",
            "Fix the cause and run the command again.",
        ),
    )
    name = exc.filename2 if code == errno.EPERM and exc.filename2 is not None else exc.filename
    # A rename onto an immutable file names the temp file first: the target matters.
    where = _show(name) if name is not None else "could not write a file"
    return f"{where}: {what}. Nothing was changed. {todo}"


def _show(name: object) -> str:
    text = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    parts = text.split(os.sep)
    for i, part in enumerate(parts):
        if part.startswith(".migfix-"):
            # migfix's own temp file or scratch folder: name the folder the user knows.
            folder = os.sep.join(parts[:i]) or os.sep
            base = parts[-1] if i < len(parts) - 1 else ""
            shown = f"writing in {folder}"
            return f"{shown} ({_short(base)})" if base else shown
    return os.path.join(os.path.dirname(text), _short(os.path.basename(text)))


def _short(base: str) -> str:
    if len(base) > _MAX_SHOWN:
        return f"{base[:_MAX_SHOWN]}... ({len(base)} characters)"
    return base
