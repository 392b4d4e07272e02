"""migfix.read.scan: static reading of revision files, checked against the ast path
and real Alembic."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from migfix.read import ast_reader, revision_file, scan
from migfix.read.revision_file import Field, Issue, Unknown
from migfix.read.scan import list_revision_files, scan_file


def _scan(tmp_path: Path, source: str | bytes, name: str = "rev.py") -> revision_file.RevisionFile:
    path = tmp_path / name
    path.write_bytes(source.encode("utf-8") if isinstance(source, str) else source)
    return scan_file(path)


def _via_ast(path: Path) -> revision_file.RevisionFile:
    """The result of forcing the ast path on the same file."""
    text = scan.decode_source(path.read_bytes())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return scan._build(path, ast_reader.ast_scan(text))


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# -- assignments ---------------------------------------------------------------------------


def test_plain_assignments(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        _src(
            """
            \"\"\"add user

            Revision ID: aaaa0002
            Revises: aaaa0001
            Create Date: 2025-01-01 09:00:00

            \"\"\"
            from alembic import op

            # revision identifiers, used by Alembic.
            revision = 'aaaa0002'
            down_revision = 'aaaa0001'
            branch_labels = None
            depends_on = None
            """
        ),
    )
    assert f.revision == "aaaa0002"
    assert f.revision_line == 11
    assert f.down_revision == Field(("aaaa0001",), 12)
    assert f.branch_labels == Field((), 13)
    assert f.depends_on == Field((), 14)
    assert f.revises == ("aaaa0001",)
    assert f.revises_line == 4
    assert f.doc == "add user"
    assert f.issues == ()


def test_annotated_assignments(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        _src(
            """
            from typing import Sequence, Union

            revision: str = "bbbb0004"
            down_revision: Union[str, Sequence[str], None] = ("bbbb0002", "bbbb0003")
            branch_labels: Union[str, Sequence[str], None] = ("billing",)
            depends_on: Union[str, Sequence[str], None] = ["bbbb0001"]
            """
        ),
    )
    assert (f.revision, f.revision_line) == ("bbbb0004", 3)
    assert f.down_revisions == ("bbbb0002", "bbbb0003")
    assert f.branch_labels.value == ("billing",)
    assert f.depends_on.value == ("bbbb0001",)
    assert f.issues == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("None", ()),
        ("'a1'", ("a1",)),
        ('"a1"', ("a1",)),
        ("('a1',)", ("a1",)),
        ("['a1', 'b2']", ("a1", "b2")),
        ("(\n    'a1',\n    'b2',\n)", ("a1", "b2")),
        ("[  # parents\n    'a1',  # one\n    'b2'\n]", ("a1", "b2")),
        ("(\n'a1'\n)", ("a1",)),
        ("()", ()),
        ("'a1'  # comment", ("a1",)),
        ("'a\\x31'", ("a1",)),
        ("'''a1'''", ("a1",)),
        ("r'a1'", ("a1",)),
    ],
)
def test_literal_values(tmp_path: Path, value: str, expected: tuple[str, ...]) -> None:
    f = _scan(tmp_path, f"revision = 'r1'\ndown_revision = {value}\ndef upgrade():\n    pass\n")
    assert f.down_revision == Field(expected, 2)
    assert f.issues == ()
    assert f == _via_ast(f.path)


def test_assigned_twice_last_wins(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        "revision = 'r1'\ndown_revision = 'a'\nrevision: str = 'r2'\ndown_revision = None\n",
    )
    assert (f.revision, f.revision_line) == ("r2", 3)
    assert f.down_revision == Field((), 4)


def test_assignment_after_def_and_class(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        _src(
            """
            revision = 'r1'

            def upgrade():
                op.execute("x")

            class Helper:
                revision = 'not-this'

            down_revision = ('a',
                             'b')
            """
        ),
    )
    assert f.revision == "r1"
    assert f.down_revision == Field(("a", "b"), 9)


def test_indented_assignment_in_function_is_local(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        _src(
            """
            revision = 'r1'
            down_revision = 'r0'

            def upgrade():
                revision = 'local'
                down_revision = 'local'
            """
        ),
    )
    assert f.revision == "r1"
    assert f.down_revision == Field(("r0",), 2)
    assert f.issues == ()


def test_assignment_in_module_level_if_is_unknown(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        "revision = 'r1'\nif SOMETHING:\n    down_revision = 'a'\nelse:\n    down_revision = 'b'\n",
    )
    assert isinstance(f.down_revision.value, Unknown)
    assert f.down_revision.line == 5
    assert [(i.code, i.line, i.severity) for i in f.issues] == [("non-literal", 5, "error")]


def test_tuple_unpacking(tmp_path: Path) -> None:
    f = _scan(tmp_path, "revision, down_revision = 'r1', 'r0'\n")
    assert f.revision == "r1"
    assert f.down_revision == Field(("r0",), 1)
    g = _scan(tmp_path, "revision = 'r1'\nx, down_revision = pair\n", name="g.py")
    assert g.down_revision.value == Unknown("pair", "assigned by unpacking")


def test_chained_assignment(tmp_path: Path) -> None:
    f = _scan(tmp_path, "revision = down_revision = 'r1'\n")
    assert f.revision == "r1"
    assert f.down_revision.value == ("r1",)
    # the name is not the first word of the line: the fast path must still see it
    g = _scan(tmp_path, "revision = 'r1'\nold = down_revision = 'r0'\n", name="g.py")
    assert g.down_revision == Field(("r0",), 2)


@pytest.mark.parametrize(
    "binding",
    [
        "from ids import down_revision",
        "import down_revision",
        "for down_revision in ('a',): pass",
        "with ctx() as down_revision: pass",
        "(down_revision := 'a')",
        "global down_revision; down_revision = 'a'",
        "a, down_revision = f()",
        "down_revision += 'x'",
    ],
)
def test_other_bindings_are_never_guessed(tmp_path: Path, binding: str) -> None:
    f = _scan(tmp_path, f"revision = 'r1'\ndown_revision = None\n{binding}\n")
    # The compiler refuses `global` after an assignment; the ast path cannot see that.
    loads = tuple(i for i in f.issues if i.code != "unparseable")
    assert f._replace(issues=loads) == _via_ast(f.path)
    assert f.down_revision.value != ()


def test_encoding_cookie_latin1(tmp_path: Path) -> None:
    source = (
        "# -*- coding: latin-1 -*-\n"
        '"""Caf\xe9 cr\xe8me\n\nRevises: r0\n"""\n'
        "revision = 'r1'\ndown_revision = 'r0'\n"
    ).encode("latin-1")
    f = _scan(tmp_path, source)
    assert f.doc == "Caf\xe9 cr\xe8me"
    assert (f.revision, f.revision_line) == ("r1", 6)
    assert f.revises == ("r0",)
    assert f.issues == ()


def test_crlf(tmp_path: Path) -> None:
    lf = '"""doc\n\nRevises: r0\n"""\nrevision = \'r1\'\ndown_revision = (\n    \'r0\',\n)\n'
    a = _scan(tmp_path, lf, "a.py")
    b = _scan(tmp_path, lf.replace("\n", "\r\n"), "b.py")
    assert (b.revision, b.revision_line, b.down_revision, b.revises, b.revises_line, b.doc) == (
        a.revision,
        a.revision_line,
        a.down_revision,
        a.revises,
        a.revises_line,
        a.doc,
    )
    assert b.down_revision == Field(("r0",), 6)


def test_bom(tmp_path: Path) -> None:
    f = _scan(tmp_path, b"\xef\xbb\xbf" + b"revision = 'r1'\ndown_revision = None\n")
    assert f.revision == "r1"
    assert f.revision_line == 1
    assert f.issues == ()


def test_docstring_line_is_not_an_assignment(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        '"""Fix things\n\nrevision = \'fake\'\ndown_revision = \'fake\'\n"""\n'
        "revision = 'r1'\ndown_revision = None\n",
    )
    assert (f.revision, f.revision_line) == ("r1", 6)
    assert f.down_revision == Field((), 7)


def test_revision_inside_string_in_brackets(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        "revision = 'r1'\nSQL = (\n    'x'\n'''\nrevision = \"fake\"\n'''\n)\n"
        "down_revision = 'r0'\n",
    )
    assert f.revision == "r1"
    assert f.down_revision == Field(("r0",), 8)
    g = _scan(
        tmp_path, "revision = 'r1'\nx = f(\nrevision='kw')\ndown_revision = 'r0'\n", name="g.py"
    )
    assert g.revision == "r1"


def test_non_literal_revision_and_down_revision_are_errors(tmp_path: Path) -> None:
    f = _scan(tmp_path, "import ids\nrevision = ids.REV\ndown_revision = ids.PARENT\n")
    assert f.revision is None
    assert f.issues == (
        Issue(
            "non-literal",
            2,
            "revision is not a literal (ids.REV); migfix never guesses a revision id. Write the "
            "id as a string literal.",
        ),
        Issue(
            "non-literal",
            3,
            "down_revision is not a literal (ids.PARENT); migfix will not guess which revision "
            "it names. Replace it with the revision id(s) as string literals.",
        ),
    )


def test_non_literal_labels_and_depends_on_are_warnings(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        "from neutron.db import cli\nrevision = 'r1'\ndown_revision = 'r0'\n"
        "branch_labels = (cli.EXPAND_BRANCH,)\ndepends_on = make()\n",
    )
    assert f.revision == "r1"
    assert f.branch_labels == Field(Unknown("(cli.EXPAND_BRANCH,)"), 4)
    assert f.depends_on == Field(Unknown("make()"), 5)
    assert [(i.code, i.line, i.severity) for i in f.issues] == [
        ("non-literal", 4, "warning"),
        ("non-literal", 5, "warning"),
    ]
    assert f.issues[0].message == (
        "branch_labels is not a literal ((cli.EXPAND_BRANCH,)); migfix treats it as unknown. "
        "Use string literals so tools can read it."
    )


def test_file_that_does_not_parse(tmp_path: Path) -> None:
    f = _scan(tmp_path, "revision = 'r1'\ndown_revision = (\n")
    assert f.revision is None
    assert [(i.code, i.line) for i in f.issues] == [("unparseable", 2)]
    assert f.issues[0].message.startswith("the file is not valid Python (")


def test_file_without_revision(tmp_path: Path) -> None:
    f = _scan(tmp_path, "def helper():\n    pass\n", name="helpers.py")
    assert f.revision is None
    assert f.issues == (
        Issue(
            "missing-revision",
            1,
            "declares no `revision`, so Alembic cannot load it. Add `revision = '<id>'`, or "
            "move the file out of the versions folder.",
        ),
    )


def test_legacy_hex_filename(tmp_path: Path) -> None:
    f = _scan(tmp_path, "down_revision = None\n", name="1975ea83b712.py")
    assert f.revision == "1975ea83b712"
    assert f.issues == ()


def test_revises_header(tmp_path: Path) -> None:
    f = _scan(
        tmp_path,
        '"""merge\n\nRevision ID: m1\nRevises: a1, b2\nCreate Date: x\n"""\n'
        "revision = 'm1'\ndown_revision = ('a1', 'b2')\n",
    )
    assert f.revises == ("a1", "b2")
    assert f.revises_line == 4
    none = _scan(tmp_path, '"""base\n\nRevises:\n"""\nrevision = "b"\n', name="b.py")
    assert none.revises == ()
    absent = _scan(tmp_path, "revision = 'c'\n", name="c.py")
    assert absent.revises is None


# -- fast path == ast path == Alembic ------------------------------------------------------

_ids = st.text(alphabet="abcdef0123456789", min_size=4, max_size=12)
_quote = st.sampled_from(["'", '"'])


@st.composite
def _value(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    """(source text, Alembic's to_tuple of it)."""
    q = draw(_quote)
    kind = draw(st.sampled_from(["none", "str", "tuple", "list", "multiline", "paren"]))
    items = draw(st.lists(_ids, min_size=1, max_size=3))
    comment = draw(st.sampled_from(["", "  # comment", "  # revision = 'x'"]))
    if kind == "none":
        return "None" + comment, ()
    if kind == "str":
        return f"{q}{items[0]}{q}{comment}", (items[0],)
    if kind == "paren":
        return f"({q}{items[0]}{q}){comment}", (items[0],)
    quoted = [f"{q}{x}{q}" for x in items]
    if kind == "tuple":
        return "(" + ", ".join(quoted) + ("," if len(items) == 1 else "") + ")" + comment, tuple(
            items
        )
    if kind == "list":
        return "[" + ", ".join(quoted) + "]" + comment, tuple(items)
    return "(" + comment + "\n" + "".join(f"    {x},\n" for x in quoted) + ")", tuple(items)


_ANNOTATION = {
    "revision": ": str",
    "down_revision": ": Union[str, Sequence[str], None]",
    "branch_labels": ": Union[str, Sequence[str], None]",
    "depends_on": ": Union[str, Sequence[str], None]",
}

_DOCSTRINGS = [
    '"""Add a table\n\nRevision ID: {rev}\nRevises: {down}\nCreate Date: 2025-01-01\n\n"""',
    "'''Fix it\n\nrevision = 'fake'\ndown_revision = 'fake'\n'''",
    '"""Tricky \\"quotes\\" and \'\'\' inside\nRevises: {down}\n"""',
    "r'''raw \\d+ text\n'''",
    '"""one line"""',
    "",
]

_FILLERS = [
    "",
    "# a comment with revision = 'x'",
    "from alembic import op\nimport sqlalchemy as sa",
    "from typing import Sequence, Union",
    "X = {\n    'revision': 1,\n}",
    "def helper():\n    revision = 'local'\n    return revision",
    "class Model:\n    down_revision = 'nope'",
    "SQL = '''\nrevision = 'in a string'\n'''",
    "if False:\n    pass",
    "str('down_revision = 1')",
]


_BINDINGS = [
    "old = down_revision = 'zz'",
    "x, depends_on = 1, 'zz'",
    "from ids import branch_labels",
    "for revision in ['zz']: pass",
    "if True:\n    down_revision = 'zz'",
    "(depends_on := 'zz')",
    "def revision(): pass",
    "import ids as depends_on",
    "del branch_labels",
    "match 'zz':\n    case revision:\n        pass",
]


@st.composite
def revision_sources(draw: st.DrawFn) -> tuple[str, dict[str, tuple[str, ...]]]:
    """A revision module and the values Alembic would import from it."""
    rev = draw(_ids)
    values: dict[str, tuple[str, ...]] = {}
    statements: list[str] = []
    names = draw(st.permutations(list(revision_file.NAMES)))
    present = [n for n in names if n == "revision" or draw(st.booleans())]
    for name in present:
        if name == "revision":
            q = draw(_quote)
            text, val = f"{q}{rev}{q}", (rev,)
        else:
            text, val = draw(_value())
        ann = _ANNOTATION[name] if draw(st.booleans()) else ""
        if draw(st.integers(0, 9)) == 0:
            # assigned twice: an earlier value that the later one replaces
            statements.append(f"{name}{ann} = 'earlier'")
        statements.append(f"{name}{ann} = {text}")
        values[name] = val
        if draw(st.booleans()):
            statements.append(draw(st.sampled_from(_FILLERS)))
        statements.append("\n" * draw(st.integers(0, 2)))
    down = ", ".join(values.get("down_revision", ()))
    doc = draw(st.sampled_from(_DOCSTRINGS)).format(rev=rev, down=down)
    head = [doc] if doc else []
    if draw(st.booleans()):
        head.insert(0, "# -*- coding: utf-8 -*-")
    body = [*head, *statements, "def upgrade():\n    pass"]
    if draw(st.integers(0, 4)) == 0:
        # a binding the fast path cannot read: only fast == ast is checked then
        body.append(draw(st.sampled_from(_BINDINGS)))
        values = {}
    return "\n".join(body) + "\n", values


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(revision_sources())
def test_fast_path_equals_ast_path(
    tmp_path: Path, case: tuple[str, dict[str, tuple[str, ...]]]
) -> None:
    source, values = case
    path = tmp_path / "rev.py"
    path.write_text(source, encoding="utf-8")
    fast = scan_file(path)
    assert fast == _via_ast(path)
    if not values:
        return
    assert fast.revision == values["revision"][0]
    for name in ("down_revision", "branch_labels", "depends_on"):
        assert getattr(fast, name).value == values.get(name, ())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(revision_sources())
def test_scan_equals_what_alembic_imports(
    tmp_path: Path, case: tuple[str, dict[str, tuple[str, ...]]]
) -> None:
    from alembic import util

    source, values = case
    assume(values)  # bindings the scanner reports as unknown may not even import
    folder = tmp_path / "versions"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    path = folder / "rev_module.py"
    path.write_text("from typing import Sequence, Union\n" + source, encoding="utf-8")
    module = util.load_python_file(str(folder), path.name)
    f = scan_file(path)
    assert f.revision == module.revision
    assert f.down_revisions == util.to_tuple(getattr(module, "down_revision", None), default=())
    assert f.branch_labels.value == util.to_tuple(
        getattr(module, "branch_labels", None), default=()
    )
    assert f.depends_on.value == util.to_tuple(getattr(module, "depends_on", None), default=())
    if "\\" not in source:  # migfix keeps the docstring raw; Python applies escapes
        assert f.docstring == (module.__doc__ or "").strip()


# -- which files -----------------------------------------------------------------------------


def _alembic_picks(directory: Path, *, recursive: bool) -> list[Path]:
    from alembic.script import Script, ScriptDirectory
    from alembic.script.base import _only_source_rev_file

    sd = ScriptDirectory(str(directory), recursive_version_locations=recursive)
    return [p for p in Script._list_py_dir(sd, directory) if _only_source_rev_file.match(p.name)]


@pytest.mark.parametrize("recursive", [False, True])
def test_list_revision_files_picks_what_alembic_picks(tmp_path: Path, recursive: bool) -> None:
    versions = tmp_path / "versions"
    for rel in [
        "b_second.py",
        "a_first.py",
        "__init__.py",
        "a_first.pyc",
        "x.py~",
        ".#x.py",
        "README",
        "notes.txt",
        "__pycache__/a_first.cpython-312.pyc",
        "__pycache__/cached.py",
        "2025/c_third.py",
        "2025/__init__.py",
        "2024/d_fourth.py",
        "2024/deeper/e_fifth.py",
        "2024/deeper/.#e_fifth.py",
    ]:
        p = versions / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("revision = 'x'\n")
    mine = list_revision_files(versions, recursive=recursive)
    assert mine == _alembic_picks(versions, recursive=recursive)
    names = [p.relative_to(versions).as_posix() for p in mine]
    if recursive:
        assert names == [
            "a_first.py",
            "b_second.py",
            "2024/d_fourth.py",
            "2024/deeper/e_fifth.py",
            "2025/c_third.py",
        ]
    else:
        assert names == ["a_first.py", "b_second.py"]


def test_list_revision_files_on_recursive_fixture(fixtures_dir: Path) -> None:
    versions = fixtures_dir / "recursive" / "migrations" / "versions"
    for recursive in (False, True):
        assert list_revision_files(versions, recursive=recursive) == _alembic_picks(
            versions, recursive=recursive
        )


def test_scan_locations_reads_an_overlapping_file_once(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    (versions / "sub").mkdir(parents=True)
    (versions / "sub" / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    files = scan.scan_locations([versions, versions / "sub"], recursive=True)
    assert [f.revision for f in files] == ["a"]
