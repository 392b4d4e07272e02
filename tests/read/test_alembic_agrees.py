"""What migfix reports about a graph matches what real Alembic does with it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import copy_fixture

from migfix.cli.main import main

MERGE_WITH_REDUNDANT_PARENT = '''"""join

Revision ID: cccc0002
Revises: bbbb0004, cccc0001
"""
revision = 'cccc0002'
down_revision = ('bbbb0004', 'cccc0001')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''

ONE_MORE = '''"""one more

Revision ID: cccc0001
Revises: bbbb0004
"""
revision = 'cccc0001'
down_revision = 'bbbb0004'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def test_redundant_parent_is_what_makes_alembic_downgrade_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    root = copy_fixture("typed", tmp_path)
    versions = root / "migrations" / "versions"
    (versions / "cccc0001_one_more.py").write_text(ONE_MORE)
    (versions / "cccc0002_join.py").write_text(MERGE_WITH_REDUNDANT_PARENT)
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{tmp_path / 'db.sqlite'}")
    command.upgrade(cfg, "heads")
    with pytest.raises(CommandError, match="Ambiguous walk"):
        command.downgrade(cfg, "-1")

    monkeypatch.chdir(root)
    capsys.readouterr()
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "migrations/versions/cccc0002_join.py:7: error: merge revision cccc0002 names bbbb0004 "
        "and cccc0001, but bbbb0004 is an ancestor of cccc0001, so `alembic downgrade` cannot "
        'walk down from here ("Ambiguous walk"). Remove bbbb0004 from its down_revision. '
        "[redundant-parent]"
    )

    # Without the redundant parent, Alembic walks down.
    (versions / "cccc0002_join.py").write_text(
        MERGE_WITH_REDUNDANT_PARENT.replace("('bbbb0004', 'cccc0001')", "'cccc0001'").replace(
            "Revises: bbbb0004, cccc0001", "Revises: cccc0001"
        )
    )
    command.downgrade(cfg, "-1")
    assert main(["check"]) == 0


@pytest.mark.slow
def test_headers_alembic_renders_from_a_bare_down_revision_are_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pypi/warehouse's template writes `Revises: ${down_revision}`: Alembic renders `None`
    for a base and a tuple's repr for a merge. Neither, nor migfix's own merge file, is a
    revises-mismatch, so `check --strict` passes right after `migfix merge`."""
    from projutil import new_project

    proj = new_project(tmp_path, "typed")
    mako = proj.migrations / "script.py.mako"
    text = mako.read_text()
    assert "Revises: ${down_revision | comma,n}" in text
    mako.write_text(
        text.replace("Revises: ${down_revision | comma,n}", "Revises: ${down_revision}")
    )
    proj.revision("cccc0001", "one")
    proj.revision("cccc0002", "two", head="bbbb0004", splice=True)
    base = proj.revision("dddd0001", "new base", head="base")
    merged = proj.alembic_merge("eeee0001", ["cccc0001", "cccc0002"])
    assert "Revises: None\n" in base.read_text()
    assert "Revises: ('cccc0001', 'cccc0002')\n" in merged.read_text()

    monkeypatch.chdir(proj.root)
    capsys.readouterr()
    assert main(["check", "--strict", "--format", "json"]) == 1
    import json

    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p["code"] for p in problems] == ["multiple-heads"]

    assert main(["merge", "--rev-id", "ffff0001"]) == 0
    written = proj.file("ffff0001").read_text()
    assert "Revises: ('dddd0001', 'eeee0001')\n" in written or (
        "Revises: ('eeee0001', 'dddd0001')\n" in written
    )
    capsys.readouterr()
    assert main(["check", "--strict"]) == 0
    assert capsys.readouterr().out == "9 revisions, 1 head: 0 errors, 0 warnings\n"
