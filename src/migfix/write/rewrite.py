"""Lossless edits of an Alembic revision file: its ``down_revision`` and ``Revises:`` line.

Only the smallest nodes that must change are replaced (the value of the last module-level
``down_revision`` assignment, members of a tuple, the text after ``Revises:`` in the
docstring); every other byte, comment, quote style, annotation, line ending, BOM and
encoding stays as it was. libcst is imported inside the functions: ``check`` and ``heads``
run in git hooks and must not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.errors import Refusal
from migfix.write import fastrewrite
from migfix.write.binding import Binding, find_binding, is_name, line_of, parse

if TYPE_CHECKING:
    from typing import TypeAlias

    import libcst as cst

    _Seq: TypeAlias = cst.Tuple | cst.List
    _Stmt: TypeAlias = cst.SimpleStatementLine | cst.BaseCompoundStatement


# Alembic's templates write ``Revises: a, b``. Group 2 is the whitespace after the colon,
# group 3 the ids, group 4 trailing blanks; the line ending is left alone.
_REVISES = re.compile(r"(?m)^([ \t]*Revises:)([ \t]*)([^\r\n]*?)([ \t]*)(?=\r\n|\r|\n|\Z)")

# Ids are written into string literals and a docstring line; anything that would need
# escaping there is not a revision id migfix should be writing.
_SAFE_ID = re.compile(r"[^\s'\"\\,]+")


def rewrite_parents(source: bytes, new_parents: tuple[str, ...], *, path: Path) -> bytes:
    """Set ``down_revision`` to ``new_parents`` and update the docstring's ``Revises:`` line.

    No parents are written as ``None``, one as a string, several as a tuple. Returns
    ``source`` itself when nothing needs to change.
    """
    _check_ids(new_parents, path)
    fast = fastrewrite.rewrite_parents(source, tuple(new_parents))
    if fast is not None:
        return fast  # the template's shape, spliced without importing libcst
    module = parse(source, path)
    binding = find_binding(module, path)
    return _rewrite(source, module, binding, tuple(new_parents))


def replace_parent(source: bytes, old: str, new: str | tuple[str, ...], *, path: Path) -> bytes:
    """Replace the parent ``old`` by ``new`` (one id or several), keeping the other parents."""
    replacement = (new,) if isinstance(new, str) else tuple(new)
    _check_ids(replacement, path)
    module = parse(source, path)
    binding = find_binding(module, path)
    if old not in binding.parents:
        raise Refusal(
            f"{path}:{line_of(module, binding.node)}: {old} is not a parent of this revision "
            f"(down_revision is {_format_parents(binding.parents)}); migfix will not replace "
            "it. Check which revision you meant and run migfix again."
        )
    parents: list[str] = []
    for parent in binding.parents:
        for candidate in replacement if parent == old else (parent,):
            if candidate not in parents:
                parents.append(candidate)
    return _rewrite(source, module, binding, tuple(parents))


def _check_ids(ids: Sequence[str], path: Path) -> None:
    for rev in ids:
        if not _SAFE_ID.fullmatch(rev):
            raise Refusal(
                f"{path}: {rev!r} does not look like a revision id (it is empty or has spaces, "
                "quotes, commas or backslashes); migfix will not write it into "
                "down_revision. Give the revision id itself."
            )


def _rewrite(
    source: bytes, module: cst.Module, binding: Binding, new_parents: tuple[str, ...]
) -> bytes:
    import libcst as cst

    body = list(module.body)
    if binding.parents != new_parents:
        style = _style_of(binding.value) or _default_style(module)
        value = _new_value(binding.value, binding.parents, new_parents, style)
        line = body[binding.stmt_index]
        assert isinstance(line, cst.SimpleStatementLine)
        small = list(line.body)
        node = small[binding.small_index]
        assert isinstance(node, (cst.Assign, cst.AnnAssign))
        small[binding.small_index] = node.with_changes(value=value)
        body[binding.stmt_index] = line.with_changes(body=small)
    if body:
        body[0] = _with_revises(body[0], new_parents)
    result = module.with_changes(body=body).bytes
    return source if result == source else result


def _new_value(
    old: cst.BaseExpression,
    old_parents: tuple[str, ...],
    new_parents: tuple[str, ...],
    style: tuple[str, str],
) -> cst.BaseExpression:
    import libcst as cst

    if not new_parents:
        return cst.Name("None")
    is_seq = isinstance(old, (cst.Tuple, cst.List))
    if is_seq and (len(new_parents) > 1 or len(old_parents) == 1):
        assert isinstance(old, (cst.Tuple, cst.List))
        return _edit_sequence(old, old_parents, new_parents, style)
    if len(new_parents) == 1:
        if isinstance(old, cst.SimpleString):
            return old.with_changes(value=_literal(new_parents[0], style))
        if is_seq:
            # Several parents become one: a plain string, as Alembic would write it.
            return cst.SimpleString(_literal(new_parents[0], style))
        assert isinstance(old, (cst.Name, cst.ConcatenatedString))
        return cst.SimpleString(_literal(new_parents[0], style), lpar=old.lpar, rpar=old.rpar)
    assert isinstance(old, (cst.Name, cst.SimpleString, cst.ConcatenatedString))
    elements = [
        cst.Element(
            cst.SimpleString(_literal(parent, style)),
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
        )
        for parent in new_parents
    ]
    elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    # Keep the string's own parentheses (they may span lines); else add Alembic's.
    lpar = old.lpar or [cst.LeftParen()]
    rpar = old.rpar or [cst.RightParen()]
    return cst.Tuple(elements, lpar=lpar, rpar=rpar)


def _edit_sequence(
    node: _Seq,
    old_parents: tuple[str, ...],
    new_parents: tuple[str, ...],
    style: tuple[str, str],
) -> _Seq:
    """Edit a tuple/list in place: unchanged members keep their commas, comments and lines."""
    import libcst as cst

    elements = [e for e in node.elements if isinstance(e, cst.Element)]
    separator = _separator(node, elements)
    if not elements:
        fresh = [
            cst.Element(cst.SimpleString(_literal(p, style)), comma=separator())
            for p in new_parents
        ]
        fresh[-1] = fresh[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return node.with_changes(elements=fresh)

    original_last = elements[-1].comma
    last_comma: cst.Comma | cst.MaybeSentinel = original_last
    if len(elements) == 1 and not _is_multiline(node, elements):
        # ('a',) needs its comma only because it has one member.
        last_comma = cst.MaybeSentinel.DEFAULT

    result: list[cst.Element] = []
    matcher = SequenceMatcher(a=old_parents, b=new_parents, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result.extend(elements[i1:i2])
        elif tag == "insert":
            result.extend(
                cst.Element(cst.SimpleString(_literal(p, style)), comma=separator())
                for p in new_parents[j1:j2]
            )
        elif tag == "replace":
            result.extend(_replaced(elements[i1:i2], new_parents[j1:j2], style, separator))
        # "delete": the member and its comma go.

    # The member that now ends the sequence carries the closing layout; one that used to end
    # it but no longer does needs a real separator.
    for index, element in enumerate(result):
        if index == len(result) - 1:
            result[index] = element.with_changes(comma=last_comma)
        elif element.comma is original_last or not isinstance(element.comma, cst.Comma):
            result[index] = element.with_changes(comma=separator())
    return node.with_changes(elements=result)


def _replaced(
    olds: Sequence[cst.Element],
    parents: Sequence[str],
    style: tuple[str, str],
    separator: _CommaFactory,
) -> list[cst.Element]:
    """PARENTS in place of the members OLDS: each old member keeps its layout."""
    import libcst as cst

    block: list[cst.Element] = []
    for k, parent in enumerate(parents):
        if k < len(olds):
            block.append(olds[k].with_changes(value=_replace_string(olds[k].value, parent, style)))
        else:
            block.append(cst.Element(cst.SimpleString(_literal(parent, style)), comma=separator()))
    if len(block) > len(olds):
        # The replaced member's comma (its comment, its line break) follows the last of the
        # members that replace it.
        paired = len(olds) - 1
        block[paired], block[-1] = (
            block[paired].with_changes(comma=block[-1].comma),
            block[-1].with_changes(comma=block[paired].comma),
        )
    return block


def _opening_whitespace(node: _Seq) -> cst.BaseParenthesizableWhitespace | None:
    import libcst as cst

    if isinstance(node, cst.List):
        return node.lbracket.whitespace_after
    return node.lpar[0].whitespace_after if node.lpar else None


def _is_multiline(node: _Seq, elements: list[cst.Element]) -> bool:
    import libcst as cst

    spaces = [_opening_whitespace(node)]
    spaces += [e.comma.whitespace_after for e in elements if isinstance(e.comma, cst.Comma)]
    return any(isinstance(s, cst.ParenthesizedWhitespace) for s in spaces)


def _separator(node: _Seq, elements: list[cst.Element]) -> _CommaFactory:
    """A comma between two members as this sequence writes it, without any comment."""
    import libcst as cst

    template: cst.Comma | None = None
    for element in elements[:-1]:
        if isinstance(element.comma, cst.Comma):
            template = element.comma
            break
    if template is None:
        opening = _opening_whitespace(node)
        if _is_multiline(node, elements):
            indent = (
                opening.last_line
                if isinstance(opening, cst.ParenthesizedWhitespace)
                else cst.SimpleWhitespace("")
            )
            template = cst.Comma(
                whitespace_after=cst.ParenthesizedWhitespace(indent=True, last_line=indent)
            )
        else:
            template = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    after = template.whitespace_after
    if isinstance(after, cst.ParenthesizedWhitespace):
        after = after.with_changes(
            first_line=cst.TrailingWhitespace(newline=after.first_line.newline),
            empty_lines=[],
        )
    clean = template.with_changes(whitespace_after=after)
    return _CommaFactory(clean)


class _CommaFactory:
    """Hands out a fresh copy each time, so no node appears twice in the tree."""

    def __init__(self, template: cst.Comma) -> None:
        self._template = template

    def __call__(self) -> cst.Comma:
        return self._template.deep_clone()


def _replace_string(
    node: cst.BaseExpression, value: str, style: tuple[str, str]
) -> cst.BaseExpression:
    import libcst as cst

    own = _style_of(node) or style
    if isinstance(node, cst.SimpleString):
        return node.with_changes(value=_literal(value, own))
    assert isinstance(node, cst.ConcatenatedString)
    return cst.SimpleString(_literal(value, own), lpar=node.lpar, rpar=node.rpar)


def _style_of(node: cst.BaseExpression) -> tuple[str, str] | None:
    """(prefix, quote) of the first string literal in ``node``: the style new ids follow."""
    import libcst as cst

    if isinstance(node, cst.SimpleString):
        return node.prefix, node.quote
    if isinstance(node, cst.ConcatenatedString):
        return _style_of(node.left)
    if isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            found = _style_of(element.value)
            if found is not None:
                return found
    return None


def _default_style(module: cst.Module) -> tuple[str, str]:
    """For a file whose down_revision is None: follow ``revision = ...``, else repr()'s quote."""
    import libcst as cst

    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            value: cst.BaseExpression | None = None
            if isinstance(small, cst.Assign):
                if any(is_name(t.target, "revision") for t in small.targets):
                    value = small.value
            elif isinstance(small, cst.AnnAssign) and is_name(small.target, "revision"):
                value = small.value
            if value is not None:
                found = _style_of(value)
                if found is not None:
                    return found
    return "", "'"


def _literal(value: str, style: tuple[str, str]) -> str:
    prefix, quote = style
    if quote[0] in value or "\\" in value or not value.isprintable():
        return repr(value)
    return f"{prefix}{quote}{value}{quote}"


def _with_revises(stmt: _Stmt, parents: tuple[str, ...]) -> _Stmt:
    """Rewrite the text after ``Revises:`` in the module docstring, if it has that line."""
    import libcst as cst

    if not (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.SimpleString)
    ):
        return stmt
    doc = stmt.body[0].value
    start = len(doc.prefix) + len(doc.quote)
    end = len(doc.value) - len(doc.quote)
    inner = doc.value[start:end]
    match = _REVISES.search(inner)
    if match is None:
        return stmt
    ids = ", ".join(parents)
    gap = match.group(2) or (" " if ids else "")
    new_inner = inner[: match.start(2)] + gap + ids + match.group(4) + inner[match.end(4) :]
    if new_inner == inner:
        return stmt
    new_doc = doc.with_changes(value=doc.value[:start] + new_inner + doc.value[end:])
    expr = stmt.body[0].with_changes(value=new_doc)
    return stmt.with_changes(body=[expr, *stmt.body[1:]])


def _format_parents(parents: tuple[str, ...]) -> str:
    if not parents:
        return "None"
    if len(parents) == 1:
        return repr(parents[0])
    return repr(parents)
