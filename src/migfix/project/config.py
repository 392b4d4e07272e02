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
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError, NoProjectFound

STRATEGIES = ("merge", "rebase")
_MIGFIX_KEYS = (
    "upstream",
    "strategy",
    "commit",
    "message",
    "allow_heads",
    "lock",
    "pytest",
    "sync_db",
)
# Alembic's own legacy split for version_locations when no separator is configured.
_LEGACY_SPLIT = re.compile(r", *|(?: +)")
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}


@dataclass(frozen=True)
class Settings:
    """``[tool.migfix]`` in pyproject.toml."""

    upstream: str | None = None
    strategy: str = "merge"
    commit: bool = False
    message: str = "merge heads"
    allow_heads: tuple[str, ...] = ()
    pytest: bool = False
    """Run the pytest plugin's checks without ``--migfix``."""
    lock: bool = False
    """Keep a heads lock file beside the migrations (see ``headlock``)."""
    source: Path | None = None
    sync_db: bool = False
    """The hook runs ``migfix db sync`` on the configured database after a move."""


@dataclass(frozen=True)
class Project:
    """Where an Alembic project's revision files live, and how Alembic is configured."""

    root: Path
    """Directory that relative paths in reports are given against."""
    version_locations: tuple[Path, ...]
    recursive: bool = False
    config_file: Path | None = None
    toml_file: Path | None = None
    ini_section: str = "alembic"
    script_location: Path | None = None
    kind: str = "alembic"
    """'alembic', 'flask' (Flask-Migrate migrations/alembic.ini), 'pyproject' or 'versions'."""
    settings: Settings = field(default_factory=Settings)

    def relpath(self, path: Path) -> str:
        """``path`` relative to the project root, in POSIX form when it is below it."""
        return relpath(path, self.root)


def relpath(path: Path, root: Path) -> str:
    """PATH relative to ROOT in POSIX form when it is below ROOT, else PATH as it is.

    How every message and report names a file.
    """
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def shown(path: Path, root: Path | None = None) -> str:
    """PATH as text output names it: relative to the directory migfix runs in.

    Relative to where the command runs rather than to the project, so that a path printed
    by ``migfix -c backend/alembic.ini check`` at the repository root opens from there (and
    a monorepo's projects never print the same ``versions/x.py``). A path outside that
    directory is named relative to ROOT (the project's root), else in full.
    """
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return relpath(path, root) if root is not None else str(path)


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
        return _from_directory((cwd / directory).absolute(), name)
    if versions:
        dirs = tuple((cwd / v).absolute() for v in versions)
        for d in dirs:
            if not d.is_dir():
                raise ConfigError(
                    f"--versions {d}: no such directory. Give the folder that holds the "
                    "revision files (usually .../versions)."
                )
        settings = _find_settings(cwd)
        return Project(
            root=cwd,
            version_locations=dirs,
            recursive=recursive,
            kind="versions",
            settings=settings,
        )
    if config is not None:
        config = Path(os.path.normpath((cwd / config).absolute()))  # `-c ../alembic.ini`
        if not config.is_file():
            raise ConfigError(
                f"Config file {config} does not exist. Pass the path of your alembic.ini "
                "(or pyproject.toml) with -c, or run migfix from the project directory."
            )
        if config.name == "pyproject.toml":
            return _from_pyproject(config, required=True)  # type: ignore[return-value]
        return _from_ini(config, name)
    looked: list[str] = []
    for d in (cwd, *cwd.parents):
        ini = d / "alembic.ini"
        looked.append(str(ini))
        if ini.is_file():
            return _from_ini(ini, name)
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            found = _from_pyproject(pyproject, required=False)
            if found is not None:
                return found
        custom = flask_directory(d)
        if custom is not None and (custom / "alembic.ini").is_file():
            return _from_ini(custom / "alembic.ini", name, app_dir=d, flask=True)
        flask_ini = d / "migrations" / "alembic.ini"
        looked.append(str(flask_ini))
        if flask_ini.is_file():
            return _from_ini(flask_ini, name, flask=(flask_ini.parent / "env.py").is_file())
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


def _from_directory(directory: Path, section: str) -> Project:
    """A migrations folder named with ``-d/--directory``, as ``flask db -d`` takes it."""
    ini = directory / "alembic.ini"
    if ini.is_file():
        return _from_ini(ini, section, flask=True)
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
            settings=_find_settings(directory.parent),
        )
    raise ConfigError(
        f"--directory {directory}: no alembic.ini or env.py there. Give the migrations "
        "folder itself (the one `flask db init` created, holding env.py and versions/)."
    )


# Where Flask apps usually create ``Migrate(app, db, directory=...)``.
_APP_MODULES = ("app.py", "wsgi.py", "*/__init__.py", "*/app.py", "*/extensions.py")


def flask_directory(base: Path) -> Path | None:
    """The ``directory=`` of a ``Migrate(...)`` / ``migrate.init_app(...)`` call near ``base``.

    Read statically with ``ast``: importing the app would run its factory, which may
    need settings, a database, or take seconds. Only a string literal is understood;
    anything else is left to ``-d/--directory``.
    """
    import ast

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
            try:
                tree = ast.parse(text, str(path))
            except (SyntaxError, ValueError):
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                if isinstance(func, ast.Name):
                    fname = func.id
                elif isinstance(func, ast.Attribute):
                    fname = func.attr
                else:
                    continue
                if fname not in ("Migrate", "init_app"):
                    continue
                # Migrate(app, db, directory) and init_app(app, db, directory) alike.
                values = [kw.value for kw in node.keywords if kw.arg == "directory"]
                values += node.args[2:3]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        # Flask-Migrate resolves it against the directory `flask` runs in.
                        return (base / value.value).absolute()
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    # tomllib is stdlib from 3.11; tomli is its backport (a dependency only there).
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read it as TOML: it is not UTF-8 (byte {exc.start}), and TOML "
            "files must be. Save it as UTF-8."
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML ({exc}). Fix the file.") from exc


def _from_pyproject(path: Path, *, required: bool) -> Project | None:
    data = _read_toml(path)
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
    settings = _settings_from(data, path)
    # A pyproject-configured project usually has an alembic.ini beside it for the
    # database URL; options there win over [tool.alembic], as in Alembic.
    ini = here / "alembic.ini"
    ini_opts = _ini_options(ini, "alembic") if ini.is_file() else {}
    return _project_from_options(
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


def _ini_options(path: Path, section: str, *, required: bool = False) -> dict[str, str]:
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


def _from_ini(
    path: Path, section: str, *, app_dir: Path | None = None, flask: bool = False
) -> Project:
    """APP_DIR: the Flask app's directory, when the folder was named by its Migrate() call.

    FLASK: the ini is Flask-Migrate's (its folder was found as the Flask layout, or named
    with -d). Flask-Migrate always sets script_location to that folder, whatever the ini
    says (a copied ``script_location = migrations`` would otherwise point at
    migrations/migrations), so it is read that way here too.
    """
    opts = _ini_options(path, section, required=True)
    here = path.parent
    # A pyproject.toml beside the ini may hold [tool.alembic] (Alembic >= 1.16 reads
    # both; the ini then often holds only the database URL), so script_location may
    # come from there.
    toml = here / "pyproject.toml"
    toml_opts: Mapping[str, Any] = {}
    toml_file = None
    data: dict[str, Any] = {}
    if toml.is_file():
        data = _read_toml(toml)
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
    settings = _settings_from(data, toml) if data else _find_settings(base)
    return _project_from_options(
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


def _project_from_options(
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
    toml_here = {"here": (toml_file.parent if toml_file else here).absolute().as_posix()}

    def toml_str(key: str) -> Any:
        value = toml.get(key)
        try:
            if isinstance(value, str):
                return value % toml_here
            if isinstance(value, list):
                return [v % toml_here if isinstance(v, str) else v for v in value]
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"{toml_file}: [tool.alembic] {key}: bad %-interpolation ({exc})."
            ) from exc
        return value

    script_location: Path | None
    if flask_dir is not None:
        script_location = flask_dir
    else:
        raw = ini.get("script_location") or toml_str("script_location")
        if not raw:
            raise ConfigError(
                f"{where}: no script_location configured. Add script_location to [{ini_section}] "
                "or [tool.alembic]."
            )
        script_location = _resolve_location(str(raw), base, where, _sys_path(ini, base))

    locations: list[str] | None = None
    raw_vl = ini.get("version_locations")
    if raw_vl:
        sep = _separator(ini, where)
        if sep is None:
            locations = [p for p in _LEGACY_SPLIT.split(raw_vl)]
        else:
            locations = [x.strip() for x in raw_vl.split(sep) if x]
        locations = [p for p in locations if p.strip()]
    else:
        vl = toml_str("version_locations")
        if vl is not None:
            if not isinstance(vl, list) or not all(isinstance(x, str) for x in vl):
                raise ConfigError(
                    f"{toml_file}: [tool.alembic] version_locations must be a list of strings."
                )
            locations = list(vl)
    if locations:
        extra = _sys_path(ini, base)
        version_locations = tuple(_resolve_location(p, base, where, extra) for p in locations)
    else:
        version_locations = (script_location / "versions",)

    if "recursive_version_locations" in ini:
        recursive = ini["recursive_version_locations"] == "true"
    else:
        rv = toml.get("recursive_version_locations", False)
        if not isinstance(rv, bool):
            raise ConfigError(
                f"{toml_file}: [tool.alembic] recursive_version_locations must be true or false."
            )
        recursive = rv
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


def _find_settings(start: Path) -> Settings:
    for d in (start, *start.parents):
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            return _settings_from(_read_toml(pyproject), pyproject)
        if (d / ".git").exists():
            break
    return Settings()


def _settings_from(data: Mapping[str, Any], path: Path) -> Settings:
    tool = data.get("tool", {})
    raw = tool.get("migfix") if isinstance(tool, dict) else None
    if raw is None:
        return Settings(source=None)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [tool.migfix] must be a table.")
    return parse_settings(raw, path)


def parse_settings(raw: Mapping[str, Any], path: Path | None) -> Settings:
    """Validate ``[tool.migfix]``; unknown keys and bad values are configuration errors."""
    where = f"{path}: [tool.migfix]" if path else "[tool.migfix]"
    for key in raw:
        if key not in _MIGFIX_KEYS:
            raise ConfigError(
                f"{where} has an unknown key '{key}'. Allowed keys: {', '.join(_MIGFIX_KEYS)}."
            )
    upstream = raw.get("upstream")
    if upstream is not None and (not isinstance(upstream, str) or not upstream):
        raise ConfigError(f'{where} upstream must be a git ref name such as "origin/main".')
    if isinstance(upstream, str) and (
        upstream.startswith("-") or any(c.isspace() or not c.isprintable() for c in upstream)
    ):
        # git would read "-rf" as an option; no ref name holds white space.
        raise ConfigError(
            f"{where} upstream = {upstream!r} is not a git ref name (it starts with '-' or "
            'holds white space). Use a ref such as "origin/main".'
        )
    strategy = raw.get("strategy", "merge")
    if strategy not in STRATEGIES:
        raise ConfigError(f'{where} strategy = {strategy!r}: allowed values are "merge", "rebase".')
    commit = raw.get("commit", False)
    if not isinstance(commit, bool):
        raise ConfigError(f"{where} commit = {commit!r}: allowed values are true, false.")
    message = raw.get("message", "merge heads")
    if not isinstance(message, str) or not message.strip():
        raise ConfigError(f"{where} message must be a non-empty string.")
    allow = raw.get("allow_heads", [])
    if (
        isinstance(allow, str)
        or not isinstance(allow, list)
        or not all(isinstance(x, str) for x in allow)
    ):
        raise ConfigError(
            f'{where} allow_heads must be a list of revision ids, e.g. ["ab12", "cd34"].'
        )
    run_in_pytest = raw.get("pytest", False)
    if not isinstance(run_in_pytest, bool):
        raise ConfigError(f"{where} pytest = {run_in_pytest!r}: allowed values are true, false.")
    lock = raw.get("lock", False)
    if not isinstance(lock, bool):
        raise ConfigError(f"{where} lock = {lock!r}: allowed values are true, false.")
    sync_db = raw.get("sync_db", False)
    if not isinstance(sync_db, bool):
        raise ConfigError(f"{where} sync_db = {sync_db!r}: allowed values are true, false.")
    return Settings(
        sync_db=sync_db,
        upstream=upstream,
        strategy=strategy,
        commit=commit,
        message=message,
        allow_heads=tuple(allow),
        pytest=run_in_pytest,
        lock=lock,
        source=path,
    )


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
