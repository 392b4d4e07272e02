"""``migfix check --against REF``: the problems merging this branch into REF would give,
with the revisions each side adds that touch the same tables (``overlap``)."""

from __future__ import annotations

from migfix.commands.check import Echo, reported
from migfix.plan import overlap
from migfix.plan.against import graph_against
from migfix.project.model import Project


def check_against(
    project: Project, ref: str, *, fmt: str, strict: bool, deep: bool, prog: str, echo: Echo
) -> int:
    """``migfix check --against REF``: every problem of the merged graph; exit 1 if any fails."""
    del deep  # as in plain check: the scan cache compiles each file once per change
    g = graph_against(project, ref)
    more = overlap.for_against(project, g, ref)
    # own=None: the lock describes this branch's own heads, read apart from REF's.
    return reported(
        project, g, more, own=None, fmt=fmt, strict=strict, prog=prog, echo=echo, against=ref
    )
