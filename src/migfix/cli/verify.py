"""``migfix verify``: run the migrations for real on a scratch database."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project, project
from migfix.cli.options import (
    postgres_option,
    project_options,
    verify_database_options,
    verify_mode_options,
)
from migfix.cli.running import err
from migfix.commands import verify as verifycmd
from migfix.db import verify as verifying
from migfix.read.graph import read_graph


@click.command()
@project_options
@verify_mode_options
@verify_database_options
@postgres_option
@click.pass_context
@each_project
def verify(
    ctx: click.Context,
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    n_steps: int,
    full: bool,
    only_new: bool,
    upstream: str | None,
    url: str | None,
    allow_existing: bool,
    use_app_db: bool,
    postgres: bool | None,
) -> int:
    """Run the migrations for real on a scratch database: up, down and up again (exit 1 if
    one fails)."""
    if full and only_new:
        raise click.UsageError("--full and --only-new are different modes; give only one.")
    mode = "full" if full else "only-new" if only_new else "steps"
    chosen = project(config, name, versions, recursive)
    result = verifying.verify(
        chosen,
        read_graph(chosen),
        mode=mode,
        steps=n_steps,
        upstream=upstream,
        url=url or None,
        allow_existing=allow_existing,
        use_app_db=use_app_db,
        # Set by `flask migfix` so the app it already loaded is used (cli/flask.py).
        load_app=ctx.meta.get(verifying.APP_LOADER_KEY),
        postgres=postgres,
    )
    return verifycmd.report(chosen, result, echo=click.echo, err=err)
