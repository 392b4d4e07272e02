"""``migfix merge``: join unintended heads with a merge revision written by Alembic,
and move new revisions on top of it.

The plan is computed first, in memory, from the static graph; only then is anything
written, in one transaction (``_fileio.apply_changes``). Alembic renders the merge
file with the project's own ``script.py.mako``, ``file_template``, timezone, output
encoding and post-write hooks, but it is handed the static graph instead of loading
(importing) every revision file: that is both faster and works when the migrations
import an application that is not installed.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import MigfixError, Refusal
from migfix.plan.settled import Newness
from migfix.project.config import Project, alembic_config
from migfix.read.graph import Graph, reachable
from migfix.read.scan import Unknown
from migfix.write.fileio import FileChange

# A line assigning down_revision from the template variable, e.g.
# ``down_revision: Union[...] = ${repr(down_revision)}``.
_DOWN_IN_TEMPLATE = re.compile(
    r"(?m)^[ \t]*down_revision\b[^\n]*=[^\n]*\$\{[^}\n]*\bdown_revision\b"
)


@dataclass(frozen=True)
class NewMerge:
    revision: str
    parents: tuple[str, ...]
    path: Path
    content: bytes


@dataclass(frozen=True)
class Repoint:
    revision: str
    path: Path
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class Fold:
    """A new merge revision deleted because an incoming one joins the same parents."""

    revision: str
    path: Path
    into: str
    parents: tuple[str, ...]


@dataclass
class MergePlan:
    project: Project
    newness: Newness
    merges: list[NewMerge] = field(default_factory=list)
    repoints: list[Repoint] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    folds: list[Fold] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.merges and not self.repoints and not self.folds

    def to_json(self) -> dict[str, Any]:
        rel = self.project.relpath
        return {
            "version": 1,
            "changed": not self.empty,
            "upstream": self.newness.upstream,
            "new_revisions": sorted(self.newness.new),
            "merges": [
                {"revision": m.revision, "parents": list(m.parents), "path": rel(m.path)}
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
                {"revision": f.revision, "path": rel(f.path), "into": f.into} for f in self.folds
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
    plan = MergePlan(project, newness)
    message = opts.message or project.settings.message
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
    if merges:
        plan.merges = _render_merges(project, graph, merges, message, opts)
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
    import uuid

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
    target: str | None
    if len(settled_heads) > 1:
        target = next(ids)
        merges.append((target, tuple(settled_heads)))
        parents[target] = tuple(settled_heads)
    else:
        target = settled_heads[0] if settled_heads else None
    if target is not None:
        stale = settled - {target}
        # Over the planned parents: TARGET may be the merge just planned, not in GRAPH.
        target_ancestry = reachable([target], parents.__getitem__, within=parents)
        for rev in sorted((r for r in region if newness.is_new(r)), key=order.__getitem__):
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
            new: list[str] = []
            for p in old:
                q = target if (p in stale and p in target_ancestry) else p
                if q not in new:
                    new.append(q)
            parents[rev] = tuple(new)
            plan.repoints.append(Repoint(rev, node.path, node.down, tuple(new)))
    _drop_redundant_parents(graph, newness, region, parents, plan, order)
    moved = {rp.revision for rp in plan.repoints}
    for rev in sorted(region, key=order.__getitem__):
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


def _refuse_redundant_parents(
    merges: Sequence[tuple[str, tuple[str, ...]]],
    parents: dict[str, tuple[str, ...]],
) -> None:
    """Never write a merge one of whose parents is an ancestor of another (``check``'s
    redundant-parent): ``alembic downgrade`` cannot walk down through it."""

    def up(rev: str) -> tuple[str, ...]:
        return parents.get(rev, ())

    for _rev, heads in merges:
        for h in heads:
            below = reachable(up(h), up, within=parents)
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
    order: dict[str, int],
) -> None:
    """A new merge whose parent moved on top of its other parent (``m(b, a1)`` with ``b``
    moved onto ``a2``, ``a1`` replaced by ``a2``) would name a parent and its ancestor:
    Alembic cannot walk that down. The ancestor goes; the merge keeps its own line."""

    def up(rev: str) -> tuple[str, ...]:
        return parents.get(rev, ())

    for rev in sorted(region, key=order.__getitem__):
        ps = parents.get(rev, ())
        if len(ps) < 2 or not newness.is_new(rev):
            continue
        below = {p: reachable(up(p), up, within=parents) for p in ps}
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
    from migfix.read.does_nothing import does_nothing

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
        plan.folds.append(Fold(r, node.path, into, node.down))
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


# -- rendering through Alembic -----------------------------------------------------------


def _render_merges(
    project: Project,
    graph: Graph,
    merges: list[tuple[str, tuple[str, ...]]],
    message: str,
    opts: MergeOptions,
) -> list[NewMerge]:
    """Have Alembic write each merge file into a scratch folder, then read it back.

    The scratch folder is migfix's own (``txn.scratch``, under the git dir or beside the
    config), never inside a version location, where Alembic with
    ``recursive_version_locations`` would load it if migfix were killed. It is still below
    the project root when the git dir is, so post-write hooks (black, ruff...) find the
    project's configuration. The real file is written later, with every other change.
    """
    if project.script_location is None:
        raise Refusal(
            "No script_location is known (the project was given with --versions), so there is "
            "no script.py.mako to render a merge revision with. Run migfix with -c "
            "path/to/alembic.ini."
        )
    template = project.script_location / "script.py.mako"
    try:
        template_text = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise Refusal(
            f"{template}: cannot read the revision template ({exc.strerror}). Restore "
            "script.py.mako (e.g. from `alembic init`)."
        ) from exc
    # The Revises: header also uses ${down_revision}; what matters is the assignment.
    if not _DOWN_IN_TEMPLATE.search(template_text):
        raise Refusal(
            f"{template} has no ${{down_revision}}, so a merge revision rendered from it would "
            "not name its parents. Add `down_revision = ${repr(down_revision)}` to the template."
        )
    last = len(merges) - 1
    jobs = [
        _RenderJob(
            rev,
            tuple(heads),
            # Alembic puts the file beside the first head when there are several version
            # locations; the scratch folder takes that place.
            _version_dir(project, graph, heads),
            tuple(_parent(project, graph, h) for h in heads),
            # A label names one revision: the final merge, the new head.
            opts.branch_label if index == last else None,
        )
        for index, (rev, heads) in enumerate(merges)
    ]
    return render(project, jobs, message)


@dataclass(frozen=True)
class _Parent:
    """A merge's parent as Alembic needs to see it (see ``_parent_scripts``)."""

    revision: str
    labels: tuple[str, ...]
    docstring: str
    path: Path


@dataclass(frozen=True)
class _RenderJob:
    revision: str
    heads: tuple[str, ...]
    real_dir: Path
    parents: tuple[_Parent, ...]
    branch_label: str | None


def _parent(project: Project, graph: Graph, rev: str) -> _Parent:
    node = graph.nodes.get(rev)
    if node is None:  # a merge planned just before this one, not in the graph yet
        return _Parent(rev, (), "", project.version_locations[0] / f"{rev}.py")
    return _Parent(rev, tuple(node.labels or ()), node.file.docstring or "", node.path)


def render(project: Project, jobs: Sequence[_RenderJob], message: str) -> list[NewMerge]:
    """Render JOBS through Alembic (in the warm child process when there is one)."""
    from migfix.write import txn

    try:
        from alembic.script import ScriptDirectory
        from alembic.script.revision import RevisionMap
        from alembic.util import CommandError
    except ImportError as exc:  # pragma: no cover - alembic is a dependency
        raise MigfixError(f"alembic is needed to write a merge revision ({exc}).") from exc

    cfg = alembic_config(project)
    out: list[NewMerge] = []
    for job in jobs:
        with txn.scratch(project.root) as scratch:
            script_dir = ScriptDirectory.from_config(cfg)
            script_dir.version_locations = [str(scratch)]
            script_dir.__dict__.pop("_version_locations", None)
            script_dir.__dict__.pop("_singular_version_location", None)
            scripts = _parent_scripts(job.parents)
            script_dir.revision_map = RevisionMap(_constant(scripts))
            # As in `alembic merge`: env.py may add template arguments through
            # context.configure(template_args=...), so the same dict goes to the template.
            template_args: dict[str, Any] = {"config": cfg}
            try:
                _run_revision_environment(cfg, script_dir, template_args)
                script = script_dir.generate_revision(
                    job.revision,
                    message,
                    refresh=True,
                    head=list(job.heads),
                    branch_labels=job.branch_label,
                    **template_args,
                )
            except CommandError as exc:
                raise Refusal(f"Alembic refused to write the merge revision: {exc}") from exc
            if script is None:  # pragma: no cover - alembic returns None only for odd names
                raise Refusal("Alembic wrote no merge revision (check file_template).")
            written = Path(script.path)
            content = written.read_bytes()
            path = job.real_dir / written.relative_to(scratch)
            out.append(NewMerge(job.revision, job.heads, path, content))
    return out


def _parent_scripts(parents: Sequence[_Parent]) -> list[Any]:
    """The merge's parents as Alembic scripts, each standing alone as a base.

    To render a merge, Alembic needs its parents to exist and be heads; the history
    below them changes nothing in the file it writes. Building Alembic's RevisionMap
    over a 5,000-revision history costs ~200 ms, so it gets only the parents (a parent
    may be a merge planned just before this one, not in the graph yet).
    """
    from alembic.script import Script

    out = []
    for parent in parents:
        module = types.ModuleType(f"migfix_parent_{parent.revision}")
        module.down_revision = None  # type: ignore[attr-defined]
        module.branch_labels = parent.labels or None  # type: ignore[attr-defined]
        module.depends_on = None  # type: ignore[attr-defined]
        module.__doc__ = parent.docstring
        out.append(Script(module, parent.revision, parent.path))
    return out


def _constant(scripts: list[Any]) -> Any:
    def generate() -> list[Any]:
        return scripts

    return generate


def _run_revision_environment(cfg: Any, script_dir: Any, template_args: dict[str, Any]) -> None:
    """``revision_environment = true`` makes ``alembic merge`` run env.py; so does migfix."""
    from alembic import util

    if not util.asbool(cfg.get_alembic_option("revision_environment")):
        return
    from alembic.runtime.environment import EnvironmentContext

    def nothing(rev: Any, context: Any) -> list[Any]:
        return []

    try:
        with EnvironmentContext(
            cfg, script_dir, fn=nothing, as_sql=False, template_args=template_args
        ):
            script_dir.run_env()
    except ImportError as exc:
        raise Refusal(
            f"revision_environment is on, so env.py must run to write a revision, and it "
            f"failed to import {getattr(exc, 'name', None) or exc}. Install the application's "
            "dependencies (or run migfix inside its virtualenv), or turn revision_environment off."
        ) from exc


def _version_dir(project: Project, graph: Graph, heads: Sequence[str]) -> Path:
    if len(project.version_locations) > 1:
        for h in heads:
            if h in graph.nodes:
                return graph.nodes[h].path.parent
    return project.version_locations[0]


# -- applying ------------------------------------------------------------------------------


def build_changes(plan: MergePlan, graph: Graph) -> list[FileChange]:
    """Every file write of the plan: new merge files, then rewritten parents."""
    from migfix.write import rewrite

    changes = [FileChange(m.path, None, m.content) for m in plan.merges]
    changes += [FileChange(f.path, f.path.read_bytes(), None) for f in plan.folds]
    for m in plan.merges:
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
