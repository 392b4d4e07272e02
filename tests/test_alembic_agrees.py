"""What migfix reports about a graph matches what real Alembic does with it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import copy_fixture

from migfix.cli import main

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
