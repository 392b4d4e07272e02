"""The containment rule: migfix writes only inside the repository's work tree.

What git pulls decides which folders migfix reads (an ``alembic.ini``, a version location that
is a symlink), so it must never decide where migfix writes: a path is judged by where it
resolves (symlinks followed), never by how it is spelled. A version location that resolves
outside the work tree is still read and reported like any other; a change to a file there is
refused (:func:`refuse_outside`). Recovery of an interrupted transaction, whose journal anyone
can write, is held to a narrower rule (:func:`recovery_scope`): only files in a version location
of a project of the repository, or its heads lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from migfix.errors import MigfixError, Refusal
from migfix.project import discover
from migfix.project.config import find_project
from migfix.project.model import Project, lock_path
from migfix.write.state import work_tree


def real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def within(path: Path, folder: Path) -> bool:
    """Whether PATH is FOLDER or below it (both already real paths)."""
    return path == folder or folder in path.parents


def writable(path: Path, tree: Path) -> bool:
    """Whether PATH resolves inside TREE (a real path) and outside its ``.git``."""
    where = real(path)
    return within(where, tree) and not within(where, tree / ".git")


def refuse_outside(paths: Iterable[Path], root: Path) -> None:
    """Refuse, before anything is written, a change to a file that resolves outside the
    work tree holding ROOT."""
    tree = real(work_tree(root))
    for path in paths:
        if not writable(path, tree):
            raise Refusal(
                f"{path} resolves to {real(path)}, outside the repository's work tree {tree} "
                "(a folder on its way is a symlink that leads out of it, such as a version "
                "location pointing to another project). migfix reads revision files there but "
                "never writes outside the work tree, so nothing was written. Fix that project "
                "from its own repository, or replace the symlink with a real folder."
            )


@dataclass(frozen=True)
class Scope:
    """Where recovery may put files back: real paths of version locations and lock files."""

    tree: Path
    folders: frozenset[Path]
    files: frozenset[Path]

    def allows(self, path: Path) -> bool:
        where = real(path)
        if not writable(path, self.tree):
            return False
        return where in self.files or any(within(where, f) for f in self.folders)


def recovery_scope(root: Path, project: Project | None = None) -> Scope:
    """The version locations and heads locks, inside the work tree, of every project found in
    the repository holding ROOT, of the project at ROOT, and of PROJECT (one given by
    ``--versions`` is found by nothing else)."""
    top = work_tree(root)
    tree = real(top)
    projects: list[Project] = [] if project is None else [project]
    # A project that cannot be read adds nothing: its files are left alone.
    with contextlib.suppress(MigfixError):
        projects += [e.project for e in discover.discover(top) if e.project is not None]
    with contextlib.suppress(MigfixError):
        projects.append(find_project(root))
    folders = {real(v) for p in projects for v in p.version_locations}
    files = {real(lock_path(p)) for p in projects}
    return Scope(
        tree,
        frozenset(f for f in folders if within(f, tree)),
        frozenset(f for f in files if within(f, tree)),
    )
