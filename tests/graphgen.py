"""Random Alembic revision graphs, written out the way Alembic writes revision files.

Two front ends share one builder: ``graphs()`` is a hypothesis strategy (it shrinks towards
small, linear graphs) and ``random_graph(seed)`` is a plain seeded generator for benchmarks and
for reproducing a case by number. ``render_project`` renders each revision through the real
``script.py.mako`` of Alembic's generic template (typed) or Flask-Migrate's (untyped) with the
variables ``ScriptDirectory.generate_revision`` passes, so the files are what users have.

Graphs contain linear runs, branch points, merges of 2 or 3 heads, several bases, branch labels
on bases and ``depends_on`` pointing at earlier revisions. Each revision also carries a
``Style``: how its values are spelled (Alembic's own spelling, or a tuple/list/multi-line form
with single or double quotes) so a static reader meets the spellings found in real projects.
"""

from __future__ import annotations

import datetime
import functools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

Container = Literal["alembic", "scalar", "tuple", "list", "multiline"]
Quote = Literal["single", "double"]

LABELS = ("billing", "auth", "search", "audit", "reports", "mail")
REV_PREFIX = "rrrr"


@dataclass(frozen=True)
class Style:
    """How one revision file spells its values.

    ``container="alembic"`` is exactly what Alembic renders: a string for one parent, a tuple
    for several, a tuple for labels, a string or list for ``depends_on``. "scalar" spells every
    single value as a bare string (``branch_labels = 'billing'``) and several as a tuple; the
    others force that container for every non-empty value ("multiline" is a formatter-style
    tuple, one item a line). ``quote`` picks the quote character of every string literal.
    """

    container: Container = "alembic"
    quote: Quote = "single"


@dataclass(frozen=True)
class GenRevision:
    rev: str
    down: tuple[str, ...]
    labels: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    style: Style = field(default_factory=Style)

    @property
    def message(self) -> str:
        if len(self.down) > 1:
            return f"merge {' and '.join(self.down)}"
        return f"step {self.rev}"


@dataclass(frozen=True)
class GenGraph:
    """Revisions in creation order: every parent and dependency comes before its child."""

    revisions: tuple[GenRevision, ...]

    def heads(self) -> list[str]:
        """What Alembic calls heads: revisions no other revision names in ``down_revision``."""
        parents = {p for r in self.revisions for p in r.down}
        return sorted(r.rev for r in self.revisions if r.rev not in parents)

    def bases(self) -> list[str]:
        return sorted(r.rev for r in self.revisions if not r.down)

    def expected(self) -> dict[str, Any]:
        """The graph in ``alembic_oracle.alembic_graph`` shape, without the ``file`` keys."""
        return {
            "heads": self.heads(),
            "bases": self.bases(),
            "revisions": {
                r.rev: {
                    "down": sorted(r.down),
                    "labels": sorted(r.labels),
                    "deps": sorted(r.deps),
                }
                for r in self.revisions
            },
        }


@dataclass(frozen=True)
class _Chooser:
    """The few random decisions the builder makes, backed by ``random`` or by hypothesis."""

    integer: Callable[[int, int], int]
    choice: Callable[[Sequence[Any]], Any]
    chance: Callable[[float], bool]


def _build(pick: _Chooser, size: int, *, max_bases: int) -> GenGraph:
    revisions: list[GenRevision] = []
    heads: list[str] = []
    unused_labels = list(LABELS)
    bases = 0
    for i in range(1, size + 1):
        rev = f"{REV_PREFIX}{i:04d}"
        down: tuple[str, ...]
        if not revisions or (bases < max_bases and pick.chance(0.08)):
            down = ()
            bases += 1
        elif len(heads) >= 2 and pick.chance(0.3):
            # merge 2 or 3 of the current heads: heads are never ancestors of one another
            first = pick.choice(heads)
            second = pick.choice([h for h in heads if h != first])
            down = (first, second)
            rest = [h for h in heads if h not in down]
            if rest and pick.chance(0.3):
                down += (pick.choice(rest),)
        elif pick.chance(0.2):
            # branch from any earlier revision, as a git branch started long ago does
            down = (pick.choice([r.rev for r in revisions]),)
        else:
            down = (pick.choice(heads),)

        labels: tuple[str, ...] = ()
        if not down and unused_labels and pick.chance(0.6):
            labels = (unused_labels.pop(pick.integer(0, len(unused_labels) - 1)),)

        deps: tuple[str, ...] = ()
        candidates = [r.rev for r in revisions if r.rev not in down]
        if candidates and pick.chance(0.15):
            deps = (pick.choice(candidates),)
            others = [c for c in candidates if c not in deps]
            if others and pick.chance(0.3):
                deps += (pick.choice(others),)

        style = Style(
            container=pick.choice(("alembic", "alembic", "scalar", "tuple", "list", "multiline")),
            quote=pick.choice(("single", "double")),
        )
        revisions.append(GenRevision(rev, down, labels, deps, style))
        heads = [h for h in heads if h not in down] + [rev]
    return GenGraph(tuple(revisions))


def random_graph(seed: int, *, size: int | None = None, max_bases: int = 3) -> GenGraph:
    """A reproducible random graph: the same seed always gives the same graph."""
    rng = random.Random(seed)
    pick = _Chooser(
        integer=rng.randint,
        choice=rng.choice,
        chance=lambda p: rng.random() < p,
    )
    return _build(pick, size if size is not None else rng.randint(1, 40), max_bases=max_bases)


@st.composite
def graphs(
    draw: st.DrawFn, *, min_size: int = 1, max_size: int = 25, max_bases: int = 3
) -> GenGraph:
    """Hypothesis strategy for ``GenGraph``; shrinks towards a short linear chain."""
    size = draw(st.integers(min_size, max_size))

    def choice(options: Sequence[T]) -> T:
        return options[draw(st.integers(0, len(options) - 1))]

    pick = _Chooser(
        integer=lambda lo, hi: draw(st.integers(lo, hi)),
        choice=choice,
        # shrinks to 0, i.e. False: fewer bases, merges, branches, labels and deps
        chance=lambda p: draw(st.integers(0, 99)) >= round(100 * (1 - p)),
    )
    return _build(pick, size, max_bases=max_bases)


# -- rendering ----------------------------------------------------------------------------


class _StyledStr(str):
    """A revision id whose ``repr`` uses the chosen quote; Mako's ``repr()`` calls it."""

    quote: str = "'"

    def __repr__(self) -> str:
        return f"{self.quote}{self}{self.quote}"


class _StyledSeq(list[str]):
    """A sequence of ids whose ``repr`` is a tuple, list or multi-line tuple literal.

    It stays a list of strings, so the template's ``comma`` filter (the ``Revises:`` header)
    renders it exactly as it renders Alembic's own tuple.
    """

    def __init__(self, items: Sequence[str], container: str, quote: str) -> None:
        super().__init__(items)
        self.container = container
        self.quote = quote

    def __repr__(self) -> str:
        items = [f"{self.quote}{x}{self.quote}" for x in self]
        if self.container == "list":
            return "[" + ", ".join(items) + "]"
        if self.container == "multiline":
            return "(\n" + "".join(f"    {x},\n" for x in items) + ")"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _styled(values: tuple[str, ...], default: str, style: Style) -> object:
    """Spell ``values`` as Alembic would (``default``: "scalar", "tuple" or "list") or per style.

    Returns None for no values, like Alembic.
    """
    if not values:
        return None
    quote = '"' if style.quote == "double" else "'"
    container = default if style.container == "alembic" else style.container
    if container == "scalar" and len(values) > 1:
        container = "tuple"
    if container == "scalar":
        single = _StyledStr(values[0])
        single.quote = quote
        return single
    return _StyledSeq(values, container, quote)


def template_path(*, typed: bool) -> Path:
    """The installed ``script.py.mako``: Alembic's generic (typed) or Flask-Migrate's."""
    if typed:
        import alembic

        return Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    import flask_migrate  # type: ignore[import-untyped]

    return Path(flask_migrate.__file__).parent / "templates" / "flask" / "script.py.mako"


def render_revision(
    revision: GenRevision, *, template: Path, create_date: datetime.datetime
) -> str:
    """The text Alembic's ``generate_revision`` writes for ``revision`` with ``template``."""
    from alembic.util import format_as_comma

    style = revision.style
    text: str = _template(template).render_unicode(
        up_revision=_styled((revision.rev,), "scalar", Style(quote=style.quote)),
        down_revision=_styled(revision.down, "scalar", style),
        branch_labels=_styled(revision.labels, "tuple", style),
        depends_on=_styled(revision.deps, "scalar" if len(revision.deps) == 1 else "list", style),
        create_date=create_date,
        comma=format_as_comma,
        message=revision.message,
    )
    return text


@functools.lru_cache(maxsize=4)
def _template(path: Path) -> Any:
    # Compiling the template costs more than rendering it; a 5,000-revision project renders
    # in about a second when it is compiled once.
    from mako.template import Template  # type: ignore[import-untyped]

    return Template(filename=str(path))


def _slug(message: str) -> str:
    """The ``%(slug)s`` of Alembic's default file template (``ScriptDirectory._rev_path``)."""
    slug = "_".join(re.findall(r"\w+", message)).lower()
    if len(slug) > 40:
        slug = slug[:40].rsplit("_", 1)[0] + "_"
    return slug


def render_project(graph: GenGraph, dest: Path, *, typed: bool) -> list[Path]:
    """Write one ``<rev>_<slug>.py`` per revision into ``dest`` (a version location).

    Returns the written paths in graph order. Load them with
    ``alembic_oracle.alembic_graph([dest])``.
    """
    template = template_path(typed=typed)
    dest.mkdir(parents=True, exist_ok=True)
    start = datetime.datetime(2025, 1, 1, 9, 0, 0)
    paths = []
    for i, revision in enumerate(graph.revisions):
        path = dest / f"{revision.rev}_{_slug(revision.message)}.py"
        text = render_revision(
            revision, template=template, create_date=start + datetime.timedelta(minutes=i)
        )
        # Alembic writes bytes of the rendered text: no newline translation
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths
