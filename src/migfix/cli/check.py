"""``migfix check``: git hooks and pre-commit run it, so it imports only what checking
needs (see ``main.COMMANDS``); ``--against``'s modules load only when it is given."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project, files_argument, project
from migfix.cli.options import (
    against_option,
    deep_option,
    fetch_option,
    format_option,
    project_options,
    strict_option,
)
from migfix.cli.running import migfix_only
from migfix.commands import check as checkcmd
from migfix.report.next_step import prog_name


@click.command()
@project_options
@format_option(
    ["text", "json", "github"],
    "github prints ::error annotations for GitHub Actions.",
    default="text",
)
@strict_option("Warnings fail the check too.")
@deep_option
@against_option(
    "Check what merging this branch into REF would give (REF's revisions plus this branch's)."
)
@fetch_option
@files_argument
@each_project
@migfix_only
def check(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    fmt: str,
    strict: bool,
    deep: bool,
    against: str | None,
    fetch: bool,
) -> int:
    """Report every problem of the revision graph at once (exit 1 if any)."""
    chosen = project(config, name, versions, recursive)
    if against is None:
        return checkcmd.check(
            chosen, fmt=fmt, strict=strict, deep=deep, prog=prog_name(), echo=click.echo
        )
    # Here, not at the top: other refs' trees, remotes and overlap are 8 modules that every
    # plain check (each git hook and pre-commit run) would load for nothing.
    from migfix.cli.stale import warn_if_stale
    from migfix.commands.check_against import check_against

    warn_if_stale(chosen, against, fetch)
    return check_against(
        chosen, against, fmt=fmt, strict=strict, deep=deep, prog=prog_name(), echo=click.echo
    )
