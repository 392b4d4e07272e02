"""``migfix graph``: every revision as a tree, JSON, or a Mermaid / Graphviz picture."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import PICTURES_KEY, each_project_drawn, project
from migfix.cli.options import (
    against_option,
    format_option,
    full_option,
    json_option,
    near_option,
    project_options,
    upstream_option,
)
from migfix.cli.running import migfix_only
from migfix.commands import graph as graphcmd
from migfix.report.diagram import many


@click.command()
@project_options
@json_option
@format_option(
    ["text", "json", "mermaid", "dot"],
    "mermaid (GitHub renders it) or dot (Graphviz) draw a picture; default text.",
)
@full_option("In a picture, show long straight runs in full.")
@upstream_option("In a picture, revisions not on REF are drawn as new (default: as for merge).")
@against_option("Show what merging this branch into REF would give (as check --against).")
@near_option
@each_project_drawn(many)
@migfix_only
def graph(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    fmt: str | None,
    full: bool,
    upstream: str | None,
    against: str | None,
    near: int | None,
) -> int:
    """Show every revision as a tree, JSON, or a Mermaid / Graphviz picture."""
    return graphcmd.graph(
        project(config, name, versions, recursive),
        fmt=fmt,
        as_json=as_json,
        full=full,
        upstream=upstream,
        against=against,
        near=near,
        echo=click.echo,
        pictures=click.get_current_context().meta.get(PICTURES_KEY),
    )
