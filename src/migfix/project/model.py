"""What a project is: where its revision files live, how Alembic and migfix are configured,
and how output names its files.

Plain data, read by every layer above; the modules beside this one build it.

The records that every run of ``check`` and the git hook defines are NamedTuples, not
dataclasses (here and in discovery, the graph, the moves journal, the options, the error
policy and the hook's job): Python builds a dataclass's methods with ``exec`` when the module
loads, ~0.5 ms each for a frozen one against ~0.1 ms for a NamedTuple, and those records made
a tenth of the hook's start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class Settings(NamedTuple):
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
    """The pyproject.toml the settings were read from (with a [tool.migfix] table or not)."""
    sync_db: bool = False
    """The hook runs ``migfix db sync`` on the configured database after a move."""


class Project(NamedTuple):
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
    settings: Settings = Settings()

    def relpath(self, path: Path) -> str:
        """``path`` relative to the project root, in POSIX form when it is below it."""
        return relpath(path, self.root)

    @property
    def config_files(self) -> tuple[Path, ...]:
        """The files discovery read this project's configuration from: the ini, the
        pyproject.toml with [tool.alembic], the one the [tool.migfix] settings come from.
        A change to one can change the heads (a version location) or what is allowed of
        them (allow_heads, the heads lock)."""
        found = (self.config_file, self.toml_file, self.settings.source)
        return tuple(dict.fromkeys(p for p in found if p is not None))


LOCK_NAME = "heads.lock"
"""The heads lock's file name (see ``migfix.plan.heads_lock``)."""


def lock_path(project: Project) -> Path:
    """Where the heads lock lives: beside env.py (the script location), else beside the
    versions. Here, with the project, because recovery and discovery (which must stay
    cheap: every command runs them) need the path but none of the lock's logic."""
    if project.script_location is not None:
        return project.script_location / LOCK_NAME
    return project.version_locations[0].parent / LOCK_NAME


def relpath(path: Path, root: Path) -> str:
    """PATH relative to ROOT in POSIX form when it is below ROOT, else relative to the git
    work tree that holds ROOT when PATH is in it too, else PATH as it is.

    How every message, report and diff names a file. The work tree is the second anchor for
    a config that sits beside its migrations (``backend/alembic.ini`` with
    ``script_location = %(here)s/../migrations``): their files are outside ROOT, and named
    from the repository they read as they do in ``git status`` rather than in full.
    """
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        pass
    for d in (root, *root.parents):
        # The work tree's root is where .git is, as config discovery bounds its search:
        # a plain look rather than a git process, as this runs for every path a report names.
        if (d / ".git").exists():
            if path.is_relative_to(d):
                return path.relative_to(d).as_posix()
            break
    return str(path)


def shown(path: Path, root: Path | None = None) -> str:
    """PATH as text output names it: relative to the directory migfix runs in.

    Relative to where the command runs rather than to the project, so that a path printed
    by ``migfix -c backend/alembic.ini check`` at the repository root opens from there (and
    a monorepo's projects never print the same ``versions/x.py``). A path outside that
    directory is named as :func:`relpath` names it against ROOT (the project's root).
    """
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return relpath(path, root) if root is not None else str(path)
