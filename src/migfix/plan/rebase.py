"""Re-root this branch's revisions onto another git ref's head (``migfix rebase --onto REF``).

The branch's revisions are those in the working tree whose id REF's tree lacks. Each one
whose parent is on REF gets REF's head (of the same intended branch) instead; parents inside
the branch stay. Independent chains of the branch are stacked one on the other, oldest first
commit first, so the result is one line per intended branch.

Two steps, kept apart: :func:`plan_rebase` is pure (two graphs and commit times in, a
:class:`RebasePlan` out) and :func:`apply` writes through ``_fileio``. :func:`plan` is the
impure glue that reads REF's files from git objects. Files whose revision id exists on REF
are never rewritten: they are REF's.
"""

from __future__ import annotations

import time
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import Refusal
from migfix.project.config import Project, relpath
from migfix.read.graph import Graph, reachable
from migfix.read.scan import Unknown
from migfix.write.fileio import FileChange

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
class Move:
    """One branch revision whose ``down_revision`` changes."""

    revision: str
    path: Path
    old_parents: tuple[str, ...]
    new_parents: tuple[str, ...]


@dataclass(frozen=True)
class DroppedMerge:
    """A branch merge revision that only joined REF's history; its file is deleted."""

    revision: str
    path: Path
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Chain:
    """One intended branch after the rebase: REF's head, then the branch's revisions."""

    onto: str
    labels: tuple[str, ...]
    revisions: tuple[str, ...]
    """The branch's revisions on top of ``onto``, parents first."""
    stacked: tuple[tuple[str, ...], ...] = ()
    """The independent chains, in the order they were stacked, when there were several."""


@dataclass(frozen=True)
class RebasePlan:
    ref: str
    root: Path
    branch: tuple[str, ...]
    """Every revision of the working tree that REF lacks (the kept and the dropped)."""
    moves: tuple[Move, ...] = ()
    dropped: tuple[DroppedMerge, ...] = ()
    chains: tuple[Chain, ...] = ()
    notes: tuple[str, ...] = field(default=())
    unmerged: tuple[str, ...] = ()
    """REF's heads the branch now comes after that its own files do not hold yet (REF is
    not merged in): the next step is `git merge REF`."""
    project: Project | None = None
    """Set by :func:`plan_onto`: the heads lock is written with the moves when it is on."""

    @property
    def changed(self) -> bool:
        return bool(self.moves or self.dropped)

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
                    "old_parents": list(m.old_parents),
                    "new_parents": list(m.new_parents),
                }
                for m in self.moves
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
# the new parents into moves.


def _ids(revs: Sequence[str]) -> str:
    return ", ".join(revs) if revs else "(none)"


@dataclass
class _Sides:
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
    EMPTY_MERGES (its upgrade and downgrade do nothing, see ``noop``), as ``git rebase``
    drops merge commits; one that carries operations is refused unless DROP_MERGES.
    """
    sides = _Sides(work, onto, ref, root)
    _refuse_unmerged_ref(onto, ref)
    branch = _branch_revisions(work, onto)
    _refuse_unplaceable(sides, branch)
    redundant = _redundant_merges(sides, branch)
    carrying = {r: p for r, p in redundant.items() if r not in empty_merges}
    if carrying and not drop_merges:
        _refuse_redundant_merges(sides, carrying)
    kept = [r for r in branch if r not in redundant]
    parents = {r: _skip_dropped(work.nodes[r].down, redundant) for r in kept}
    anchored, by_head = _choose_heads(sides, _chains_of(kept, parents), parents)
    new_parents, chains, notes = _stack_chains(
        sides, by_head, anchored, parents, first_commits or {}
    )
    _drop_redundant_parents(sides, new_parents)
    return RebasePlan(
        ref=ref,
        root=root,
        branch=tuple(branch),
        moves=_build_moves(work, kept, new_parents),
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


def _refuse_unplaceable(sides: _Sides, branch: Sequence[str]) -> None:
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


def _head_above(sides: _Sides, r: str, p: str) -> str:
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


def _line_head(sides: _Sides, r: str, theirs: Sequence[str]) -> str:
    """The one head of REF that all of THEIRS (REF's parents of branch revision R) lead to."""
    heads = list(dict.fromkeys(_head_above(sides, r, p) for p in theirs))
    if len(heads) > 1:
        raise Refusal(
            f"{sides.where(r)}: {r} comes after revisions of different lines on "
            f"{sides.ref} (heads {', '.join(heads)}); migfix rebase cannot put it on one of "
            "them. Rebase it by hand, then run migfix rebase again."
        )
    return heads[0]


def _redundant_merges(sides: _Sides, branch: Sequence[str]) -> dict[str, tuple[str, ...]]:
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
            _line_head(sides, r, theirs)
        redundant[r] = own if own else tuple(theirs)
    return redundant


def _refuse_redundant_merges(sides: _Sides, redundant: Mapping[str, tuple[str, ...]]) -> None:
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


def _chains_of(kept: Sequence[str], parents: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
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


def _choose_heads(
    sides: _Sides, chains: Sequence[list[str]], parents: Mapping[str, tuple[str, ...]]
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
            head = _line_head(sides, r, theirs)
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
    sides: _Sides, chain: Sequence[str], first_commits: Mapping[Path, int]
) -> tuple[int, int, str]:
    """Sort key of a chain: committed ones by their first commit, then the uncommitted."""
    paths = [sides.work.nodes[r].path for r in chain]
    times = [first_commits[p] for p in paths if p in first_commits]
    first_path = min(sides.rel(p) for p in paths)
    return (0, min(times), first_path) if times else (1, 0, first_path)


def _describe(sides: _Sides, chain: Sequence[str], first_commits: Mapping[Path, int]) -> str:
    key = _age(sides, chain, first_commits)
    when = (
        "first committed " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(key[1]))
        if key[0] == 0
        else "not committed yet"
    )
    return f"{' -> '.join(chain)} ({when})"


def _stack_chains(
    sides: _Sides,
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


def _drop_redundant_parents(sides: _Sides, new_parents: dict[str, tuple[str, ...]]) -> None:
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


def _build_moves(
    work: Graph, kept: Sequence[str], new_parents: Mapping[str, tuple[str, ...]]
) -> tuple[Move, ...]:
    """A move for each kept revision whose parents change, in KEPT's order."""
    return tuple(
        Move(r, work.nodes[r].path, work.nodes[r].down, new_parents[r])
        for r in kept
        if new_parents[r] != work.nodes[r].down
    )


# -- reading REF (git) -------------------------------------------------------------------------


def plan_onto(
    project: Project,
    ref: str,
    *,
    drop_merges: bool = False,
    upstream: str | None = None,
    extra_new: Sequence[str] = (),
) -> RebasePlan:
    """Read this project's graph and REF's (from git objects) and plan the rebase.

    Refuses (:class:`SettledRevisions`) a plan that would rewrite or delete a settled
    revision; UPSTREAM and EXTRA_NEW decide which are settled, as for ``migfix merge``.
    """
    from migfix.commands.merge_run import refuse_broken, refuse_conflicts
    from migfix.git import gitops
    from migfix.plan.against import ref_files
    from migfix.plan.settled import classify, where_published
    from migfix.read.does_nothing import does_nothing
    from migfix.read.graph import read_graph

    repo = gitops.find_repo(project.root)
    if repo is None:
        raise Refusal(
            f"{project.root} is not inside a git repository, and migfix rebase reads {ref} "
            "from git. Run it from the repository's work tree."
        )
    refuse_conflicts(project, repo, rerun=f"migfix rebase --onto {ref}")
    sha = gitops.resolve_ref(repo, ref)
    onto = Graph(
        ref_files(project, repo, sha, on_missing=lambda loc: _refuse_missing(ref, repo, loc)),
        allow_heads=project.settings.allow_heads,
    )
    work = read_graph(project)
    # Before `git merge`, a rebased revision's parent exists only on REF: the planner
    # checks parents against both sides itself.
    refuse_broken(project, work, ignore=("unknown-parent",))
    refuse_broken(project, onto)  # REF's files must load too: the result holds them
    empty = {
        r
        for r, n in work.nodes.items()
        if len(n.down) > 1 and r not in onto.nodes and does_nothing(n.path.read_bytes())
    }
    branch_paths = [n.path for r, n in work.nodes.items() if r not in onto.nodes]
    times = gitops.first_commit_times(repo, branch_paths)
    plan = plan_rebase(
        work,
        onto,
        ref=ref,
        root=project.root,
        first_commits=times,
        drop_merges=drop_merges,
        empty_merges=empty,
    )
    if plan.changed:
        newness = classify(project, work, upstream=upstream, extra_new=extra_new)
        touched = [m.revision for m in plan.moves] + [d.revision for d in plan.dropped]
        settled = sorted(r for r in touched if not newness.is_new(r))
        if settled:
            where = where_published(project, work, newness, settled)
            raise _settled_refusal(plan, settled, where)
    return _join_extras(project, repo, ref, work, onto, plan)


def _settled_refusal(plan: RebasePlan, settled: Sequence[str], where: str) -> SettledRevisions:
    one = len(settled) == 1
    ids = ", ".join(settled)
    new = " ".join(f"--new {r}" for r in settled)
    return SettledRevisions(
        f"{ids} {'is' if one else 'are'} settled (on {where}): a database may already have "
        f"applied {'it' if one else 'them'}, and rebasing onto {plan.ref} would rewrite "
        f"{'its' if one else 'their'} down_revision. migfix never rewrites a settled revision; "
        "nothing was written. Use `migfix merge`, which only adds a merge revision over "
        "settled ones, or, if no database has applied "
        f"{'it' if one else 'them'} yet (a pull request still in review), run "
        f"`migfix rebase --onto {plan.ref} {new}`.",
        settled,
    )


def _join_extras(
    project: Project, repo: Path, ref: str, work: Graph, onto: Graph, plan: RebasePlan
) -> RebasePlan:
    """Overlap warnings for the join, and the project, so the heads lock is written too."""
    from dataclasses import replace

    from migfix.plan import overlap

    notes = [
        overlap.NOTE + overlap.message(found)
        for found in overlap.for_rebase(project, repo, ref, work, onto, plan)
    ]
    if project.settings.lock and plan.changed:
        from migfix.plan.heads_lock import lock_path

        notes.append(f"The heads lock {project.relpath(lock_path(project))} follows the new head.")
    return replace(plan, notes=(*plan.notes, *notes), project=project)


def _refuse_missing(ref: str, repo: Path, loc: Path) -> None:
    raise Refusal(
        f"{ref} has no folder {relpath(loc, repo)} in its tree, which is where this "
        f"project's revision files live, so there is nothing to rebase onto. Check that "
        f"{ref} is the branch you meant, then run `migfix rebase --onto {ref}` again."
    )


def hook_rebase(
    project: Project, *, onto: Sequence[str] = (), by: str = "migfix hook"
) -> tuple[list[Path], str]:
    """What the post-merge / post-rewrite / post-commit hook runs with ``strategy = "rebase"``.

    Rebases onto ``onto`` (the commit the merge or rebase brought in, see
    ``hookrun``), else ``[tool.migfix] upstream``, else the branch's ``@{upstream}``,
    ``origin/HEAD``, ``main`` or ``master``. Returns the paths written and the report.
    A merge of REF's history that does nothing is dropped, as by ``migfix rebase``; one
    that carries operations is refused: deleting those is left to a human. When no ref
    will do, raises :class:`SeveralHeads` if one of them already had several heads, else
    :class:`SettledRevisions`.
    """
    from migfix.git import gitops

    candidates = list(onto)
    if not candidates:
        repo = gitops.find_repo(project.root)
        ref = project.settings.upstream or (gitops.default_upstream(repo) if repo else None)
        if ref is None:
            raise Refusal(
                "No ref to rebase onto: set [tool.migfix] upstream, or give this branch an "
                "upstream (`git branch --set-upstream-to`), or run `migfix rebase --onto <ref>`."
            )
        candidates = [ref]
    from migfix.write import txn

    blocked: list[SettledRevisions] = []
    split: list[SeveralHeads] = []
    with txn.writer_lock(project.root):
        for ref in candidates:
            try:
                planned = plan_onto(project, ref)
            except SettledRevisions as exc:
                blocked.append(exc)
                continue
            except SeveralHeads as exc:
                split.append(exc)
                continue
            return apply(planned, by=by), render(planned)
    if split:  # the plainer reason: no rebase can fix a side that is split already
        raise split[0]
    settled = sorted({r for exc in blocked for r in exc.revisions})
    raise SettledRevisions(blocked[0].message, settled)


# -- writing -----------------------------------------------------------------------------------


def build_changes(plan: RebasePlan) -> list[FileChange]:
    """Every file change of PLAN, computed before anything is written."""
    from migfix.read.scan import scan_file
    from migfix.write import rewrite

    changes: list[FileChange] = []
    for move in plan.moves:
        old = move.path.read_bytes()
        now = scan_file(move.path, old).down_revisions
        if now != move.old_parents:
            # Rewriting would silently undo whatever the user just did to this file.
            raise Refusal(
                f"{plan.relpath(move.path)} changed since migfix read it (down_revision is now "
                f"{_ids(now)}, was {_ids(move.old_parents)}). Nothing was written; run "
                f"`migfix rebase --onto {plan.ref}` again."
            )
        # The path given to the rewrite only names the file in its refusals.
        shown = Path(plan.relpath(move.path))
        new = rewrite.rewrite_parents(old, move.new_parents, path=shown)
        changes.append(FileChange(move.path, old, new))
    for drop in plan.dropped:
        changes.append(FileChange(drop.path, drop.path.read_bytes(), None))
    if plan.project is not None and plan.project.settings.lock:
        from migfix.plan import heads_lock as headlock
        from migfix.read.graph import read_graph

        changes.extend(headlock.follow(plan.project, read_graph(plan.project), changes))
    return changes


def apply(plan: RebasePlan, *, by: str = "migfix rebase") -> list[Path]:
    """Write PLAN: every rewrite and deletion, or none of them. Returns the paths changed.

    Each move goes into the journal of moves (``migfix db status`` reads it)."""
    from migfix.git import gitops
    from migfix.write import moves
    from migfix.write.fileio import apply_changes

    written = apply_changes(build_changes(plan), root=plan.root)
    moves.record(
        gitops.find_repo(plan.root),
        [(m.revision, m.old_parents, m.new_parents) for m in plan.moves],
        by,
    )
    return written


def diff(plan: RebasePlan) -> str:
    """Unified diffs of what :func:`apply` would write."""
    from migfix.write.fileio import unified_diffs

    return unified_diffs(build_changes(plan), plan.root)


# -- reporting ---------------------------------------------------------------------------------


def render(plan: RebasePlan) -> str:
    """Per file ``b1: a -> c``, the dropped merges, the stacking, and each final chain.

    Files are named relative to where the command runs (config.shown)."""
    from migfix.project.config import shown

    if not plan.branch:
        return f"Nothing to do: this branch has no revisions that {plan.ref} lacks."
    lines: list[str] = []
    if not plan.changed:
        lines.append(f"Nothing to do: this branch's revisions are already on top of {plan.ref}.")
    else:
        lines.append(f"Rebasing onto {plan.ref}:")
        for m in plan.moves:
            lines.append(
                f"  {m.revision}: {_ids(m.old_parents)} -> {_ids(m.new_parents)}"
                f"  ({shown(m.path, plan.root)})"
            )
        for d in plan.dropped:
            lines.append(
                f"  {d.revision}: deleted, it only merged {plan.ref}'s history "
                f"({_ids(d.parents)})  ({shown(d.path, plan.root)})"
            )
    lines.extend(plan.notes)
    for c in plan.chains:
        label = f" ({', '.join(c.labels)})" if c.labels else ""
        lines.append(f"Chain{label}: {' -> '.join((c.onto, *c.revisions))}")
    if plan.changed and plan.unmerged:
        one = len(plan.unmerged) == 1
        lines.append(
            f"Next: `git merge {plan.ref}` (or `git rebase {plan.ref}`). Until then this "
            f"branch names {plan.ref}'s {'head' if one else 'heads'} "
            f"{', '.join(plan.unmerged)}, which {'is' if one else 'are'} not in its files yet."
        )
    return "\n".join(lines)
