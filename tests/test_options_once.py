"""Every command-line option is declared in one module of src/ (issue 19: the same option
was written in up to eight places, and the copies drifted)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "migfix"


def _declared(tree: ast.AST) -> set[str]:
    """The option strings of every ``click.option(...)`` and ``Option((...), ...)`` call."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_click = isinstance(func, ast.Attribute) and func.attr == "option"
        is_data = isinstance(func, ast.Name) and func.id == "Option"
        if not (is_click or is_data):
            continue
        for arg in node.args:
            items = arg.elts if isinstance(arg, ast.Tuple) else [arg]
            for item in items:
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    found.update(part for part in item.value.split("/") if part.startswith("-"))
    return found


def test_every_option_is_declared_in_one_module() -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        for option in _declared(ast.parse(path.read_text(encoding="utf-8"))):
            where[option].add(path.relative_to(SRC).as_posix())
    assert "--branch-label" in where and "--strategy" in where  # the parse finds both kinds
    twice = {option: sorted(mods) for option, mods in where.items() if len(mods) > 1}
    assert not twice, twice
