"""The file changes a plan makes: the bytes each file will hold, computed before anything is
written (a dry run shows them as diffs, a run hands them to ``migfix.write.txn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migfix.errors import Refusal
from migfix.plan import heads_lock
from migfix.plan.merge import MergePlan
from migfix.plan.rebase import RebasePlan, ids_text
from migfix.plan.records import FileChange
from migfix.read.graph import read_graph
from migfix.read.scan import scan_file
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


def rebase_changes(plan: RebasePlan) -> list[FileChange]:
    """Every file change of a rebase, computed before anything is written."""
    changes: list[FileChange] = []
    for move in plan.repoints:
        old = move.path.read_bytes()
        now = scan_file(move.path, old).down_revisions
        if now != move.old:
            # Rewriting would silently undo whatever the user just did to this file.
            raise Refusal(
                f"{plan.relpath(move.path)} changed since migfix read it (down_revision is now "
                f"{ids_text(now)}, was {ids_text(move.old)}). Nothing was written; run "
                f"`migfix rebase --onto {plan.ref}` again."
            )
        # The path given to the rewrite only names the file in its refusals.
        shown = Path(plan.relpath(move.path))
        new = rewrite.rewrite_parents(old, move.new, path=shown)
        changes.append(FileChange(move.path, old, new))
    for drop in plan.dropped:
        changes.append(FileChange(drop.path, drop.path.read_bytes(), None))
    if plan.project is not None and plan.project.settings.lock:
        changes.extend(heads_lock.follow(plan.project, read_graph(plan.project), changes))
    return changes
