"""The hook script migfix installs: its text, the markers that identify it as migfix's (and
what it recorded), the checksum that tells an edited script, and the shell guard that lets
a merge that touched no migration skip Python entirely.

``migfix.hook.install`` writes it into git's hooks folder. Only the standard library and the
option declarations (migfix.commands.options) are imported here.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from migfix.commands import options as declared
from migfix.errors import Refusal

# post-commit is there for merges that stopped on conflicts: git runs no post-merge for them,
# and the merge commit is made later by the user's own `git commit`. post-checkout only
# notices revisions that moved between two branches (see migfix.write.moves), for databases.
HOOK_TYPES: tuple[str, ...] = declared.HOOK_TYPES


LEGACY_SUFFIX = ".legacy"
SCRIPT_VERSION = 2

# From this script version on, every script carries the checksum of what migfix wrote.
CHECKSUM_SINCE = 2


MARKER = "# migfix-hook: "

VERSION_MARKER = "# migfix-hook-version: "

CHECKSUM_MARKER = "# migfix-sha256: "

PYTHON_MARKER = "# migfix-python: "

OPTIONS_MARKER = "# migfix-options: "

VERSIONS_MARKER = "# migfix-versions: "


# Recorded instead of an interpreter in a script that finds migfix when it runs.
RUN_TIME = "found at run time: .venv, then migfix on PATH"


def options_of(strategy: str | None, commit: bool | None, always: bool) -> tuple[str, ...]:
    """The hook run options the script passes (read back by migfix.hook.run.main)."""
    return declared.hook_run_argv({"strategy": strategy, "commit": commit, "always": always})


def render_script(
    hook_type: str, interpreter: str, options: Sequence[str], versions: Sequence[str] = ()
) -> str:
    """The text of the hook script; a pure function so reinstalling compares bytes.

    VERSIONS are the version locations (POSIX paths relative to the work tree root) that
    post-commit watches for added revision files, and post-checkout for any change.
    """
    if "\n" in interpreter or any("\n" in o for o in (*options, *versions)):
        # The recorded values live on comment lines that ``status`` reads back.
        raise Refusal(
            f"Refusing to install the {hook_type} hook: the interpreter path or an option "
            f"contains a newline ({interpreter!r}, {list(options)!r}). Install migfix into an "
            "environment whose path has no newline and run `migfix hook install` again."
        )
    py = shlex.quote(interpreter)
    opts = "".join(" " + shlex.quote(o) for o in options)
    run = f'"$python" -m migfix.hookrun {hook_type}{opts} -- "$@"'
    run_on_path = f'migfix hook run {hook_type}{opts} -- "$@"'
    watched = list(versions) if hook_type in ("post-commit", "post-checkout") else []
    lines = _header(hook_type, py, options, watched)
    lines += _FIND_AT_RUN_TIME if interpreter == RUN_TIME else [f"python={py}"]
    lines += _chain_legacy(hook_type)
    if hook_type == "post-rewrite":
        run = f'printf %s "$stdin" | {run}'
        run_on_path = f'printf %s "$stdin" | {run_on_path}'
    guard = hook_guard(hook_type, options, watched, _SCRIPT_ARGS)
    lines += _run_migfix(hook_type, interpreter, guard, run, run_on_path)
    return _with_checksum("\n".join(lines))


def _header(hook_type: str, py: str, options: Sequence[str], watched: Sequence[str]) -> list[str]:
    """The shebang, the markers ``status`` reads back, and what the script is."""
    return [
        "#!/bin/sh",
        f"{MARKER}{hook_type}",
        f"{VERSION_MARKER}{SCRIPT_VERSION}",
        f"{PYTHON_MARKER}{py}",
        f"{OPTIONS_MARKER}{shlex.join(options)}".rstrip(),
        *([f"{VERSIONS_MARKER}{shlex.join(watched)}"] if watched else []),
        "#",
        "# Installed by `migfix hook install`; `migfix hook uninstall` removes it and puts back",
        f"# the hook that was here before, kept meanwhile as {hook_type}{LEGACY_SUFFIX}.",
        f"# git cannot undo a {_what(hook_type)} from this hook, so it never fails because of",
        "# migfix: only the chained hook's exit status is passed on.",
        "# Set MIGFIX_SKIP_HOOK=1 to skip migfix (the chained hook still runs).",
        "# Edit it and migfix will refuse to overwrite or remove it (see the sha256 line).",
        "",
        f'legacy="$(dirname -- "$0")/{hook_type}{LEGACY_SUFFIX}"',
        "legacy_status=0",
    ]


def _chain_legacy(hook_type: str) -> list[str]:
    """Run the hook migfix moved aside first, with the same arguments (and stdin)."""
    if hook_type == "post-rewrite":
        # git writes "<old> <new>" lines on stdin; both hooks must be able to read them.
        # The trailing "x" keeps the final newline that $(...) would strip.
        return [
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
    lines = [
        "",
        'if [ -x "$legacy" ]; then',
        '    "$legacy" "$@"',
        "    legacy_status=$?",
        "fi",
        "",
    ]
    if hook_type == "post-commit":
        lines += [
            "# Only a merge commit (HEAD has a second parent), or a commit that added files",
            "# to the version locations (a squash merge, a cherry-pick), can bring in another",
            "# line of migrations; any other commit is passed over here, without Python.",
        ]
    elif hook_type == "post-checkout":
        lines += [
            "# Only a branch checkout that changed a down_revision line in the version",
            "# locations can move a migration; any other is passed over here, without Python.",
        ]
    return lines


def _run_migfix(
    hook_type: str, interpreter: str, guard: str, run: str, run_on_path: str
) -> list[str]:
    """Behind the guard: run migfix, never failing the hook because of it."""
    failed = (
        f'echo "migfix: {hook_type} hook failed (exit $?); your {_what(hook_type)} is done, '
        'run migfix check" >&2'
    )
    missing = (
        f'echo "migfix: skipped the {hook_type} hook: $python, the Python that installed it, '
        'no longer exists; run migfix hook install again" >&2'
    )
    if interpreter == RUN_TIME:
        missing = (
            f'echo "migfix: skipped the {hook_type} hook: migfix is neither in this '
            "repository's .venv nor on PATH; install it in one of them\" >&2"
        )
    on_path = [
        "    elif command -v migfix >/dev/null 2>&1; then",
        f"        {run_on_path} || {failed}",
    ]
    return [
        f"if {guard}; then",
        # In a script that finds migfix at run time, python may be empty: -x "" is false.
        '    if [ -x "$python" ]; then',
        f"        {run} || {failed}",
        *(on_path if interpreter == RUN_TIME else []),
        "    else",
        f"        {missing}",
        "    fi",
        "fi",
        'exit "$legacy_status"',
        "",
    ]


def _with_checksum(text: str) -> str:
    """TEXT with a checksum line after the version line: the sha256 of TEXT itself, so
    that a later install or uninstall can tell whether someone edited the script."""

    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    head, sep, rest = text.partition(f"{VERSION_MARKER}{SCRIPT_VERSION}\n")
    return f"{head}{sep}{CHECKSUM_MARKER}{digest}\n{rest}"


def edited(data: bytes) -> bool:
    """Whether our script DATA differs from what migfix wrote (its checksum line says).

    A script from before checksums were kept has nothing to compare with: taken as is.
    """

    marker = CHECKSUM_MARKER.encode()
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(marker):
            rest = b"\n".join(lines[:i] + lines[i + 1 :])
            recorded = line[len(marker) :].strip().decode("ascii", "replace")
            return hashlib.sha256(rest).hexdigest() != recorded
    version = next((ln for ln in lines if ln.startswith(VERSION_MARKER.encode())), b"")
    try:
        return int(version[len(VERSION_MARKER) :].strip() or 0) >= CHECKSUM_SINCE
    except ValueError:
        return True  # the version line itself was edited


# Git runs hooks at the work tree root: its .venv (POSIX or Windows layout) is the project's,
# when migfix is installed there (its console script is, for a wheel and an editable install).
_FIND_AT_RUN_TIME = [
    "python=",
    "if [ -x .venv/bin/migfix ]; then",
    "    python=.venv/bin/python",
    "elif [ -x .venv/Scripts/migfix.exe ]; then",
    "    python=.venv/Scripts/python.exe",
    "fi",
]


def sh_path(path: str, *, windows: bool = os.name == "nt") -> str:
    """PATH as the hook's ``sh`` runs it: Git for Windows' sh takes ``C:/x/python.exe``,
    where backslashes would be escapes."""
    if windows:
        from pathlib import PureWindowsPath

        return PureWindowsPath(path).as_posix()
    return path


_DIFF = "git diff --exit-code --name-only --no-textconv ORIG_HEAD HEAD"

# Non-zero (changed, or ORIG_HEAD unknown: let Python decide) means "run migfix".
_CONFIG_CHANGED = f"! {_DIFF} -- '*alembic.ini' '*pyproject.toml' '*heads.lock'"

# Every revision file assigns these names; a file added or deleted shows all of its lines.
_GRAPH_CHANGED = f"! {_DIFF} -G 'revision|branch_labels|depends_on' -- '*.py'"


# How each hook script names git's arguments (post-checkout's third is missing for a file
# checkout on some git versions, hence the default).
_SCRIPT_ARGS = ('"$1"', '"$2"', '"${3:-0}"')


def hook_guard(
    hook_type: str, options: Sequence[str], watched: Sequence[str], argv: Sequence[str]
) -> str:
    """The shell condition under which HOOK_TYPE starts Python at all.

    ARGV are the shell words for git's hook arguments: "$1"... in an installed script, the
    ``PRE_COMMIT_*`` variables under pre-commit (see :mod:`migfix.hook.precommit`). WATCHED
    are the version locations recorded at install; without them post-commit acts on merge
    commits only and post-checkout looks at any .py file.
    """
    guard = '[ -z "${MIGFIX_SKIP_HOOK:-}" ]'
    if hook_type == "post-rewrite":
        # After `git commit --amend` there is nothing for migfix to do.
        guard = f"[ {argv[0]} = rebase ] && {guard}"
    if hook_type in ("post-merge", "post-rewrite") and declared.ALWAYS.long not in options:
        # Python starts only when the merge or rebase changed an Alembic config, a heads.lock
        # or a line that can move the revision graph (ORIG_HEAD..HEAD, what it brought in, as
        # the runner reads it); any other costs two `git diff`s.
        guard += f" && {{ {_CONFIG_CHANGED} || {_GRAPH_CHANGED}; }} >/dev/null 2>&1"
    elif hook_type == "post-commit":
        merge_commit = 'git rev-parse -q --verify "HEAD^2" >/dev/null 2>&1'
        if watched:
            paths = " ".join(shlex.quote(v) for v in watched)
            added = (
                '[ -n "$(git --literal-pathspecs diff-tree --root --no-commit-id -r '
                f'--name-only --no-renames --diff-filter=A HEAD -- {paths} 2>/dev/null)" ]'
            )
            guard += f" && {{ {merge_commit} || {added}; }}"
        else:
            # No locations recorded (pre-commit's hooks, or no project found at install): a
            # commit that added a .py file assigning down_revision.
            added = (
                "git diff-tree --root --no-commit-id -r -p --no-renames --diff-filter=A HEAD "
                "-- '*.py' 2>/dev/null | grep -q '^+.*down_revision'"
            )
            guard += f" && {{ {merge_commit} || {added}; }}"
    elif hook_type == "post-checkout":
        old, new, kind = argv[:3]
        guard += f" && [ {kind} = 1 ] && [ {old} != {new} ]"
        paths = " ".join(shlex.quote(v) for v in watched) if watched else "'*.py'"
        literal = " --literal-pathspecs" if watched else ""
        guard += (
            f" && git{literal} diff --no-ext-diff --no-textconv --no-color -U0 {old} {new} "
            f"-- {paths} 2>/dev/null | grep -q '^[-+].*down_revision'"
        )
    return guard


@dataclass(frozen=True)
class Recorded:
    interpreter: str | None
    options: tuple[str, ...]


def read_ours(path: Path) -> Recorded | None:
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
    return Recorded(interpreter, options)


def _what(hook_type: str) -> str:
    return {"post-rewrite": "rebase", "post-checkout": "checkout"}.get(hook_type, "merge")
