"""Overlap warnings: both sides of a join change the same table.

When two lines of migrations are joined (``migfix merge``, ``rebase``, the git hook) or a pull
request is checked against its target (``check --against REF``), the ``upgrade()`` of every
revision on each side since they diverged is read statically with libcst (never imported) for
the tables and columns its ``op.*`` calls touch. A table changed on both sides is reported as
an ``overlap`` warning naming the revisions, the table, the columns and the order the join
gives them: that is exactly where a merge revision silently picks an order for two changes
that may conflict.

What each revision touches is read in ``migfix.plan.overlap_touches``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.errors import EXIT_PROBLEMS, Refusal
from migfix.git import gitops, trees
from migfix.plan.against import ref_files
from migfix.plan.overlap_touches import Touch, touches
from migfix.project.model import Project
from migfix.read.checks import OVERLAP, Problem
from migfix.read.graph import Graph, reachable

if TYPE_CHECKING:
    # Types only: check --against, on the hook's path, never loads the rebase planner.
    from migfix.plan.rebase import RebasePlan

Reader = Callable[[str], bytes | None]
"""Revision id -> the bytes of its file (None: cannot be read, the revision is skipped)."""


@dataclass(frozen=True)
class Overlap:
    table: str
    first: tuple[tuple[str, Touch], ...]
    """Side one's revisions touching the table, with the touch (in upgrade order)."""
    second: tuple[tuple[str, Touch], ...]
    same_columns: frozenset[str]
    last: str | None
    """The revision that runs last of the two sides' last touches; None when not ordered."""
    joined_by: str | None = None


NOTE = "warning: overlap: "
"""How merge and rebase list an overlap among their notes."""
SAME_COLUMNS = "so the order matters"
"""In an overlap's message when both sides change the same column (see :func:`collides`)."""


class OverlapRefusal(Refusal):
    """``--strict``: both sides change the same table; nothing was written."""

    exit_code = EXIT_PROBLEMS


def collides(notes: Iterable[str]) -> bool:
    """Whether NOTES warn that both sides change the same column: the graph is joined, yet
    a database that runs both may fail (a duplicate column), so no one should read
    "check passes" as "done"."""
    return any(n.startswith(NOTE) and SAME_COLUMNS in n for n in notes)


def refuse_if_strict(strict: bool, notes: Iterable[str]) -> None:
    """Under ``--strict``, an overlap among NOTES stops the join before anything is written."""
    found = [n.removeprefix(NOTE) for n in notes if n.startswith(NOTE)]
    if strict and found:
        raise OverlapRefusal(
            "--strict: "
            + " ".join(found)
            + " Nothing was written; join them without --strict (the order above is what you "
            "get), or change one side first."
        )


# -- the sides of a join --------------------------------------------------------------------------


def sides_of_heads(graph: Graph, heads: Sequence[str]) -> list[list[str]]:
    """For each head, the revisions only it leads to (what its side added since the lines
    diverged), parents first."""
    lines = {h: graph.ancestors(h) | {h} for h in heads}
    # How many heads lead to each revision: a revision is one side's own when exactly its
    # head does. Counting once keeps this linear in heads x revisions; unioning every other
    # head's line per head was quadratic in the heads (300 heads: seconds per merge).
    leads: Counter[str] = Counter()
    for line in lines.values():
        leads.update(line)
    order = graph.topological_order()
    return [[r for r in order if r in lines[h] and leads[r] == 1] for h in heads]


def table_key(table: str) -> str:
    """What makes two table names the same table (SQL folds unquoted names)."""
    return table.lower()


def find(
    sides: Sequence[Sequence[str]],
    read: Reader,
    parents_after: Mapping[str, Sequence[str]],
    *,
    joined_by: str | None = None,
) -> list[Overlap]:
    """Tables changed on two sides. PARENTS_AFTER is the graph once joined (to tell which
    side runs last); JOINED_BY names the merge revision that joins them, if one does."""
    if sum(1 for s in sides if s) < 2:
        return []
    per_side = _tables_per_side(sides, read)
    out: list[Overlap] = []
    for i in range(len(per_side)):
        for j in range(i + 1, len(per_side)):
            for key in sorted(per_side[i].keys() & per_side[j].keys()):
                a, b = per_side[i][key], per_side[j][key]
                cols_a = {c for _, t in a for c in t.columns}
                cols_b = {c for _, t in b for c in t.columns}
                out.append(
                    Overlap(
                        table=a[0][1].table,
                        first=tuple(a),
                        second=tuple(b),
                        same_columns=frozenset(cols_a & cols_b),
                        last=_last(a[-1][0], b[-1][0], parents_after),
                        joined_by=joined_by,
                    )
                )
    return out


def _tables_per_side(
    sides: Sequence[Sequence[str]], read: Reader
) -> list[dict[str, list[tuple[str, Touch]]]]:
    """Per side, each table its revisions touch, with the revision and the touch."""
    per_side: list[dict[str, list[tuple[str, Touch]]]] = [{} for _ in sides]
    # Two sides: read the shorter one first; a file of the other that does not even contain
    # one of its table names cannot touch them, and is not parsed (a long-lived branch may
    # have hundreds of revisions, and libcst takes milliseconds per file).
    todo = sorted(range(len(sides)), key=lambda i: len(sides[i]))
    wanted: set[str] | None = None
    for i in todo:
        tables = per_side[i]
        for rev in sides[i]:
            data = read(rev)
            if data is None or (wanted is not None and not _mentions(data, wanted)):
                continue
            for t in touches(data):
                tables.setdefault(table_key(t.table), []).append((rev, t))
        if len(sides) == 2 and wanted is None:
            wanted = {k.split(".")[-1] for k in tables}
    return per_side


def _mentions(data: bytes, names: set[str]) -> bool:
    lowered = data.lower()
    return any(name.encode("utf-8") in lowered for name in names)


def _last(a: str, b: str, parents: Mapping[str, Sequence[str]]) -> str | None:
    def step(r: str) -> Iterable[str]:
        return parents.get(r, ())

    if a in reachable(parents.get(b, ()), step):
        return b
    if b in reachable(parents.get(a, ()), step):
        return a
    return None


def _side_text(items: Sequence[tuple[str, Touch]]) -> str:
    by_rev: dict[str, list[str]] = {}
    for rev, t in items:
        by_rev.setdefault(rev, []).append(t.describe())
    return "; ".join(f"{rev} ({', '.join(dict.fromkeys(ds))})" for rev, ds in by_rev.items())


def message(ov: Overlap) -> str:
    """One paragraph: the revisions, the table and columns, and the order."""
    first_last, second_last = ov.first[-1][0], ov.second[-1][0]
    text = (
        f"both sides change table {ov.table}: {_side_text(ov.first)} on one, "
        f"{_side_text(ov.second)} on the other."
    )
    if ov.last is not None:
        earlier = first_last if ov.last == second_last else second_last
        order = f"{earlier} runs first, {ov.last} last"
    elif ov.joined_by:
        order = (
            f"the merge revision {ov.joined_by} does not order them: each database runs the "
            "side it lacks last"
        )
    else:
        order = "nothing orders them yet (they are separate heads)"
    if ov.same_columns:
        cols = ", ".join(f"{ov.table}.{c}" for c in sorted(ov.same_columns))
        if ov.last is not None:
            return f"{text} Both change {cols}, {SAME_COLUMNS}: {order}."
        return f"{text} Both change {cols}, {SAME_COLUMNS}, and {order}."
    return f"{text} Order: {order}."


def problems(overlaps: Sequence[Overlap], where: Callable[[str], Path | None]) -> list[Problem]:
    """``overlap`` warnings for ``check``, each at the second side's touching revision."""
    out = []
    for ov in overlaps:
        rev, touch = ov.second[-1]
        revs = tuple(dict.fromkeys(r for r, _ in (*ov.first, *ov.second)))
        out.append(OVERLAP.problem(message(ov), where(rev), touch.line, revs))
    return out


# -- the joins ------------------------------------------------------------------------------------


def disk_reader(graph: Graph) -> Reader:
    def read(rev: str) -> bytes | None:
        node = graph.nodes.get(rev)
        if node is None:
            return None
        try:
            return node.path.read_bytes()
        except OSError:
            return None

    return read


def for_merge(
    graph: Graph, groups: Sequence[Sequence[str]], after: Graph, joined_by: str | None
) -> list[Overlap]:
    """Overlaps of the heads ``migfix merge`` (or the hook) joins; AFTER is the result."""
    parents = {r: n.down for r, n in after.nodes.items()}
    read = disk_reader(graph)
    out: list[Overlap] = []
    for group in groups:
        out.extend(find(sides_of_heads(graph, group), read, parents, joined_by=joined_by))
    return out


def ref_reader(project: Project, repo: Path, ref: str, graph: Graph, ref_revs: set[str]) -> Reader:
    """Revisions of REF read from git objects (they may not be in the work tree), others
    from disk. REF's tree is read once, on first use."""

    blobs: dict[Path, bytes] | None = None
    disk = disk_reader(graph)

    def read(rev: str) -> bytes | None:
        nonlocal blobs
        if rev not in ref_revs:
            return disk(rev)
        if blobs is None:
            blobs = {}
            for loc in project.version_locations:
                blobs.update(
                    trees.read_tree_files(repo, ref, loc, recursive=project.recursive) or {}
                )
        node = graph.nodes.get(rev)
        return blobs.get(node.path) if node is not None else None

    return read


def for_against(project: Project, graph: Graph, ref: str) -> list[Problem]:
    """``check --against REF``: overlaps between REF's and this branch's unjoined heads."""

    groups = graph.head_groups()
    if not groups:
        return []
    repo = gitops.find_repo(project.root)
    if repo is None:
        return []
    ref_revs = {f.revision for f in ref_files(project, repo, ref) if f.revision}
    read = ref_reader(project, repo, ref, graph, ref_revs)
    parents = {r: n.down for r, n in graph.nodes.items()}
    found: list[Overlap] = []
    for group in groups:
        found.extend(find(sides_of_heads(graph, group), read, parents))

    def where(rev: str) -> Path | None:
        node = graph.nodes.get(rev)
        return node.path if node is not None else None

    return problems(found, where)


def for_rebase(
    project: Project, repo: Path, ref: str, work: Graph, onto: Graph, plan: RebasePlan
) -> list[Overlap]:
    """Overlaps of ``rebase --onto REF``: what REF added after each moved revision's old
    parents (read from git objects) against this branch's revisions, in the new order."""
    moves = plan.repoints
    if not moves:
        return []
    dropped = {d.revision for d in plan.dropped}
    branch = [r for r in plan.branch if r not in dropped]
    ref_side: set[str] = set()
    for m in moves:
        for p in m.old:
            if p in onto.nodes:
                ref_side |= onto.descendants(p)
    ref_side -= set(branch)
    if not ref_side:
        return []
    joined = Graph(
        [*onto.files, *(work.nodes[r].file for r in branch)],
        allow_heads=onto.allow_heads,
        root=work.root,
    )
    parents: dict[str, Sequence[str]] = {r: n.down for r, n in joined.nodes.items()}
    parents.update({m.revision: m.new for m in moves})
    order = joined.topological_order()
    sides = [[r for r in order if r in ref_side], [r for r in order if r in set(branch)]]
    read = ref_reader(project, repo, ref, joined, set(onto.nodes))
    return find(sides, read, parents)
