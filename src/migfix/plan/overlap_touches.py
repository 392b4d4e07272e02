"""What a revision's ``upgrade()`` touches: the tables and columns of its ``op.*`` calls (and
of plain SQL in ``op.execute``), read statically with libcst, never imported.

``migfix.plan.overlap`` compares the two sides of a join with these. libcst is imported only
inside :func:`touches`: plain ``check`` never pays for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migfix.read.scan import decode_source

if TYPE_CHECKING:
    import libcst as cst


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
