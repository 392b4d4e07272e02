"""The read-only commands' work, without click: ``heads`` and ``check``.

The click commands (migfix.cli.read) and tools call these. ECHO prints one line of output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from migfix.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from migfix.git.gitops import find_repo
from migfix.plan import heads_lock as headlock
from migfix.plan import overlap
from migfix.plan.against import graph_against
from migfix.project.config import Project
from migfix.read import certain_heads, checks
from migfix.read.graph import read_graph
from migfix.report import formats as report
from migfix.report.next_step import check_footer

if TYPE_CHECKING:
    from migfix.read.graph import Graph

Echo = Callable[[str], None]


def heads(project: Project, *, as_json: bool, verbose: bool, echo: Echo) -> int:
    """``migfix heads``: exit 1 if some heads are unintended, 2 if some are unknowable."""

    graph = read_graph(project, full=False)  # printing only: `check` tells what won't load
    if certain_heads.unsure(graph):
        return _unsure_heads(project, graph, as_json=as_json, verbose=verbose, echo=echo)
    if as_json:
        echo(report.dumps(report.heads_json(project, graph)))
    else:
        text = report.heads_text(graph, verbose=verbose)
        if text:
            echo(text)
    return EXIT_PROBLEMS if graph.unintended_heads() else EXIT_OK


def _unsure_heads(
    project: Project, graph: Graph, *, as_json: bool, verbose: bool, echo: Echo
) -> int:
    """``migfix heads`` when some value is unreadable: the sure heads on stdout, the
    unreadable values on stderr, exit 2 (a wrong list of heads is worse than none)."""

    unknown = certain_heads.unsure(graph)
    sure = certain_heads.sure_heads(graph)
    if as_json:
        data = report.heads_json(project, graph, only=sure)
        data["ok"] = False
        data["unsure"] = [
            {"path": project.relpath(u.path), "line": u.line, "name": u.name, "source": u.source}
            for u in unknown
        ]
        echo(report.dumps(data))
    else:
        text = report.heads_text(graph, verbose=verbose, only=sure)
        if text:
            echo(text)
    print(f"migfix: {certain_heads.explain(project.relpath, unknown, sure)}", file=sys.stderr)
    return EXIT_USAGE


def check(
    project: Project,
    *,
    fmt: str,
    strict: bool,
    deep: bool,
    against: str | None,
    prog: str,
    echo: Echo,
) -> int:
    """``migfix check``: every problem at once; exit 1 if any fails."""
    g = graph_against(project, against) if against else read_graph(project)
    del deep  # the scan compiles every file (once per change: the scan cache keeps it)
    problems = checks.problems(g)
    if against:
        problems.extend(overlap.for_against(project, g, against))
    if project.settings.lock:
        # The lock describes this branch's own heads, also when checking --against REF.
        stale = headlock.problem(project, read_graph(project) if against else g)
        problems.extend([stale] if stale else [])
    failing = [p for p in problems if p.severity == "error" or strict]
    ok = not failing
    if fmt == "json":
        echo(report.dumps(report.problems_json(project, g, problems, ok)))
    elif fmt == "github":
        text = report.problems_github(project, problems, repo_root=find_repo(project.root))
        if text:
            echo(text)
    else:
        if problems:
            echo(report.problems_text(project, problems))

        hint = check_footer(failing, against=against, prog=prog) if failing else ""
        echo(report.summary(problems, g) + hint)
    return EXIT_OK if ok else EXIT_PROBLEMS
