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
from dataclasses import dataclass, field

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
    order = graph.topological_order()
    placed = set(order)
    order += [r for r in graph.nodes if r not in placed]  # on a cycle: still drawn
    kept = near_heads(graph, near) if near is not None else None
    heads = set(graph.heads)
    bad = set(graph.unintended_heads())
    problem_revs = {r for p in checks.problems(graph) if p.severity == "error" for r in p.revisions}
    depended_on = {d for n in graph.nodes.values() for d in n.deps or ()}
    keys: dict[str, str] = {}
    used: set[str] = set()

    def key_of(rev: str) -> str:
        if rev not in keys:
            base = "r_" + re.sub(r"[^A-Za-z0-9_]", "_", rev)
            k, n = base, 1
            while k in used:
                n += 1
                k = f"{base}_{n}"
            used.add(k)
            keys[rev] = k
        return keys[rev]

    def plain(rev: str) -> bool:
        """Nothing to see: one parent, one child, no labels, not a head or a problem."""
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
            and rev not in problem_revs
            and rev not in depended_on
        )

    hidden: dict[str, str] = {}  # revision -> key of the box it is collapsed into
    pic = Picture()
    if kept is not None and len(kept) < len(graph.nodes):
        older = [r for r in order if r not in kept]
        pic.boxes.append(
            Box("older", f"… {len(older)} older revisions …", (), "collapsed", ("settled",))
        )
        for r in older:
            hidden[r] = "older"
    collapsed_boxes: dict[str, Box] = {}
    if not full:
        seen: set[str] = set()
        for rev in order:
            if rev in seen or rev in hidden or not plain(rev):
                continue
            parent = graph.nodes[rev].down[0]
            if plain(parent) and (parent in new) == (rev in new):
                continue  # not the start of a run
            run = [rev]
            while True:
                kid = graph.children[run[-1]][0]
                if kid in seen or kid in hidden or not plain(kid) or (kid in new) != (rev in new):
                    break
                run.append(kid)
            seen.update(run)
            # Keep the first and the last of the run visible: they connect the picture.
            inner = run[1:-1]
            if len(inner) < COLLAPSE_AT:
                continue
            k = key_of(inner[0]) + "_run"
            status = "new" if rev in new else "settled"
            collapsed_boxes[inner[0]] = Box(
                k,
                f"… {len(inner)} revisions …",
                (f"{inner[0]} … {inner[-1]}",),
                "collapsed",
                (status,),
            )
            for r in inner:
                hidden[r] = k

    def shown(rev: str) -> str:
        return hidden.get(rev) or key_of(rev)

    for rev in order:
        if rev in collapsed_boxes:
            pic.boxes.append(collapsed_boxes[rev])
        if rev in hidden:
            continue
        node = graph.nodes[rev]
        classes = ["new" if rev in new else "settled"]
        tags: list[str] = []
        if not node.down:
            classes.append("base")
        if len(node.down) > 1:
            classes.append("merge")
            tags.append("merge")
        if rev in heads:
            classes.append("head")
            tags.append("head, unintended" if rev in bad else "head")
        if rev in bad or rev in problem_revs:
            classes.append("problem")
        lines: list[str] = []
        if node.file.doc:
            lines.append(_short(node.file.doc))
        if node.labels:
            lines.append("@" + ", @".join(node.labels))
        if tags:
            lines.append("(" + "; ".join(tags) + ")")
        pic.boxes.append(Box(key_of(rev), rev, tuple(lines), "revision", tuple(classes)))
    missing: list[str] = []
    drawn: set[tuple[str, str, str]] = set()

    def connect(edge: tuple[str, str, str]) -> None:
        if edge[0] != edge[1] and edge not in drawn:
            drawn.add(edge)
            pic.edges.append(edge)

    for rev in order:
        node = graph.nodes[rev]
        for parent in dict.fromkeys(node.down):
            if parent in graph.nodes:
                connect((shown(parent), shown(rev), "parent"))
            elif rev not in hidden:
                if parent not in missing:
                    missing.append(parent)
                connect((key_of(parent), shown(rev), "parent"))
        for dep in node.deps or ():
            if dep in graph.nodes:
                connect((shown(dep), shown(rev), "depends"))
    for rev in missing:
        pic.boxes.append(Box(key_of(rev), rev, ("(no file declares it)",), "missing", ("problem",)))
    return pic


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
    out = ["flowchart TD"]
    for box in pic.boxes:
        label = "<br/>".join(_mermaid_text(t) for t in (box.title, *box.lines))
        if box.kind == "collapsed":
            out.append(f'    {box.key}[/"{label}"/]')
        elif "head" in box.classes:
            out.append(f'    {box.key}(["{label}"])')
        elif "merge" in box.classes:
            out.append(f'    {box.key}{{{{"{label}"}}}}')
        else:
            out.append(f'    {box.key}["{label}"]')
    for a, b, kind in pic.edges:
        out.append(f"    {a} {'-.->' if kind == 'depends' else '-->'} {b}")
    out.extend(f"    {c}" for c in _MERMAID_CLASSES)
    groups: dict[str, list[str]] = {}
    for box in pic.boxes:
        names = ["collapsed"] if box.kind == "collapsed" else []
        names += [c for c in box.classes if c in ("settled", "new", "problem")]
        for name in names:
            groups.setdefault(name, []).append(box.key)
    for name in ("settled", "new", "collapsed", "problem"):
        if name in groups:
            out.append(f"    class {','.join(groups[name])} {name}")
    return "\n".join(out)


# -- Graphviz dot ----------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(pic: Picture) -> str:
    """A ``digraph`` for Graphviz (``dot -Tsvg``)."""
    out = [
        "digraph migrations {",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '    edge [color="#666666"];',
    ]
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
        out.append(f"    {box.key} [{rendered}];")
    for a, b, kind in pic.edges:
        style = ' [style=dashed, label="depends on"]' if kind == "depends" else ""
        out.append(f"    {a} -> {b}{style};")
    out.append("}")
    return "\n".join(out)
