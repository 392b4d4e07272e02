"""Which assignment of a revision file is its ``down_revision``, read with libcst.

Python keeps the last module-level binding of the name; one inside ``if``/``try``/``with``...,
an import of the name, or a non-literal value cannot be edited safely, and is refused with
the line it is on. ``migfix.write.rewrite`` edits what :func:`find_binding` finds. libcst is
imported inside the functions: ``check`` and ``heads`` run in git hooks and must not pay
for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.errors import Refusal, ScanError

if TYPE_CHECKING:
    import libcst as cst

NAME = "down_revision"


_BLOCK_KEYWORDS = {
    "If": "if",
    "Try": "try",
    "TryStar": "try",
    "With": "with",
    "For": "for",
    "While": "while",
    "Match": "match",
}


@dataclass(frozen=True)
class Binding:
    """The module-level assignment whose value Python keeps for ``down_revision``."""

    stmt_index: int  # in module.body
    small_index: int  # in that line's small statements
    node: cst.BaseSmallStatement
    value: cst.BaseExpression
    parents: tuple[str, ...]


@dataclass(frozen=True)
class _Problem:
    """A binding migfix cannot edit; reported only if it is the one that counts."""

    node: cst.CSTNode
    what: str


def parse(source: bytes, path: Path) -> cst.Module:
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = " ".join(str(exc).split())
        raise ScanError(
            f"{path}: cannot be parsed as Python ({message}); migfix edits only files Python "
            "can read. Fix the syntax error and run migfix again."
        ) from exc
    if module.bytes != source:
        raise Refusal(
            f"{path}: libcst cannot reproduce this file byte for byte, so editing it could "
            "change more than down_revision; migfix will not touch it. Edit its "
            "down_revision by hand."
        )
    return module


def find_binding(module: cst.Module, path: Path) -> Binding:
    import libcst as cst

    last: Binding | _Problem | None = None
    for stmt_index, stmt in enumerate(module.body):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small_index, small in enumerate(stmt.body):
                last = _line_binding(module, stmt_index, small_index, small) or last
        elif not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            # if/try/with/for... run at import too; which branch wins is not ours to guess.
            inner = _assignment_inside(stmt)
            if inner is not None:
                keyword = _BLOCK_KEYWORDS.get(type(stmt).__name__, type(stmt).__name__)
                article = "an" if keyword[0] in "aeiou" else "a"
                last = _Problem(inner, f"is assigned inside {article} `{keyword}` block")
    if last is None:
        raise Refusal(
            f"{path}: has no module-level down_revision assignment, so migfix cannot tell "
            "or change its parents. Add `down_revision = ...` as Alembic's template writes it "
            "and run migfix again."
        )
    if isinstance(last, _Problem):
        raise Refusal(
            f"{path}:{line_of(module, last.node)}: down_revision {last.what}; migfix will not "
            "guess what it means. Replace it with the revision id(s) it stands for, or edit "
            "this revision's parents by hand."
        )
    return last


def _line_binding(
    module: cst.Module, stmt_index: int, small_index: int, small: cst.BaseSmallStatement
) -> Binding | _Problem | None:
    """What one small statement of a module-level line does to down_revision, if anything."""
    import libcst as cst

    found = _binding_of(module, small)
    if not isinstance(found, cst.BaseExpression):
        return found
    parents = literal_parents(found)
    if parents is None:
        return _Problem(small, f"is not a literal ({snippet(module, found)})")
    return Binding(stmt_index, small_index, small, found, parents)


def _binding_of(
    module: cst.Module, small: cst.BaseSmallStatement
) -> cst.BaseExpression | _Problem | None:
    """The value ``small`` gives down_revision, a problem, or None if it does not bind it."""
    import libcst as cst

    if isinstance(small, cst.AnnAssign):
        if is_name(small.target) and small.value is not None:
            return small.value
        return None
    if isinstance(small, (cst.Import, cst.ImportFrom)):
        imported = _imports_name(small)
        return _Problem(small, f"is imported ({snippet(module, small)})") if imported else None
    if isinstance(small, cst.AugAssign):
        changed = is_name(small.target)
        return (
            _Problem(small, f"is changed in place ({snippet(module, small)})") if changed else None
        )
    if not isinstance(small, cst.Assign):
        return None
    direct = [t for t in small.targets if is_name(t.target)]
    if any(_binds_inside(t.target) for t in small.targets):
        return _Problem(small, f"is set by unpacking ({snippet(module, small)})")
    if not direct:
        return None
    if len(small.targets) > 1:
        return _Problem(small, f"is assigned together with other names ({snippet(module, small)})")
    return small.value


def is_name(node: cst.CSTNode, name: str = NAME) -> bool:
    import libcst as cst

    return isinstance(node, cst.Name) and node.value == name


def _imports_name(node: cst.Import | cst.ImportFrom) -> bool:
    import libcst as cst

    if isinstance(node.names, cst.ImportStar):
        return False  # cannot be known statically; Alembic's files never do this
    return any(_alias_binds(alias) for alias in node.names)


def _alias_binds(alias: cst.ImportAlias) -> bool:
    import libcst as cst

    if alias.asname is not None:
        return isinstance(alias.asname.name, cst.CSTNode) and is_name(alias.asname.name)
    bound: cst.BaseExpression = alias.name
    while isinstance(bound, cst.Attribute):  # "import a.b" binds "a"
        bound = bound.value
    return is_name(bound)


def _binds_inside(target: cst.BaseExpression) -> bool:
    import libcst as cst

    if isinstance(target, (cst.Tuple, cst.List)):
        return any(is_name(e.value) or _binds_inside(e.value) for e in target.elements)
    return False


def _assignment_inside(stmt: cst.BaseCompoundStatement) -> cst.CSTNode | None:
    """First assignment to down_revision in a block, not looking into functions or classes."""
    import libcst as cst

    # Depth first, in source order, as a CSTVisitor would go.
    stack: list[cst.CSTNode] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        owner = _binding_use(node)
        if owner is not None:
            return owner
        stack.extend(reversed(node.children))
    return None


def _binding_use(node: cst.CSTNode) -> cst.CSTNode | None:
    """NODE (or its target) when it binds down_revision: an assignment target, a for
    target, ``with ... as`` / ``except ... as``, a walrus, or an import."""
    import libcst as cst

    target: cst.BaseExpression | None = None
    owner: cst.CSTNode = node
    if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.NamedExpr)):
        target = node.target
    elif isinstance(node, cst.For):
        target = owner = node.target
    elif isinstance(node, cst.AsName) and isinstance(node.name, cst.BaseExpression):
        target = node.name
    elif isinstance(node, cst.ImportAlias):
        return node if node.asname is None and _alias_binds(node) else None
    if target is not None and (is_name(target) or _binds_inside(target)):
        return owner
    return None


def literal_parents(value: cst.BaseExpression) -> tuple[str, ...] | None:
    """The parents a literal value names, or None if it is not a literal migfix can edit."""
    import libcst as cst

    if isinstance(value, cst.Name):
        return () if value.value == "None" else None
    if isinstance(value, (cst.Tuple, cst.List)):
        members: list[str] = []
        for element in value.elements:
            if not isinstance(element, cst.Element):
                return None
            text = string_value(element.value)
            if text is None:
                return None
            members.append(text)
        return tuple(members)
    text = string_value(value)
    return None if text is None else (text,)


def string_value(node: cst.BaseExpression) -> str | None:
    import libcst as cst

    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        evaluated = node.evaluated_value
        return evaluated if isinstance(evaluated, str) else None
    return None


def snippet(module: cst.Module, node: cst.CSTNode) -> str:
    text = " ".join(module.code_for_node(node).split())
    return text if len(text) <= 60 else text[:57] + "..."


def line_of(module: cst.Module, node: cst.CSTNode) -> int:
    import libcst as cst
    from libcst.metadata import PositionProvider

    # Only computed for error messages; skipping the copy keeps node identities valid.
    wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider)[node].start.line
