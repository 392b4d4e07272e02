"""``migfix check`` without click: every problem at once, in text, JSON or GitHub's format,
against another ref (``--against``) when asked, with the heads lock's and overlap's too.
"""

from __future__ import annotations

from collections.abc import Callable

from migfix.errors import EXIT_OK, EXIT_PROBLEMS
from migfix.git.gitops import find_repo
from migfix.plan import heads_lock as headlock
from migfix.plan import overlap
from migfix.plan.against import graph_against
from migfix.project.model import Project
from migfix.read import checks
from migfix.read.graph import read_graph
from migfix.report import formats as report
from migfix.report.next_step import check_footer

Echo = Callable[[str], None]


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
