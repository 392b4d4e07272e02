"""click options shared by several commands, declared once (pip-tools style)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DIRECTORY_KEY = "migfix.directory"
"""``ctx.meta`` key of the migrations folder given with ``-d`` (or by ``flask migfix``).

Kept in ``ctx.meta`` instead of a parameter so that every command taking
``project_options`` gets it without a new argument; ``cli._project`` reads it.
"""


def _store_directory(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    # ``meta`` is shared by a context and its parents, so a value set by a parent group
    # (``flask migfix``) is seen here, and an explicit -d wins over it.
    if value is not None:
        ctx.meta[DIRECTORY_KEY] = value


CONFIG_KEY = "migfix.config"
NAME_KEY = "migfix.name"
"""``ctx.meta`` keys of ``-c``/``-n`` given before the command (``migfix -c x.ini heads``)."""


def _store(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.meta[key] = value

    return callback


ALL_KEY = "migfix.all"
"""``ctx.meta`` key of ``--all``: every project in the repository (see migfix.cli.every_project)."""


def global_project_options(f: F) -> F:
    """``-c``, ``-n`` and ``-d`` before the command too, where ``alembic`` takes them, so
    ``migfix -c alembic.ini heads`` works wherever ``alembic -c alembic.ini heads`` did.
    A value given after the command wins."""
    f = click.option(
        "-d",
        "--directory",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=_store_directory,
        help="Flask-Migrate migrations folder (holding env.py), like `flask db -d`.",
    )(f)
    f = click.option(
        "-n",
        "--name",
        expose_value=False,
        callback=_store(NAME_KEY),
        help="Section of the ini file to read, like `alembic -n`.",
    )(f)
    f = click.option(
        "-c",
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_store(CONFIG_KEY),
        help="alembic.ini or pyproject.toml to use, like `alembic -c`.",
    )(f)
    return f


def project_options(f: F) -> F:
    """How to find the Alembic project: like ``alembic -c/-n``, or bare directories."""
    f = click.option(
        "--all",
        "all_projects",
        is_flag=True,
        default=None,
        expose_value=False,
        callback=_store(ALL_KEY),
        help="Every Alembic project in the repository, not only the one here.",
    )(f)
    f = click.option(
        "--recursive",
        is_flag=True,
        help="With --versions: also read sub-directories (recursive_version_locations).",
    )(f)
    f = click.option(
        "--versions",
        "versions",
        multiple=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Read revision files from this directory, without any config (repeatable).",
    )(f)
    f = click.option(
        "-d",
        "--directory",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=_store_directory,
        help="Flask-Migrate migrations folder (holding env.py), like `flask db -d`.",
    )(f)
    f = click.option(
        "-n",
        "--name",
        default=None,
        help="Section of the ini file to read, like `alembic -n` (default: alembic).",
    )(f)
    f = click.option(
        "-c",
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        help="alembic.ini or pyproject.toml to use (default: search upward from here).",
    )(f)
    return f


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for tools.")
fetch_option = click.option(
    "--fetch",
    is_flag=True,
    help="First `git fetch` the remote branch REF names (origin/main), so it is current.",
)
dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Print a diff of what would change; write nothing (exit 1 if changes are needed).",
)
verify_option = click.option(
    "--verify", "run_verify", is_flag=True, help="Run `migfix verify --only-new` afterwards."
)
postgres_option = click.option(
    "--postgres/--sqlite",
    "postgres",
    default=None,
    help="Verify on a throw-away PostgreSQL server (pip install 'migfix[postgres]') or on "
    "SQLite (default: PostgreSQL when the project's configured database is PostgreSQL and "
    "the extra is installed).",
)


def upstream_options(f: F) -> F:
    """Which revisions are new (may be rewritten): see ``migfix.plan.settled``."""
    f = click.option(
        "--new",
        "new",
        multiple=True,
        metavar="REV",
        help="Treat this revision as new, i.e. migfix may rewrite it (repeatable).",
    )(f)
    f = click.option(
        "--upstream",
        metavar="REF",
        help="Revisions on this git ref are settled and never rewritten "
        "(default: [tool.migfix] upstream, else @{upstream}, origin/HEAD, main, master).",
    )(f)
    return f


def ci_fix_options(f: F) -> F:
    """``migfix ci fix``: which pull request, how to fix it, where the fix goes."""
    f = click.option(
        "--summary",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="GITHUB_STEP_SUMMARY",
        help="Append a Markdown report with Mermaid pictures before and after to this file "
        "(env: GITHUB_STEP_SUMMARY).",
    )(f)
    f = click.option(
        "--patch",
        type=click.Path(path_type=Path, dir_okay=False),
        default="migfix-fix.patch",
        show_default=True,
        help="Where to write the fix as a patch when it cannot be pushed.",
    )(f)
    f = click.option(
        "--push/--no-push",
        default=True,
        help="Push the fix to the branch (--no-push: only write the patch, e.g. for a fork).",
    )(f)
    f = click.option(
        "--remote", default="origin", show_default=True, help="The remote to fetch and push."
    )(f)
    f = click.option(
        "--branch",
        metavar="NAME",
        help="The pull request's branch, pushed to (default: GITHUB_HEAD_REF, "
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME, else the checked-out branch).",
    )(f)
    f = click.option(
        "--strategy",
        type=click.Choice(["rebase", "merge"]),
        default="rebase",
        show_default=True,
        help="rebase: re-root the branch's revisions onto the base's head; merge: add a merge "
        "revision.",
    )(f)
    f = click.option(
        "--base",
        metavar="REF",
        help="The branch the pull request merges into, e.g. origin/main (default: "
        "<remote>/GITHUB_BASE_REF or <remote>/CI_MERGE_REQUEST_TARGET_BRANCH_NAME).",
    )(f)
    return f
