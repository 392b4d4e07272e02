"""Find an Alembic project and the version locations Alembic would read.

This mirrors ``alembic.config.Config`` and ``ScriptDirectory.from_config`` closely
(``%(here)s``, ``pkg:dir`` resources, ``path_separator`` / ``version_path_separator`` /
legacy splitting, ``[tool.alembic]`` in pyproject.toml, ``recursive_version_locations``)
without importing alembic: ``import alembic.script`` alone costs ~300 ms, more than
a whole ``migfix check`` is allowed to take.

One deliberate difference: Alembic resolves relative paths against the current
directory, which only works when it is run from the project root. migfix can be run
from anywhere below it, so relative paths are resolved against the directory the
user would run ``alembic`` (or ``flask db``) from: the directory of ``alembic.ini``,
or the parent of a Flask-Migrate ``migrations/`` folder.

This module decides which configuration to read; ini.py, pyproject.py and flask_app.py
read each kind, locations.py resolves the folders they name, and model.py holds the
:class:`Project` they build.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError, NoProjectFound
from migfix.project.flask_app import flask_directory, from_directory
from migfix.project.ini import from_ini
from migfix.project.model import Project
from migfix.project.pyproject import from_pyproject
from migfix.project.settings import find_settings


def find_project(
    cwd: Path,
    *,
    config: Path | None = None,
    name: str = "alembic",
    versions: Sequence[Path] = (),
    recursive: bool = False,
    directory: Path | None = None,
) -> Project:
    """Locate the project like ``alembic`` would, searching upward from ``cwd``.

    ``versions`` bypasses configuration entirely (directories read as they are);
    ``config`` names an ini file or a pyproject.toml explicitly; ``directory`` names a
    Flask-Migrate migrations folder (``flask db -d``).
    """
    # Normalised: `alembic -c ../alembic.ini` names files `migrations/../migrations/...`,
    # and every path migfix derives is compared as text with others and with git's.
    cwd = Path(os.path.normpath(cwd.absolute()))
    if directory is not None and not versions and config is None:
        return from_directory((cwd / directory).absolute(), name)
    if versions:
        return _from_versions(cwd, versions, recursive)
    if config is not None:
        return _from_config(cwd, config, name)
    return _search_upward(cwd, name)


def _from_versions(cwd: Path, versions: Sequence[Path], recursive: bool) -> Project:
    """``--versions``: the folders read as they are, with no Alembic configuration."""
    dirs = tuple((cwd / v).absolute() for v in versions)
    for d in dirs:
        if not d.is_dir():
            raise ConfigError(
                f"--versions {d}: no such directory. Give the folder that holds the "
                "revision files (usually .../versions)."
            )
    return Project(
        root=cwd,
        version_locations=dirs,
        recursive=recursive,
        kind="versions",
        settings=find_settings(cwd),
    )


def _from_config(cwd: Path, config: Path, name: str) -> Project:
    """``-c``: the ini file or pyproject.toml named."""
    config = Path(os.path.normpath((cwd / config).absolute()))  # `-c ../alembic.ini`
    if not config.is_file():
        raise ConfigError(
            f"Config file {config} does not exist. Pass the path of your alembic.ini "
            "(or pyproject.toml) with -c, or run migfix from the project directory."
        )
    if config.name == "pyproject.toml":
        return from_pyproject(config, required=True)  # type: ignore[return-value]
    return from_ini(config, name)


def _search_upward(cwd: Path, name: str) -> Project:
    """The first configuration at or above CWD, up to the repository's root."""
    for d in (cwd, *cwd.parents):
        found = _configured_in(d, name)
        if found is not None:
            return found
        if (d / ".git").exists():
            # The repository root bounds the search: a config above it belongs to
            # some other project.
            break
    if d == cwd and (d / ".git").exists():
        # Started at the repository root (a monorepo root, say): there were no parents.
        where = f"{cwd} (the root of its git repository; migfix does not look above it)"
    elif d == cwd:
        where = str(cwd)
    else:
        where = f"{cwd} and its parents up to {d}"
    raise NoProjectFound(
        "No Alembic project found: looked for alembic.ini, pyproject.toml with "
        f"[tool.alembic] and migrations/alembic.ini in {where}. Run migfix from your "
        "project, or pass "
        "-c path/to/alembic.ini, or --versions path/to/versions."
    )


def _configured_in(d: Path, name: str) -> Project | None:
    """The project configured in folder D, in the order Alembic and Flask-Migrate look."""
    ini = d / "alembic.ini"
    if ini.is_file():
        return from_ini(ini, name)
    pyproject = d / "pyproject.toml"
    if pyproject.is_file():
        found = from_pyproject(pyproject, required=False)
        if found is not None:
            return found
    custom = flask_directory(d)
    if custom is not None and (custom / "alembic.ini").is_file():
        return from_ini(custom / "alembic.ini", name, app_dir=d, flask=True)
    flask_ini = d / "migrations" / "alembic.ini"
    if flask_ini.is_file():
        return from_ini(flask_ini, name, flask=(flask_ini.parent / "env.py").is_file())
    return None


def _ini_escape(value: str) -> str:
    # Config.set_main_option goes through ConfigParser interpolation: % must be doubled.
    return value.replace("%", "%%")


def alembic_config(project: Project) -> Any:
    """An ``alembic.config.Config`` for the project, as ``alembic``/``flask db`` build it,
    with the locations migfix resolved (imports alembic: only for merge and verify)."""
    from argparse import Namespace

    from alembic.config import Config

    cfg = Config(
        file_=str(project.config_file) if project.config_file else None,
        toml_file=str(project.toml_file) if project.toml_file else None,
        ini_section=project.ini_section,
        # quiet: Alembic would announce the scratch path it renders into.
        cmd_opts=Namespace(quiet=True),
    )
    if project.script_location is not None:
        # Relative script_location values are relative to where alembic is run; migfix
        # may run from a sub-directory, so hand Alembic the resolved folder.
        cfg.set_main_option("script_location", _ini_escape(str(project.script_location)))
    if project.kind != "versions":
        locations = [str(p) for p in project.version_locations]
        cfg.set_main_option("path_separator", "newline")
        cfg.set_main_option("version_locations", _ini_escape("\n".join(locations)))
    return cfg
