"""migfix.git.gitfiles and migfix.write.nomove against real repositories: git's files read
without a git process, and telling from them that nothing can have moved.

Each answer read from the files is compared with git's own (``git rev-parse``, ``git log
-g``), in a plain clone, a linked worktree (a ``.git`` file) and a submodule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import commit_all, git, git_proc, make_repo, write

from migfix.git import gitfiles, history
from migfix.write import moves_seen, nomove

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

A, R, S1 = "aaaa0001", "rrrr0001", "ssss0001"


def source(rev: str, down: str | None) -> str:
    return f'"""{rev}"""\nrevision = {rev!r}\ndown_revision = {down!r}\n'


def repo_with_versions(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    write(repo / "versions" / "a.py", source(A, None))
    write(repo / "versions" / "r.py", source(R, A))
    commit_all(repo, "A and R")
    return repo


def git_says(cwd: Path) -> tuple[Path, Path, Path]:
    top, git_dir, common = git(
        cwd, "rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"
    ).splitlines()
    return Path(top), Path(git_dir), (cwd / common).resolve()


def resolved(dirs: gitfiles.GitDirs | None) -> tuple[Path, Path, Path]:
    assert dirs is not None
    return dirs.work_tree.resolve(), dirs.git_dir.resolve(), dirs.common_dir.resolve()


def test_locate_agrees_with_git_in_a_clone_a_linked_worktree_and_a_submodule(
    tmp_path: Path,
) -> None:
    repo = repo_with_versions(tmp_path)
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    sub = make_repo(tmp_path / "sub")
    commit_all(write(sub / "s.txt", "s").parent, "s")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "lib")

    for where in (repo / "versions", tmp_path / "wt" / "versions", repo / "lib"):
        assert resolved(gitfiles.locate(where)) == git_says(where), where
    assert (tmp_path / "wt" / ".git").is_file() and (repo / "lib" / ".git").is_file()
    # Spelled as asked, so that paths under it stay relative to it.
    assert gitfiles.locate(repo / "versions" / "r.py") == gitfiles.locate(repo)
    assert gitfiles.locate(repo / "versions") == gitfiles.GitDirs(
        repo, repo / ".git", repo / ".git"
    )


def test_locate_outside_git_and_under_a_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "plain" / "dir"
    outside.mkdir(parents=True)
    assert gitfiles.locate(outside) is None
    repo = repo_with_versions(tmp_path)
    (repo / "inner").mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(repo))
    # git does not go up into a ceiling folder, and neither does locate...
    assert git_proc(repo / "inner", "rev-parse", "--git-dir").returncode != 0
    assert gitfiles.locate(repo / "inner") is None
    # ...but a ceiling folder itself is looked at, when the walk starts there.
    assert gitfiles.locate(repo) is not None


def test_a_variable_pointing_git_elsewhere_or_refs_in_reftable_send_the_caller_to_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_with_versions(tmp_path)
    config = repo / ".git" / "config"
    plain = config.read_text()
    # What `git init --ref-format=reftable` (git 2.45) writes: HEAD's reflog is no file.
    config.write_text(plain + "[extensions]\n\trefStorage = reftable\n")
    with pytest.raises(gitfiles.Unusual):
        gitfiles.locate(repo)
    config.write_text(plain)
    assert gitfiles.locate(repo) is not None
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    with pytest.raises(gitfiles.Unusual):
        gitfiles.locate(repo)


def test_head_reflog_from_the_file_is_what_git_log_g_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repo_with_versions(tmp_path)
    git(repo, "checkout", "-q", "-b", "other")
    write(repo / "x.txt", "x\ttab and ünïcode")
    commit_all(repo, "a subject with\ttabs and ünïcode")
    git(repo, "checkout", "-q", "main")
    git(repo, "reset", "-q", "--hard", "HEAD")

    dirs = gitfiles.locate(repo)
    assert dirs is not None
    from_file = gitfiles.head_reflog(dirs, 300)
    last_two = gitfiles.head_reflog(dirs, 2)
    # GIT_DIR sends history.head_reflog to `git log -g` (gitops drops it for the process).
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    from_git = history.head_reflog(repo, 300)

    assert from_file == from_git
    assert len(from_file) == 5 and last_two == from_file[-2:]
    assert from_file[2].subject == "commit: a subject with tabs and ünïcode"  # git: a space
    assert [e.subject.split(":")[0] for e in from_file] == [
        "commit (initial)",
        "checkout",
        "commit",
        "checkout",
        "reset",
    ]


def test_a_long_reflog_is_read_from_its_tail(tmp_path: Path) -> None:
    repo = repo_with_versions(tmp_path)
    log = repo / ".git" / "logs" / "HEAD"
    first = log.read_bytes()
    # 2,000 more entries, far more than one block of the file.
    line = first.replace(b"commit (initial): A and R", b"checkout: moving from main to main")
    log.write_bytes(first + line * 1999 + line.replace(b"moving", b"last move"))
    dirs = gitfiles.locate(repo)
    assert dirs is not None
    tail = gitfiles.head_reflog(dirs, 300)
    assert len(tail) == 300
    assert tail[-1].subject == "checkout: last move from main to main"
    assert all(e.subject.startswith("checkout: ") for e in tail)


# -- nothing moved, told without git -----------------------------------------------------------


def test_nothing_moved_in_a_fresh_clone_and_after_a_scan_that_found_nothing(
    tmp_path: Path,
) -> None:
    origin = repo_with_versions(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    versions = [clone / "versions"]
    dirs = gitfiles.locate(clone)
    assert dirs is not None
    assert nomove.nothing_moved(dirs, versions)  # one state: the clone

    write(clone / "app.py", "x = 1\n")
    commit_all(clone, "app only")
    assert not nomove.nothing_moved(dirs, versions)  # two states, never compared
    assert moves_seen.reflog_moves(clone, versions) == []
    assert nomove.nothing_moved(dirs, versions)  # the scan left its mark
    assert not nomove.nothing_moved(dirs, [clone / "other"])  # for other folders, no mark

    # A new commit: its versions folder is not known yet, so git is asked again.
    write(clone / "versions" / "s1.py", source(S1, A))
    commit_all(clone, "S1")
    assert not nomove.nothing_moved(dirs, versions)
    assert moves_seen.reflog_moves(clone, versions) == []
    assert nomove.nothing_moved(dirs, versions)


def test_a_move_after_a_scan_that_found_nothing_is_still_found(tmp_path: Path) -> None:
    repo = repo_with_versions(tmp_path)
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo / "app.py", "x = 1\n")
    commit_all(repo, "app only")
    versions = [repo / "versions"]
    dirs = gitfiles.locate(repo)
    assert dirs is not None
    assert moves_seen.reflog_moves(repo, versions) == []
    assert nomove.nothing_moved(dirs, versions)

    write(repo / "versions" / "s1.py", source(S1, A))
    write(repo / "versions" / "r.py", source(R, S1))
    commit_all(repo, "R onto S1")

    assert not nomove.nothing_moved(dirs, versions)
    seen = moves_seen.reflog_moves(repo, versions)
    assert [(m.revision, m.old, m.new) for m in seen] == [(R, (A,), (S1,))]
    # A scan that found a move leaves no mark for it: the next one finds it again.
    assert not nomove.nothing_moved(dirs, versions)


def test_a_journal_of_moves_means_git_is_asked(tmp_path: Path) -> None:
    repo = repo_with_versions(tmp_path)
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    dirs = gitfiles.locate(tmp_path / "wt")
    assert dirs is not None
    assert nomove.nothing_moved(dirs, [tmp_path / "wt" / "versions"])
    # The journal is the clone's, shared by its worktrees (see migfix.write.moves).
    (repo / ".git" / nomove.JOURNAL).write_text("")
    assert not nomove.nothing_moved(dirs, [tmp_path / "wt" / "versions"])
