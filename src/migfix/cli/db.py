"""``migfix db status|sync|upgrade``: the click edge of :mod:`migfix.db.sync`.

From a repository root with no project at or above it, each command acts on every project
discovery finds (each with its own database, as its env.py connects), grouped by project,
exiting with the worst code (:mod:`migfix.cli.every_project`).

Kept out of ``cli.py`` so the database commands grow here; ``cli`` only adds the group.
Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import each_project
from migfix.cli.every_project import project as chosen_project
from migfix.cli.options import (
    db_sync_options,
    dry_run_option,
    json_option,
    project_options,
    url_option,
)
from migfix.db import guard_install, sync_status
from migfix.db import sync as dbsync
from migfix.db import upgrade as dbupgrade
from migfix.db.sync_status import IN_STEP
from migfix.db.verify import APP_LOADER_KEY
from migfix.project.model import relpath
from migfix.read.graph import read_graph
from migfix.report import formats as report

database_option = url_option(
    "Database to look at instead of the one env.py / the Flask app configures "
    "(env: MIGFIX_DATABASE_URL)."
)


def _command(ctx: click.Context) -> str:
    # Under `flask migfix` the fix to print is the one the user types there.
    return "flask migfix" if ctx.meta.get(APP_LOADER_KEY) is not None else "migfix"


@click.group("db")
def db() -> None:
    """Keep a database in step after a migration moved (status, sync, upgrade)."""


@db.command("status")
@project_options
@database_option
@json_option
@click.pass_context
@each_project
def db_status(
    ctx: click.Context,
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    url: str | None,
    as_json: bool,
) -> int:
    """Say whether the database ran every revision below the one it records (exit 1 if not).

    Reads alembic_version read-only, connecting like `alembic current`.
    """
    project = chosen_project(config, name, versions, recursive)
    st = sync_status.status(
        project,
        read_graph(project),
        url=url or None,
        load_app=ctx.meta.get(APP_LOADER_KEY),
        command=_command(ctx),
    )
    if as_json:
        click.echo(report.dumps(sync_status.status_json(project, st)))
    else:
        click.echo(sync_status.status_text(project, st))
    return sync_status.status_exit(st)


@db.command("sync")
@project_options
@database_option
@dry_run_option("Print the plan; run nothing (exit 1 if the database is out of step).")
@db_sync_options
@click.pass_context
@each_project
def db_sync(
    ctx: click.Context,
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    url: str | None,
    dry_run: bool,
    sql: bool,
    yes: bool,
    already_in_step: bool,
) -> int:
    """Run the revisions this database never ran (no downgrade), then record its real heads."""
    if sql and not dry_run:
        raise click.UsageError("--sql prints what would run: give it with --dry-run.")
    if already_in_step and dry_run:
        raise click.UsageError("--already-in-step runs nothing: give it without --dry-run.")
    project = chosen_project(config, name, versions, recursive)
    graph = read_graph(project)
    load_app = ctx.meta.get(APP_LOADER_KEY)
    command = _command(ctx)
    if already_in_step:
        st = dbsync.mark_in_step(
            project, graph, url=url or None, load_app=load_app, command=command
        )
        click.echo(dbsync.mark_in_step_text(st))
        return 0
    if not dry_run and not yes and dbsync.confirm_needed():
        plan = dbsync.sync(project, graph, url=url or None, load_app=load_app, dry_run=True)
        click.echo(dbsync.sync_text(project, plan, command))
        if plan.status.state == IN_STEP:
            return 0
        click.confirm("Go ahead?", abort=True)
    result = dbsync.sync(
        project,
        graph,
        url=url or None,
        load_app=load_app,
        dry_run=dry_run,
        sql=sql,
        command=command,
    )
    text = dbsync.sync_text(project, result, command)
    click.echo(text, err=bool(result.error))
    return dbsync.sync_exit(result)


@db.command("upgrade")
@click.argument("revision", default="heads")
@project_options
@database_option
@click.pass_context
@each_project
def db_upgrade(
    ctx: click.Context,
    revision: str,
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    url: str | None,
) -> int:
    """Run what a moved migration left unrun here, then upgrade to REVISION (default heads).

    Use it instead of `alembic upgrade` / `flask db upgrade`: those do nothing on a database
    whose recorded revision moved on top of revisions it never ran.
    """
    project = chosen_project(config, name, versions, recursive)
    command = _command(ctx)
    result = dbupgrade.upgrade(
        project,
        read_graph(project),
        revision,
        url=url or None,
        load_app=ctx.meta.get(APP_LOADER_KEY),
        command=command,
    )
    text = dbupgrade.upgrade_text(project, result, command)
    code = dbupgrade.upgrade_exit(result)
    click.echo(text, err=bool(code))
    return code


@db.group("guard")
def db_guard() -> None:
    """Make a plain `alembic upgrade` stop on a database a moved migration skipped."""


@db_guard.command("init")
@project_options
@click.option("--show", is_flag=True, help="Print the lines to add to env.py; change nothing.")
def db_guard_init(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    show: bool,
) -> int:
    """Add migfix's guard to env.py (one import, one call after context.configure).

    Then `alembic upgrade` / `flask db upgrade` on a database that ran a revision before it
    moved stops and names `migfix db upgrade`, instead of silently doing nothing.
    """
    if show:
        click.echo(guard_install.snippet(), nl=False)
        return 0
    project = chosen_project(config, name, versions, recursive)
    path, changed = guard_install.init(project)
    where = relpath(path, Path.cwd())
    if changed:
        click.echo(f"Added the guard to {where}; commit it so the whole team has it.")
    else:
        click.echo(f"{where} already has the guard; nothing changed.")
    return 0
