"""A project configured by ``[tool.alembic]`` in pyproject.toml (Alembic >= 1.16), with the
options of an ``alembic.ini`` beside it, which win as in Alembic."""

from __future__ import annotations

from pathlib import Path

from migfix.errors import ConfigError
from migfix.project.ini import ini_options
from migfix.project.locations import project_from_options
from migfix.project.model import Project
from migfix.project.settings import read_toml, settings_from


def from_pyproject(path: Path, *, required: bool) -> Project | None:
    """The project PATH configures; None when it has no ``[tool.alembic]`` and not REQUIRED."""
    data = read_toml(path)
    tool = data.get("tool", {})
    alembic = tool.get("alembic") if isinstance(tool, dict) else None
    if alembic is None:
        if required:
            raise ConfigError(
                f"{path} has no [tool.alembic] table. Point -c at your alembic.ini instead, "
                "or add [tool.alembic] (Alembic >= 1.16)."
            )
        return None
    if not isinstance(alembic, dict):
        raise ConfigError(f"{path}: [tool.alembic] must be a table.")
    here = path.parent
    settings = settings_from(data, path)
    # A pyproject-configured project usually has an alembic.ini beside it for the
    # database URL; options there win over [tool.alembic], as in Alembic.
    ini = here / "alembic.ini"
    ini_opts = ini_options(ini, "alembic") if ini.is_file() else {}
    return project_from_options(
        ini_opts,
        alembic,
        here=here,
        base=here,
        config_file=ini if ini.is_file() else None,
        toml_file=path,
        ini_section="alembic",
        kind="pyproject",
        settings=settings,
        flask_dir=None,
    )
