"""The command line: parse, call one library function, print, return an exit code.

Every error a user can act on is a ``MigfixError``; ``main`` turns it into one
paragraph on stderr and exit code 2. Nothing else prints a traceback.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migfix import __version__
from migfix.cli.ci import ci as ci_group
from migfix.cli.db import db as db_group
from migfix.cli.every_project import PICTURES_KEY, PROJECT_KEY, each_project, files_argument
from migfix.cli.options import (
    CONFIG_KEY,
    DIRECTORY_KEY,
    NAME_KEY,
    dry_run_option,
    fetch_option,
    global_project_options,
    json_option,
    postgres_option,
    project_options,
    upstream_options,
    verify_option,
)
from migfix.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, MigfixError

if TYPE_CHECKING:
    from migfix.db.verify import Result as VerifyResult
    from migfix.project.config import Project


def _project(
    config: Path | None, name: str | None, versions: tuple[Path, ...], recursive: bool
) -> Any:
    from migfix.project.config import find_project
    from migfix.write import txn

    # -d/--directory, or the app's migrations folder under `flask migfix`, and -c/-n
    # given before the command arrive through ctx.meta (see options) so no command
    # signature changes.
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    if meta.get(PROJECT_KEY) is not None:
        project = meta[PROJECT_KEY]  # chosen by discovery (migfix.cli.every_project)
    else:
        project = find_project(
            Path.cwd(),
            config=config or meta.get(CONFIG_KEY),
            name=name or meta.get(NAME_KEY) or "alembic",
            versions=versions,
            recursive=recursive,
            directory=meta.get(DIRECTORY_KEY),
        )
    # Every command first undoes a change that a killed migfix left half done.
    txn.recover(project.root, project)
    return project


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # click turns Ctrl-C into "Aborted!" after a blank line; say what happened instead.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            from migfix.write.lock import Interruption

            raise Interruption(exc) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migfix")
@global_project_options
def cli() -> None:
    """Find and fix Alembic "multiple heads" problems.

    Reads migration files statically (never imports them), merges heads through
    Alembic's own API, and re-roots a branch's migrations onto another git ref.
    """


@cli.command()
@project_options
@json_option
@click.option(
    "-v", "--verbose", is_flag=True, help="Show each head in full, like `alembic heads -v`."
)
@each_project
def heads(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    verbose: bool,
) -> int:
    """Show the current heads, like `alembic heads` (exit 1 if some are unintended)."""
    from migfix.commands import heads as headscmd

    project = _project(config, name, versions, recursive)
    return headscmd.heads(project, as_json=as_json, verbose=verbose, echo=click.echo)


@cli.command()
@project_options
@json_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "mermaid", "dot"]),
    default=None,
    help="mermaid (GitHub renders it) or dot (Graphviz) draw a picture; default text.",
)
@click.option("--full", is_flag=True, help="In a picture, show long straight runs in full.")
@click.option(
    "--upstream",
    metavar="REF",
    help="In a picture, revisions not on REF are drawn as new (default: as for merge).",
)
@click.option(
    "--against",
    metavar="REF",
    help="Show what merging this branch into REF would give (as check --against).",
)
@click.option(
    "--near",
    type=click.IntRange(min=0),
    metavar="N",
    help="In a picture, only revisions up to N parents away from the (unintended) heads.",
)
@each_project
def graph(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    fmt: str | None,
    full: bool,
    upstream: str | None,
    against: str | None,
    near: int | None,
) -> int:
    """Show every revision as a tree, JSON, or a Mermaid / Graphviz picture."""
    from migfix.read.graph import read_graph
    from migfix.report import formats as report

    project = _project(config, name, versions, recursive)
    if against:
        from migfix.plan.against import graph_against

        g = graph_against(project, against)
    else:
        g = read_graph(project, full=False)  # printing only: `check` tells what won't load
    if fmt in ("mermaid", "dot"):
        from migfix.plan.settled import added_against, classify
        from migfix.report import diagram as picture

        if against and not upstream:
            # The picture of a pull request: green is what this branch adds to REF, whether or
            # not it was pushed (a pushed revision is published, but still this branch's own).
            new = added_against(project, g, against)
        else:
            new = classify(project, g, upstream=upstream).new
        pic = picture.build(g, new, full=full, near=near)
        several = click.get_current_context().meta.get(PICTURES_KEY)
        if several is not None:
            several.append(pic)  # one diagram for every project, printed once all are read
        else:
            click.echo(picture.mermaid(pic) if fmt == "mermaid" else picture.dot(pic))
    elif as_json or fmt == "json":
        click.echo(report.dumps(report.graph_json(project, g)))
    else:
        click.echo(report.graph_text(project, g))
    return EXIT_OK


@cli.command()
@project_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="github prints ::error annotations for GitHub Actions.",
)
@click.option("--strict", is_flag=True, help="Warnings fail the check too.")
@click.option(
    "--deep",
    is_flag=True,
    hidden=True,
    help="No effect: every file is compiled in full by default (kept for old scripts).",
)
@click.option(
    "--against",
    metavar="REF",
    help="Check what merging this branch into REF would give (REF's revisions plus this branch's).",
)
@fetch_option
@files_argument
@each_project
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
    from migfix.commands import check as checkcmd
    from migfix.report.next_step import prog_name

    project = _project(config, name, versions, recursive)
    if against is not None:
        _current_ref(project, against, fetch)
    return checkcmd.check(
        project,
        fmt=fmt,
        strict=strict,
        deep=deep,
        against=against,
        prog=prog_name(),
        echo=click.echo,
    )


@cli.command()
@project_options
@click.argument("heads", nargs=-1)
@click.option(
    "-m",
    "--message",
    help='Message of the merge revision (default: [tool.migfix] message, else "merge heads").',
)
@click.option("--rev-id", help="Revision id for the merge revision (default: a new random id).")
@click.option("--branch-label", help="Branch label for the merge revision.")
@click.option(
    "--no-repoint",
    is_flag=True,
    help="Only write one merge revision over the current heads, like `alembic merge heads`.",
)
@upstream_options
@dry_run_option
@json_option
@verify_option
@postgres_option
@click.option("--strict", is_flag=True, help="Write nothing when both sides change the same table.")
@each_project
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
    from migfix.commands import merge as writecmds

    project = _project(config, name, versions, recursive)
    return writecmds.merge(
        project,
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
        err=lambda text: click.echo(text, err=True),
        verify=(lambda: _verify_new(project, upstream, postgres)) if run_verify else None,
    )


def _verify_new(project: Any, upstream: str | None, postgres: bool | None = None) -> int:
    """``--verify`` after merge/rebase: ``migfix verify --only-new`` on the result."""
    from migfix.db import verify as verifying
    from migfix.read.graph import read_graph

    result = verifying.verify(
        project, read_graph(project), mode="only-new", upstream=upstream, postgres=postgres
    )
    return _print_verified(project, result)


def _print_verified(project: Project, result: VerifyResult) -> int:
    """Print a verify result: the failure on stderr (exit 1), else the summary."""
    from migfix.db import verify as verifying

    if result.choice:
        click.echo(result.choice, err=True)
    if result.failure is not None:
        click.echo(f"migfix: {verifying.failure_text(project, result)}", err=True)
        return EXIT_PROBLEMS
    click.echo(verifying.summary_text(result))
    return EXIT_OK


@cli.group()
def hook() -> None:
    """Install, remove or inspect the git hooks that fix heads after merges."""
    from migfix.write import txn

    txn.recover(Path.cwd())


_hook_types = click.option(
    "--hook-type",
    "hook_types",
    multiple=True,
    type=click.Choice(["post-merge", "post-rewrite", "post-commit", "post-checkout"]),
    help="Only this hook (repeatable; default: post-merge, post-rewrite, post-commit and "
    "post-checkout).",
)


def _hook_project(f: Any) -> Any:
    """-c/-n/-d of `hook install`: the project to record in the hook script."""
    f = click.option(
        "-d",
        "--directory",
        type=click.Path(path_type=Path, file_okay=False),
        help="Watch this Flask-Migrate migrations folder too.",
    )(f)
    f = click.option("-n", "--name", help="Section of the ini file to read.")(f)
    return click.option(
        "-c",
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Watch the project of this alembic.ini or pyproject.toml too.",
    )(f)


@hook.command("install")
@_hook_types
@click.option(
    "--strategy", type=click.Choice(["merge", "rebase"]), help="Override [tool.migfix] strategy."
)
@click.option(
    "--commit/--no-commit", default=None, help="Commit the fix (default: [tool.migfix] commit)."
)
@click.option(
    "--always",
    is_flag=True,
    help="Check heads after every merge, not only when migrations changed.",
)
@click.option("--force", is_flag=True, help="Replace migfix hooks even if edited by hand.")
@_hook_project
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
    from migfix.git.gitops import find_repo
    from migfix.hook import install as hooks
    from migfix.hook.run import Watch, watch_lines
    from migfix.hook.script import HOOK_TYPES

    meta = click.get_current_context().meta
    watch = Watch.choose(
        Path.cwd(),
        config or meta.get(CONFIG_KEY),
        name or meta.get(NAME_KEY),
        directory or meta.get(DIRECTORY_KEY),
    )
    types = hook_types or HOOK_TYPES
    for line in hooks.install(
        Path.cwd(),
        hook_types=types,
        strategy=strategy,
        commit=commit,
        always=always,
        force=force,
        watch=watch.args() if watch else (),
    ):
        click.echo(line)
    from migfix.write import heads_lock_files

    for line in heads_lock_files.install_driver(Path.cwd()):
        click.echo(line)
    for line in watch_lines(find_repo(Path.cwd()) or Path.cwd(), watch):
        click.echo(line)
    return EXIT_OK


@hook.command("uninstall")
@_hook_types
@click.option("--force", is_flag=True, help="Remove migfix hooks even if edited by hand.")
def hook_uninstall(hook_types: tuple[str, ...], force: bool) -> int:
    """Remove migfix's hooks and restore any hook they had chained."""
    from migfix.hook import install as hooks
    from migfix.hook.script import HOOK_TYPES

    for line in hooks.uninstall(Path.cwd(), hook_types or HOOK_TYPES, force=force):
        click.echo(line)
    if not hook_types:
        from migfix.write import heads_lock_files

        for line in heads_lock_files.uninstall_driver(Path.cwd()):
            click.echo(line)
    return EXIT_OK


@hook.command("status")
@json_option
def hook_status(as_json: bool) -> int:
    """Show which hooks are installed, where, and with which interpreter."""
    from migfix.git.gitops import find_repo
    from migfix.hook import install as hooks
    from migfix.hook.run import Watch, watch_lines, watch_report
    from migfix.report import formats as report

    states = hooks.status(Path.cwd())
    repo = find_repo(Path.cwd()) or Path.cwd()
    watch = next((w for s in states if (w := Watch.from_options(s.options))), None)
    if as_json:
        click.echo(
            report.dumps(
                {
                    "version": 1,
                    "hooks": [
                        {
                            "hook_type": s.hook_type,
                            "path": str(s.path),
                            "state": s.state,
                            "interpreter": s.interpreter,
                            "options": list(s.options),
                            "legacy": str(s.legacy) if s.legacy else None,
                        }
                        for s in states
                    ],
                    "projects": watch_report(repo, watch),
                }
            )
        )
    else:
        for s in states:
            extra = f" ({s.interpreter})" if s.interpreter else ""
            if s.options:
                extra += f" with {shlex.join(s.options)}"
            click.echo(f"{s.hook_type}: {s.state}{extra}  {s.path}")
        for line in watch_lines(repo, watch):
            click.echo(line)
    return EXIT_OK


@hook.command("run", hidden=True)
@click.argument(
    "hook_type",
    type=click.Choice(["post-merge", "post-rewrite", "post-commit", "post-checkout"]),
)
@click.option("--strategy", type=click.Choice(["merge", "rebase"]))
@click.option("--commit/--no-commit", default=None)
@click.option("--always", is_flag=True)
@click.argument("git_args", nargs=-1)
def hook_run(
    hook_type: str,
    strategy: str | None,
    commit: bool | None,
    always: bool,
    git_args: tuple[str, ...],
) -> int:
    """Called by the installed hook script; always exits 0."""
    from migfix.hook import run as hookrun

    return hookrun.run(
        hook_type, git_args, cwd=Path.cwd(), strategy=strategy, commit=commit, always=always
    )


@cli.group()
def lock() -> None:
    """Keep the heads lock (`[tool.migfix] lock = true`): a file that makes git conflict."""


@lock.command("init")
@project_options
def lock_init(
    config: Path | None, name: str | None, versions: tuple[Path, ...], recursive: bool
) -> int:
    """Add migfix to Alembic's post_write_hooks and write the first heads lock."""
    from migfix.write import heads_lock_files

    for line in heads_lock_files.init(_project(config, name, versions, recursive)):
        click.echo(line)
    return EXIT_OK


@lock.command("update")
@project_options
@click.option("--hook", "hook_file", type=click.Path(path_type=Path), hidden=True)
def lock_update(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    hook_file: Path | None,
) -> int:
    """Rewrite the heads lock to match the revision graph."""
    from migfix.plan.heads_lock import lock_path
    from migfix.write import heads_lock_files

    if hook_file is not None:
        # Alembic's post-write hook, on the file `alembic revision` just wrote.
        ctx = click.get_current_context()
        said = heads_lock_files.hook_update(
            hook_file, section=name or ctx.meta.get(NAME_KEY) or "alembic"
        )
        if said:
            click.echo(f"migfix: {said}")
        return EXIT_OK
    project = _project(config, name, versions, recursive)
    heads_lock_files.require(project, "migfix lock update")
    path = heads_lock_files.update(project)
    rel = project.relpath(lock_path(project))
    resolved = heads_lock_files.mark_resolved(project, path)
    click.echo(
        (f"updated {rel}" if path else f"{rel} is already current")
        + (f"; {resolved}" if resolved else "")
    )
    return EXIT_OK


@cli.command()
@project_options
@click.option(
    "--steps",
    "n_steps",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="After upgrading to heads, step this many revisions down and up again.",
)
@click.option(
    "--full", is_flag=True, help="base -> heads -> base -> heads, one revision at a time."
)
@click.option(
    "--only-new",
    is_flag=True,
    help="Step only the revisions new since the upstream ref up, down and up again.",
)
@click.option("--upstream", metavar="REF", help="With --only-new: the ref to compare against.")
@click.option(
    "--url",
    envvar="MIGFIX_DATABASE_URL",
    metavar="URL",
    help="Database to migrate instead of a temporary SQLite file (env: MIGFIX_DATABASE_URL).",
)
@click.option(
    "--allow-existing", is_flag=True, help="Migrate a given database even if it has tables."
)
@click.option(
    "--use-app-db",
    is_flag=True,
    help="Use the database env.py / the Flask app configures instead of a scratch one.",
)
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
    from migfix.db import verify as verifying
    from migfix.read.graph import read_graph

    if full and only_new:
        raise click.UsageError("--full and --only-new are different modes; give only one.")
    mode = "full" if full else "only-new" if only_new else "steps"
    project = _project(config, name, versions, recursive)
    result = verifying.verify(
        project,
        read_graph(project),
        mode=mode,
        steps=n_steps,
        upstream=upstream,
        url=url or None,
        allow_existing=allow_existing,
        use_app_db=use_app_db,
        # Set by `flask migfix` so the app it already loaded is used (flask_cli.py).
        load_app=ctx.meta.get(verifying.APP_LOADER_KEY),
        postgres=postgres,
    )
    return _print_verified(project, result)


@cli.command()
@project_options
@json_option
@dry_run_option
@click.option(
    "--onto",
    "onto",
    required=True,
    metavar="REF",
    help="Git revision to put this branch's migrations on top of (origin/main, main, a sha).",
)
@click.option(
    "--drop-merges",
    is_flag=True,
    help="Delete this branch's merge revisions that only joined REF's history.",
)
@upstream_options
@verify_option
@postgres_option
@click.option("--strict", is_flag=True, help="Write nothing when both sides change the same table.")
@fetch_option
@each_project
def rebase(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    dry_run: bool,
    onto: str,
    drop_merges: bool,
    upstream: str | None,
    new: tuple[str, ...],
    run_verify: bool,
    postgres: bool | None,
    strict: bool,
    fetch: bool,
) -> int:
    """Re-root this branch's migrations onto REF's head (read from git, no checkout)."""
    from migfix.commands.rebase import rebase as run

    project = _project(config, name, versions, recursive)
    _current_ref(project, onto, fetch)
    return run(
        project,
        onto=onto,
        drop_merges=drop_merges,
        upstream=upstream,
        new=new,
        dry_run=dry_run,
        as_json=as_json,
        strict=strict,
        echo=click.echo,
        err=lambda line: click.echo(line, err=True),
        verify=(lambda: _verify_new(project, onto, postgres)) if run_verify else None,
    )


def _current_ref(project: Project, ref: str, fetch: bool) -> None:
    from migfix.plan.against import current_ref

    stale = current_ref(project, ref, fetch=fetch)
    if stale:
        click.echo(f"migfix: {stale}", err=True)


cli.add_command(db_group)
cli.add_command(ci_group)


def main(argv: list[str] | None = None) -> int:
    """Entry point: never lets a traceback reach the user."""
    try:
        rv = cli.main(args=argv, prog_name="migfix", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except MigfixError as exc:
        click.echo(f"migfix: {exc.message}", err=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        # Ctrl-C, SIGTERM or SIGHUP (migfix.write.txn raises those while writing, after undoing).
        from migfix.write.lock import interrupted_line

        text, code = interrupted_line(exc)
        click.echo(f"migfix: {text}", err=True)
        return code
    except OSError as exc:
        # A full disk, a read-only mount, an immutable file: not a bug, and writes are
        # all-or-nothing, so nothing was changed.
        from migfix.report.oserrors import describe

        click.echo(f"migfix: {describe(exc)}", err=True)
        return EXIT_USAGE
    except Exception as exc:  # pragma: no cover - last line of defence
        if os.environ.get("MIGFIX_DEBUG"):
            raise
        click.echo(
            f"migfix: internal error: {type(exc).__name__}: {exc}. This is a bug in migfix; "
            "run again with MIGFIX_DEBUG=1 for the traceback and report it.",
            err=True,
        )
        return EXIT_USAGE
    return rv if isinstance(rv, int) else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
