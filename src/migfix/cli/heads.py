"""``migfix heads``: git hooks, editors and pre-commit run it, so it imports only what
reading the heads needs (see ``main.COMMANDS``; ``check`` is in ``migfix.cli.check``)."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project, project
from migfix.cli.options import json_option, project_options, verbose_option
from migfix.cli.running import migfix_only
from migfix.commands import heads as headscmd


@click.command()
@project_options
@json_option
@verbose_option
@each_project
@migfix_only
def heads(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    verbose: bool,
) -> int:
    """Show the current heads, like `alembic heads` (exit 1 if some are unintended)."""
    chosen = project(config, name, versions, recursive)
    return headscmd.heads(chosen, as_json=as_json, verbose=verbose, echo=click.echo)
