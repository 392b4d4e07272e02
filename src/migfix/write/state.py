"""Where migfix keeps its state for a project: ``<git dir>/migfix`` (per worktree) in a git
work tree, else ``<project root>/.migfix``; the writer lock, the transaction journal and
recovery all live there.

Apart from the writer lock because every command and hook run asks recovery whether a state
folder was left, and that question needs neither the lock nor its signal handling.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir(root: Path) -> Path:
    """``<git dir>/migfix`` for a project in a git work tree, else ``<root>/.migfix``."""
    found = _git_dir(root)
    return found[1] / "migfix" if found is not None else root / ".migfix"


def work_tree(root: Path) -> Path:
    """The top of the git work tree holding ROOT (the folder whose ``.git`` names the state
    folder), else ROOT: what migfix may write in, and what its journal's paths are relative to."""
    found = _git_dir(root)
    return found[0] if found is not None else root


def _git_dir(root: Path) -> tuple[Path, Path] | None:
    """The work tree's top and its git dir, walking up from ROOT to ``.git``."""
    for folder in (root, *root.parents):
        dotgit = folder / ".git"
        if os.path.isdir(dotgit):
            return folder, dotgit
        if os.path.isfile(dotgit):
            # A linked worktree or a submodule: ".git" is a file "gitdir: <path>".
            try:
                text = dotgit.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            if text.startswith("gitdir:"):
                return folder, folder / text[len("gitdir:") :].strip()
            return None
    return None
