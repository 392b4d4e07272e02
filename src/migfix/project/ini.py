"""A project configured by an ini file: ``alembic.ini`` (or the file named with ``-c``), its
section (``-n``), and the ``[tool.alembic]`` of a pyproject.toml beside it, which Alembic >= 1.16
reads as well."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError
from migfix.project.locations import project_from_options
from migfix.project.model import Project
from migfix.project.settings import find_settings, read_toml, settings_from


def ini_options(path: Path, section: str, *, required: bool = False) -> dict[str, str]:
    import configparser

    parser = configparser.ConfigParser({"here": path.parent.absolute().as_posix()})
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"{path}: cannot read it as an ini file ({exc}). Fix the file.") from exc
    if not parser.has_section(section):
        if required and section != "alembic":
            # Only a section named with -n must exist: Alembic itself tolerates a
            # missing [alembic] when [tool.alembic] supplies the options.
            found = ", ".join(f"[{name}]" for name in parser.sections()) or "none"
            raise ConfigError(
                f"{path} has no [{section}] section (sections: {found}). Pass -n with one "
                "of them, or leave -n out to use [alembic]."
            )
        return {}
    try:
        return {k: parser.get(section, k) for k in parser.options(section) if k != "here"}
    except configparser.Error as exc:
        raise ConfigError(f"{path}: [{section}] cannot be read ({exc}). Fix the file.") from exc


def from_ini(
    path: Path, section: str, *, app_dir: Path | None = None, flask: bool = False
) -> Project:
    """APP_DIR: the Flask app's directory, when the folder was named by its Migrate() call.

    FLASK: the ini is Flask-Migrate's (its folder was found as the Flask layout, or named
    with -d). Flask-Migrate always sets script_location to that folder, whatever the ini
    says (a copied ``script_location = migrations`` would otherwise point at
    migrations/migrations), so it is read that way here too.
    """
    opts = ini_options(path, section, required=True)
    here = path.parent
    # A pyproject.toml beside the ini may hold [tool.alembic] (Alembic >= 1.16 reads
    # both; the ini then often holds only the database URL), so script_location may
    # come from there.
    toml = here / "pyproject.toml"
    toml_opts: Mapping[str, Any] = {}
    toml_file = None
    data: dict[str, Any] = {}
    if toml.is_file():
        data = read_toml(toml)
        tool = data.get("tool", {})
        maybe = tool.get("alembic") if isinstance(tool, dict) else None
        if isinstance(maybe, dict):
            toml_opts, toml_file = maybe, toml
    flask_dir: Path | None = None
    base = here
    kind = "alembic"
    if not flask and ("script_location" in opts or "script_location" in toml_opts):
        pass
    elif flask or (here / "env.py").is_file():
        # Flask-Migrate's migrations/alembic.ini has no script_location: Flask-Migrate
        # sets it to the folder itself, relative to the app's directory.
        flask_dir = here
        # Migrate(directory="db/migs") is relative to the app's directory, not to db/.
        base = app_dir or here.parent
        kind = "flask"
    else:
        raise ConfigError(
            f"{path} has no script_location in [{section}]. Add one "
            "(e.g. script_location = %(here)s/migrations), or pass -n with the right section."
        )
    settings = settings_from(data, toml) if data else find_settings(base)
    return project_from_options(
        opts,
        toml_opts,
        here=here,
        base=base,
        config_file=path,
        toml_file=toml_file,
        ini_section=section,
        kind=kind,
        settings=settings,
        flask_dir=flask_dir,
    )
