"""``flask migfix ...``: migfix's own commands inside a Flask app's command line.

Registered through the ``flask.commands`` entry point (pyproject.toml), so a Flask
user types ``flask migfix merge`` like ``flask db merge``. The commands are the very
click objects of :mod:`migfix.cli.main`; this group only adds what Flask knows and migfix
cannot find statically:

* the app's migrations folder (``Migrate(app, db, directory=...)``), handed to
  ``every_project.project`` through ``ctx.meta[DIRECTORY_KEY]`` like ``-d`` (which still wins);
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
from migfix.cli.running import POLICY
from migfix.commands.handler import handled
from migfix.db.verify import APP_LOADER_KEY
from migfix.errors import ConfigError


class MigfixAppGroup(AppGroup):
    """An AppGroup that reports errors and exit codes like ``migfix`` itself (one handler:
    migfix.commands.handler)."""

    def invoke(self, ctx: click.Context) -> Any:
        rv = handled(lambda: super(MigfixAppGroup, self).invoke(ctx), POLICY)
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


for _name in cli.COMMANDS:
    _command = cli.cli.get_command(None, _name)
    assert _command is not None
    migfix_group.add_command(_command, _name)
