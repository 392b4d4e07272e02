"""``migfix rebase --onto REF`` and the hook's rebase strategy, without click: plan
(``migfix.plan.rebase_onto``), write every change in one transaction, report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from migfix.errors import EXIT_OK, EXIT_PROBLEMS, Refusal
from migfix.git import gitops
from migfix.plan.overlap import refuse_if_strict
from migfix.plan.rebase import RebasePlan, SettledRevisions, SeveralHeads, ids_text
from migfix.plan.rebase_onto import plan_onto
from migfix.project.model import Project, shown
from migfix.report import formats as report
from migfix.report.diffs import unified_diffs
from migfix.write import moves, resolved, txn
from migfix.write.rebase_changes import rebase_changes

Echo = Callable[[str], None]


def rebase(
    project: Project,
    *,
    onto: str,
    drop_merges: bool,
    upstream: str | None,
    new: Sequence[str],
    dry_run: bool,
    as_json: bool,
    strict: bool,
    echo: Echo,
    err: Echo,
    verify: Callable[[], int] | None = None,
) -> int:
    """``migfix rebase --onto REF``: exit 1 if a dry run found changes; VERIFY (``--verify``)
    runs after a run that changed something and gives the exit code."""
    if dry_run:
        plan = plan_onto(project, onto, drop_merges=drop_merges, upstream=upstream, extra_new=new)
        echo(report.dumps(plan.to_json()) if as_json else diff(plan) + text(plan))
        return EXIT_PROBLEMS if plan.changed else EXIT_OK
    # Planned under the writer lock, so a second run plans on what the first wrote.
    with txn.writer_lock(project.root):
        plan = plan_onto(project, onto, drop_merges=drop_merges, upstream=upstream, extra_new=new)
        refuse_if_strict(strict, plan.notes)
        marked = resolved.mark_resolved(project, write_rebase(plan))
        plan = replace(plan, notes=(*plan.notes, *marked))
    echo(report.dumps(plan.to_json()) if as_json else text(plan))
    if plan.repoints and not as_json:
        err(moves.advice([(m.revision, m.old, m.new) for m in plan.repoints]))
    if plan.changed and verify is not None:
        return verify()
    return EXIT_OK


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
            return write_rebase(planned, by=by), text(planned)
    if split:  # the plainer reason: no rebase can fix a side that is split already
        raise split[0]
    settled = sorted({r for exc in blocked for r in exc.revisions})
    raise SettledRevisions(blocked[0].message, settled)


def write_rebase(plan: RebasePlan, *, by: str = "migfix rebase") -> list[Path]:
    """Write PLAN: every rewrite and deletion, or none of them. Returns the paths changed.

    Each repoint goes into the journal of moves (``migfix db status`` reads it)."""
    moved = [(m.revision, m.old, m.new) for m in plan.repoints]
    record = moves.planned(gitops.find_repo(plan.root), moved, by)
    return txn.write_changes(rebase_changes(plan), root=plan.root, record=record)


def diff(plan: RebasePlan) -> str:
    """Unified diffs of what :func:`write_rebase` would write."""
    return unified_diffs(rebase_changes(plan), plan.root)


def text(plan: RebasePlan) -> str:
    """Per file ``b1: a -> c``, the dropped merges, the stacking, and each final chain.

    Files are named relative to where the command runs (config.shown)."""
    if not plan.branch:
        return f"Nothing to do: this branch has no revisions that {plan.ref} lacks."
    lines: list[str] = []
    if not plan.changed:
        lines.append(f"Nothing to do: this branch's revisions are already on top of {plan.ref}.")
    else:
        lines.append(f"Rebasing onto {plan.ref}:")
        for m in plan.repoints:
            lines.append(
                f"  {m.revision}: {ids_text(m.old)} -> {ids_text(m.new)}"
                f"  ({shown(m.path, plan.root)})"
            )
        for d in plan.dropped:
            lines.append(
                f"  {d.revision}: deleted, it only merged {plan.ref}'s history "
                f"({ids_text(d.parents)})  ({shown(d.path, plan.root)})"
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
