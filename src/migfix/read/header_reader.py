"""The fast lexical reader of a revision file's header, for the shape every Alembic template
writes: module-level assignments at column 0, checked against a small lexer so that text
inside strings, comments or brackets is never mistaken for an assignment. It answers None
whenever ``ast_reader`` must decide.
"""

from __future__ import annotations

import re

from migfix.read.ast_reader import literal, string_body
from migfix.read.revision_file import Field, Found, Value

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

# The letters those words end in: a name after anything else (a quote, a digit, a space
# in a seed-data row) needs no look at the words, which were half of reading a 300 KB line.
_BIND_WORD_ENDS = frozenset(word[-1] for word in _BIND_WORDS)


_INDENT = re.compile(r"[ \t\f]*")


_BIND_AFTER = re.compile(r"[ \t]*(?:=(?!=)|:=|,|\)|\])")


_FIND_WORDS = ("revision", "branch_labels", "depends_on")  # "revision" also finds down_revision


# Code between two statements that cannot hide a string or an open bracket.
_SAFE_GAP = re.compile(r"""(?:[^"'#(\[{\\\n]*(?:\#[^\n]*)?\n)*[^"'#(\[{\\\n]*""")


DOCSTRING = re.compile(
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


_MAX_VALUE_LINES = 200


_MAX_VALUE_CHARS = 20_000


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def header_scan(text: str) -> Found | None:
    """The template-shaped path. Returns None whenever the ast path must decide."""
    found = Found()
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
    if text[end - 1] not in _BIND_WORD_ENDS:
        return False
    for word in _BIND_WORDS:
        begin = end - len(word)
        if (
            begin >= line_start
            and text.startswith(word, begin)
            and (begin == line_start or not (text[begin - 1].isalnum() or text[begin - 1] == "_"))
        ):
            return True
    return False


def _leading_docstring(text: str, stop: int, found: Found) -> int:
    """Where the code after a docstring that opens the file (and ends before STOP) starts,
    the docstring kept in FOUND; 0 when there is none."""
    doc = DOCSTRING.match(text)
    if doc is None or doc.end() > stop:
        return 0
    found.doc = doc.group(3)
    found.doc_line = _line_of(text, doc.start(2))
    return doc.end()


def _plain_gap(text: str, begin: int, stop: int, found: Found) -> bool:
    """True when ``stop`` begins a statement: the code between ``begin`` (a statement
    boundary) and ``stop`` leaves no string, comment or bracket open. The first gap
    also yields the module docstring."""
    if begin == 0:
        begin = _leading_docstring(text, stop, found)
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
                found.doc = string_body(tok.group())
                found.doc_line = _line_of(text, s)
        if kind == "o":
            depth += 1
        elif kind == "x":
            depth -= 1
    return depth == 0


def _only_comments(prefix: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in prefix.split("\n"))


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
