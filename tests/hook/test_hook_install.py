"""migfix.hook.install: installing, uninstalling and reporting the git hooks, in real repositories.

Where a test needs to see what the installed script passed to migfix, the recorded interpreter
is a small executable standing in for Python that writes its arguments and stdin to a file;
everything else (git, the hooks directory, the merge or rebase that fires the hook) is real.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SRC, python

from migfix.errors import GitError, Refusal
from migfix.hook import install as hook
from migfix.hook import script

pytestmark = pytest.mark.usefixtures("git_env")

# The test extra installs pre-commit beside the interpreter running the tests.
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

FOREIGN_HOOK = b"""#!/bin/sh
# the team's own hook, not migfix's
echo "foreign ran with: $*" >> "$(git rev-parse --show-toplevel)/../foreign-ran.txt"
"""


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("hello\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "initial")
    return path


def add_branch_with_commit(repo: Path, branch: str, filename: str) -> None:
    git(repo, "checkout", "-q", "-b", branch)
    (repo / filename).write_text(f"{filename}\n")
    git(repo, "add", filename)
    git(repo, "commit", "-q", "-m", f"add {filename}")
    git(repo, "checkout", "-q", "main")


def write_hook(path: Path, content: bytes, mode: int = 0o755) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, mode)


def recording_interpreter(tmp_path: Path, exit_code: int = 0) -> tuple[Path, Path]:
    """An executable in place of Python that logs its argv and stdin, then exits."""
    log = tmp_path / "migfix-called.txt"
    exe = tmp_path / "fakebin" / "python"
    write_hook(
        exe,
        (
            "#!/bin/sh\n"
            f'printf "args:%s\\n" "$*" >> "{log}"\n'
            f'sed "s/^/stdin:/" >> "{log}"\n'
            f"exit {exit_code}\n"
        ).encode(),
    )
    return exe, log


def run_script(
    script: Path, *args: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False
    )


# --- install / status / uninstall -----------------------------------------------------------


@pytest.mark.slow
def test_install_writes_the_three_hooks_and_status_reports_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    assert [(s.hook_type, s.state) for s in hook.status(repo)] == [
        ("post-merge", "not installed"),
        ("post-rewrite", "not installed"),
        ("post-commit", "not installed"),
        ("post-checkout", "not installed"),
    ]

    messages = hook.install(repo, strategy="merge", commit=False)

    assert messages == [
        f"installed the post-merge hook at {hooks / 'post-merge'}",
        f"installed the post-rewrite hook at {hooks / 'post-rewrite'}",
        f"installed the post-commit hook at {hooks / 'post-commit'}",
        f"installed the post-checkout hook at {hooks / 'post-checkout'}",
    ]
    for hook_type in hook.HOOK_TYPES:
        path = hooks / hook_type
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
        text = path.read_text()
        assert text == script.render_script(
            hook_type, sys.executable, ["--strategy", "merge", "--no-commit"]
        )
        assert f"# migfix-hook: {hook_type}\n# migfix-hook-version: 2\n# migfix-sha256: " in text
        assert text.startswith("#!/bin/sh\n")
    assert hook.status(repo) == [
        hook.HookStatus(
            hook_type,
            hooks / hook_type,
            "installed",
            sys.executable,
            ("--strategy", "merge", "--no-commit"),
            None,
        )
        for hook_type in hook.HOOK_TYPES
    ]


@pytest.mark.slow
def test_installed_script_is_valid_posix_sh(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hook.install(repo, strategy="it's odd", commit=True, always=True)
    for hook_type in hook.HOOK_TYPES:
        path = repo / ".git" / "hooks" / hook_type
        # dash is the strictest common /bin/sh; bash --posix as a second opinion.
        for shell in (["dash", "-n"], ["bash", "--posix", "-n"]):
            proc = subprocess.run([*shell, str(path)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
    assert [s.options for s in hook.status(repo)] == [
        ("--strategy", "it's odd", "--commit", "--always")
    ] * 4


@pytest.mark.slow
def test_reinstall_is_idempotent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    hook.install(repo, strategy="merge")
    before = {t: (hooks / t).read_bytes() for t in hook.HOOK_TYPES}
    inodes = {t: (hooks / t).stat().st_ino for t in hook.HOOK_TYPES}

    messages = hook.install(repo, strategy="merge")

    assert messages == [
        f"post-merge hook already installed at {hooks / 'post-merge'}; nothing to do",
        f"post-rewrite hook already installed at {hooks / 'post-rewrite'}; nothing to do",
        f"post-commit hook already installed at {hooks / 'post-commit'}; nothing to do",
        f"post-checkout hook already installed at {hooks / 'post-checkout'}; nothing to do",
    ]
    assert {t: (hooks / t).read_bytes() for t in hook.HOOK_TYPES} == before
    # Not rewritten at all, not merely rewritten with the same bytes.
    assert {t: (hooks / t).stat().st_ino for t in hook.HOOK_TYPES} == inodes
    assert sorted(p.name for p in hooks.iterdir() if not p.name.endswith(".sample")) == [
        "post-checkout",
        "post-commit",
        "post-merge",
        "post-rewrite",
    ]


@pytest.mark.slow
def test_reinstall_with_other_options_rewrites_our_script_in_place(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    hook.install(repo, hook_types=["post-merge"])

    messages = hook.install(repo, hook_types=["post-merge"], commit=True)

    assert messages == [f"updated the post-merge hook at {hooks / 'post-merge'}"]
    assert not (hooks / "post-merge.legacy").exists()
    [merge_status, rewrite_status, commit_status, checkout_status] = hook.status(repo)
    assert (merge_status.state, merge_status.options) == ("installed", ("--commit",))
    assert rewrite_status.state == commit_status.state == checkout_status.state == "not installed"


@pytest.mark.slow
def test_uninstall_removes_only_our_hooks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    hook.install(repo)

    assert hook.uninstall(repo) == [
        f"removed the migfix post-merge hook from {hooks / 'post-merge'}",
        f"removed the migfix post-rewrite hook from {hooks / 'post-rewrite'}",
        f"removed the migfix post-commit hook from {hooks / 'post-commit'}",
        f"removed the migfix post-checkout hook from {hooks / 'post-checkout'}",
    ]
    assert not (hooks / "post-merge").exists()
    assert not (hooks / "post-rewrite").exists()
    assert not (hooks / "post-commit").exists()
    assert hook.uninstall(repo) == [
        f"no post-merge hook at {hooks / 'post-merge'}; nothing to do",
        f"no post-rewrite hook at {hooks / 'post-rewrite'}; nothing to do",
        f"no post-commit hook at {hooks / 'post-commit'}; nothing to do",
        f"no post-checkout hook at {hooks / 'post-checkout'}; nothing to do",
    ]


@pytest.mark.slow
def test_uninstall_leaves_a_foreign_hook_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge", FOREIGN_HOOK, mode=0o750)

    assert hook.status(repo)[0].state == "foreign"
    messages = hook.uninstall(repo, hook_types=["post-merge"])

    assert messages == [
        f"left {hooks / 'post-merge'} untouched: it is not migfix's post-merge hook"
    ]
    assert (hooks / "post-merge").read_bytes() == FOREIGN_HOOK
    assert stat.S_IMODE((hooks / "post-merge").stat().st_mode) == 0o750


@pytest.mark.slow
def test_foreign_hook_is_chained_then_restored_byte_identical(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge", FOREIGN_HOOK, mode=0o700)

    messages = hook.install(repo)

    assert messages == [
        f"moved the existing post-merge hook to {hooks / 'post-merge.legacy'}; "
        "it still runs, before migfix",
        f"installed the post-merge hook at {hooks / 'post-merge'}",
        f"installed the post-rewrite hook at {hooks / 'post-rewrite'}",
        f"installed the post-commit hook at {hooks / 'post-commit'}",
        f"installed the post-checkout hook at {hooks / 'post-checkout'}",
    ]
    assert (hooks / "post-merge.legacy").read_bytes() == FOREIGN_HOOK
    [merge_status, rewrite_status, commit_status, _checkout] = hook.status(repo)
    assert merge_status.state == "installed, chained to legacy"
    assert merge_status.legacy == hooks / "post-merge.legacy"
    assert rewrite_status.state == commit_status.state == "installed"

    assert hook.uninstall(repo) == [
        f"removed the migfix post-merge hook and restored {hooks / 'post-merge'} "
        f"from {hooks / 'post-merge.legacy'}",
        f"removed the migfix post-rewrite hook from {hooks / 'post-rewrite'}",
        f"removed the migfix post-commit hook from {hooks / 'post-commit'}",
        f"removed the migfix post-checkout hook from {hooks / 'post-checkout'}",
    ]
    assert (hooks / "post-merge").read_bytes() == FOREIGN_HOOK
    assert stat.S_IMODE((hooks / "post-merge").stat().st_mode) == 0o700
    assert not (hooks / "post-merge.legacy").exists()


@pytest.mark.slow
def test_foreign_symlink_hook_is_moved_and_restored_as_a_symlink(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    shared = tmp_path / "team-hooks" / "post-merge"
    write_hook(shared, FOREIGN_HOOK)
    (hooks / "post-merge").symlink_to(shared)

    hook.install(repo, hook_types=["post-merge"])
    assert os.readlink(hooks / "post-merge.legacy") == str(shared)
    hook.uninstall(repo, hook_types=["post-merge"])

    assert os.readlink(hooks / "post-merge") == str(shared)
    assert shared.read_bytes() == FOREIGN_HOOK


@pytest.mark.slow
def test_legacy_already_present_and_foreign_hook_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-rewrite", b"#!/bin/sh\necho current\n")
    write_hook(hooks / "post-rewrite.legacy", b"#!/bin/sh\necho older\n")

    with pytest.raises(Refusal) as info:
        hook.install(repo)

    assert str(info.value) == (
        f"Refusing to install the post-rewrite hook: {hooks / 'post-rewrite'} is not migfix's, "
        f"and {hooks / 'post-rewrite.legacy'} already exists, so moving the first aside would "
        "overwrite the second. Combine them into one post-rewrite script (or delete the one "
        "you no longer need), then run `migfix hook install` again."
    )
    assert (hooks / "post-rewrite").read_bytes() == b"#!/bin/sh\necho current\n"
    assert (hooks / "post-rewrite.legacy").read_bytes() == b"#!/bin/sh\necho older\n"
    # Checked before writing anything: post-merge, listed first, was not installed either.
    assert not (hooks / "post-merge").exists()


@pytest.mark.slow
def test_legacy_left_behind_without_a_hook_is_chained(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge.legacy", FOREIGN_HOOK)

    messages = hook.install(repo, hook_types=["post-merge"])

    assert messages == [
        f"chaining to the existing {hooks / 'post-merge.legacy'}; it runs before migfix",
        f"installed the post-merge hook at {hooks / 'post-merge'}",
    ]
    assert hook.status(repo)[0].state == "installed, chained to legacy"


@pytest.mark.slow
def test_uninstall_without_our_hook_leaves_a_legacy_hook_alone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge.legacy", FOREIGN_HOOK)

    assert hook.uninstall(repo, hook_types=["post-merge"]) == [
        f"no post-merge hook at {hooks / 'post-merge'}; nothing to do; "
        f"{hooks / 'post-merge.legacy'} is left where it is"
    ]
    assert (hooks / "post-merge.legacy").read_bytes() == FOREIGN_HOOK
    assert not (hooks / "post-merge").exists()


@pytest.mark.slow
def test_unknown_hook_type_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(Refusal) as info:
        hook.install(repo, hook_types=["pre-commit"])
    assert str(info.value) == (
        "Unknown hook type 'pre-commit': migfix installs only post-merge, post-rewrite, "
        "post-commit and post-checkout. Pick from those and run the command again."
    )
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


@pytest.mark.slow
def test_outside_a_repository_is_a_git_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError) as info:
        hook.install(plain)
    assert re.fullmatch(
        re.escape(f"{plain} is not inside a git repository (git rev-parse said: fatal: ")
        + r"not a git repository.*"
        + re.escape("). Run `migfix hook` from the repository whose merges migfix should watch."),
        str(info.value),
    ), str(info.value)


# --- where the hooks go ---------------------------------------------------------------------


@pytest.mark.slow
def test_core_hooks_path_installs_into_the_shared_directory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    shared = tmp_path / "shared-hooks"
    git(repo, "config", "core.hooksPath", str(shared))

    messages = hook.install(repo)

    assert messages == [
        f"core.hooksPath is set: installed into {shared}, which every repository using that "
        "path shares",
        f"installed the post-merge hook at {shared / 'post-merge'}",
        f"installed the post-rewrite hook at {shared / 'post-rewrite'}",
        f"installed the post-commit hook at {shared / 'post-commit'}",
        f"installed the post-checkout hook at {shared / 'post-checkout'}",
    ]
    assert not (repo / ".git" / "hooks" / "post-merge").exists()
    assert [s.path for s in hook.status(repo)] == [
        shared / "post-merge",
        shared / "post-rewrite",
        shared / "post-commit",
        shared / "post-checkout",
    ]
    # Another repository that uses the same path sees the same hooks.
    other = make_repo(tmp_path / "other")
    git(other, "config", "core.hooksPath", str(shared))
    assert [s.state for s in hook.status(other)] == ["installed"] * 4


@pytest.mark.slow
def test_relative_core_hooks_path_from_a_subdirectory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "core.hooksPath", ".githooks")
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)

    hook.install(sub, hook_types=["post-merge"])

    # git resolves a relative core.hooksPath against the top of the working tree.
    assert (repo / ".githooks" / "post-merge").is_file()
    assert not (sub / ".githooks").exists()


@pytest.mark.slow
def test_linked_worktree_installs_into_the_common_hooks_dir(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    worktree = tmp_path / "feature-wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))

    messages = hook.install(worktree, hook_types=["post-merge"])

    common = repo / ".git" / "hooks" / "post-merge"
    assert messages == [f"installed the post-merge hook at {common}"]
    assert common.is_file()
    assert hook.status(repo)[0].state == "installed"
    assert hook.uninstall(worktree, hook_types=["post-merge"]) == [
        f"removed the migfix post-merge hook from {common}"
    ]


# --- what the installed script does ---------------------------------------------------------


@pytest.mark.slow
def test_real_merge_runs_the_foreign_hook_and_migfix_failure_does_not_fail_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge", FOREIGN_HOOK)
    add_branch_with_commit(repo, "feature", "feature.txt")
    hook.install(repo, hook_types=["post-merge"])
    # The hook runs `<this python> -m migfix.hookrun`; whatever that does on this branch
    # (the runner may not exist yet), the merge must succeed and the foreign hook must run.
    monkeypatch.setenv("PYTHONPATH", str(SRC))

    proc = subprocess.run(
        ["git", "merge", "--no-edit", "--no-ff", "feature"],
        cwd=repo,
        capture_output=True,
        text=True,
    )

    assert proc.returncode == 0, proc.stderr
    assert (repo / "feature.txt").exists()
    # post-merge gets one argument: 0 because this was not a squash merge.
    assert (tmp_path / "foreign-ran.txt").read_text() == "foreign ran with: 0\n"


@pytest.mark.slow
def test_real_merge_passes_recorded_options_to_migfix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_branch_with_commit(repo, "feature", "feature.txt")
    exe, log = recording_interpreter(tmp_path)
    hook.install(repo, strategy="merge", commit=False, always=True, interpreter=str(exe))

    git(repo, "merge", "--no-edit", "feature")

    assert log.read_text() == (
        "args:-m migfix.hookrun post-merge --strategy merge --no-commit --always -- 0\n"
    )


@pytest.mark.slow
def test_real_rebase_feeds_both_hooks_the_same_stdin_and_amend_skips_migfix(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    legacy_log = tmp_path / "legacy.txt"
    write_hook(
        hooks / "post-rewrite",
        (
            f'#!/bin/sh\necho "legacy $1" >> "{legacy_log}"\n'
            f'sed "s/^/legacy-stdin:/" >> "{legacy_log}"\n'
        ).encode(),
    )
    exe, log = recording_interpreter(tmp_path)
    hook.install(repo, hook_types=["post-rewrite"], interpreter=str(exe))
    add_branch_with_commit(repo, "feature", "feature.txt")
    # main brings a line that can move the revision graph: only then does migfix start.
    (repo / "main.py").write_text("revision = 'aaaa0001'\n")
    git(repo, "add", "main.py")
    git(repo, "commit", "-q", "-m", "main moves on")
    old = git(repo, "rev-parse", "feature").stdout.strip()

    git(repo, "rebase", "-q", "main", "feature")

    new = git(repo, "rev-parse", "feature").stdout.strip()
    assert legacy_log.read_text() == f"legacy rebase\nlegacy-stdin:{old} {new}\n"
    assert log.read_text() == (
        f"args:-m migfix.hookrun post-rewrite -- rebase\nstdin:{old} {new}\n"
    )

    git(repo, "commit", "-q", "--amend", "-m", "reworded")

    amended = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert legacy_log.read_text() == (
        f"legacy rebase\nlegacy-stdin:{old} {new}\nlegacy amend\nlegacy-stdin:{new} {amended}\n"
    )
    # migfix was not called again for the amend.
    assert log.read_text().count("args:") == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("legacy_exit", "migfix_exit", "expected_exit"),
    [(0, 5, 0), (1, 0, 1), (3, 5, 3)],
)
def test_script_exits_with_the_legacy_status_whatever_migfix_does(
    tmp_path: Path, legacy_exit: int, migfix_exit: int, expected_exit: int
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge", f"#!/bin/sh\nexit {legacy_exit}\n".encode())
    exe, log = recording_interpreter(tmp_path, exit_code=migfix_exit)
    hook.install(repo, hook_types=["post-merge"], interpreter=str(exe))

    proc = run_script(hooks / "post-merge", "0", cwd=repo)

    assert proc.returncode == expected_exit
    assert log.read_text().startswith("args:-m migfix.hookrun post-merge -- 0\n")
    if migfix_exit:
        assert proc.stderr == (
            f"migfix: post-merge hook failed (exit {migfix_exit}); your merge is done, "
            "run migfix check\n"
        )
    else:
        assert proc.stderr == ""


@pytest.mark.slow
def test_missing_interpreter_is_stale_and_the_script_warns_and_exits_0(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    gone = tmp_path / "deleted-venv" / "bin" / "python"
    hook.install(repo, hook_types=["post-merge"], interpreter=str(gone))

    [merge_status, *_] = hook.status(repo)
    assert (merge_status.state, merge_status.interpreter) == (
        "stale: interpreter missing",
        str(gone),
    )

    proc = run_script(hooks / "post-merge", "0", cwd=repo)

    assert proc.returncode == 0
    assert proc.stderr == (
        f"migfix: skipped the post-merge hook: {gone}, the Python that installed it, "
        "no longer exists; run migfix hook install again\n"
    )


@pytest.mark.slow
def test_migfix_skip_hook_still_runs_the_legacy_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge", FOREIGN_HOOK)
    exe, log = recording_interpreter(tmp_path)
    hook.install(repo, hook_types=["post-merge"], interpreter=str(exe))
    monkeypatch.setenv("MIGFIX_SKIP_HOOK", "1")

    proc = run_script(hooks / "post-merge", "0", cwd=repo)

    assert proc.returncode == 0
    assert (tmp_path / "foreign-ran.txt").read_text() == "foreign ran with: 0\n"
    assert not log.exists()


@pytest.mark.slow
def test_post_commit_chains_the_foreign_hook_and_starts_migfix_only_for_a_merge_commit(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-commit", FOREIGN_HOOK, mode=0o700)
    exe, log = recording_interpreter(tmp_path)
    hook.install(repo, hook_types=["post-commit"], interpreter=str(exe))
    ran = tmp_path / "foreign-ran.txt"

    # Ordinary commits: the team's hook runs each time, migfix is not even started.
    add_branch_with_commit(repo, "feature", "feature.txt")
    (repo / "README").write_text("main\n")
    git(repo, "commit", "-q", "-am", "main edits README")
    assert ran.read_text() == "foreign ran with: \n" * 2
    assert not log.exists()

    # A merge that stops on a conflict, resolved by hand and finished with `git commit`.
    git(repo, "checkout", "-q", "feature")
    (repo / "README").write_text("feature\n")
    git(repo, "commit", "-q", "-am", "feature edits README")
    git(repo, "checkout", "-q", "main")
    stopped = subprocess.run(
        ["git", "merge", "--no-edit", "feature"], cwd=repo, capture_output=True, text=True
    )
    assert stopped.returncode == 1, stopped.stdout
    (repo / "README").write_text("both\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "--no-edit")

    assert ran.read_text() == "foreign ran with: \n" * 4
    assert log.read_text() == "args:-m migfix.hookrun post-commit --\n"

    assert hook.uninstall(repo, hook_types=["post-commit"]) == [
        f"removed the migfix post-commit hook and restored {hooks / 'post-commit'} "
        f"from {hooks / 'post-commit.legacy'}"
    ]
    assert (hooks / "post-commit").read_bytes() == FOREIGN_HOOK
    assert stat.S_IMODE((hooks / "post-commit").stat().st_mode) == 0o700
    assert not (hooks / "post-commit.legacy").exists()


@pytest.mark.slow
def test_post_commit_script_exits_with_the_legacy_status_and_honours_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-commit", b"#!/bin/sh\nexit 3\n")
    exe, log = recording_interpreter(tmp_path, exit_code=5)
    hook.install(repo, hook_types=["post-commit"], interpreter=str(exe))
    add_branch_with_commit(repo, "feature", "feature.txt")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "feature")  # HEAD is a merge commit now

    proc = run_script(hooks / "post-commit", cwd=repo)

    assert proc.returncode == 3
    assert log.read_text() == "args:-m migfix.hookrun post-commit --\n"
    assert proc.stderr == (
        "migfix: post-commit hook failed (exit 5); your merge is done, run migfix check\n"
    )
    monkeypatch.setenv("MIGFIX_SKIP_HOOK", "1")
    assert run_script(hooks / "post-commit", cwd=repo).returncode == 3
    assert log.read_text().count("args:") == 1


# --- packaging ------------------------------------------------------------------------------


@pytest.mark.slow
def test_module_imports_no_heavy_dependencies() -> None:
    code = (
        "import sys, migfix.hook.install\n"
        "heavy = {'git', 'alembic', 'sqlalchemy', 'libcst', 'click'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    proc = python(REPO, "-c", code)
    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr


@pytest.mark.slow
def test_pre_commit_manifest_is_valid(tmp_path: Path) -> None:
    manifest = REPO / ".pre-commit-hooks.yaml"
    ok = subprocess.run(
        [str(PRE_COMMIT), "validate-manifest", str(manifest)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The validator does reject a broken manifest, so the check above means something.
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(manifest.read_text().replace("entry: migfix check", "entryy: migfix check"))
    bad = subprocess.run(
        [str(PRE_COMMIT), "validate-manifest", str(broken)], capture_output=True, text=True
    )
    assert bad.returncode != 0


def test_pre_commit_manifest_hooks_and_files_pattern() -> None:
    yaml = pytest.importorskip("yaml")  # pre-commit depends on PyYAML

    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"migfix-check", "migfix-merge"} | {f"migfix-{t}" for t in hook.HOOK_TYPES}
    check = hooks["migfix-check"]
    # pre-merge-commit: a merge git commits by itself is checked before it is made.
    assert check["stages"] == ["pre-commit", "pre-merge-commit", "manual"]
    # The staged files pick the projects of a monorepo (migfix check FILES...).
    assert (check["entry"], check["language"], check["pass_filenames"], check["always_run"]) == (
        "migfix check",
        "python",
        True,
        False,
    )
    assert hooks["migfix-merge"]["entry"] == "migfix merge --dry-run"
    assert hooks["migfix-merge"]["stages"] == ["manual"]
    files = re.compile(check["files"])
    for path in (
        "migrations/versions/aaaa0001_init.py",
        "alembic/env.py",
        "app/db/migrations/versions/bbbb0002_users.py",
        "versions/cccc0003_x.py",
    ):
        assert files.search(path), path
    for path in ("app/models.py", "myversions/x.py", "migrations/README", "docs/alembic.md"):
        assert not files.search(path), path


def test_pre_commit_manifest_is_the_generated_one() -> None:
    """Generated from the guards the installed scripts use: regenerate it with
    `python -m migfix.hook.precommit > .pre-commit-hooks.yaml`."""
    from migfix.hook import precommit

    assert (REPO / ".pre-commit-hooks.yaml").read_text() == precommit.manifest()
