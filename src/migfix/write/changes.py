"""The file changes a merge plan makes: the bytes each file will hold, computed before
anything is written (a dry run shows them as diffs, a run hands them to
``migfix.write.txn``). A rebase's are in ``migfix.write.rebase_changes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migfix.errors import Refusal
from migfix.plan.merge import MergePlan
from migfix.plan.records import FileChange
from migfix.write import rewrite
from migfix.write.render import RenderedMerge


def merge_changes(plan: MergePlan, rendered: Sequence[RenderedMerge]) -> list[FileChange]:
    """Every file write of a merge: new merge files, dropped ones, then rewritten parents."""
    changes = [FileChange(m.path, None, m.content) for m in rendered]
    changes += [FileChange(d.path, d.path.read_bytes(), None) for d in plan.dropped]
    for m in rendered:
        if m.path.exists():
            raise Refusal(
                f"{m.path} already exists; Alembic's file_template gave the merge revision a "
                "name that is taken. Pass --rev-id or -m to get another name."
            )
    for rp in plan.repoints:
        old = rp.path.read_bytes()
        # The path only appears in refusals: name it as every other message does.
        shown = Path(plan.project.relpath(rp.path))
        new = rewrite.rewrite_parents(old, rp.new, path=shown)
        changes.append(FileChange(rp.path, old, new))
    return changes
