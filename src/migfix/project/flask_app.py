"""A Flask-Migrate project: the migrations folder named with ``-d/--directory`` (as
``flask db -d`` takes it), or by a ``Migrate(app, db, directory=...)`` call in the app."""

from __future__ import annotations

from pathlib import Path

from migfix.errors import ConfigError
from migfix.project.ini import from_ini
from migfix.project.model import Project
from migfix.project.settings import find_settings

# Where Flask apps usually create ``Migrate(app, db, directory=...)``.
_APP_MODULES = ("app.py", "wsgi.py", "*/__init__.py", "*/app.py", "*/extensions.py")


def from_directory(directory: Path, section: str) -> Project:
    """A migrations folder named with ``-d/--directory``, as ``flask db -d`` takes it."""
    ini = directory / "alembic.ini"
    if ini.is_file():
        return from_ini(ini, section, flask=True)
    if (directory / "env.py").is_file():
        # A migrations folder without alembic.ini (copied by hand, or the ini kept
        # elsewhere): Flask-Migrate's layout still fixes versions/ beside env.py.
        return Project(
            root=directory.parent,
            version_locations=(directory / "versions",),
            config_file=None,
            ini_section=section,
            script_location=directory,
            kind="flask",
            settings=find_settings(directory.parent),
        )
    raise ConfigError(
        f"--directory {directory}: no alembic.ini or env.py there. Give the migrations "
        "folder itself (the one `flask db init` created, holding env.py and versions/)."
    )


def flask_directory(base: Path) -> Path | None:
    """The ``directory=`` of a ``Migrate(...)`` / ``migrate.init_app(...)`` call near ``base``.

    Read statically with ``ast``: importing the app would run its factory, which may
    need settings, a database, or take seconds. Only a string literal is understood;
    anything else is left to ``-d/--directory``.
    """
    for pattern in _APP_MODULES:
        for path in sorted(base.glob(pattern)):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            # Cheap filter first: parsing every package __init__ would cost more than
            # the rest of `migfix check`.
            if "Migrate" not in text:
                continue
            found = _migrate_directory(text, path)
            if found is not None:
                # Flask-Migrate resolves it against the directory `flask` runs in.
                return (base / found).absolute()
    return None


def _migrate_directory(text: str, path: Path) -> str | None:
    """The first string literal given as ``directory`` to ``Migrate`` or ``init_app``."""
    # Here, not at the top: ast is the largest module the git hook would load, and only an
    # app file that names Migrate needs it.
    import ast

    try:
        tree = ast.parse(text, str(path))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = (
            func.id
            if isinstance(func, ast.Name)
            else func.attr
            if isinstance(func, ast.Attribute)
            else None
        )
        if called not in ("Migrate", "init_app"):
            continue
        # Migrate(app, db, directory) and init_app(app, db, directory) alike.
        values = [kw.value for kw in node.keywords if kw.arg == "directory"]
        values += node.args[2:3]
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
    return None
