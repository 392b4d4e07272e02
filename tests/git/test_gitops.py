"""migfix.git.gitops against real repositories: clones of a bare remote, shallow
clones, conflicts."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import python
from gitutil import commit_all, git, git_proc, make_repo, write

from migfix.errors import GitError
from migfix.git import commits, gitops, history, trees, worktree

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]


REV_1 = 'revision = "aaaa0001"\ndown_revision = None\n'
REV_2 = 'revision = "aaaa0002"\ndown_revision = "aaaa0001"\n'
REV_3 = 'revision = "aaaa0003"\ndown_revision = "aaaa0002"\n'


@dataclass
class Remote:
    bare: Path
    seed: Path  # the clone that pushes to the remote, playing "a colleague"
    work: Path  # the clone under test

    @property
    def versions(self) -> Path:
        return self.work / "migrations" / "versions"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    """A bare remote with one commit on main, cloned into ``work``."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(bare))
    seed = make_repo(tmp_path / "seed")
    write(seed / "migrations" / "versions" / "aaaa0001_init.py", REV_1)
    write(seed / "README", "hello\n")
    commit_all(seed, "init")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "-u", "origin", "main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    return Remote(bare, seed, work)


def push_second_revision(remote: Remote) -> str:
    write(remote.seed / "migrations" / "versions" / "aaaa0002_second.py", REV_2)
    sha = commit_all(remote.seed, "second")
    git(remote.seed, "push", "-q", "origin", "main")
    return sha


# -- import cost ---------------------------------------------------------------------------------


def test_hook_fast_path_never_loads_gitpython(remote: Remote) -> None:
    code = (
        "import sys; from pathlib import Path; from migfix.git import gitops, history, worktree\n"
        f"root = Path({str(remote.work)!r})\n"
        "print(gitops.find_repo(root) == root)\n"
        "print(history.changed_between(root, 'HEAD', 'HEAD', [root / 'migrations']))\n"
        "print(worktree.operation_in_progress(root))\n"
        "print('git' in sys.modules)\n"
    )
    proc = python(remote.work, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False", "None", "False"]


# -- find_repo -----------------------------------------------------------------------------------


def test_find_repo_from_root_subdirectory_file_and_missing_file(remote: Remote) -> None:
    assert gitops.find_repo(remote.work) == remote.work
    assert gitops.find_repo(remote.versions) == remote.work
    assert gitops.find_repo(remote.versions / "aaaa0001_init.py") == remote.work
    assert gitops.find_repo(remote.versions / "not_yet" / "x.py") == remote.work


def test_find_repo_outside_git_is_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert gitops.find_repo(plain) is None


def test_remembering_asks_where_the_repository_is_once_within_the_block(tmp_path: Path) -> None:
    folder = tmp_path / "later"
    folder.mkdir()
    with gitops.remembering():
        assert gitops.find_repo(folder) is None
        git(folder, "init", "-q")
        # The answer stands for the whole block (a hook run, in which no repository moves)...
        assert gitops.find_repo(folder) is None
        with gitops.remembering():  # ...nested blocks included
            assert gitops.find_repo(folder) is None
    # ...and is asked again after it.
    assert gitops.find_repo(folder) == folder


def test_tree_diff_answers_both_questions_from_one_git_diff(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "v" / "a.py", REV_1)
    write(repo / "v" / "b.py", REV_2)
    old = commit_all(repo, "a b")
    write(repo / "v" / "b.py", REV_3)
    (repo / "v" / "a.py").unlink()
    new = commit_all(repo, "b changed, a gone")
    blob = git(repo, "rev-parse", f"{new}:v/b.py")

    diff = history.TreeDiff(repo, old, new)

    assert diff.paths() == [repo / "v" / "a.py", repo / "v" / "b.py"]
    entries = diff.raw()
    assert entries is not None
    assert [(p, n) for p, _, n in entries] == [("v/a.py", "0" * 40), ("v/b.py", blob)]
    with pytest.raises(GitError, match=r"^Unknown git revision 'nope'"):
        history.TreeDiff(repo, "nope", new).paths()
    assert history.TreeDiff(repo, "nope", new).raw() is None
    with pytest.raises(GitError, match=r"^Unknown git revision '--all'"):
        history.TreeDiff(repo, "--all", new).paths()
    unread = history.TreeDiff(repo, old, new)
    unread.close()  # stopped and reaped: its answer is gone
    assert unread.raw() is None


def test_find_repo_in_linked_worktree(remote: Remote, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    git(remote.work, "worktree", "add", "-q", "-b", "feature", str(linked))
    assert gitops.find_repo(linked / "migrations" / "versions") == linked


def test_find_repo_keeps_the_callers_spelling_through_a_symlink(
    remote: Remote, tmp_path: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(remote.work)
    assert gitops.find_repo(link / "migrations") == link


def test_git_dir_from_a_hook_environment_does_not_redirect_calls(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_repo(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    write(remote.versions / "bbbb0001_new.py", REV_2)
    assert gitops.find_repo(remote.versions) == remote.work
    assert worktree.uncommitted_paths(remote.work, [remote.versions]) == {
        remote.versions / "bbbb0001_new.py"
    }


def test_every_caller_of_git_shares_the_environment_policy(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hook install's hooks folder and the hook's commit once ran git with the caller's
    environment as it was: inside another repository's hook they acted on that one."""
    from migfix.hook.install import hooks_dir

    other = make_repo(tmp_path / "other")
    before = git(remote.work, "rev-parse", "HEAD")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert hooks_dir(remote.work)[0].resolve() == (remote.work / ".git" / "hooks").resolve()
    added = write(remote.versions / "bbbb0001_new.py", REV_2)
    commits.commit_paths(remote.work, [added], "Add a revision")
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert git(remote.work, "rev-parse", "HEAD^") == before
    assert git(remote.work, "log", "-1", "--format=%s") == "Add a revision"
    assert git(remote.work, "status", "--porcelain") == ""
    assert git(other, "log", "--oneline", "--all") == ""  # the other repository: untouched


def test_git_in_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist"):
        gitops.output(tmp_path / "gone", "status")


# -- resolve_ref / is_ancestor -------------------------------------------------------------------


def test_resolve_ref_names_branches_shas_and_expressions(remote: Remote) -> None:
    head = git(remote.work, "rev-parse", "HEAD")
    assert gitops.resolve_ref(remote.work, "HEAD") == head
    assert gitops.resolve_ref(remote.work, "origin/main") == head
    assert gitops.resolve_ref(remote.work, head[:8]) == head
    write(remote.versions / "x.py", "x\n")
    second = commit_all(remote.work, "x")
    assert gitops.resolve_ref(remote.work, "HEAD~1") == head
    assert gitops.resolve_ref(remote.work, "main") == second


def test_resolve_ref_unknown_remote_branch(remote: Remote) -> None:
    with pytest.raises(GitError) as info:
        gitops.resolve_ref(remote.work, "origin/develop")
    assert str(info.value) == (
        "Unknown git revision 'origin/develop'. If it is a remote branch, run `git fetch` "
        "first; otherwise check the name with `git branch -a`."
    )
    assert info.value.exit_code == 2


@pytest.mark.parametrize("ref", ["--all", "-h", ""])
def test_resolve_ref_never_passes_an_option_to_git(remote: Remote, ref: str) -> None:
    with pytest.raises(GitError, match=r"^Unknown git revision"):
        gitops.resolve_ref(remote.work, ref)


def test_resolve_ref_of_a_blob_is_unknown(remote: Remote) -> None:
    with pytest.raises(GitError, match=r"^Unknown git revision 'HEAD:README'"):
        gitops.resolve_ref(remote.work, "HEAD:README")


def test_is_ancestor(remote: Remote) -> None:
    push_second_revision(remote)
    git(remote.work, "fetch", "-q")
    assert history.is_ancestor(remote.work, "main", "origin/main")
    assert not history.is_ancestor(remote.work, "origin/main", "main")
    assert history.is_ancestor(remote.work, "main", "main")
    with pytest.raises(GitError) as info:
        history.is_ancestor(remote.work, "main", "origin/nope")
    assert str(info.value).startswith("Unknown git revision 'origin/nope'.")


# -- default_upstream ----------------------------------------------------------------------------


def test_default_upstream_is_the_tracked_branch(remote: Remote) -> None:
    assert gitops.default_upstream(remote.work) == "origin/main"
    git(remote.seed, "push", "-q", "origin", "main:release")
    git(remote.work, "fetch", "-q")
    git(remote.work, "switch", "-q", "-c", "hotfix", "--track", "origin/release")
    assert gitops.default_upstream(remote.work) == "origin/release"


def test_default_upstream_without_tracking_falls_back_to_origin_head(remote: Remote) -> None:
    git(remote.seed, "push", "-q", "origin", "main:release")
    git(remote.work, "fetch", "-q")
    git(remote.work, "switch", "-q", "--no-track", "-c", "feature", "origin/release")
    assert gitops.default_upstream(remote.work) == "origin/main"


def test_default_upstream_on_detached_head_ignores_the_branch_upstream(remote: Remote) -> None:
    git(remote.seed, "push", "-q", "origin", "main:release")
    git(remote.work, "fetch", "-q")
    git(remote.work, "switch", "-q", "-c", "hotfix", "--track", "origin/release")
    git(remote.work, "switch", "-q", "--detach", "hotfix")
    assert gitops.default_upstream(remote.work) == "origin/main"


def test_default_upstream_whose_remote_branch_is_gone(remote: Remote) -> None:
    git(remote.seed, "push", "-q", "origin", "main:release")
    git(remote.work, "fetch", "-q")
    git(remote.work, "switch", "-q", "-c", "hotfix", "--track", "origin/release")
    git(remote.seed, "push", "-q", "origin", "--delete", "release")
    git(remote.work, "fetch", "-q", "--prune")
    assert gitops.default_upstream(remote.work) == "origin/main"


def test_default_upstream_skips_a_dangling_origin_head(remote: Remote) -> None:
    git(remote.work, "switch", "-q", "--no-track", "-c", "feature", "main")
    git(remote.work, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/gone")
    # origin/main exists: the shared branch comes before a possibly stale local main.
    assert gitops.default_upstream(remote.work) == "origin/main"
    git(remote.work, "update-ref", "-d", "refs/remotes/origin/main")
    assert gitops.default_upstream(remote.work) == "main"


def test_default_upstream_without_remote_is_main_then_master(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert gitops.default_upstream(repo) is None  # unborn main: nothing to name
    write(repo / "a", "a\n")
    commit_all(repo, "a")
    git(repo, "switch", "-q", "-c", "feature")
    assert gitops.default_upstream(repo) == "main"
    git(repo, "branch", "-q", "-m", "main", "master")
    assert gitops.default_upstream(repo) == "master"
    git(repo, "branch", "-q", "-D", "master")
    assert gitops.default_upstream(repo) is None


# -- read_tree_files -----------------------------------------------------------------------------


def test_read_tree_files_reads_another_ref_without_touching_the_work_tree(
    remote: Remote,
) -> None:
    push_second_revision(remote)
    git(remote.work, "fetch", "-q")
    files = trees.read_tree_files(remote.work, "origin/main", remote.versions, recursive=False)
    assert files == {
        remote.versions / "aaaa0001_init.py": REV_1.encode(),
        remote.versions / "aaaa0002_second.py": REV_2.encode(),
    }
    assert not (remote.versions / "aaaa0002_second.py").exists()
    assert git(remote.work, "status", "--porcelain") == ""
    assert git(remote.work, "rev-parse", "HEAD") != git(remote.work, "rev-parse", "origin/main")


def test_read_tree_files_top_level_or_recursive(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "migrations" / "versions"
    write(versions / "aaaa0001_init.py", REV_1)
    write(versions / "billing" / "aaaa0002_second.py", REV_2)
    write(versions / "billing" / "deep" / "aaaa0003_third.py", REV_3)
    write(repo / "migrations" / "env.py", "# env\n")
    commit_all(repo, "layout")

    top = trees.read_tree_files(repo, "HEAD", versions, recursive=False)
    assert top == {versions / "aaaa0001_init.py": REV_1.encode()}
    everything = trees.read_tree_files(repo, "HEAD", versions, recursive=True)
    assert everything == {
        versions / "aaaa0001_init.py": REV_1.encode(),
        versions / "billing" / "aaaa0002_second.py": REV_2.encode(),
        versions / "billing" / "deep" / "aaaa0003_third.py": REV_3.encode(),
    }
    assert trees.read_tree_files(repo, "HEAD", repo, recursive=False) == {}
    assert trees.read_tree_files(repo, "HEAD", repo / "migrations", recursive=False) == {
        repo / "migrations" / "env.py": b"# env\n"
    }


def test_read_tree_files_returns_exact_bytes_and_follows_symlinks(tmp_path: Path) -> None:
    # As a checkout (and so Alembic) sees them: a link inside the repository reads as its
    # target; a link out of it cannot be read from git.
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    versions.mkdir()
    crlf = b'revision = "aaaa0001"\r\ndown_revision = None  # caf\xc3\xa9\r\n'
    (versions / "aaaa0001_init.py").write_bytes(crlf)
    (versions / "alias.py").symlink_to("aaaa0001_init.py")
    (versions / "outside.py").symlink_to("/etc/hostname")
    (versions / "dangling.py").symlink_to("../nowhere.py")
    commit_all(repo, "crlf")
    assert trees.read_tree_files(repo, "HEAD", versions, recursive=False) == {
        versions / "aaaa0001_init.py": crlf,
        versions / "alias.py": crlf,
    }
    (repo / "linked").symlink_to("versions")
    (repo / "loop").symlink_to("loop")
    commit_all(repo, "links")
    assert trees.read_tree_files(repo, "HEAD", repo / "linked", recursive=False) == {
        repo / "linked" / "aaaa0001_init.py": crlf,
        repo / "linked" / "alias.py": crlf,
    }
    assert trees.read_tree_files(repo, "HEAD", repo / "loop", recursive=False) is None


def test_read_tree_files_missing_directory_is_none(remote: Remote) -> None:
    old = git(remote.work, "rev-parse", "HEAD")
    write(remote.work / "db" / "versions" / "aaaa0001_init.py", REV_1)
    commit_all(remote.work, "new dir")
    new_dir = remote.work / "db" / "versions"
    assert trees.read_tree_files(remote.work, old, new_dir, recursive=True) is None
    assert trees.read_tree_files(remote.work, "HEAD", new_dir, recursive=True) is not None
    readme = remote.work / "README"
    assert trees.read_tree_files(remote.work, "HEAD", readme, recursive=False) is None


def test_read_tree_files_outside_the_work_tree(remote: Remote, tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        trees.read_tree_files(remote.work, "HEAD", tmp_path / "elsewhere", recursive=False)
    assert str(info.value) == (
        f"{tmp_path / 'elsewhere'} is outside the git work tree {remote.work}, so migfix cannot "
        "use git to read it. Keep the migrations inside the repository, or run migfix from the "
        "repository that contains them."
    )


def test_read_tree_files_from_a_linked_worktree(remote: Remote, tmp_path: Path) -> None:
    push_second_revision(remote)
    git(remote.work, "fetch", "-q")
    linked = tmp_path / "linked"
    git(remote.work, "worktree", "add", "-q", "-b", "feature", str(linked), "main")
    versions = linked / "migrations" / "versions"
    files = trees.read_tree_files(linked, "origin/main", versions, recursive=False)
    assert files is not None
    assert sorted(p.name for p in files) == ["aaaa0001_init.py", "aaaa0002_second.py"]


def _delete_loose_object(repo: Path, sha: str) -> None:
    objects = Path(git(repo, "rev-parse", "--git-path", "objects"))
    objects = objects if objects.is_absolute() else repo / objects
    (objects / sha[:2] / sha[2:]).unlink()


def test_read_tree_files_with_a_missing_blob_suggests_fsck(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    write(versions / "aaaa0001_init.py", REV_1)
    commit_all(repo, "init")
    _delete_loose_object(repo, git(repo, "rev-parse", "HEAD:versions/aaaa0001_init.py"))
    with pytest.raises(GitError) as info:
        trees.read_tree_files(repo, "HEAD", versions, recursive=False)
    message = str(info.value)
    assert message.startswith("Cannot read 'versions' from git revision 'HEAD': ")
    assert message.endswith(" The repository may be damaged: run `git fsck` to check it.")


# -- shallow clones ------------------------------------------------------------------------------


@pytest.fixture
def shallow(remote: Remote, tmp_path: Path) -> Path:
    push_second_revision(remote)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{remote.bare}", str(clone))
    return clone


def test_is_shallow(remote: Remote, shallow: Path) -> None:
    assert gitops.is_shallow(shallow)
    assert not gitops.is_shallow(remote.work)


def test_shallow_clone_reads_its_tip(shallow: Path) -> None:
    versions = shallow / "migrations" / "versions"
    files = trees.read_tree_files(shallow, "origin/main", versions, recursive=False)
    assert files is not None
    assert sorted(p.name for p in files) == ["aaaa0001_init.py", "aaaa0002_second.py"]


@pytest.mark.parametrize("older", ["HEAD~1", "sha"])
def test_shallow_clone_lacks_an_older_commit(remote: Remote, shallow: Path, older: str) -> None:
    ref = git(remote.work, "rev-parse", "HEAD") if older == "sha" else older
    # The commit really is absent from the clone's object store, not just unreachable.
    assert git_proc(shallow, "cat-file", "-e", git(remote.work, "rev-parse", "HEAD")).returncode
    with pytest.raises(GitError) as info:
        trees.read_tree_files(shallow, ref, shallow / "migrations", recursive=True)
    assert str(info.value) == (
        f"Unknown git revision '{ref}'. If it is a remote branch, run `git fetch` first. "
        "This repository is a shallow clone, so older commits are missing: run "
        "`git fetch --unshallow` (or `git fetch --deepen=<n>`) if the revision is older than "
        "the fetched history. Otherwise check the name with `git branch -a`."
    )
    git(shallow, "fetch", "-q", "--unshallow")
    files = trees.read_tree_files(shallow, ref, shallow / "migrations", recursive=True)
    assert files is not None
    assert sorted(p.name for p in files) == ["aaaa0001_init.py"]


def test_shallow_clone_with_a_missing_blob_suggests_unshallow(shallow: Path) -> None:
    versions = shallow / "migrations" / "versions"
    write(versions / "aaaa0003_third.py", REV_3)
    commit_all(shallow, "third")
    _delete_loose_object(
        shallow, git(shallow, "rev-parse", "HEAD:migrations/versions/aaaa0003_third.py")
    )
    with pytest.raises(GitError) as info:
        trees.read_tree_files(shallow, "HEAD", versions, recursive=False)
    message = str(info.value)
    assert message.startswith("Cannot read 'migrations/versions' from git revision 'HEAD': ")
    assert message.endswith(
        " This repository is a shallow clone and lacks that history: run "
        "`git fetch --unshallow` (or `git fetch --deepen=<n>`) and try again."
    )


# -- uncommitted / conflicted / in-progress ------------------------------------------------------


def test_uncommitted_paths_sees_every_kind_of_change_under_the_dirs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "migrations" / "versions"
    write(versions / "aaaa0001_init.py", REV_1)
    write(versions / "aaaa0002_second.py", REV_2)
    write(versions / "old_name.py", REV_3)
    write(versions / "doomed.py", "x\n")
    write(repo / ".gitignore", "*.pyc\n")
    write(repo / "app.py", "app\n")
    commit_all(repo, "init")
    assert worktree.uncommitted_paths(repo, [versions]) == set()

    write(versions / "aaaa0001_init.py", REV_1 + "# edited\n")  # modified, unstaged
    write(versions / "aaaa0002_second.py", REV_2 + "# staged\n")
    git(repo, "add", str(versions / "aaaa0002_second.py"))  # modified, staged
    write(versions / "bbbb0001_added.py", REV_1)
    git(repo, "add", str(versions / "bbbb0001_added.py"))  # added
    write(versions / "new" / "deeper" / "cccc0001_untracked.py", REV_1)  # untracked dir
    git(repo, "mv", str(versions / "old_name.py"), str(versions / "new_name.py"))  # renamed
    (versions / "doomed.py").unlink()  # deleted
    write(versions / "__pycache__" / "x.cpython-311.pyc", "ignored")
    write(repo / "app.py", "changed outside\n")
    write(repo / "loose.py", "untracked outside\n")

    assert worktree.uncommitted_paths(repo, [versions]) == {
        versions / "aaaa0001_init.py",
        versions / "aaaa0002_second.py",
        versions / "bbbb0001_added.py",
        versions / "new" / "deeper" / "cccc0001_untracked.py",
        versions / "new_name.py",
        versions / "old_name.py",
        versions / "doomed.py",
    }
    assert worktree.uncommitted_paths(repo, []) == set()
    assert repo / "loose.py" in worktree.uncommitted_paths(repo, [repo])


def test_dirs_are_literal_not_globs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    # As a glob, "v*" would also match "v1/a.py".
    write(repo / "v1" / "a.py", "a\n")
    write(repo / "v*" / "b.py", "b\n")
    assert worktree.uncommitted_paths(repo, [repo / "v*"]) == {repo / "v*" / "b.py"}
    commit_all(repo, "both")
    assert not history.changed_between(repo, "HEAD", "HEAD", [repo / "v*"])
    write(repo / "v1" / "a.py", "changed\n")
    commit_all(repo, "change v1 only")
    assert not history.changed_between(repo, "HEAD~1", "HEAD", [repo / "v*"])
    assert history.changed_between(repo, "HEAD~1", "HEAD", [repo / "v1"])


def test_uncommitted_paths_with_unusual_names(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    names = ["with space.py", "caf\u00e9.py", 'quote".py']
    for name in names:
        write(versions / name, "x\n")
    assert worktree.uncommitted_paths(repo, [versions]) == {versions / n for n in names}


@pytest.fixture
def conflicted(remote: Remote) -> Remote:
    """``work`` stopped in a merge whose conflict is in the versions directory."""
    target = remote.versions / "aaaa0001_init.py"
    git(remote.work, "switch", "-q", "-c", "feature")
    write(target, REV_1 + "# feature\n")
    commit_all(remote.work, "feature edit")
    git(remote.work, "switch", "-q", "main")
    write(target, REV_1 + "# main\n")
    write(remote.work / "README", "main\n")
    commit_all(remote.work, "main edit")
    assert git_proc(remote.work, "merge", "feature").returncode == 1
    return remote


def test_merge_conflict_in_versions_dir(conflicted: Remote) -> None:
    work, versions = conflicted.work, conflicted.versions
    assert worktree.conflicted_paths(work, [versions]) == {versions / "aaaa0001_init.py"}
    assert worktree.conflicted_paths(work, [work / "docs"]) == set()
    assert worktree.uncommitted_paths(work, [versions]) == {versions / "aaaa0001_init.py"}
    assert worktree.operation_in_progress(work) == "merge"

    git(work, "checkout", "--theirs", "--", str(versions / "aaaa0001_init.py"))
    git(work, "add", str(versions / "aaaa0001_init.py"))
    assert worktree.conflicted_paths(work, [versions]) == set()
    git(work, "commit", "-q", "--no-edit")
    assert worktree.operation_in_progress(work) is None


def test_a_conflict_is_settled_once_no_marker_is_left_and_only_then_marked_resolved(
    conflicted: Remote,
) -> None:
    work, target = conflicted.work, conflicted.versions / "aaaa0001_init.py"
    # Markers left: the user's to resolve, and never staged by migfix.
    assert worktree.unresolved_paths(work, [conflicted.versions]) == {target}
    assert worktree.mark_resolved(work, [target]) == []
    assert worktree.conflicted_paths(work, [target]) == {target}

    # `git checkout --ours` writes one side and leaves the index unmerged: only `git add` is left.
    git(work, "checkout", "--ours", "--", str(target))
    assert worktree.unresolved_paths(work, [conflicted.versions]) == set()
    assert worktree.conflicted_paths(work, [target]) == {target}
    write(work / "README", "edited, not staged\n")
    assert worktree.mark_resolved(work, [target, work / "README"]) == [target]
    assert worktree.conflicted_paths(work, [conflicted.versions]) == set()
    # Ours is HEAD's version: nothing to commit for it, and README stays unstaged.
    assert git(work, "status", "--porcelain") == " M README"


def test_a_file_one_side_deleted_stays_unresolved(remote: Remote) -> None:
    target = remote.versions / "aaaa0001_init.py"
    git(remote.work, "switch", "-q", "-c", "feature")
    target.unlink()
    commit_all(remote.work, "feature deletes it")
    git(remote.work, "switch", "-q", "main")
    write(target, REV_1 + "# main\n")
    commit_all(remote.work, "main edit")
    assert git_proc(remote.work, "merge", "feature").returncode == 1
    assert target.read_text() == REV_1 + "# main\n"  # no marker: kept or deleted is a choice

    assert worktree.unresolved_paths(remote.work, [remote.versions]) == {target}
    assert worktree.mark_resolved(remote.work, [target]) == []


def test_operation_in_progress_for_rebase_cherry_pick_and_revert(conflicted: Remote) -> None:
    work = conflicted.work
    git(work, "merge", "--abort")
    assert worktree.operation_in_progress(work) is None

    assert git_proc(work, "rebase", "feature").returncode != 0
    assert worktree.operation_in_progress(work) == "rebase"
    git(work, "rebase", "--abort")

    assert git_proc(work, "cherry-pick", "feature").returncode != 0
    assert worktree.operation_in_progress(work) == "cherry-pick"
    git(work, "cherry-pick", "--abort")

    # Reverting the feature edit on top of the feature branch's tip conflicts once main's
    # edit of the same line is merged in with "ours".
    git(work, "merge", "-q", "-s", "ours", "feature", "-m", "keep main")
    write(conflicted.versions / "aaaa0001_init.py", REV_1 + "# later\n")
    commit_all(work, "later")
    assert git_proc(work, "revert", "--no-edit", "HEAD~1^2").returncode != 0
    assert worktree.operation_in_progress(work) == "revert"


def test_operation_in_progress_with_git_am(remote: Remote) -> None:
    target = remote.versions / "aaaa0001_init.py"
    write(target, REV_1 + "# patch\n")
    commit_all(remote.work, "patch")
    patch = git(remote.work, "format-patch", "-1", "--stdout")
    git(remote.work, "reset", "-q", "--hard", "HEAD~1")
    write(target, REV_1 + "# other\n")
    commit_all(remote.work, "other")
    proc = subprocess.run(
        ["git", "am", "-q"], cwd=remote.work, input=patch + "\n", text=True, capture_output=True
    )
    assert proc.returncode != 0
    assert worktree.operation_in_progress(remote.work) == "am"


def test_linked_worktree_has_its_own_state(conflicted: Remote, tmp_path: Path) -> None:
    work, versions = conflicted.work, conflicted.versions
    linked = tmp_path / "linked"
    git(work, "worktree", "add", "-q", "--detach", str(linked), "main")
    linked_versions = linked / "migrations" / "versions"
    write(linked_versions / "dddd0001_untracked.py", REV_1)

    assert worktree.operation_in_progress(linked) is None
    assert worktree.conflicted_paths(linked, [linked_versions]) == set()
    assert worktree.uncommitted_paths(linked, [linked_versions]) == {
        linked_versions / "dddd0001_untracked.py"
    }
    assert worktree.operation_in_progress(work) == "merge"
    assert worktree.uncommitted_paths(work, [versions]) == {versions / "aaaa0001_init.py"}


# -- first_commit_times --------------------------------------------------------------------------

T2020 = "2020-01-01T00:00:00+00:00"
T2021 = "2021-01-01T00:00:00+00:00"
T2022 = "2022-01-01T00:00:00+00:00"
T2023 = "2023-01-01T00:00:00+00:00"


def _ts(date: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(date).timestamp())


def test_first_commit_times(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "migrations" / "versions"
    first = write(versions / "aaaa0001_init.py", REV_1)
    top = write(repo / "setup.cfg", "[x]\n")
    commit_all(repo, "init", date=T2020)
    second = write(versions / "billing" / "aaaa0002_second.py", REV_2)
    write(first, REV_1 + "# edited later: not an add\n")
    commit_all(repo, "second", date=T2021)
    # A file moved into place counts from the move, not from its old name.
    staged = write(repo / "drafts" / "aaaa0003_third.py", REV_3)
    commit_all(repo, "draft", date=T2021)
    moved = versions / "aaaa0003_third.py"
    git(repo, "mv", str(staged), str(moved))
    commit_all(repo, "move", date=T2022)
    pending = write(versions / "aaaa0004_pending.py", REV_1)
    git(repo, "add", str(pending))
    untracked = write(versions / "aaaa0005_untracked.py", REV_1)

    times = history.first_commit_times(repo, [first, second, moved, top, pending, untracked])
    assert times == {
        first: _ts(T2020),
        second: _ts(T2021),
        moved: _ts(T2022),
        top: _ts(T2020),
    }


def test_first_commit_times_takes_the_oldest_add_and_follows_merges(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    readded = write(versions / "aaaa0001_init.py", REV_1)
    commit_all(repo, "init", date=T2020)
    readded.unlink()
    commit_all(repo, "delete", date=T2021)
    write(readded, REV_1)
    commit_all(repo, "re-add", date=T2022)

    git(repo, "switch", "-q", "-c", "feature")
    from_feature = write(versions / "bbbb0001_feature.py", REV_2)
    commit_all(repo, "feature", date=T2021)
    git(repo, "switch", "-q", "main")
    write(repo / "other", "x\n")
    commit_all(repo, "main moves on", date=T2023)
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "feature",
        "-m",
        "merge",
        env={"GIT_AUTHOR_DATE": T2023, "GIT_COMMITTER_DATE": T2023},
    )

    times = history.first_commit_times(repo, [readded, from_feature])
    assert times == {readded: _ts(T2020), from_feature: _ts(T2021)}


def test_first_commit_times_in_an_empty_repo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    untracked = write(repo / "versions" / "a.py", REV_1)
    assert history.first_commit_times(repo, [untracked]) == {}
    assert history.first_commit_times(repo, []) == {}


# -- changed_between -----------------------------------------------------------------------------


def test_changed_between(remote: Remote) -> None:
    work, migrations = remote.work, remote.work / "migrations"
    start = git(work, "rev-parse", "HEAD")
    write(work / "README", "docs only\n")
    docs = commit_all(work, "docs")
    assert not history.changed_between(work, start, docs, [migrations])
    write(remote.versions / "aaaa0002_second.py", REV_2)
    added = commit_all(work, "migration")
    assert history.changed_between(work, docs, added, [migrations])
    assert history.changed_between(work, start, added, [work / "elsewhere", remote.versions])
    assert not history.changed_between(work, start, added, [])


def test_changed_between_unknown_revision(remote: Remote) -> None:
    with pytest.raises(GitError) as info:
        history.changed_between(remote.work, "ORIG_HEAD", "HEAD", [remote.versions])
    assert str(info.value) == (
        "Unknown git revision 'ORIG_HEAD'. If it is a remote branch, run `git fetch` first; "
        "otherwise check the name with `git branch -a`."
    )


# -- a stale remote-tracking ref -------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "stale"), [(0, False), (9, False), (11, True)])
def test_a_remote_ref_is_stale_only_when_fetched_well_before_the_newest_commit(
    remote: Remote, minutes: int, stale: bool
) -> None:
    import datetime

    from migfix.git import remotes

    git(remote.work, "fetch", "-q", "origin")  # a clone leaves no fetch time; a fetch does
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    write(remote.work / "notes.txt", "work\n")
    commit_all(remote.work, "work after the clone's fetch", date=later.isoformat())

    note = remotes.stale_remote_ref(remote.work, "origin/main")

    if stale:
        assert note is not None and note.startswith("origin/main was last fetched "), note
        assert note.endswith("Run `git fetch origin` (or pass --fetch) to compare with it.")
    else:
        assert note is None
    assert remotes.stale_remote_ref(remote.work, "main") is None  # not a remote-tracking ref
