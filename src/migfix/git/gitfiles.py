"""Reading git's own files where that is simple, so that a question asked on every command
starts no git process: where the git dir is, and HEAD's reflog.

Only the plain layout is read: a ``.git`` folder (or a ``.git`` file ``gitdir: ...``, as in
linked worktrees and submodules) found by walking up, refs in files (not reftable), and no
variable that points git elsewhere. Anything else raises :class:`Unusual`, and the caller
asks git itself (:mod:`migfix.git.gitops`). The standard library only: the env.py guard
imports this inside every ``alembic`` command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

# Variables that point git at another repository. gitops drops them for its processes (a
# hook sets them); reading files while they are set could answer for another repository
# than git would, so they send the caller to git.
_LOCATING_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")
_NULL = frozenset({"0" * 40, "0" * 64})


class Unusual(Exception):
    """The repository is laid out in a way this module does not read: ask git."""


# NamedTuples, not dataclasses: a dataclass costs about a millisecond to define, on every
# alembic command.
class GitDirs(NamedTuple):
    work_tree: Path
    """The folder holding ``.git``, spelled as the caller spelled the start folder."""
    git_dir: Path
    """This worktree's git dir: HEAD and its reflog."""
    common_dir: Path
    """Shared by every worktree of the clone: config, objects, refs."""


def locate(start: Path) -> GitDirs | None:
    """The git dirs of the work tree holding START; None when no folder above it has a
    ``.git`` (outside git). Raises :class:`Unusual` when git might answer otherwise.

    As git does, the walk up stops before a folder named in ``GIT_CEILING_DIRECTORIES``. It
    does not stop at a file system boundary as git does by default: a ``.git`` beyond one
    only sends the caller to git, which then says "outside git" itself."""
    if any(name in os.environ for name in _LOCATING_ENV):
        raise Unusual("a variable points git elsewhere")
    here = start if start.is_dir() else start.parent
    ceilings = _ceilings()
    for folder in (here, *here.parents):
        if ceilings and folder != here and folder.resolve() in ceilings:
            return None
        dot = folder / ".git"
        try:
            if dot.is_dir():
                git_dir = dot
            elif dot.is_file():
                git_dir = _gitdir_file(dot)
            else:
                continue
            return GitDirs(folder, git_dir, _common_dir(git_dir))
        except OSError as exc:
            raise Unusual(str(exc)) from None
    return None


def _ceilings() -> set[Path]:
    value = os.environ.get("GIT_CEILING_DIRECTORIES", "")
    return {Path(p).resolve() for p in value.split(os.pathsep) if os.path.isabs(p)}


def _gitdir_file(dot: Path) -> Path:
    """The git dir a ``.git`` file names (``gitdir: <path>``, relative to the file's folder)."""
    content = dot.read_text(encoding="utf-8").strip()
    if not content.startswith("gitdir:"):
        raise Unusual(f"{dot} is not a gitdir file")
    return dot.parent / content.removeprefix("gitdir:").strip()


def _common_dir(git_dir: Path) -> Path:
    if not (git_dir / "HEAD").is_file():
        raise Unusual(f"{git_dir} has no HEAD file")
    commondir = git_dir / "commondir"  # a linked worktree's pointer to the main git dir
    common = git_dir
    if commondir.is_file():
        common = git_dir / commondir.read_text(encoding="utf-8").strip()
    if (common / "reftable").exists():
        raise Unusual("refs are in reftable")
    try:
        config = (common / "config").read_bytes().lower()
    except FileNotFoundError:
        config = b""
    if b"refstorage" in config:  # extensions.refStorage: refs not in files
        raise Unusual("extensions.refStorage is set")
    return common


class ReflogEntry(NamedTuple):
    commit: str
    """The commit HEAD pointed at after the change."""
    when: float
    """Unix time of the change."""
    subject: str
    """What changed it: ``commit: msg``, ``pull: Fast-forward``, ``checkout: moving ...``."""


def head_reflog(dirs: GitDirs, limit: int) -> list[ReflogEntry]:
    """HEAD's LIMIT newest reflog entries, oldest first (what ``git log -g -nLIMIT HEAD``
    lists, reversed). Only the file's tail is read. Empty when HEAD has no reflog."""
    path = dirs.git_dir / "logs" / "HEAD"
    try:
        lines = _tail_lines(path, limit)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise Unusual(str(exc)) from None
    entries = []
    for raw in lines:
        entry = parse_reflog_line(raw)
        if entry is None:
            raise Unusual(f"{path} has a line this module does not read")
        if entry.commit not in _NULL:
            entries.append(entry)
    return entries


def parse_reflog_line(raw: bytes) -> ReflogEntry | None:
    """One reflog line: ``<old> <new> <name> <<email>> <time> <zone>\\t<subject>``."""
    head, _, subject = raw.rstrip(b"\n").partition(b"\t")
    fields = head.split(b" ", 2)
    if len(fields) < 3:
        return None
    ident = fields[2].rsplit(b" ", 2)
    try:
        when = float(ident[1]) if len(ident) == 3 else None
    except ValueError:
        return None
    if when is None:
        return None
    # No tab: git wrote the change without a message.
    return ReflogEntry(
        fields[1].decode("ascii", "replace"), when, subject.decode("utf-8", "replace")
    )


def _tail_lines(path: Path, count: int) -> list[bytes]:
    """The last COUNT lines of PATH, reading back from its end in blocks."""
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        at, data = end, b""
        while at > 0 and data.count(b"\n") <= count:
            step = min(at, 64 * 1024)
            at -= step
            f.seek(at)
            data = f.read(step) + data
    lines = data.splitlines(keepends=True)
    if at > 0:
        lines = lines[1:]  # the first line read may be cut
    return [line for line in lines[-count:] if line.strip()]
