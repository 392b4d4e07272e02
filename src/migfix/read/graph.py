"""The revision graph: pure, typed, in memory.

Semantics follow Alembic's ``RevisionMap`` (``alembic/script/revision.py``):

* a head is a revision that no other revision names in ``down_revision``
  (``depends_on`` does not count), listed in load order;
* a base is a revision whose ``down_revision`` is empty, in load order;
* branch labels apply to the revision that declares them and to its descendants;
* when two files declare the same id, the later file wins (Alembic warns and
  overwrites), and migfix reports it as an error.

Unlike ``RevisionMap`` it never raises on a broken graph: it keeps what it found (duplicate
ids, loops, unknown parents) for ``checks``, which turns every fault into a ``Problem``, so
``migfix check`` can report all of them at once.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from migfix.project.model import Project, relpath
from migfix.read import scan
from migfix.read.revision_file import RevisionFile, Unknown


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Node(NamedTuple):
    revision: str
    file: RevisionFile
    down: tuple[str, ...]
    labels: tuple[str, ...] | None
    """Own declared branch labels; None when they are not literal."""
    deps: tuple[str, ...] | None
    """Declared ``depends_on``; None when not literal."""

    @property
    def path(self) -> Path:
        return self.file.path


def reachable(
    starts: Iterable[str],
    step: Callable[[str], Iterable[str]],
    *,
    within: Container[str] | None = None,
) -> set[str]:
    """STARTS and every revision reached from them through STEP (parents, or children).

    With WITHIN, revisions outside it are neither kept nor followed (a ``down_revision``
    may name a revision no file declares). A cycle is walked once, not forever.
    """
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        r = stack.pop()
        if r in seen or (within is not None and r not in within):
            continue
        seen.add(r)
        stack.extend(step(r))
    return seen


def ancestry(parents: Mapping[str, Sequence[str]], starts: Iterable[str]) -> set[str]:
    """STARTS and every revision reached from them through PARENTS, keeping only the
    revisions PARENTS has: ``reachable(starts, parents.__getitem__, within=parents)``
    without a call per revision (planning walks 5,000 revisions several times)."""
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        r = stack.pop()
        if r in seen:
            continue
        down = parents.get(r)
        if down is None:
            continue
        seen.add(r)
        stack.extend(down)
    return seen


class Graph:
    """Revisions keyed by id, with Alembic's heads and bases, and every fault found."""

    def __init__(
        self,
        files: Sequence[RevisionFile],
        *,
        allow_heads: Iterable[str] = (),
        root: Path | None = None,
    ) -> None:
        self.files = list(files)
        self.allow_heads = frozenset(allow_heads)
        # Messages name files relative to the project root; without one, by absolute path.
        self.root = root
        self.nodes: dict[str, Node] = {}
        self.duplicates: list[tuple[RevisionFile, Node]] = []
        """(later file, node of the earlier one) for each id declared twice."""
        # Runs for every file of every command (5,000 times on big projects): positional
        # arguments and no per-node temporaries, which halve its cost.
        nodes = self.nodes
        for f in self.files:
            rev = f.revision
            if rev is None:
                continue
            down = f.down_revision.value
            labels = f.branch_labels.value
            deps = f.depends_on.value
            node = Node(
                rev,
                f,
                () if isinstance(down, Unknown) else down,
                None if isinstance(labels, Unknown) else labels,
                None if isinstance(deps, Unknown) else deps,
            )
            if rev in nodes:
                self.duplicates.append((f, nodes[rev]))
            nodes[rev] = node
        children: dict[str, list[str]] = {rev: [] for rev in nodes}
        self.unknown_parents: list[tuple[str, str]] = []
        """(revision, parent) for each ``down_revision`` entry no file declares."""
        self.own_parents: list[str] = []
        """Revisions that name themselves in ``down_revision``."""
        for rev, node in nodes.items():
            down = node.down
            # A parent named twice is one edge; a merge is the only place that can happen.
            for parent in down if len(down) < 2 else dict.fromkeys(down):
                if parent in children:
                    if parent != rev:
                        children[parent].append(rev)
                    else:
                        self.own_parents.append(rev)
                else:
                    self.unknown_parents.append((rev, parent))
        self.children = children
        self.heads: tuple[str, ...] = tuple(r for r, kids in self.children.items() if not kids)
        self.bases: tuple[str, ...] = tuple(r for r, n in self.nodes.items() if not n.down)
        self._labels: dict[str, frozenset[str] | None] | None = None
        self._order: list[str] | None = None
        self._ancestors: dict[str, frozenset[str]] = {}
        # Most projects have no branch labels at all: then every effective label set
        # is empty and nothing needs computing.
        self.has_labels = any(n.labels is None or n.labels for n in self.nodes.values())
        """Whether any revision declares branch labels (or ones that are not literal)."""

    # -- structure -----------------------------------------------------------------

    def __contains__(self, rev: object) -> bool:
        return rev in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def branch_points(self) -> tuple[str, ...]:
        return tuple(r for r, kids in self.children.items() if len(kids) > 1)

    @property
    def merge_points(self) -> tuple[str, ...]:
        return tuple(r for r, n in self.nodes.items() if len(n.down) > 1)

    def ancestors(self, rev: str) -> set[str]:
        """Every revision reachable through ``down_revision`` (not ``rev`` itself)."""
        # A merge asks for the same heads' ancestry several times (planning, overlap,
        # the redundant-parent check), each a walk of the whole history: walk once.
        known = self._ancestors.get(rev)
        if known is None:
            known = self._ancestors[rev] = frozenset(self._walk_down(rev))
        return set(known)

    def _walk_down(self, rev: str) -> set[str]:
        # reachable() inlined: without a call per revision this is twice as fast.
        nodes = self.nodes
        if rev not in nodes:
            return set()
        seen: set[str] = set()
        stack = list(nodes[rev].down)
        while stack:
            r = stack.pop()
            if r in seen:
                continue
            node = nodes.get(r)
            if node is None:
                continue
            seen.add(r)
            stack.extend(node.down)
        seen.discard(rev)
        return seen

    def descendants(self, rev: str) -> set[str]:
        seen = reachable(self.children.get(rev, ()), self.children.__getitem__)
        seen.discard(rev)
        return seen

    def topological_order(self) -> list[str]:
        """Parents before children; ties keep load order. Revisions on a cycle are left out."""
        if self._order is None:
            self._order = self._topological_order()
        return list(self._order)

    def _topological_order(self) -> list[str]:
        # A revision waits for each distinct parent that exists: exactly the lists of
        # ``children`` it appears in (counted from those, with no set per revision).
        pending = dict.fromkeys(self.nodes, 0)
        for kids in self.children.values():
            for kid in kids:
                pending[kid] += 1
        order_index = {r: i for i, r in enumerate(self.nodes)}
        ready = [(order_index[r], r) for r, k in pending.items() if k == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, r = heapq.heappop(ready)
            out.append(r)
            for child in self.children[r]:
                pending[child] -= 1
                if pending[child] == 0:
                    heapq.heappush(ready, (order_index[child], child))
        return out

    def effective_labels(self, rev: str) -> frozenset[str] | None:
        """Labels that apply to ``rev``: its own and its ancestors'. None if any is unknown."""
        if not self.has_labels:
            return frozenset() if rev in self.nodes else None
        if self._labels is None:
            self._labels = {}
            for r in self.topological_order():
                node = self.nodes[r]
                acc: set[str] = set()
                unknown = node.labels is None
                if node.labels:
                    acc.update(node.labels)
                for p in node.down:
                    if p not in self.nodes:
                        continue
                    inherited = self._labels.get(p)
                    if inherited is None:
                        unknown = True
                    else:
                        acc.update(inherited)
                self._labels[r] = None if unknown else frozenset(acc)
        return self._labels.get(rev)

    # -- intent ----------------------------------------------------------------------

    def head_groups(self) -> list[tuple[str, ...]]:
        """Heads that Alembic cannot upgrade together, grouped; each group of two or
        more is a problem. Heads under different branch labels are intended, and so
        are heads listed in ``allow_heads``."""
        candidates = [h for h in self.heads if h not in self.allow_heads]
        groups: list[list[str]] = []
        unlabelled: list[str] = []
        by_label: dict[str, list[str]] = {}
        for h in candidates:
            labels = self.effective_labels(h)
            if labels is None:
                continue  # labels not literal: cannot tell, see unknown_label_heads()
            if not labels:
                unlabelled.append(h)
            for label in sorted(labels):
                by_label.setdefault(label, []).append(h)
        if len(unlabelled) > 1:
            groups.append(unlabelled)
        for heads in by_label.values():
            if len(heads) > 1 and heads not in groups:
                groups.append(heads)
        return [tuple(g) for g in groups]

    def unintended_heads(self) -> tuple[str, ...]:
        """Every head that belongs to some problem group, in load order."""
        bad = {h for g in self.head_groups() for h in g}
        return tuple(h for h in self.heads if h in bad)

    def unknown_label_heads(self) -> tuple[str, ...]:
        return tuple(
            h for h in self.heads if h not in self.allow_heads and self.effective_labels(h) is None
        )

    # -- faults ----------------------------------------------------------------------

    def display_path(self, path: Path) -> str:
        """PATH as a message names it: relative to the project root when there is one."""
        return str(path) if self.root is None else relpath(path, self.root)

    def cycles(self) -> list[list[str]]:
        """Each loop of ``down_revision`` links, once, as the revisions on it in walk order."""
        order = self.topological_order()
        if len(order) == len(self.nodes):
            return []  # every revision placed: no loop
        placed = set(order)
        loops: list[list[str]] = []
        on_loop: set[str] = set()
        for start in (r for r in self.nodes if r not in placed):
            if start in on_loop:
                continue
            # Walk parents among the unplaced until a revision repeats: that loop is a
            # cycle. Unplaced revisions outside loops merely descend from one.
            path: list[str] = []
            index: dict[str, int] = {}
            r: str | None = start
            while r is not None and r not in index:
                index[r] = len(path)
                path.append(r)
                r = next(
                    (
                        p
                        for p in self.nodes[r].down
                        if p in self.nodes and p not in placed and p != r
                    ),
                    None,
                )
            if r is None:
                continue
            loop = path[index[r] :]
            if not on_loop.intersection(loop):
                on_loop.update(loop)
                loops.append(loop)
        return loops


def header_ids(header: Sequence[str]) -> tuple[str, ...]:
    """The ids a ``Revises:`` header names, however Alembic's template rendered them.

    ``${down_revision | comma,n}`` gives ``a, b`` (nothing for a base); a bare
    ``${down_revision}`` (pypi/warehouse's template) gives Python's repr: ``None``,
    ``('a', 'b')``. All of these agree with the same ``down_revision``.
    """
    ids = tuple(x for x in (item.strip(" \t()[]'\"") for item in header) if x)
    return () if ids == ("None",) else ids


def read_graph(project: Project, *, full: bool = True) -> Graph:
    """Scan a project's version locations and build its graph (the read-only path).

    ``full=False`` skips compiling each changed file to see whether Python can load it:
    only for commands that print the graph and never act on it (``heads``, ``graph``).
    """
    files = scan.scan_locations(project.version_locations, recursive=project.recursive, full=full)
    return Graph(files, allow_heads=project.settings.allow_heads, root=project.root)


def checked(graph: Graph) -> Graph:
    """GRAPH, read with ``full=False``, as a full ``read_graph`` would have read it.

    Only the files not compiled yet are compiled: every other file came from a checked
    scan-cache entry (or could not be read at all), which a full read takes as it is. So
    the hook, which reads with ``full=False`` until it knows there is work to do, does not
    list, stat and decode every revision a second time when there is. The files compiled
    here are not stored in the scan cache; right after a merge they are too young to be
    stored anyway.
    """
    if all(f.checked for f in graph.files):
        return graph
    files = [f if f.checked else scan.scan_file(f.path, full=True) for f in graph.files]
    redone = [(old, f) for old, f in zip(graph.files, files, strict=True) if old is not f]
    if graph.duplicates or any(_shape(old) != _shape(f) for old, f in redone):
        return Graph(files, allow_heads=graph.allow_heads, root=graph.root)
    # The usual case: only what Python says of the files changed (their issues), not the
    # graph's shape, so the 5,000 nodes, their children and the order are kept; building
    # them again costs more than the compile.
    out = copy.copy(graph)
    out.files = files
    out.nodes = dict(graph.nodes)
    for _, f in redone:
        if f.revision is not None:
            out.nodes[f.revision] = graph.nodes[f.revision]._replace(file=f)
    return out


def _shape(f: RevisionFile) -> tuple[object, ...]:
    """What a file gives the graph's structure (Graph.__init__ builds nodes from these)."""
    return (f.revision, f.down_revision.value, f.branch_labels.value, f.depends_on.value)
