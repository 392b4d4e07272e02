"""``migfix merge`` and ``migfix rebase``: the commands that rewrite revision files."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from migfix.cli.every_project import each_project, project
from migfix.cli.options import (
    STRICT_OVERLAP,
    drop_merges_option,
    dry_run_option,
    fetch_option,
    json_option,
    merge_revision_options,
    onto_option,
    postgres_option,
    project_options,
    strict_option,
    upstream_options,
    verify_option,
)
from migfix.cli.running import err, migfix_only
from migfix.cli.stale import warn_if_stale
from migfix.commands import merge as mergecmd
from migfix.commands import rebase as rebasecmd
from migfix.commands import verify as verifycmd


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
        verify=_verify_new(chosen, upstream, postgres) if run_verify else None,
    )


def _verify_new(chosen: Any, upstream: str | None, postgres: bool | None) -> Callable[[], int]:
    """``--verify`` after merge/rebase, to run once they changed something."""
    return functools.partial(
        verifycmd.verify_new, chosen, upstream, postgres, echo=click.echo, err=err
    )


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
        verify=_verify_new(chosen, onto, postgres) if run_verify else None,
    )
