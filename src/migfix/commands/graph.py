"""``migfix graph``'s work, without click: every revision as text, JSON or a picture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migfix.errors import EXIT_OK
from migfix.plan.against import graph_against
from migfix.plan.settled import added_against, classify
from migfix.project.model import Project
from migfix.read.graph import read_graph
from migfix.report import diagram
from migfix.report import formats as report

Echo = Callable[[str], None]


def graph(
    project: Project,
    *,
    fmt: str | None,
    as_json: bool,
    full: bool,
    upstream: str | None,
    against: str | None,
    near: int | None,
    echo: Echo,
    pictures: list[Any] | None = None,
) -> int:
    """``migfix graph``: print the graph (FMT text, json, mermaid or dot); always exit 0.
    PICTURES: where a picture goes when several projects make one diagram."""
    # Printing only: `check` tells what would not load.
    g = graph_against(project, against) if against else read_graph(project, full=False)
    if fmt in ("mermaid", "dot"):
        if against and not upstream:
            # The picture of a pull request: green is what this branch adds to REF, whether or
            # not it was pushed (a pushed revision is published, but still this branch's own).
            new = added_against(project, g, against)
        else:
            new = classify(project, g, upstream=upstream).new
        pic = diagram.build(g, new, full=full, near=near)
        if pictures is not None:
            pictures.append(pic)  # one diagram for every project, printed once all are read
        else:
            echo(diagram.mermaid(pic) if fmt == "mermaid" else diagram.dot(pic))
    elif as_json or fmt == "json":
        echo(report.dumps(report.graph_json(project, g)))
    else:
        echo(report.graph_text(project, g))
    return EXIT_OK
