from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from migfix.errors import Refusal
from migfix.plan.records import FileChange
from migfix.write.fileio import (
    atomic_write,
    decode_source,
    read_bytes,
    remove_stale_bytecode,
)
from migfix.write.txn import write_changes


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".migfix-"))


def test_atomic_write_replaces_content_and_keeps_mode_bits(tmp_path: Path) -> None:
    target = tmp_path / "aaaa0001_first.py"
    target.write_bytes(b"old\n")
    os.chmod(target, 0o751)

    atomic_write(target, b"new\r\n")

    assert read_bytes(target) == b"new\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert _leftovers(tmp_path) == []


def test_atomic_write_new_file_gets_umask_mode_not_mkstemp_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new.py", b"x = 1\n")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.py").stat().st_mode) == 0o644


def test_atomic_write_failure_leaves_no_temp(tmp_path: Path) -> None:
    # The target is a non-empty directory: the temp is written, os.replace fails.
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_text("x")

    with pytest.raises(OSError):
        atomic_write(target, b"data")

    assert _leftovers(tmp_path) == []
    assert (target / "inside").read_text() == "x"


def test_write_changes_writes_changed_and_created_files_and_skips_unchanged(
    tmp_path: Path,
) -> None:
    changed = tmp_path / "changed.py"
    same = tmp_path / "same.py"
    changed.write_bytes(b"a = 1\n")
    same.write_bytes(b"b = 2\n")
    os.utime(same, (1_000_000, 1_000_000))
    created = tmp_path / "created.py"

    written = write_changes(
        [
            FileChange(changed, b"a = 1\n", b"a = 10\n"),
            FileChange(same, b"b = 2\n", b"b = 2\n"),
            FileChange(created, None, b"c = 3\n"),
        ]
    )

    assert written == [changed, created]
    assert changed.read_bytes() == b"a = 10\n"
    assert created.read_bytes() == b"c = 3\n"
    assert same.stat().st_mtime == 1_000_000  # never touched
    assert _leftovers(tmp_path) == []


def test_write_changes_rolls_back_when_a_later_replace_fails(tmp_path: Path) -> None:
    first = tmp_path / "aaaa0001_first.py"
    first.write_bytes(b"down_revision = None\n")
    created = tmp_path / "aaaa0002_new.py"
    # A name one byte longer than any filesystem allows: it does not exist, its temp file
    # (short name, same directory) is staged fine, and then os.replace onto it fails for
    # real, after the two changes before it were already in place.
    too_long = tmp_path / ("b" * 253 + ".py")

    with pytest.raises(OSError) as info:
        write_changes(
            [
                FileChange(first, b"down_revision = None\n", b"down_revision = 'zzzz'\n"),
                FileChange(created, None, b"new\n"),
                FileChange(too_long, None, b"never\n"),
            ]
        )

    assert info.value.errno == errno.ENAMETOOLONG
    assert first.read_bytes() == b"down_revision = None\n"
    assert not created.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aaaa0001_first.py"]


def test_write_changes_writes_nothing_when_a_target_directory_is_missing(tmp_path: Path) -> None:
    first = tmp_path / "first.py"
    first.write_bytes(b"one\n")
    second = tmp_path / "second.py"

    with pytest.raises(FileNotFoundError):
        write_changes(
            [
                FileChange(first, b"one\n", b"ONE\n"),
                FileChange(second, None, b"two\n"),
                FileChange(tmp_path / "no-such-dir" / "third.py", None, b"three\n"),
            ]
        )

    assert first.read_bytes() == b"one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.py"]


def test_write_changes_refuses_when_a_file_changed_on_disk(tmp_path: Path) -> None:
    first = tmp_path / "first.py"
    first.write_bytes(b"one\n")
    edited = tmp_path / "edited.py"
    edited.write_bytes(b"someone else wrote this\n")

    with pytest.raises(Refusal) as info:
        write_changes(
            [
                FileChange(first, b"one\n", b"ONE\n"),
                FileChange(edited, b"what migfix read\n", b"new\n"),
            ]
        )

    assert str(info.value) == (
        f"{edited} changed under migfix while it was working. "
        "Nothing was written; run migfix again."
    )
    assert first.read_bytes() == b"one\n"
    assert edited.read_bytes() == b"someone else wrote this\n"


def test_write_changes_refuses_to_create_a_file_that_exists(tmp_path: Path) -> None:
    existing = tmp_path / "new.py"
    existing.write_bytes(b"mine\n")

    with pytest.raises(Refusal) as info:
        write_changes([FileChange(existing, None, b"theirs\n")])

    assert str(info.value) == (
        f"{existing} already exists; migfix was about to create it. "
        "Nothing was written. Remove or rename that file, or run migfix again."
    )
    assert existing.read_bytes() == b"mine\n"


def test_write_changes_removes_stale_bytecode_of_written_files_only(tmp_path: Path) -> None:
    rev = tmp_path / "aaaa0002_add.py"
    rev.write_bytes(b"down_revision = 'aaaa0001'\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    stale = [
        "aaaa0002_add.cpython-311.pyc",
        "aaaa0002_add.cpython-312.opt-1.pyc",
    ]
    kept = [
        "aaaa0002_add.other.cpython-311.pyc",  # belongs to aaaa0002_add.other.py
        "aaaa0003_other.cpython-311.pyc",
    ]
    for name in stale + kept:
        (cache / name).write_bytes(b"pyc")

    write_changes(
        [FileChange(rev, b"down_revision = 'aaaa0001'\n", b"down_revision = 'bbbb0001'\n")]
    )

    assert sorted(p.name for p in cache.iterdir()) == sorted(kept)


def test_remove_stale_bytecode_without_pycache_is_a_no_op(tmp_path: Path) -> None:
    remove_stale_bytecode(tmp_path / "x.py")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\xef\xbb\xbfx = '\xc3\xa9'\n", "x = '\u00e9'\n"),
        (b"# coding: latin-1\nx = '\xe9'\n", "# coding: latin-1\nx = '\u00e9'\n"),
        (b"x = '\xc3\xa9'\n", "x = '\u00e9'\n"),
        # Not valid UTF-8 and no cookie: shown as latin-1 rather than failing.
        (b"x = '\xe9'\n", "x = '\u00e9'\n"),
        # A cookie naming an unknown codec.
        (b"# coding: nosuchcodec\nx = 1\n", "# coding: nosuchcodec\nx = 1\n"),
    ],
)
def test_decode_source(data: bytes, text: str) -> None:
    assert decode_source(data) == text
