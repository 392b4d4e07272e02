"""The scan cache: unchanged files are not read again, changed ones always are."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES

from migfix.read import revision_file, scan, scancache


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIGFIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MIGFIX_NO_CACHE", raising=False)
    dest = tmp_path / "versions"
    shutil.copytree(FIXTURES / "typed" / "migrations" / "versions", dest)
    old = 1_600_000_000
    for p in dest.iterdir():
        os.utime(p, (old, old))
    return dest


def _age_ctime_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    # ctime cannot be set back; instead move "now" forward past the racy window.
    real = scancache.time.time_ns
    monkeypatch.setattr(scancache.time, "time_ns", lambda: real() + 10 * 1_000_000_000)


def test_second_run_reads_no_file(versions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _age_ctime_guard(monkeypatch)
    uncached = scan.scan_locations([versions], recursive=False, cache=False)
    first = scan.scan_locations([versions], recursive=False)
    assert first == uncached
    assert list((versions.parent / "cache").iterdir())

    def no_read(path: Path, data: bytes | None = None) -> revision_file.RevisionFile:
        raise AssertionError(f"{path} was read although it did not change")

    monkeypatch.setattr(scan, "scan_file", no_read)
    second = scan.scan_locations([versions], recursive=False)
    assert second == first


def test_changed_file_is_read_again(versions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _age_ctime_guard(monkeypatch)
    scan.scan_locations([versions], recursive=False)
    target = next(p for p in versions.iterdir() if "bbbb0002" in p.name)
    text = target.read_text()
    # Same length, same mtime: only ctime and inode tell the change.
    target.write_text(text.replace("bbbb0001", "bbbb000X"))
    os.utime(target, (1_600_000_000, 1_600_000_000))
    files = {f.revision: f for f in scan.scan_locations([versions], recursive=False)}
    assert files["bbbb0002"].down_revisions == ("bbbb000X",)


def test_recent_files_are_never_cached(versions: Path) -> None:
    # Without moving the clock, every file's ctime is within the racy window.
    scan.scan_locations([versions], recursive=False)
    cache = scancache.LocationCache(versions, False)
    assert cache.entries == {}


def test_unknown_values_survive_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGFIX_CACHE_DIR", str(tmp_path / "cache"))
    _age_ctime_guard(monkeypatch)
    d = tmp_path / "v"
    d.mkdir()
    (d / "a1.py").write_text(
        '"""x\n\nRevises: zz\n"""\nrevision = "a1"\ndown_revision = ids.REV\n'
        "branch_labels = (cli.EXPAND,)\n"
    )
    first = scan.scan_locations([d], recursive=False)
    second = scan.scan_locations([d], recursive=False)
    assert first == second
    assert isinstance(second[0].down_revision.value, revision_file.Unknown)
    assert [i.code for i in second[0].issues] == ["non-literal", "non-literal"]


def test_no_cache_env_and_corrupt_cache(versions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _age_ctime_guard(monkeypatch)
    expected = scan.scan_locations([versions], recursive=False, cache=False)
    scan.scan_locations([versions], recursive=False)
    for f in (versions.parent / "cache").iterdir():
        f.write_bytes(b"\x00garbage")
    assert scan.scan_locations([versions], recursive=False) == expected
    monkeypatch.setenv("MIGFIX_NO_CACHE", "1")
    assert scancache.LocationCache(versions, False).path is None


def test_a_changed_file_too_young_to_store_does_not_rewrite_the_cache(
    versions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _age_ctime_guard(monkeypatch)
    scan.scan_locations([versions], recursive=False)
    (cache_file,) = (versions.parent / "cache").iterdir()
    stored = cache_file.read_bytes()
    target = next(p for p in versions.iterdir() if "bbbb0002" in p.name)
    target.write_text(target.read_text().replace("bbbb0001", "bbbb000X"))
    # As a file git just wrote: within the racy window, so it cannot be stored.
    soon = scancache.time.time_ns() + 1_000_000_000
    os.utime(target, ns=(soon, soon))

    for _ in range(2):  # the old entry is never taken for the changed file
        files = {f.revision: f for f in scan.scan_locations([versions], recursive=False)}
        assert files["bbbb0002"].down_revisions == ("bbbb000X",)
        assert cache_file.read_bytes() == stored  # not rewritten for the dead entry

    # A file gone from the folder does rewrite it, without that file.
    gone = next(p for p in versions.iterdir() if "bbbb0003" in p.name)
    gone.unlink()
    scan.scan_locations([versions], recursive=False)
    assert str(gone) not in scancache.LocationCache(versions, False).entries
