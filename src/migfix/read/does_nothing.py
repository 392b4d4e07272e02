"""Does a revision file do anything when Alembic runs it?

``migfix rebase`` deletes a merge revision of the branch that only joined the target's
history, but only when running it changes nothing: its ``upgrade()`` and ``downgrade()``
hold nothing but ``pass``, ``...``, a docstring or comments (what ``alembic merge``
writes). Read with ``ast``, never imported.
"""

from __future__ import annotations

import ast

from migfix.read.scan import decode_source

_FUNCTIONS = ("upgrade", "downgrade")


def does_nothing(source: bytes) -> bool:
    """True when the module's ``upgrade()`` and ``downgrade()`` both exist and do nothing.

    Anything unusual (a file that does not parse, a function missing or defined inside a
    block, a decorator, a statement besides ``pass``/``...``/a string) counts as doing
    something: the file is then left to a person.
    """
    try:
        tree = ast.parse(decode_source(source))
    except (SyntaxError, UnicodeDecodeError, LookupError, ValueError):
        return False
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in _FUNCTIONS:
            found[stmt.name] = stmt  # the last definition is the one Alembic calls
    if set(found) != set(_FUNCTIONS):
        return False
    return all(not f.decorator_list and all(map(_inert, f.body)) for f in found.values())


def _inert(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and (isinstance(stmt.value.value, str) or stmt.value.value is Ellipsis)
    )
