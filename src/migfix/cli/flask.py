"""``flask migfix ...``: migfix's own commands inside a Flask app's command line.

Registered through the ``flask.commands`` entry point (pyproject.toml), so a Flask
user types ``flask migfix merge`` like ``flask db merge``. The commands are the very
click objects of :mod:`migfix.cli.main`; this group only adds what Flask knows and migfix
cannot find statically:

* the app's migrations folder (``Migrate(app, db, directory=...)``), handed to
  ``cli._project`` through ``ctx.meta[DIRECTORY_KEY]`` like ``-d`` (which still wins);
* the already-loaded app, handed to ``verify`` through ``ctx.meta[APP_LOADER_KEY]``.

Flask runs its groups in click's standalone mode, which ignores return values; the
group turns migfix's exit codes and errors into ``ctx.exit`` as ``cli.main`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup, ScriptInfo

from migfix.cli import main as cli
from migfix.cli.options import DIRECTORY_KEY
from migfix.db.verify import APP_LOADER_KEY
from migfix.errors import ConfigError, MigfixError


class MigfixAppGroup(AppGroup):
    """An AppGroup that reports MigfixError and exit codes like ``migfix`` itself."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            rv = super().invoke(ctx)
        except MigfixError as exc:
            click.echo(f"migfix: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:  # as cli.main: one line, exit 128 + signal
            from migfix.write.lock import interrupted_line

            text, code = interrupted_line(exc)
            click.echo(f"migfix: {text}", err=True)
            ctx.exit(code)
        if isinstance(rv, int) and rv:
            ctx.exit(rv)
        return rv


@click.group(cls=MigfixAppGroup)
@click.pass_context
def migfix_group(ctx: click.Context) -> None:
    """Find and fix Alembic "multiple heads" in this app's migrations (migfix)."""
    info = ctx.ensure_object(ScriptInfo)
    app = info.load_app()
    ext = app.extensions.get("migrate")
    if ext is None:
        raise ConfigError(
            f"The Flask app '{app.name}' has no Flask-Migrate extension, so migfix cannot "
            "tell where its migrations are. Create Migrate(app, db) in the app, or run "
            "`migfix` directly with -c / -d."
        )
    # Flask-Migrate resolves its directory against the current directory, as we do.
    ctx.meta[DIRECTORY_KEY] = Path(ext.directory)
    ctx.meta[APP_LOADER_KEY] = info.load_app


for _name, _command in cli.cli.commands.items():
    migfix_group.add_command(_command, _name)
