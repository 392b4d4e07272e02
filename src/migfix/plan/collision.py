"""Why a revision failed on a database: the revision that already ran there and changes the
same table (the same column first), and which of the two is new on this branch.

What a failed ``db sync`` says. Apart from :mod:`migfix.plan.overlap` (the join's warning,
which ``check`` reads) because it asks which revisions are new (:mod:`migfix.plan.settled`,
git history), which ``check`` never needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from migfix.plan.overlap import table_key
from migfix.plan.overlap_touches import Touch, touches
from migfix.plan.settled import classify
from migfix.project.model import Project
from migfix.read.graph import Graph


def _touches_of(graph: Graph, rev: str) -> list[Touch]:
    n = graph.nodes.get(rev)
    try:
        return touches(n.path.read_bytes()) if n is not None else []
    except (OSError, SyntaxError, ValueError):
        return []


def _closest_collision(
    graph: Graph, failed: str, ran: Iterable[str]
) -> tuple[int, str, str] | None:
    """(0 same column / 1 same table, the revision of RAN, what both change), the first
    closest one; None when none of RAN touches FAILED's tables."""
    mine = _touches_of(graph, failed)
    best: tuple[int, str, str] | None = None
    for rev in ran:
        if rev == failed:
            continue
        theirs = _touches_of(graph, rev)
        for a, b in ((a, b) for a in mine for b in theirs):
            if table_key(a.table) != table_key(b.table):
                continue
            same = sorted(a.columns & b.columns)
            what = ", ".join(f"{a.table}.{c}" for c in same) or f"table {a.table}"
            rank = 0 if same else 1
            if best is None or rank < best[0]:
                best = (rank, rev, what)
    return best


def collision(project: Project, graph: Graph, failed: str, ran: Iterable[str]) -> str | None:
    """Why FAILED may have failed on a database that already RAN other revisions: the one
    among them that changes the same table (the same column first), and which of the two is
    new on this branch, the one to edit; None when none of them touches its tables.

    What a failed ``db sync`` says: the published revision is rarely the one to change."""
    node = graph.nodes.get(failed)
    if node is None:
        return None

    best = _closest_collision(graph, failed, ran)
    if best is None:
        return None
    _, other, what = best
    new = classify(project, graph).new
    if other in new and failed not in new:
        edit = f"{other} is new on this branch and {failed} is not: change {other}"
    elif failed in new and other not in new:
        edit = f"{failed} is new on this branch and {other} is not: change {failed}"
    else:
        edit = f"decide which of {failed} and {other} should make that change"
    return (
        f"{failed} collides with {other}, which already ran on this database: both change "
        f"{what}. {edit} so the two no longer repeat one change."
    )
