"""migfix.read.graph: structure, intent (head groups), problems; differential tests
against Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic_oracle import alembic_graph, fixture_graph
from graphgen import GenGraph, graphs, render_project
from hypothesis import HealthCheck, given, settings

from migfix.project.config import find_project
from migfix.read.checks import Problem, problems
from migfix.read.graph import Graph, read_graph
from migfix.read.revision_file import Field, RevisionFile, Unknown, Value
from migfix.read.scan import scan_locations

V = Path("/p/versions")


def rf(
    rev: str,
    down: Value = (),
    labels: Value = (),
    deps: Value = (),
    *,
    revises: tuple[str, ...] | None = None,
    name: str | None = None,
) -> RevisionFile:
    """A revision file as the scanner reports it: revision on line 10, down 11, labels 12,
    deps 13, the Revises: header on line 3."""
    return RevisionFile(
        path=V / (name or f"{rev}.py"),
        revision=rev,
        revision_line=10,
        down_revision=Field(down, 11),
        branch_labels=Field(labels, 12),
        depends_on=Field(deps, 13),
        revises=revises,
        revises_line=3 if revises is not None else 0,
        doc=f"step {rev}",
    )


def codes(problems: list[Problem]) -> list[tuple[str, str, str, int]]:
    return [(p.code, p.severity, p.path.name if p.path else "", p.line) for p in problems]


# -- structure ---------------------------------------------------------------------------------


def diamond() -> Graph:
    #   a -> b -> d -> e
    #    \-> c -/
    return Graph([rf("a"), rf("b", ("a",)), rf("c", ("a",)), rf("d", ("b", "c")), rf("e", ("d",))])


def test_structure_of_a_diamond() -> None:
    g = diamond()
    assert g.heads == ("e",)
    assert g.bases == ("a",)
    assert g.branch_points == ("a",)
    assert g.merge_points == ("d",)
    assert g.ancestors("d") == {"a", "b", "c"}
    assert g.ancestors("a") == set()
    assert g.descendants("a") == {"b", "c", "d", "e"}
    assert g.descendants("c") == {"d", "e"}
    assert g.children["a"] == ["b", "c"]
    assert g.topological_order() == ["a", "b", "c", "d", "e"]
    assert len(g) == 5 and "d" in g and "z" not in g


def test_ancestors_are_remembered_but_each_caller_gets_its_own_set() -> None:
    g = Graph([rf("a"), rf("b", ("a", "gone")), rf("c", ("b",)), rf("d", ("c", "d"))])
    first = g.ancestors("c")
    first.add("intruder")
    assert g.ancestors("c") == {"a", "b"}  # a parent no file declares is not an ancestor
    assert g.ancestors("d") == {"a", "b", "c"}  # nor is the revision itself, on a self-loop
    assert g.ancestors("nowhere") == set()


def test_topological_order_keeps_load_order_for_ties() -> None:
    g = Graph([rf("z3", ("a1",)), rf("a1"), rf("m2", ("a1",)), rf("b0", ("m2", "z3"))])
    assert g.topological_order() == ["a1", "z3", "m2", "b0"]


def test_heads_ignore_depends_on() -> None:
    g = Graph([rf("a"), rf("b", ("a",)), rf("x"), rf("y", ("x",), deps=("b",))])
    assert g.heads == ("b", "y")
    assert g.bases == ("a", "x")


def test_effective_labels_propagate_to_descendants() -> None:
    g = Graph(
        [
            rf("a", labels=("billing",)),
            rf("b", ("a",)),
            rf("x", labels=("auth",)),
            rf("m", ("b", "x")),
            rf("u", labels=Unknown("(cli.EXPAND,)")),
            rf("v", ("u",)),
        ]
    )
    assert g.effective_labels("a") == {"billing"}
    assert g.effective_labels("b") == {"billing"}
    assert g.effective_labels("m") == {"billing", "auth"}
    assert g.effective_labels("u") is None
    assert g.effective_labels("v") is None


# -- intent ----------------------------------------------------------------------------------


def test_unlabelled_heads_from_one_base_are_a_problem() -> None:
    g = Graph([rf("a"), rf("b", ("a",)), rf("c", ("a",))])
    assert g.head_groups() == [("b", "c")]
    assert g.unintended_heads() == ("b", "c")
    [p] = [p for p in problems(g) if p.code == "multiple-heads"]
    assert p.message == (
        "2 heads without branch labels: b (b.py), c (c.py); `alembic upgrade head` fails on "
        "this. Run `migfix merge` to join them (or `migfix rebase --onto <ref>`), or list them "
        "in [tool.migfix] allow_heads if they are intended."
    )
    assert (p.severity, p.path, p.line, p.revisions) == ("error", V / "c.py", 10, ("b", "c"))


def test_unlabelled_heads_from_separate_bases_are_a_problem() -> None:
    g = Graph([rf("a"), rf("b", ("a",)), rf("x")])
    assert g.head_groups() == [("b", "x")]


def test_heads_with_different_labels_are_intended() -> None:
    g = Graph([rf("a", labels=("billing",)), rf("b", ("a",)), rf("x", labels=("auth",))])
    assert g.head_groups() == []
    assert problems(g) == []


def test_two_heads_under_the_same_label_are_a_problem() -> None:
    g = Graph(
        [
            rf("a", labels=("billing",)),
            rf("b", ("a",)),
            rf("c", ("a",)),
            rf("x", labels=("auth",)),
        ]
    )
    assert g.head_groups() == [("b", "c")]
    [p] = [p for p in problems(g) if p.code == "multiple-heads"]
    assert p.message.startswith("2 heads under branch label 'billing': b (b.py), c (c.py);")


def test_allow_heads() -> None:
    files = [rf("a"), rf("b", ("a",)), rf("c", ("a",)), rf("d", ("a",))]
    assert Graph(files, allow_heads=["c"]).head_groups() == [("b", "d")]
    assert Graph(files, allow_heads=["b", "c"]).head_groups() == []


def test_unknown_labels_are_only_a_warning() -> None:
    g = Graph(
        [
            rf("k"),
            rf("e", ("k",), labels=Unknown("(cli.EXPAND_BRANCH,)")),
            rf("c", ("k",), labels=Unknown("(cli.CONTRACT_BRANCH,)")),
        ]
    )
    assert g.head_groups() == []
    assert g.unknown_label_heads() == ("e", "c")
    assert codes(problems(g)) == [("unknown-labels", "warning", "c.py", 10)]


# -- problems ------------------------------------------------------------------------------


def test_unknown_parent() -> None:
    g = Graph([rf("a"), rf("b", ("gone",))])
    assert [(p.code, p.revisions, p.line) for p in problems(g)] == [
        ("unknown-parent", ("b", "gone"), 11),
        ("multiple-heads", ("a", "b"), 10),
    ]
    assert problems(g)[0].message == (
        "down_revision names 'gone', which no revision file declares. Restore the missing "
        "file, or point down_revision at an existing revision."
    )


def test_unknown_dependency_but_a_branch_label_is_fine() -> None:
    g = Graph(
        [
            rf("a", labels=("billing",)),
            rf("x", labels=("auth",), deps=("billing",)),
            rf("y", ("x",), deps=("nope", "a")),
        ]
    )
    assert codes(problems(g)) == [("unknown-dependency", "error", "y.py", 13)]
    assert problems(g)[0].message == (
        "depends_on names 'nope', which is neither a revision nor a branch label. Fix the id, "
        "or restore the missing revision."
    )


def test_duplicate_revision_id() -> None:
    files = [rf("a"), rf("b", ("a",)), rf("b", ("a",), name="b_copy.py")]
    g = Graph(files, root=Path("/p"))
    assert codes(problems(g)) == [("duplicate-revision", "error", "b_copy.py", 10)]
    assert g.nodes["b"].path.name == "b_copy.py"  # the later file wins, as in Alembic
    # Named relative to the project root, like every other message.
    assert problems(g)[0].message == (
        "revision 'b' is also declared in versions/b.py; Alembic keeps only one of them. "
        "Give one file a new id (and repoint its children)."
    )
    # A graph built without a root (no project) can only name the file by its full path.
    assert "is also declared in /p/versions/b.py;" in problems(Graph(files))[0].message


def test_duplicate_label() -> None:
    g = Graph([rf("a", labels=("x",)), rf("b", labels=("x",))])
    assert codes(problems(g))[0] == ("duplicate-label", "error", "b.py", 12)


def test_cycle_message_names_the_chain() -> None:
    g = Graph([rf("base"), rf("a", ("c",)), rf("b", ("a",)), rf("c", ("b",)), rf("d", ("a",))])
    cycles = [p for p in problems(g) if p.code == "cycle"]
    assert len(cycles) == 1
    assert cycles[0].message == (
        "revisions form a cycle through down_revision: a -> c -> b -> a. Alembic cannot order "
        "them; one of these down_revision values is wrong."
    )
    assert (cycles[0].path, cycles[0].line) == (V / "a.py", 11)
    assert g.topological_order() == ["base"]


def test_self_reference() -> None:
    g = Graph([rf("a"), rf("b", ("b", "a"))])
    assert [p.code for p in problems(g)] == ["self-reference"]
    assert problems(g)[0].message == (
        "revision b names itself in down_revision. Point it at its real parent."
    )
    dep = Graph([rf("a", deps=("a",))])
    assert [p.code for p in problems(dep)] == ["self-reference"]


def test_revises_mismatch_is_a_warning() -> None:
    g = Graph([rf("a"), rf("b", ("a",)), rf("c", ("b",), revises=("a",))])
    assert codes(problems(g)) == [("revises-mismatch", "warning", "c.py", 3)]
    assert problems(g)[0].message == (
        "the docstring says 'Revises: a' but down_revision is b. Alembic uses down_revision; "
        "fix the header so people reading the file are not misled."
    )
    ok = Graph([rf("a", revises=()), rf("m", ("a",), revises=("a",))])
    assert problems(ok) == []


# -- differential: migfix == Alembic ---------------------------------------------------------


def migfix_view(files: list[RevisionFile], graph: Graph) -> dict[str, Any]:
    """The graph in alembic_oracle's shape."""

    def lst(v: Value) -> Any:
        return v if isinstance(v, Unknown) else sorted(v)

    return {
        "heads": sorted(graph.heads),
        "bases": sorted(graph.bases),
        "revisions": {
            rev: {
                "file": str(n.path.resolve()),
                "down": sorted(n.down),
                "labels": lst(n.file.branch_labels.value),
                "deps": lst(n.file.depends_on.value),
            }
            for rev, n in sorted(graph.nodes.items())
        },
    }


FIXTURES = ["plain", "typed", "two_heads", "labels", "recursive", "pyproject_cfg", "flask_app"]


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_graph_equals_alembic(fixtures_dir: Path, name: str) -> None:
    project = find_project(fixtures_dir / name)
    graph = read_graph(project)
    assert migfix_view(graph.files, graph) == fixture_graph(fixtures_dir / name)


def _differential(graph: GenGraph, dest: Path, *, typed: bool) -> None:
    render_project(graph, dest, typed=typed)
    files = scan_locations([dest], recursive=False)
    g = Graph(files)
    assert all(not f.issues for f in files)
    assert migfix_view(files, g) == alembic_graph([dest])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(graphs(max_size=15))
def test_generated_graphs_typed_template(
    tmp_path_factory: pytest.TempPathFactory, graph: GenGraph
) -> None:
    _differential(graph, tmp_path_factory.mktemp("typed"), typed=True)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(graphs(max_size=15))
def test_generated_graphs_flask_template(
    tmp_path_factory: pytest.TempPathFactory, graph: GenGraph
) -> None:
    _differential(graph, tmp_path_factory.mktemp("flask"), typed=False)


def test_allow_heads_naming_no_revision_is_a_warning() -> None:
    g = Graph([rf("a"), rf("b", ("a",))], allow_heads=("b", "zz99"))
    [problem] = problems(g)
    assert (problem.code, problem.severity, problem.path) == (
        "unknown-allowed-head",
        "warning",
        None,
    )
    assert problem.message == (
        "[tool.migfix] allow_heads lists 'zz99', which no revision declares (a typo, or stale "
        "after a merge). Remove it from pyproject.toml."
    )


def test_a_merge_parent_that_is_an_ancestor_of_another_is_an_error() -> None:
    g = Graph([rf("a"), rf("b", ("a",)), rf("c", ("b",)), rf("m", ("a", "c"))])
    assert codes(problems(g)) == [("redundant-parent", "error", "m.py", 11)]
    assert problems(g)[0].message == (
        "merge revision m names a and c, but a is an ancestor of c, so `alembic downgrade` "
        'cannot walk down from here ("Ambiguous walk"). Remove a from its down_revision.'
    )
    assert problems(g)[0].revisions == ("m", "a", "c")
    assert problems(diamond()) == []


# -- the hook's second look: compile only what a quick read did not --------------------------


def _quick_read_then_break(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The typed fixture's versions, every file cached as compiled but bbbb0003, which now
    holds a body Python cannot load under a header that reads fine."""
    import os
    import shutil

    from conftest import FIXTURES

    from migfix.read import scancache

    monkeypatch.setenv("MIGFIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MIGFIX_NO_CACHE", raising=False)
    real_ns = scancache.time.time_ns
    # ctime cannot be set back: move "now" past the scan cache's racy window instead.
    monkeypatch.setattr(scancache.time, "time_ns", lambda: real_ns() + 10 * 1_000_000_000)
    versions = tmp_path / "versions"
    shutil.copytree(FIXTURES / "typed" / "migrations" / "versions", versions)
    for p in versions.iterdir():
        os.utime(p, (1_600_000_000, 1_600_000_000))
    scan_locations([versions], recursive=False)  # full: every file cached as compiled
    broken = next(versions.glob("bbbb0003_*.py"))
    broken.write_text(broken.read_text() + "\n<<<<<<< HEAD\nX = 1\n=======\nX = 2\n>>>>>>> o\n")
    return versions, broken


def test_checked_compiles_only_the_files_the_quick_read_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migfix.read import scan
    from migfix.read.graph import checked

    versions, broken = _quick_read_then_break(tmp_path, monkeypatch)
    quick = Graph(scan_locations([versions], recursive=False, full=False), allow_heads=["x"])
    assert not next(f for f in quick.files if f.path == broken).issues
    assert problems(quick) and quick.heads == ("bbbb0004",)  # allow_heads names no revision

    compiled: list[Path] = []
    real_scan = scan.scan_file

    def counting(path: Path, data: bytes | None = None, *, full: bool = True) -> RevisionFile:
        compiled.append(path)
        return real_scan(path, data, full=full)

    monkeypatch.setattr(scan, "scan_file", counting)
    full = checked(quick)

    assert compiled == [broken]
    fresh = Graph(scan_locations([versions], recursive=False, cache=False), allow_heads=["x"])
    assert full.files == fresh.files
    assert "conflict markers" in next(f for f in full.files if f.path == broken).issues[0].message
    # The same graph as a full read builds, problems included (the quick read's are stale).
    assert full.nodes == fresh.nodes
    assert (full.heads, full.bases, full.children) == (fresh.heads, fresh.bases, fresh.children)
    assert full.topological_order() == fresh.topological_order()
    assert problems(full) == problems(fresh) != problems(quick)
    assert full.allow_heads == quick.allow_heads
    assert checked(full) is full  # nothing left to compile: the same graph
    # The quick graph is left as it was.
    assert not next(f for f in quick.files if f.path == broken).issues


def test_checked_builds_the_graph_again_when_a_file_changed_since_the_quick_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migfix.read.graph import checked

    versions, broken = _quick_read_then_break(tmp_path, monkeypatch)
    quick = Graph(scan_locations([versions], recursive=False, full=False))
    # bbbb0003 now sits on bbbb0002 instead of bbbb0001: the graph's shape changed.
    broken.write_text(broken.read_text().replace("= 'bbbb0001'", "= 'bbbb0002'"))

    full = checked(quick)

    fresh = Graph(scan_locations([versions], recursive=False, cache=False))
    assert full.nodes["bbbb0003"].down == ("bbbb0002",) != quick.nodes["bbbb0003"].down
    assert full.children == fresh.children
    assert problems(full) == problems(fresh)
