"""Turn graphs and problems into text, JSON and GitHub annotations (no click here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migfix.project.model import Project, shown
from migfix.read.checks import Problem
from migfix.read.graph import Graph, Node
from migfix.read.revision_file import Field, Unknown

JSON_VERSION = 1


def _comma(items: object) -> str:
    return ", ".join(str(x) for x in items)  # type: ignore[attr-defined]


def real_heads(graph: Graph) -> set[str]:
    """Heads no revision depends on either (Alembic's ``_is_real_head``)."""
    needed: set[str] = set()
    label_owner = {label: n.revision for n in graph.nodes.values() for label in n.labels or ()}
    for node in graph.nodes.values():
        for dep in node.deps or ():
            needed.add(label_owner.get(dep, dep))
    return {h for h in graph.heads if h not in needed}


# -- heads -------------------------------------------------------------------------------


def heads_text(graph: Graph, *, verbose: bool, only: Sequence[str] | None = None) -> str:
    """``alembic heads`` output: ``rev (labels) (head)``, one line per head (of ONLY)."""
    real = real_heads(graph)
    lines: list[str] = []
    for h in graph.heads if only is None else only:
        node = graph.nodes[h]
        labels = sorted(graph.effective_labels(h) or node.labels or ())
        if verbose:
            lines.append(_log_entry(graph, node, h in real))
            continue
        text = h
        if labels:
            text += f" ({_comma(labels)})"
        text += " (head)" if h in real else " (effective head)"
        lines.append(text)
    return "\n".join(lines)


def _log_entry(graph: Graph, node: Node, real: bool) -> str:
    kids = graph.children[node.revision]
    entry = f"Rev: {node.revision}{' (head)' if not kids else ''}"
    entry += " (branchpoint)" if len(kids) > 1 else ""
    entry += " (mergepoint)" if len(node.down) > 1 else ""
    entry += "\n"
    parents = _comma(node.down) if node.down else "<base>"
    entry += f"{'Merges' if len(node.down) > 1 else 'Parent'}: {parents}\n"
    if node.deps:
        entry += f"Also depends on: {_comma(node.deps)}\n"
    if len(kids) > 1:
        entry += f"Branches into: {_comma(kids)}\n"
    labels = sorted(graph.effective_labels(node.revision) or node.labels or ())
    if labels:
        entry += f"Branch names: {_comma(labels)}\n"
    entry += f"Path: {node.path}\n\n"
    entry += "\n".join(f"    {para}" for para in node.file.docstring.splitlines()) + "\n"
    return entry


def heads_json(project: Project, graph: Graph, only: Sequence[str] | None = None) -> dict[str, Any]:
    bad = set(graph.unintended_heads())
    return {
        "version": JSON_VERSION,
        "heads": [
            {
                **_node_ref(project, graph.nodes[h]),
                "branch_labels": _labels_json(graph, h),
                "intended": h not in bad,
            }
            for h in (graph.heads if only is None else only)
        ],
        "ok": not bad,
    }


def _labels_json(graph: Graph, rev: str) -> list[str] | None:
    labels = graph.effective_labels(rev)
    return None if labels is None else sorted(labels)


def _node_ref(project: Project, node: Node) -> dict[str, Any]:
    return {
        "revision": node.revision,
        "path": project.relpath(node.path),
        "line": node.file.revision_line,
        "doc": node.file.doc,
    }


# -- graph -------------------------------------------------------------------------------


def _field_json(f: Field) -> Any:
    if isinstance(f.value, Unknown):
        return {"unknown": f.value.source}
    return list(f.value)


def graph_json(project: Project, graph: Graph) -> dict[str, Any]:
    revisions = []
    for rev in graph.nodes:
        node = graph.nodes[rev]
        revisions.append(
            {
                **_node_ref(project, node),
                "down_revisions": _field_json(node.file.down_revision),
                "branch_labels": _field_json(node.file.branch_labels),
                "depends_on": _field_json(node.file.depends_on),
                "effective_branch_labels": _labels_json(graph, rev),
                "children": list(graph.children[rev]),
            }
        )
    return {
        "version": JSON_VERSION,
        "root": str(project.root),
        "version_locations": [project.relpath(p) for p in project.version_locations],
        "revisions": revisions,
        "heads": list(graph.heads),
        "bases": list(graph.bases),
        "branch_points": list(graph.branch_points),
        "merge_points": list(graph.merge_points),
    }


def _tags(graph: Graph, rev: str, *, head: bool, unintended: bool) -> list[str]:
    """What the tree says about REV in brackets: base, merges, labels, head..."""
    node = graph.nodes[rev]
    tags: list[str] = []
    if not node.down:
        tags.append("base")
    if rev in node.down:
        tags.append("names itself")
    if len(node.down) > 1:
        tags.append("merges " + _comma(node.down))
    if node.labels:
        tags.append("labels: " + _comma(node.labels))
    if node.deps:
        tags.append("depends on " + _comma(node.deps))
    if head:
        tags.append("HEAD, unintended" if unintended else "head")
    missing = [p for p in node.down if p not in graph.nodes]
    if missing:
        tags.append("missing parent " + _comma(missing))
    return tags


def graph_text(project: Project, graph: Graph) -> str:
    """A tree: straight runs stay in one column, branches indent, merges point back.

    A merge revision is drawn under the parent that comes last in topological order
    (so all of its parents are already on screen); its other parents get a
    ``╰→ rev (merge ...)`` line that points at it.
    """
    if not graph.nodes:
        return "(no revisions)"
    order = graph.topological_order()
    pos = {r: i for i, r in enumerate(order)}

    def primary_parent(rev: str) -> str | None:
        # A revision naming itself is drawn as a root: under itself it would never be reached.
        parents = [p for p in graph.nodes[rev].down if p in pos and p != rev]
        return max(parents, key=pos.__getitem__) if parents else None

    heads = set(graph.heads)
    bad = set(graph.unintended_heads())

    def label(rev: str) -> str:
        node = graph.nodes[rev]
        tags = _tags(graph, rev, head=rev in heads, unintended=rev in bad)
        text = rev + (f" ({'; '.join(tags)})" if tags else "")
        return text + (f"  {node.file.doc}" if node.file.doc else "")

    lines: list[str] = []
    roots = [r for r in order if primary_parent(r) is None]
    # Stack of (revision, prefix for its own line, prefix for what follows it).
    stack: list[tuple[str, str, str]] = [(r, "", "") for r in reversed(roots)]
    while stack:
        rev, first, rest = stack.pop()
        lines.append(first + label(rev))
        kids = [k for k in graph.children[rev] if k != rev]
        primary = [k for k in kids if primary_parent(k) == rev]
        refs = [k for k in kids if primary_parent(k) != rev]
        for k in refs:
            lines.append(f"{rest}╰→ {k} (merge, drawn under {primary_parent(k)})")
        if len(primary) == 1:
            stack.append((primary[0], rest, rest))
        else:
            items = []
            for i, k in enumerate(primary):
                last = i == len(primary) - 1
                items.append(
                    (k, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))
                )
            stack.extend(reversed(items))
    stuck = [r for r in graph.nodes if r not in pos]
    if stuck:
        lines.append("on a cycle (cannot be ordered): " + _comma(stuck))
    return "\n".join(lines)


# -- check -------------------------------------------------------------------------------


def problems_text(project: Project, problems: list[Problem]) -> str:
    lines = []
    for p in problems:
        # Relative to where the command runs, so the path opens from there.
        where = shown(p.path, project.root) if p.path else str(project.root)
        if p.line:
            where += f":{p.line}"
        lines.append(f"{where}: {p.severity}: {p.message} [{p.code}]")
    return "\n".join(lines)


def summary(problems: list[Problem], graph: Graph) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    heads = len(graph.heads)
    return (
        f"{len(graph)} revision{'s' if len(graph) != 1 else ''}, "
        f"{heads} head{'s' if heads != 1 else ''}: "
        f"{errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


def problems_json(
    project: Project, graph: Graph, problems: list[Problem], ok: bool
) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "ok": ok,
        "revisions": len(graph),
        "heads": list(graph.heads),
        "problems": [
            {
                "code": p.code,
                "severity": p.severity,
                "message": p.message,
                "path": project.relpath(p.path) if p.path else None,
                "line": p.line or None,
                "revisions": list(p.revisions),
            }
            for p in problems
        ],
    }


def _gh_escape(text: str, *, prop: bool = False) -> str:
    # GitHub workflow command escaping (actions/toolkit's escapeData / escapeProperty).
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def problems_github(
    project: Project, problems: list[Problem], *, repo_root: Path | None = None
) -> str:
    """GitHub workflow annotations. GitHub wants paths relative to the repository root,
    which differs from the project root when alembic.ini sits in a sub-folder."""
    lines = []
    for p in problems:
        level = "error" if p.severity == "error" else "warning"
        props = []
        if p.path:
            where = project.relpath(p.path)
            if repo_root is not None and p.path.is_relative_to(repo_root):
                where = p.path.relative_to(repo_root).as_posix()
            props.append("file=" + _gh_escape(where, prop=True))
        if p.line:
            props.append(f"line={p.line}")
        props.append("title=" + _gh_escape(f"migfix {p.code}", prop=True))
        lines.append(f"::{level} {','.join(props)}::{_gh_escape(p.message)}")
    return "\n".join(lines)


def dumps(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False)
