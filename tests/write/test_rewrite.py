from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, python
from hypothesis import given, settings
from hypothesis import strategies as st

from migfix.errors import Refusal, ScanError
from migfix.plan.records import FileChange
from migfix.write.rewrite import replace_parent, rewrite_parents
from migfix.write.txn import write_changes

PATH = Path("migrations/versions/aaaa0002_add_users.py")

# Alembic 1.20's generic template, rendered for a revision with one parent.
ALEMBIC_TYPED = '''\
"""add users

Revision ID: aaaa0002
Revises: aaaa0001
Create Date: 2026-01-02 03:04:05.000006

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'aaaa0002'
down_revision: Union[str, Sequence[str], None] = 'aaaa0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
'''

# Flask-Migrate's template: no annotations.
FLASK_MIGRATE = '''\
"""add users

Revision ID: aaaa0002
Revises: aaaa0001
Create Date: 2026-01-02 03:04:05.000006

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aaaa0002'
down_revision = 'aaaa0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''

NOT_LITERAL_TAIL = (
    "; migfix will not guess what it means. Replace it with the revision id(s) it stands "
    "for, or edit this revision's parents by hand."
)


def rewrite(text: str, *parents: str) -> str:
    return rewrite_parents(text.encode(), parents, path=PATH).decode()


def test_alembic_typed_template_becomes_a_merge() -> None:
    assert rewrite(ALEMBIC_TYPED, "aaaa0001", "bbbb0001") == ALEMBIC_TYPED.replace(
        "Revises: aaaa0001\n", "Revises: aaaa0001, bbbb0001\n"
    ).replace(
        "down_revision: Union[str, Sequence[str], None] = 'aaaa0001'\n",
        "down_revision: Union[str, Sequence[str], None] = ('aaaa0001', 'bbbb0001')\n",
    )


def test_alembic_typed_template_first_revision_gets_a_parent() -> None:
    # Alembic renders "Revises: " (trailing space) and None for a first revision.
    source = ALEMBIC_TYPED.replace("Revises: aaaa0001\n", "Revises: \n").replace(
        "None] = 'aaaa0001'", "None] = None"
    )
    assert "Revises: \n" in source

    assert rewrite(source, "bbbb0001") == ALEMBIC_TYPED.replace(
        "Revises: aaaa0001\n", "Revises: bbbb0001\n"
    ).replace("None] = 'aaaa0001'", "None] = 'bbbb0001'")


def test_alembic_typed_template_back_to_no_parent() -> None:
    assert rewrite(ALEMBIC_TYPED) == ALEMBIC_TYPED.replace(
        "Revises: aaaa0001\n", "Revises: \n"
    ).replace("None] = 'aaaa0001'", "None] = None")


def test_flask_migrate_template() -> None:
    assert (
        rewrite(FLASK_MIGRATE, "bbbb0001")
        == '''\
"""add users

Revision ID: aaaa0002
Revises: bbbb0001
Create Date: 2026-01-02 03:04:05.000006

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aaaa0002'
down_revision = 'bbbb0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''
    )


def test_double_quotes_and_prefix_are_kept() -> None:
    source = 'revision = "aaaa0002"\ndown_revision = "aaaa0001"  # parent\n'
    assert rewrite(source, "bbbb0001") == (
        'revision = "aaaa0002"\ndown_revision = "bbbb0001"  # parent\n'
    )
    assert rewrite(source, "aaaa0001", "bbbb0001") == (
        'revision = "aaaa0002"\ndown_revision = ("aaaa0001", "bbbb0001")  # parent\n'
    )
    assert rewrite("down_revision = u'aaaa0001'\n", "bbbb0001") == ("down_revision = u'bbbb0001'\n")


def test_none_takes_the_quote_style_of_revision() -> None:
    source = 'revision = "aaaa0002"\ndown_revision = None\n'
    assert rewrite(source, "aaaa0001") == 'revision = "aaaa0002"\ndown_revision = "aaaa0001"\n'
    # Without a revision string to follow, write what Alembic's repr() writes.
    assert rewrite("down_revision = None\n", "aaaa0001") == "down_revision = 'aaaa0001'\n"


MULTILINE = '''\
"""merge

Revision ID: cccc0001
Revises: aaaa0001, bbbb0001
"""
revision = "cccc0001"
down_revision = (
    "aaaa0001",  # main line
    # the payments feature
    "bbbb0001",  # payments
)
'''


def test_multiline_tuple_members_are_replaced_in_place() -> None:
    assert (
        rewrite(MULTILINE, "aaaa0009", "bbbb0001")
        == '''\
"""merge

Revision ID: cccc0001
Revises: aaaa0009, bbbb0001
"""
revision = "cccc0001"
down_revision = (
    "aaaa0009",  # main line
    # the payments feature
    "bbbb0001",  # payments
)
'''
    )


def test_multiline_tuple_replace_one_member_by_two() -> None:
    result = replace_parent(MULTILINE.encode(), "aaaa0001", ("dddd0001", "eeee0001"), path=PATH)

    assert (
        result.decode()
        == '''\
"""merge

Revision ID: cccc0001
Revises: dddd0001, eeee0001, bbbb0001
"""
revision = "cccc0001"
down_revision = (
    "dddd0001",
    "eeee0001",  # main line
    # the payments feature
    "bbbb0001",  # payments
)
'''
    )


def test_multiline_tuple_gains_a_member_at_the_end() -> None:
    assert (
        rewrite(MULTILINE, "aaaa0001", "bbbb0001", "cccc0000")
        == '''\
"""merge

Revision ID: cccc0001
Revises: aaaa0001, bbbb0001, cccc0000
"""
revision = "cccc0001"
down_revision = (
    "aaaa0001",  # main line
    # the payments feature
    "bbbb0001",
    "cccc0000",  # payments
)
'''
    )


def test_single_line_tuple_keeps_other_members() -> None:
    source = "down_revision: Union[str, Sequence[str], None] = ('aaaa0001', 'bbbb0001')\n"
    assert replace_parent(source.encode(), "bbbb0001", "bbbb0002", path=PATH).decode() == (
        "down_revision: Union[str, Sequence[str], None] = ('aaaa0001', 'bbbb0002')\n"
    )
    assert rewrite(source, "aaaa0001") == (
        "down_revision: Union[str, Sequence[str], None] = 'aaaa0001'\n"
    )


def test_one_member_tuple_grows_without_a_stray_comma() -> None:
    assert rewrite("down_revision = ('aaaa0001',)\n", "aaaa0001", "bbbb0001") == (
        "down_revision = ('aaaa0001', 'bbbb0001')\n"
    )
    # Same count: replaced in place, the tuple stays a tuple.
    assert rewrite("down_revision = ('aaaa0001',)\n", "bbbb0001") == (
        "down_revision = ('bbbb0001',)\n"
    )


def test_list_value_stays_a_list() -> None:
    assert rewrite("down_revision = ['aaaa0001', 'bbbb0001']\n", "aaaa0001", "cccc0001") == (
        "down_revision = ['aaaa0001', 'cccc0001']\n"
    )


def test_crlf_file_stays_crlf() -> None:
    source = FLASK_MIGRATE.replace("\n", "\r\n").encode()

    result = rewrite_parents(source, ("aaaa0001", "bbbb0001"), path=PATH)

    expected = (
        FLASK_MIGRATE.replace("Revises: aaaa0001\n", "Revises: aaaa0001, bbbb0001\n")
        .replace("down_revision = 'aaaa0001'", "down_revision = ('aaaa0001', 'bbbb0001')")
        .replace("\n", "\r\n")
        .encode()
    )
    assert result == expected


def test_crlf_multiline_tuple_new_lines_are_crlf() -> None:
    source = b"down_revision = (\r\n    'aaaa0001',\r\n)\r\n"
    assert rewrite_parents(source, ("aaaa0001", "bbbb0001"), path=PATH) == (
        b"down_revision = (\r\n    'aaaa0001',\r\n    'bbbb0001',\r\n)\r\n"
    )


def test_bom_is_kept() -> None:
    source = b'\xef\xbb\xbf"""Caf\xc3\xa9.\n\nRevises: aaaa0001\n"""\ndown_revision = "aaaa0001"\n'

    assert rewrite_parents(source, ("bbbb0001",), path=PATH) == (
        b'\xef\xbb\xbf"""Caf\xc3\xa9.\n\nRevises: bbbb0001\n"""\ndown_revision = "bbbb0001"\n'
    )


def test_latin1_cookie_and_bytes_are_kept() -> None:
    source = (
        b"# -*- coding: latin-1 -*-\n"
        b'"""Ajoute le caf\xe9.\n\nRevises: aaaa0001\n"""\n'
        b"# r\xe9vision\n"
        b"down_revision = 'aaaa0001'\n"
    )

    assert rewrite_parents(source, ("bbbb0001",), path=PATH) == (
        b"# -*- coding: latin-1 -*-\n"
        b'"""Ajoute le caf\xe9.\n\nRevises: bbbb0001\n"""\n'
        b"# r\xe9vision\n"
        b"down_revision = 'bbbb0001'\n"
    )


def test_only_the_last_assignment_changes() -> None:
    source = "down_revision = 'aaaa0000'\nx = 1\ndown_revision = 'aaaa0001'\n"
    assert rewrite(source, "bbbb0001") == (
        "down_revision = 'aaaa0000'\nx = 1\ndown_revision = 'bbbb0001'\n"
    )


def test_only_the_last_assignment_counts_even_if_an_earlier_one_is_not_literal() -> None:
    source = "down_revision = BASE\ndown_revision = 'aaaa0001'\n"
    assert rewrite(source, "bbbb0001") == "down_revision = BASE\ndown_revision = 'bbbb0001'\n"


def test_assignment_after_a_def() -> None:
    source = "def upgrade():\n    down_revision = 'local'\n\n\ndown_revision = 'aaaa0001'\n"
    assert rewrite(source, "bbbb0001") == (
        "def upgrade():\n    down_revision = 'local'\n\n\ndown_revision = 'bbbb0001'\n"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("BASE", "BASE"),
        ("settings.BASE_REVISION", "settings.BASE_REVISION"),
        ("get_parent('x')", "get_parent('x')"),
        ("('aaaa0001', OTHER)", "('aaaa0001', OTHER)"),
        ("f'aaaa{N}'", "f'aaaa{N}'"),
        ("b'aaaa0001'", "b'aaaa0001'"),
    ],
)
def test_non_literal_value_is_refused(value: str, shown: str) -> None:
    source = f"revision = 'aaaa0002'\n\ndown_revision = {value}\n".encode()

    with pytest.raises(Refusal) as info:
        rewrite_parents(source, ("bbbb0001",), path=PATH)

    assert str(info.value) == (
        f"migrations/versions/aaaa0002_add_users.py:3: down_revision is not a literal "
        f"({shown}){NOT_LITERAL_TAIL}"
    )


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        (
            "x = 1\ndown_revision, y = 'a', 'b'\n",
            2,
            "is set by unpacking (down_revision, y = 'a', 'b')",
        ),
        (
            "down_revision = 'a'\ndown_revision += ('b',)\n",
            2,
            "is changed in place (down_revision += ('b',))",
        ),
        (
            "x = down_revision = 'a'\n",
            1,
            "is assigned together with other names (x = down_revision = 'a')",
        ),
        (
            "down_revision = 'a'\nif X:\n    down_revision = 'b'\n",
            3,
            "is assigned inside an `if` block",
        ),
        (
            "try:\n    from m import down_revision\nexcept ImportError:\n    pass\n",
            2,
            "is assigned inside a `try` block",
        ),
        ("from base import down_revision\n", 1, "is imported (from base import down_revision)"),
        ("import down_revision.x\n", 1, "is imported (import down_revision.x)"),
        ("with open(p) as down_revision:\n    pass\n", 1, "is assigned inside a `with` block"),
    ],
)
def test_bindings_migfix_cannot_follow_are_refused(source: str, line: int, what: str) -> None:
    with pytest.raises(Refusal) as info:
        rewrite_parents(source.encode(), ("bbbb0001",), path=PATH)

    assert str(info.value) == f"{PATH}:{line}: down_revision {what}{NOT_LITERAL_TAIL}"


def test_a_block_before_the_last_plain_assignment_does_not_matter() -> None:
    source = "if X:\n    down_revision = 'b'\ndown_revision = 'a'\n"
    assert rewrite(source, "c") == "if X:\n    down_revision = 'b'\ndown_revision = 'c'\n"


def test_no_assignment_is_refused() -> None:
    with pytest.raises(Refusal) as info:
        rewrite_parents(b"revision = 'aaaa0002'\n", ("bbbb0001",), path=PATH)

    assert str(info.value) == (
        f"{PATH}: has no module-level down_revision assignment, so migfix cannot tell or "
        "change its parents. Add `down_revision = ...` as Alembic's template writes it and "
        "run migfix again."
    )


def test_syntax_error_is_a_scan_error() -> None:
    with pytest.raises(ScanError) as info:
        rewrite_parents(b"down_revision = (\n", ("bbbb0001",), path=PATH)

    assert str(info.value).startswith(f"{PATH}: cannot be parsed as Python (")
    assert str(info.value).endswith(
        "); migfix edits only files Python can read. Fix the syntax error and run migfix again."
    )


def test_unsafe_ids_are_refused() -> None:
    with pytest.raises(Refusal) as info:
        rewrite_parents(b"down_revision = 'a'\n", ("b c",), path=PATH)

    assert str(info.value) == (
        f"{PATH}: 'b c' does not look like a revision id (it is empty or has spaces, quotes, "
        "commas or backslashes); migfix will not write it into down_revision. Give the "
        "revision id itself."
    )


@pytest.mark.parametrize(
    "source",
    [ALEMBIC_TYPED, FLASK_MIGRATE, MULTILINE, "down_revision = None\n"],
)
@pytest.mark.parametrize(
    "parents", [(), ("bbbb0001",), ("aaaa0001", "bbbb0001"), ("x1", "x2", "x3")]
)
def test_idempotent(source: str, parents: tuple[str, ...]) -> None:
    once = rewrite_parents(source.encode(), parents, path=PATH)
    twice = rewrite_parents(once, parents, path=PATH)

    assert twice is once  # unchanged input comes back as the same object
    assert _parents(_down_revision(once)) == parents


def test_no_change_returns_the_input_itself() -> None:
    source = ALEMBIC_TYPED.encode()
    assert rewrite_parents(source, ("aaaa0001",), path=PATH) is source
    # A one-member tuple already names the same parent: nothing to do.
    tup = b"down_revision = ('aaaa0001',)\n"
    assert rewrite_parents(tup, ("aaaa0001",), path=PATH) is tup


def test_stale_revises_line_is_fixed_even_when_the_value_is_right() -> None:
    source = '"""m\n\nRevises: zzzz\n"""\ndown_revision = "aaaa0001"\n'
    assert (
        rewrite(source, "aaaa0001")
        == '"""m\n\nRevises: aaaa0001\n"""\ndown_revision = "aaaa0001"\n'
    )


def test_docstring_without_revises_line_is_left_alone() -> None:
    source = '"""Add users.\n\nNo header here.\n"""\ndown_revision = "aaaa0001"\n'
    assert rewrite(source, "bbbb0001") == (
        '"""Add users.\n\nNo header here.\n"""\ndown_revision = "bbbb0001"\n'
    )


def test_revises_line_keeps_its_spacing() -> None:
    source = '"""m\n\n  Revises:    aaaa0001   \nCreate Date: x\n"""\ndown_revision = "aaaa0001"\n'
    assert rewrite(source, "bbbb0001", "cccc0001") == (
        '"""m\n\n  Revises:    bbbb0001, cccc0001   \nCreate Date: x\n"""\n'
        'down_revision = ("bbbb0001", "cccc0001")\n'
    )


def test_revises_without_space_gets_one() -> None:
    source = '"""m\n\nRevises:\n"""\ndown_revision = None\n'
    assert (
        rewrite(source, "aaaa0001")
        == '"""m\n\nRevises: aaaa0001\n"""\ndown_revision = \'aaaa0001\'\n'
    )


def test_single_quoted_raw_docstring() -> None:
    source = "r'''m\n\nRevises: aaaa0001\nPath: C:\\x\n'''\ndown_revision = 'aaaa0001'\n"
    assert rewrite(source, "bbbb0001") == (
        "r'''m\n\nRevises: bbbb0001\nPath: C:\\x\n'''\ndown_revision = 'bbbb0001'\n"
    )


def test_only_the_module_docstring_is_touched() -> None:
    source = (
        "x = 1\n"
        "'''Revises: aaaa0001'''\n"
        "down_revision = 'aaaa0001'\n"
        "def f():\n"
        "    '''Revises: aaaa0001'''\n"
    )
    assert rewrite(source, "bbbb0001") == source.replace(
        "down_revision = 'aaaa0001'", "down_revision = 'bbbb0001'"
    )


def test_replace_parent_of_a_string_and_dedupe() -> None:
    result = replace_parent(FLASK_MIGRATE.encode(), "aaaa0001", "bbbb0001", path=PATH)
    assert result.decode() == FLASK_MIGRATE.replace(
        "Revises: aaaa0001\n", "Revises: bbbb0001\n"
    ).replace("down_revision = 'aaaa0001'", "down_revision = 'bbbb0001'")
    # Replacing a by b when b is already a parent leaves one b.
    source = b"down_revision = ('aaaa0001', 'bbbb0001')\n"
    assert replace_parent(source, "aaaa0001", "bbbb0001", path=PATH) == (
        b"down_revision = 'bbbb0001'\n"
    )


def test_replace_parent_refuses_an_id_that_is_not_a_parent() -> None:
    with pytest.raises(Refusal) as info:
        replace_parent(ALEMBIC_TYPED.encode(), "cccc0001", "dddd0001", path=PATH)

    assert str(info.value) == (
        f"{PATH}:16: cccc0001 is not a parent of this revision (down_revision is "
        "'aaaa0001'); migfix will not replace it. Check which revision you meant and run "
        "migfix again."
    )


def _parents(value: object) -> tuple[str, ...]:
    """The parents Alembic reads from a down_revision value."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    assert isinstance(value, tuple)
    return value


def _down_revision(source: bytes) -> object:
    value: object = "<unset>"
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "down_revision" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "down_revision"
        ):
            assert node.value is not None
            value = ast.literal_eval(node.value)
    if isinstance(value, list):
        value = tuple(value)
    return value


_ids = st.from_regex(r"[0-9a-f]{4,12}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(
    source=st.sampled_from([ALEMBIC_TYPED, FLASK_MIGRATE, MULTILINE, "down_revision = ()\n"]),
    first=st.lists(_ids, max_size=4, unique=True),
    second=st.lists(_ids, max_size=4, unique=True),
)
def test_any_sequence_of_rewrites_gives_the_value_asked_for(
    source: str, first: list[str], second: list[str]
) -> None:
    once = rewrite_parents(source.encode(), tuple(first), path=PATH)
    twice = rewrite_parents(once, tuple(second), path=PATH)

    assert _parents(_down_revision(once)) == tuple(first)
    assert _parents(_down_revision(twice)) == tuple(second)
    if "Revises:" in source:
        assert f"\nRevises: {', '.join(second)}\n" in twice.decode()
    # Everything outside down_revision and the Revises line is as it was.
    assert _outside(twice) == _outside(source.encode())


def _outside(source: bytes) -> list[str]:
    lines = source.decode().splitlines()
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and "down_revision" in ast.unparse(
            node.targets[0] if isinstance(node, ast.Assign) else node.target
        ):
            assert node.end_lineno is not None
            skip.update(range(node.lineno, node.end_lineno + 1))
    return [
        line
        for number, line in enumerate(lines, 1)
        if number not in skip and not line.startswith("Revises:")
    ]


@pytest.mark.slow
def test_importing_rewrite_does_not_import_libcst() -> None:
    code = "import sys, migfix.write.rewrite; print('libcst' in sys.modules)"
    out = python(REPO, "-c", code)
    assert (out.returncode, out.stdout.strip()) == (0, "False"), out.stderr


def _alembic_parents(ini: Path, rev: str) -> str:
    """down_revision of ``rev`` and the heads, as a fresh Alembic process loads them.

    A separate process without PYTHONDONTWRITEBYTECODE: like a real ``alembic`` run, it
    leaves bytecode in __pycache__ and would trust it on the next load.
    """
    code = (
        "import sys\n"
        "from alembic.config import Config\n"
        "from alembic.script import ScriptDirectory\n"
        "scripts = ScriptDirectory.from_config(Config(sys.argv[1]))\n"
        "print(repr(scripts.get_revision(sys.argv[2]).down_revision), scripts.get_heads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(ini), rev],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.slow
def test_alembic_loads_the_rewritten_revision(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    ini = tmp_path / "alembic.ini"
    command.init(Config(str(ini)), str(tmp_path / "migrations"))
    cfg = Config(str(ini))
    for rev_id, message in [("aaaa0001", "first"), ("aaaa0002", "second"), ("aaaa0003", "third")]:
        command.revision(cfg, message, rev_id=rev_id)
    third = tmp_path / "migrations" / "versions" / "aaaa0003_third.py"
    assert _alembic_parents(ini, "aaaa0003") == "'aaaa0002' ['aaaa0003']"
    assert list((third.parent / "__pycache__").glob("aaaa0003_third.*.pyc"))

    # A same-length id written within the same second as the load above (forced here with
    # utime, as a fast machine does by itself): size and mtime match what the old .pyc
    # records, so only its removal makes Alembic read the new source.
    before = third.stat()
    old = third.read_bytes()
    new = rewrite_parents(old, ("aaaa0001",), path=third)
    write_changes([FileChange(third, old, new)])
    os.utime(third, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert _alembic_parents(ini, "aaaa0003") == "'aaaa0001' ['aaaa0002', 'aaaa0003']"
    assert "\nRevises: aaaa0001\n" in third.read_text()

    old = third.read_bytes()
    new = replace_parent(old, "aaaa0001", ("aaaa0001", "aaaa0002"), path=third)
    write_changes([FileChange(third, old, new)])

    assert _alembic_parents(ini, "aaaa0003") == "('aaaa0001', 'aaaa0002') ['aaaa0003']"
    assert "\nRevises: aaaa0001, aaaa0002\n" in third.read_text()
    assert (
        "down_revision: Union[str, Sequence[str], None] = ('aaaa0001', 'aaaa0002')\n"
        in third.read_text()
    )


def _libcst_rewrite(source: bytes, parents: tuple[str, ...]) -> bytes:
    from migfix.write import binding, rewrite

    module = binding.parse(source, PATH)
    return rewrite._rewrite(source, module, binding.find_binding(module, PATH), parents)


@pytest.mark.corpus
def test_the_fast_splice_gives_the_bytes_libcst_gives_on_real_files(
    corpus_dir: Path, fixtures_dir: Path
) -> None:
    from migfix.write import fastrewrite

    files = sorted(fixtures_dir.rglob("versions/**/*.py")) + sorted(corpus_dir.rglob("*.py"))
    files = [f for f in files if "synthetic-5000" not in f.parts and "_dl" not in f.parts]
    files += sorted((corpus_dir / "synthetic-5000" / "versions").glob("*.py"))[:50]
    variants = (("x1",), ("x1", "x2"), ("aaaa0001", "bbbb0002", "cccc0003"))
    spliced = 0
    for i, f in enumerate(files):
        source = f.read_bytes()
        parents = variants[i % len(variants)]
        fast = fastrewrite.rewrite_parents(source, parents)
        if fast is None:
            continue
        spliced += 1
        assert fast == _libcst_rewrite(source, parents), f
    # Most real files have the template's shape.
    assert spliced > 0.5 * len(files), (spliced, len(files))
