"""Where a configured project's files are: ``script_location``, ``version_locations`` and
``recursive_version_locations`` resolved as Alembic resolves them, from the options an ini
section and ``[tool.alembic]`` give (ini options win, as in Alembic).

This mirrors ``ScriptDirectory.from_config`` (``%(here)s``, ``pkg:dir`` resources,
``path_separator`` / ``version_path_separator`` / legacy splitting) without importing alembic.
Relative paths are resolved against BASE, the directory the user would run ``alembic`` (or
``flask db``) from, rather than the current directory (see config.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError
from migfix.project.model import Project, Settings

# Alembic's own legacy split for version_locations when no separator is configured.
_LEGACY_SPLIT = re.compile(r", *|(?: +)")
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}


def project_from_options(
    ini: Mapping[str, str],
    toml: Mapping[str, Any],
    *,
    here: Path,
    base: Path,
    config_file: Path | None,
    toml_file: Path | None,
    ini_section: str,
    kind: str,
    settings: Settings,
    flask_dir: Path | None,
) -> Project:
    where = config_file or toml_file
    toml_opts = _TomlOptions(toml, toml_file, here)
    script_location: Path | None
    if flask_dir is not None:
        script_location = flask_dir
    else:
        raw = ini.get("script_location") or toml_opts.get("script_location")
        if not raw:
            raise ConfigError(
                f"{where}: no script_location configured. Add script_location to [{ini_section}] "
                "or [tool.alembic]."
            )
        script_location = _resolve_location(str(raw), base, where, _sys_path(ini, base))
    locations = _version_locations(ini, toml_opts, where)
    if locations:
        extra = _sys_path(ini, base)
        version_locations = tuple(_resolve_location(p, base, where, extra) for p in locations)
    else:
        version_locations = (script_location / "versions",)
    recursive = _recursive(ini, toml, toml_file)
    if not script_location.is_dir() and kind != "versions":
        raise ConfigError(
            f"{where}: script_location {script_location} does not exist. Fix script_location, "
            "or run `alembic init` / `flask db init` first."
        )
    return Project(
        root=base.absolute(),
        version_locations=version_locations,
        recursive=recursive,
        config_file=config_file.absolute() if config_file else None,
        toml_file=toml_file.absolute() if toml_file else None,
        ini_section=ini_section,
        script_location=script_location,
        kind=kind,
        settings=settings,
    )


class _TomlOptions:
    """``[tool.alembic]`` values with ``%(here)s`` interpolated, as Alembic reads them."""

    def __init__(self, toml: Mapping[str, Any], toml_file: Path | None, here: Path) -> None:
        self.toml = toml
        self.toml_file = toml_file
        self.here = {"here": (toml_file.parent if toml_file else here).absolute().as_posix()}

    def get(self, key: str) -> Any:
        value = self.toml.get(key)
        try:
            if isinstance(value, str):
                return value % self.here
            if isinstance(value, list):
                return [v % self.here if isinstance(v, str) else v for v in value]
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"{self.toml_file}: [tool.alembic] {key}: bad %-interpolation ({exc})."
            ) from exc
        return value


def _version_locations(
    ini: Mapping[str, str], toml: _TomlOptions, where: Path | None
) -> list[str] | None:
    """The configured version locations as written, or None when none are configured."""
    raw_vl = ini.get("version_locations")
    if raw_vl:
        sep = _separator(ini, where)
        if sep is None:
            locations = [p for p in _LEGACY_SPLIT.split(raw_vl)]
        else:
            locations = [x.strip() for x in raw_vl.split(sep) if x]
        return [p for p in locations if p.strip()]
    vl = toml.get("version_locations")
    if vl is None:
        return None
    if not isinstance(vl, list) or not all(isinstance(x, str) for x in vl):
        raise ConfigError(
            f"{toml.toml_file}: [tool.alembic] version_locations must be a list of strings."
        )
    return list(vl)


def _recursive(ini: Mapping[str, str], toml: Mapping[str, Any], toml_file: Path | None) -> bool:
    if "recursive_version_locations" in ini:
        return ini["recursive_version_locations"] == "true"
    rv = toml.get("recursive_version_locations", False)
    if not isinstance(rv, bool):
        raise ConfigError(
            f"{toml_file}: [tool.alembic] recursive_version_locations must be true or false."
        )
    return rv


def _separator(ini: Mapping[str, str], where: Path | None) -> str | None:
    for key in ("path_separator", "version_path_separator"):
        value = ini.get(key)
        if value is not None:
            try:
                return _SEPARATORS[value]
            except KeyError:
                raise ConfigError(
                    f"{where}: '{value}' is not a valid value for {key}; expected 'space', "
                    "'newline', 'os', ':' or ';'."
                ) from None
    return None


def _resolve_location(
    raw: str, base: Path, where: Path | None, search: Sequence[Path] = ()
) -> Path:
    raw = raw.strip()
    if not os.path.isabs(raw) and ":" in raw:
        return _resolve_resource(raw, base, where, search)
    # Normalised (``%(here)s/../migrations``): paths are compared as text with git's and
    # with each other, and ``server/../migrations`` names the same folder as ``migrations``.
    return Path(os.path.normpath((base / raw).absolute()))


def _sys_path(ini: Mapping[str, str], base: Path) -> list[Path]:
    """The folders ``prepend_sys_path`` puts on sys.path (relative to the config's folder,
    where Alembic is run), where a ``pkg:dir`` package may live uninstalled."""
    raw = ini.get("prepend_sys_path") or ""
    parts = re.split(rf"[\s{re.escape(os.pathsep)}]+", raw)
    return [Path(os.path.normpath(base / p)) for p in parts if p]


def _in_repository(base: Path) -> list[Path]:
    """BASE and its parents up to the repository's root (the first holding ``.git``): an
    uninstalled package sits in one of them, or in its ``src/``."""
    out: list[Path] = []
    for d in (base, *base.parents):
        out += [d, d / "src"]
        if (d / ".git").exists():
            return out
    return [base, base / "src"]  # outside git: beside the config only


def _resolve_resource(
    raw: str, base: Path, where: Path | None, search: Sequence[Path] = ()
) -> Path:
    """``pkg:dir`` names a folder inside an importable package.

    Found without importing the package (importing it would run the application): first
    as a folder in the repository, as it would be found once installed (beside the config,
    where nearly every project keeps it, in a ``src/`` there or in a parent up to the
    repository's root, or where ``prepend_sys_path`` points: SEARCH), then through the
    import system's finder, which does not execute the package.
    """
    package, *parts = raw.split(":")
    pkg_dir = Path(*package.split("."))
    # Only the package must exist: a version location inside it may not exist yet,
    # which Alembic accepts (it skips missing version folders).
    for root in (*search, *_in_repository(base.absolute())):
        if (root / pkg_dir).is_dir():
            return (root / pkg_dir / Path(*parts)).absolute()
    import importlib.util

    try:
        spec = importlib.util.find_spec(package.split(".")[0])
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            found = Path(loc, *package.split(".")[1:])
            if found.is_dir():
                return Path(found, *parts).absolute()
    raise ConfigError(
        f"{where}: cannot find the package resource '{raw}' (looked in {base}, its parents "
        "up to the repository's root, their src/ folders, prepend_sys_path and sys.path). "
        "Install the package, or write the location as a path."
    )
