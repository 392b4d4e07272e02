"""``migfix heads`` and ``migfix check``: the commands git hooks and pre-commit run, so
they import only what reading needs (see ``main.COMMANDS``)."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project, files_argument, project
from migfix.cli.options import (
    against_option,
    deep_option,
    fetch_option,
    format_option,
    json_option,
    project_options,
    strict_option,
    verbose_option,
)
from migfix.cli.running import migfix_only, warn_if_stale
from migfix.commands import check as checkcmd
from migfix.commands import heads as headscmd
from migfix.report.next_step import prog_name


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
    if against is not None:
        warn_if_stale(chosen, against, fetch)
    return checkcmd.check(
        chosen,
        fmt=fmt,
        strict=strict,
        deep=deep,
        against=against,
        prog=prog_name(),
        echo=click.echo,
    )
