"""What one revision file declares, as the scanner reads it: the records every reader
shares (``scan`` builds them, ``header_reader`` and ``ast_reader`` find the values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

NAMES = ("revision", "down_revision", "branch_labels", "depends_on")


@dataclass(frozen=True)
class Unknown:
    """A value migfix will not guess: not a literal (a name, an attribute, a call...)."""

    source: str
    reason: str = "not a literal"


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


@dataclass(slots=True)
class RevisionFile:
    """What one revision file declares, read statically. Treat it as immutable (it is
    not frozen only because a frozen dataclass is ~3x slower to build, 5,000 times)."""

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
    issues: tuple[Issue, ...] = field(default=())
    checked: bool = True
    """The whole file was compiled, so ``issues`` says whether Python can load it. Only
    ``heads`` and ``graph`` skip that (see ``scan_file``'s ``full``)."""

    @property
    def down_revisions(self) -> tuple[str, ...]:
        v = self.down_revision.value
        return () if isinstance(v, Unknown) else v


@dataclass(slots=True)
class Found:
    fields: dict[str, Field] = field(default_factory=dict)
    doc: str | None = None
    doc_line: int = 0
    issues: list[Issue] = field(default_factory=list)
    down_imported: bool = False
    """``down_revision`` may come from a star import: its absence is no fault."""
