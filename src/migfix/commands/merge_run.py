"""Run ``migfix merge`` end to end: check the ground, plan, prove the plan, then write.

Nothing is written until the whole plan has been rendered and re-read: the new graph
(files as they would be) must have no unintended heads and no new faults. Then all
files are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import Refusal
from migfix.git import gitops
from migfix.plan import heads_lock as headlock
from migfix.plan import overlap
from migfix.plan.merge import (
    MergeOptions,
    MergePlan,
    build_changes,
    check_options,
    head_groups,
    plan_merge,
)
from migfix.plan.overlap import refuse_if_strict
from migfix.plan.settled import Newness, classify
from migfix.project.config import Project, shown
from migfix.read import checks
from migfix.read.graph import Graph, read_graph
from migfix.read.scan import scan_file
from migfix.write import moves, txn
from migfix.write.fileio import FileChange, apply_changes, unified_diffs

REVIEW = "Review the result and commit it; `migfix check` now passes."


@dataclass
class Outcome:
    project: Project
    plan: MergePlan
    changes: list[FileChange] = field(default_factory=list)
    dry_run: bool = False
    diff: str = ""
    written: list[Path] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.plan.empty

    def to_json(self) -> dict[str, Any]:
        data = self.plan.to_json()
        data["dry_run"] = self.dry_run
        data["written"] = [self.project.relpath(p) for p in self.written]
        if self.dry_run:
            data["diff"] = self.diff
        return data

    def text(self, *, review: bool = True) -> str:
        """The report; ``review=False`` leaves out the closing request to review and
        commit (the hook says what it did with the files instead)."""

        # Relative to where the command runs.
        def rel(path: Path) -> str:
            return shown(path, self.project.root)

        plan = self.plan
        if plan.empty:
            return "Nothing to do: no unintended heads."
        verb = "Would create" if self.dry_run else "Created"
        lines = []
        for m in plan.merges:
            lines.append(
                f"{verb} merge revision {m.revision} ({', '.join(m.parents)}): {rel(m.path)}"
            )
        verb = "Would fold" if self.dry_run else "Folded"
        for f in plan.folds:
            lines.append(
                f"{verb} merge revision {f.revision} into {f.into}, which already joins "
                f"{', '.join(f.parents)}: {'would delete' if self.dry_run else 'deleted'} "
                f"{rel(f.path)}"
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
            lines.append(REVIEW)
        return "\n".join(lines)


def refuse_conflicts(project: Project, repo: Path | None, *, rerun: str) -> None:
    """Refuse while git has unresolved conflicts in a version location (merge and rebase)."""
    if repo is None:
        return

    conflicted = gitops.conflicted_paths(repo, list(project.version_locations))
    if conflicted:
        names = ", ".join(sorted(project.relpath(p) for p in conflicted))
        op = gitops.operation_in_progress(repo) or "merge"
        raise Refusal(
            f"A git {op} is in progress with unresolved conflicts in the versions folder "
            f"({names}). Resolve them and `git add` the files, then finish the {op} "
            f"(`git {op} --continue`) or abort it, and run `{rerun}` again."
        )


def refuse_broken(project: Project, graph: Graph, *, ignore: Sequence[str] = ()) -> None:
    blocking = [
        p for p in checks.problems(graph) if checks.blocks_writes(p) and p.code not in ignore
    ]
    if blocking:
        first = blocking[0]
        where = project.relpath(first.path) if first.path else str(project.root)
        more = f" (and {len(blocking) - 1} more; see `migfix check`)" if len(blocking) > 1 else ""
        # Problem messages are sentences: drop their period so the sentence joins cleanly.
        raise Refusal(
            f"The revision graph has faults that make rewriting unsafe: {where}:{first.line}: "
            f"{first.message.rstrip('.')}{more}. Fix them first."
        )


def merge(
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
    # One writer at a time: a second run waits, then plans again on what the first wrote
    # (usually: nothing to do). Where the repository and its git dir are cannot change
    # meanwhile: git is asked once (it was asked twice each).
    with gitops.remembering(), txn.writer_lock(project.root) as changed:
        return _merge(
            project,
            opts,
            upstream=upstream,
            extra_new=extra_new,
            dry_run=dry_run,
            graph=None if changed else graph,
            strict=strict,
            by=by,
        )


def _merge(
    project: Project,
    opts: MergeOptions,
    *,
    upstream: str | None,
    extra_new: Sequence[str],
    dry_run: bool,
    graph: Graph | None,
    strict: bool,
    by: str = "migfix merge",
) -> Outcome:
    check_options(opts)
    graph = graph or read_graph(project)
    repo = gitops.find_repo(project.root)
    refuse_conflicts(project, repo, rerun="migfix merge")
    refuse_broken(project, graph)
    if not graph.head_groups() and not opts.heads:
        # Nothing to do: decide that before asking git which revisions are new.
        return Outcome(project, MergePlan(project, Newness(frozenset(), None, "")), dry_run=dry_run)
    newness = classify(project, graph, upstream=upstream, extra_new=extra_new)
    plan = plan_merge(project, graph, newness, opts)
    outcome = Outcome(project, plan, dry_run=dry_run)
    if plan.empty:
        return outcome
    outcome.changes = build_changes(plan, graph)
    _refuse_unreadable_folders(project, plan)
    after = prove(graph, outcome.changes)
    if not opts.heads and after.head_groups():  # pragma: no cover - would be a planner bug
        left = ", ".join(h for g in after.head_groups() for h in g)
        raise Refusal(
            f"migfix's plan would still leave several heads ({left}); nothing was written. "
            "Please report this, and merge by hand with `alembic merge`."
        )
    _join_extras(project, graph, opts, outcome, after)
    if not dry_run:
        refuse_if_strict(strict, plan.notes)
    if dry_run:
        if plan.merges and opts.rev_id is None:
            # Alembic picks a random id for each run: the one shown is not the one written.
            plan.notes.append(
                "The merge revision's id is chosen when it is written (the one above is an "
                "example); pass --rev-id to fix it."
            )
        outcome.diff = unified_diffs(outcome.changes, project.root)
        return outcome
    _write(outcome, repo, by)
    return outcome


def _write(outcome: Outcome, repo: Path | None, by: str) -> None:
    """Write OUTCOME's changes all or nothing, and journal the revisions it moved."""
    made: list[Path] = []
    try:
        _make_folders(outcome.changes, made)
        outcome.written = apply_changes(outcome.changes, root=outcome.project.root)
    except BaseException:
        _remove_folders(made)
        raise
    plan = outcome.plan
    moves.record(repo, [(r.revision, r.old, r.new) for r in plan.repoints], by)


def _refuse_unreadable_folders(project: Project, plan: MergePlan) -> None:
    """A file_template with a sub-folder (``%%(year)d/%%(rev)s_%%(slug)s``) is fine only
    when Alembic reads version locations recursively; otherwise it would not see the file."""
    if project.recursive:
        return
    for m in plan.merges:
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
        lock = headlock.change(project, after)
        if lock is not None:
            outcome.changes.append(lock)
            verb = "Would update" if outcome.dry_run else "Updated"
            plan.notes.append(f"{verb} the heads lock {project.relpath(lock.path)}.")


def prove(graph: Graph, changes: Sequence[FileChange]) -> Graph:
    """Re-read the files as they will be and refuse a plan that would not fix the heads."""
    # Keyed by path text, made already for every file (hashing 5,000 Paths is not).
    replaced = {str(c.path): scan_file(c.path, c.new) for c in changes if c.new is not None}
    deleted = {str(c.path) for c in changes if c.new is None}
    files = [replaced.pop(str(f.path), f) for f in graph.files if str(f.path) not in deleted]
    files.extend(replaced.values())
    after = Graph(files, allow_heads=graph.allow_heads, root=graph.root)
    before_codes = {(p.code, p.path) for p in checks.problems(graph)}
    new_faults = [
        p
        for p in checks.problems(after)
        if p.severity == "error" and (p.code, p.path) not in before_codes
    ]
    if new_faults:  # pragma: no cover - would be a bug in the planner
        first = new_faults[0]
        raise Refusal(
            f"migfix's plan would leave a fault ({first.message} in {first.path}); nothing was "
            "written. Please report this."
        )
    return after
