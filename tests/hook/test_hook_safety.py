"""``migfix hook install`` is all-or-nothing across its hooks, and neither reinstalling
nor uninstalling ever overwrites or deletes a migfix hook that the user edited: each script
carries the checksum of what migfix wrote.

The failing write is real: the install runs with a file size limit (RLIMIT_FSIZE) that a
later script exceeds while the ones written before it fit.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import python_m
from test_hook_install import FOREIGN_HOOK, make_repo, write_hook

from migfix.hook import install as hook
from migfix.hook import script

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]


def migfix(
    cwd: Path, *args: str, max_file_size: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # runs in the child, before exec
        if max_file_size is not None:
            # Ignored, SIGXFSZ turns an oversized write into an EFBIG error.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))

    return python_m(cwd, "migfix", *args, preexec_fn=limit)


def hooks_state(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in the hooks directory (temp files included): bytes and mode."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(directory.iterdir())
        if not p.name.endswith(".sample")
    }


def one_paragraph(stderr: str) -> str:
    assert stderr.startswith("migfix: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


def test_install_that_fails_on_a_later_hook_puts_the_earlier_ones_back(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-merge", FOREIGN_HOOK)
    # An earlier install, by a Python at a shorter path than any real one: a script smaller
    # than the one that replaces it, which the limit below must still let be put back.
    hook.install(repo, hook_types=["post-rewrite"], interpreter="/py")
    before = hooks_state(hooks)
    texts = [script.render_script(t, sys.executable, [], ()) for t in script.HOOK_TYPES]
    sizes = [len(t.encode()) for t in texts]
    # The first hook (in install order) larger than every one before it is the first write
    # the size limit refuses; the earlier ones, written by then, must be put back.
    failing = next(i for i in range(1, len(sizes)) if sizes[i] > max(sizes[:i]))
    assert sizes[failing] > len(before["post-rewrite"][0])
    name = hook.HOOK_TYPES[failing]

    failed = migfix(repo, "hook", "install", max_file_size=sizes[failing] - 1)

    assert failed.returncode == 2, failed.stdout + failed.stderr
    message = one_paragraph(failed.stderr)
    assert f"Could not write the {name} hook at {hooks / name}" in message
    assert "Nothing was installed: every hook is back as it was." in message
    assert failed.stdout == ""
    assert hooks_state(hooks) == before  # foreign hook back in place, old script, no temp file

    done = migfix(repo, "hook", "install")
    assert done.returncode == 0, done.stderr
    assert (hooks / "post-merge.legacy").read_bytes() == FOREIGN_HOOK


def test_reinstall_refuses_to_overwrite_an_edited_hook_until_forced(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    assert migfix(repo, "hook", "install").returncode == 0
    script = hooks / "post-rewrite"
    script.write_text(script.read_text().replace("exit ", "echo 'my addition'\nexit "))
    before = hooks_state(hooks)

    refused = migfix(repo, "hook", "install", "--strategy", "rebase")

    assert refused.returncode == 2
    assert one_paragraph(refused.stderr) == (
        f"migfix: Refusing to overwrite {script}: it is migfix's post-rewrite hook, but it was "
        "edited after migfix wrote it (it no longer matches the checksum on its "
        "`# migfix-sha256:` line), and reinstalling would lose those edits. Nothing was "
        f"changed. Move your additions into {script}.legacy (a hook there runs before "
        f"migfix's) and delete {script}, then run `migfix hook install` again; or run "
        "`migfix hook install --force` to replace it anyway.\n"
    )
    assert hooks_state(hooks) == before
    assert [s.state for s in hook.status(repo)] == [
        hook.STATE_INSTALLED,
        hook.STATE_EDITED,
        hook.STATE_INSTALLED,
        hook.STATE_INSTALLED,
    ]

    forced = migfix(repo, "hook", "install", "--strategy", "rebase", "--force")

    assert forced.returncode == 0, forced.stderr
    assert "my addition" not in script.read_text()
    assert [s.state for s in hook.status(repo)] == [hook.STATE_INSTALLED] * 4


def test_uninstall_refuses_to_delete_an_edited_hook_until_forced(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    write_hook(hooks / "post-commit", FOREIGN_HOOK)
    assert migfix(repo, "hook", "install").returncode == 0
    script = hooks / "post-commit"
    script.write_bytes(script.read_bytes().replace(b"#!/bin/sh\n", b"#!/bin/bash\n"))
    before = hooks_state(hooks)

    refused = migfix(repo, "hook", "uninstall")

    assert refused.returncode == 2
    message = one_paragraph(refused.stderr)
    assert message.startswith(f"migfix: Refusing to remove {script}: it is migfix's post-commit")
    assert "`migfix hook uninstall --force`" in message
    assert hooks_state(hooks) == before  # not even the unedited post-merge was removed

    forced = migfix(repo, "hook", "uninstall", "--force")

    assert forced.returncode == 0, forced.stderr
    assert sorted(hooks_state(hooks)) == ["post-commit"]
    assert script.read_bytes() == FOREIGN_HOOK


def test_a_script_from_before_checksums_is_replaced_as_before(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    current = script.render_script("post-merge", sys.executable, [])
    old = "".join(
        line.replace("version: 2", "version: 1")
        for line in current.splitlines(keepends=True)
        if not line.startswith(hook.CHECKSUM_MARKER)
    )
    write_hook(hooks / "post-merge", old.encode())
    assert hook.status(repo)[0].state == hook.STATE_INSTALLED

    assert hook.install(repo, hook_types=["post-merge"], interpreter=sys.executable) == [
        f"updated the post-merge hook at {hooks / 'post-merge'}"
    ]
    assert (hooks / "post-merge").read_text() == current
