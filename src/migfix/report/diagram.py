"""The revision graph as a picture: Mermaid (GitHub renders it) and Graphviz dot.

Both renderers draw the same :class:`Picture`: revisions as boxes, parents above
children, heads, merge points and branch labels marked, new revisions (not on the
upstream ref) in green and settled ones in grey, unintended heads outlined in red.
Long straight runs of plain revisions are collapsed into one "... N revisions ..."
box unless ``full`` is asked, so a 5,000-revision history still fits on a screen.
Pure functions of the graph: no git, no click.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from migfix.read import checks
from migfix.read.graph import Graph

COLLAPSE_AT = 4
"""A straight run of at least this many plain revisions becomes one box (first and last
revision of the run stay visible around it)."""
_DOC_WIDTH = 40


@dataclass(frozen=True)
class Box:
    key: str
    """A node id both formats accept."""
    title: str
    lines: tuple[str, ...]
    kind: str
    """'revision', 'collapsed' or 'missing'."""
    classes: tuple[str, ...] = ()
    """Any of 'new', 'settled', 'head', 'problem', 'merge', 'base'."""


@dataclass
class Picture:
    boxes: list[Box] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    """(from key, to key, 'parent' | 'depends')."""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DOC_WIDTH else text[: _DOC_WIDTH - 1] + "…"


def near_heads(graph: Graph, steps: int) -> set[str]:
    """Revisions at most ``steps`` parents away from the unintended heads (from every head
    when none is unintended): the part of the graph around the problem."""
    targets = graph.unintended_heads() or graph.heads
    keep: set[str] = set()
    frontier = set(targets)
    for _ in range(steps + 1):
        keep |= frontier
        frontier = {p for r in frontier for p in graph.nodes[r].down if p in graph.nodes} - keep
    return keep


def build(
    graph: Graph,
    new: frozenset[str] = frozenset(),
    *,
    full: bool = False,
    near: int | None = None,
) -> Picture:
    """Lay out ``graph``: ``new`` are the revisions to show as new, ``full`` keeps every box,
    ``near`` keeps only what is that many parents away from the heads (see ``near_heads``)."""
    layout = _Layout(graph, new)
    layout.collapse_older(near_heads(graph, near) if near is not None else None)
    if not full:
        layout.collapse_runs()
    layout.add_boxes()
    layout.add_edges()
    return layout.pic


class _Layout:
    """The state ``build`` fills in: box keys, what is collapsed into which box, the picture."""

    def __init__(self, graph: Graph, new: frozenset[str]) -> None:
        self.graph = graph
        self.new = new
        order = graph.topological_order()
        placed = set(order)
        self.order = order + [r for r in graph.nodes if r not in placed]  # on a cycle: drawn
        self.heads = set(graph.heads)
        self.bad = set(graph.unintended_heads())
        self.problem_revs = {
            r for p in checks.problems(graph) if p.severity == "error" for r in p.revisions
        }
        self.depended_on = {d for n in graph.nodes.values() for d in n.deps or ()}
        self.keys: dict[str, str] = {}
        self.used: set[str] = set()
        self.hidden: dict[str, str] = {}  # revision -> key of the box it is collapsed into
        self.collapsed_boxes: dict[str, Box] = {}
        self.drawn: set[tuple[str, str, str]] = set()
        self.pic = Picture()

    def key_of(self, rev: str) -> str:
        if rev not in self.keys:
            base = "r_" + re.sub(r"[^A-Za-z0-9_]", "_", rev)
            k, n = base, 1
            while k in self.used:
                n += 1
                k = f"{base}_{n}"
            self.used.add(k)
            self.keys[rev] = k
        return self.keys[rev]

    def shown(self, rev: str) -> str:
        return self.hidden.get(rev) or self.key_of(rev)

    def plain(self, rev: str) -> bool:
        """Nothing to see: one parent, one child, no labels, not a head or a problem."""
        graph = self.graph
        node = graph.nodes[rev]
        kids = graph.children[rev]
        return (
            len(node.down) == 1
            and node.down[0] in graph.nodes
            and len(kids) == 1
            and len(graph.nodes[kids[0]].down) == 1
            and not node.labels
            and node.labels is not None
            and not node.deps
            and rev not in self.problem_revs
            and rev not in self.depended_on
        )

    def collapse_older(self, kept: set[str] | None) -> None:
        if kept is None or len(kept) >= len(self.graph.nodes):
            return
        older = [r for r in self.order if r not in kept]
        self.pic.boxes.append(
            Box("older", f"… {len(older)} older revisions …", (), "collapsed", ("settled",))
        )
        for r in older:
            self.hidden[r] = "older"

    def collapse_runs(self) -> None:
        seen: set[str] = set()
        for rev in self.order:
            if rev in seen or rev in self.hidden or not self.plain(rev):
                continue
            parent = self.graph.nodes[rev].down[0]
            if self.plain(parent) and (parent in self.new) == (rev in self.new):
                continue  # not the start of a run
            run = self._run_from(rev, seen)
            seen.update(run)
            # Keep the first and the last of the run visible: they connect the picture.
            inner = run[1:-1]
            if len(inner) >= COLLAPSE_AT:
                self._collapse(inner, "new" if rev in self.new else "settled")

    def _run_from(self, rev: str, seen: set[str]) -> list[str]:
        run = [rev]
        while True:
            kid = self.graph.children[run[-1]][0]
            if kid in seen or kid in self.hidden or not self.plain(kid):
                return run
            if (kid in self.new) != (rev in self.new):
                return run
            run.append(kid)

    def _collapse(self, inner: list[str], status: str) -> None:
        k = self.key_of(inner[0]) + "_run"
        self.collapsed_boxes[inner[0]] = Box(
            k,
            f"… {len(inner)} revisions …",
            (f"{inner[0]} … {inner[-1]}",),
            "collapsed",
            (status,),
        )
        for r in inner:
            self.hidden[r] = k

    def add_boxes(self) -> None:
        for rev in self.order:
            if rev in self.collapsed_boxes:
                self.pic.boxes.append(self.collapsed_boxes[rev])
            if rev not in self.hidden:
                self.pic.boxes.append(self._box(rev))

    def _box(self, rev: str) -> Box:
        node = self.graph.nodes[rev]
        classes = ["new" if rev in self.new else "settled"]
        tags: list[str] = []
        if not node.down:
            classes.append("base")
        if len(node.down) > 1:
            classes.append("merge")
            tags.append("merge")
        if rev in self.heads:
            classes.append("head")
            tags.append("head, unintended" if rev in self.bad else "head")
        if rev in self.bad or rev in self.problem_revs:
            classes.append("problem")
        lines: list[str] = []
        if node.file.doc:
            lines.append(_short(node.file.doc))
        if node.labels:
            lines.append("@" + ", @".join(node.labels))
        if tags:
            lines.append("(" + "; ".join(tags) + ")")
        return Box(self.key_of(rev), rev, tuple(lines), "revision", tuple(classes))

    def connect(self, edge: tuple[str, str, str]) -> None:
        if edge[0] != edge[1] and edge not in self.drawn:
            self.drawn.add(edge)
            self.pic.edges.append(edge)

    def add_edges(self) -> None:
        graph = self.graph
        missing: list[str] = []
        for rev in self.order:
            node = graph.nodes[rev]
            for parent in dict.fromkeys(node.down):
                if parent in graph.nodes:
                    self.connect((self.shown(parent), self.shown(rev), "parent"))
                elif rev not in self.hidden:
                    if parent not in missing:
                        missing.append(parent)
                    self.connect((self.key_of(parent), self.shown(rev), "parent"))
            for dep in node.deps or ():
                if dep in graph.nodes:
                    self.connect((self.shown(dep), self.shown(rev), "depends"))
        for rev in missing:
            self.pic.boxes.append(
                Box(self.key_of(rev), rev, ("(no file declares it)",), "missing", ("problem",))
            )


# -- Mermaid ---------------------------------------------------------------------------------

_MERMAID_CLASSES = (
    "classDef settled fill:#eeeeee,stroke:#888888,color:#222222",
    "classDef new fill:#d8f5dc,stroke:#2e7d32,color:#123d17",
    "classDef collapsed fill:#ffffff,stroke:#aaaaaa,stroke-dasharray:4 3,color:#555555",
    "classDef problem stroke:#c62828,stroke-width:3px",
)


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label, quotes and angle brackets are entity codes.
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def mermaid(pic: Picture) -> str:
    """A ``flowchart`` for Mermaid (GitHub renders it inside a ```mermaid block)."""
    return mermaid_many([(None, pic)])


def _prefixed(pic: Picture, prefix: str) -> Picture:
    """PIC with every node key prefixed, so several projects' pictures share one diagram."""
    if not prefix:
        return pic
    return Picture(
        [replace(b, key=prefix + b.key) for b in pic.boxes],
        [(prefix + a, prefix + b, kind) for a, b, kind in pic.edges],
    )


def many(fmt: str, pics: Sequence[tuple[str | None, Picture]]) -> str:
    """One diagram in FMT (``mermaid`` or ``dot``) of every labelled picture."""
    return mermaid_many(pics) if fmt == "mermaid" else dot_many(pics)


def mermaid_many(pics: Sequence[tuple[str | None, Picture]]) -> str:
    """One ``flowchart``: each labelled picture in a subgraph of its own (one per project)."""
    out = ["flowchart TD"]
    every = Picture()
    for i, (label, pic) in enumerate(pics):
        if label is None:
            pic = _prefixed(pic, "")
            indent = "    "
        else:
            pic = _prefixed(pic, f"p{i + 1}_")
            out.append(f'    subgraph p{i + 1}["{_mermaid_text(label)}"]')
            indent = "        "
        out.extend(indent + line for line in _mermaid_nodes(pic))
        if label is not None:
            out.append("    end")
        every.boxes.extend(pic.boxes)
        every.edges.extend(pic.edges)
    for a, b, kind in every.edges:
        out.append(f"    {a} {'-.->' if kind == 'depends' else '-->'} {b}")
    out.extend(f"    {c}" for c in _MERMAID_CLASSES)
    groups: dict[str, list[str]] = {}
    for box in every.boxes:
        names = ["collapsed"] if box.kind == "collapsed" else []
        names += [c for c in box.classes if c in ("settled", "new", "problem")]
        for name in names:
            groups.setdefault(name, []).append(box.key)
    for name in ("settled", "new", "collapsed", "problem"):
        if name in groups:
            out.append(f"    class {','.join(groups[name])} {name}")
    return "\n".join(out)


def _mermaid_nodes(pic: Picture) -> list[str]:
    out = []
    for box in pic.boxes:
        label = "<br/>".join(_mermaid_text(t) for t in (box.title, *box.lines))
        if box.kind == "collapsed":
            out.append(f'{box.key}[/"{label}"/]')
        elif "head" in box.classes:
            out.append(f'{box.key}(["{label}"])')
        elif "merge" in box.classes:
            out.append(f'{box.key}{{{{"{label}"}}}}')
        else:
            out.append(f'{box.key}["{label}"]')
    return out


# -- Graphviz dot ----------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(pic: Picture) -> str:
    """A ``digraph`` for Graphviz (``dot -Tsvg``)."""
    return dot_many([(None, pic)])


def dot_many(pics: Sequence[tuple[str | None, Picture]]) -> str:
    """One ``digraph``: each labelled picture in a ``cluster`` subgraph (one per project)."""
    out = [
        "digraph migrations {",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '    edge [color="#666666"];',
    ]
    for i, (label, pic) in enumerate(pics):
        if label is None:
            out.extend(_dot_body(pic, "    "))
            continue
        out.append(f"    subgraph cluster_p{i + 1} {{")
        out.append(f"        label={_dot_quote(label)};")
        out.extend(_dot_body(_prefixed(pic, f"p{i + 1}_"), "        "))
        out.append("    }")
    out.append("}")
    return "\n".join(out)


def _dot_body(pic: Picture, indent: str) -> list[str]:
    out = []
    for box in pic.boxes:
        attrs = {"label": "\n".join((box.title, *box.lines))}
        if box.kind == "collapsed":
            attrs.update(style="dashed", color="#aaaaaa", fontcolor="#555555")
        elif "new" in box.classes:
            attrs.update(fillcolor="#d8f5dc", color="#2e7d32")
        else:
            attrs.update(fillcolor="#eeeeee", color="#888888")
        if box.kind == "missing":
            attrs.update(style="dashed", fillcolor="#ffffff")
        if "merge" in box.classes:
            attrs["shape"] = "hexagon"
        if "head" in box.classes:
            attrs["peripheries"] = "2"
        if "problem" in box.classes:
            attrs.update(color="#c62828", penwidth="3")
        rendered = ", ".join(f"{k}={_dot_quote(v)}" for k, v in attrs.items())
        out.append(f"{indent}{box.key} [{rendered}];")
    for a, b, kind in pic.edges:
        style = ' [style=dashed, label="depends on"]' if kind == "depends" else ""
        out.append(f"{indent}{a} -> {b}{style};")
    return out
