"""The full ``ast`` reader of a revision file's module attributes: for anything the header
reader cannot decide (indented assignments, tuple unpacking, chained assignments, a value it
cannot read). ``ast.parse`` costs about 20x the header reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from migfix.read.revision_file import NAMES, Field, Found, Issue, Unknown, Value

if TYPE_CHECKING:
    import ast


def literal(node: ast.expr, source: str) -> Value:
    """Alembic's ``to_tuple`` of a literal expression, or Unknown for anything else."""
    import ast

    if isinstance(node, ast.Constant):
        if node.value is None:
            return ()
        if isinstance(node.value, str):
            return (node.value,)
        return Unknown(source, f"a {type(node.value).__name__}, not a string")
    if isinstance(node, (ast.Tuple, ast.List)):
        items: list[str] = []
        for elt in node.elts:
            if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                items.append(elt.value)
            else:
                return Unknown(source)
        return tuple(items)
    return Unknown(source)


def string_body(token: str) -> str | None:
    """The raw text inside a string token's quotes (None for bytes/f-strings)."""
    prefix = re.match(r"[rRbBuUfF]*", token)
    assert prefix is not None
    p = prefix.group().lower()
    if "b" in p or "f" in p:
        return None
    body = token[len(p) :]
    q = 3 if body[:3] in ('"""', "'''") else 1
    return body[q:-q]


def ast_scan(text: str) -> Found:
    import ast

    found = Found()
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        found.issues.append(
            Issue(
                "unparseable",
                exc.lineno or 1,
                f"the file is not valid Python ({exc.msg}), so Alembic will fail to load it. "
                "Fix the syntax error.",
            )
        )
        return found
    doc_node = tree.body[0] if tree.body else None
    if (
        isinstance(doc_node, ast.Expr)
        and isinstance(doc_node.value, ast.Constant)
        and isinstance(doc_node.value.value, str)
    ):
        seg = ast.get_source_segment(text, doc_node.value)
        found.doc = string_body(seg) if seg else doc_node.value.value
        found.doc_line = doc_node.lineno
    lines = text.split("\n")

    def src(node: ast.AST) -> str:
        seg = ast.get_source_segment(text, node)
        return seg if seg is not None else lines[getattr(node, "lineno", 1) - 1].strip()

    for stmt in tree.body:
        for name, line, value in _assignments(stmt, src):
            found.fields[name] = Field(value, line)
    return found


def _assignments(
    stmt: ast.stmt, source: Callable[[ast.AST], str]
) -> Iterator[tuple[str, int, Value]]:
    """Module-level bindings of the four names made by one statement, in order."""
    import ast

    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            yield from _bind(target, stmt.value, stmt.lineno, source)
    elif isinstance(stmt, ast.AnnAssign):
        if stmt.value is not None:
            yield from _bind(stmt.target, stmt.value, stmt.lineno, source)
    else:
        yield from _other_bindings(stmt, source)


def _other_bindings(
    stmt: ast.stmt, source: Callable[[ast.AST], str]
) -> Iterator[tuple[str, int, Value]]:
    """Bindings of the four names by anything but a plain assignment: never a literal."""
    import ast

    if isinstance(stmt, ast.AugAssign):
        if isinstance(stmt.target, ast.Name) and stmt.target.id in NAMES:
            yield (
                stmt.target.id,
                stmt.lineno,
                Unknown(source(stmt), "changed by augmented assignment"),
            )
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            if bound in NAMES:
                yield bound, stmt.lineno, Unknown(source(stmt), "bound by an import")
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        if stmt.name in NAMES:
            yield stmt.name, stmt.lineno, Unknown(stmt.name, "bound by a def or class")
    else:
        # if/try/with/loops, and any expression statement (a walrus binds at module level)
        for node in _walk_no_scopes(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in NAMES:
                yield (
                    node.id,
                    node.lineno,
                    Unknown(source(node), "assigned inside a module-level if/try/with/loop block"),
                )


def _walk_no_scopes(node: ast.AST) -> Iterator[ast.AST]:
    import ast

    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield child
        yield from _walk_no_scopes(child)


def _bind(
    target: ast.expr, value: ast.expr, line: int, src: Callable[[ast.AST], str]
) -> Iterator[tuple[str, int, Value]]:
    import ast

    if isinstance(target, ast.Name):
        if target.id in NAMES:
            yield target.id, line, literal(value, src(value))
    elif isinstance(target, (ast.Tuple, ast.List)):
        names = [t for t in target.elts if isinstance(t, ast.Name) and t.id in NAMES]
        if not names:
            return
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
            for t, v in zip(target.elts, value.elts, strict=True):
                yield from _bind(t, v, line, src)
        else:
            for t in names:
                yield t.id, line, Unknown(src(value), "assigned by unpacking")
