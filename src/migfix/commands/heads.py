"""``migfix heads`` without click: the heads, or the sure ones and why the rest are unknowable.

It runs in git hooks and editors: only the static reader and the report are imported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from migfix.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from migfix.project.model import Project
from migfix.read import certain_heads
from migfix.read.graph import Graph, read_graph
from migfix.report import formats as report

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
