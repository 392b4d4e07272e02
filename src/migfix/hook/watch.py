"""What a hook run knows before it reads any project: the project ``hook install -c/-n/-d``
recorded in the hook script (``Watch``), and whether a changed file can matter at all
(``may_matter``).

The hook's no-op path (a merge that touched no migration) runs this, so it imports nothing
that reads a project; :mod:`migfix.hook.projects` finds the projects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from migfix.commands import options as declared


class Watch(NamedTuple):
    """The project chosen with ``hook install -c/-n/-d``, recorded in the hook script.

    Paths are relative to the work tree root (where git runs hooks), so the same script
    serves every linked worktree.
    """

    config: str | None = None
    name: str | None = None
    directory: str | None = None

    def label(self) -> str:
        where = self.config or self.directory or "."
        return where if not self.name else f"{where} [{self.name}]"

    def args(self) -> tuple[str, ...]:
        """The hook run options that record this choice."""
        return declared.hook_run_argv(self._asdict())

    @classmethod
    def from_options(cls, options: Sequence[str]) -> Watch | None:
        """The choice recorded among a hook script's options, if any."""
        chosen, _ = declared.parse(declared.WATCH, options)
        return cls(**chosen) if chosen else None


def may_matter(path: Path) -> bool:
    """Whether a changed file can be a revision file or an Alembic config.

    Every revision file assigns ``down_revision``; reading the few changed .py files is far
    cheaper than finding and reading the projects' configs, so a merge of application code stays
    at one ``git diff``.
    """
    if path.name in ("alembic.ini", "pyproject.toml", "heads.lock"):
        return True
    if path.suffix != ".py":
        return False
    try:
        return b"down_revision" in path.read_bytes()
    except OSError:
        return True  # deleted (or unreadable): the project decides
