"""Undoing a change a killed migfix left half done, before any command or hook reads files.

Every command and every hook run asks; almost always the answer is "nothing to undo", told
by one ``isdir``: the state folder exists only while a writer runs, or after one was killed.
Only then are the transaction modules loaded (about a third of what ``migfix check`` and the
hook's no-op path would otherwise import).
"""

from __future__ import annotations

import os
from pathlib import Path

from migfix.project.model import Project
from migfix.write.state import state_dir


def recover(root: Path, project: Project | None = None) -> str | None:
    """``txn.recover(ROOT, PROJECT)`` when a transaction may be left at ROOT; else None."""
    if not os.path.isdir(state_dir(root)):
        return None
    # Why inside the function: see the module's docstring.
    from migfix.write import txn

    return txn.recover(root, project)
