"""``migfix rebase``, the lines: which of REF's heads each chain of this branch goes onto, and
how independent chains are stacked onto one head, oldest first commit first.

Pure, like the rest of the plan (``migfix.plan.rebase``): two graphs in, new parents out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migfix.errors import Refusal
from migfix.project.model import relpath
from migfix.read.graph import Graph


@dataclass
class Sides:
    """The two graphs every planning step compares, and how to name files in messages."""

    work: Graph
    onto: Graph
    ref: str
    root: Path
    head_ancestry: dict[str, set[str]] = field(default_factory=dict)
    """REF's heads' ancestors, computed only for the heads a branch revision asks about."""

    def rel(self, path: Path) -> str:
        return relpath(path, self.root)

    def where(self, rev: str) -> str:
        """The file of this branch's revision REV, for messages."""
        return self.rel(self.work.nodes[rev].path)


def head_above(sides: Sides, r: str, p: str) -> str:
    """REF's head on the line through P, REF's revision that branch revision R comes after."""
    onto = sides.onto
    candidates = []
    for h in onto.heads:
        if h not in sides.head_ancestry:
            sides.head_ancestry[h] = onto.ancestors(h)
        if p == h or p in sides.head_ancestry[h]:
            candidates.append(h)
    if len(candidates) > 1:
        labels = onto.effective_labels(p)
        same = [h for h in candidates if onto.effective_labels(h) == labels]
        if len(same) == 1:
            return same[0]
        raise Refusal(
            f"{sides.where(r)}: {r} comes after {p}, which leads to several heads "
            f"on {sides.ref} ({', '.join(candidates)}), so migfix cannot tell which one it "
            "belongs on. Point its down_revision at the line you mean (or give it that "
            "line's branch label), then run migfix rebase again."
        )
    if not candidates:
        raise Refusal(
            f"{p} on {sides.ref} leads to no head there (its history has a cycle), so migfix "
            f"cannot rebase {r} onto it. Run `migfix check` on {sides.ref}, fix it, then run "
            "migfix rebase again."
        )
    return candidates[0]


def line_head(sides: Sides, r: str, theirs: Sequence[str]) -> str:
    """The one head of REF that all of THEIRS (REF's parents of branch revision R) lead to."""
    heads = list(dict.fromkeys(head_above(sides, r, p) for p in theirs))
    if len(heads) > 1:
        raise Refusal(
            f"{sides.where(r)}: {r} comes after revisions of different lines on "
            f"{sides.ref} (heads {', '.join(heads)}); migfix rebase cannot put it on one of "
            "them. Rebase it by hand, then run migfix rebase again."
        )
    return heads[0]


@dataclass(frozen=True)
class Chain:
    """One intended branch after the rebase: REF's head, then the branch's revisions."""

    onto: str
    labels: tuple[str, ...]
    revisions: tuple[str, ...]
    """The branch's revisions on top of ``onto``, parents first."""
    stacked: tuple[tuple[str, ...], ...] = ()
    """The independent chains, in the order they were stacked, when there were several."""


def chains_of(kept: Sequence[str], parents: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """The independent chains of KEPT (parents first): revisions connected through parents
    inside the branch, each chain in KEPT's order."""
    kept_set = set(kept)
    comp_of: dict[str, int] = {}
    components: list[list[str]] = []
    for r in kept:  # topological: a revision's own parents already have a component
        ids = sorted({comp_of[p] for p in parents[r] if p in kept_set})
        if not ids:
            comp_of[r] = len(components)
            components.append([r])
            continue
        target = ids[0]
        for other in ids[1:]:
            for moved in components[other]:
                comp_of[moved] = target
            components[target].extend(components[other])
            components[other] = []
        comp_of[r] = target
        components[target].append(r)
    position = {r: i for i, r in enumerate(kept)}
    return [sorted(c, key=position.__getitem__) for c in components if c]


def choose_heads(
    sides: Sides, chains: Sequence[list[str]], parents: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    """Put each chain onto one head of REF, the head of the line its roots come after.

    Returns the roots to re-parent (root -> REF's head) and the chains per head. Roots that
    start a labelled branch of their own, or a new base, are left where they are.
    """
    kept = parents.keys()
    anchored: dict[str, str] = {}
    by_head: dict[str, list[list[str]]] = {}
    for chain in chains:
        targets: dict[str, None] = {}
        for r in chain:
            if any(p in kept for p in parents[r]):
                continue
            theirs = [p for p in parents[r] if p in sides.onto.nodes]
            if not theirs or sides.work.nodes[r].labels != ():
                continue
            head = line_head(sides, r, theirs)
            anchored[r] = head
            targets[head] = None
        if len(targets) > 1:
            raise Refusal(
                f"This branch's revisions {', '.join(chain)} join lines that end in different "
                f"heads on {sides.ref} ({', '.join(targets)}); migfix rebase cannot put them on "
                "one head. Rebase them by hand, then run migfix rebase again."
            )
        if targets:
            tips = [r for r in chain if not any(r in parents[c] for c in chain if c != r)]
            if len(tips) > 1:
                raise Refusal(
                    f"This branch's own revisions have {len(tips)} heads ({', '.join(tips)}) "
                    "that grow from one line; migfix rebase makes one chain and will not guess "
                    "their order. Join them with `migfix merge` first, then run "
                    f"`migfix rebase --onto {sides.ref}` again."
                )
            by_head.setdefault(next(iter(targets)), []).append(chain)
    return anchored, by_head


def _age(
    sides: Sides, chain: Sequence[str], first_commits: Mapping[Path, int]
) -> tuple[int, int, str]:
    """Sort key of a chain: committed ones by their first commit, then the uncommitted."""
    paths = [sides.work.nodes[r].path for r in chain]
    times = [first_commits[p] for p in paths if p in first_commits]
    first_path = min(sides.rel(p) for p in paths)
    return (0, min(times), first_path) if times else (1, 0, first_path)


def _describe(sides: Sides, chain: Sequence[str], first_commits: Mapping[Path, int]) -> str:
    key = _age(sides, chain, first_commits)
    when = (
        "first committed " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(key[1]))
        if key[0] == 0
        else "not committed yet"
    )
    return f"{' -> '.join(chain)} ({when})"


def stack_chains(
    sides: Sides,
    by_head: Mapping[str, list[list[str]]],
    anchored: Mapping[str, str],
    parents: Mapping[str, tuple[str, ...]],
    first_commits: Mapping[Path, int],
) -> tuple[dict[str, tuple[str, ...]], list[Chain], list[str]]:
    """Stack the chains going onto each head of REF, oldest first commit first.

    Returns every kept revision's new parents, the resulting line per head, and a note per
    head where several chains were stacked.
    """
    new_parents: dict[str, tuple[str, ...]] = dict(parents)
    chains: list[Chain] = []
    notes: list[str] = []
    for head in sides.onto.heads:
        group = by_head.get(head)
        if not group:
            continue
        group.sort(key=lambda c: _age(sides, c, first_commits))
        tip = head
        for comp in group:
            for r in comp:
                if r in anchored:
                    new_parents[r] = (tip,)
            tip = next(r for r in reversed(comp) if not any(r in parents[c] for c in comp))
        labels = tuple(sorted(sides.onto.effective_labels(head) or ()))
        stacked = tuple(tuple(c) for c in group) if len(group) > 1 else ()
        chains.append(Chain(head, labels, tuple(r for c in group for r in c), stacked))
        if stacked:
            notes.append(
                f"{len(group)} independent chains of this branch were stacked onto {head}, "
                "oldest first commit first: "
                + "; then ".join(_describe(sides, c, first_commits) for c in group)
                + "."
            )
    return new_parents, chains, notes
