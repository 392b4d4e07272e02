"""The unified diffs a dry run prints."""

from __future__ import annotations

from pathlib import Path

from migfix.plan.records import FileChange
from migfix.report.diffs import unified_diff


def test_unified_diff_of_a_modified_file(tmp_path: Path) -> None:
    path = tmp_path / "versions" / "aaaa0002_add.py"
    change = FileChange(
        path,
        b'"""Add.\n\nRevises: aaaa0001\n"""\nrevision = "aaaa0002"\ndown_revision = "aaaa0001"\n',
        b'"""Add.\n\nRevises: bbbb0001\n"""\nrevision = "aaaa0002"\ndown_revision = "bbbb0001"\n',
    )

    assert unified_diff(change, tmp_path) == (
        "--- a/versions/aaaa0002_add.py\n"
        "+++ b/versions/aaaa0002_add.py\n"
        "@@ -1,6 +1,6 @@\n"
        ' """Add.\n'
        " \n"
        "-Revises: aaaa0001\n"
        "+Revises: bbbb0001\n"
        ' """\n'
        ' revision = "aaaa0002"\n'
        '-down_revision = "aaaa0001"\n'
        '+down_revision = "bbbb0001"\n'
    )


def test_unified_diff_of_a_new_file_without_final_newline(tmp_path: Path) -> None:
    change = FileChange(tmp_path / "merge.py", None, b"revision = 'cccc0001'\nx = 1")

    assert unified_diff(change, tmp_path) == (
        "--- /dev/null\n"
        "+++ b/merge.py\n"
        "@@ -0,0 +1,2 @@\n"
        "+revision = 'cccc0001'\n"
        "+x = 1\n"
        "\\ No newline at end of file\n"
    )


def test_unified_diff_decodes_with_the_coding_cookie(tmp_path: Path) -> None:
    old = b"# -*- coding: latin-1 -*-\n# caf\xe9\nx = 'a'\n"
    new = b"# -*- coding: latin-1 -*-\n# caf\xe9\nx = 'b'\n"

    assert unified_diff(FileChange(tmp_path / "m.py", old, new), tmp_path) == (
        "--- a/m.py\n"
        "+++ b/m.py\n"
        "@@ -1,3 +1,3 @@\n"
        " # -*- coding: latin-1 -*-\n"
        " # caf\u00e9\n"
        "-x = 'a'\n"
        "+x = 'b'\n"
    )
