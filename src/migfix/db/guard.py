"""The opt-in guard for env.py: a plain ``alembic upgrade`` stops on a database a move skipped.

``alembic upgrade`` / ``flask db upgrade`` on a database that ran R before R was re-rooted
onto S does nothing, silently: S never runs there. With the guard in env.py (one import and
one call after ``context.configure(...)``, added by ``migfix db guard init``), such an
upgrade stops with one paragraph naming what never ran and the command that runs it
(``migfix db upgrade``). It finds moves as ``db status`` does (the moves journal, and HEAD's
reflog in a clone where no migfix hook ever ran) and reads ``alembic_version`` through the
connection env.py just opened.

It acts only on Alembic's own ``upgrade`` command (migfix's sync and upgrade run their own
steps), never outside git, and never because of its own failure: anything unexpected lets
the upgrade go on. ``MIGFIX_NO_GUARD=1`` skips it. It runs inside every ``alembic``
command, so it imports migfix's own modules only once it knows this is an upgrade.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migfix.project.model import Project

IMPORT_LINE = "from migfix.db.guard import check as migfix_guard"
CALL = "migfix_guard(context)"
_COMMENT = "  # migfix db guard: stop an upgrade that would skip moved revisions"


def check(context: Any) -> None:
    """Call in env.py right after ``context.configure(connection=...)``.

    Raises Alembic's ``CommandError`` (printed by ``alembic`` and Flask-Migrate as one
    line, exit 1) when this is an ``upgrade`` and the database is out of step with a move.
    """
    if os.environ.get("MIGFIX_NO_GUARD"):
        return
    try:
        message = _out_of_step(context.get_context())
    except Exception:  # the guard never blocks an upgrade because of itself
        return
    if message:
        from alembic.util import CommandError

        raise CommandError(message)


def _out_of_step(mc: Any) -> str | None:
    fn = mc.opts.get("fn")
    if getattr(fn, "__module__", "") != "alembic.command" or fn.__name__ != "upgrade":
        return None
    script = mc.script
    if script is None or mc.connection is None:
        return None
    from migfix.git import gitops
    from migfix.write import moves as journal
    from migfix.write import moves_seen

    dirs = [Path(p) for p in script._version_locations]
    repo = gitops.find_repo(Path(script.dir))
    if repo is None:
        return None
    moves, syncs = moves_seen.all_moves(repo, dirs)
    if not moves:
        return None  # the usual case: nothing ever moved here
    from migfix.db.connect import database_key, safe_url
    from migfix.db.sync_status import OUT_OF_STEP, analyse
    from migfix.project.config import find_project
    from migfix.read.graph import read_graph

    project = find_project(
        Path(script.dir), versions=dirs, recursive=bool(script.recursive_version_locations)
    )
    graph = read_graph(project, full=False)
    url = mc.connection.engine.url
    key = database_key(url)
    a = analyse(graph, mc.get_current_heads(), moves, [s for s in syncs if s.database == key])
    if a.state != OUT_OF_STEP:
        return None
    flask = "flask_migrate" in sys.modules
    command = "flask migfix db upgrade" if flask else "migfix db upgrade"
    moved = "; ".join(
        f"{rev} moved ({journal.ids(old)} -> {journal.ids(new)})" for rev, old, new, _ in a.moved
    )
    return (
        f"migfix: {safe_url(url)} records {journal.ids(a.recorded)}, but {moved} after "
        f"it ran there: {journal.ids(a.missing)} never ran on this database, and this upgrade "
        f"would not run them. Nothing was run. Run `{command}`, which runs them and then "
        "upgrades (or set MIGFIX_NO_GUARD=1 to upgrade without this check)."
    )


# -- migfix db guard init ---------------------------------------------------------------------


def env_py(project: Project) -> Path:
    from migfix.errors import ConfigError

    if project.script_location is None or not (project.script_location / "env.py").is_file():
        raise ConfigError(
            f"This project has no env.py (script_location: {project.script_location}), so "
            "there is nothing to guard. Run the command from the project, or pass -c / -d."
        )
    return project.script_location / "env.py"


def snippet() -> str:
    """What to paste by hand: the import at the top, the call after context.configure()."""
    return (
        f"{IMPORT_LINE}\n\n"
        "# in run_migrations_online(), right after context.configure(connection=..., ...):\n"
        f"{CALL}\n"
    )


def init(project: Project) -> tuple[Path, bool]:
    """Add the guard to the project's env.py; return the file and whether it changed.

    The import goes after ``from alembic import context``, the call before the last
    ``with context.begin_transaction():`` (run_migrations_online's, in Alembic's and
    Flask-Migrate's templates). Anything else is refused with the snippet to paste.
    """
    from migfix.errors import Refusal
    from migfix.write.fileio import atomic_write, decode_source

    path = env_py(project)
    data = path.read_bytes()
    text = decode_source(data)
    if IMPORT_LINE in text:
        return path, False
    newline = "\r\n" if "\r\n" in text else "\n"
    imports = list(re.finditer(r"^from alembic import context[ \t]*(?=\r?$)", text, re.M))
    withs = list(re.finditer(r"^([ \t]+)with context\.begin_transaction\(\):", text, re.M))
    if not imports or len(withs) < 2:
        raise Refusal(
            f"Cannot tell where the guard goes in {path}: it does not look like Alembic's or "
            "Flask-Migrate's env.py (`from alembic import context`, and a "
            "`with context.begin_transaction():` in run_migrations_online). Nothing was "
            f"changed. Add these lines by hand:\n{snippet()}"
        )
    call = withs[-1]
    text = (
        text[: call.start()]
        + f"{call.group(1)}{CALL}{_COMMENT}{newline}{newline}"
        + text[call.start() :]
    )
    imp = imports[0]
    text = text[: imp.end()] + f"{newline}{IMPORT_LINE}" + text[imp.end() :]
    atomic_write(path, text.encode("utf-8"))
    return path, True
