"""The notice that a ref given to ``--against`` / ``--onto`` may be stale (or its fetch).

Apart from ``migfix.cli.running`` because it asks git about remotes, which only the
commands taking a ref need: ``heads`` imports none of it.
"""

from __future__ import annotations

from migfix.cli.running import say
from migfix.plan.against import current_ref
from migfix.project.model import Project


def warn_if_stale(project: Project, ref: str, fetch: bool) -> None:
    """``--fetch`` fetches the remote branch REF names; without it, say if REF may be stale."""
    stale = current_ref(project, ref, fetch=fetch)
    if stale:
        say(stale)
