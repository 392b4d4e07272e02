"""``migfix merge`` end to end, without click: check the ground, plan, render, prove, write.

Nothing is written until the whole plan has been rendered and re-read: the new graph
(files as they would be) must have no unintended heads and no new faults. Then all
files are written in one transaction. :func:`run_merge` returns what happened (the hook and
``ci fix`` report it their way); :func:`merge` is the verb: it prints and returns the exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import EXIT_OK, EXIT_PROBLEMS, Refusal
from migfix.git import gitops
from migfix.plan import heads_lock, overlap
from migfix.plan.guards import prove, refuse_broken, refuse_conflicts
from migfix.plan.merge import MergeOptions, MergePlan, check_options, head_groups, plan_merge
from migfix.plan.records import FileChange
from migfix.plan.settled import Newness, classify
from migfix.project.model import Project, shown
from migfix.read.checks import Problem
from migfix.read.graph import Graph, read_graph
from migfix.report import formats as report
from migfix.report.diffs import unified_diffs
from migfix.write import moves, resolved, txn
from migfix.write.changes import merge_changes
from migfix.write.render import RenderedMerge, render_merges

REVIEW = "Review the result and commit it; `migfix check` now passes."
COLLIDES = (
    "The heads are joined and `migfix check` passes, but both sides change the same column "
    "(see the warning above): a database that runs both will fail there. Change your new "
    "revision so it no longer repeats the other side's change, then commit."
)


def review_line(notes: Sequence[str]) -> str:
    """The closing line of a join: the request to review, unless an overlap says more."""
    return COLLIDES if overlap.collides(notes) else REVIEW


Echo = Callable[[str], None]


@dataclass
class Outcome:
    project: Project
    plan: MergePlan
    merges: list[RenderedMerge] = field(default_factory=list)
    """The planned merges as Alembic rendered them."""
    changes: list[FileChange] = field(default_factory=list)
    dry_run: bool = False
    diff: str = ""
    written: list[Path] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.plan.empty

    def to_json(self) -> dict[str, Any]:
        data = self.plan.to_json({m.revision: m.path for m in self.merges})
        data["dry_run"] = self.dry_run
        data["written"] = [self.project.relpath(p) for p in self.written]
        if self.dry_run:
            data["diff"] = self.diff
        return data

    def text(self, *, review: bool = True) -> str:
        """The report; ``review=False`` leaves out the closing request to review and
        commit (the hook says what it did with the files instead)."""

        def rel(path: Path) -> str:
            return shown(path, self.project.root)

        plan = self.plan
        if plan.empty:
            return "Nothing to do: no unintended heads."
        verb = "Would create" if self.dry_run else "Created"
        lines = []
        for m in self.merges:
            lines.append(
                f"{verb} merge revision {m.revision} ({', '.join(m.parents)}): {rel(m.path)}"
            )
        verb = "Would fold" if self.dry_run else "Folded"
        for d in plan.dropped:
            lines.append(
                f"{verb} merge revision {d.revision} into {d.into}, which already joins "
                f"{', '.join(d.parents)}: {'would delete' if self.dry_run else 'deleted'} "
                f"{rel(d.path)}"
            )
        verb = "Would repoint" if self.dry_run else "Repointed"
        for r in plan.repoints:
            lines.append(
                f"{verb} {r.revision}: {', '.join(r.old) or '<base>'} -> {', '.join(r.new)}"
                f"  ({rel(r.path)})"
            )
        lines.extend(plan.notes)
        if self.dry_run:
            lines.append("")
            lines.append(self.diff.rstrip("\n"))
        elif review:
            lines.append(review_line(plan.notes))
        return "\n".join(lines)


def merge(
    project: Project,
    *,
    heads: Sequence[str],
    message: str | None,
    rev_id: str | None,
    branch_label: str | None,
    no_repoint: bool,
    upstream: str | None,
    new: Sequence[str],
    dry_run: bool,
    as_json: bool,
    strict: bool,
    echo: Echo,
    err: Echo,
    verify: Callable[[], int] | None = None,
) -> int:
    """``migfix merge``: exit 1 if a dry run found changes; VERIFY (``--verify``, click only)
    runs after a real run that changed something and gives the exit code. ECHO prints one
    line of output, ERR one line on stderr."""
    opts = MergeOptions(
        message=message,
        rev_id=rev_id,
        branch_label=branch_label,
        heads=tuple(heads),
        no_repoint=no_repoint,
    )
    result = run_merge(
        project, opts, upstream=upstream, extra_new=new, dry_run=dry_run, strict=strict
    )
    if as_json:
        echo(report.dumps(result.to_json()))
    else:
        echo(result.text())
        if result.written and result.plan.repoints:
            # A notice, on stderr like the hook's: stdout stays the report scripts read.
            err(moves.advice([(r.revision, r.old, r.new) for r in result.plan.repoints]))
    if result.changed and not dry_run and verify is not None:
        return verify()
    return EXIT_PROBLEMS if (dry_run and result.changed) else EXIT_OK


def run_merge(
    project: Project,
    opts: MergeOptions,
    *,
    upstream: str | None = None,
    extra_new: Sequence[str] = (),
    dry_run: bool = False,
    graph: Graph | None = None,
    strict: bool = False,
    by: str = "migfix merge",
) -> Outcome:
    """Plan, render, prove and (unless DRY_RUN) write a merge, under the writer lock."""
    # One writer at a time: a second run waits, then plans again on what the first wrote
    # (usually: nothing to do). Where the repository and its git dir are cannot change
    # meanwhile: git is asked once (it was asked twice each).
    with gitops.remembering(), txn.writer_lock(project.root) as changed:
        check_options(opts)
        graph = None if changed else graph
        graph = graph or read_graph(project)
        repo = gitops.find_repo(project.root)
        refuse_conflicts(project, repo, rerun="migfix merge")
        problems = refuse_broken(project, graph)
        if not graph.head_groups() and not opts.heads:
            # Nothing to do: decide that before asking git which revisions are new.
            return Outcome(
                project, MergePlan(project, Newness(frozenset(), None, "")), dry_run=dry_run
            )
        newness = classify(project, graph, upstream=upstream, extra_new=extra_new)
        plan = plan_merge(project, graph, newness, opts)
        outcome = _prepare(project, graph, opts, plan, dry_run=dry_run, problems=problems)
        if plan.empty:
            return outcome
        if dry_run:
            _dry_run(opts, outcome)
            return outcome
        overlap.refuse_if_strict(strict, plan.notes)
        record = moves.planned(repo, [(r.revision, r.old, r.new) for r in plan.repoints], by)
        _write(project, outcome, record)
        plan.notes.extend(resolved.mark_resolved(project, outcome.written))
        return outcome


def _prepare(
    project: Project,
    graph: Graph,
    opts: MergeOptions,
    plan: MergePlan,
    *,
    dry_run: bool,
    problems: Sequence[Problem],
) -> Outcome:
    """Render the planned merges and compute every file change; prove the result."""
    outcome = Outcome(project, plan, dry_run=dry_run)
    if plan.empty:
        return outcome
    outcome.merges = render_merges(project, graph, plan) if plan.merges else []
    outcome.changes = merge_changes(plan, outcome.merges)
    _refuse_unreadable_folders(project, outcome.merges)
    after = prove(graph, outcome.changes, problems)
    if not opts.heads and after.head_groups():  # pragma: no cover - would be a planner bug
        left = ", ".join(h for g in after.head_groups() for h in g)
        raise Refusal(
            f"migfix's plan would still leave several heads ({left}); nothing was written. "
            "Please report this, and merge by hand with `alembic merge`."
        )
    _join_extras(project, graph, opts, outcome, after)
    return outcome


def _dry_run(opts: MergeOptions, outcome: Outcome) -> None:
    if outcome.plan.merges and opts.rev_id is None:
        # Alembic picks a random id for each run: the one shown is not the one written.
        outcome.plan.notes.append(
            "The merge revision's id is chosen when it is written (the one above is an "
            "example); pass --rev-id to fix it."
        )
    outcome.diff = unified_diffs(outcome.changes, outcome.project.root)


def _write(project: Project, outcome: Outcome, record: moves.Record | None) -> None:
    made: list[Path] = []
    try:
        _make_folders(outcome.changes, made)
        outcome.written = txn.write_changes(outcome.changes, root=project.root, record=record)
    except BaseException:
        _remove_folders(made)
        raise


def _refuse_unreadable_folders(project: Project, merges: Sequence[RenderedMerge]) -> None:
    """A file_template with a sub-folder (``%%(year)d/%%(rev)s_%%(slug)s``) is fine only
    when Alembic reads version locations recursively; otherwise it would not see the file."""
    if project.recursive:
        return
    for m in merges:
        if m.path.parent not in project.version_locations:
            raise Refusal(
                f"file_template puts the merge revision in a sub-folder "
                f"({project.relpath(m.path)}), but recursive_version_locations is not true, so "
                "Alembic would not find it. Set recursive_version_locations = true (as "
                "Alembic's docs require for such a template) and run migfix merge again."
            )


def _make_folders(changes: Sequence[FileChange], made: list[Path]) -> None:
    """Create the missing folders of new files (a sub-folder file_template), recording
    each in MADE, outermost first, so a failed write can remove them again."""
    for change in changes:
        if change.old is not None or change.new is None:
            continue
        missing = [d for d in (change.path.parent, *change.path.parent.parents) if not d.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)


def _remove_folders(made: Sequence[Path]) -> None:
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            continue


def _join_extras(
    project: Project, graph: Graph, opts: MergeOptions, outcome: Outcome, after: Graph
) -> None:
    """What goes with every join: overlap warnings, and the heads lock in the same write."""
    plan = outcome.plan
    joined = plan.merges[-1].revision if plan.merges else None
    for found in overlap.for_merge(graph, head_groups(graph, opts.heads), after, joined):
        plan.notes.append(overlap.NOTE + overlap.message(found))
    if project.settings.lock:
        lock = heads_lock.change(project, after)
        if lock is not None:
            outcome.changes.append(lock)
            verb = "Would update" if outcome.dry_run else "Updated"
            plan.notes.append(f"{verb} the heads lock {project.relpath(lock.path)}.")
