"""Conflicts migfix's writes resolve: a file git lists as conflicted (a heads lock, a revision
file whose conflict the user resolved but did not ``git add`` yet) that migfix rewrote to its
final content is marked resolved, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migfix.git import gitops, worktree
from migfix.project.model import Project


def mark_resolved(project: Project, written: Sequence[Path]) -> list[str]:
    """``git add`` exactly those of WRITTEN that git lists as conflicted; one note for each."""
    return [
        f"Marked {project.relpath(path)} resolved (git add): git listed it as conflicted, "
        "and migfix wrote its final content."
        for path in worktree.mark_resolved(gitops.find_repo(project.root), written)
    ]
