"""The unified diffs a dry run shows (``merge --dry-run``, ``rebase --dry-run``): what each
planned file change would do, labelled as ``git diff`` labels it."""

from __future__ import annotations

import difflib
import io
from collections.abc import Sequence
from pathlib import Path

from migfix.plan.records import FileChange
from migfix.project.model import relpath
from migfix.write.fileio import decode_source


def unified_diffs(changes: Sequence[FileChange], root: Path) -> str:
    """The unified diffs of every change, one after the other (what a dry run prints)."""
    return "".join(unified_diff(c, root) for c in changes)


def unified_diff(change: FileChange, root: Path) -> str:
    """A unified diff of ``change`` labelled ``a/<relpath>`` and ``b/<relpath>``."""
    rel = relpath(change.path, root)
    if change.old is None:
        before: list[str] = []
        from_label = "/dev/null"
    else:
        before = _lines(decode_source(change.old))
        from_label = f"a/{rel}"
    if change.new is None:
        after: list[str] = []
        to_label = "/dev/null"
    else:
        after = _lines(decode_source(change.new))
        to_label = f"b/{rel}"
    out: list[str] = []
    for line in difflib.unified_diff(before, after, from_label, to_label):
        if line.endswith(("\n", "\r")):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    # newline="" splits on \n, \r and \r\n but keeps each ending as it is in the file.
    return io.StringIO(text, newline="").readlines()
