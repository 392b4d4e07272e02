"""``migfix lock init|update``: the click edge of :mod:`migfix.plan.heads_lock`."""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import project
from migfix.cli.options import NAME_KEY, post_write_hook_option, project_options
from migfix.errors import EXIT_OK
from migfix.project.model import lock_path
from migfix.write import heads_lock_files


@click.group()
def lock() -> None:
    """Keep the heads lock (`[tool.migfix] lock = true`): a file that makes git conflict."""


@lock.command("init")
@project_options
def lock_init(
    config: Path | None, name: str | None, versions: tuple[Path, ...], recursive: bool
) -> int:
    """Add migfix to Alembic's post_write_hooks and write the first heads lock."""
    for line in heads_lock_files.init(project(config, name, versions, recursive)):
        click.echo(line)
    return EXIT_OK


@lock.command("update")
@project_options
@post_write_hook_option
def lock_update(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    hook_file: Path | None,
) -> int:
    """Rewrite the heads lock to match the revision graph."""
    if hook_file is not None:
        # Alembic's post-write hook, on the file `alembic revision` just wrote.
        ctx = click.get_current_context()
        section = name or ctx.meta.get(NAME_KEY) or "alembic"
        said = heads_lock_files.hook_update(hook_file, section=section)
        if said:
            click.echo(f"migfix: {said}")
        return EXIT_OK
    chosen = project(config, name, versions, recursive)
    heads_lock_files.require(chosen, "migfix lock update")
    path = heads_lock_files.update(chosen)
    rel = chosen.relpath(lock_path(chosen))
    resolved = heads_lock_files.mark_resolved(chosen, path)
    click.echo(
        (f"updated {rel}" if path else f"{rel} is already current")
        + (f"; {resolved}" if resolved else "")
    )
    return EXIT_OK
