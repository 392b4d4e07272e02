"""The hook's two strategies for several heads: re-root this branch's revisions (rebase)
or join the heads (merge), each through the same code as ``migfix rebase`` / ``merge``; and
the heads lock's refresh when one head is left but the lock is stale."""

from __future__ import annotations

from migfix.commands.merge import review_line, run_merge
from migfix.commands.rebase import hook_rebase
from migfix.errors import GitError
from migfix.git import commits
from migfix.hook.job import Fixed, Fixing, say
from migfix.plan.merge import MergeOptions
from migfix.plan.rebase import SettledRevisions, SeveralHeads
from migfix.project.model import Project
from migfix.read.graph import Graph
from migfix.report.published import published_note, ref_name
from migfix.write.heads_lock_files import update


def rebased(job: Fixing, project: Project) -> Fixed | None:
    """The rebase strategy; None when it would rewrite settled revisions (merge instead)."""
    # Named (origin/main) rather than by sha, in the report and the commit title.
    candidates = [ref_name(job.repo, sha) for sha in job.other_side()]
    try:
        written, report = hook_rebase(project, onto=candidates, by=job.by)
    except SettledRevisions as exc:
        say(
            f"{job.where}the rebase strategy would rewrite settled revisions "
            f"({', '.join(exc.revisions)}); using the merge strategy instead."
        )
        return None
    except SeveralHeads as exc:
        shown = exc.ref[:12] if len(exc.ref) == 40 else exc.ref
        say(
            f"{job.where}the rebase strategy has no single head to rebase onto ({shown} "
            f"already has several heads: {', '.join(exc.heads)}); using the merge "
            "strategy instead."
        )
        return None
    fixed = Fixed(list(written), report)
    first = report.split("\n", 1)[0]
    if first.startswith("Rebasing onto ") and first.endswith(":"):
        fixed.title = f"Rebase migrations onto {first[len('Rebasing onto ') : -1]} (migfix)"
    return fixed


def merged(job: Fixing, project: Project, graph: Graph, do_commit: bool) -> Fixed:
    """The merge strategy: ``migfix merge``'s own work."""
    outcome = run_merge(project, MergeOptions(), graph=graph, by=job.by)
    written = list(outcome.written)
    return Fixed(
        written,
        # When the hook commits, the request to review and commit gives way to what
        # really happened, said once the commit is made.
        outcome.text(review=not do_commit),
        added=[m.path for m in outcome.merges],
        review=review_line(outcome.plan.notes) if do_commit and written else None,
        note=published_note(job.repo, outcome.plan, graph),
    )


def refresh_lock(job: Fixing, project: Project, graph: Graph) -> None:
    """One head, but the heads lock is stale (its merge driver kept one side): rewrite it."""
    path = update(project, graph)
    if path is None:
        return
    say(f"rewrote the heads lock {project.relpath(path)} to match the merged migrations.")
    if project.settings.commit if job.commit is None else job.commit:
        try:
            commits.commit_paths(job.repo, [path], "Update the migration heads lock (migfix)")
        except GitError:
            say("could not commit it; it is left uncommitted for review: `git diff`, then commit.")
            return
        say("committed the result.")
    else:
        say("left uncommitted for review: `git diff`, then commit.")
