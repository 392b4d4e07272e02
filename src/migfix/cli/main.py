"""The command line: parse, call one function of :mod:`migfix.commands`, return its exit code.

Every error a user can act on is a ``MigfixError``, turned into one paragraph on stderr and
an exit code by :mod:`migfix.commands.handler` around every command (``_Group.invoke``);
``main`` adds only click's own usage errors. Each command lives in the module ``COMMANDS``
names and is imported when it runs (click's lazy subcommands), so ``heads`` and ``check``
in a git hook import only what reading needs.
"""

from __future__ import annotations

import importlib
from typing import Any, NoReturn

import click

from migfix import __version__
from migfix.cli.options import global_project_options
from migfix.cli.running import POLICY
from migfix.commands.handler import handled
from migfix.errors import EXIT_OK, EXIT_USAGE, interrupted_line
from migfix.procexit import end_quickly

COMMANDS = {
    "heads": "migfix.cli.heads:heads",
    "graph": "migfix.cli.graph:graph",
    "check": "migfix.cli.check:check",
    "merge": "migfix.cli.merge:merge",
    "rebase": "migfix.cli.rebase:rebase",
    "verify": "migfix.cli.verify:verify",
    "hook": "migfix.cli.hook:hook",
    "lock": "migfix.cli.lock:lock",
    "db": "migfix.cli.db:db",
    "ci": "migfix.cli.ci:ci",
}
"""Each command's click object, as ``module:name``, in ``--help``'s order."""


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, name = where.partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # Ctrl-C while click parses the options: no command has run, so one line and
        # 128 + signal, as at every other moment. Left to click it is a blank line,
        # "Aborted." and exit 2.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt as exc:
            exc.migfix_state = "nothing"  # type: ignore[attr-defined]
            text, code = interrupted_line(exc)
            POLICY.say(text)
            raise click.exceptions.Exit(code) from None

    def invoke(self, ctx: click.Context) -> Any:
        # Inside click: click would turn Ctrl-C into "Aborted!" after a blank line.
        return handled(lambda: super(_Group, self).invoke(ctx), POLICY)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migfix")
@global_project_options
def cli() -> None:
    """Find and fix Alembic "multiple heads" problems.

    Reads migration files statically (never imports them), merges heads through
    Alembic's own API, and re-roots a branch's migrations onto another git ref.
    """


def main(argv: list[str] | None = None) -> int:
    """Run the command line; never lets a traceback reach the user."""
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
    return rv if isinstance(rv, int) else EXIT_OK


def run() -> NoReturn:
    """The console script and ``python -m migfix``: ``main``, then a quick exit."""
    end_quickly(main)


if __name__ == "__main__":  # pragma: no cover
    run()
