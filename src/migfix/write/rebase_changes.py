"""The file changes a rebase plan makes, computed before anything is written (the merge's
are in ``migfix.write.changes``; apart so a merge imports none of the rebase planning).
"""

from __future__ import annotations

from pathlib import Path

from migfix.errors import Refusal
from migfix.plan import heads_lock
from migfix.plan.rebase import RebasePlan, ids_text
from migfix.plan.records import FileChange
from migfix.read.graph import read_graph
from migfix.read.scan import scan_file
from migfix.write import rewrite


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
