"""The common rewrite without libcst: a template-shaped file whose ``down_revision`` is one
plain string literal.

Importing libcst costs ~150 ms, more than the rest of a ``migfix merge`` that only moves a
new revision. Files as Alembic's templates write them (``down_revision = 'abc'``, with or
without an annotation, one such line in the file, a module docstring with ``Revises:``) are
spliced directly, giving exactly the bytes ``rewrite.rewrite_parents`` gives through libcst
(a test compares both on real projects' files). Anything else returns None, and the caller
takes the libcst path.
"""

from __future__ import annotations

import re

from migfix.read.scan import scan_file

# The one assignment, at column 0: name, optional annotation, a plain string, an optional
# comment, the end of the line.
_LINE = re.compile(
    rb"(?m)^down_revision(?:[ \t]*:[^=\r\n]*)?[ \t]*=[ \t]*"
    rb"(?P<value>'(?P<s1>[^'\\\r\n]*)'|\"(?P<s2>[^\"\\\r\n]*)\")"
    rb"[ \t]*(?:#[^\r\n]*)?(?=\r\n|\r|\n|\Z)"
)
# A module docstring first (comments and blank lines may come before it), without prefix.
_DOC = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:[ \t]*(?:#[^\r\n]*)?(?:\r\n|\r|\n))*(\"\"\"|''')")
_REVISES = re.compile(rb"(?m)^([ \t]*Revises:)([ \t]*)([^\r\n]*?)([ \t]*)(?=\r\n|\r|\n|\Z)")
_ID = re.compile(r"[A-Za-z0-9_.]+")


def rewrite_parents(source: bytes, new_parents: tuple[str, ...]) -> bytes | None:
    """``rewrite.rewrite_parents(source, new_parents)`` for the plain shape, else None."""
    if not new_parents or not all(_ID.fullmatch(p) for p in new_parents):
        return None
    if source.count(b"down_revision") != 1:
        return None  # a second binding, a read, a comment: let libcst decide
    m = _LINE.search(source)
    if m is None:
        return None
    quote = m.group("value")[:1].decode("ascii")
    if len(new_parents) == 1:
        value = f"{quote}{new_parents[0]}{quote}"
    else:
        value = "(" + ", ".join(f"{quote}{p}{quote}" for p in new_parents) + ")"
    old = (m.group("s1") if m.group("s1") is not None else m.group("s2")).decode("latin-1")
    out = source
    if (old,) != new_parents:
        out = source[: m.start("value")] + value.encode("ascii") + source[m.end("value") :]
    result = _with_revises(out, new_parents)
    if result is None or not _reads_as(source, (old,)) or not _reads_as(result, new_parents):
        return None  # the line was not the binding Python keeps: libcst decides
    return source if result == source else result


def _reads_as(source: bytes, parents: tuple[str, ...]) -> bool:
    from pathlib import Path

    return scan_file(Path("x.py"), source, full=False).down_revision.value == parents


def _with_revises(source: bytes, parents: tuple[str, ...]) -> bytes | None:
    doc = _DOC.match(source)
    if doc is None:
        # libcst edits only a docstring's Revises: line; without one, a `Revises:` elsewhere
        # (a comment) stays as it is. Only plain files come this way.
        return source if b"Revises:" not in source else None
    quote = doc.group(1)
    start = doc.end()
    end = source.find(quote, start)
    if end < 0 or b"\\" in source[start:end]:
        return None
    inner = source[start:end]
    m = _REVISES.search(inner)
    if m is None:
        return source
    ids = ", ".join(parents).encode("ascii")
    gap = m.group(2) or (b" " if ids else b"")
    new_inner = inner[: m.start(2)] + gap + ids + m.group(4) + inner[m.end(4) :]
    return source[:start] + new_inner + source[end:]
