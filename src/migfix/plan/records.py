"""The plain records a plan is made of, shared by ``merge`` and ``rebase``: a revision given new
parents, a merge revision deleted, and the bytes a file will hold.

Planning produces them; ``migfix.write`` applies them and ``migfix.report`` describes them.
They are NamedTuples, not dataclasses: ``check`` and the hook load this module through the
heads lock, and a frozen dataclass costs several times more to define at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class Repoint(NamedTuple):
    """A new revision whose ``down_revision`` changes from OLD to NEW."""

    revision: str
    path: Path
    old: tuple[str, ...]
    new: tuple[str, ...]


class DroppedMerge(NamedTuple):
    """A new merge revision whose file is deleted: it joined PARENTS and nothing else.

    ``into`` is the incoming merge over the same parents that its children now name
    (``migfix merge``); ``None`` when it only merged the other side's history
    (``migfix rebase``).
    """

    revision: str
    path: Path
    parents: tuple[str, ...]
    into: str | None = None


class FileChange(NamedTuple):
    """New content for one file; ``old`` is what migfix read (``None``: the file is new).

    ``new`` is ``None`` to delete the file (``old`` must then be the bytes migfix read).
    """

    path: Path
    old: bytes | None
    new: bytes | None
