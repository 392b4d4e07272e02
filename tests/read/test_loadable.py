"""Never act on a graph Alembic would not load the same way (issue 10, part 4).

Each broken file is first shown to real Alembic (``alembic_oracle``), which must refuse to
load it; then ``migfix check`` must report it by default with the right code and line, and
every command that writes must refuse (exit 2, nothing written).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from alembic_oracle import alembic_graph
from conftest import Migfix, copy_fixture
from gitutil import commit_all, git, make_repo, write

from migfix.read import scan

VERSIONS = "migrations/versions"
BASE = "aaaa0004"


def revision_text(rev: str, down: str, *, body: str = "", header: str = "") -> str:
    return (
        f'{header}"""{rev}\n\nRevision ID: {rev}\nRevises: {down}\n"""\n'
        f"revision = '{rev}'\ndown_revision = '{down}'\n{body}"
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts
    }


CONFLICT = (
    '"""feature\n\nRevision ID: bbbb0001\nRevises: aaaa0004\n"""\n'
    "revision = 'bbbb0001'\n"
    "<<<<<<< HEAD\n"
    "down_revision = 'aaaa0003'\n"
    "=======\n"
    "down_revision = 'aaaa0004'\n"
    ">>>>>>> feature\n"
)

# name -> (file bytes, code, line) of a file Alembic refuses to load.
BROKEN: dict[str, tuple[bytes, str, int]] = {
    "syntax-error-in-body": (
        revision_text("bbbb0001", BASE, body="\n\ndef upgrade(:\n    pass\n").encode(),
        "unparseable",
        10,
    ),
    "compiler-error": (
        revision_text("bbbb0001", BASE, body="return 1\n").encode(),
        "unparseable",
        8,
    ),
    "conflict-markers": (CONFLICT.encode(), "conflict-markers", 7),
    "nul-byte": (
        revision_text("bbbb0001", BASE, body="# \x00\n").encode(),
        "unparseable",
        8,
    ),
    "cookie-after-code": (
        b"import sqlalchemy as sa\n# -*- coding: latin-1 -*-\n"
        + revision_text("bbbb0001", BASE, body="NAME = 'caf\xe9'\n").encode("latin-1"),
        "unparseable",
        2,
    ),
    "no-down-revision": (
        b'"""feature\n\nRevision ID: bbbb0001\n"""\nrevision = \'bbbb0001\'\n',
        "missing-down-revision",
        5,
    ),
}


def broken_project(tmp_path: Path, name: str) -> tuple[Path, Path]:
    project = copy_fixture("plain", tmp_path)
    path = project / VERSIONS / "bbbb0001_feature.py"
    path.write_bytes(BROKEN[name][0])
    return project, path


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_alembic_refuses_each_broken_file(tmp_path: Path, name: str) -> None:
    project, _ = broken_project(tmp_path, name)
    with pytest.raises(Exception):  # noqa: B017 - whatever Alembic raises, it fails
        alembic_graph([project / VERSIONS])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_reports_what_alembic_refuses_by_default(
    tmp_path: Path, name: str, migfix: Migfix
) -> None:
    project, path = broken_project(tmp_path, name)
    _, want_code, want_line = BROKEN[name]
    code, out, _ = migfix(project, "check", "--format", "json")
    assert code == 1
    found = [
        (p["code"], p["line"])
        for p in json.loads(out)["problems"]
        if p["path"] == f"{VERSIONS}/{path.name}"
    ]
    assert (want_code, want_line) in found, found
    assert all(p["severity"] == "error" for p in json.loads(out)["problems"])


def test_conflict_markers_message_names_the_line(tmp_path: Path, migfix: Migfix) -> None:
    project, _ = broken_project(tmp_path, "conflict-markers")
    code, out, _ = migfix(project, "check")
    assert code == 1
    assert (
        f"{VERSIONS}/bbbb0001_feature.py:7: error: the file holds git conflict markers "
        "(`<<<<<<<` on line 7), so Alembic will fail to load it. Resolve the conflict (keep one "
        "side, delete the marker lines) and commit again. [conflict-markers]"
    ) in out


def test_markers_inside_a_docstring_that_loads_are_not_a_conflict(
    tmp_path: Path, migfix: Migfix
) -> None:
    # reStructuredText underlines look like the middle marker.
    project = copy_fixture("plain", tmp_path)
    write(
        project / VERSIONS / "bbbb0001_feature.py",
        '"""feature\n\nNotes\n=======\n\nRevision ID: bbbb0001\n"""\n'
        "revision = 'bbbb0001'\ndown_revision = 'aaaa0004'\n",
    )
    assert alembic_graph([project / VERSIONS])["heads"] == ["bbbb0001"]
    assert migfix(project, "check")[0] == 0


def test_cookie_on_line_two_after_a_comment_is_honoured(tmp_path: Path) -> None:
    source = b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\n" + revision_text(
        "bbbb0001", BASE, body="NAME = 'caf\xe9'\n"
    ).encode("latin-1")
    project = copy_fixture("plain", tmp_path)
    path = project / VERSIONS / "bbbb0001_x.py"
    path.write_bytes(source)
    assert alembic_graph([project / VERSIONS])["heads"] == ["bbbb0001"]
    f = scan.scan_file(path)
    assert f.issues == ()
    assert f.revision == "bbbb0001"


def test_a_down_revision_from_a_star_import_is_not_reported_missing(tmp_path: Path) -> None:
    path = tmp_path / "bbbb0001_x.py"
    path.write_text("from ids import *\nrevision = 'bbbb0001'\n")
    assert [i.code for i in scan.scan_file(path).issues] == []


# -- the scan cache keeps the full parse ------------------------------------------------


def test_the_full_parse_is_cached_once_per_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from migfix.read import scancache

    monkeypatch.setenv("MIGFIX_CACHE_DIR", str(tmp_path / "cache"))
    versions = tmp_path / "versions"
    broken = write(versions / "bbbb0001_x.py", revision_text("bbbb0001", "a", body="def f(:\n"))
    fine = write(versions / "bbbb0002_y.py", revision_text("bbbb0002", "bbbb0001"))
    old = time.time() - 60
    for p in (broken, fine):
        os.utime(p, (old, old))
    # ctime cannot be set back: let the racy window treat the files as old instead.
    monkeypatch.setattr(scancache, "_RACY_NS", -(10**12))
    compiled: list[str] = []
    real_compile = compile

    def counting(source: object, filename: str, *args: object, **kwargs: object) -> object:
        if str(filename).endswith(".py"):  # not the '<string>' of a namedtuple and such
            compiled.append(Path(filename).name)
        return real_compile(source, filename, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.compile", counting)
    # `heads` and `graph` do not compile; what they cache is redone by the first full read.
    quick = scan.scan_locations([versions], recursive=False, full=False)
    assert compiled == [] and [f.issues for f in quick] == [(), ()]
    first = scan.scan_locations([versions], recursive=False)
    assert sorted(compiled) == ["bbbb0001_x.py", "bbbb0002_y.py"]
    compiled.clear()
    second = scan.scan_locations([versions], recursive=False)
    again = scan.scan_locations([versions], recursive=False, full=False)
    assert compiled == []
    assert [f.issues for f in second] == [f.issues for f in first] == [f.issues for f in again]
    assert [i.code for i in second[0].issues] == ["unparseable"]
    os.utime(fine, (old + 1, old + 1))  # a change: compiled again, once
    scan.scan_locations([versions], recursive=False)
    scan.scan_locations([versions], recursive=False)
    assert compiled == ["bbbb0002_y.py"]


# -- any error blocks every write ----------------------------------------------------------


def two_head_project(tmp_path: Path) -> Path:
    project = copy_fixture("plain", tmp_path)
    write(project / VERSIONS / "cccc0001_one.py", revision_text("cccc0001", BASE))
    write(project / VERSIONS / "cccc0002_two.py", revision_text("cccc0002", BASE))
    return project


BLOCKERS = {
    "non-literal-down-revision": (
        "cccc0003_alias.py",
        '"""alias\n\nRevision ID: cccc0003\nRevises: aaaa0003\n"""\n'
        "PARENT = 'aaaa0003'\nrevision = 'cccc0003'\ndown_revision = PARENT\n",
        8,
    ),
    "non-literal-revision": (
        "cccc0003_alias.py",
        "REV = 'cccc0003'\nrevision = REV\ndown_revision = 'aaaa0003'\n",
        2,
    ),
    "syntax-error": (
        "cccc0003_broken.py",
        revision_text("cccc0003", "aaaa0003", body="def upgrade(:\n"),
        8,
    ),
    "conflict-markers": (
        "cccc0003_conflict.py",
        CONFLICT.replace("bbbb0001", "cccc0003"),
        7,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BLOCKERS))
def test_merge_refuses_a_graph_with_any_error(tmp_path: Path, name: str, migfix: Migfix) -> None:
    project = two_head_project(tmp_path)
    file_name, text, line = BLOCKERS[name]
    write(project / VERSIONS / file_name, text)
    before = snapshot(project)
    code, out, err = migfix(project, "merge", "--new", "cccc0001", "--new", "cccc0002")
    assert code == 2, (out, err)
    assert snapshot(project) == before
    assert f"{VERSIONS}/{file_name}:{line}:" in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["non-literal-down-revision", "syntax-error", "conflict-markers"])
@pytest.mark.usefixtures("git_env")
def test_rebase_refuses_a_branch_revision_alembic_would_not_load(
    tmp_path: Path, name: str, migfix: Migfix
) -> None:
    project = copy_fixture("plain", tmp_path)
    make_repo(project)
    commit_all(project, "initial")
    git(project, "checkout", "-q", "-b", "feature")
    name, text, line = BLOCKERS[name]
    write(project / VERSIONS / name, text.replace("aaaa0003", BASE))
    commit_all(project, "feature")
    git(project, "checkout", "-q", "main")
    write(project / VERSIONS / "dddd0001_main.py", revision_text("dddd0001", BASE))
    commit_all(project, "main")
    git(project, "checkout", "-q", "feature")
    before = snapshot(project)
    code, _, err = migfix(project, "rebase", "--onto", "main")
    assert code == 2
    assert f"{VERSIONS}/{name}:{line}:" in err
    assert snapshot(project) == before


# -- reading stays linear in the file size ----------------------------------------------------


def seed_data_revision(size: int) -> str:
    """A revision whose seed-data list is one line of SIZE characters mentioning `revision`."""
    row = '{"id": 1, "revision": "r1", "name": "row"}, '
    rows = row * (size // len(row))
    return revision_text("bbbb0001", BASE, body=f"ROWS = [{rows}]\n\n\ndef upgrade():\n    pass\n")


@pytest.mark.parametrize("first", [True, False])
def test_a_long_line_is_read_in_linear_time(tmp_path: Path, first: bool) -> None:
    # No clock: reading this 1 MB line took minutes when the scan was quadratic in the line
    # length (300 KB: over a minute) and takes milliseconds now, so a regression shows up as a
    # test run that stalls, not as a flaky threshold. Two quadratic paths: the line after the
    # header, and (no docstring) before it.
    text = seed_data_revision(1_000_000)
    if first:
        _, _, body = text.partition("revision = ")
        seed, _, rest = body.partition("ROWS = ")
        text = "ROWS = " + rest.split("\n", 1)[0] + "\nrevision = " + seed
    path = tmp_path / "bbbb0001_seed.py"
    path.write_text(text)
    f = scan.scan_file(path)
    assert (f.revision, f.down_revisions, f.issues) == ("bbbb0001", (BASE,), ())


def test_a_value_that_never_closes_is_read_in_linear_time(tmp_path: Path) -> None:
    # The fast path parsed ever longer chunks (one more line each time, up to 200): 400 KB
    # took 15 s. Linear now; a regression shows up as a stalled test, not a threshold.
    row = "".join(f'"revision{i}", ' for i in range(150))
    body = "\n".join(f"    {row}" for _ in range(190))
    path = tmp_path / "bbbb0001_open.py"
    path.write_text(f"revision = 'bbbb0001'\ndown_revision = (\n{body}\n")
    assert [(i.code, i.line) for i in scan.scan_file(path).issues] == [("unparseable", 2)]


# -- a committed symlink as the versions folder ------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("git_env")
def test_check_against_follows_a_symlinked_versions_folder(tmp_path: Path, migfix: Migfix) -> None:
    project = copy_fixture("plain", tmp_path)
    shared = project / "db" / "versions"
    shared.parent.mkdir()
    (project / VERSIONS).rename(shared)
    (project / VERSIONS).symlink_to("../db/versions", target_is_directory=True)
    make_repo(project)
    commit_all(project, "initial")
    git(project, "checkout", "-q", "-b", "feature")
    write(shared / "eeee0001_feature.py", revision_text("eeee0001", BASE))
    commit_all(project, "feature")
    git(project, "checkout", "-q", "main")
    write(shared / "eeee0002_main.py", revision_text("eeee0002", BASE))
    commit_all(project, "main")
    git(project, "checkout", "-q", "feature")
    code, out, _ = migfix(project, "check", "--against", "main", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert sorted(data["heads"]) == ["eeee0001", "eeee0002"]
    code, out, err = migfix(project, "rebase", "--onto", "main", "--dry-run")
    assert code == 1, err
    assert "eeee0001: aaaa0004 -> eeee0002" in out
