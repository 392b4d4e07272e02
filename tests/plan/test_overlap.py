"""Overlap warnings: what each side's upgrade() touches, read with libcst, and the warning
given when both sides of a join change the same table: through ``migfix merge``, the git
hook after a real ``git merge``, ``migfix rebase`` and ``check --against``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import python
from gitutil import commit_all, git, git_proc
from projutil import Proj, local_project, migfix_proc

from migfix.plan.overlap_touches import Touch, touches

pytestmark = pytest.mark.usefixtures("git_env")

B, C = "b0000001", "c0000001"

ADD_EMAIL = 'op.add_column("users", sa.Column("email", sa.String(120), nullable=True))'
ALTER_EMAIL = 'op.alter_column("users", "email", existing_type=sa.String(120), nullable=False)'
NEW_TABLE = 'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))'


# -- reading upgrade() ----------------------------------------------------------------------------

MODULE = '''"""x"""
from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.add_column("users", sa.Column("email", sa.String()))
    op.alter_column(table_name="users", column_name="name", nullable=False)
    op.create_table("posts", sa.Column("id", sa.Integer()), sa.Column("user_id", sa.Integer()))
    op.create_index(op.f("ix_posts_user_id"), "posts", ["user_id"], unique=False)
    op.create_foreign_key("fk_posts_users", "posts", "users", ["user_id"], ["id"])
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("age", sa.Integer()))
        batch_op.alter_column("age", nullable=False)
        batch_op.create_index(batch_op.f("ix_accounts_age"), ["age"])
    op.rename_table("old", "new")
    op.drop_column("teams", "motto")
    op.drop_table("legacy")
    op.execute("UPDATE users SET email = lower(email)")
    op.execute(sa.text("ALTER TABLE audit ADD COLUMN who varchar"))
    op.drop_table(computed_name())
    op.execute(some_sql)


def downgrade():
    op.drop_table("posts")
'''


def test_touches_reads_every_op_of_upgrade_and_nothing_of_downgrade() -> None:
    found = [(t.table, sorted(t.columns), t.op, t.line) for t in touches(MODULE.encode())]
    assert found == [
        ("users", ["email"], "add_column", 10),
        ("users", ["name"], "alter_column", 11),
        ("posts", ["id", "user_id"], "create_table", 12),
        ("posts", ["user_id"], "create_index", 13),
        ("posts", ["user_id"], "create_foreign_key", 14),
        ("users", ["id"], "create_foreign_key (referenced)", 14),
        ("accounts", ["age"], "add_column", 16),
        ("accounts", ["age"], "alter_column", 17),
        ("accounts", ["age"], "create_index", 18),
        ("old", [], "rename_table", 19),
        ("new", [], "rename_table (new name)", 19),
        ("teams", ["motto"], "drop_column", 20),
        ("legacy", [], "drop_table", 21),
        ("users", ["email"], "execute", 22),
        ("audit", ["who"], "execute", 23),
    ]


def test_touches_of_a_file_that_does_not_parse_is_empty() -> None:
    assert touches(b"def upgrade(:\n") == []
    assert touches(b"def downgrade():\n    op.drop_table('x')\n") == []
    assert Touch("users", frozenset({"a", "b"}), "add_column", 1).describe() == "add_column a, b"


# -- joins -----------------------------------------------------------------------------------------


def revision_with(proj: Proj, rev: str, message: str, body: str) -> None:
    path = proj.revision(rev, message)
    text = path.read_text()
    # The template's upgrade() comes first; its `pass` becomes BODY.
    path.write_text(text.replace("    pass\n", f"    {body}\n", 1))


def branches(proj: Proj, b_body: str, c_body: str) -> None:
    """main gets B (through feat-b); feat-c, cut before it, has C."""
    git(proj.root, "checkout", "-q", "-b", "feat-c", "main")
    revision_with(proj, C, "alter email", c_body)
    commit_all(proj.root, "add c")
    git(proj.root, "checkout", "-q", "-b", "feat-b", "main")
    revision_with(proj, B, "add email", b_body)
    commit_all(proj.root, "add b")
    git(proj.root, "checkout", "-q", "main")
    git(proj.root, "merge", "-q", "feat-b")


def overlap_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "overlap" in line]


EXPECTED_ORDERED = (
    f"warning: overlap: both sides change table users: {B} (add_column email) on one, "
    f"{C} (alter_column email) on the other. Both change users.email, so the order matters: "
    f"{B} runs first, {C} last."
)


@pytest.mark.slow
def test_merge_warns_when_both_sides_change_the_same_column(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    git(proj.root, "checkout", "-q", "feat-c")
    git(proj.root, "merge", "-q", "--no-edit", "main")  # no hook: two heads

    proc = migfix_proc(proj.root, "merge")

    assert proc.returncode == 0, proc.stderr
    # c0000001 is new on feat-c: it moves onto b0000001, so it runs last.
    assert overlap_lines(proc.stdout) == [EXPECTED_ORDERED]
    # The last line does not say "done": the join is right, the change may still collide.
    assert proc.stdout.rstrip("\n").splitlines()[-1] == (
        "The heads are joined and `migfix check` passes, but both sides change the same "
        "column (see the warning above): a database that runs both will fail there. Change "
        "your new revision so it no longer repeats the other side's change, then commit."
    )
    assert "now passes" not in proc.stdout
    data = json.loads(migfix_proc(proj.root, "merge", "--json").stdout)
    assert data["changed"] is False  # fixed already; and a second run warns of nothing


@pytest.mark.slow
def test_a_merge_revision_over_two_settled_sides_says_it_does_not_order_them(
    tmp_path: Path,
) -> None:
    proj = local_project(tmp_path)
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    git(proj.root, "merge", "-q", "--no-edit", "feat-c")  # on main: both sides are settled

    proc = migfix_proc(proj.root, "merge", "--rev-id", "m0000001")

    assert proc.returncode == 0, proc.stderr
    assert overlap_lines(proc.stdout) == [
        f"warning: overlap: both sides change table users: {B} (add_column email) on one, "
        f"{C} (alter_column email) on the other. Both change users.email, so the order "
        "matters, and the merge revision m0000001 does not order them: each database runs the "
        "side it lacks last."
    ]


@pytest.mark.slow
def test_different_tables_give_no_warning(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    branches(proj, NEW_TABLE, ALTER_EMAIL)
    git(proj.root, "checkout", "-q", "feat-c")
    git(proj.root, "merge", "-q", "--no-edit", "main")

    proc = migfix_proc(proj.root, "merge")

    assert proc.returncode == 0, proc.stderr
    assert "Repointed" in proc.stdout
    assert overlap_lines(proc.stdout) == []
    against = migfix_proc(proj.root, "check", "--against", "main")
    assert overlap_lines(against.stdout) == []


@pytest.mark.slow
def test_the_hook_warns_after_a_real_git_merge(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    assert migfix_proc(proj.root, "hook", "install").returncode == 0
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    git(proj.root, "checkout", "-q", "feat-c")

    merged = git_proc(proj.root, "merge", "--no-edit", "main")

    assert merged.returncode == 0, merged.stderr
    assert overlap_lines(merged.stderr) == [f"migfix: {EXPECTED_ORDERED}"]


@pytest.mark.slow
def test_rebase_warns_and_names_the_order_it_gives(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    git(proj.root, "checkout", "-q", "feat-c")  # before `git merge`: B exists only on main

    proc = migfix_proc(proj.root, "rebase", "--onto", "main")

    assert proc.returncode == 0, proc.stderr
    assert overlap_lines(proc.stdout) == [EXPECTED_ORDERED]


@pytest.mark.slow
def test_check_against_warns_before_the_pull_request_is_merged(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    git(proj.root, "checkout", "-q", "feat-c")

    proc = migfix_proc(proj.root, "check", "--against", "main", "--format", "json")

    found = [p for p in json.loads(proc.stdout)["problems"] if p["code"] == "overlap"]
    assert found == [
        {
            "code": "overlap",
            "severity": "warning",
            "message": f"both sides change table users: {B} (add_column email) on one, {C} "
            "(alter_column email) on the other. Both change users.email, so the order matters, "
            "and nothing orders them yet (they are separate heads).",
            "path": f"migrations/versions/{C}_alter_email.py",
            "line": 23,
            "revisions": [B, C],
        }
    ]
    text = migfix_proc(proj.root, "check", "--against", "main").stdout
    assert f"migrations/versions/{C}_alter_email.py:23: warning: both sides" in text


@pytest.mark.slow
def test_strict_merge_and_rebase_refuse_to_write_over_an_overlap(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    git(proj.root, "checkout", "-q", "feat-c")
    before = git(proj.root, "status", "--porcelain")

    rebase = migfix_proc(proj.root, "rebase", "--onto", "main", "--strict")
    git(proj.root, "merge", "-q", "--no-edit", "main")
    merge = migfix_proc(proj.root, "merge", "--strict")

    for proc in (rebase, merge):
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert proc.stderr.startswith(
            f"migfix: --strict: both sides change table users: {B} (add_column email)"
        ), proc.stderr
        assert proc.stderr.rstrip().endswith(
            "Nothing was written; join them without --strict (the order above is what you get), "
            "or change one side first."
        ), proc.stderr
    assert before == ""
    assert git(proj.root, "status", "--porcelain") == ""


@pytest.mark.slow
def test_plain_check_does_not_import_libcst(tmp_path: Path) -> None:
    proj = local_project(tmp_path)
    branches(proj, ADD_EMAIL, ALTER_EMAIL)
    code = (
        "import sys\nfrom migfix.cli.main import main\nrc = main(['check'])\n"
        "print(rc, 'libcst' in sys.modules)\n"
    )
    proc = python(proj.root, "-c", code)
    assert proc.stdout.splitlines()[-1] == "0 False", proc.stdout + proc.stderr
