"""``migfix graph --format mermaid|dot``: Mermaid against golden files, dot through the real
Graphviz ``dot`` program.

Set MIGFIX_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change (and read
the diff before committing it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import child_imports, copy_fixture
from gitutil import commit_all, git, make_repo, write
from projutil import migfix_proc

GOLDEN = Path(__file__).resolve().parent / "golden"

CHAIN_REVISION = '''"""step {n}

Revision ID: {rev}
Revises: {down}
"""
revision = "{rev}"
down_revision = {down_value}
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''


def chain_revision(folder: Path, rev: str, down: str | None, n: int) -> None:
    write(
        folder / f"{rev}_step.py",
        CHAIN_REVISION.format(
            n=n, rev=rev, down=down or "", down_value=repr(down) if down else "None"
        ),
    )


def graph(cwd: Path, *args: str) -> str:
    proc = migfix_proc(cwd, "graph", *args)
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MIGFIX_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture
def two_heads_repo(tmp_path: Path) -> Path:
    """fixtures/two_heads in git: cccc0001-2 on main, cccc0003 new on branch feature."""
    proj = copy_fixture("two_heads", tmp_path)
    make_repo(proj)
    third = next((proj / "migrations/versions").glob("cccc0003_*.py"))
    kept = third.read_bytes()
    third.unlink()
    commit_all(proj, "main's migrations")
    git(proj, "checkout", "-q", "-b", "feature")
    third.write_bytes(kept)
    commit_all(proj, "feature's migration")
    return proj


@pytest.fixture
def long_chain(tmp_path: Path) -> Path:
    """A plain Alembic folder: 12 revisions in a row, then two heads off the last one."""
    proj = tmp_path / "chain"
    versions = proj / "versions"
    down = None
    for i in range(1, 13):
        rev = f"kkkk{i:04d}"
        chain_revision(versions, rev, down, i)
        down = rev
    chain_revision(versions, "kkkk0013", "kkkk0012", 13)
    chain_revision(versions, "kkkk0014", "kkkk0012", 14)
    return proj


@pytest.mark.slow
def test_mermaid_marks_new_revisions_and_the_unintended_heads(two_heads_repo: Path) -> None:
    assert_golden("two_heads.mmd", graph(two_heads_repo, "--format", "mermaid"))


@pytest.mark.slow
def test_mermaid_shows_branch_labels_and_depends_on(tmp_path: Path) -> None:
    proj = copy_fixture("labels", tmp_path)
    assert_golden("labels.mmd", graph(proj, "--format", "mermaid"))


@pytest.mark.slow
def test_mermaid_draws_a_merge_point(tmp_path: Path) -> None:
    proj = copy_fixture("typed", tmp_path)
    assert_golden("typed.mmd", graph(proj, "--format", "mermaid"))


@pytest.mark.slow
def test_long_runs_collapse_unless_full(long_chain: Path) -> None:
    out = graph(long_chain, "--versions", "versions", "--format", "mermaid")
    assert_golden("long_chain.mmd", out)
    full = graph(long_chain, "--versions", "versions", "--format", "mermaid", "--full")
    assert "revisions …" not in full
    for i in range(1, 15):
        assert f'r_kkkk{i:04d}["kkkk{i:04d}' in full or f'r_kkkk{i:04d}(["kkkk{i:04d}' in full


@pytest.mark.slow
def test_missing_parents_and_json_still_work(tmp_path: Path) -> None:
    proj = copy_fixture("faults", tmp_path)
    assert_golden("faults.mmd", graph(proj, "--format", "mermaid"))
    assert graph(proj, "--json") == graph(proj, "--format", "json")


needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz `dot` is not installed (apt-get install graphviz; .ci/run installs it)",
)


def plain_layout(dot_source: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Run the real ``dot -Tplain``: nodes (name -> its fields) and edges (tail, head)."""
    proc = subprocess.run(
        ["dot", "-Tplain"], input=dot_source, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no syntax warnings either
    nodes: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    import shlex

    for line in proc.stdout.splitlines():
        fields = shlex.split(line)
        if fields[0] == "node":
            nodes[fields[1]] = fields
        elif fields[0] == "edge":
            edges.append((fields[1], fields[2]))
    return nodes, edges


@needs_dot
@pytest.mark.slow
def test_dot_is_laid_out_by_graphviz(two_heads_repo: Path) -> None:
    nodes, edges = plain_layout(graph(two_heads_repo, "--format", "dot"))
    assert set(nodes) == {"r_cccc0001", "r_cccc0002", "r_cccc0003"}
    assert sorted(edges) == [("r_cccc0001", "r_cccc0002"), ("r_cccc0001", "r_cccc0003")]
    # node name x y width height label style shape color fillcolor
    assert nodes["r_cccc0001"][7:] == ["rounded,filled", "box", "#888888", "#eeeeee"]
    assert nodes["r_cccc0002"][9:] == ["#c62828", "#eeeeee"]  # settled, unintended head
    assert nodes["r_cccc0003"][9:] == ["#c62828", "#d8f5dc"]  # new, unintended head
    # Parents above children.
    assert float(nodes["r_cccc0001"][3]) > float(nodes["r_cccc0003"][3])


@needs_dot
@pytest.mark.slow
@pytest.mark.parametrize("name", ["plain", "typed", "labels", "faults", "recursive", "flask_app"])
def test_every_fixture_renders_with_dot(tmp_path: Path, name: str) -> None:
    proj = copy_fixture(name, tmp_path)
    nodes, _edges = plain_layout(graph(proj, "--format", "dot", "--full"))
    assert nodes


@needs_dot
@pytest.mark.slow
def test_dot_collapses_like_mermaid(long_chain: Path) -> None:
    nodes, edges = plain_layout(graph(long_chain, "--versions", "versions", "--format", "dot"))
    assert sorted(nodes) == [
        "r_kkkk0001",
        "r_kkkk0002",
        "r_kkkk0003_run",
        "r_kkkk0011",
        "r_kkkk0012",
        "r_kkkk0013",
        "r_kkkk0014",
    ]
    assert ("r_kkkk0002", "r_kkkk0003_run") in edges
    assert ("r_kkkk0003_run", "r_kkkk0011") in edges
    assert nodes["r_kkkk0003_run"][6] == "… 8 revisions …\\nkkkk0003 … kkkk0010"
    full, _ = plain_layout(graph(long_chain, "--versions", "versions", "--format", "dot", "--full"))
    assert len(full) == 14


@pytest.mark.slow
def test_near_keeps_only_what_is_around_the_heads(long_chain: Path) -> None:
    out = graph(long_chain, "--versions", "versions", "--format", "mermaid", "--near", "1")
    boxes = [line.split("[", 1)[0].split("(", 1)[0].strip() for line in out.splitlines()[1:5]]
    assert boxes == ["older", "r_kkkk0012", "r_kkkk0013", "r_kkkk0014"]
    assert '    older[/"… 11 older revisions …"/]' in out
    assert "    older --> r_kkkk0012" in out


@pytest.mark.slow
def test_against_draws_the_graph_a_merge_would_give(tmp_path: Path) -> None:
    """main gained cccc0002 after feature branched off and added cccc0003."""
    proj = copy_fixture("two_heads", tmp_path)
    versions = proj / "migrations/versions"
    second = next(versions.glob("cccc0002_*.py"))
    third = next(versions.glob("cccc0003_*.py"))
    kept = {p: p.read_bytes() for p in (second, third)}
    second.unlink()
    third.unlink()
    make_repo(proj)
    commit_all(proj, "base")
    git(proj, "checkout", "-q", "-b", "feature")
    third.write_bytes(kept[third])
    commit_all(proj, "feature")
    git(proj, "checkout", "-q", "main")
    second.write_bytes(kept[second])
    commit_all(proj, "main moves on")
    git(proj, "checkout", "-q", "feature")
    alone = graph(proj, "--format", "mermaid")
    assert "unintended" not in alone
    merged = graph(proj, "--format", "mermaid", "--against", "main")
    assert_golden("two_heads.mmd", merged)  # the same picture as the merged repository's


@needs_dot
@pytest.mark.corpus
@pytest.mark.slow
def test_real_projects_render(corpus_dir: Path) -> None:
    """Every corpus graph (labels, merges, 5,000 revisions) draws in both formats."""
    from conftest import corpus_index

    for project_id, entry in corpus_index(corpus_dir).items():
        args: list[str] = []
        for location in entry["version_locations"]:
            args += ["--versions", location]
        if entry["recursive_version_locations"]:
            args.append("--recursive")
        nodes, _ = plain_layout(graph(corpus_dir, *args, "--format", "dot"))
        assert nodes, project_id
        assert graph(corpus_dir, *args, "--format", "mermaid").startswith("flowchart TD\n")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_pictures_outside_git_import_nothing_heavy(tmp_path: Path, fmt: str) -> None:
    """Without git there is nothing to classify: no Alembic, SQLAlchemy, libcst or GitPython.
    (In a repository, new vs settled is read from the upstream tree, with GitPython.)"""
    proj = copy_fixture("labels", tmp_path)
    proc, modules = child_imports(
        proj,
        "-m",
        "migfix",
        "graph",
        "--format",
        fmt,
        env={"GIT_CEILING_DIRECTORIES": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported_packages = {name.split(".")[0] for name in modules}
    assert "migfix" in imported_packages
    assert not imported_packages & {"alembic", "sqlalchemy", "libcst", "git", "mako"}


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """Two projects, backend/ (two heads) and billing/, at the root of one repository."""
    root = make_repo(tmp_path / "mono")
    copy_fixture("two_heads", tmp_path).rename(root / "backend")
    copy_fixture("typed", tmp_path).rename(root / "billing")
    commit_all(root, "two services")
    return root


@pytest.mark.slow
def test_mermaid_across_projects_is_one_diagram_with_a_subgraph_each(monorepo: Path) -> None:
    text = graph(monorepo, "--format", "mermaid")

    lines = text.splitlines()
    assert lines[0] == "flowchart TD" and text.count("flowchart") == 1
    assert '    subgraph p1["backend"]' in lines and '    subgraph p2["billing"]' in lines
    assert lines.count("    end") == 2
    assert "==>" not in text  # no per-project headings inside the diagram
    # Each project's node ids are its own: the same revision id twice would be one node.
    assert "        p1_r_cccc0001" in text.replace('["', " ").replace("([", " ")
    assert "p1_r_cccc0001 --> p1_r_cccc0002" in text
    assert "p2_r_bbbb0001" in text
    # A single project keeps the diagram it always had.
    assert graph(monorepo / "backend", "--format", "mermaid").startswith(
        "flowchart TD\n    r_cccc0001"
    )


@pytest.mark.slow
@needs_dot
def test_dot_across_projects_is_one_graph_with_a_cluster_each(monorepo: Path) -> None:
    source = graph(monorepo, "--format", "dot")

    assert source.count("digraph") == 1
    assert "subgraph cluster_p1 {" in source and 'label="billing";' in source
    nodes, edges = plain_layout(source)
    assert {"p1_r_cccc0001", "p1_r_cccc0003", "p2_r_bbbb0004"} <= set(nodes)
    assert ("p1_r_cccc0001", "p1_r_cccc0003") in edges
