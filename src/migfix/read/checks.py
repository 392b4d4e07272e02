"""Every problem code migfix reports, declared once: its severity, its one-line doc, whether
it blocks writes, and (for the graph's own faults) the small function that finds it.

The shape is pycodestyle's ``register_check``: adding a code is one declaration and one
function here, and ``migfix check``, the rule that stops ``merge``/``rebase`` from writing
(:func:`blocks_writes`) and the README's table of codes (``python -m migfix.read.checks
--markdown``) all read the same registry.

Some codes are found elsewhere and only declared here: the scanner finds a file's own
faults (``revision_file.Issue``), planning finds a stale heads lock and overlapping
changes. Checks run in registration order, which is the order ``check`` lists problems in.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from migfix.read.graph import Graph, Node, header_ids
from migfix.read.revision_file import Unknown


class Problem(NamedTuple):
    code: str
    severity: str  # "error" or "warning"
    message: str
    path: Path | None
    line: int
    revisions: tuple[str, ...] = ()


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Code(NamedTuple):
    """One problem code and what is known about it without a graph."""

    name: str
    severity: str
    """``error`` or ``warning``; ``error / warning`` when it depends on what is wrong."""
    doc: str
    """One line of Markdown: the README's row for it."""
    blocks_writes: bool
    """Its errors make a rewrite unsafe: the graph itself cannot be trusted, or Alembic would
    not load the files the way migfix reads them."""

    def problem(
        self, message: str, path: Path | None, line: int, revisions: tuple[str, ...] = ()
    ) -> Problem:
        return Problem(self.name, self.severity, message, path, line, revisions)


Check = Callable[[Graph], Iterable[Problem]]

CODES: dict[str, Code] = {}
_CHECKS: list[Check] = []


def declare(name: str, severity: str, doc: str, *, blocks_writes: bool = False) -> Code:
    """Declare a code (each once: a second declaration is a programming error)."""
    assert name not in CODES, f"problem code {name} declared twice"
    code = CODES[name] = Code(name, severity, doc, blocks_writes)
    return code


def register_check(*codes: Code) -> Callable[[Check], Check]:
    """Decorator: run the function on every graph; it reports CODES (they must be declared)."""

    def register(check: Check) -> Check:
        assert all(CODES.get(c.name) is c for c in codes)
        _CHECKS.append(check)
        return check

    return register


def check(
    name: str, severity: str, doc: str, *, blocks_writes: bool = False
) -> Callable[[Check], Check]:
    """Decorator: declare the code NAME and register the function that finds it."""
    return register_check(declare(name, severity, doc, blocks_writes=blocks_writes))


def blocks_writes(problem: Problem) -> bool:
    """Whether PROBLEM makes ``merge`` and ``rebase`` refuse to write (only errors do: a
    non-literal ``branch_labels`` is a warning and does not)."""
    code = CODES.get(problem.code)
    return code is not None and code.blocks_writes and problem.severity == "error"


_found: weakref.WeakKeyDictionary[Graph, list[Problem]] = weakref.WeakKeyDictionary()


def problems(graph: Graph) -> list[Problem]:
    """Every fault of GRAPH, found once per graph (a copy each call: callers extend it)."""
    found = _found.get(graph)
    if found is None:
        found = _found[graph] = [p for check in _CHECKS for p in check(graph)]
    return list(found)


# -- a file's own faults, found by the scanner ---------------------------------------------

UNPARSEABLE = declare(
    "unparseable",
    "error",
    "a file cannot be decoded or compiled, so Alembic cannot import it: a syntax error "
    "anywhere, a NUL byte, a coding cookie Python ignores (on line 2 after code)",
    blocks_writes=True,
)
UNREADABLE = declare("unreadable", "error", "a file cannot be read", blocks_writes=True)
CONFLICT_MARKERS = declare(
    "conflict-markers",
    "error",
    "committed git conflict markers (`<<<<<<<` ... `>>>>>>>`) that stop the file from "
    "loading; the line is the first marker",
    blocks_writes=True,
)
MISSING_REVISION = declare(
    "missing-revision", "error", "a file declares no `revision`", blocks_writes=True
)
MISSING_DOWN_REVISION = declare(
    "missing-down-revision",
    "error",
    "a file declares a `revision` but no `down_revision` (Alembic reads the attribute and fails)",
    blocks_writes=True,
)
NON_LITERAL = declare(
    "non-literal",
    "error / warning",
    "`revision`/`down_revision` (error) or `branch_labels`/`depends_on` (warning) is not a "
    "literal; migfix never guesses",
    blocks_writes=True,
)
BAD_VALUE = declare("bad-value", "error", "an empty or illegal revision id", blocks_writes=True)


@register_check(
    UNPARSEABLE,
    UNREADABLE,
    CONFLICT_MARKERS,
    MISSING_REVISION,
    MISSING_DOWN_REVISION,
    NON_LITERAL,
    BAD_VALUE,
)
def file_issues(graph: Graph) -> Iterator[Problem]:
    for f in graph.files:
        if not f.issues:
            continue
        revs = (f.revision,) if f.revision else ()
        for issue in f.issues:
            yield Problem(issue.code, issue.severity, issue.message, f.path, issue.line, revs)


# -- the graph's faults ---------------------------------------------------------------------


@check("duplicate-revision", "error", "two files declare the same revision id", blocks_writes=True)
def duplicate_revision(graph: Graph) -> Iterator[Problem]:
    for later, earlier in graph.duplicates:
        yield CODES["duplicate-revision"].problem(
            f"revision '{later.revision}' is also declared in "
            f"{graph.display_path(earlier.path)}; Alembic keeps only one of them. Give one "
            "file a new id (and repoint its children).",
            later.path,
            later.revision_line,
            (later.revision or "",),
        )


@check(
    "duplicate-label", "error", "two revisions declare the same branch label", blocks_writes=True
)
def duplicate_label(graph: Graph) -> Iterator[Problem]:
    if not graph.has_labels:
        return
    owners: dict[str, Node] = {}
    for node in graph.nodes.values():
        for label in node.labels or ():
            owner = owners.get(label)
            if owner is None:
                owners[label] = node
                continue
            yield CODES["duplicate-label"].problem(
                f"branch label '{label}' is already used by revision {owner.revision} "
                f"({graph.display_path(owner.path)}); Alembic refuses to load this. "
                "Rename one of the labels.",
                node.path,
                node.file.branch_labels.line,
                (node.revision,),
            )


@check("self-reference", "error", "a revision names itself", blocks_writes=True)
def self_reference(graph: Graph) -> Iterator[Problem]:
    code = CODES["self-reference"]
    for rev in graph.own_parents:
        node = graph.nodes[rev]
        yield code.problem(
            f"revision {rev} names itself in down_revision. Point it at its real parent.",
            node.path,
            node.file.down_revision.line,
            (rev,),
        )
    for node in graph.nodes.values():
        if not node.deps:
            continue
        rev = node.revision
        for dep in node.deps:
            if dep == rev:
                yield code.problem(
                    f"revision {rev} names itself in depends_on.",
                    node.path,
                    node.file.depends_on.line,
                    (rev,),
                )


@check(
    "unknown-parent",
    "error",
    "`down_revision` names a revision no file declares",
    blocks_writes=True,
)
def unknown_parent(graph: Graph) -> Iterator[Problem]:
    for rev, parent in graph.unknown_parents:
        node = graph.nodes[rev]
        yield CODES["unknown-parent"].problem(
            f"down_revision names '{parent}', which no revision file declares. Restore the "
            "missing file, or point down_revision at an existing revision.",
            node.path,
            node.file.down_revision.line,
            (rev, parent),
        )


@check(
    "unknown-dependency",
    "error",
    "`depends_on` names neither a revision nor a branch label",
    blocks_writes=True,
)
def unknown_dependency(graph: Graph) -> Iterator[Problem]:
    nodes = graph.nodes
    labels: set[str] | None = None
    for node in nodes.values():
        if not node.deps:
            continue
        for dep in node.deps:
            if dep == node.revision or dep in nodes:
                continue
            if labels is None:  # only once a dependency is not a revision
                labels = {label for n in nodes.values() for label in n.labels or ()}
            if dep not in labels:
                yield CODES["unknown-dependency"].problem(
                    f"depends_on names '{dep}', which is neither a revision nor a branch "
                    "label. Fix the id, or restore the missing revision.",
                    node.path,
                    node.file.depends_on.line,
                    (node.revision, dep),
                )


@check("revises-mismatch", "warning", "the docstring's `Revises:` disagrees with `down_revision`")
def revises_mismatch(graph: Graph) -> Iterator[Problem]:
    for node in graph.nodes.values():
        header = node.file.revises
        if (
            header is not None
            and header != node.down  # the usual case, decided without two sets
            and not isinstance(node.file.down_revision.value, Unknown)
            and set(header) != set(node.down)
            and set(header_ids(header)) != set(node.down)
        ):
            shown = ", ".join(node.down) or "(none)"
            yield CODES["revises-mismatch"].problem(
                f"the docstring says 'Revises: {', '.join(header)}' but down_revision is "
                f"{shown}. Alembic uses down_revision; fix the header so people reading the "
                "file are not misled.",
                node.path,
                node.file.revises_line,
                (node.revision,),
            )


@check(
    "unknown-allowed-head",
    "warning",
    "`[tool.migfix] allow_heads` names a revision that no file declares",
)
def unknown_allowed_head(graph: Graph) -> Iterator[Problem]:
    for rev in sorted(r for r in graph.allow_heads if r not in graph.nodes):
        yield CODES["unknown-allowed-head"].problem(
            f"[tool.migfix] allow_heads lists '{rev}', which no revision declares (a typo, or "
            "stale after a merge). Remove it from pyproject.toml.",
            None,
            0,
            (rev,),
        )


@check(
    "cycle", "error", "`down_revision` links form a loop (the loop is printed)", blocks_writes=True
)
def cycle(graph: Graph) -> Iterator[Problem]:
    for loop in graph.cycles():
        first = graph.nodes[loop[0]]
        chain = " -> ".join([*loop, loop[0]])
        yield CODES["cycle"].problem(
            f"revisions form a cycle through down_revision: {chain}. Alembic cannot order "
            "them; one of these down_revision values is wrong.",
            first.path,
            first.file.down_revision.line,
            tuple(loop),
        )


@check(
    "redundant-parent",
    "error",
    "a merge names a parent that is an ancestor of another parent: `alembic downgrade` "
    'fails with "Ambiguous walk". migfix never writes one, but lets one stand (upgrades '
    "work, and such a merge is often published)",
)
def redundant_parent(graph: Graph) -> Iterator[Problem]:
    """Merges one of whose parents is an ancestor of another: Alembic cannot walk them
    down (``alembic downgrade -1`` fails with "Ambiguous walk")."""
    nodes = graph.nodes
    below: dict[str, set[str]] = {}
    for node in nodes.values():
        if len(node.down) < 2:
            continue  # no merge (the common case: skipped without building anything)
        parents = [p for p in dict.fromkeys(node.down) if p in nodes and p != node.revision]
        if len(parents) < 2:
            continue
        for q in parents:
            if q not in below:
                below[q] = graph.ancestors(q)
        for p in parents:
            later = next((q for q in parents if q != p and p in below[q]), None)
            if later is not None:
                yield CODES["redundant-parent"].problem(
                    f"merge revision {node.revision} names {p} and {later}, but {p} is an "
                    f"ancestor of {later}, so `alembic downgrade` cannot walk down from here "
                    f'("Ambiguous walk"). Remove {p} from its down_revision.',
                    node.path,
                    node.file.down_revision.line,
                    (node.revision, p, later),
                )


@check("multiple-heads", "error", "several heads that are not intended")
def multiple_heads(graph: Graph) -> Iterator[Problem]:
    for group in graph.head_groups():
        nodes = [graph.nodes[h] for h in group]
        shared = sorted(set.intersection(*(set(graph.effective_labels(h) or ()) for h in group)))
        where = f"under branch label '{shared[0]}'" if shared else "without branch labels"
        listing = ", ".join(f"{n.revision} ({n.path.name})" for n in nodes)
        target = f"{shared[0]}@head" if shared else "head"
        last = nodes[-1]
        yield CODES["multiple-heads"].problem(
            f"{len(group)} heads {where}: {listing}; `alembic upgrade {target}` fails on "
            "this. Run `migfix merge` to join them (or `migfix rebase --onto <ref>`), or list "
            "them in [tool.migfix] allow_heads if they are intended.",
            last.path,
            last.file.revision_line,
            group,
        )


@check(
    "unknown-labels", "warning", "heads whose branch labels are not literals (treated as intended)"
)
def unknown_labels(graph: Graph) -> Iterator[Problem]:
    unknown = graph.unknown_label_heads()
    if len(unknown) > 1:
        n = graph.nodes[unknown[-1]]
        yield CODES["unknown-labels"].problem(
            f"heads {', '.join(unknown)} carry branch labels that are not literals, so migfix "
            "cannot tell whether they are intended; they are treated as intended.",
            n.path,
            n.file.revision_line,
            unknown,
        )


# -- found by planning, with more than the graph: only declared here -------------------------

LOCK_OUT_OF_DATE = declare(
    "lock-out-of-date",
    "error",
    "`[tool.migfix] lock = true` and the heads lock does not match the heads (the expected "
    "content is printed)",
)
OVERLAP = declare(
    "overlap",
    "warning",
    "with `--against`: both sides change the same table (see "
    "[Overlapping changes](#overlapping-changes))",
)


# -- the README's table ------------------------------------------------------------------------


def markdown_table() -> str:
    """The README's table of codes, generated from the registry."""
    rows = ["| code | severity | stops `merge`/`rebase` | what |", "|---|---|---|---|"]
    rows += [
        f"| `{c.name}` | {c.severity} | {'yes' if c.blocks_writes else 'no'} | {c.doc} |"
        for c in CODES.values()
    ]
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str]) -> int:
    if list(argv) != ["--markdown"]:
        sys.stderr.write("usage: python -m migfix.read.checks --markdown\n")
        return 2
    sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
