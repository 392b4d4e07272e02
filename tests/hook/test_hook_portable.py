"""The installed hook scripts are POSIX sh: Git for Windows runs them with its own ``sh`` and
macOS with ``/bin/sh`` (bash 3.2 in POSIX mode), so no bashism and no GNU-only option.

Every variant migfix renders (each hook type; the interpreter recorded or found at run time;
with and without recorded version locations and options) is parsed by ``dash`` (a strict
POSIX shell) and checked by ``shellcheck -s sh`` (.ci/run installs it; skipped without it).
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from migfix.hook import install as hook
from migfix.hook import script

GNU_ONLY = re.compile(
    r"\bsed -i\b|\breadlink -f\b|\brealpath\b|\bgrep -P\b|\bstat -c\b|\bxargs -r\b|"
    r"\bdate -d\b|\bmktemp --|\becho -e\b"
)


def variants() -> list[tuple[str, str]]:
    found = []
    for hook_type, python, versions, options in itertools.product(
        hook.HOOK_TYPES,
        ("/opt/app env/bin/python", "C:/Users/me/.venv/Scripts/python.exe", hook.RUN_TIME),
        ((), ("migrations/versions", "db/it's here")),
        ((), ("--strategy", "rebase", "--commit"), ("--always",)),
    ):
        name = f"{hook_type}-{len(found)}"
        found.append((name, hook.render_script(hook_type, python, options, versions)))
    return found


def test_no_gnu_only_tool_or_option() -> None:
    for name, text in variants():
        assert not GNU_ONLY.search(text), (name, GNU_ONLY.findall(text))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dash") is None, reason="dash (a strict POSIX sh) not installed")
def test_every_script_parses_in_a_posix_sh(tmp_path: Path) -> None:
    for name, text in variants():
        script = tmp_path / name
        script.write_text(text)
        proc = subprocess.run(["dash", "-n", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, (name, proc.stderr)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("shellcheck") is None,
    reason="shellcheck not installed (apt-get install shellcheck; .ci/run does)",
)
def test_shellcheck_finds_nothing_in_any_script(tmp_path: Path) -> None:
    paths = []
    for name, text in variants():
        paths.append(tmp_path / name)
        paths[-1].write_text(text)
    proc = subprocess.run(
        ["shellcheck", "--shell=sh", "--severity=style", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_a_windows_interpreter_path_is_written_as_git_for_windows_sh_runs_it() -> None:
    # Backslashes would be escapes to sh; C:/... is what Git for Windows' sh executes.
    windows = r"C:\Users\me\app\.venv\Scripts\python.exe"
    assert script.sh_path(windows, windows=True) == "C:/Users/me/app/.venv/Scripts/python.exe"
    assert script.sh_path("/opt/app/.venv/bin/python", windows=False) == (
        "/opt/app/.venv/bin/python"
    )
