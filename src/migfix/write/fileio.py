"""Single files, written safely: an atomic replace that keeps the mode bits, durable
renames, stale bytecode removed.

Several files at once go through the transaction (``migfix.write.txn``), which uses these.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

from migfix.read.scan import decode_source as strict_decode

# Temp names stay short and fixed in shape: a long target name must not make the temp
# name itself too long for the filesystem.
_TMP_PREFIX = ".migfix-"
_TMP_SUFFIX = ".tmp"


def read_bytes(path: Path) -> bytes:
    """Read a file exactly as stored: no newline or encoding translation."""
    return path.read_bytes()


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, keeping the permission bits of the old file."""
    tmp = _stage(path, data, mode_for(path))
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(path.parent)


def remove_stale_bytecode(path: Path) -> None:
    """Delete ``__pycache__/<stem>.*.pyc`` beside ``path``.

    A .pyc is trusted when the source's size and mtime (whole seconds) match; a rewrite that
    swaps one revision id for another of the same length within the same second would
    otherwise let Python (and so Alembic) load the old code.
    """
    cache = path.parent / "__pycache__"
    # <stem>.<tag>.pyc or <stem>.<tag>.opt-N.pyc; the tag never has a dot, so a file named
    # "<stem>.other.py" keeps its own bytecode.
    pattern = re.compile(re.escape(path.stem) + r"\.[^.]+(\.opt-[^.]*)?\.pyc")
    try:
        names = os.listdir(cache)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        if pattern.fullmatch(name):
            _unlink_quietly(cache / name)


def decode_source(data: bytes) -> str:
    """Decode Python source as the scanner does (BOM, PEP 263 cookie, else UTF-8), falling
    back to latin-1, which never fails, so a diff can always be shown."""
    try:
        return strict_decode(data)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


def _stage(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a temp file beside ``path``, with permission bits ``mode``."""
    # Here, not at the top: tempfile brings shutil, random and the compression modules
    # (~15 of the hook's imports), and the hook's usual run reads this module to write
    # nothing.
    import tempfile

    fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return new_file_mode()


def new_file_mode() -> int:
    # mkstemp creates 0600; a new file should get what open() would give it.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
