"""Static reading of Alembic revision files: never imports them.

Real projects' migrations import the application, so importing them needs the whole
app installed, and it is slow. migfix reads the four module attributes Alembic uses
(``revision``, ``down_revision``, ``branch_labels``, ``depends_on``) and the docstring's
``Revises:`` line straight from the source.

This module lists and decodes the files, and builds each :class:`RevisionFile` (with its
faults) from what one of two readers found; both give the same answer:

* ``header_reader``, a fast lexical path for the shape every Alembic template writes;
* ``ast_reader``, the full ``ast`` path for anything unusual. ``ast.parse`` costs about
  20x the fast path, which matters on 5,000 files inside a git hook.

Unchanged files come from the scan cache (``scancache``, which also holds their records).
A value that is not a literal is never guessed: it is reported as ``Unknown``.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.read.revision_file import ABSENT, Field, Found, Issue, RevisionFile, Unknown
from migfix.read.scancache import LocationCache, from_record, to_record

if TYPE_CHECKING:
    pass


# Alembic: ScriptDirectory._from_path accepts these names only (no __init__, no emacs
# lock files, must end in .py); a module with no ``revision`` falls back to a hex name.
SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_LEGACY_REV = re.compile(r"([a-f0-9]+)\.py$")
_ILLEGAL_REV_CHARS = frozenset("@-+:")

_REVISES = re.compile(r"^[ \t]*Revises:[ \t]*(.*?)[ \t]*$", re.M)
_COOKIE = re.compile(rb"[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_NO_CODE = re.compile(rb"[ \t\f]*(?:#|\r?$)")
# Faults after which the file's fields cannot be trusted to be all there is.
_UNLOADABLE = frozenset(("unparseable", "unreadable", "conflict-markers"))


def _join(parent: Path, name: str) -> Path:
    return parent / name


# ``parent / name`` parses ``name`` again; pathlib's own glob uses this private helper
# to skip that for a bare file name (4x faster, and this runs for every file of every
# run). Fall back to ``/`` on a Python whose pathlib lacks it.
_child: Callable[[Path, str], Path] = getattr(Path, "_make_child_relpath", _join)


def list_revision_files(directory: Path, *, recursive: bool) -> list[Path]:
    """The files Alembic would load from one version location, in Alembic's order.

    Same walk as ``Script._list_py_dir`` (sorted file names, top-down, sorted
    sub-directories, ``__pycache__`` skipped) and the same name filter as
    ``Script._from_path``.
    """
    return [p for p, _ in _revision_files(directory, recursive=recursive)]


def _revision_files(directory: Path, *, recursive: bool) -> list[tuple[Path, str]]:
    """``list_revision_files``, each path with its name as a string, as ``os.walk`` joins it
    (``str(path)`` too, but for a location spelled ``.``): the scan cache's key and
    ``os.stat`` need the string, and ``str(path)`` building it again from the path's parts
    was 17M instructions (3%) of a 5,000-file ``heads`` (callgrind)."""
    out: list[tuple[Path, str]] = []
    if not directory.is_dir():
        return out
    join = os.path.join
    for root, dirs, files in os.walk(directory, topdown=True):
        if root.endswith("__pycache__"):
            continue
        rootp = Path(root)
        match = SOURCE_FILE.match
        out.extend((_child(rootp, name), join(root, name)) for name in sorted(files) if match(name))
        if not recursive:
            break
        dirs.sort()
    return out


def decode_source(data: bytes) -> str:
    """Decode like the interpreter: a BOM, else a PEP 263 cookie, else UTF-8.

    As in Python, a cookie counts on the first line, or on the second when the first
    holds no code (a shebang, a comment, nothing): a cookie after code is ignored.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8")
    encoding = "utf-8"
    if b"coding" in data[: data.find(b"\n", data.find(b"\n") + 1) + 1 or len(data)]:
        first, _, rest = data.partition(b"\n")
        m = _COOKIE.match(first)
        if m is None and _NO_CODE.match(first) is not None:
            m = _COOKIE.match(rest.partition(b"\n")[0])
        if m is not None:
            encoding = m.group(1).decode("ascii")
    return data.decode(encoding)


def scan_file(path: Path, data: bytes | None = None, *, full: bool = True) -> RevisionFile:
    """Read one revision file statically. Faults are reported in ``issues``, never raised.

    With ``full`` (the default), the whole file is also compiled, as importing it would
    (``migfix.read.loadable``): a file Alembic cannot load is a fault even when its header
    reads fine. That costs ~10x the header scan; the scan cache keeps the result, so it
    happens once per change. ``heads`` and ``graph`` only print the graph and skip it.
    """
    # Here, not at the top: only a file the scan cache does not hold is read, and these
    # readers' regular expressions and the compile check are 12M instructions of the start
    # of every `heads` and `check` that finds every file in the cache (callgrind).
    from migfix.read import loadable
    from migfix.read.ast_reader import ast_scan
    from migfix.read.header_reader import header_scan

    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return _broken(path, "unreadable", 0, f"cannot read the file: {exc.strerror}")
    try:
        text = decode_source(data)
    except (UnicodeDecodeError, LookupError) as exc:
        fault = loadable.cookie_fault(data)
        if fault is not None:
            return _broken(path, fault.code, fault.line, fault.message)
        return _broken(path, "unparseable", 1, f"cannot decode the file: {exc}")
    fault = loadable.compile_fault(path, data) if full else None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    found = header_scan(text)
    if found is None:
        found = ast_scan(text)
    if fault is not None:
        # One report of why the file does not load: the compiler's (the ast path may
        # have seen the same syntax error, with a less precise message).
        found.issues = [i for i in found.issues if i.code != "unparseable"]
        found.issues.append(Issue(fault.code, fault.line, fault.message))
    elif "down_revision" not in found.fields and not loadable.missing_down_revision(text):
        found.down_imported = True
    return _build(path, found, checked=full)


def _parse_revises(doc: str | None, doc_line: int) -> tuple[tuple[str, ...] | None, int]:
    if not doc or "Revises:" not in doc:
        return None, 0
    m = _REVISES.search(doc)
    if m is None:
        return None, 0
    ids = tuple(x.strip() for x in m.group(1).split(",") if x.strip())
    return ids, doc_line + doc.count("\n", 0, m.start())


def _build(path: Path, found: Found, *, checked: bool = True) -> RevisionFile:
    issues = list(found.issues)
    fields = found.fields
    revision, revision_line = _revision(path, fields.get("revision"), issues)
    down = fields.get("down_revision", ABSENT)
    issues.extend(_value_issues(found, revision, revision_line, down, issues))
    revises, revises_line = _parse_revises(found.doc, found.doc_line)
    doc = (found.doc or "").strip().split("\n\n")[0] if found.doc else ""
    return RevisionFile(
        path=path,
        revision=revision,
        revision_line=revision_line,
        down_revision=down,
        branch_labels=fields.get("branch_labels", ABSENT),
        depends_on=fields.get("depends_on", ABSENT),
        revises=revises,
        revises_line=revises_line,
        doc=doc,
        docstring=(found.doc or "").strip(),
        issues=tuple(issues),
        checked=checked,
    )


def _revision(path: Path, rev_field: Field | None, issues: list[Issue]) -> tuple[str | None, int]:
    """The file's revision id and its line; a fault about it goes to ISSUES."""
    revision: str | None = None
    revision_line = 0
    if rev_field is not None:
        revision_line = rev_field.line
        v = rev_field.value
        if isinstance(v, Unknown):
            issues.append(
                Issue(
                    "non-literal",
                    rev_field.line,
                    f"revision is {v.reason} ({v.source}); migfix never guesses a revision id. "
                    "Write the id as a string literal.",
                )
            )
        elif len(v) != 1 or not v[0]:
            issues.append(
                Issue("bad-value", rev_field.line, "revision must be one non-empty string.")
            )
        else:
            revision = v[0]
    elif not any(i.code in _UNLOADABLE for i in issues):
        m = _LEGACY_REV.match(path.name)
        if m:
            # Alembic 0.1 files: the id comes from the file name.
            revision = m.group(1)
        else:
            issues.append(
                Issue(
                    "missing-revision",
                    1,
                    "declares no `revision`, so Alembic cannot load it. Add "
                    "`revision = '<id>'`, or move the file out of the versions folder.",
                )
            )
    if revision is not None:
        bad = sorted(set(revision) & _ILLEGAL_REV_CHARS)
        if bad:
            issues.append(
                Issue(
                    "bad-value",
                    revision_line,
                    f"revision id '{revision}' contains {', '.join(bad)}, which Alembic "
                    "does not allow in revision ids.",
                )
            )
    return revision, revision_line


def _value_issues(
    found: Found, revision: str | None, revision_line: int, down: Field, issues: list[Issue]
) -> list[Issue]:
    """Faults of ``down_revision``, ``branch_labels`` and ``depends_on`` (ISSUES: so far)."""
    fields = found.fields
    out: list[Issue] = []
    if (
        not down.assigned
        and revision is not None
        and not found.down_imported
        and not any(i.code in _UNLOADABLE for i in issues)
    ):
        out.append(
            Issue(
                "missing-down-revision",
                revision_line or 1,
                "declares a revision but no `down_revision`, so Alembic cannot load it (it "
                "reads the module's down_revision). Add `down_revision = None` for a first "
                "revision, or the id of its parent.",
            )
        )
    if isinstance(down.value, Unknown):
        out.append(
            Issue(
                "non-literal",
                down.line,
                f"down_revision is {down.value.reason} ({down.value.source}); migfix will not "
                "guess which revision it names. Replace it with the revision id(s) as string "
                "literals.",
            )
        )
    elif any(not x for x in down.value):
        out.append(Issue("bad-value", down.line, "down_revision contains an empty string."))
    for name in ("branch_labels", "depends_on"):
        f = fields.get(name)
        if f is not None and isinstance(f.value, Unknown):
            out.append(
                Issue(
                    "non-literal",
                    f.line,
                    f"{name} is {f.value.reason} ({f.value.source}); migfix treats it as "
                    "unknown. Use string literals so tools can read it.",
                    severity="warning",
                )
            )
    return out


def _broken(path: Path, code: str, line: int, message: str) -> RevisionFile:
    return RevisionFile(
        path=path,
        revision=None,
        revision_line=0,
        down_revision=ABSENT,
        branch_labels=ABSENT,
        depends_on=ABSENT,
        revises=None,
        revises_line=0,
        doc="",
        issues=(Issue(code, line, message),),
    )


def scan_locations(
    locations: tuple[Path, ...] | list[Path],
    *,
    recursive: bool,
    cache: bool = True,
    full: bool = True,
) -> list[RevisionFile]:
    """Every revision file of a project, in Alembic's load order, each read once.

    A file reached twice (overlapping version locations) is read once, as Alembic does.
    Unchanged files are taken from the scan cache (``migfix.read.scancache``) without being
    read; with ``full``, a cached entry made without compiling the file is redone.
    """
    seen: set[str] = set()
    out: list[RevisionFile] = []
    # Only overlapping locations can reach a file twice; resolving every path costs
    # a few stat calls per file, so a single flat location skips it.
    dedupe = len(locations) > 1 or recursive
    for loc in locations:
        store = LocationCache(loc, recursive) if cache else None
        for p, name in _revision_files(loc, recursive=recursive):
            if dedupe:
                real = os.path.realpath(name)
                if real in seen:
                    continue
                seen.add(real)
            if store is None:
                out.append(scan_file(p, full=full))
                continue
            try:
                stat = os.stat(name)
            except OSError:
                out.append(scan_file(p, full=full))
                continue
            record = store.get(name, stat)
            if record is not None and (record[-1] or not full):
                out.append(from_record(p, record))
                continue
            rf = scan_file(p, full=full)
            out.append(rf)
            store.put(name, stat, to_record(rf))
        if store is not None:
            store.save()
    return out


def scan_sources(
    sources: dict[Path, bytes], *, recursive: bool, locations: list[Path], full: bool = True
) -> list[RevisionFile]:
    """Same as :func:`scan_locations` for files given as bytes (e.g. read from git objects)."""
    by_loc: list[RevisionFile] = []
    for loc in locations:
        names = sorted(
            (p for p in sources if p.parent == loc or (recursive and loc in p.parents)),
            key=lambda p: walk_key(p, loc),
        )
        for p in names:
            if SOURCE_FILE.match(p.name) and "__pycache__" not in p.parts:
                by_loc.append(scan_file(p, sources[p], full=full))
    return by_loc


def walk_key(p: Path, loc: Path) -> tuple[tuple[str, ...], str]:
    # os.walk top-down with sorted dirs lists a directory's files before its
    # sub-directories' files.
    rel = p.relative_to(loc)
    return (tuple(rel.parts[:-1]), rel.name)
