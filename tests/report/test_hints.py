"""The next step each report suggests is one that works where it runs (sentences asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SRC, Migfix, copy_fixture
from gitutil import GIT_ENV, commit_all, git, make_repo, write

pytestmark = pytest.mark.usefixtures("git_env")


def rev_text(rev: str, down: str | None, label: str | None = None) -> str:
    return (
        f'"""{rev}\n\nRevision ID: {rev}\nRevises: {down or ""}\n"""\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = "
        f"{(label,) if label else None!r}\ndepends_on = None\n\n\n"
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )


@pytest.mark.slow
def test_check_against_a_ref_suggests_rebase_not_merge(tmp_path: Path, migfix: Migfix) -> None:
    root = copy_fixture("typed", tmp_path)
    make_repo(root)
    versions = root / "migrations" / "versions"
    commit_all(root, "project")
    git(root, "checkout", "-q", "-b", "feature")
    write(versions / "cccc0001_feature.py", rev_text("cccc0001", "bbbb0004"))
    commit_all(root, "feature")
    git(root, "checkout", "-q", "main")
    write(versions / "dddd0001_main.py", rev_text("dddd0001", "bbbb0004"))
    commit_all(root, "main moved on")
    git(root, "checkout", "-q", "feature")

    code, out, _ = migfix(root, "check", "--against", "main")
    assert code == 1
    assert out.splitlines()[-1] == (
        "6 revisions, 2 heads: 1 error, 0 warnings; the heads appear once this branch meets "
        "main: run `migfix rebase --onto main` (or `git merge main`, then `migfix merge`)"
    )
    # What `migfix merge` would say here, and why the hint does not name it:
    assert migfix(root, "merge")[1] == "Nothing to do: no unintended heads.\n"
    code, _, _ = migfix(root, "rebase", "--onto", "main")
    assert code == 0
    assert migfix(root, "check", "--against", "main")[0] == 0


def test_check_footer_never_suggests_merge_when_merge_would_refuse(
    tmp_path: Path, migfix: Migfix
) -> None:
    versions = tmp_path / "versions"
    write(versions / "a.py", rev_text("aaaa0001", None))
    write(versions / "b.py", rev_text("bbbb0001", "aaaa0001"))
    write(versions / "c.py", rev_text("cccc0001", "aaaa0001"))
    write(versions / "d.py", rev_text("dddd0001", "ffff0001"))
    code, out, _ = migfix(tmp_path, "check", "--versions", "versions")
    assert code == 1
    assert out.splitlines()[-1] == (
        "4 revisions, 3 heads: 2 errors, 0 warnings; fix the unknown-parent error above first "
        "(`migfix merge` refuses while the graph has it), then join the heads"
    )
    assert "run `migfix merge`" not in out.splitlines()[-1]
    # Fixed, the footer says merge, and merge does it.
    write(versions / "d.py", rev_text("dddd0001", "aaaa0001"))
    code, out, _ = migfix(tmp_path, "check", "--versions", "versions")
    assert out.splitlines()[-1] == (
        "4 revisions, 3 heads: 1 error, 0 warnings; run `migfix merge` to join the heads"
    )


def test_multiple_heads_under_a_label_name_the_target_that_fails_and_plurals_are_right(
    tmp_path: Path, migfix: Migfix
) -> None:
    versions = tmp_path / "versions"
    write(versions / "a.py", rev_text("aaaa0001", None, "expand"))
    code, out, _ = migfix(tmp_path, "check", "--versions", "versions")
    assert (code, out) == (0, "1 revision, 1 head: 0 errors, 0 warnings\n")
    write(versions / "b.py", rev_text("bbbb0001", "aaaa0001"))
    write(versions / "c.py", rev_text("cccc0001", "aaaa0001"))
    code, out, _ = migfix(tmp_path, "check", "--versions", "versions")
    assert code == 1
    assert out.splitlines()[0] == (
        "versions/c.py:6: error: 2 heads under branch label 'expand': bbbb0001 (b.py), "
        "cccc0001 (c.py); `alembic upgrade expand@head` fails on this. Run `migfix merge` to "
        "join them (or `migfix rebase --onto <ref>`), or list them in [tool.migfix] "
        "allow_heads if they are intended. [multiple-heads]"
    )


@pytest.mark.slow
def test_inside_flask_the_hints_say_flask_migfix(tmp_path: Path) -> None:
    root = copy_fixture("flask_app", tmp_path)
    versions = root / "migrations" / "versions"
    write(versions / "hhhh0001_side.py", rev_text("hhhh0001", "gggg0002"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(GIT_ENV)
    env["PYTHONPATH"] = str(SRC)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "app", "migfix", "check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "4 revisions, 2 heads: 1 error, 0 warnings; run `flask migfix merge` to join the heads"
    )
