"""What one hook run knows when it fixes a project, and how it talks to the user: on
stderr, one ``migfix:`` line at a time (git shows it to whoever ran ``git merge``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from migfix.git import history
from migfix.project.model import Project


def say(text: str) -> None:
    """Tell the user, on stderr, each line marked as migfix's."""
    for line in text.splitlines():
        print(f"migfix: {line}" if line else "migfix:", file=sys.stderr)


def what_ran(hook_type: str) -> str:
    """The git operation that ran HOOK_TYPE, as the user knows it."""
    return {"post-rewrite": "rebase", "post-checkout": "checkout"}.get(hook_type, "merge")


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Fixing(NamedTuple):
    """What one hook run knows when it fixes a project."""

    repo: Path
    hook_type: str
    strategy: str | None
    commit: bool | None
    other_side: Callable[[], list[str]]
    """The commits to rebase onto, in order of preference (asked once, when needed)."""
    diff: history.TreeDiff | None
    """Between the commits before and after: which revisions arrived moved."""
    to_sync: list[tuple[Project, Sequence[object]]]
    """Where ``fix`` leaves the revisions a database may have to run (see ``sync_db``)."""
    where: str = ""
    """Which project, when the hook acts on several ("in api: ")."""

    @property
    def what(self) -> str:
        return what_ran(self.hook_type)

    @property
    def by(self) -> str:
        return f"migfix hook ({self.hook_type})"
