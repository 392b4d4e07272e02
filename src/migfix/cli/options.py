"""Every click option of migfix, declared once (pip-tools' ``options.py``).

The commands in :mod:`migfix.cli.main` and :mod:`migfix.cli.db` only stack these. An option
that several commands spell alike but explain in their own words (``--strict``,
``--upstream``, ``--format``...) is one factory here taking its help text. The options the
click-free hook runner parses too (``-c/-n/-d``, ``--strategy``, ``--commit``,
``--always``) are built from :mod:`migfix.commands.options`, which both parsers read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from migfix.commands import options as declared

F = TypeVar("F", bound=Callable[..., Any])

# ``ctx.meta`` keys of -d (or the folder ``flask migfix`` knows), of -c/-n given before the
# command (``migfix -c x.ini heads``), and of --all: kept out of the commands' parameters so
# every command taking ``project_options`` gets them; ``every_project`` reads them.
DIRECTORY_KEY = "migfix.directory"
CONFIG_KEY = "migfix.config"
NAME_KEY = "migfix.name"
ALL_KEY = "migfix.all"


def _store(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    # ``meta`` is shared by a context and its parents, so a value set by a parent group
    # (``flask migfix``) is seen here, and an explicit value wins over it.
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.meta[key] = value

    return callback


def from_declared(opt: declared.Option, **kwargs: Any) -> Callable[[F], F]:
    """The click option of OPT; KWARGS as ``click.option``'s."""
    if opt.negative is not None:
        kwargs.setdefault("default", None)
        return click.option(f"{opt.long}/{opt.negative}", opt.dest, **kwargs)
    if not opt.takes_value:
        kwargs.setdefault("is_flag", True)
    elif opt.choices:
        kwargs.setdefault("type", click.Choice(opt.choices))
    return click.option(*opt.names, opt.dest, **kwargs)


def _stack(f: F, *decorators: Callable[[F], F]) -> F:
    """Apply DECORATORS so that ``--help`` lists them in the order given."""
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


_CONFIG_TYPE = click.Path(path_type=Path, dir_okay=False)
_DIRECTORY_TYPE = click.Path(path_type=Path, file_okay=False)


def config_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    return from_declared(declared.CONFIG, type=_CONFIG_TYPE, help=help, **kwargs)


def name_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    return from_declared(declared.NAME, help=help, **kwargs)


def directory_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    return from_declared(declared.DIRECTORY, type=_DIRECTORY_TYPE, help=help, **kwargs)


def _meta_only(key: str) -> dict[str, Any]:
    return {"expose_value": False, "callback": _store(key)}


_DIRECTORY_HELP = "Flask-Migrate migrations folder (holding env.py), like `flask db -d`."


def global_project_options(f: F) -> F:
    """``-c``, ``-n`` and ``-d`` before the command too, where ``alembic`` takes them, so
    ``migfix -c alembic.ini heads`` works wherever ``alembic -c alembic.ini heads`` did.
    A value given after the command wins."""
    return _stack(
        f,
        config_option(
            "alembic.ini or pyproject.toml to use, like `alembic -c`.", **_meta_only(CONFIG_KEY)
        ),
        name_option("Section of the ini file to read, like `alembic -n`.", **_meta_only(NAME_KEY)),
        directory_option(_DIRECTORY_HELP, **_meta_only(DIRECTORY_KEY)),
    )


def project_options(f: F) -> F:
    """How to find the Alembic project: like ``alembic -c/-n``, or bare directories."""
    return _stack(
        f,
        config_option("alembic.ini or pyproject.toml to use (default: search upward from here)."),
        name_option(
            "Section of the ini file to read, like `alembic -n` (default: alembic).", default=None
        ),
        directory_option(_DIRECTORY_HELP, **_meta_only(DIRECTORY_KEY)),
        click.option(
            "--versions",
            "versions",
            multiple=True,
            type=_DIRECTORY_TYPE,
            help="Read revision files from this directory, without any config (repeatable).",
        ),
        click.option(
            "--recursive",
            is_flag=True,
            help="With --versions: also read sub-directories (recursive_version_locations).",
        ),
        click.option(
            "--all",
            "all_projects",
            is_flag=True,
            default=None,
            help="Every Alembic project in the repository, not only the one here.",
            **_meta_only(ALL_KEY),
        ),
    )


def watch_options(f: F) -> F:
    """-c/-n/-d of ``hook install``: a project to record in the hook script."""
    return _stack(
        f,
        config_option("Watch the project of this alembic.ini or pyproject.toml too."),
        name_option("Section of the ini file to read."),
        directory_option("Watch this Flask-Migrate migrations folder too."),
    )


# -- what commands print ---------------------------------------------------------------------

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for tools.")


def format_option(
    choices: Sequence[str], help: str, default: str | None = None
) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        help=help,
    )


verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Show each head in full, like `alembic heads -v`."
)


def full_option(help: str) -> Callable[[F], F]:
    return click.option("--full", is_flag=True, help=help)


near_option = click.option(
    "--near",
    type=click.IntRange(min=0),
    metavar="N",
    help="In a picture, only revisions up to N parents away from the (unintended) heads.",
)
deep_option = click.option(
    "--deep",
    is_flag=True,
    hidden=True,
    help="No effect: every file is compiled in full by default (kept for old scripts).",
)


# -- which revisions, which ref --------------------------------------------------------------


def upstream_option(help: str) -> Callable[[F], F]:
    return click.option("--upstream", metavar="REF", help=help)


fetch_option = click.option(
    "--fetch",
    is_flag=True,
    help="First `git fetch` the remote branch REF names (origin/main), so it is current.",
)


def against_option(help: str) -> Callable[[F], F]:
    return click.option("--against", metavar="REF", help=help)


def upstream_options(f: F) -> F:
    """Which revisions are new (may be rewritten): see ``migfix.plan.settled``."""
    return _stack(
        f,
        upstream_option(
            "Revisions on this git ref are settled and never rewritten "
            "(default: [tool.migfix] upstream, else @{upstream}, origin/HEAD, main, master)."
        ),
        click.option(
            "--new",
            "new",
            multiple=True,
            metavar="REV",
            help="Treat this revision as new, i.e. migfix may rewrite it (repeatable).",
        ),
    )


onto_option = click.option(
    "--onto",
    "onto",
    required=True,
    metavar="REF",
    help="Git revision to put this branch's migrations on top of (origin/main, main, a sha).",
)
drop_merges_option = click.option(
    "--drop-merges",
    is_flag=True,
    help="Delete this branch's merge revisions that only joined REF's history.",
)


# -- what a write does -----------------------------------------------------------------------


def dry_run_option(
    help: str = "Print a diff of what would change; write nothing (exit 1 if changes are needed).",
) -> Callable[[F], F]:
    return click.option("--dry-run", is_flag=True, help=help)


def strict_option(help: str) -> Callable[[F], F]:
    return click.option("--strict", is_flag=True, help=help)


STRICT_OVERLAP = "Write nothing when both sides change the same table."


def merge_revision_options(f: F) -> F:
    """What the merge revision is called: its message, id and branch label."""
    return _stack(
        f,
        click.option(
            "-m",
            "--message",
            help="Message of the merge revision "
            '(default: [tool.migfix] message, else "merge heads").',
        ),
        click.option(
            "--rev-id", help="Revision id for the merge revision (default: a new random id)."
        ),
        click.option("--branch-label", help="Branch label for the merge revision."),
        click.option(
            "--no-repoint",
            is_flag=True,
            help="Only write one merge revision over the current heads, "
            "like `alembic merge heads`.",
        ),
    )


# -- running migrations ----------------------------------------------------------------------

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


def url_option(help: str) -> Callable[[F], F]:
    return click.option("--url", envvar="MIGFIX_DATABASE_URL", metavar="URL", help=help)


def verify_mode_options(f: F) -> F:
    """How much ``verify`` steps: a few steps, everything, or only the new revisions."""
    return _stack(
        f,
        click.option(
            "--steps",
            "n_steps",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="After upgrading to heads, step this many revisions down and up again.",
        ),
        full_option("base -> heads -> base -> heads, one revision at a time."),
        click.option(
            "--only-new",
            is_flag=True,
            help="Step only the revisions new since the upstream ref up, down and up again.",
        ),
        upstream_option("With --only-new: the ref to compare against."),
    )


def verify_database_options(f: F) -> F:
    """Which database ``verify`` migrates."""
    return _stack(
        f,
        url_option(
            "Database to migrate instead of a temporary SQLite file (env: MIGFIX_DATABASE_URL)."
        ),
        click.option(
            "--allow-existing", is_flag=True, help="Migrate a given database even if it has tables."
        ),
        click.option(
            "--use-app-db",
            is_flag=True,
            help="Use the database env.py / the Flask app configures instead of a scratch one.",
        ),
    )


def db_sync_options(f: F) -> F:
    """``migfix db sync``: show the SQL, ask or not, or only record the database's state."""
    return _stack(
        f,
        click.option(
            "--sql", is_flag=True, help="With --dry-run: print the SQL Alembic would emit."
        ),
        click.option("--yes", "-y", is_flag=True, help="Do not ask before changing the database."),
        click.option(
            "--already-in-step",
            is_flag=True,
            help="This database was created or upgraded after the move and ran every revision "
            "in the new order: record that, run nothing.",
        ),
    )


# -- hooks -----------------------------------------------------------------------------------

hook_types_option = click.option(
    "--hook-type",
    "hook_types",
    multiple=True,
    type=click.Choice(declared.HOOK_TYPES),
    help="Only this hook (repeatable; default: post-merge, post-rewrite, post-commit and "
    "post-checkout).",
)


def force_option(help: str) -> Callable[[F], F]:
    return click.option("--force", is_flag=True, help=help)


def hook_behaviour_options(f: F) -> F:
    """``--strategy``, ``--commit/--no-commit`` and ``--always``: what ``hook install``
    records and ``hook run`` (or ``python -m migfix.hookrun``) reads back."""
    return _stack(
        f,
        from_declared(declared.STRATEGY, help="Override [tool.migfix] strategy."),
        from_declared(declared.COMMIT, help="Commit the fix (default: [tool.migfix] commit)."),
        from_declared(
            declared.ALWAYS,
            help="Check heads after every merge, not only when migrations changed.",
        ),
    )


# -- ci ----------------------------------------------------------------------------------------


_ci_base_option = click.option(
    "--base",
    metavar="REF",
    help="The branch the pull request merges into, e.g. origin/main (default: "
    "<remote>/GITHUB_BASE_REF or <remote>/CI_MERGE_REQUEST_TARGET_BRANCH_NAME).",
)
_ci_remote_option = click.option(
    "--remote", default="origin", show_default=True, help="The remote to fetch and push."
)


def ci_fix_options(f: F) -> F:
    """``migfix ci fix``: which pull request, how to fix it, where the fix goes."""
    return _stack(
        f,
        _ci_base_option,
        from_declared(
            declared.STRATEGY,
            default="rebase",
            show_default=True,
            help="rebase: re-root the branch's revisions onto the base's head; merge: add a "
            "merge revision.",
        ),
        click.option(
            "--branch",
            metavar="NAME",
            help="The pull request's branch, pushed to (default: GITHUB_HEAD_REF, "
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME, else the checked-out branch).",
        ),
        _ci_remote_option,
        click.option(
            "--push/--no-push",
            default=True,
            help="Push the fix to the branch (--no-push: only write the patch, e.g. for a fork).",
        ),
        click.option(
            "--patch",
            type=click.Path(path_type=Path, dir_okay=False),
            default="migfix-fix.patch",
            show_default=True,
            help="Where to write the fix as a patch when it cannot be pushed.",
        ),
        click.option(
            "--summary",
            type=click.Path(path_type=Path, dir_okay=False),
            envvar="GITHUB_STEP_SUMMARY",
            help="Append a Markdown report with Mermaid pictures before and after to this file "
            "(env: GITHUB_STEP_SUMMARY).",
        ),
    )


def ci_untouched_options(f: F) -> F:
    """``migfix ci untouched REV``: the pull request's commit and the base it left."""
    return _stack(f, click.argument("rev", metavar="REV"), _ci_base_option, _ci_remote_option)


post_write_hook_option = click.option(
    "--hook", "hook_file", type=click.Path(path_type=Path), hidden=True
)
"""``lock update --hook FILE``: how Alembic's post_write_hooks call migfix (see heads_lock)."""
