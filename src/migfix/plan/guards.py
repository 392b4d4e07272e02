"""What must hold before any rewrite: no unresolved git conflicts in a version location, no
fault in the graph that makes rewriting unsafe, and, once planned, file changes that leave
the graph without unintended heads and without new faults (``prove``).

Used by both ``merge`` and ``rebase``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migfix.errors import Refusal
from migfix.git import worktree
from migfix.plan.records import FileChange
from migfix.project.model import Project
from migfix.read import checks
from migfix.read.graph import Graph
from migfix.read.scan import scan_file


def refuse_conflicts(project: Project, repo: Path | None, *, rerun: str) -> None:
    """Refuse while git has unresolved conflicts in a version location (merge and rebase).

    A conflicted file whose content the user resolved (no conflict marker left, both sides
    have it) only waits for `git add`: it is read as it is, and migfix marks it resolved
    if it rewrites it (``worktree.mark_resolved``)."""
    if repo is None:
        return
    conflicted = worktree.unresolved_paths(repo, list(project.version_locations))
    if conflicted:
        names = ", ".join(sorted(project.relpath(p) for p in conflicted))
        op = worktree.operation_in_progress(repo) or "merge"
        raise Refusal(
            f"A git {op} is in progress with unresolved conflicts in the versions folder "
            f"({names}). Resolve them and `git add` the files, then finish the {op} "
            f"(`git {op} --continue`) or abort it, and run `{rerun}` again."
        )


def refuse_broken(
    project: Project, graph: Graph, *, ignore: Sequence[str] = ()
) -> list[checks.Problem]:
    """Refuse a graph whose faults make rewriting unsafe; else return its problems (which
    ``prove`` compares the planned result with, so they are found once)."""
    problems = checks.problems(graph)
    blocking = [p for p in problems if checks.blocks_writes(p) and p.code not in ignore]
    if blocking:
        first = blocking[0]
        where = project.relpath(first.path) if first.path else str(project.root)
        more = f" (and {len(blocking) - 1} more; see `migfix check`)" if len(blocking) > 1 else ""
        # Problem messages are sentences: drop their period so the sentence joins cleanly.
        raise Refusal(
            f"The revision graph has faults that make rewriting unsafe: {where}:{first.line}: "
            f"{first.message.rstrip('.')}{more}. Fix them first."
        )
    return problems


def prove(
    graph: Graph, changes: Sequence[FileChange], before: Sequence[checks.Problem] | None = None
) -> Graph:
    """Re-read the files as they will be and refuse a plan that would not fix the heads.

    BEFORE: GRAPH's problems, when already found (``refuse_broken`` returns them)."""
    # Keyed by path text, made already for every file (hashing 5,000 Paths is not).
    replaced = {str(c.path): scan_file(c.path, c.new) for c in changes if c.new is not None}
    deleted = {str(c.path) for c in changes if c.new is None}
    files = [replaced.pop(str(f.path), f) for f in graph.files if str(f.path) not in deleted]
    files.extend(replaced.values())
    after = Graph(files, allow_heads=graph.allow_heads, root=graph.root)
    found = checks.problems(graph) if before is None else before
    before_codes = {(p.code, p.path) for p in found}
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
