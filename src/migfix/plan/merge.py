"""``migfix merge``, the plan: which heads to join with a merge revision, which new revisions
move on top of it, which new merge revisions that do nothing are dropped.

Pure: the static graph and which revisions are new go in, a :class:`MergePlan` of plain records
comes out. Alembic renders the planned merge files (``migfix.write.render``); the run
(``migfix.commands.merge``) proves and writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import Refusal
from migfix.plan.records import DroppedMerge, Repoint
from migfix.plan.settled import Newness
from migfix.project.model import Project
from migfix.read.does_nothing import does_nothing
from migfix.read.graph import Graph, ancestry
from migfix.read.revision_file import Unknown


@dataclass(frozen=True)
class PlannedMerge:
    """A merge revision to write: its id, the heads it joins, and its branch label."""

    revision: str
    parents: tuple[str, ...]
    branch_label: str | None = None


@dataclass
class MergePlan:
    project: Project
    newness: Newness
    merges: list[PlannedMerge] = field(default_factory=list)
    repoints: list[Repoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped: list[DroppedMerge] = field(default_factory=list)
    message: str = ""
    """The merge revisions' message (``-m``, else ``[tool.migfix] message``)."""

    @property
    def empty(self) -> bool:
        return not self.merges and not self.repoints and not self.dropped

    def to_json(self, merge_paths: Mapping[str, Path]) -> dict[str, Any]:
        """The plan as ``--json`` prints it; MERGE_PATHS: where each merge file is written."""
        rel = self.project.relpath
        return {
            "version": 1,
            "changed": not self.empty,
            "upstream": self.newness.upstream,
            "new_revisions": sorted(self.newness.new),
            "merges": [
                {
                    "revision": m.revision,
                    "parents": list(m.parents),
                    "path": rel(merge_paths[m.revision]),
                }
                for m in self.merges
            ],
            "repointed": [
                {
                    "revision": r.revision,
                    "path": rel(r.path),
                    "old": list(r.old),
                    "new": list(r.new),
                }
                for r in self.repoints
            ],
            "notes": self.notes,
            "folded": [
                {"revision": d.revision, "path": rel(d.path), "into": d.into} for d in self.dropped
            ],
        }


@dataclass(frozen=True)
class MergeOptions:
    message: str | None = None
    rev_id: str | None = None
    branch_label: str | None = None
    heads: tuple[str, ...] = ()
    """Heads named on the command line (default: every unintended head)."""
    no_repoint: bool = False


# Characters a revision id or a branch label cannot hold: Alembic refuses @ - + : in ids
# (and @ in labels: it is the label@rev syntax), and a path separator or a NUL would put
# the file elsewhere or nowhere.
_ILLEGAL_IN_ID = "@-+:/\\\0"
_ILLEGAL_IN_LABEL = "@/\\\0"


def check_options(opts: MergeOptions) -> None:
    """Refuse a --rev-id or --branch-label Alembic would choke on, before reading anything."""
    for flag, value, illegal in (
        ("--rev-id", opts.rev_id, _ILLEGAL_IN_ID),
        ("--branch-label", opts.branch_label, _ILLEGAL_IN_LABEL),
    ):
        if value is None:
            continue
        if not value.strip():
            raise Refusal(
                f"{flag} must not be empty. Give a value, or leave {flag} out"
                + (" to let Alembic pick a random id." if flag == "--rev-id" else ".")
            )
        if any(c.isspace() for c in value):
            raise Refusal(
                f"{flag} {value!r} contains white space, which Alembic cannot use in "
                f"{'a revision id' if flag == '--rev-id' else 'a branch label'}. Use letters, "
                "digits and underscores."
            )
        bad = [c for c in illegal if c in value]
        if bad:
            shown = ", ".join("NUL" if c == "\0" else c for c in bad)
            raise Refusal(
                f"{flag} {value!r} contains {shown}, which Alembic does not allow there. Use "
                "letters, digits and underscores."
            )


def plan_merge(project: Project, graph: Graph, newness: Newness, opts: MergeOptions) -> MergePlan:
    """Everything ``migfix merge`` would do, computed without writing a byte."""
    plan = MergePlan(project, newness, message=opts.message or project.settings.message)
    if opts.rev_id is not None and opts.rev_id in graph.nodes:
        existing = graph.nodes[opts.rev_id].path
        raise Refusal(
            f"--rev-id {opts.rev_id} already exists ({project.relpath(existing)}). Choose another "
            "id, or leave --rev-id out to let Alembic pick one."
        )
    if opts.branch_label:
        owner = next(
            (n for n in graph.nodes.values() if opts.branch_label in (n.labels or ())), None
        )
        if owner is not None:
            raise Refusal(
                f"--branch-label {opts.branch_label}: that label is already used by revision "
                f"{owner.revision} ({project.relpath(owner.path)}), and Alembic requires "
                "branch labels to be unique. Choose another label."
            )
    for h in opts.heads:
        if h not in graph.nodes or h not in graph.heads:
            heads = ", ".join(graph.heads) or "(none)"
            raise Refusal(
                f"{h} is not a head, so it cannot be merged. The current heads are: {heads}."
            )
    groups = _groups(graph, opts.heads)
    if not groups:
        return plan
    rev_ids = iter(_rev_ids(opts.rev_id))
    # The graph as it will be after the plan: parents per revision.
    parents: dict[str, tuple[str, ...]] = {r: n.down for r, n in graph.nodes.items()}
    merges: list[tuple[str, tuple[str, ...]]] = []
    for group in groups:
        if opts.no_repoint:
            merges.append((next(rev_ids), group))
            continue
        _plan_group(graph, newness, group, parents, merges, rev_ids, plan)
    if not merges and not plan.repoints:
        return plan
    _refuse_redundant_parents(merges, parents)
    last = len(merges) - 1
    plan.merges = [
        # A label names one revision: the final merge, the new head.
        PlannedMerge(rev, heads, opts.branch_label if index == last else None)
        for index, (rev, heads) in enumerate(merges)
    ]
    _refuse_settled_repoints(plan)
    return plan


def head_groups(graph: Graph, named: Sequence[str]) -> list[tuple[str, ...]]:
    """The groups of heads a merge joins: NAMED (from the command line), else the unintended."""
    return _groups(graph, named)


def _groups(graph: Graph, named: Sequence[str]) -> list[tuple[str, ...]]:
    if named:
        return [tuple(h for h in graph.heads if h in named)] if len(named) > 1 else []
    return graph.head_groups()


def _rev_ids(first: str | None) -> Iterable[str]:
    if first:
        yield first
    while True:
        # Alembic's util.rev_id(), without importing alembic for it.
        yield uuid.uuid4().hex[-12:]


def _plan_group(
    graph: Graph,
    newness: Newness,
    group: tuple[str, ...],
    parents: dict[str, tuple[str, ...]],
    merges: list[tuple[str, tuple[str, ...]]],
    rev_ids: Iterable[str],
    plan: MergePlan,
) -> None:
    ids = iter(rev_ids)
    region: set[str] = set(group)
    for h in group:
        region |= graph.ancestors(h)
    order = {r: i for i, r in enumerate(graph.nodes)}
    folded = _fold_duplicates(graph, newness, region, parents, plan)
    region -= folded
    settled = {r for r in region if not newness.is_new(r)}
    target = _settled_target(graph, settled, order, ids, merges, parents)
    if target is not None:
        new = [r for r in graph.nodes if r in region and newness.is_new(r)]
        _move_onto(graph, target, settled - {target}, new, folded, parents, plan)
    _drop_redundant_parents(graph, newness, region, parents, plan)
    moved = {rp.revision for rp in plan.repoints}
    # In load order: the graph's own order, filtered (sorting 5,000 ids by it costs more).
    for rev in (r for r in graph.nodes if r in region):
        # Children of a folded merge that did not move on: they now name the incoming merge.
        if rev not in moved and parents[rev] != graph.nodes[rev].down:
            node = graph.nodes[rev]
            plan.repoints.append(Repoint(rev, node.path, node.down, parents[rev]))
    # Several independent new chains (or a new chain beside the settled head) may
    # still leave several heads: join what remains with one more merge.
    remaining = _heads_within(parents, region | ({target} if target else set()))
    remaining = sorted(remaining, key=lambda r: order.get(r, len(order)))
    if len(remaining) > 1:
        extra = next(ids)
        merges.append((extra, tuple(remaining)))
        parents[extra] = tuple(remaining)


def _settled_target(
    graph: Graph,
    settled: set[str],
    order: dict[str, int],
    ids: Iterator[str],
    merges: list[tuple[str, tuple[str, ...]]],
    parents: dict[str, tuple[str, ...]],
) -> str | None:
    """Where the new revisions go: the one settled head, or a new merge of several."""
    settled_heads = sorted(
        (r for r in settled if not any(c in settled for c in graph.children[r])),
        key=order.__getitem__,
    )
    if len(settled_heads) > 1:
        # A settled head below another one (a revision named with --new between them) is
        # no head to join: a merge naming a revision and its descendant cannot be walked
        # down by Alembic ("Ambiguous walk").
        below = set().union(*(graph.ancestors(h) for h in settled_heads))
        settled_heads = [h for h in settled_heads if h not in below]
    if len(settled_heads) > 1:
        target = next(ids)
        merges.append((target, tuple(settled_heads)))
        parents[target] = tuple(settled_heads)
        return target
    return settled_heads[0] if settled_heads else None


def _move_onto(
    graph: Graph,
    target: str,
    stale: set[str],
    new: Sequence[str],
    folded: set[str],
    parents: dict[str, tuple[str, ...]],
    plan: MergePlan,
) -> None:
    """Repoint each new revision hanging off a STALE settled revision below TARGET onto it."""
    # Over the planned parents: TARGET may be the merge just planned, not in GRAPH.
    target_ancestry = ancestry(parents, [target])
    for rev in new:
        if rev in target_ancestry or rev in folded:
            continue  # below the target already: moving it on top would make a loop
        node = graph.nodes[rev]
        if isinstance(node.file.down_revision.value, Unknown):
            # Its parents read as none, so whether it hangs off a stale parent (and
            # must move) is unknowable; planning around it would write a wrong merge.
            raise Refusal(
                f"{plan.project.relpath(node.path)}:{node.file.down_revision.line}: "
                f"down_revision of new revision {rev} is not a literal "
                f"({node.file.down_revision.value.source}), so migfix cannot tell whether "
                f"it must move onto {target}. Replace it with the revision id(s) it stands "
                "for and run migfix merge again."
            )
        old = parents[rev]
        if not any(p in stale and p in target_ancestry for p in old):
            continue
        moved: list[str] = []
        for p in old:
            q = target if (p in stale and p in target_ancestry) else p
            if q not in moved:
                moved.append(q)
        parents[rev] = tuple(moved)
        plan.repoints.append(Repoint(rev, node.path, node.down, tuple(moved)))


def _refuse_redundant_parents(
    merges: Sequence[tuple[str, tuple[str, ...]]],
    parents: dict[str, tuple[str, ...]],
) -> None:
    """Never write a merge one of whose parents is an ancestor of another (``check``'s
    redundant-parent): ``alembic downgrade`` cannot walk down through it."""
    for _rev, heads in merges:
        # One walk below all the heads: a head found there is below another one (or on a
        # loop, which the proof reports). Only then is each head walked, to name the pair.
        below = ancestry(parents, [p for h in heads for p in parents.get(h, ())])
        if not any(h in below for h in heads):
            continue
        for h in heads:
            below = ancestry(parents, parents.get(h, ()))
            older = next((p for p in heads if p != h and p in below), None)
            if older is not None:
                raise Refusal(
                    f"{older} is an ancestor of {h}, so a merge revision over both would name "
                    "a parent twice over and `alembic downgrade` could not walk down through "
                    f"it. Merge only {h} (`migfix merge` without naming heads picks them)."
                )


def _drop_redundant_parents(
    graph: Graph,
    newness: Newness,
    region: set[str],
    parents: dict[str, tuple[str, ...]],
    plan: MergePlan,
) -> None:
    """A new merge whose parent moved on top of its other parent (``m(b, a1)`` with ``b``
    moved onto ``a2``, ``a1`` replaced by ``a2``) would name a parent and its ancestor:
    Alembic cannot walk that down. The ancestor goes; the merge keeps its own line."""
    for rev in (r for r in graph.nodes if r in region):
        ps = parents.get(rev, ())
        if len(ps) < 2 or not newness.is_new(rev):
            continue
        below = {p: ancestry(parents, parents.get(p, ())) for p in ps}
        kept = tuple(p for p in ps if not any(p in below[q] for q in ps if q != p))
        if kept == ps:
            continue
        parents[rev] = kept
        node = graph.nodes[rev]
        plan.repoints[:] = [rp for rp in plan.repoints if rp.revision != rev]
        if kept != node.down:
            plan.repoints.append(Repoint(rev, node.path, node.down, kept))


def _fold_duplicates(
    graph: Graph,
    newness: Newness,
    region: set[str],
    parents: dict[str, tuple[str, ...]],
    plan: MergePlan,
) -> set[str]:
    """Two people joined the same heads: a new merge revision that does nothing, over the
    same parents as a settled (incoming) one, is deleted and its children point at the
    incoming merge instead of gaining an empty "merge heads" revision."""
    by_parents: dict[frozenset[str], str] = {}
    merges = [r for r in graph.merge_points if r in region]
    for r in merges:
        node = graph.nodes[r]
        if not newness.is_new(r):
            by_parents.setdefault(frozenset(node.down), r)
    folded: set[str] = set()
    for r in merges:
        node = graph.nodes[r]
        into = by_parents.get(frozenset(node.down))
        if into is None or not newness.is_new(r) or into == r:
            continue
        kids = graph.children[r]
        if any(not newness.is_new(k) for k in kids) or not does_nothing(node.path.read_bytes()):
            continue  # a settled child, or operations in it: not ours to delete
        folded.add(r)
        plan.dropped.append(DroppedMerge(r, node.path, node.down, into))
        del parents[r]
        for k in kids:
            parents[k] = tuple(dict.fromkeys(into if p == r else p for p in parents[k]))
    return folded


def _heads_within(parents: dict[str, tuple[str, ...]], region: set[str]) -> list[str]:
    named = {p for r in region for p in parents.get(r, ())}
    return [r for r in region if r not in named]


def _refuse_settled_repoints(plan: MergePlan) -> None:
    for rp in plan.repoints:
        if not plan.newness.is_new(rp.revision):  # pragma: no cover - guarded by the plan
            raise Refusal(
                f"{plan.project.relpath(rp.path)}: revision {rp.revision} is settled (it is on "
                f"{plan.newness.upstream}); migfix never rewrites a settled revision."
            )
