"""Would Python (and so Alembic) load this revision file at all?

Alembic imports every revision file; one that does not compile stops every command
(``alembic upgrade``, ``alembic heads``...). The fast scan reads only the header, so on
its own it would happily report a graph Alembic refuses to load. This module compiles
the file the way the import system does (``compile`` of the raw bytes, so the BOM and
the PEP 263 cookie are honoured exactly as the interpreter honours them) and turns a
failure into a precise fault. It runs once per changed file: the scan cache keeps the
verdict (``migfix.read.scancache``).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import NamedTuple

# Git's conflict markers: seven characters at the start of a line, then a space (with
# the side's name) or the end of the line. ``|||||||`` is diff3's base section.
_MARKER = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(?: |\r?$)", re.M)
_COOKIE_LINE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BLANK_OR_COMMENT = re.compile(rb"[ \t\f]*(?:[#\r\n]|$)")
_STAR_IMPORT = re.compile(r"^[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]*\*", re.M)


class Fault(NamedTuple):
    code: str
    line: int
    message: str


def compile_fault(path: Path, data: bytes) -> Fault | None:
    """The fault that stops Python from compiling DATA, or None when it compiles."""
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences and the like warn at compile time; they load fine.
            warnings.simplefilter("ignore")
            compile(data, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return _syntax_fault(data, exc.msg or "invalid syntax", exc.lineno or 1)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        # NUL bytes are a ValueError before Python 3.12; a deeply nested expression
        # exhausts the parser's stack.
        return _syntax_fault(data, str(exc) or type(exc).__name__, 1)
    return None


def _syntax_fault(data: bytes, msg: str, line: int) -> Fault:
    text = data.decode("utf-8", "replace")
    marker = conflict_marker(text)
    if marker is not None:
        return marker
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return Fault(
            "unparseable",
            line,
            f"the file contains a NUL byte (line {line}), so Alembic will fail to load it. "
            "Remove it (the file was probably saved in a binary or UTF-16 encoding).",
        )
    if "decode" in msg or "UTF-8" in msg.upper():
        cookie = cookie_fault(data)
        if cookie is not None:
            return cookie
    return Fault(
        "unparseable",
        line,
        f"the file is not valid Python ({msg}), so Alembic will fail to load it. "
        "Fix the syntax error.",
    )


def conflict_marker(text: str) -> Fault | None:
    """Committed git conflict markers. A lone ``=======`` is a reStructuredText underline
    as often as a marker, so the conflict needs the opening or closing one."""
    if "<<<<<<<" not in text and ">>>>>>>" not in text:
        return None
    found = [m for m in _MARKER.finditer(text) if m.group(1)[0] in "<>"]
    if not found:
        return None
    first = found[0]
    line = text.count("\n", 0, first.start()) + 1
    return Fault(
        "conflict-markers",
        line,
        f"the file holds git conflict markers (`{first.group(1)}` on line {line}), so Alembic "
        "will fail to load it. Resolve the conflict (keep one side, delete the marker lines) "
        "and commit again.",
    )


def cookie_fault(data: bytes) -> Fault | None:
    """When DATA is not UTF-8 and has a cookie Python ignores, the fault that explains it."""
    ignored = _ignored_cookie(data)
    if ignored is None:
        return None
    return Fault(
        "unparseable",
        2,
        f"the coding cookie ({ignored}) is on line 2 after a line of code, so Python "
        "ignores it and reads the file as UTF-8, which fails: Alembic cannot load it. "
        "Move the cookie to the first line (or save the file as UTF-8).",
    )


def _ignored_cookie(data: bytes) -> str | None:
    """The encoding named by a cookie Python ignores: on line 2 after a line of code."""
    lines = data.split(b"\n", 2)
    if len(lines) < 2 or _BLANK_OR_COMMENT.match(lines[0]) is not None:
        return None
    m = _COOKIE_LINE.match(lines[1])
    return m.group(1).decode("ascii", "replace") if m else None


def missing_down_revision(text: str) -> bool:
    """True unless a star import may bind ``down_revision`` (Alembic reads the module
    attribute, which such an import can provide)."""
    return _STAR_IMPORT.search(text) is None
