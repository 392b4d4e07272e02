"""Which heads are certain when some ``revision`` or ``down_revision`` is not a literal.

A value computed at import time (the alembic-git-revisions template computes
``down_revision`` from git) could name any revision, so the heads read without it may be
wrong. ``migfix heads`` prints only the heads that hold whatever those values turn out to
be, and names the files it cannot read, instead of a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from migfix.read.graph import Graph
from migfix.read.revision_file import Unknown


# A NamedTuple, not a dataclass: every `heads` defines it, and a frozen dataclass (with the
# dataclasses module) is 7.8M instructions of its start against 1.3M (callgrind).
class Unsure(NamedTuple):
    """A file whose ``revision`` or ``down_revision`` migfix cannot read."""

    path: Path
    line: int
    name: str
    """``revision`` or ``down_revision``."""
    source: str


def unsure(graph: Graph) -> list[Unsure]:
    """Every file whose ``revision`` or ``down_revision`` is not a literal, in load order."""
    out: list[Unsure] = []
    for f in graph.files:
        for issue in f.issues:
            # The scanner's sentence: "revision is <reason> (<source>); migfix never guesses..."
            if issue.code == "non-literal" and issue.message.startswith("revision is "):
                text = issue.message
                cut = text.rfind("); migfix never guesses")
                source = text[text.find(" (") + 2 : cut] if cut > 0 else "?"
                out.append(Unsure(f.path, issue.line, "revision", source))
        down = f.down_revision.value
        if isinstance(down, Unknown):
            out.append(Unsure(f.path, f.down_revision.line, "down_revision", down.source))
    return out


def sure_heads(graph: Graph) -> tuple[str, ...]:
    """The heads that stay heads whatever the unreadable values are.

    A file whose ``down_revision`` is unknown may name any revision but its own
    descendants (that would be a loop), so a head is sure only when it is such a file or
    one of its descendants, for every such file. A file whose ``revision`` is unknown is no
    revision of the graph, yet the parents it names are not heads.
    """
    named = {p for f in graph.files if f.revision is None for p in f.down_revisions}
    heads = [h for h in graph.heads if h not in named]
    for f in graph.files:
        if f.revision is None or not isinstance(f.down_revision.value, Unknown):
            continue
        above = graph.descendants(f.revision) | {f.revision}
        heads = [h for h in heads if h in above]
    return tuple(heads)


def explain(rel: Callable[[Path], str], unknown: Sequence[Unsure], sure: Sequence[str]) -> str:
    """One paragraph for stderr: what cannot be read, what the heads shown mean, what to do."""
    n = len(unknown)
    listing = "; ".join(f"{rel(u.path)}:{u.line}: {u.name} = {u.source}" for u in unknown)
    shown = (
        f"The {'head' if len(sure) == 1 else 'heads'} printed above "
        f"{'holds' if len(sure) == 1 else 'hold'} whatever those values are"
        if sure
        else "No head is certain"
    )
    return (
        f"cannot tell every head: {n} {'value is' if n == 1 else 'values are'} not a literal, "
        f"so what {'it names' if n == 1 else 'they name'} is known only when Alembic imports "
        f"the file ({listing}). {shown}. Write the revision ids as string literals (see "
        "`migfix check`), then run migfix heads again."
    )
