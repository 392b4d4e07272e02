"""Overlap warnings: both sides of a join change the same table.

When two lines of migrations are joined (``migfix merge``, ``rebase``, the git hook) or a pull
request is checked against its target (``check --against REF``), the ``upgrade()`` of every
revision on each side since they diverged is read statically with libcst (never imported) for
the tables and columns its ``op.*`` calls touch. A table changed on both sides is reported as
an ``overlap`` warning naming the revisions, the table, the columns and the order the join
gives them: that is exactly where a merge revision silently picks an order for two changes
that may conflict.

libcst is imported only inside :func:`touches`: plain ``check`` never pays for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migfix.errors import EXIT_PROBLEMS, Refusal
from migfix.read.checks import OVERLAP, Problem
from migfix.read.graph import Graph, reachable

if TYPE_CHECKING:
    import libcst as cst

Reader = Callable[[str], bytes | None]
"""Revision id -> the bytes of its file (None: cannot be read, the revision is skipped)."""


@dataclass(frozen=True)
class Touch:
    """One ``op.*`` call of an ``upgrade()``: the table it changes and the columns it names."""

    table: str
    columns: frozenset[str]
    op: str
    line: int

    def describe(self) -> str:
        cols = ", ".join(sorted(self.columns))
        return f"{self.op} {cols}" if cols else self.op


@dataclass(frozen=True)
class Overlap:
    table: str
    first: tuple[tuple[str, Touch], ...]
    """Side one's revisions touching the table, with the touch (in upgrade order)."""
    second: tuple[tuple[str, Touch], ...]
    same_columns: frozenset[str]
    last: str | None
    """The revision that runs last of the two sides' last touches; None when not ordered."""
    joined_by: str | None = None


NOTE = "warning: overlap: "
"""How merge and rebase list an overlap among their notes."""


class OverlapRefusal(Refusal):
    """``--strict``: both sides change the same table; nothing was written."""

    exit_code = EXIT_PROBLEMS


def refuse_if_strict(strict: bool, notes: Iterable[str]) -> None:
    """Under ``--strict``, an overlap among NOTES stops the join before anything is written."""
    found = [n.removeprefix(NOTE) for n in notes if n.startswith(NOTE)]
    if strict and found:
        raise OverlapRefusal(
            "--strict: "
            + " ".join(found)
            + " Nothing was written; join them without --strict (the order above is what you "
            "get), or change one side first."
        )


# -- reading upgrade() ----------------------------------------------------------------------------

# op.<name>: which argument is the table (position, keyword), and where the columns are.
# Positions are for op.*; batch_op.* calls leave the table argument out.
_OPS: dict[str, tuple[int | None, str | None, str]] = {
    "create_table": (0, "table_name", "columns"),
    "drop_table": (0, "table_name", ""),
    "add_column": (0, "table_name", "column"),
    "alter_column": (0, "table_name", "name"),
    "drop_column": (0, "table_name", "name"),
    "create_index": (1, "table_name", "list"),
    "drop_index": (1, "table_name", ""),
    "create_foreign_key": (1, "source_table", "fk"),
    "create_unique_constraint": (1, "table_name", "list"),
    "create_primary_key": (1, "table_name", "list"),
    "create_check_constraint": (1, "table_name", ""),
    "drop_constraint": (1, "table_name", ""),
    "rename_table": (0, "old_table_name", "rename"),
    "execute": (None, None, "sql"),
}
_SQL_TABLE = re.compile(
    r"""\b(?:alter\s+table|update|insert\s+into|delete\s+from|create\s+table|drop\s+table
        |truncate(?:\s+table)?|create\s+(?:unique\s+)?index\s+\S+\s+on)
        \s+(?:if\s+(?:not\s+)?exists\s+)?(?:only\s+)?([`"\[]?[\w.]+[`"\]]?)""",
    re.I | re.X,
)
_SQL_COLUMN = re.compile(
    r"""\b(?:(?:add|alter|drop|rename)\s+column\s+(?:if\s+(?:not\s+)?exists\s+)?|set\s+)
        ([`"\[]?\w+[`"\]]?)""",
    re.I | re.X,
)


def _string(node: Any) -> str | None:
    import libcst as cst

    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _strings(node: Any) -> list[str]:
    import libcst as cst

    if isinstance(node, (cst.List, cst.Tuple)):
        return [s for e in node.elements if (s := _string(e.value)) is not None]
    one = _string(node)
    return [one] if one is not None else []


def _column_name(node: Any) -> str | None:
    """``sa.Column("email", ...)`` / ``Column("email", ...)`` -> ``email``."""
    import libcst as cst

    if not isinstance(node, cst.Call):
        return None
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
    if name != "Column" or not node.args:
        return None
    return _string(node.args[0].value)


def _unquote(name: str) -> str:
    return name.strip('`"[]')


def _call_touches(op: str, call: cst.Call, batch_table: str | None, line: int) -> list[Touch]:
    spec = _OPS.get(op)
    if spec is None:
        return []
    pos, kw, cols_kind = spec
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    if cols_kind == "sql":
        target = positional[0] if positional else keywords.get("sqltext")
        text = _string(target)
        if text is None and target is not None:
            import libcst as cst

            # op.execute(sa.text("...")) / text("...")
            if isinstance(target, cst.Call) and target.args:
                text = _string(target.args[0].value)
        if text is None:
            return []
        sql_columns = frozenset(_unquote(c) for c in _SQL_COLUMN.findall(text))
        return [
            Touch(_unquote(t), sql_columns, "execute", line)
            for t in dict.fromkeys(_SQL_TABLE.findall(text))
        ]
    assert pos is not None and kw is not None
    if batch_table is not None:
        # batch_op.add_column(col), batch_op.create_index(name, cols), ...: the table argument
        # is left out; a placeholder keeps the positions of the op.* signature.
        table: str | None = batch_table
        rest: list[Any] = [*positional[:pos], None, *positional[pos:]]
    else:
        table = _string(positional[pos] if len(positional) > pos else keywords.get(kw))
        rest = positional
    if table is None:
        return []
    schema = _string(keywords.get("schema"))
    shown = f"{schema}.{table}" if schema else table
    columns: set[str] = set()
    extra: list[Touch] = []
    if cols_kind == "columns":
        columns = {c for a in rest[1:] if (c := _column_name(a))}
    elif cols_kind == "column":
        arg = rest[1] if len(rest) > 1 else keywords.get("column")
        columns = {c} if (c := _column_name(arg)) else set()
    elif cols_kind == "name":
        arg = rest[1] if len(rest) > 1 else keywords.get("column_name")
        columns = set(_strings(arg)) if arg is not None else set()
    elif cols_kind == "list":
        arg = rest[2] if len(rest) > 2 else keywords.get("columns")
        columns = set(_strings(arg)) if arg is not None else set()
    elif cols_kind == "fk":
        referent = _string(rest[2] if len(rest) > 2 else keywords.get("referent_table"))
        local = rest[3] if len(rest) > 3 else keywords.get("local_cols")
        remote = rest[4] if len(rest) > 4 else keywords.get("remote_cols")
        columns = set(_strings(local)) if local is not None else set()
        if referent:
            refcols = frozenset(_strings(remote)) if remote is not None else frozenset()
            extra.append(Touch(referent, refcols, "create_foreign_key (referenced)", line))
    elif cols_kind == "rename":
        new = rest[1] if len(rest) > 1 else keywords.get("new_table_name")
        if (renamed := _string(new)) is not None:
            extra.append(Touch(renamed, frozenset(), "rename_table (new name)", line))
    return [Touch(shown, frozenset(columns), op, line), *extra]


def touches(source: bytes) -> list[Touch]:
    """Every table change of the module's ``upgrade()``, in source order.

    An ``op.*`` call whose table is not a literal is left out: migfix never guesses. A file
    that does not parse has no touches (``check`` reports it elsewhere).
    """
    if b"op." not in source:
        # Every call read below is op.* (or inside `with op.batch_alter_table(...)`): no need
        # to import libcst (~100 ms) and parse a file that cannot have one.
        return []
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from migfix.read.scan import decode_source

    try:
        module = cst.parse_module(decode_source(source))
    except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, ValueError):
        return []
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    found: list[Touch] = []

    class Visitor(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def __init__(self) -> None:
            super().__init__()
            self.depth = 0
            self.in_upgrade = False
            self.batches: dict[str, str] = {}

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            self.depth += 1
            if self.depth == 1 and node.name.value == "upgrade":
                self.in_upgrade = True
                return True
            return self.in_upgrade

        def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
            self.depth -= 1
            if self.depth == 0:
                self.in_upgrade = False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return self.in_upgrade

        def visit_With(self, node: cst.With) -> None:
            for item in node.items:
                call = item.item
                if (
                    isinstance(call, cst.Call)
                    and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value == "batch_alter_table"
                    and item.asname is not None
                    and isinstance(item.asname.name, cst.Name)
                ):
                    args = [a.value for a in call.args if a.keyword is None]
                    kws = {a.keyword.value: a.value for a in call.args if a.keyword}
                    table = _string(args[0] if args else kws.get("table_name"))
                    schema = _string(kws.get("schema"))
                    if table is not None:
                        self.batches[item.asname.name.value] = (
                            f"{schema}.{table}" if schema else table
                        )

        def visit_Call(self, node: cst.Call) -> None:
            if not self.in_upgrade or not isinstance(node.func, cst.Attribute):
                return
            owner = node.func.value
            if not isinstance(owner, cst.Name):
                return
            op = node.func.attr.value
            line = self.get_metadata(PositionProvider, node).start.line
            if owner.value == "op":
                if op == "batch_alter_table":
                    return  # its table is read in visit_With; its calls name the columns
                found.extend(_call_touches(op, node, None, line))
            elif owner.value in self.batches:
                found.extend(_call_touches(op, node, self.batches[owner.value], line))

    wrapper.visit(Visitor())
    return found


# -- the sides of a join --------------------------------------------------------------------------


def sides_of_heads(graph: Graph, heads: Sequence[str]) -> list[list[str]]:
    """For each head, the revisions only it leads to (what its side added since the lines
    diverged), parents first."""
    lines = {h: graph.ancestors(h) | {h} for h in heads}
    # How many heads lead to each revision: a revision is one side's own when exactly its
    # head does. Counting once keeps this linear in heads x revisions; unioning every other
    # head's line per head was quadratic in the heads (300 heads: seconds per merge).
    leads: Counter[str] = Counter()
    for line in lines.values():
        leads.update(line)
    order = graph.topological_order()
    return [[r for r in order if r in lines[h] and leads[r] == 1] for h in heads]


def _key(table: str) -> str:
    return table.lower()


def find(
    sides: Sequence[Sequence[str]],
    read: Reader,
    parents_after: Mapping[str, Sequence[str]],
    *,
    joined_by: str | None = None,
) -> list[Overlap]:
    """Tables changed on two sides. PARENTS_AFTER is the graph once joined (to tell which
    side runs last); JOINED_BY names the merge revision that joins them, if one does."""
    if sum(1 for s in sides if s) < 2:
        return []
    per_side: list[dict[str, list[tuple[str, Touch]]]] = [{} for _ in sides]
    # Two sides: read the shorter one first; a file of the other that does not even contain
    # one of its table names cannot touch them, and is not parsed (a long-lived branch may
    # have hundreds of revisions, and libcst takes milliseconds per file).
    todo = sorted(range(len(sides)), key=lambda i: len(sides[i]))
    wanted: set[str] | None = None
    for i in todo:
        tables = per_side[i]
        for rev in sides[i]:
            data = read(rev)
            if data is None:
                continue
            if wanted is not None:
                lowered = data.lower()
                if not any(name.encode("utf-8") in lowered for name in wanted):
                    continue
            for t in touches(data):
                tables.setdefault(_key(t.table), []).append((rev, t))
        if len(sides) == 2 and wanted is None:
            wanted = {k.split(".")[-1] for k in tables}
    out: list[Overlap] = []
    for i in range(len(per_side)):
        for j in range(i + 1, len(per_side)):
            for key in sorted(per_side[i].keys() & per_side[j].keys()):
                a, b = per_side[i][key], per_side[j][key]
                cols_a = {c for _, t in a for c in t.columns}
                cols_b = {c for _, t in b for c in t.columns}
                out.append(
                    Overlap(
                        table=a[0][1].table,
                        first=tuple(a),
                        second=tuple(b),
                        same_columns=frozenset(cols_a & cols_b),
                        last=_last(a[-1][0], b[-1][0], parents_after),
                        joined_by=joined_by,
                    )
                )
    return out


def _last(a: str, b: str, parents: Mapping[str, Sequence[str]]) -> str | None:
    def step(r: str) -> Iterable[str]:
        return parents.get(r, ())

    if a in reachable(parents.get(b, ()), step):
        return b
    if b in reachable(parents.get(a, ()), step):
        return a
    return None


def _side_text(items: Sequence[tuple[str, Touch]]) -> str:
    by_rev: dict[str, list[str]] = {}
    for rev, t in items:
        by_rev.setdefault(rev, []).append(t.describe())
    return "; ".join(f"{rev} ({', '.join(dict.fromkeys(ds))})" for rev, ds in by_rev.items())


def message(ov: Overlap) -> str:
    """One paragraph: the revisions, the table and columns, and the order."""
    first_last, second_last = ov.first[-1][0], ov.second[-1][0]
    text = (
        f"both sides change table {ov.table}: {_side_text(ov.first)} on one, "
        f"{_side_text(ov.second)} on the other."
    )
    if ov.last is not None:
        earlier = first_last if ov.last == second_last else second_last
        order = f"{earlier} runs first, {ov.last} last"
    elif ov.joined_by:
        order = (
            f"the merge revision {ov.joined_by} does not order them: each database runs the "
            "side it lacks last"
        )
    else:
        order = "nothing orders them yet (they are separate heads)"
    if ov.same_columns:
        cols = ", ".join(f"{ov.table}.{c}" for c in sorted(ov.same_columns))
        if ov.last is not None:
            return f"{text} Both change {cols}, so the order matters: {order}."
        return f"{text} Both change {cols}, so the order matters, and {order}."
    return f"{text} Order: {order}."


def problems(overlaps: Sequence[Overlap], where: Callable[[str], Path | None]) -> list[Problem]:
    """``overlap`` warnings for ``check``, each at the second side's touching revision."""
    out = []
    for ov in overlaps:
        rev, touch = ov.second[-1]
        revs = tuple(dict.fromkeys(r for r, _ in (*ov.first, *ov.second)))
        out.append(OVERLAP.problem(message(ov), where(rev), touch.line, revs))
    return out


# -- the joins ------------------------------------------------------------------------------------


def disk_reader(graph: Graph) -> Reader:
    def read(rev: str) -> bytes | None:
        node = graph.nodes.get(rev)
        if node is None:
            return None
        try:
            return node.path.read_bytes()
        except OSError:
            return None

    return read


def for_merge(
    graph: Graph, groups: Sequence[Sequence[str]], after: Graph, joined_by: str | None
) -> list[Overlap]:
    """Overlaps of the heads ``migfix merge`` (or the hook) joins; AFTER is the result."""
    parents = {r: n.down for r, n in after.nodes.items()}
    read = disk_reader(graph)
    out: list[Overlap] = []
    for group in groups:
        out.extend(find(sides_of_heads(graph, group), read, parents, joined_by=joined_by))
    return out


def ref_reader(project: Any, repo: Path, ref: str, graph: Graph, ref_revs: set[str]) -> Reader:
    """Revisions of REF read from git objects (they may not be in the work tree), others
    from disk. REF's tree is read once, on first use."""
    from migfix.git import gitops

    blobs: dict[Path, bytes] | None = None
    disk = disk_reader(graph)

    def read(rev: str) -> bytes | None:
        nonlocal blobs
        if rev not in ref_revs:
            return disk(rev)
        if blobs is None:
            blobs = {}
            for loc in project.version_locations:
                blobs.update(
                    gitops.read_tree_files(repo, ref, loc, recursive=project.recursive) or {}
                )
        node = graph.nodes.get(rev)
        return blobs.get(node.path) if node is not None else None

    return read


def for_against(project: Any, graph: Graph, ref: str) -> list[Problem]:
    """``check --against REF``: overlaps between REF's and this branch's unjoined heads."""
    from migfix.git import gitops
    from migfix.plan.against import ref_files

    groups = graph.head_groups()
    if not groups:
        return []
    repo = gitops.find_repo(project.root)
    if repo is None:
        return []
    ref_revs = {f.revision for f in ref_files(project, repo, ref) if f.revision}
    read = ref_reader(project, repo, ref, graph, ref_revs)
    parents = {r: n.down for r, n in graph.nodes.items()}
    found: list[Overlap] = []
    for group in groups:
        found.extend(find(sides_of_heads(graph, group), read, parents))

    def where(rev: str) -> Path | None:
        node = graph.nodes.get(rev)
        return node.path if node is not None else None

    return problems(found, where)


def for_rebase(
    project: Any, repo: Path, ref: str, work: Graph, onto: Graph, plan: Any
) -> list[Overlap]:
    """Overlaps of ``rebase --onto REF``: what REF added after each moved revision's old
    parents (read from git objects) against this branch's revisions, in the new order."""
    moves = plan.moves
    if not moves:
        return []
    dropped = {d.revision for d in plan.dropped}
    branch = [r for r in plan.branch if r not in dropped]
    ref_side: set[str] = set()
    for m in moves:
        for p in m.old_parents:
            if p in onto.nodes:
                ref_side |= onto.descendants(p)
    ref_side -= set(branch)
    if not ref_side:
        return []
    joined = Graph(
        [*onto.files, *(work.nodes[r].file for r in branch)],
        allow_heads=onto.allow_heads,
        root=work.root,
    )
    parents: dict[str, Sequence[str]] = {r: n.down for r, n in joined.nodes.items()}
    parents.update({m.revision: m.new_parents for m in moves})
    order = joined.topological_order()
    sides = [[r for r in order if r in ref_side], [r for r in order if r in set(branch)]]
    read = ref_reader(project, repo, ref, joined, set(onto.nodes))
    return find(sides, read, parents)
