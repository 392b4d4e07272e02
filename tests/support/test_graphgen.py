"""The random graph generator writes projects that real Alembic reads as the intended graph."""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic_oracle import alembic_graph
from graphgen import (
    GenGraph,
    GenRevision,
    Style,
    graphs,
    random_graph,
    render_project,
    render_revision,
    template_path,
)
from hypothesis import HealthCheck, Phase, find, given, settings

_CREATE_DATE = re.compile(r"^Create Date: .*$", re.MULTILINE)


def _without_files(graph: dict[str, Any]) -> dict[str, Any]:
    for entry in graph["revisions"].values():
        del entry["file"]
    return graph


def _assert_alembic_reads(graph: GenGraph, *, typed: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        versions = Path(tmp)
        paths = render_project(graph, versions, typed=typed)
        loaded = alembic_graph([versions])

        assert {Path(r["file"]) for r in loaded["revisions"].values()} == {
            p.resolve() for p in paths
        }
        assert _without_files(loaded) == graph.expected()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_typed_projects_load_in_alembic_as_generated(graph: GenGraph) -> None:
    _assert_alembic_reads(graph, typed=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_flask_migrate_projects_load_in_alembic_as_generated(graph: GenGraph) -> None:
    _assert_alembic_reads(graph, typed=False)


@pytest.mark.parametrize("seed", range(8))
def test_seeded_graphs_load_in_alembic_as_generated(seed: int) -> None:
    _assert_alembic_reads(random_graph(seed), typed=seed % 2 == 0)


def test_same_seed_same_graph() -> None:
    assert random_graph(42) == random_graph(42)
    assert random_graph(42) != random_graph(43)


def test_seeded_graphs_cover_every_shape() -> None:
    revisions = [r for seed in range(100) for r in random_graph(seed).revisions]
    parents = [p for r in revisions for p in r.down]

    assert any(len(r.down) == 2 for r in revisions)
    assert any(len(r.down) == 3 for r in revisions)
    assert any(parents.count(p) > 1 for p in set(parents)), "no branch point"
    assert any(r.labels for r in revisions)
    assert any(len(r.deps) == 2 for r in revisions)
    assert any(len(random_graph(seed).bases()) == 3 for seed in range(100))
    assert {r.style.container for r in revisions} == {
        "alembic",
        "scalar",
        "tuple",
        "list",
        "multiline",
    }
    assert all(not r.labels for r in revisions if r.down), "labels only on bases"


def _alembic_generated(tmp_path: Path, graph: GenGraph) -> dict[str, str]:
    """Let Alembic's own generate_revision write ``graph``; file name -> text."""
    from alembic.script import ScriptDirectory

    script_dir = tmp_path / "alembic"
    versions = script_dir / "versions"
    versions.mkdir(parents=True)
    (script_dir / "script.py.mako").write_bytes(template_path(typed=True).read_bytes())
    script = ScriptDirectory(str(script_dir))
    for revision in graph.revisions:
        script.generate_revision(
            revision.rev,
            revision.message,
            refresh=True,
            head=list(revision.down) or "base",
            splice=True,
            branch_labels=list(revision.labels) or None,
            depends_on=list(revision.deps) or None,
        )
    return {p.name: p.read_text(encoding="utf-8") for p in versions.glob("*.py")}


def test_alembic_style_is_byte_for_byte_what_alembic_writes(tmp_path: Path) -> None:
    graph = GenGraph(
        (
            GenRevision("rrrr0001", (), labels=("billing",)),
            GenRevision("rrrr0002", ("rrrr0001",)),
            GenRevision("rrrr0003", ("rrrr0001",), deps=("rrrr0002",)),
            GenRevision("rrrr0004", (), labels=("auth",)),
            GenRevision("rrrr0005", ("rrrr0002", "rrrr0003", "rrrr0004")),
            GenRevision("rrrr0006", ("rrrr0005",), deps=("rrrr0004", "rrrr0001")),
        )
    )
    ours_dir = tmp_path / "ours"
    render_project(graph, ours_dir, typed=True)
    ours = {p.name: p.read_text(encoding="utf-8") for p in ours_dir.glob("*.py")}

    theirs = _alembic_generated(tmp_path, graph)

    assert sorted(ours) == sorted(theirs)
    for name in ours:
        # Alembic stamps the current time; everything else must match
        assert _CREATE_DATE.sub("", ours[name]) == _CREATE_DATE.sub("", theirs[name]), name


@pytest.mark.parametrize(
    ("style", "down", "labels"),
    [
        (Style("alembic", "single"), "('rrrr0001', 'rrrr0002')", "('billing',)"),
        (Style("scalar", "double"), '("rrrr0001", "rrrr0002")', '"billing"'),
        (Style("tuple", "double"), '("rrrr0001", "rrrr0002")', '("billing",)'),
        (Style("list", "single"), "['rrrr0001', 'rrrr0002']", "['billing']"),
        (
            Style("multiline", "double"),
            '(\n    "rrrr0001",\n    "rrrr0002",\n)',
            '(\n    "billing",\n)',
        ),
    ],
)
def test_styles_spell_values_as_named(style: Style, down: str, labels: str) -> None:
    revision = GenRevision("rrrr0003", ("rrrr0001", "rrrr0002"), ("billing",), style=style)

    text = render_revision(
        revision,
        template=template_path(typed=False),
        create_date=datetime.datetime(2025, 1, 1),
    )

    assert f"\ndown_revision = {down}\n" in text
    assert f"\nbranch_labels = {labels}\n" in text
    assert "\nRevises: rrrr0001, rrrr0002\n" in text
    quote = '"' if style.quote == "double" else "'"
    assert f"\nrevision = {quote}rrrr0003{quote}\n" in text


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda g: any(len(r.down) == 3 for r in g.revisions), id="3-parent merge"),
        pytest.param(lambda g: len(g.bases()) == 3, id="three bases"),
        pytest.param(lambda g: len(g.heads()) > 1, id="several heads"),
        pytest.param(lambda g: any(r.labels for r in g.revisions), id="labelled base"),
        pytest.param(lambda g: any(len(r.deps) == 2 for r in g.revisions), id="two deps"),
    ],
)
def test_strategy_can_reach_each_shape(shape: Callable[[GenGraph], bool]) -> None:
    # find() raises NoSuchExample when the strategy never produces the shape; no shrinking,
    # the first example found is enough
    found = find(
        graphs(),
        shape,
        settings=settings(max_examples=2000, database=None, phases=[Phase.generate]),
    )
    assert shape(found)
