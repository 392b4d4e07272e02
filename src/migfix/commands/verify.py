"""``migfix verify``'s report, and ``--verify`` after ``merge`` / ``rebase``, without click."""

from __future__ import annotations

from collections.abc import Callable

from migfix.db import verify as verifying
from migfix.errors import EXIT_OK, EXIT_PROBLEMS
from migfix.project.model import Project
from migfix.read.graph import read_graph

Echo = Callable[[str], None]


def verify_new(
    project: Project, upstream: str | None, postgres: bool | None, *, echo: Echo, err: Echo
) -> int:
    """``--verify`` after merge/rebase: ``migfix verify --only-new`` on the result."""
    result = verifying.verify(
        project, read_graph(project), mode="only-new", upstream=upstream, postgres=postgres
    )
    return report(project, result, echo=echo, err=err)


def report(project: Project, result: verifying.Result, *, echo: Echo, err: Echo) -> int:
    """Print a verify result: the failure on stderr (exit 1), else the summary."""
    if result.choice:
        err(result.choice)
    if result.failure is not None:
        err(f"migfix: {verifying.failure_text(project, result)}")
        return EXIT_PROBLEMS
    echo(verifying.summary_text(result))
    return EXIT_OK
