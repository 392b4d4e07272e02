"""Find every Alembic project in a repository: a project in a sub-folder, or a monorepo.

``find_project`` (config.py) looks at and above the current directory, as ``alembic`` does.
When that finds nothing (the usual case at the root of a repository whose project lives in
``backend/``), or with ``--all``, this module looks below: every ``alembic.ini`` (one project
per section that has a ``script_location``), every ``pyproject.toml`` with ``[tool.alembic]``
and every Flask-Migrate folder (an ``alembic.ini`` beside ``env.py``, including the folders
named by ``Migrate(directory=...)``).

The file names come from ``git ls-files`` (tracked, and untracked but not ignored), so
ignored folders such as ``node_modules`` or ``.venv`` are never walked; outside git, a walk
bounded in depth and size that skips hidden and ignored-looking folders stands in for it.

Each project carries its own ``[tool.migfix]`` (settings.py reads the nearest pyproject.toml at
or above its config). A project whose configuration cannot be read is kept as an
:class:`Entry` with its error, so one broken service never hides the others.

Only the standard library and the static config reader are imported here: the hook's no-op
path goes through :func:`touched`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

from migfix.errors import ConfigError, MigfixError, NoProjectFound
from migfix.git import gitops
from migfix.project.config import find_project
from migfix.project.flask_app import flask_directory
from migfix.project.ini import from_ini
from migfix.project.model import Project, lock_path, relpath
from migfix.project.pyproject import from_pyproject

if TYPE_CHECKING:
    import subprocess

CONFIG_NAMES = frozenset({"alembic.ini", "pyproject.toml"})
# Outside git, folders that hold installed or generated files, never an Alembic project of
# the user's (hidden folders such as .venv, .git or .tox are skipped as well).
_SKIP_DIRS = frozenset(
    {
        "node_modules",
        "__pycache__",
        "site-packages",
        "venv",
        "virtualenv",
        "env",
        "build",
        "dist",
        "htmlcov",
        "target",
        "vendor",
        "bower_components",
    }
)
_MAX_DEPTH = 8
_MAX_DIRS = 5000


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Entry(NamedTuple):
    """One project discovery found; ``error`` is set when its configuration cannot be read."""

    label: str
    """The project's folder relative to the repository root ('.' for the root itself), plus
    ``[section]`` for an ini section other than [alembic]."""
    config: Path
    section: str = "alembic"
    project: Project | None = None
    error: MigfixError | None = None


class Selection(NamedTuple):
    """What a command acts on.

    ``single``: the one project found at or above the directory, exactly as before discovery
    existed (same output, same JSON shape). Otherwise ``entries``: what discovery found under
    ``root`` (the repository root, or the directory itself outside git).
    """

    single: Project | None
    root: Path
    entries: tuple[Entry, ...] = ()


# --- which files to look at -------------------------------------------------------------------


def _git_config_files(root: Path) -> list[Path] | None:
    """alembic.ini / pyproject.toml files git knows of (tracked or untracked, not ignored)."""
    return _git_config_files_later(root)()


def _git_config_files_later(root: Path) -> Callable[[], list[Path] | None]:
    """``_git_config_files``, with git started now and waited for when the result is called."""
    listing = gitops.started(
        root,
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        ":(glob)**/alembic.ini",
        ":(glob)**/pyproject.toml",
    )
    return lambda: _config_files_from(root, listing())


def _config_files_from(root: Path, proc: subprocess.CompletedProcess[bytes]) -> list[Path] | None:
    if proc.returncode != 0:
        return None
    out: set[Path] = set()
    for raw in proc.stdout.split(b"\0"):
        if raw:
            path = root.joinpath(*PurePosixPath(os.fsdecode(raw)).parts)
            # A tracked file deleted from the work tree is still listed by --cached.
            if path.is_file():
                out.add(path)
    return sorted(out)


def _walk_config_files(start: Path) -> list[Path]:
    """Outside git: a walk bounded in depth and in folders visited."""
    out: list[Path] = []
    stack = [(start, 0)]
    visited = 0
    while stack and visited < _MAX_DIRS:
        folder, depth = stack.pop()
        visited += 1
        try:
            it = os.scandir(folder)
        except OSError:
            continue
        with it:
            for e in it:
                name = e.name
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if (
                        depth < _MAX_DEPTH
                        and not name.startswith(".")
                        and name not in _SKIP_DIRS
                        and not name.endswith(".egg-info")
                    ):
                        stack.append((Path(e.path), depth + 1))
                elif name in CONFIG_NAMES:
                    out.append(Path(e.path))
    return sorted(out)


# --- what they configure ------------------------------------------------------------------------


def _ini_sections(ini: Path) -> list[str]:
    """Sections of ``ini`` that name a script_location (each is a project, as ``alembic -n``)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        with ini.open(encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"{ini}: cannot read it as an ini file ({exc}). Fix the file.") from exc
    return [s for s in parser.sections() if parser.has_option(s, "script_location")]


def _flask_app_dir(folder: Path, root: Path) -> Path | None:
    """The app directory whose ``Migrate(directory=...)`` names FOLDER, if any."""
    if folder.name == "migrations":
        return None  # Flask-Migrate's default: the app runs from the parent
    for d in folder.parents:
        if flask_directory(d) == folder:
            return d
        if d == root or not d.is_relative_to(root):
            break
    return None


def label_of(project_root: Path, root: Path, section: str = "alembic") -> str:
    """How output names a project: its folder relative to ROOT, and a section not [alembic]."""
    rel = relpath(project_root, root) if project_root != root else "."
    return rel if section == "alembic" else f"{rel} [{section}]"


def projects_from(files: Iterable[Path], root: Path) -> list[Entry]:
    """The projects configured by FILES (alembic.ini and pyproject.toml paths) under ROOT."""
    files = sorted(set(files))
    tomls = {f.parent: f for f in files if f.name == "pyproject.toml"}
    found = _Found(root)
    for ini in (f for f in files if f.name == "alembic.ini"):
        found.ini(ini, toml_beside=ini.parent in tomls)
    for folder, toml in tomls.items():
        if folder not in found.covered and _mentions_alembic(toml):
            found.add(toml, "alembic", from_pyproject, required=False)
    return _distinct(found.entries, root)


class _Found:
    """The entries read so far, and the folders whose pyproject.toml an ini beside it read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[Entry] = []
        self.covered: set[Path] = set()

    def add(
        self, config: Path, section: str, load: Callable[..., Project | None], *args: Any, **kw: Any
    ) -> None:
        root = self.root
        try:
            project = load(config, *args, **kw)
        except MigfixError as exc:
            self.entries.append(
                Entry(label_of(config.parent, root, section), config, section, None, exc)
            )
            return
        if project is not None:
            label = label_of(project.root, root, section)
            if project.root == root:
                # "." says little in a heading: a project at the root goes by its config.
                label = label_of(config, root, section)
            self.entries.append(Entry(label, config, section, project))

    def ini(self, ini: Path, *, toml_beside: bool) -> None:
        here = ini.parent
        if (here / "env.py").is_file():
            # Flask-Migrate's folder: one project, read the way Flask-Migrate reads it.
            app_dir = _flask_app_dir(here, self.root)
            self.add(ini, "alembic", from_ini, "alembic", app_dir=app_dir, flask=True)
            self.covered.add(here)
            return
        try:
            sections = _ini_sections(ini)
        except ConfigError as exc:
            self.entries.append(
                Entry(label_of(here, self.root, "alembic"), ini, "alembic", None, exc)
            )
            self.covered.add(here)
            return
        if not sections and not toml_beside:
            # Named alembic.ini yet configures nothing: say so rather than skip it silently.
            self.add(ini, "alembic", from_ini, "alembic")
            return
        for section in sections:
            self.add(ini, section, from_ini, section)
        if "alembic" in sections:
            self.covered.add(here)


def _mentions_alembic(toml: Path) -> bool:
    try:
        # Cheap filter: most pyproject.toml files never mention alembic at all.
        return "alembic" in toml.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _distinct(entries: list[Entry], root: Path) -> list[Entry]:
    """ENTRIES without repeats, each with a label of its own, sorted by label."""
    # The same versions folder reached through two configs is one project.
    seen: set[tuple[Path, ...]] = set()
    unique: list[Entry] = []
    for e in entries:
        if e.project is not None:
            key = e.project.version_locations
            if key in seen:
                continue
            seen.add(key)
        unique.append(e)
    # Two projects in one folder (an ini and a Flask folder) keep apart by their config.
    labels = [e.label for e in unique]
    unique = [
        e
        if labels.count(e.label) == 1
        else Entry(relpath(e.config, root), e.config, e.section, e.project, e.error)
        for e in unique
    ]
    return sorted(unique, key=lambda e: e.label)


def discover(root: Path) -> list[Entry]:
    """Every project under ROOT (a repository root: git's view of it; else a bounded walk)."""
    return discover_later(root)()


def discover_later(root: Path) -> Callable[[], list[Entry]]:
    """``discover(ROOT)`` in two steps: git starts listing the config files now, and
    calling the result reads the projects (the hook fixes its own project meanwhile)."""
    listed = _git_config_files_later(root)

    def entries() -> list[Entry]:
        files = listed()
        if files is None:
            files = _walk_config_files(root)
        return projects_from(files, root)

    return entries


def repo_root(cwd: Path) -> Path | None:
    return gitops.find_repo(cwd)


def select(cwd: Path, *, all_projects: bool = False, files: Sequence[Path] = ()) -> Selection:
    """The project at or above CWD, else (or with ALL_PROJECTS) every project in the repository.

    FILES (what pre-commit passes): in discovery mode, only the projects they belong to.
    """
    cwd = cwd.absolute()
    missing: NoProjectFound | None = None
    if not all_projects:
        try:
            return Selection(find_project(cwd), cwd)
        except NoProjectFound as exc:
            missing = exc
    root = repo_root(cwd) or cwd
    entries = discover(root)
    if files:
        wanted = [(cwd / f).absolute() for f in files]
        return Selection(None, root, tuple(e for e in entries if owns(e, wanted)))
    if not entries:
        where = "the repository" if root != cwd or (root / ".git").exists() else "the folder"
        said = f"{missing.message} " if missing else "No Alembic project found. "
        raise NoProjectFound(
            f"{said}Nor is there one anywhere in {where} at {root} (no alembic.ini with a "
            "script_location, pyproject.toml with [tool.alembic] or Flask-Migrate "
            "migrations/alembic.ini)."
        )
    return Selection(None, root, tuple(entries))


def _under(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def owns(entry: Entry, paths: Sequence[Path]) -> bool:
    """Whether one of PATHS belongs to ENTRY's project (a revision, its env.py, its config)."""
    p = entry.project
    if p is None:
        return any(_under(x, entry.config.parent) for x in paths)
    folders = [*p.version_locations, *([p.script_location] if p.script_location else [])]
    configs = set(p.config_files)
    if p.settings.lock:
        configs.add(lock_path(p))
    return any(x in configs or any(_under(x, f) for f in folders) for x in paths)


def touched(repo: Path, changed: Sequence[Path]) -> list[Entry]:
    """The projects CHANGED (absolute paths, from a merge or rebase) touched.

    Looks only at the folders holding a changed file and their parents, where a project's
    config nearly always sits (the versions folder is below it), so a merge costs a few
    ``stat`` calls and, when it touched no Python file or config, nothing at all.
    """
    relevant = [p for p in changed if p.suffix == ".py" or p.name in (*CONFIG_NAMES, "heads.lock")]
    folders: set[Path] = set()
    for p in relevant:
        for d in p.parents:
            if d in folders:
                break
            folders.add(d)
            if d == repo or not d.is_relative_to(repo):
                break
    files = [d / name for d in folders for name in CONFIG_NAMES if (d / name).is_file()]
    found = [e for e in projects_from(files, repo) if owns(e, relevant)] if files else []
    revisions = [p for p in relevant if p.suffix == ".py"]
    if any(not any(owns(e, [p]) for e in found) for p in revisions):
        # A revision file no config above it claims: the config may sit beside the
        # migrations folder (server/alembic.ini, script_location = %(here)s/../migrations),
        # so every project is asked. Only then: usually a config is found above.
        return [e for e in discover(repo) if owns(e, relevant)]
    return found
