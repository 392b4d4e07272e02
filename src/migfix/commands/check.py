"""``migfix check`` without click: every problem at once, in text, JSON or GitHub's format,
with the heads lock's too.

Checking against another ref (``--against``) is ``migfix.commands.check_against``: it asks
git about other refs and reads their trees, which plain ``check`` (every git hook and
pre-commit run) does not need to load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migfix.errors import EXIT_OK, EXIT_PROBLEMS
from migfix.git.gitops import find_repo
from migfix.plan import heads_lock as headlock
from migfix.project.model import Project
from migfix.read import checks
from migfix.read.checks import Problem
from migfix.read.graph import Graph, read_graph
from migfix.report import formats as report
from migfix.report.next_step import check_footer

Echo = Callable[[str], None]


def check(project: Project, *, fmt: str, strict: bool, deep: bool, prog: str, echo: Echo) -> int:
    """``migfix check``: every problem at once; exit 1 if any fails."""
    del deep  # the scan compiles every file (once per change: the scan cache keeps it)
    g = read_graph(project)
    return reported(project, g, [], own=g, fmt=fmt, strict=strict, prog=prog, echo=echo)


def reported(
    project: Project,
    g: Graph,
    more: Sequence[Problem],
    *,
    own: Graph | None,
    fmt: str,
    strict: bool,
    prog: str,
    echo: Echo,
    against: str | None = None,
) -> int:
    """Report G's problems, then MORE, then the heads lock's (which describes this branch's
    own heads, OWN, read when None); exit 1 if any fails."""
    problems = [*checks.problems(g), *more]
    if project.settings.lock:
        stale = headlock.problem(project, own if own is not None else read_graph(project))
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
