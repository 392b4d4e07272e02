"""``migfix hook install|uninstall|status|run``: the click edge of :mod:`migfix.hook`."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from migfix.cli.options import (
    CONFIG_KEY,
    DIRECTORY_KEY,
    NAME_KEY,
    force_option,
    hook_behaviour_options,
    hook_types_option,
    json_option,
    watch_options,
)
from migfix.commands import options as declared
from migfix.errors import EXIT_OK
from migfix.git.gitops import find_repo
from migfix.hook import install as hooks
from migfix.hook import run as hookrun
from migfix.hook.projects import choose, watch_lines, watch_report
from migfix.hook.watch import Watch
from migfix.report import formats as report
from migfix.write import heads_lock_files, recovery


@click.group()
def hook() -> None:
    """Install, remove or inspect the git hooks that fix heads after merges."""
    recovery.recover(Path.cwd())


@hook.command("install")
@hook_types_option
@hook_behaviour_options
@force_option("Replace migfix hooks even if edited by hand.")
@watch_options
def hook_install(
    hook_types: tuple[str, ...],
    strategy: str | None,
    commit: bool | None,
    always: bool,
    force: bool,
    config: Path | None,
    name: str | None,
    directory: Path | None,
) -> int:
    """Install the post-merge, post-rewrite and post-commit hooks.

    A hook already there is kept and chained. post-commit acts only on merge commits: it
    covers a merge that stopped on conflicts and was finished with `git commit`. The hooks
    act on every Alembic project of the repository that a merge touches; -c/-n/-d record
    one that discovery cannot find.
    """
    meta = click.get_current_context().meta
    watch = choose(
        Path.cwd(),
        config or meta.get(CONFIG_KEY),
        name or meta.get(NAME_KEY),
        directory or meta.get(DIRECTORY_KEY),
    )
    for line in hooks.install(
        Path.cwd(),
        hook_types=hook_types or declared.HOOK_TYPES,
        strategy=strategy,
        commit=commit,
        always=always,
        force=force,
        watch=watch.args() if watch else (),
    ):
        click.echo(line)
    for line in heads_lock_files.install_driver(Path.cwd()):
        click.echo(line)
    for line in watch_lines(find_repo(Path.cwd()) or Path.cwd(), watch):
        click.echo(line)
    return EXIT_OK


@hook.command("uninstall")
@hook_types_option
@force_option("Remove migfix hooks even if edited by hand.")
def hook_uninstall(hook_types: tuple[str, ...], force: bool) -> int:
    """Remove migfix's hooks and restore any hook they had chained."""
    for line in hooks.uninstall(Path.cwd(), hook_types or declared.HOOK_TYPES, force=force):
        click.echo(line)
    if not hook_types:
        for line in heads_lock_files.uninstall_driver(Path.cwd()):
            click.echo(line)
    return EXIT_OK


@hook.command("status")
@json_option
def hook_status(as_json: bool) -> int:
    """Show which hooks are installed, where, and with which interpreter."""
    states = hooks.status(Path.cwd())
    repo = find_repo(Path.cwd()) or Path.cwd()
    watch = next((w for s in states if (w := Watch.from_options(s.options))), None)
    if as_json:
        hooks_json = [
            {
                "hook_type": s.hook_type,
                "path": str(s.path),
                "state": s.state,
                "interpreter": s.interpreter,
                "options": list(s.options),
                "legacy": str(s.legacy) if s.legacy else None,
            }
            for s in states
        ]
        projects = watch_report(repo, watch)
        click.echo(report.dumps({"version": 1, "hooks": hooks_json, "projects": projects}))
        return EXIT_OK
    for s in states:
        extra = f" ({s.interpreter})" if s.interpreter else ""
        if s.options:
            extra += f" with {shlex.join(s.options)}"
        click.echo(f"{s.hook_type}: {s.state}{extra}  {s.path}")
    for line in watch_lines(repo, watch):
        click.echo(line)
    return EXIT_OK


@hook.command("run", hidden=True)
@click.argument("hook_type", type=click.Choice(declared.HOOK_TYPES))
@hook_behaviour_options
@watch_options
@click.argument("git_args", nargs=-1)
def hook_run(
    hook_type: str,
    strategy: str | None,
    commit: bool | None,
    always: bool,
    config: Path | None,
    name: str | None,
    directory: Path | None,
    git_args: tuple[str, ...],
) -> int:
    """Called by the installed hook script (as ``python -m migfix.hookrun``, which reads the
    same options without click); always exits 0."""
    chosen = {"config": config, "name": name, "directory": directory}
    watch = (
        Watch(**{k: str(v) for k, v in chosen.items() if v is not None})
        if any(v is not None for v in chosen.values())
        else None
    )
    return hookrun.run(
        hook_type,
        git_args,
        cwd=Path.cwd(),
        strategy=strategy,
        commit=commit,
        always=always,
        watch=watch,
    )
