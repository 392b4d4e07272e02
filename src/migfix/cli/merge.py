"""``migfix merge``: join unintended heads, writing revision files (``rebase`` is in
``migfix.cli.rebase``, so a merge imports none of the rebase planning)."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project, project
from migfix.cli.options import (
    STRICT_OVERLAP,
    dry_run_option,
    json_option,
    merge_revision_options,
    postgres_option,
    project_options,
    strict_option,
    upstream_options,
    verify_option,
)
from migfix.cli.running import err, migfix_only
from migfix.cli.verify_after import verify_after
from migfix.commands import merge as mergecmd


@click.command()
@project_options
@click.argument("heads", nargs=-1)
@merge_revision_options
@upstream_options
@dry_run_option()
@json_option
@verify_option
@postgres_option
@strict_option(STRICT_OVERLAP)
@each_project
@migfix_only
def merge(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    heads: tuple[str, ...],
    message: str | None,
    rev_id: str | None,
    branch_label: str | None,
    no_repoint: bool,
    upstream: str | None,
    new: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    run_verify: bool,
    postgres: bool | None,
    strict: bool,
) -> int:
    """Join unintended heads: write a merge revision and move new revisions onto it.

    HEADS: merge only these heads (default: every head that is not intended).
    """
    chosen = project(config, name, versions, recursive)
    return mergecmd.merge(
        chosen,
        heads=heads,
        message=message,
        rev_id=rev_id,
        branch_label=branch_label,
        no_repoint=no_repoint,
        upstream=upstream,
        new=new,
        dry_run=dry_run,
        as_json=as_json,
        strict=strict,
        echo=click.echo,
        err=err,
        verify=verify_after(chosen, upstream, postgres) if run_verify else None,
    )
