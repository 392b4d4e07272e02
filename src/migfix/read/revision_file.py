"""What one revision file declares, as the scanner reads it: the records every reader
shares (``scan`` builds them, ``header_reader`` and ``ast_reader`` find the values).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

NAMES = ("revision", "down_revision", "branch_labels", "depends_on")


class Unknown:
    """A value migfix will not guess: not a literal (a name, an attribute, a call...).

    A plain class: a literal value is a tuple (``Value``), which an Unknown must never pass
    for, so not a NamedTuple; and not a dataclass (see migfix.project.model)."""

    __slots__ = ("reason", "source")

    def __init__(self, source: str, reason: str = "not a literal") -> None:
        self.source = source
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Unknown):
            return NotImplemented
        return (self.source, self.reason) == (other.source, other.reason)

    def __hash__(self) -> int:
        return hash((self.source, self.reason))

    def __repr__(self) -> str:
        return f"Unknown(source={self.source!r}, reason={self.reason!r})"


Value = tuple[str, ...] | Unknown
"""A literal is normalized like Alembic's ``util.to_tuple``: None -> (), 'a' -> ('a',)."""


class Issue(NamedTuple):
    """A fault found while reading one file (graph-level faults live in ``graph``)."""

    code: str
    line: int
    message: str
    severity: str = "error"


class Field(NamedTuple):
    # A NamedTuple, not a dataclass: four are built per file, on the hot path.
    value: Value
    line: int
    assigned: bool = True


ABSENT = Field((), 0, assigned=False)


class RevisionFile(NamedTuple):
    """What one revision file declares, read statically.

    A NamedTuple, not a dataclass: cheap to build 5,000 times, and to define on every start
    (see migfix.project.model)."""

    path: Path
    revision: str | None
    revision_line: int
    down_revision: Field
    branch_labels: Field
    depends_on: Field
    revises: tuple[str, ...] | None
    """The docstring's ``Revises:`` header; None when there is none."""
    revises_line: int
    doc: str
    """First paragraph of the docstring (Alembic's ``Script.doc``)."""
    docstring: str = ""
    """The whole docstring, raw and stripped (Alembic's ``Script.longdoc``)."""
    issues: tuple[Issue, ...] = ()
    checked: bool = True
    """The whole file was compiled, so ``issues`` says whether Python can load it. Only
    ``heads`` and ``graph`` skip that (see ``scan_file``'s ``full``)."""

    @property
    def down_revisions(self) -> tuple[str, ...]:
        v = self.down_revision.value
        return () if isinstance(v, Unknown) else v


class Found:
    """What a reader found in one file's text, filled in as it reads (see ``scan``)."""

    __slots__ = ("doc", "doc_line", "down_imported", "fields", "issues")

    def __init__(self) -> None:
        self.fields: dict[str, Field] = {}
        self.doc: str | None = None
        self.doc_line = 0
        self.issues: list[Issue] = []
        self.down_imported = False
        """``down_revision`` may come from a star import: its absence is no fault."""
