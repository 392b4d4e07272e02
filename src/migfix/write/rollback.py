"""Rolling back a transaction journaled by :mod:`migfix.write.txn`: what Ctrl-C does in the
run itself, and what recovery does after a kill.

Every file gets its old bytes back, a created one is removed, a deleted one put back; a file
holding neither old nor new bytes (edited since) is left alone and named. Nothing is touched
unless the journal fits its schema (:mod:`migfix.write.txnjournal`) and names only files
recovery may write (:mod:`migfix.write.contain`): otherwise :class:`Stuck` says so, keeping the
journal and every old copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from migfix.write import moves, nomove, txnjournal
from migfix.write.contain import Scope, real, writable
from migfix.write.fileio import fsync_dir, remove_stale_bytecode

JOURNAL = "journal.json"


class Stuck(Exception):
    """A file could not be put back; the journal and the kept bytes stay for a later try."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def roll_back(folder: Path, tree: Path, scope: Callable[[], Scope] | None) -> int | None:
    """Undo the transaction journaled in FOLDER, then remove FOLDER.

    Returns how many files were put back, or None when there
    was no journal (nothing had been replaced yet, or the transaction had committed).
    Raises :class:`Stuck`, keeping the journal and every kept copy, when a file cannot be
    put back or was edited since, and before touching anything when the journal does not fit
    its schema or names a file SCOPE (computed only then) does not allow; without SCOPE (a
    run undoing its own journal), a file anywhere in the work tree TREE.
    """
    journal = folder / JOURNAL
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        remove_folder(folder)
        return None
    except OSError as exc:
        raise Stuck(_stuck_line(folder, [str(journal)], exc)) from exc
    entries, recorded = _checked_entries(raw, folder, tree, scope)
    restored, edited = _put_back_all(folder, entries)
    if edited:
        raise Stuck(_edited_line(folder, restored, edited))
    if recorded is not None:
        _unrecord(folder.parent, recorded)
    remove_leftovers(entries)
    try:
        os.unlink(journal)
    except OSError as exc:
        raise Stuck(
            f"put back {restored} file(s) of an interrupted change, but could not remove its "
            f"journal {journal} ({exc.strerror or exc}). Make {folder} writable by you, then "
            "run any migfix command again."
        ) from exc
    fsync_dir(folder)
    remove_folder(folder)
    return restored


def _put_back_all(
    folder: Path, entries: Sequence[dict[str, Any]]
) -> tuple[int, list[dict[str, Any]]]:
    """Put every file back, last change first: how many were restored, and the entries of
    files edited since (left alone). :class:`Stuck` when a file could not be put back."""
    restored = 0
    edited: list[dict[str, Any]] = []
    touched: set[Path] = set()
    failed: list[str] = []
    error: OSError | None = None
    for entry in reversed(entries):
        path = Path(entry["path"])
        try:
            outcome = _put_back(path, entry)
        except OSError as exc:
            failed.append(str(path))
            error = exc
            continue
        if outcome == "edited":
            edited.append(entry)
        elif outcome == "restored":
            restored += 1
            touched.add(path.parent)
    for directory in touched:
        fsync_dir(directory)
    if error is not None:
        raise Stuck(_stuck_line(folder, failed, error))
    return restored, edited


def _checked_entries(
    raw: bytes, folder: Path, tree: Path, scope: Callable[[], Scope] | None
) -> tuple[list[dict[str, Any]], bytes | None]:
    """The journal's entries and record of moves, once it fits its schema and names only
    files recovery may write; else :class:`Stuck` with the paragraph saying so."""
    journal = folder / JOURNAL
    try:
        entries, recorded = txnjournal.loaded(json.loads(raw), tree, folder)
    except ValueError as exc:  # not JSON (truncated, say): json's error is a ValueError
        reason = "it is not JSON (it may have been cut short)"
        if isinstance(exc, txnjournal.BadJournal):
            reason = str(exc)
        raise Stuck(_refused_line(journal, reason)) from None
    allowed = scope() if scope is not None else None
    for entry in entries:
        path = Path(entry["path"])
        if allowed.allows(path) if allowed is not None else writable(path, real(tree)):
            continue
        where = f" (it resolves to {real(path)})" if real(path) != path else ""
        raise Stuck(
            _refused_line(
                journal,
                f"it names {path}{where}, which is not in a version location of a project "
                f"in {tree}",
            )
        )
    return entries, recorded


def _refused_line(journal: Path, reason: str) -> str:
    folder = journal.parent
    return (
        f"found the journal of an interrupted change, {journal}, but {reason}. It undid nothing "
        f"and left every file where it is, the old contents kept in {folder} too. Compare the "
        "files that journal names with git (git status, git diff), put back what you need "
        "from that folder, then delete it and run migfix again."
    )


def _edited_line(folder: Path, restored: int, edited: Sequence[dict[str, Any]]) -> str:
    kept = [
        f"{e['path']} (before the change: {e['kept'] or 'absent, migfix created it'})"
        for e in reversed(edited)
    ]
    return (
        f"put back {restored} file(s) of an interrupted change, but left {', '.join(kept)} as "
        "it is: it changed since the change was interrupted. Keep what you want of either "
        f"version, then delete {folder}; until then migfix says this again and writes nothing."
    )


def _put_back(path: Path, entry: dict[str, Any]) -> str:
    """Give PATH its old bytes back: "restored", "edited" (neither old nor new: left
    alone), or "as-was" (it never changed)."""
    now = sha_of(path)
    if now == entry["old"]:
        return "as-was"
    if now != entry["new"]:
        return "edited"
    if entry["old"] is None:
        path.unlink()
    else:
        os.replace(entry["kept"], path)
    if path.suffix == ".py":
        remove_stale_bytecode(path)
    return "restored"


def _unrecord(state: Path, data: bytes) -> None:
    """Take the undone transaction's record of moves out of the journal of moves.

    That journal is found from STATE (``<git dir>/migfix``), never from a path in the
    transaction's journal: ``<git common dir>/migfix-moves.jsonl``, where a linked
    worktree's git dir names its common dir in the file ``commondir``."""
    git_dir = state.parent
    try:
        common = (git_dir / (git_dir / "commondir").read_text("utf-8").strip()).resolve()
    except FileNotFoundError:
        common = git_dir.resolve()
    except (OSError, UnicodeDecodeError):
        return
    with contextlib.suppress(OSError):
        moves.unappend(common.joinpath(nomove.JOURNAL), data)


def _stuck_line(folder: Path, paths: list[str], exc: OSError) -> str:
    return (
        f"could not undo an interrupted migfix change: {', '.join(paths)} "
        f"({exc.strerror or exc}). Its journal and the old contents stay in {folder}; fix "
        "the cause and run any migfix command again to finish undoing it."
    )


def sha_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError:
        # A folder or unreadable: neither old nor new. A name too long for the file system
        # is a file that could not be created, as it was.
        return "?" if os.path.lexists(path) else None


def remove_leftovers(entries: Sequence[dict[str, Any]]) -> None:
    for entry in entries:
        for key in ("staged", "kept"):
            if entry[key] is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry[key])


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
