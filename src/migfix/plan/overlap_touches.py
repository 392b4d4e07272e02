"""What a revision's ``upgrade()`` touches: the tables and columns of its ``op.*`` calls (and
of plain SQL in ``op.execute``), read statically with libcst, never imported.

``migfix.plan.overlap`` compares the two sides of a join with these. libcst is imported only
inside :func:`touches`: plain ``check`` never pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
        return _sql_touches(positional[0] if positional else keywords.get("sqltext"), line)
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
    columns, extra = _columns_of(cols_kind, rest, keywords, line)
    return [Touch(shown, frozenset(columns), op, line), *extra]


def _sql_touches(target: Any, line: int) -> list[Touch]:
    """``op.execute("...")``: the tables and columns plain SQL names."""
    import libcst as cst

    text = _string(target)
    # op.execute(sa.text("...")) / text("...")
    if text is None and isinstance(target, cst.Call) and target.args:
        text = _string(target.args[0].value)
    if text is None:
        return []
    sql_columns = frozenset(_unquote(c) for c in _SQL_COLUMN.findall(text))
    return [
        Touch(_unquote(t), sql_columns, "execute", line)
        for t in dict.fromkeys(_SQL_TABLE.findall(text))
    ]


def _arg(rest: Sequence[Any], index: int, keywords: dict[str, Any], name: str) -> Any:
    return rest[index] if len(rest) > index else keywords.get(name)


def _columns_of(
    cols_kind: str, rest: Sequence[Any], keywords: dict[str, Any], line: int
) -> tuple[set[str], list[Touch]]:
    """The columns an op.* call touches (per the kind in ``_OPS``), and any other table
    it touches too (a foreign key's referent, a rename's new name)."""
    if cols_kind == "columns":
        return {c for a in rest[1:] if (c := _column_name(a))}, []
    if cols_kind == "column":
        c = _column_name(_arg(rest, 1, keywords, "column"))
        return ({c} if c else set()), []
    if cols_kind in ("name", "list"):
        arg = (
            _arg(rest, 1, keywords, "column_name")
            if cols_kind == "name"
            else _arg(rest, 2, keywords, "columns")
        )
        return (set(_strings(arg)) if arg is not None else set()), []
    if cols_kind == "fk":
        referent = _string(_arg(rest, 2, keywords, "referent_table"))
        local = _arg(rest, 3, keywords, "local_cols")
        remote = _arg(rest, 4, keywords, "remote_cols")
        extra = []
        if referent:
            refcols = frozenset(_strings(remote)) if remote is not None else frozenset()
            extra.append(Touch(referent, refcols, "create_foreign_key (referenced)", line))
        return (set(_strings(local)) if local is not None else set()), extra
    if cols_kind == "rename":
        renamed = _string(_arg(rest, 1, keywords, "new_table_name"))
        if renamed is not None:
            return set(), [Touch(renamed, frozenset(), "rename_table (new name)", line)]
    return set(), []


def touches(source: bytes) -> list[Touch]:
    """Every table change of the module's ``upgrade()``, in source order.

    An ``op.*`` call whose table is not a literal is left out: migfix never guesses. A file
    that does not parse has no touches (``check`` reports it elsewhere).
    """
    module = _parse(source)  # before importing libcst: most files have no op.* call
    if module is None:
        return []
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

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
            self.in_upgrade = self.in_upgrade and self.depth > 0

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return self.in_upgrade

        def visit_With(self, node: cst.With) -> None:
            self.batches.update(b for item in node.items if (b := _batch_alias(item)))

        def visit_Call(self, node: cst.Call) -> None:
            if self.in_upgrade:
                line = self.get_metadata(PositionProvider, node).start.line
                found.extend(_touches_of_call(node, self.batches, line))

    wrapper.visit(Visitor())
    return found


def _batch_alias(item: cst.WithItem) -> tuple[str, str] | None:
    """``with op.batch_alter_table("t") as batch_op``: ("batch_op", "t")."""
    import libcst as cst

    call = item.item
    if not (
        isinstance(call, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "batch_alter_table"
        and item.asname is not None
        and isinstance(item.asname.name, cst.Name)
    ):
        return None
    args = [a.value for a in call.args if a.keyword is None]
    kws = {a.keyword.value: a.value for a in call.args if a.keyword}
    table = _string(args[0] if args else kws.get("table_name"))
    schema = _string(kws.get("schema"))
    if table is None:
        return None
    return item.asname.name.value, f"{schema}.{table}" if schema else table


def _touches_of_call(node: cst.Call, batches: dict[str, str], line: int) -> list[Touch]:
    """What one call inside upgrade() touches: an ``op.*`` call, or one on a batch alias."""
    import libcst as cst

    if not isinstance(node.func, cst.Attribute) or not isinstance(node.func.value, cst.Name):
        return []
    owner = node.func.value.value
    op = node.func.attr.value
    if owner == "op":
        if op == "batch_alter_table":
            return []  # its table is read in visit_With; its calls name the columns
        return _call_touches(op, node, None, line)
    if owner in batches:
        return _call_touches(op, node, batches[owner], line)
    return []


def _parse(source: bytes) -> cst.Module | None:
    """The module, or None when it cannot have an op.* call or does not parse."""
    if b"op." not in source:
        # Every call read is op.* (or inside `with op.batch_alter_table(...)`): no need to
        # import libcst (~100 ms) and parse a file that cannot have one.
        return None
    import libcst as cst

    try:
        return cst.parse_module(decode_source(source))
    except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, ValueError):
        return None
