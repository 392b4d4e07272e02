"""``migfix db guard init``: add the guard (:mod:`migfix.db.guard`) to a project's env.py,
or show the lines to paste.

Kept apart from the guard itself, which env.py imports in every ``alembic`` command: the
writer and its errors are not needed there.
"""

from __future__ import annotations

import re
from pathlib import Path

from migfix.errors import ConfigError, Refusal
from migfix.project.model import Project
from migfix.write.fileio import atomic_write, decode_source

IMPORT_LINE = "from migfix.db.guard import check as migfix_guard"
CALL = "migfix_guard(context)"
_COMMENT = "  # migfix db guard: stop an upgrade that would skip moved revisions"


def env_py(project: Project) -> Path:
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
