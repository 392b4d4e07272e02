"""Install, uninstall and report migfix's git hooks.

Modelled on pre-commit's ``install_uninstall``: a marker line identifies our own script, a
hook that was already there is moved to ``<hook>.legacy`` and still runs first, and the hooks
directory comes from git itself (``git rev-parse --git-path hooks``), so linked worktrees and
``core.hooksPath`` land where git will look.

The installed script does no work of its own: it calls ``python -m migfix.hookrun`` (the same as
``migfix hook run``, without click's start-up cost) with the
interpreter that installed it (by absolute path, so a GUI client or a shell without the
virtualenv activated still finds migfix). What the hook does after a merge lives in
``migfix.hookrun``. Only the standard library is imported here: this module sits on the path
of ``migfix hook status`` and must stay cheap.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from migfix.errors import GitError, Refusal

# post-commit is there for merges that stopped on conflicts: git runs no post-merge for them,
# and the merge commit is made later by the user's own `git commit`. post-checkout only
# notices revisions that moved between two branches (see migfix.moves), for databases.
HOOK_TYPES: tuple[str, ...] = ("post-merge", "post-rewrite", "post-commit", "post-checkout")
SCRIPT_VERSION = 1

MARKER = "# migfix-hook: "
VERSION_MARKER = "# migfix-hook-version: "
PYTHON_MARKER = "# migfix-python: "
OPTIONS_MARKER = "# migfix-options: "

LEGACY_SUFFIX = ".legacy"

STATE_INSTALLED = "installed"
STATE_NOT_INSTALLED = "not installed"
STATE_FOREIGN = "foreign"
STATE_CHAINED = "installed, chained to legacy"
STATE_STALE = "stale: interpreter missing"


@dataclass(frozen=True)
class HookStatus:
    """What sits at one hook path, as ``migfix hook status`` reports it."""

    hook_type: str
    path: Path
    state: str
    # Recorded in our script; None when the hook is not ours (or not there).
    interpreter: str | None
    # The options recorded in our script, as passed to ``migfix hook run``.
    options: tuple[str, ...]
    # The chained hook next to ours, when there is one.
    legacy: Path | None


# --- git ------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        # Either git is not installed or ``repo`` does not exist; both stop us the same way.
        raise GitError(
            f"Cannot run git in {repo}: {exc.strerror}. Check that git is installed and on "
            "PATH and that the directory exists, then run `migfix hook` again."
        ) from exc


def hooks_dir(repo: Path) -> tuple[Path, bool]:
    """The absolute directory git runs hooks from, and whether ``core.hooksPath`` chose it.

    ``--git-path hooks`` already follows ``core.hooksPath`` and, in a linked worktree, points
    at the common git dir (hooks are shared by all worktrees). Its answer is relative to the
    directory git ran in, hence the join with ``repo``.
    """
    proc = _git(repo, "rev-parse", "--git-path", "hooks")
    if proc.returncode != 0:
        raise GitError(
            f"{repo} is not inside a git repository (git rev-parse said: "
            f"{proc.stderr.strip()}). Run `migfix hook` from the repository whose merges "
            "migfix should watch."
        )
    path = (repo / proc.stdout.rstrip("\n")).resolve()
    hooks_path_set = _git(repo, "config", "--get", "core.hooksPath").returncode == 0
    return path, hooks_path_set


# --- the script -----------------------------------------------------------------------------


def _options(strategy: str | None, commit: bool | None, always: bool) -> tuple[str, ...]:
    opts: list[str] = []
    if strategy is not None:
        opts += ["--strategy", strategy]
    if commit is True:
        opts.append("--commit")
    elif commit is False:
        opts.append("--no-commit")
    if always:
        opts.append("--always")
    return tuple(opts)


def render_script(
    hook_type: str, interpreter: str, options: Sequence[str], watch: Sequence[str] = ()
) -> str:
    """The text of the hook script; a pure function so reinstalling compares bytes.

    WATCH: the versions folders (relative to the work tree root) whose change between the
    two commits of a checkout is worth starting Python for (post-checkout only).
    """
    if "\n" in interpreter or any("\n" in o for o in options):
        # The recorded values live on comment lines that ``status`` reads back.
        raise Refusal(
            f"Refusing to install the {hook_type} hook: the interpreter path or an option "
            f"contains a newline ({interpreter!r}, {list(options)!r}). Install migfix into an "
            "environment whose path has no newline and run `migfix hook install` again."
        )
    py = shlex.quote(interpreter)
    opts = "".join(" " + shlex.quote(o) for o in options)
    run = f'"$python" -m migfix.hookrun {hook_type}{opts} -- "$@"'
    failed = (
        f'echo "migfix: {hook_type} hook failed (exit $?); your {_what(hook_type)} is done, '
        'run migfix check" >&2'
    )
    missing = (
        f'echo "migfix: skipped the {hook_type} hook: $python, the Python that installed it, '
        'no longer exists; run migfix hook install again" >&2'
    )
    lines = [
        "#!/bin/sh",
        f"{MARKER}{hook_type}",
        f"{VERSION_MARKER}{SCRIPT_VERSION}",
        f"{PYTHON_MARKER}{py}",
        f"{OPTIONS_MARKER}{shlex.join(options)}".rstrip(),
        "#",
        "# Installed by `migfix hook install`; `migfix hook uninstall` removes it and puts back",
        f"# the hook that was here before, kept meanwhile as {hook_type}{LEGACY_SUFFIX}.",
        f"# git cannot undo a {_what(hook_type)} from this hook, so it never fails because of",
        "# migfix: only the chained hook's exit status is passed on.",
        "# Set MIGFIX_SKIP_HOOK=1 to skip migfix (the chained hook still runs).",
        "",
        f'legacy="$(dirname -- "$0")/{hook_type}{LEGACY_SUFFIX}"',
        "legacy_status=0",
        f"python={py}",
    ]
    skip_guard = '[ -z "${MIGFIX_SKIP_HOOK:-}" ]'
    if hook_type == "post-rewrite":
        # git writes "<old> <new>" lines on stdin; both hooks must be able to read them.
        # The trailing "x" keeps the final newline that $(...) would strip.
        lines += [
            "stdin=$(cat; echo x)",
            "stdin=${stdin%x}",
            "",
            'if [ -x "$legacy" ]; then',
            '    printf %s "$stdin" | "$legacy" "$@"',
            "    legacy_status=$?",
            "fi",
            "",
            "# After `git commit --amend` there is nothing for migfix to do.",
        ]
        guard = f'[ "$1" = rebase ] && {skip_guard}'
        run = f'printf %s "$stdin" | {run}'
    else:
        lines += [
            "",
            'if [ -x "$legacy" ]; then',
            '    "$legacy" "$@"',
            "    legacy_status=$?",
            "fi",
            "",
        ]
        guard = skip_guard
        if hook_type == "post-commit":
            lines += [
                "# Only a merge commit (HEAD has a second parent) can join two lines of",
                "# migrations; any other commit is passed over here, without starting Python.",
            ]
            guard += ' && git rev-parse -q --verify "HEAD^2" >/dev/null 2>&1'
        elif hook_type == "post-checkout":
            lines += [
                "# Only a branch checkout that changed HEAD can move a migration; checking out",
                "# files, or the same commit, is passed over here, without starting Python.",
            ]
            guard += ' && [ "${3:-0}" = 1 ] && [ "$1" != "$2" ]'
            if watch:
                specs = " ".join(shlex.quote(f":(top,literal){w}") for w in watch)
                guard += f' && ! git diff --quiet "$1" "$2" -- {specs} 2>/dev/null'
    lines += [
        f"if {guard}; then",
        '    if [ -x "$python" ]; then',
        f"        {run} || {failed}",
        "    else",
        f"        {missing}",
        "    fi",
        "fi",
        'exit "$legacy_status"',
        "",
    ]
    return "\n".join(lines)


def _watched(repo: Path) -> tuple[str, ...]:
    """The project's versions folders relative to the repository root, read statically; ()
    when there is no project (then post-checkout starts Python for every branch switch)."""
    from migfix.config import find_project
    from migfix.errors import MigfixError

    try:
        project = find_project(repo)
        top = Path(_git(repo, "rev-parse", "--show-toplevel").stdout.strip()).resolve()
        return tuple(p.resolve().relative_to(top).as_posix() for p in project.version_locations)
    except (MigfixError, ValueError, OSError):
        return ()


def _what(hook_type: str) -> str:
    return {"post-rewrite": "rebase", "post-checkout": "checkout"}.get(hook_type, "merge")


@dataclass(frozen=True)
class _Recorded:
    interpreter: str | None
    options: tuple[str, ...]


def _read_ours(path: Path) -> _Recorded | None:
    """The values recorded in our script at ``path``, or None when the file is not ours."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    lines = text.splitlines()
    if not any(line.startswith(MARKER) for line in lines):
        return None
    interpreter: str | None = None
    options: tuple[str, ...] = ()
    for line in lines:
        try:
            if line.startswith(PYTHON_MARKER):
                words = shlex.split(line[len(PYTHON_MARKER) :])
                interpreter = words[0] if words else None
            elif line.startswith(OPTIONS_MARKER.rstrip()):
                options = tuple(shlex.split(line[len(OPTIONS_MARKER.rstrip()) :]))
        except ValueError:
            # A hand-edited line that no longer parses: still our hook, values unknown.
            continue
    return _Recorded(interpreter, options)


def _write_executable(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0o755 (temp file, then replace)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_hook_types(hook_types: Sequence[str]) -> None:
    unknown = [t for t in hook_types if t not in HOOK_TYPES]
    if unknown:
        raise Refusal(
            f"Unknown hook type {unknown[0]!r}: migfix installs only "
            f"{', '.join(HOOK_TYPES[:-1])} and {HOOK_TYPES[-1]}. Pick from those and run the "
            "command again."
        )


# --- public API -----------------------------------------------------------------------------


def install(
    repo: Path,
    *,
    hook_types: Sequence[str] = HOOK_TYPES,
    strategy: str | None = None,
    commit: bool | None = None,
    always: bool = False,
    interpreter: str | None = None,
) -> list[str]:
    """Install migfix's hooks into ``repo``'s hooks directory; return what was done.

    A hook that is not ours is moved to ``<hook>.legacy`` and chained (it runs first, with the
    same arguments and stdin). Reinstalling rewrites our script only if its text changed.
    ``interpreter`` defaults to the running Python.
    """
    _check_hook_types(hook_types)
    python = os.path.abspath(interpreter if interpreter is not None else sys.executable)
    options = _options(strategy, commit, always)
    directory, hooks_path_set = hooks_dir(repo)

    # Decide everything before touching anything, so a refusal on the second hook does not
    # leave the first one half-installed.
    plans: list[tuple[str, Path, Path, str, bool]] = []
    for hook_type in hook_types:
        hook = directory / hook_type
        legacy = directory / f"{hook_type}{LEGACY_SUFFIX}"
        foreign = os.path.lexists(hook) and _read_ours(hook) is None
        if foreign and os.path.lexists(legacy):
            raise Refusal(
                f"Refusing to install the {hook_type} hook: {hook} is not migfix's, and "
                f"{legacy} already exists, so moving the first aside would overwrite the "
                f"second. Combine them into one {hook_type} script (or delete the one you no "
                "longer need), then run `migfix hook install` again."
            )
        text = render_script(
            hook_type, python, options, _watched(repo) if hook_type == "post-checkout" else ()
        )
        plans.append((hook_type, hook, legacy, text, foreign))

    messages: list[str] = []
    if hooks_path_set:
        messages.append(
            f"core.hooksPath is set: installed into {directory}, which every repository using "
            "that path shares"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for hook_type, hook, legacy, text, foreign in plans:
        if foreign:
            # rename keeps the bytes, the mode, and a symlink as a symlink.
            os.replace(hook, legacy)
            messages.append(
                f"moved the existing {hook_type} hook to {legacy}; it still runs, before migfix"
            )
        elif os.path.lexists(legacy) and not os.path.lexists(hook):
            messages.append(f"chaining to the existing {legacy}; it runs before migfix")
        if os.path.lexists(hook):
            if not hook.is_symlink() and hook.read_bytes() == text.encode("utf-8"):
                if hook.stat().st_mode & 0o777 != 0o755:
                    os.chmod(hook, 0o755)
                messages.append(f"{hook_type} hook already installed at {hook}; nothing to do")
                continue
            verb = "updated"
        else:
            verb = "installed"
        _write_executable(hook, text)
        messages.append(f"{verb} the {hook_type} hook at {hook}")
    return messages


def uninstall(repo: Path, hook_types: Sequence[str] = HOOK_TYPES) -> list[str]:
    """Remove migfix's hooks from ``repo`` and put any chained hook back; return what was done.

    A hook that is not ours is left exactly as it is.
    """
    _check_hook_types(hook_types)
    directory, _ = hooks_dir(repo)
    messages: list[str] = []
    for hook_type in hook_types:
        hook = directory / hook_type
        legacy = directory / f"{hook_type}{LEGACY_SUFFIX}"
        if not os.path.lexists(hook):
            note = f"; {legacy} is left where it is" if os.path.lexists(legacy) else ""
            messages.append(f"no {hook_type} hook at {hook}; nothing to do{note}")
            continue
        if _read_ours(hook) is None:
            messages.append(f"left {hook} untouched: it is not migfix's {hook_type} hook")
            continue
        if os.path.lexists(legacy):
            # rename over our script: the old hook comes back byte for byte, mode included.
            os.replace(legacy, hook)
            messages.append(
                f"removed the migfix {hook_type} hook and restored {hook} from {legacy}"
            )
        else:
            hook.unlink()
            messages.append(f"removed the migfix {hook_type} hook from {hook}")
    return messages


def status(repo: Path, hook_types: Sequence[str] = HOOK_TYPES) -> list[HookStatus]:
    """Report what is installed at each hook path of ``repo``."""
    _check_hook_types(hook_types)
    directory, _ = hooks_dir(repo)
    result: list[HookStatus] = []
    for hook_type in hook_types:
        hook = directory / hook_type
        legacy_path = directory / f"{hook_type}{LEGACY_SUFFIX}"
        legacy = legacy_path if os.path.lexists(legacy_path) else None
        if not os.path.lexists(hook):
            result.append(HookStatus(hook_type, hook, STATE_NOT_INSTALLED, None, (), legacy))
            continue
        recorded = _read_ours(hook)
        if recorded is None:
            result.append(HookStatus(hook_type, hook, STATE_FOREIGN, None, (), legacy))
            continue
        if recorded.interpreter is None or not os.access(recorded.interpreter, os.X_OK):
            state = STATE_STALE
        elif legacy is not None:
            state = STATE_CHAINED
        else:
            state = STATE_INSTALLED
        result.append(
            HookStatus(hook_type, hook, state, recorded.interpreter, recorded.options, legacy)
        )
    return result
