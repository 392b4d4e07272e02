"""How the hook fixes one project after a merge or rebase: read, fix the heads (merge or
rebase strategy), report, and commit the fix or leave it for review.

Reading is what almost every run does (one head: nothing to fix); the fixing (and the heads
lock's refresh) and the database sync import their modules where they start, so that path
loads none of the planning or writing code (tests/test_layers.py allows these imports by
name).

What it says goes to stderr, one ``migfix:`` line at a time (``say``): git shows the
hook's output to the user who ran ``git merge`` / ``git pull``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.commands.handler import Policy, handled
from migfix.errors import GitError, MigfixError
from migfix.git import commits, worktree
from migfix.hook.job import Fixing, say
from migfix.hook.projects import projects
from migfix.hook.watch import Watch
from migfix.project.discover import Entry
from migfix.project.model import Project
from migfix.read.graph import checked, read_graph
from migfix.write import moves, moves_seen

if TYPE_CHECKING:
    from migfix.hook.fixing import Fixed


def fix_each(
    repo: Path,
    cwd: Path,
    watch: Watch | None,
    changed: Sequence[Path] | None,
    job_for: Callable[[str], Fixing],
) -> None:
    """Fix each project the hook watches that CHANGED touched (every one when None), each
    under the hook's policy: one project's failure is told and the next is fixed."""
    for entry in projects(repo, cwd, watch, changed):
        where = "" if entry.label == "." else f"in {entry.label}: "
        job = job_for(where)
        policy = Policy(say, hook=job.what, where=where, passthrough=(KeyboardInterrupt,))
        handled(functools.partial(_fix_entry, job, entry), policy)


def _fix_entry(job: Fixing, entry: Entry) -> int:
    """Fix ENTRY's project, or raise the error that kept it from being read."""
    if entry.error is not None:
        raise entry.error
    assert entry.project is not None
    fix(job, entry.project)
    return 0


def fix(job: Fixing, project: Project) -> None:
    """Fix PROJECT's heads after a merge or rebase, if it has several.

    First, tell of revisions that arrived with other parents than they had before: a
    database that ran them is now out of step."""
    if job.hook_type == "post-checkout":
        job.to_sync.append((project, _arrivals(job, project)))
        return
    # One head and no lock to refresh (the usual case) needs no compile of changed files;
    # writing anything does: never act on a graph Alembic would not load.
    full = bool(project.settings.lock)
    # Read first, while git may still be comparing the trees; nothing is said before.
    graph = read_graph(project, full=full)
    arrived = _arrivals(job, project)
    if not full and graph.head_groups():
        graph = checked(graph)
    if not graph.head_groups():
        if project.settings.lock:
            # Here, not at the top: writing the lock loads the transaction modules, which
            # a project without a lock (one head, the usual run) never needs.
            from migfix.hook.fixing import refresh_lock

            refresh_lock(job, project, graph)
        job.to_sync.append((project, arrived))
        return
    mark = len(moves.read(job.repo)[0])
    chosen = job.strategy or project.settings.strategy
    do_commit = project.settings.commit if job.commit is None else job.commit
    heads = ", ".join(graph.unintended_heads())
    say(
        f"{job.where}the {job.what} left several migration heads ({heads}); fixing with `{chosen}`."
    )
    # Files with uncommitted work of the user's (an untracked migration still being written)
    # are fixed but never committed: the commit would sweep their unfinished content in.
    own = (
        {p.resolve() for p in worktree.uncommitted_paths(job.repo, list(project.version_locations))}
        if do_commit
        else set()
    )
    # Here, not at the top: one head (above) is the usual run, and it imports 46 of
    # migfix's modules; the fixing adds 35 more (planning, rendering, rewriting).
    from migfix.hook.fixing import merged, rebased

    fixed = rebased(job, project) if chosen == "rebase" else None
    if fixed is None:
        fixed = merged(job, project, graph, do_commit)
    say(fixed.report)
    if fixed.note:
        say(fixed.note)
    repointed = moves.read(job.repo)[0][mark:]
    if repointed:
        say(job.where + moves.advice([(m.revision, m.old, m.new) for m in repointed]))
    job.to_sync.append((project, [*arrived, *repointed]))
    _commit_or_leave(job, project, fixed, own, do_commit)


def _arrivals(job: Fixing, project: Project) -> list[moves.Move]:
    """The revisions that arrived with other parents than they had before, told."""
    found = (
        moves_seen.moves_in(job.repo, job.diff, list(project.version_locations))
        if job.diff is not None
        else []
    )
    arrived = moves.record(job.repo, found, f"git {job.what} ({job.hook_type} hook)")
    if arrived:
        say(job.where + moves.advice([(m.revision, m.old, m.new) for m in arrived]))
    return arrived


def _commit_or_leave(
    job: Fixing, project: Project, fixed: Fixed, own: set[Path], do_commit: bool
) -> None:
    """Commit what was written (never a file holding the user's uncommitted work, OWN), or
    say how to review it."""
    held = [p for p in fixed.written if p.resolve() in own]
    written = [p for p in fixed.written if p not in held] if do_commit else fixed.written
    if fixed.review is not None and not written:
        say(fixed.review)  # nothing gets committed after all: the request stands
    for path in held:
        say(
            f"did not commit {project.relpath(path)}: it holds changes of yours that were not "
            "committed yet. Review it and commit it yourself."
        )
    if not written:
        return
    if not do_commit:
        say(f"left uncommitted for review: {_review_how(project, written, fixed.added)}.")
        return
    try:
        commits.commit_paths(job.repo, written, fixed.title)
    except GitError as exc:
        # The fix is on disk: say so, rather than the generic "no file was changed".
        say(
            f"wrote the fix but could not commit it: {exc.message} It is left uncommitted "
            f"for review: {_review_how(project, written, fixed.added)}."
        )
        return
    say("committed the result.")


def _review_how(project: object, written: Sequence[Path], added: Sequence[Path]) -> str:
    """`git diff` shows changed files only; a new file needs `git status` to be seen."""
    new = [p for p in written if p in added]
    if not new:
        return "`git diff`, then commit"
    rel = getattr(project, "relpath", str)
    names = ", ".join(rel(p) for p in new)
    return f"`git status` (new: {names}) and `git diff`, then commit"


def sync_db(project: Project, moved: Sequence[object]) -> None:
    """``[tool.migfix] sync_db = true``: bring the configured database in step by itself.

    Off by default: a git hook should not reach a database unasked. Any failure is told
    and leaves the merge alone, like every other hook failure.
    """
    if not moved or not project.settings.sync_db:
        return
    # Here, not at the top: off by default, and 10 more modules on every hook run.
    from migfix.db import sync as dbsync

    try:
        result = dbsync.sync(project, read_graph(project))
        say(dbsync.sync_text(project, result))
    except MigfixError as exc:
        say(f"sync_db: could not sync the database: {exc.message} Run `migfix db sync`.")
    except Exception as exc:
        say(f"sync_db: could not sync the database ({type(exc).__name__}); run `migfix db sync`.")
