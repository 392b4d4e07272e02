"""The transaction journal's stored form (``<state>/txn/journal.json``) and its schema.

A transaction (:mod:`migfix.write.txn`) works on entries whose paths are absolute; the journal
stores each target relative to the work tree and each staged or kept copy by its bare file name
(in the transaction folder, or beside its target on another file system), so a repository
moved after a kill still recovers, and no journal can name a copy anywhere else. Reading it
back checks every field: anyone can write that file, and recovery deletes and replaces files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

VERSION = 2

_SHA = re.compile(r"[0-9a-f]{64}")
# The names _plan_entries gives: "<i>.new" in the transaction folder, ".migfix-<token>-<i>.new.tmp"
# beside a target on another file system.
_IN_FOLDER = re.compile(r"[0-9]+\.(new|old)")
_BESIDE = re.compile(r"\.migfix-[0-9a-f]+-[0-9]+\.(new|old)\.tmp")


class BadJournal(ValueError):
    """The journal does not fit its schema; the reason, as a clause."""


def stored(entries: Sequence[dict[str, Any]], tree: Path) -> list[dict[str, Any]]:
    """ENTRIES (absolute paths, targets inside TREE) as the journal stores them."""
    out = []
    for entry in entries:
        out.append(
            {
                "path": _below(Path(entry["path"]), tree),
                "old": entry["old"],
                "new": entry["new"],
                "staged": None if entry["staged"] is None else Path(entry["staged"]).name,
                "kept": None if entry["kept"] is None else Path(entry["kept"]).name,
            }
        )
    return out


def _below(path: Path, tree: Path) -> str:
    """PATH relative to TREE, in POSIX form; through real paths when spelled otherwise (the
    containment rule already made sure it resolves inside TREE)."""
    try:
        return path.relative_to(tree).as_posix()
    except ValueError:
        parent = os.path.relpath(os.path.realpath(path.parent), os.path.realpath(tree))
        return (PurePosixPath(Path(parent).as_posix()) / path.name).as_posix()


def loaded(data: object, tree: Path, folder: Path) -> tuple[list[dict[str, Any]], bytes | None]:
    """The entries of the journal DATA (parsed JSON), with absolute paths under TREE (a
    target) and FOLDER (a copy), and the record of moves it appends (the exact bytes), if
    any; raises :class:`BadJournal` when anything does not fit."""
    if not isinstance(data, dict):
        raise BadJournal(f"it holds {type(data).__name__}, not a journal object")
    if data.get("version") != VERSION:
        raise BadJournal(
            f"its version is {data.get('version')!r}, not {VERSION} (another migfix wrote it)"
        )
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise BadJournal("it lists no entries")
    moves = data.get("moves")
    if moves is not None and not isinstance(moves, str):
        raise BadJournal(f"its record of moves is {type(moves).__name__}, not text")
    checked = [_entry(e, i, tree, folder) for i, e in enumerate(entries, 1)]
    return checked, moves.encode("utf-8") if moves else None


def _entry(raw: object, number: int, tree: Path, folder: Path) -> dict[str, Any]:
    where = f"entry {number}"
    if not isinstance(raw, dict):
        raise BadJournal(f"{where} is not an object")
    for key in ("path", "old", "new", "staged", "kept"):
        if key not in raw:
            raise BadJournal(f"{where} has no {key!r}")
    path = raw["path"]
    if not isinstance(path, str) or not _relative(path):
        raise BadJournal(f"{where}'s path {path!r} is not a path inside the work tree")
    target = tree.joinpath(*PurePosixPath(path).parts)
    for key in ("old", "new"):
        value = raw[key]
        if value is not None and not (isinstance(value, str) and _SHA.fullmatch(value)):
            raise BadJournal(f"{where}'s {key!r} is {value!r}, not a SHA-256")
    copies = {
        key: _copy(raw, key, content, where, folder, target)
        for key, content in (("staged", "new"), ("kept", "old"))
    }
    if raw["old"] is None and raw["new"] is None:
        raise BadJournal(f"{where} neither creates nor changes nor deletes {path}")
    return {
        "path": str(target),
        "old": raw["old"],
        "new": raw["new"],
        "staged": None if copies["staged"] is None else str(copies["staged"]),
        "kept": None if copies["kept"] is None else str(copies["kept"]),
    }


def _copy(
    raw: dict[str, Any], key: str, content: str, where: str, folder: Path, target: Path
) -> Path | None:
    """Where the entry's staged (new) or kept (old) copy is: in the transaction's folder, or
    beside its target (another file system); None when there is no such content."""
    name = raw[key]
    if (name is None) != (raw[content] is None):
        raise BadJournal(f"{where}'s {key!r} does not match its {content!r}")
    if name is None:
        return None
    if isinstance(name, str) and _IN_FOLDER.fullmatch(name):
        return folder / name
    if isinstance(name, str) and _BESIDE.fullmatch(name):
        return target.parent / name
    raise BadJournal(f"{where}'s {key!r} is {name!r}, not a name migfix gives its copies")


def _relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    # A drive ("C:") or a backslash would lead elsewhere on Windows.
    return (
        bool(parts)
        and not path.startswith("/")
        and "\\" not in path
        and ":" not in parts[0]
        and ".." not in parts
    )
