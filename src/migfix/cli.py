"""The command line: parse, call one library function, print, return an exit code.

Every error a user can act on is a ``MigfixError``; ``main`` turns it into one
paragraph on stderr and exit code 2. Nothing else prints a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from migfix import __version__
from migfix.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, MigfixError
from migfix.options import dry_run_option, json_option, project_options


def _project(config: Path | None, name: str, versions: tuple[Path, ...], recursive: bool) -> Any:
    from migfix.config import find_project

    return find_project(
        Path.cwd(), config=config, name=name, versions=versions, recursive=recursive
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migfix")
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
def heads(
    config: Path | None,
    name: str,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    verbose: bool,
) -> int:
    """Show the current heads, like `alembic heads` (exit 1 if some are unintended)."""
    from migfix import report
    from migfix.graph import read_graph

    project = _project(config, name, versions, recursive)
    graph = read_graph(project)
    if as_json:
        click.echo(report.dumps(report.heads_json(project, graph)))
    else:
        text = report.heads_text(graph, verbose=verbose)
        if text:
            click.echo(text)
    return EXIT_PROBLEMS if graph.unintended_heads() else EXIT_OK


@cli.command()
@project_options
@json_option
def graph(
    config: Path | None, name: str, versions: tuple[Path, ...], recursive: bool, as_json: bool
) -> int:
    """Show every revision as a tree (or JSON): where branches diverge and merge."""
    from migfix import report
    from migfix.graph import read_graph

    project = _project(config, name, versions, recursive)
    g = read_graph(project)
    if as_json:
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
    "--deep", is_flag=True, help="Also parse every file in full, to find syntax errors anywhere."
)
@click.option(
    "--against",
    metavar="REF",
    help="Check what merging this branch into REF would give (REF's revisions plus this branch's).",
)
def check(
    config: Path | None,
    name: str,
    versions: tuple[Path, ...],
    recursive: bool,
    fmt: str,
    strict: bool,
    deep: bool,
    against: str | None,
) -> int:
    """Report every problem of the revision graph at once (exit 1 if any)."""
    from migfix import report
    from migfix.graph import read_graph

    project = _project(config, name, versions, recursive)
    if against:
        from migfix.against import graph_against

        g = graph_against(project, against)
    else:
        g = read_graph(project)
    problems = g.problems()
    if deep:
        from migfix.graph import deep_problems

        problems.extend(deep_problems(g.files))
    failing = [p for p in problems if p.severity == "error" or strict]
    ok = not failing
    if fmt == "json":
        click.echo(report.dumps(report.problems_json(project, g, problems, ok)))
    elif fmt == "github":
        text = report.problems_github(project, problems)
        if text:
            click.echo(text)
    else:
        if problems:
            click.echo(report.problems_text(project, problems))
        hint = ""
        if any(p.code == "multiple-heads" for p in failing):
            hint = "; run `migfix merge` to join the heads"
        click.echo(report.summary(problems, g) + hint)
    return EXIT_OK if ok else EXIT_PROBLEMS


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
def rebase(
    config: Path | None,
    name: str,
    versions: tuple[Path, ...],
    recursive: bool,
    as_json: bool,
    dry_run: bool,
    onto: str,
    drop_merges: bool,
) -> int:
    """Re-root this branch's migrations onto REF's head (read from git, no checkout)."""
    from migfix import rebase as rebase_mod
    from migfix import report

    project = _project(config, name, versions, recursive)
    plan = rebase_mod.plan_onto(project, onto, drop_merges=drop_merges)
    if dry_run:
        if as_json:
            click.echo(report.dumps(plan.to_json()))
        else:
            click.echo(rebase_mod.diff(plan), nl=False)
            click.echo(rebase_mod.render(plan))
        return EXIT_PROBLEMS if plan.changed else EXIT_OK
    rebase_mod.apply(plan)
    click.echo(report.dumps(plan.to_json()) if as_json else rebase_mod.render(plan))
    return EXIT_OK


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
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
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
