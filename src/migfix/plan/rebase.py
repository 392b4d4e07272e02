"""Re-root this branch's revisions onto another git ref's head (``migfix rebase --onto REF``).

The branch's revisions are those in the working tree whose id REF's tree lacks. Each one
whose parent is on REF gets REF's head (of the same intended branch) instead; parents inside
the branch stay. Independent chains of the branch are stacked one on the other, oldest first
commit first, so the result is one line per intended branch.

Kept apart: :func:`plan_rebase` here is pure (two graphs and commit times in, a
:class:`RebasePlan` out; the lines and the stacking are in ``migfix.plan.rebase_chains``);
``migfix.plan.rebase_onto`` reads REF's files from git objects and plans; the run
(``migfix.commands.rebase``) writes. Files whose revision id exists on REF are never
rewritten: they are REF's.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import Refusal
from migfix.plan.rebase_chains import Chain, Sides, chains_of, choose_heads, line_head, stack_chains
from migfix.plan.records import DroppedMerge, Repoint
from migfix.project.model import Project, relpath
from migfix.read.graph import Graph, reachable
from migfix.read.revision_file import Unknown

JSON_VERSION = 1


class SettledRevisions(Refusal):
    """The rebase would rewrite revisions that are settled (see ``migfix.plan.settled``)."""

    def __init__(self, message: str, revisions: Sequence[str]) -> None:
        super().__init__(message)
        self.revisions = tuple(revisions)


class SeveralHeads(Refusal):
    """The ref to rebase onto itself has several heads: there is no single head to rebase onto."""

    def __init__(self, message: str, ref: str, heads: Sequence[str]) -> None:
        super().__init__(message)
        self.ref = ref
        self.heads = tuple(heads)


@dataclass(frozen=True)
class RebasePlan:
    ref: str
    root: Path
    branch: tuple[str, ...]
    """Every revision of the working tree that REF lacks (the kept and the dropped)."""
    repoints: tuple[Repoint, ...] = ()
    dropped: tuple[DroppedMerge, ...] = ()
    chains: tuple[Chain, ...] = ()
    notes: tuple[str, ...] = field(default=())
    unmerged: tuple[str, ...] = ()
    """REF's heads the branch now comes after that its own files do not hold yet (REF is
    not merged in): the next step is `git merge REF`."""
    project: Project | None = None
    """Set by :func:`plan_onto`: the heads lock is written with the repoints when it is on."""

    @property
    def changed(self) -> bool:
        return bool(self.repoints or self.dropped)

    def relpath(self, path: Path) -> str:
        return relpath(path, self.root)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "ref": self.ref,
            "changed": self.changed,
            "branch_revisions": list(self.branch),
            "moves": [
                {
                    "revision": m.revision,
                    "path": self.relpath(m.path),
                    "old_parents": list(m.old),
                    "new_parents": list(m.new),
                }
                for m in self.repoints
            ],
            "dropped_merges": [
                {"revision": d.revision, "path": self.relpath(d.path), "parents": list(d.parents)}
                for d in self.dropped
            ],
            "chains": [
                {
                    "onto": c.onto,
                    "labels": list(c.labels),
                    "revisions": list(c.revisions),
                    "stacked": [list(s) for s in c.stacked],
                }
                for c in self.chains
            ],
            "notes": list(self.notes),
            "unmerged_ref_heads": list(self.unmerged),
        }


# -- planning (pure) ---------------------------------------------------------------------------
#
# plan_rebase runs these steps in order, each a function below: refuse a REF that has no single
# head, find the branch's revisions, drop the merges of REF's history, split what is kept into
# independent chains, choose REF's head for each line, stack chains that share a head, and turn
# the new parents into repoints.


def ids_text(revs: Sequence[str]) -> str:
    return ", ".join(revs) if revs else "(none)"


def plan_rebase(
    work: Graph,
    onto: Graph,
    *,
    ref: str,
    root: Path,
    first_commits: Mapping[Path, int] | None = None,
    drop_merges: bool = False,
    empty_merges: Container[str] = frozenset(),
) -> RebasePlan:
    """Plan re-rooting WORK's revisions that ONTO (REF's graph) lacks onto ONTO's heads.

    FIRST_COMMITS gives, per file path, when it was first committed (Unix seconds); it orders
    independent chains (files missing from it count as not committed yet, and go last).
    A merge of this branch that only joined REF's history is dropped when it is in
    EMPTY_MERGES (its upgrade and downgrade do nothing, see ``does_nothing``), as ``git rebase``
    drops merge commits; one that carries operations is refused unless DROP_MERGES.
    """
    sides = Sides(work, onto, ref, root)
    _refuse_unmerged_ref(onto, ref)
    branch = _branch_revisions(work, onto)
    _refuse_unplaceable(sides, branch)
    redundant = _redundant_merges(sides, branch)
    carrying = {r: p for r, p in redundant.items() if r not in empty_merges}
    if carrying and not drop_merges:
        _refuse_redundant_merges(sides, carrying)
    kept = [r for r in branch if r not in redundant]
    parents = {r: _skip_dropped(work.nodes[r].down, redundant) for r in kept}
    anchored, by_head = choose_heads(sides, chains_of(kept, parents), parents)
    new_parents, chains, notes = stack_chains(
        sides, by_head, anchored, parents, first_commits or {}
    )
    _drop_redundant_parents(sides, new_parents)
    return RebasePlan(
        ref=ref,
        root=root,
        branch=tuple(branch),
        repoints=_build_repoints(work, kept, new_parents),
        dropped=tuple(DroppedMerge(r, work.nodes[r].path, work.nodes[r].down) for r in redundant),
        chains=tuple(chains),
        notes=tuple(notes),
        unmerged=tuple(c.onto for c in chains if c.onto not in work.nodes),
    )


def _refuse_unmerged_ref(onto: Graph, ref: str) -> None:
    unintended = onto.unintended_heads()
    if unintended:
        raise SeveralHeads(
            f"{ref} itself has several heads ({', '.join(unintended)}), so there is no single "
            f"head to rebase onto. Run `migfix merge` on {ref} first (check it out, merge its "
            f"heads, commit and push), then run `migfix rebase --onto {ref}` again.",
            ref,
            unintended,
        )


def _branch_revisions(work: Graph, onto: Graph) -> list[str]:
    """WORK's revisions that ONTO lacks, parents first; refuses when they form a cycle."""
    branch_set = {r for r in work.nodes if r not in onto.nodes}
    branch = [r for r in work.topological_order() if r in branch_set]
    if len(branch) < len(branch_set):
        stuck = sorted(branch_set - set(branch))
        raise Refusal(
            f"This branch's revisions {', '.join(stuck)} form a cycle through down_revision, so "
            "they have no order to rebase. Run `migfix check` to see the cycle, fix it, then "
            "run migfix rebase again."
        )
    return branch


def _refuse_unplaceable(sides: Sides, branch: Sequence[str]) -> None:
    """Refuse a branch revision whose parents are not literal or exist on neither side."""
    branch_set = set(branch)
    for r in branch:
        node = sides.work.nodes[r]
        value = node.file.down_revision.value
        if isinstance(value, Unknown):
            raise Refusal(
                f"{sides.rel(node.path)}:{node.file.down_revision.line}: down_revision of {r} is "
                f"not a literal ({value.source}), so migfix cannot tell which revisions it comes "
                "after and will not rewrite it. Replace it with the revision id(s) it stands "
                f"for, then run `migfix rebase --onto {sides.ref}` again."
            )
        for p in node.down:
            if p not in branch_set and p not in sides.onto.nodes:
                raise Refusal(
                    f"{sides.rel(node.path)}: down_revision of {r} names '{p}', which neither "
                    f"{sides.ref} nor this branch declares, so migfix cannot place it. Restore "
                    "that revision or fix down_revision, then run migfix rebase again."
                )


def _redundant_merges(sides: Sides, branch: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The branch's merges that only joined REF's history (at most one parent of their own),
    each with the parents its children get instead."""
    branch_set = set(branch)
    redundant: dict[str, tuple[str, ...]] = {}
    for r in branch:
        node = sides.work.nodes[r]
        if len(node.down) < 2:
            continue
        own = tuple(p for p in node.down if p in branch_set)
        theirs = [p for p in node.down if p not in branch_set]
        if not theirs:
            continue
        if len(own) > 1:
            raise Refusal(
                f"{sides.rel(node.path)}: {r} merges this branch's revisions {', '.join(own)} "
                f"and also {sides.ref}'s {', '.join(theirs)}; migfix rebase only drops merges of "
                f"{sides.ref}'s history and will not guess this one. Remove "
                f"{', '.join(theirs)} from its down_revision by hand, then run again."
            )
        if not own:
            # A merge across intended branches is not REF's history only: refused there.
            line_head(sides, r, theirs)
        redundant[r] = own if own else tuple(theirs)
    return redundant


def _refuse_redundant_merges(sides: Sides, redundant: Mapping[str, tuple[str, ...]]) -> None:
    ref = sides.ref
    listed = ", ".join(f"{r} ({sides.where(r)})" for r in redundant)
    one = len(redundant) == 1
    raise Refusal(
        f"{listed} {'is a merge revision' if one else 'are merge revisions'} of this branch "
        f"that only {'joins' if one else 'join'} {ref}'s history; on top of {ref} there is "
        "nothing left to merge. Run `migfix rebase --onto "
        f"{ref} --drop-merges` to delete {'it' if one else 'them'} and point "
        f"{'its' if one else 'their'} children at what {'it' if one else 'they'} merged, "
        "or remove them yourself."
    )


def _skip_dropped(
    parents: Sequence[str], redundant: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """PARENTS with each dropped merge replaced by what it merged, without repeats."""
    out: list[str] = []
    for p in parents:
        for q in _skip_dropped(redundant[p], redundant) if p in redundant else (p,):
            if q not in out:
                out.append(q)
    return tuple(out)


def _drop_redundant_parents(sides: Sides, new_parents: dict[str, tuple[str, ...]]) -> None:
    """Keep no parent that is an ancestor of another parent of the same revision.

    Replacing a dropped merge by what it merged can give a child two parents on one line;
    Alembic cannot walk such a merge down ("Ambiguous walk"), so the older one goes.
    """
    for r, parents in new_parents.items():
        if len(parents) < 2:
            continue

        def up(rev: str) -> tuple[str, ...]:
            if rev in new_parents:
                return new_parents[rev]
            node = sides.onto.nodes.get(rev) or sides.work.nodes.get(rev)
            return node.down if node is not None else ()

        below = {p: reachable(up(p), up) for p in parents}
        kept = tuple(p for p in parents if not any(p in below[q] for q in parents if q != p))
        if kept != parents:
            new_parents[r] = kept


def _build_repoints(
    work: Graph, kept: Sequence[str], new_parents: Mapping[str, tuple[str, ...]]
) -> tuple[Repoint, ...]:
    """A repoint for each kept revision whose parents change, in KEPT's order."""
    return tuple(
        Repoint(r, work.nodes[r].path, work.nodes[r].down, new_parents[r])
        for r in kept
        if new_parents[r] != work.nodes[r].down
    )
