"""Static reading of Alembic revision files: never imports them.

Real projects' migrations import the application, so importing them needs the whole
app installed, and it is slow. migfix reads the four module attributes Alembic uses
(``revision``, ``down_revision``, ``branch_labels``, ``depends_on``) and the docstring's
``Revises:`` line straight from the source.

Two paths give the same answer:

* a fast lexical path for the shape every Alembic template writes: module-level
  assignments at column 0, checked against a small lexer so that text inside strings,
  comments or brackets is never mistaken for an assignment;
* a full ``ast`` path for anything unusual (indented assignments, tuple unpacking,
  chained assignments, a value the fast path cannot read). ``ast.parse`` costs about
  20x the fast path, which matters on 5,000 files inside a git hook.

A value that is not a literal is never guessed: it is reported as :class:`Unknown`.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import ast

NAMES = ("revision", "down_revision", "branch_labels", "depends_on")

# Alembic: ScriptDirectory._from_path accepts these names only (no __init__, no emacs
# lock files, must end in .py); a module with no ``revision`` falls back to a hex name.
_SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_LEGACY_REV = re.compile(r"([a-f0-9]+)\.py$")
_ILLEGAL_REV_CHARS = frozenset("@-+:")

_ASSIGN = re.compile(
    r"(revision|down_revision|branch_labels|depends_on)[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*"
)
# Text before / after a name, inside a line, that may bind it at module level: chained
# and unpacking assignments, walrus, import, for, with/except ... as, def, class, del,
# global, match-case captures (a name right after one of these characters or words,
# see _binds_before). Occurrences anywhere else (comments, strings, reads) cannot.
# False positives only cost a trip through the ast path.
_BIND_CHARS = frozenset("=([,*")
_BIND_WORDS = ("def", "class", "as", "import", "for", "del", "global", "nonlocal", "case")
_INDENT = re.compile(r"[ \t\f]*")
_BIND_AFTER = re.compile(r"[ \t]*(?:=(?!=)|:=|,|\)|\])")
_FIND_WORDS = ("revision", "branch_labels", "depends_on")  # "revision" also finds down_revision
# Code between two statements that cannot hide a string or an open bracket.
_SAFE_GAP = re.compile(r"""(?:[^"'#(\[{\\\n]*(?:\#[^\n]*)?\n)*[^"'#(\[{\\\n]*""")
_DOCSTRING = re.compile(
    r"""(?:[ \t]*(?:\#[^\n]*)?\n)*([rRuU]?)(""" + '"""' + r"""|''')((?:[^\\]|\\.)*?)\2""", re.S
)
_SIMPLE_VALUE = re.compile(
    r"""(?:(None)|'([^'\\\n]*)'|"([^"\\\n]*)")[ \t]*(?:\#[^\n]*)?(?:\n|\Z)"""
)
_TOKEN = re.compile(
    r"""
    (?P<c>\#[^\n]*)
  | (?P<s>[rRbBuUfF]{0,2}(?:
        \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
      | '''(?:[^'\\]|\\.|'(?!''))*'''
      | "(?:[^"\\\n]|\\.)*"
      | '(?:[^'\\\n]|\\.)*'))
  | (?P<o>[(\[{])
  | (?P<x>[)\]}])
    """,
    re.X | re.S,
)
_REVISES = re.compile(r"^[ \t]*Revises:[ \t]*(.*?)[ \t]*$", re.M)
_COOKIE = re.compile(rb"[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_NO_CODE = re.compile(rb"[ \t\f]*(?:#|\r?$)")
_MAX_VALUE_LINES = 200
_MAX_VALUE_CHARS = 20_000
# Faults after which the file's fields cannot be trusted to be all there is.
_UNLOADABLE = frozenset(("unparseable", "unreadable", "conflict-markers"))


@dataclass(frozen=True)
class Unknown:
    """A value migfix will not guess: not a literal (a name, an attribute, a call...)."""

    source: str
    reason: str = "not a literal"


Value = tuple[str, ...] | Unknown
"""A literal is normalized like Alembic's ``util.to_tuple``: None -> (), 'a' -> ('a',)."""


class Issue(NamedTuple):
    """A fault found while reading one file (graph-level faults live in ``graph``)."""

    code: str
    line: int
    message: str
    severity: str = "error"


class Field(NamedTuple):
    # A NamedTuple, not a dataclass: four are built per file, on the hot path.
    value: Value
    line: int
    assigned: bool = True


_ABSENT = Field((), 0, assigned=False)


@dataclass(slots=True)
class RevisionFile:
    """What one revision file declares, read statically. Treat it as immutable (it is
    not frozen only because a frozen dataclass is ~3x slower to build, 5,000 times)."""

    path: Path
    revision: str | None
    revision_line: int
    down_revision: Field
    branch_labels: Field
    depends_on: Field
    revises: tuple[str, ...] | None
    """The docstring's ``Revises:`` header; None when there is none."""
    revises_line: int
    doc: str
    """First paragraph of the docstring (Alembic's ``Script.doc``)."""
    docstring: str = ""
    """The whole docstring, raw and stripped (Alembic's ``Script.longdoc``)."""
    issues: tuple[Issue, ...] = field(default=())
    checked: bool = True
    """The whole file was compiled, so ``issues`` says whether Python can load it. Only
    ``heads`` and ``graph`` skip that (see ``scan_file``'s ``full``)."""

    @property
    def down_revisions(self) -> tuple[str, ...]:
        v = self.down_revision.value
        return () if isinstance(v, Unknown) else v


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
    out: list[Path] = []
    if not directory.is_dir():
        return out
    for root, dirs, files in os.walk(directory, topdown=True):
        if root.endswith("__pycache__"):
            continue
        rootp = Path(root)
        match = _SOURCE_FILE.match
        out.extend(_child(rootp, name) for name in sorted(files) if match(name))
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
    from migfix.read import loadable

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
    found = _fast_scan(text)
    if found is None:
        found = _ast_scan(text)
    if fault is not None:
        # One report of why the file does not load: the compiler's (the ast path may
        # have seen the same syntax error, with a less precise message).
        found.issues = [i for i in found.issues if i.code != "unparseable"]
        found.issues.append(Issue(fault.code, fault.line, fault.message))
    elif "down_revision" not in found.fields and not loadable.missing_down_revision(text):
        found.down_imported = True
    rf = _build(path, found)
    rf.checked = full
    return rf


@dataclass(slots=True)
class _Found:
    fields: dict[str, Field] = field(default_factory=dict)
    doc: str | None = None
    doc_line: int = 0
    issues: list[Issue] = field(default_factory=list)
    down_imported: bool = False
    """``down_revision`` may come from a star import: its absence is no fault."""


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _fast_scan(text: str) -> _Found | None:
    """The template-shaped path. Returns None whenever the ast path must decide."""
    found = _Found()
    prev = 0
    lines = _name_lines(text)
    if lines is None:
        return None
    for line_start, name_start in lines:
        if name_start != line_start:
            if _ASSIGN.match(text, name_start) is not None:
                # An indented assignment: a function local, or a module-level if/try
                # block. Only the ast can tell which.
                return None
            continue
        m = _ASSIGN.match(text, line_start)
        if m is None or m.start() < prev:
            # Tuple unpacking, attribute access or the like at column 0.
            return None
        if not _plain_gap(text, prev, m.start(), found):
            return None
        read = _read_value(text, m.end())
        if read is None:
            return None
        value, prev = read
        found.fields[m.group(1)] = Field(value, _line_of(text, m.start()))
    if prev == 0:
        # No assignment at all: still read the docstring for the report.
        _plain_gap(text, 0, len(text), found)
    return found


def _name_lines(text: str) -> list[tuple[int, int]] | None:
    """(line start, name start) of each line whose first word is one of ``NAMES``;
    None when a name appears elsewhere in a place that may bind it.

    ``str.find`` is several times faster than a multi-line regex here, and this runs
    on every file of every ``migfix check``. The work per occurrence is bounded by the
    text right around it, never by the length of its line: a seed-data list of 300 KB on
    one line may mention ``revision`` thousands of times.
    """
    out: set[tuple[int, int]] = set()
    size = len(text)
    for word in _FIND_WORDS:
        line_start = 0
        searched = 0  # newlines before ``searched`` are accounted for in line_start
        i = text.find(word)
        while i >= 0:
            j = i + len(word)
            if j == size or not (text[j].isalnum() or text[j] == "_"):
                start = i - 5 if word == "revision" and text.endswith("down_", 0, i) else i
                # Occurrences come in increasing order: look for a newline only in the
                # text since the previous one.
                newline = text.rfind("\n", searched, start)
                if newline >= 0:
                    line_start = newline + 1
                searched = start
                indent = _INDENT.match(text, line_start, start)
                if indent is not None and indent.end() == start:
                    out.add((line_start, start))
                elif (
                    _binds_before(text, line_start, start) or _BIND_AFTER.match(text, j) is not None
                ) and text[start - 1] != ".":
                    # The name may be bound here by something other than a
                    # column-0 assignment (``x = revision = ...``, ``import``,
                    # ``for``, ``as``, ``def``...): only the ast can tell.
                    return None
            i = text.find(word, j)
    return sorted(out)


def _binds_before(text: str, line_start: int, start: int) -> bool:
    """True when the code before a name on its line ends in something that may bind it
    (``=``, ``(``, ``import``, ``as``...). Only the end of the span is looked at:
    searching the whole span made long lines quadratic."""
    end = start
    while end > line_start and text[end - 1] in " \t":
        end -= 1
    if end == line_start:
        return False
    if text[end - 1] in _BIND_CHARS:
        return True
    for word in _BIND_WORDS:
        begin = end - len(word)
        if (
            begin >= line_start
            and text.startswith(word, begin)
            and (begin == line_start or not (text[begin - 1].isalnum() or text[begin - 1] == "_"))
        ):
            return True
    return False


def _plain_gap(text: str, begin: int, stop: int, found: _Found) -> bool:
    """True when ``stop`` begins a statement: the code between ``begin`` (a statement
    boundary) and ``stop`` leaves no string, comment or bracket open. The first gap
    also yields the module docstring."""
    if begin == 0:
        doc = _DOCSTRING.match(text)
        if doc is not None and doc.end() <= stop:
            found.doc = doc.group(3)
            found.doc_line = _line_of(text, doc.start(2))
            begin = doc.end()
    if _SAFE_GAP.fullmatch(text, begin, stop) is not None:
        return True  # no string, bracket or continuation: only code words and comments
    depth = 0
    # Only the first string of the file can be its docstring: looking at every string
    # (each time slicing the text before it) made a long seed-data line quadratic.
    doc_candidate = begin == 0 and found.doc is None
    for tok in _TOKEN.finditer(text, begin):
        s = tok.start()
        if s >= stop:
            break
        if tok.end() > stop:
            return False  # ``stop`` lies inside a string or comment
        kind = tok.lastgroup
        if doc_candidate and kind == "s":
            doc_candidate = False
            if not text[:s].strip() or _only_comments(text[:s]):
                found.doc = _string_body(tok.group())
                found.doc_line = _line_of(text, s)
        if kind == "o":
            depth += 1
        elif kind == "x":
            depth -= 1
    return depth == 0


def _only_comments(prefix: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in prefix.split("\n"))


def _string_body(token: str) -> str | None:
    """The raw text inside a string token's quotes (None for bytes/f-strings)."""
    prefix = re.match(r"[rRbBuUfF]*", token)
    assert prefix is not None
    p = prefix.group().lower()
    if "b" in p or "f" in p:
        return None
    body = token[len(p) :]
    q = 3 if body[:3] in ('"""', "'''") else 1
    return body[q:-q]


def _read_value(text: str, pos: int) -> tuple[Value, int] | None:
    """The literal assigned at ``pos`` and where its statement ends; None when only
    the ast path can tell."""
    m = _SIMPLE_VALUE.match(text, pos)
    if m is not None:
        if m.group(1):
            return (), m.end()
        s = m.group(2) if m.group(2) is not None else m.group(3)
        return (s,), m.end()
    import ast  # only here: the template-shaped values above need no parser

    end = text.find("\n", pos)
    for _ in range(_MAX_VALUE_LINES):
        chunk = text[pos : len(text) if end < 0 else end]
        if not chunk.strip() or len(chunk) > _MAX_VALUE_CHARS:
            # `x =` with nothing after it: let the ast path report it. A value this long
            # is no revision id list; parsing ever longer chunks would be quadratic.
            return None
        try:
            node = ast.parse(chunk.strip(), mode="eval").body
        except SyntaxError:
            if end < 0:
                return None
            end = text.find("\n", end + 1)
            continue
        return literal(node, chunk.strip()), len(text) if end < 0 else end
    return None


def literal(node: ast.expr, source: str) -> Value:
    """Alembic's ``to_tuple`` of a literal expression, or Unknown for anything else."""
    import ast

    if isinstance(node, ast.Constant):
        if node.value is None:
            return ()
        if isinstance(node.value, str):
            return (node.value,)
        return Unknown(source, f"a {type(node.value).__name__}, not a string")
    if isinstance(node, (ast.Tuple, ast.List)):
        items: list[str] = []
        for elt in node.elts:
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                items.append(elt.value)
            else:
                return Unknown(source)
        return tuple(items)
    return Unknown(source)


def _ast_scan(text: str) -> _Found:
    import ast

    found = _Found()
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        found.issues.append(
            Issue(
                "unparseable",
                exc.lineno or 1,
                f"the file is not valid Python ({exc.msg}), so Alembic will fail to load it. "
                "Fix the syntax error.",
            )
        )
        return found
    doc_node = tree.body[0] if tree.body else None
    if (
        isinstance(doc_node, ast.Expr)
        and isinstance(doc_node.value, ast.Constant)
        and isinstance(doc_node.value.value, str)
    ):
        seg = ast.get_source_segment(text, doc_node.value)
        found.doc = _string_body(seg) if seg else doc_node.value.value
        found.doc_line = doc_node.lineno
    lines = text.split("\n")

    def src(node: ast.AST) -> str:
        seg = ast.get_source_segment(text, node)
        return seg if seg is not None else lines[getattr(node, "lineno", 1) - 1].strip()

    for stmt in tree.body:
        for name, line, value in _assignments(stmt, src):
            found.fields[name] = Field(value, line)
    return found


def _assignments(
    stmt: ast.stmt, source: Callable[[ast.AST], str]
) -> Iterator[tuple[str, int, Value]]:
    """Module-level bindings of the four names made by one statement, in order."""
    import ast

    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            yield from _bind(target, stmt.value, stmt.lineno, source)
    elif isinstance(stmt, ast.AnnAssign):
        if stmt.value is not None:
            yield from _bind(stmt.target, stmt.value, stmt.lineno, source)
    elif isinstance(stmt, ast.AugAssign):
        if isinstance(stmt.target, ast.Name) and stmt.target.id in NAMES:
            yield (
                stmt.target.id,
                stmt.lineno,
                Unknown(source(stmt), "changed by augmented assignment"),
            )
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            if bound in NAMES:
                yield bound, stmt.lineno, Unknown(source(stmt), "bound by an import")
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        if stmt.name in NAMES:
            yield stmt.name, stmt.lineno, Unknown(stmt.name, "bound by a def or class")
    else:
        # if/try/with/loops, and any expression statement (a walrus binds at module level)
        for node in _walk_no_scopes(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in NAMES:
                yield (
                    node.id,
                    node.lineno,
                    Unknown(source(node), "assigned inside a module-level if/try/with/loop block"),
                )


def _walk_no_scopes(node: ast.AST) -> Iterator[ast.AST]:
    import ast

    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield child
        yield from _walk_no_scopes(child)


def _bind(
    target: ast.expr, value: ast.expr, line: int, src: Callable[[ast.AST], str]
) -> Iterator[tuple[str, int, Value]]:
    import ast

    if isinstance(target, ast.Name):
        if target.id in NAMES:
            yield target.id, line, literal(value, src(value))
    elif isinstance(target, (ast.Tuple, ast.List)):
        names = [t for t in target.elts if isinstance(t, ast.Name) and t.id in NAMES]
        if not names:
            return
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
            for t, v in zip(target.elts, value.elts, strict=True):
                yield from _bind(t, v, line, src)
        else:
            for t in names:
                yield t.id, line, Unknown(src(value), "assigned by unpacking")


def _parse_revises(doc: str | None, doc_line: int) -> tuple[tuple[str, ...] | None, int]:
    if not doc or "Revises:" not in doc:
        return None, 0
    m = _REVISES.search(doc)
    if m is None:
        return None, 0
    ids = tuple(x.strip() for x in m.group(1).split(",") if x.strip())
    return ids, doc_line + doc.count("\n", 0, m.start())


def _build(path: Path, found: _Found) -> RevisionFile:
    issues = list(found.issues)
    fields = found.fields
    rev_field = fields.get("revision")
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
    down = fields.get("down_revision", _ABSENT)
    if (
        not down.assigned
        and revision is not None
        and not found.down_imported
        and not any(i.code in _UNLOADABLE for i in issues)
    ):
        issues.append(
            Issue(
                "missing-down-revision",
                revision_line or 1,
                "declares a revision but no `down_revision`, so Alembic cannot load it (it "
                "reads the module's down_revision). Add `down_revision = None` for a first "
                "revision, or the id of its parent.",
            )
        )
    if isinstance(down.value, Unknown):
        issues.append(
            Issue(
                "non-literal",
                down.line,
                f"down_revision is {down.value.reason} ({down.value.source}); migfix will not "
                "guess which revision it names. Replace it with the revision id(s) as string "
                "literals.",
            )
        )
    elif any(not x for x in down.value):
        issues.append(Issue("bad-value", down.line, "down_revision contains an empty string."))
    for name in ("branch_labels", "depends_on"):
        f = fields.get(name)
        if f is not None and isinstance(f.value, Unknown):
            issues.append(
                Issue(
                    "non-literal",
                    f.line,
                    f"{name} is {f.value.reason} ({f.value.source}); migfix treats it as "
                    "unknown. Use string literals so tools can read it.",
                    severity="warning",
                )
            )
    revises, revises_line = _parse_revises(found.doc, found.doc_line)
    doc = (found.doc or "").strip().split("\n\n")[0] if found.doc else ""
    return RevisionFile(
        path=path,
        revision=revision,
        revision_line=revision_line,
        down_revision=down,
        branch_labels=fields.get("branch_labels", _ABSENT),
        depends_on=fields.get("depends_on", _ABSENT),
        revises=revises,
        revises_line=revises_line,
        doc=doc,
        docstring=(found.doc or "").strip(),
        issues=tuple(issues),
    )


def _broken(path: Path, code: str, line: int, message: str) -> RevisionFile:
    return RevisionFile(
        path=path,
        revision=None,
        revision_line=0,
        down_revision=_ABSENT,
        branch_labels=_ABSENT,
        depends_on=_ABSENT,
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
    from migfix.read.scancache import LocationCache

    seen: set[str] = set()
    out: list[RevisionFile] = []
    # Only overlapping locations can reach a file twice; resolving every path costs
    # a few stat calls per file, so a single flat location skips it.
    dedupe = len(locations) > 1 or recursive
    for loc in locations:
        store = LocationCache(loc, recursive) if cache else None
        for p in list_revision_files(loc, recursive=recursive):
            name = str(p)
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
                out.append(_from_record(p, record))
                continue
            rf = scan_file(p, full=full)
            out.append(rf)
            store.put(name, stat, _to_record(rf))
        if store is not None:
            store.save()
    return out


def _field_record(f: Field) -> tuple[object, int, bool]:
    v = f.value
    # marshal keeps lists and tuples apart: a list marks an Unknown.
    return ([v.source, v.reason] if isinstance(v, Unknown) else v), f.line, f.assigned


def _field_from(rec: tuple[Any, int, bool]) -> Field:
    if type(rec[0]) is list:
        return Field(Unknown(*rec[0]), rec[1], rec[2])
    return Field(*rec)


def _to_record(rf: RevisionFile) -> tuple[object, ...]:
    return (
        rf.revision,
        rf.revision_line,
        _field_record(rf.down_revision),
        _field_record(rf.branch_labels),
        _field_record(rf.depends_on),
        rf.revises,
        rf.revises_line,
        rf.doc,
        rf.docstring,
        tuple(tuple(i) for i in rf.issues),
        rf.checked,
    )


def _from_record(path: Path, rec: tuple[Any, ...]) -> RevisionFile:
    rev, rev_line, down, labels, deps, revises, revises_line, doc, docstring, issues, checked = rec
    return RevisionFile(
        path,
        rev,
        rev_line,
        _field_from(down),
        _field_from(labels),
        _field_from(deps),
        revises,
        revises_line,
        doc,
        docstring,
        tuple(Issue(*i) for i in issues) if issues else (),
        checked,
    )


def scan_sources(
    sources: dict[Path, bytes], *, recursive: bool, locations: list[Path], full: bool = True
) -> list[RevisionFile]:
    """Same as :func:`scan_locations` for files given as bytes (e.g. read from git objects)."""
    by_loc: list[RevisionFile] = []
    for loc in locations:
        names = sorted(
            (p for p in sources if p.parent == loc or (recursive and loc in p.parents)),
            key=lambda p: _walk_key(p, loc),
        )
        for p in names:
            if _SOURCE_FILE.match(p.name) and "__pycache__" not in p.parts:
                by_loc.append(scan_file(p, sources[p], full=full))
    return by_loc


def _walk_key(p: Path, loc: Path) -> tuple[tuple[str, ...], str]:
    # os.walk top-down with sorted dirs lists a directory's files before its
    # sub-directories' files.
    rel = p.relative_to(loc)
    return (tuple(rel.parts[:-1]), rel.name)
