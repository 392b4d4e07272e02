"""The package's layers, as import-linter and a reader see them.

``lint-imports`` (run by ``.ci/run``) checks the ``layers`` contract in pyproject.toml. These tests
keep that contract whole: every sub-package is in it, and no modules import each other in a
circle, counting the imports inside functions (grimp reads every import statement). migfix's
own imports sit at the top of each module, where the contract and a reader see them; the few
that wait inside a function, for a measured reason, are listed in ``LAZY_IMPORTS``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import grimp
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# Cycles that exist today and are being removed; a new one fails the test, and so does one of
# these once it is gone (then delete it here).
KNOWN_CYCLES: set[frozenset[str]] = set()

_PLUGIN = "loaded by every pytest session of everyone who installs migfix: only when asked"
_HOOK_NO_OP = (
    "the hook after a merge that touched no migration: one `git diff`, and these modules "
    "would double its imports (test_hookrun's no-op test)"
)
_AGAINST = (
    "`check --against`'s other refs, remotes and overlap: 8 modules every plain check (each "
    "git hook and pre-commit run) would load for nothing"
)
# (module, the migfix module it imports inside a function): why it waits.
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("migfix.cli.check", "migfix.cli.stale"): _AGAINST,
    ("migfix.cli.check", "migfix.commands.check_against"): _AGAINST,
    ("migfix.cli.verify_after", "migfix.commands.verify"): (
        "merge/rebase --verify only: 7 database modules every merge, rebase and hook fix would "
        "load for nothing"
    ),
    ("migfix.start", "migfix.cli.main"): "Ctrl-C is handled before click and the commands load",
    ("migfix.cli.pytest_plugin", "migfix.cli.pytest_checks"): _PLUGIN,
    ("migfix.hook.run", "migfix.hook.fix"): _HOOK_NO_OP,
    ("migfix.write.recovery", "migfix.write.txn"): (
        "every command and hook run asks first; only a left state folder needs the "
        "transaction modules (a third of `check`'s and the hook no-op path's imports)"
    ),
    ("migfix.hook.fix", "migfix.hook.fixing"): (
        "one head and no heads lock, the usual hook run: 35 more modules (planning, rendering, "
        "the transaction)"
    ),
    ("migfix.hook.fix", "migfix.db.sync"): "sync_db is off by default: 10 more modules",
    **{
        ("migfix.read.scan", reader): (
            "only a file the scan cache does not hold is read: the readers' regular "
            "expressions and the compile check were 12M instructions of every `heads` and "
            "`check` that found every file in the cache (callgrind)"
        )
        for reader in (
            "migfix.read.loadable",
            "migfix.read.ast_reader",
            "migfix.read.header_reader",
        )
    },
    ("migfix.db.guard", "migfix.db.guard_moved"): (
        "env.py's guard runs in every `alembic` command; when nothing moved (told from git's "
        "files) it loads 3 small modules, and this one would add the graph reader and db status"
    ),
}


def _cycles(imports: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _imports(package: str) -> dict[str, set[str]]:
    graph = grimp.build_graph(package, cache_dir=None)
    return {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}


def test_a_cycle_through_an_import_inside_a_function_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "layered"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def late():\n    from layered import high\n")
    (package / "high.py").write_text("from layered import low\n")
    (package / "alone.py").write_text("from layered import low\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(_imports("layered")) == [frozenset({"layered.low", "layered.high"})]


def test_no_import_cycles_counting_imports_inside_functions() -> None:
    found = set(_cycles(_imports("migfix")))
    assert found - KNOWN_CYCLES == set(), "new import cycle(s)"
    assert KNOWN_CYCLES - found == set(), "a known cycle is gone: delete it from KNOWN_CYCLES"


def test_every_sub_package_is_in_the_layers_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    package = ROOT / "src" / "migfix"
    present = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    present |= {p.parent.name for p in package.glob("*/__init__.py")}
    assert present == layered


def _lazy_imports(package: Path, name: str) -> Iterator[tuple[str, str, int]]:
    """(module, imported module, line) for each import of NAME's modules inside a function
    of PACKAGE (the directory of the package NAME)."""
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:  # relative to the module's package (itself, for __init__)
                        here = module.split(".")[: None if path.name == "__init__.py" else -1]
                        anchor = here[: len(here) - node.level + 1]
                        base = ".".join([*anchor, *([base] if base else [])])
                    # `from migfix.db import sync` imports the module migfix.db.sync.
                    targets = [
                        f"{base}.{alias.name}"
                        if _is_module(package.parent, f"{base}.{alias.name}")
                        else base
                        for alias in node.names
                    ]
                for target in targets:
                    if target == name or target.startswith(name + "."):
                        yield module, target, node.lineno


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_the_lazy_import_finder_sees_each_form(tmp_path: Path) -> None:
    package = tmp_path / "layered"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "low.py").write_text("import layered.sub\n\nX = 1\n")
    (package / "high.py").write_text(
        "from layered.sub import low\n\n\n"
        "def late():\n"
        "    import layered.sub.low\n"
        "    from layered.sub import X, low\n"
        "    from .sub.low import X\n"
        "\n\n"
        "class Kind:\n"
        "    def method(self):\n"
        "        if True:\n"
        "            from . import sub\n"
    )
    found = sorted(_lazy_imports(package, "layered"))
    assert found == [
        ("layered.high", "layered.sub", 6),
        ("layered.high", "layered.sub", 13),
        ("layered.high", "layered.sub.low", 5),
        ("layered.high", "layered.sub.low", 6),
        ("layered.high", "layered.sub.low", 7),
    ]


def test_migfix_imports_its_own_modules_at_the_top() -> None:
    package = ROOT / "src" / "migfix"
    found = {(module, target): line for module, target, line in _lazy_imports(package, "migfix")}
    unlisted = sorted(
        f"{m}:{line} imports {t}" for (m, t), line in found.items() if (m, t) not in LAZY_IMPORTS
    )
    assert unlisted == [], (
        "import migfix's modules at the top of the module; if one must wait, measure why "
        "and add the pair to LAZY_IMPORTS with that reason"
    )
    assert sorted(set(LAZY_IMPORTS) - set(found)) == [], (
        "no longer lazy: delete it from LAZY_IMPORTS"
    )
