"""The opt-in guard for env.py: a plain ``alembic upgrade`` stops on a database a move skipped.

``alembic upgrade`` / ``flask db upgrade`` on a database that ran R before R was re-rooted
onto S does nothing, silently: S never runs there. With the guard in env.py (one import and
one call after ``context.configure(...)``, added by ``migfix db guard init``, see
:mod:`migfix.db.guard_install`), such an upgrade stops with one paragraph naming what never
ran and the command that runs it (``migfix db upgrade``). It finds moves as ``db status``
does (the moves journal, and HEAD's reflog in a clone where no migfix hook ever ran) and
reads ``alembic_version`` through the connection env.py just opened.

It acts only on Alembic's own ``upgrade`` command (migfix's sync and upgrade run their own
steps), never outside git, and never because of its own failure: anything unexpected lets
the upgrade go on. ``MIGFIX_NO_GUARD=1`` skips it.

It runs inside every ``alembic`` command, so the usual case, nothing ever moved, is decided
from git's files alone (:func:`migfix.write.nomove.nothing_moved`): no git process, and no
module beyond these few small ones. Only when a move cannot be ruled out that way does it
import what ``db status`` uses (:mod:`migfix.db.guard_moved`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic.util import CommandError  # loaded already: env.py runs inside alembic

from migfix.git.gitfiles import Unusual, locate
from migfix.write.nomove import nothing_moved


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
        raise CommandError(message)


def _out_of_step(mc: Any) -> str | None:
    fn = mc.opts.get("fn")
    if getattr(fn, "__module__", "") != "alembic.command" or fn.__name__ != "upgrade":
        return None
    script = mc.script
    if script is None or mc.connection is None:
        return None
    try:
        dirs = locate(Path(script.dir))
    except Unusual:
        repo = None  # a layout gitfiles does not read: git itself is asked
    else:
        if dirs is None:
            return None  # outside git: nothing can have moved
        if nothing_moved(dirs, [Path(p) for p in script._version_locations]):
            return None
        repo = dirs.work_tree
    # Why inside the function: it imports the graph reader and db status's analysis, which
    # the usual case (nothing moved, decided above) never needs in an alembic command.
    from migfix.db import guard_moved

    return guard_moved.refusal(mc, repo)
