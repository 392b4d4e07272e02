"""migfix.read.gittree: revision files read from a git tree, each blob scanned once per machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from gitutil import commit_all, git, make_repo, write

from migfix.errors import GitError
from migfix.git import trees
from migfix.read.gittree import revisions_on, tree_files
from migfix.read.scan import scan_locations, scan_sources

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _own_cache(git_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # An empty cache per test: "each blob scanned once per machine" is counted from nothing.
    monkeypatch.setenv("MIGFIX_CACHE_DIR", str(tmp_path / "cache"))


def _delete_loose_object(repo: Path, sha: str) -> None:
    objects = Path(git(repo, "rev-parse", "--git-path", "objects"))
    objects = objects if objects.is_absolute() else repo / objects
    (objects / sha[:2] / sha[2:]).unlink()


def test_same_files_in_the_same_order_as_reading_every_blob(
    tmp_path: Path, corpus_dir: Path
) -> None:
    """langflow's real files (and a sub-folder, a symlink, a README) in a commit: the same
    revision files as GitPython's full read (which follows the link), in Alembic's order,
    cold and cached."""
    repo = make_repo(tmp_path / "repo")
    versions = repo / "migrations" / "versions"
    source = corpus_dir / "langflow" / "langflow" / "alembic" / "versions"
    shutil.copytree(source, versions)
    write(versions / "sub" / "cccc0001_nested.py", 'revision = "cccc0001"\n')
    write(versions / "README", "not a revision\n")
    os.symlink("README", versions / "link.py")
    commit_all(repo, "real files")
    head = git(repo, "rev-parse", "HEAD")
    for recursive in (False, True):
        expected = scan_sources(
            trees.read_tree_files(repo, "HEAD", versions, recursive=recursive) or {},
            recursive=recursive,
            locations=[versions],
        )
        for _ in ("cold", "cached"):
            got = tree_files([versions], repo, head, ref="HEAD", recursive=recursive)
            assert got == expected
    # The nested file (recursive) and the link, which git's tree holds as a link to README.
    assert len(expected) == len(list(source.glob("*.py"))) + 2


def test_a_blob_seen_once_is_not_read_from_git_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    write(versions / "aaaa0001_init.py", 'revision = "aaaa0001"\ndown_revision = None\n')
    commit_all(repo, "init")
    head = git(repo, "rev-parse", "HEAD")
    first = tree_files([versions], repo, head, ref="HEAD", recursive=False)
    assert [f.revision for f in first] == ["aaaa0001"]
    # The object is gone from git: only the cache can answer now.
    _delete_loose_object(repo, git(repo, "rev-parse", "HEAD:versions/aaaa0001_init.py"))
    assert tree_files([versions], repo, head, ref="HEAD", recursive=False) == first
    # Without the cache, git must read it, and says what is wrong.
    shutil.rmtree(tmp_path / "cache")
    with pytest.raises(GitError) as info:
        tree_files([versions], repo, head, ref="HEAD", recursive=False)
    message = str(info.value)
    assert message.startswith("Cannot read 'versions' from git revision 'HEAD': ")
    assert message.endswith(" The repository may be damaged: run `git fsck` to check it.")


def test_a_missing_folder_is_reported_to_on_missing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "other" / "x.py", "x = 1\n")
    commit_all(repo, "init")
    head = git(repo, "rev-parse", "HEAD")
    missing: list[Path] = []
    files = tree_files(
        [repo / "versions"], repo, head, ref="HEAD", recursive=False, on_missing=missing.append
    )
    assert (files, missing) == ([], [repo / "versions"])


def test_a_file_named_like_a_legacy_revision_takes_its_id_from_its_own_name(
    tmp_path: Path,
) -> None:
    # Same content, two names: the cache key includes the file name.
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    write(versions / "abc1.py", "down_revision = None\n")
    write(versions / "abc2.py", "down_revision = None\n")
    commit_all(repo, "init")
    head = git(repo, "rev-parse", "HEAD")
    for _ in ("cold", "cached"):
        files = tree_files([versions], repo, head, ref="HEAD", recursive=False)
        assert [(f.path.name, f.revision) for f in files] == [
            ("abc1.py", "abc1"),
            ("abc2.py", "abc2"),
        ]


def rev(r: str, down: str | None) -> str:
    return f"revision = {r!r}\ndown_revision = {down!r}\n"


def test_revisions_on_a_ref_read_only_what_differs_and_agree_with_a_full_read(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    v = repo / "versions"
    for name, text in {
        "a1.py": rev("aaaa0001", None),
        "a2.py": rev("aaaa0002", "aaaa0001"),
        "a3.py": rev("aaaa0003", "aaaa0002"),
        "a4.py": rev("aaaa0004", "aaaa0003"),
    }.items():
        write(v / name, text)
    commit_all(repo, "upstream")
    git(repo, "branch", "up")
    # REF moves on without the work tree: a5 is only on REF.
    git(repo, "checkout", "-q", "up")
    write(v / "a5.py", rev("aaaa0005", "aaaa0004"))
    commit_all(repo, "a5")
    git(repo, "checkout", "-q", "main")
    # The work tree: a2 edited (its id changed), a3 deleted, a new file staged, one untracked,
    # one ignored.
    write(v / "a2.py", rev("bbbb0002", "aaaa0001"))
    (v / "a3.py").unlink()
    write(v / "b1.py", rev("bbbb0001", "aaaa0004"))
    git(repo, "add", "versions/b1.py")
    write(v / "b2.py", rev("bbbb0003", "bbbb0001"))
    write(repo / ".gitignore", "versions/ignored.py\n")
    write(v / "ignored.py", rev("bbbb0004", "bbbb0003"))
    work = scan_locations([v], recursive=False, cache=False)
    full = {
        f.revision
        for f in tree_files([v], repo, git(repo, "rev-parse", "up"), ref="up", recursive=False)
    }
    assert full == {"aaaa0001", "aaaa0002", "aaaa0003", "aaaa0004", "aaaa0005"}
    assert revisions_on([v], repo, "up", work, recursive=False) == full


def test_revisions_on_a_ref_through_a_symlinked_folder_read_the_ref_itself(
    tmp_path: Path,
) -> None:
    # git diff sees the link, not the files behind it: a revision of this branch only is
    # still not on the ref.
    repo = make_repo(tmp_path / "repo")
    shared = repo / "db" / "versions"
    write(shared / "a1.py", rev("aaaa0001", None))
    (repo / "versions").symlink_to("db/versions", target_is_directory=True)
    commit_all(repo, "base")
    git(repo, "branch", "up")
    write(shared / "b1.py", rev("bbbb0001", "aaaa0001"))
    commit_all(repo, "branch only")
    work = scan_locations([repo / "versions"], recursive=False, cache=False)
    assert {f.revision for f in work} == {"aaaa0001", "bbbb0001"}
    assert revisions_on([repo / "versions"], repo, "up", work, recursive=False) == {"aaaa0001"}


def test_revisions_in_a_folder_git_does_not_know_are_not_on_the_ref(tmp_path: Path) -> None:
    # git lists a wholly untracked folder as one name ("versions/2024/"), not file by file
    # (so Alembic's __pycache__ of thousands of files is not walked): every revision in it
    # is still new, and so is every revision of a version location git does not know at all.
    repo = make_repo(tmp_path / "repo")
    v = repo / "versions"
    write(v / "a1.py", rev("aaaa0001", None))
    write(v / "__pycache__" / "a1.cpython-311.pyc", "not python")
    commit_all(repo, "base")
    git(repo, "branch", "up")
    write(v / "2024" / "b1.py", rev("bbbb0001", "aaaa0001"))
    write(v / "2024" / "deeper" / "b2.py", rev("bbbb0002", "bbbb0001"))
    write(v / "__pycache__" / "b1.cpython-311.pyc", "not python")
    elsewhere = repo / "other"
    write(elsewhere / "c1.py", rev("cccc0001", None))
    work = scan_locations([v], recursive=True, cache=False)
    assert {f.revision for f in work} == {"aaaa0001", "bbbb0001", "bbbb0002"}
    assert revisions_on([v], repo, "up", work, recursive=True) == {"aaaa0001"}
    work = scan_locations([v, elsewhere], recursive=False, cache=False)
    assert revisions_on([v, elsewhere], repo, "up", work, recursive=False) == {"aaaa0001"}
