"""Every failure is one paragraph, never "internal error" (issue 10, part 5).

Each case makes the real operating system, file system or git refuse something: a full
disk, a read-only mount, an immutable file, a name too long. migfix must exit 2 with one
paragraph that says what happened and what to do, and leave every file as it was.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic_oracle import fixture_graph
from conftest import SRC, Migfix, copy_fixture
from gitutil import GIT_ENV, commit_all, git, make_repo, write

from migfix.errors import ConfigError
from migfix.project.settings import parse_settings

VERSIONS = "migrations/versions"
BASE = "aaaa0004"
# Both heads new (no git here): cccc0001 stays, cccc0002 is repointed onto it.
REPOINT = ["merge", "--new", "cccc0002"]
# Neither head new: one merge revision is written.
MERGE = ["merge", "--rev-id", "dddd0001"]


def revision_text(rev: str, down: str) -> str:
    return (
        f'"""{rev}\n\nRevision ID: {rev}\nRevises: {down}\n"""\n'
        f"revision = '{rev}'\ndown_revision = '{down}'\n"
    )


def two_heads(where: Path) -> Path:
    project = copy_fixture("plain", where)
    write(project / VERSIONS / "cccc0001_one.py", revision_text("cccc0001", BASE))
    write(project / VERSIONS / "cccc0002_two.py", revision_text("cccc0002", BASE))
    return project


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(root.rglob("*"))
        if "__pycache__" not in p.parts and ".git" not in p.parts
    }


def assert_one_paragraph(err: str, *fragments: str) -> None:
    assert err.startswith("migfix: "), err
    assert err.count("\n") == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def refused(
    project: Path,
    argv: list[str],
    migfix: Migfix,
    *fragments: str,
) -> None:
    before = snapshot(project)
    code, out, err = migfix(project, *argv)
    assert (code, out) == (2, ""), (code, out, err)
    assert_one_paragraph(err, *fragments)
    assert snapshot(project) == before


# -- the file system refuses a write -------------------------------------------------------


def _can_mount() -> bool:
    return not (os.geteuid() != 0 or shutil.which("mount") is None)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted at tmp_path/mnt (root only), unmounted afterwards."""
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [MERGE, REPOINT])
def test_disk_full(
    tiny_tmpfs: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], migfix: Migfix
) -> None:
    project = two_heads(tiny_tmpfs)
    filler = tiny_tmpfs / "filler"
    with filler.open("wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    monkeypatch.setenv("MIGFIX_NO_CACHE", "1")
    refused(project, argv, migfix, "no space left", "Nothing was changed")


@pytest.mark.slow
@pytest.mark.parametrize("argv", [MERGE, REPOINT])
def test_file_size_limit(tmp_path: Path, argv: list[str]) -> None:
    # RLIMIT_FSIZE works for any user: the kernel refuses to grow a file past the limit
    # (EFBIG), the way a quota or a full disk refuses.
    project = two_heads(tmp_path)
    before = snapshot(project)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(SRC), "MIGFIX_NO_CACHE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "migfix", *argv],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (2, ""), proc
    assert_one_paragraph(proc.stderr, "too large", "Nothing was changed")
    assert snapshot(project) == before


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A project bind-mounted read-only (root only)."""
    if not _can_mount():
        pytest.skip("a read-only bind mount needs root")
    project = two_heads(tmp_path / "src")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    for cmd in (
        ["mount", "--bind", str(project), str(mnt)],
        ["mount", "-o", "remount,bind,ro", str(mnt)],
    ):
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
            pytest.skip(f"cannot make a read-only mount here: {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [MERGE, REPOINT])
def test_read_only_file_system(read_only_mount: Path, argv: list[str], migfix: Migfix) -> None:
    # Whichever write comes first refuses (the writer lock's file, or the revision file).
    refused(read_only_mount, argv, migfix, "ead-only file system", "Nothing was")


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes into a read-only directory: permissions do not apply"
)
def test_read_only_directory(tmp_path: Path, migfix: Migfix) -> None:
    project = two_heads(tmp_path)
    versions = project / VERSIONS
    versions.chmod(0o555)
    try:
        refused(project, MERGE, migfix, "permission denied", "Nothing was changed")
    finally:
        versions.chmod(0o755)


@pytest.mark.slow
def test_immutable_file(tmp_path: Path, migfix: Migfix) -> None:
    project = two_heads(tmp_path)
    target = project / VERSIONS / "cccc0002_two.py"
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    proc = subprocess.run(["chattr", "+i", str(target)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {proc.stderr.decode().strip()}")
    try:
        refused(
            project,
            REPOINT,
            migfix,
            "cccc0002_two.py",
            "immutable",
            "Nothing was changed",
        )
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=False)


@pytest.mark.slow
def test_file_name_too_long(tmp_path: Path, migfix: Migfix) -> None:
    project = two_heads(tmp_path)
    refused(
        project,
        ["merge", "--rev-id", "a" * 300],
        migfix,
        "too long",
        "--rev-id",
    )


# -- bad options and settings are refused up front -------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["merge", "--rev-id", ""], "--rev-id must not be empty"),
        (["merge", "--rev-id", "ab cd"], "--rev-id 'ab cd' contains white space"),
        (["merge", "--rev-id", "ab/cd"], "--rev-id 'ab/cd' contains /"),
        (["merge", "--rev-id", "ab-cd"], "--rev-id 'ab-cd' contains -"),
        (["merge", "--branch-label", ""], "--branch-label must not be empty"),
        (["merge", "--branch-label", "a b"], "--branch-label 'a b' contains white space"),
    ],
)
def test_bad_merge_options_are_refused_up_front(
    tmp_path: Path, argv: list[str], fragment: str, migfix: Migfix
) -> None:
    project = two_heads(tmp_path)
    refused(project, [*argv, "--dry-run"], migfix, fragment)
    refused(project, argv, migfix, fragment)


@pytest.mark.parametrize("upstream", ["-rf", "--all", "a b"])
def test_an_upstream_setting_git_would_read_as_an_option_is_refused(upstream: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"upstream": upstream}, Path("pyproject.toml"))
    assert "upstream" in str(info.value) and repr(upstream).strip("'") in str(info.value)


def test_pyproject_that_is_not_utf8(tmp_path: Path, migfix: Migfix) -> None:
    project = two_heads(tmp_path)
    (project / "pyproject.toml").write_bytes(b'[tool.migfix]\nmessage = "caf\xe9"\n')
    for argv in (["check"], MERGE):
        refused(project, argv, migfix, "pyproject.toml", "UTF-8")


# -- a file_template that puts each revision in its own sub-folder ----------------------------


def sub_folder_project(tmp_path: Path, *, recursive: bool) -> Path:
    project = two_heads(tmp_path)
    ini = project / "alembic.ini"
    text = ini.read_text()
    text = text.replace(
        "[alembic]\n",
        "[alembic]\nfile_template = %%(year)d/%%(rev)s_%%(slug)s\n"
        f"recursive_version_locations = {'true' if recursive else 'false'}\n",
        1,
    )
    ini.write_text(text)
    return project


@pytest.mark.slow
def test_merge_with_a_sub_folder_file_template(tmp_path: Path, migfix: Migfix) -> None:
    project = sub_folder_project(tmp_path, recursive=True)
    code, _out, err = migfix(project, *MERGE)
    assert code == 0, err
    [written] = list((project / VERSIONS).glob("*/dddd0001_merge_heads.py"))
    assert written.parent.name.isdigit()
    assert fixture_graph(project)["heads"] == ["dddd0001"]
    assert migfix(project, "check")[0] == 0
    assert not list((project / VERSIONS).rglob(".migfix-*"))


@pytest.mark.slow
def test_a_sub_folder_alembic_would_not_read_is_refused(tmp_path: Path, migfix: Migfix) -> None:
    project = sub_folder_project(tmp_path, recursive=False)
    refused(project, MERGE, migfix, "recursive_version_locations")


# -- git refuses the repository ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="giving the repository to another user needs root")
@pytest.mark.parametrize("argv", [MERGE, ["check", "--against", "main"]])
@pytest.mark.usefixtures("git_env")
def test_dubious_ownership(tmp_path: Path, argv: list[str], migfix: Migfix) -> None:
    project = two_heads(tmp_path)
    make_repo(project)
    commit_all(project, "initial")
    git(project, "checkout", "-q", "-b", "feature")
    for p in [project, *project.rglob("*")]:
        os.lchown(p, 12345, 12345)
    refused(project, argv, migfix, "dubious ownership", "safe.directory")
