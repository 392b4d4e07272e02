"""``migfix rebase``: re-root this branch's revisions onto another ref's head."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project, project
from migfix.cli.options import (
    STRICT_OVERLAP,
    drop_merges_option,
    dry_run_option,
    fetch_option,
    json_option,
    onto_option,
    postgres_option,
    project_options,
    strict_option,
    upstream_options,
    verify_option,
)
from migfix.cli.running import err, migfix_only
from migfix.cli.stale import warn_if_stale
from migfix.cli.verify_after import verify_after
from migfix.commands import rebase as rebasecmd


@click.command()
@project_options
@json_option
@dry_run_option()
@onto_option
@fetch_option
@drop_merges_option
@upstream_options
@verify_option
@postgres_option
@strict_option(STRICT_OVERLAP)
@each_project
@migfix_only
def rebase(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    dry_run: bool,
    onto: str,
    fetch: bool,
    drop_merges: bool,
    upstream: str | None,
    new: tuple[str, ...],
    run_verify: bool,
    postgres: bool | None,
    strict: bool,
) -> int:
    """Re-root this branch's migrations onto REF's head (read from git, no checkout)."""
    chosen = project(config, name, versions, recursive)
    warn_if_stale(chosen, onto, fetch)
    return rebasecmd.rebase(
        chosen,
        onto=onto,
        drop_merges=drop_merges,
        upstream=upstream,
        new=new,
        dry_run=dry_run,
        as_json=as_json,
        strict=strict,
        echo=click.echo,
        err=err,
        verify=verify_after(chosen, onto, postgres) if run_verify else None,
    )
