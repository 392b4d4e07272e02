"""Recovery of an interrupted transaction acts only on what migfix itself could have written.

A journal is read from ``<git dir>/migfix/txn/journal.json``, a file anyone (or any tool) can
write. Recovery puts files back only when the journal is well-formed and each target lies in a
version location of a project in the repository (after resolving symlinks); otherwise it says
so in one paragraph and leaves every file, the kept old contents included, where it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from gitutil import git
from projutil import migfix_proc
from test_txn import (
    MERGE,
    RECOVERED,
    Split,
    journal_left,
    make_split,
    snapshot,
    start,
    stop_at,
    wait_for,
)

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

REFUSED = "undid nothing and left every file where it is"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def split(tmp_path: Path) -> Split:
    return make_split(tmp_path, settled=6, fork=3, new=3)


def txn_folder(root: Path) -> Path:
    folder = root / ".git" / "migfix" / "txn"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def killed_merge(tmp_path: Path, split: Split, moment: str = "first") -> dict[str, bytes]:
    """Kill a real ``migfix merge`` at MOMENT of its write (txn's test hook: ``first``, half-way
    through replacing files); the tree before it."""
    old = snapshot(split.root)
    stop = tmp_path / "stop"
    proc = start(split.root, *MERGE, **stop_at(moment, stop))
    wait_for(stop, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert snapshot(split.root) != old
    return old


MALFORMED = {
    "a list": b"[]",
    "no entries": b'{"version": 1}',
    "an empty entry": b'{"entries": [{}]}',
    "null": b"null",
    "a string path list": b'{"version": 2, "entries": [{"path": ["a"]}]}',
}


@pytest.mark.parametrize("text", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_journal_is_named_and_every_file_stays(split: Split, text: bytes) -> None:
    folder = txn_folder(split.root)
    (folder / "journal.json").write_bytes(text)
    (folder / "0.old").write_bytes(b"the only copy of someone's old bytes\n")
    before = snapshot(split.root)

    heads = migfix_proc(split.root, "heads")
    merge = migfix_proc(split.root, *MERGE)

    assert heads.returncode != 2, heads.stderr  # it reads on; 1 is for the two heads
    for run in (heads, merge):
        assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert str(folder / "journal.json") in run.stderr, run.stderr
        assert REFUSED in run.stderr, run.stderr
    # A writer would start a journal over the one in doubt: it refuses instead.
    assert merge.returncode == 2, merge.stderr
    assert "Nothing was written" in merge.stderr
    assert files_in(folder) == {
        "journal.json": text,
        "0.old": b"the only copy of someone's old bytes\n",
    }
    assert snapshot(split.root) == before


def test_a_truncated_journal_keeps_the_half_applied_change_and_its_backups(
    tmp_path: Path, split: Split
) -> None:
    killed_merge(tmp_path, split)
    folder = split.root / ".git" / "migfix" / "txn"
    journal = folder / "journal.json"
    journal.write_bytes(journal.read_bytes()[:40])
    kept = files_in(folder)
    half = snapshot(split.root)

    heads = migfix_proc(split.root, "heads")

    assert REFUSED in heads.stderr and str(journal) in heads.stderr, heads.stderr
    assert RECOVERED not in heads.stderr
    assert files_in(folder) == kept
    assert snapshot(split.root) == half


def test_a_journal_naming_a_file_outside_the_repository_leaves_it_alone(
    tmp_path: Path, split: Split
) -> None:
    victim = tmp_path / "elsewhere" / "precious.py"
    victim.parent.mkdir()
    victim.write_bytes(b"precious\n")
    folder = txn_folder(split.root)
    # As migfix 0.x wrote them (absolute paths), and as the current version does (relative).
    for journal in (
        {"version": 1, "entries": [{"path": str(victim), "old": None, "new": sha(b"precious\n"),
                                    "staged": str(folder / "0.new"), "kept": None}]},
        {"version": 2, "entries": [{"path": "../elsewhere/precious.py", "old": None,
                                    "new": sha(b"precious\n"), "staged": "0.new", "kept": None}]},
    ):  # fmt: skip
        (folder / "journal.json").write_text(json.dumps(journal))

        heads = migfix_proc(split.root, "heads")

        assert victim.read_bytes() == b"precious\n"
        assert REFUSED in heads.stderr, heads.stderr
        assert (folder / "journal.json").exists()
    assert "../elsewhere/precious.py" in heads.stderr


def test_a_journal_target_reached_through_a_symlink_out_of_the_repository_is_left_alone(
    tmp_path: Path, split: Split
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.py").write_bytes(b"precious\n")
    (elsewhere / "keep.py").write_bytes(b"keep\n")
    (split.versions / "out").symlink_to(elsewhere)
    folder = txn_folder(split.root)
    (folder / "1.old").write_bytes(b"overwritten\n")
    journal = {
        "version": 2,
        "entries": [
            {"path": "migrations/versions/out/precious.py", "old": None,
             "new": sha(b"precious\n"), "staged": "0.new", "kept": None},
            {"path": "migrations/versions/out/keep.py", "old": sha(b"overwritten\n"),
             "new": sha(b"keep\n"), "staged": "1.new", "kept": "1.old"},
        ],
    }  # fmt: skip
    (folder / "journal.json").write_text(json.dumps(journal))

    heads = migfix_proc(split.root, "heads")

    assert REFUSED in heads.stderr, heads.stderr
    assert files_in(elsewhere) == {"precious.py": b"precious\n", "keep.py": b"keep\n"}


def test_a_journal_target_in_the_repository_but_no_version_location_is_left_alone(
    split: Split,
) -> None:
    ini = (split.root / "alembic.ini").read_bytes()
    folder = txn_folder(split.root)
    journal = {
        "version": 2,
        "entries": [{"path": "alembic.ini", "old": None, "new": sha(ini), "staged": "0.new",
                     "kept": None}],
    }  # fmt: skip
    (folder / "journal.json").write_text(json.dumps(journal))

    heads = migfix_proc(split.root, "heads")

    assert (split.root / "alembic.ini").read_bytes() == ini
    assert REFUSED in heads.stderr and "alembic.ini" in heads.stderr, heads.stderr


def test_a_repository_moved_after_the_kill_still_recovers(tmp_path: Path, split: Split) -> None:
    old = killed_merge(tmp_path, split)
    moved = tmp_path / "moved"
    shutil.move(split.root, moved)

    heads = migfix_proc(moved, "heads")

    assert RECOVERED in heads.stderr, heads.stderr
    assert snapshot(moved) == old
    assert journal_left(moved) == []


def test_a_file_edited_since_the_kill_keeps_its_backup_and_no_undid_is_said(
    tmp_path: Path, split: Split
) -> None:
    killed_merge(tmp_path, split, "replaced")  # a repointed file, not only the created one
    folder = split.root / ".git" / "migfix" / "txn"
    entries = json.loads((folder / "journal.json").read_bytes())["entries"]
    replaced = next(
        e for e in entries if e["old"] and sha((split.root / e["path"]).read_bytes()) == e["new"]
    )
    edited = split.root / replaced["path"]
    edited.write_bytes(edited.read_bytes() + b"# edited by hand\n")
    kept = folder / replaced["kept"]
    kept_bytes = kept.read_bytes()

    heads = migfix_proc(split.root, "heads")

    assert RECOVERED not in heads.stderr, heads.stderr
    assert edited.name in heads.stderr and str(kept) in heads.stderr, heads.stderr
    assert kept.read_bytes() == kept_bytes
    assert edited.read_bytes().endswith(b"# edited by hand\n")
    # Each other file is back as it was: only the edited one is left to the user.
    git_status = git(split.root, "status", "--porcelain", "--untracked-files=all")
    assert git_status.splitlines() == [f" M {replaced['path']}"], git_status


def test_an_unreadable_lock_of_a_journaled_change_is_said(tmp_path: Path, split: Split) -> None:
    killed_merge(tmp_path, split)
    state = split.root / ".git" / "migfix"
    (state / "lock").unlink(missing_ok=True)
    (state / "lock").mkdir()  # what no process can open as its lock file, root included

    heads = migfix_proc(split.root, "heads")

    assert "interrupted" in heads.stderr and str(state / "lock") in heads.stderr, heads.stderr
    assert (state / "txn" / "journal.json").exists()
    os.rmdir(state / "lock")


def test_a_command_in_another_project_of_the_repository_recovers_it(
    tmp_path: Path, split: Split
) -> None:
    """The state folder is the repository's: a monorepo's other project finds the journal,
    and the killed project's version locations (found by discovery) are in its scope."""
    other = split.root / "other"
    (other / "migrations" / "versions").mkdir(parents=True)
    (other / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    old = killed_merge(tmp_path, split)

    heads = migfix_proc(other, "heads")

    assert RECOVERED in heads.stderr, heads.stderr
    assert snapshot(split.root) == old
    assert journal_left(split.root) == []
