"""Install, uninstall and report migfix's git hooks.

Modelled on pre-commit's ``install_uninstall``: a marker line identifies our own script, a
hook that was already there is moved to ``<hook>.legacy`` and still runs first, and the hooks
directory comes from git itself (``git rev-parse --git-path hooks``), so linked worktrees and
``core.hooksPath`` land where git will look.

The installed script does no work of its own: it calls ``python -m migfix.hookrun`` (the same as
``migfix hook run``, without click's start-up cost) with the
interpreter that installed it (by absolute path, so a GUI client or a shell without the
virtualenv activated still finds migfix). A hooks folder inside the work tree
(``core.hooksPath`` naming a committed folder) travels to every clone, where that path means
nothing: there the script finds migfix at run time instead, in the work tree's ``.venv``, then
as ``migfix`` on PATH, and says in one line when neither is there. What the hook does after a
merge lives in
``migfix.hookrun``. Only the standard library is imported here: this module sits on the path
of ``migfix hook status`` and must stay cheap.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from migfix.commands import options as declared
from migfix.errors import GitError, MigfixError, Refusal

# post-commit is there for merges that stopped on conflicts: git runs no post-merge for them,
# and the merge commit is made later by the user's own `git commit`. post-checkout only
# notices revisions that moved between two branches (see migfix.write.moves), for databases.
HOOK_TYPES: tuple[str, ...] = declared.HOOK_TYPES
SCRIPT_VERSION = 2
# From this script version on, every script carries the checksum of what migfix wrote.
CHECKSUM_SINCE = 2

MARKER = "# migfix-hook: "
VERSION_MARKER = "# migfix-hook-version: "
CHECKSUM_MARKER = "# migfix-sha256: "
PYTHON_MARKER = "# migfix-python: "
OPTIONS_MARKER = "# migfix-options: "
VERSIONS_MARKER = "# migfix-versions: "

LEGACY_SUFFIX = ".legacy"

# Recorded instead of an interpreter in a script that finds migfix when it runs.
RUN_TIME = "found at run time: .venv, then migfix on PATH"

STATE_INSTALLED = "installed"
STATE_NOT_INSTALLED = "not installed"
STATE_FOREIGN = "foreign"
STATE_CHAINED = "installed, chained to legacy"
STATE_STALE = "stale: interpreter missing"
STATE_EDITED = "installed, edited since migfix wrote it"


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
    watched = list(versions) if hook_type in ("post-commit", "post-checkout") else []
    lines = [
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
        *(_FIND_AT_RUN_TIME if interpreter == RUN_TIME else [f"python={py}"]),
    ]
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
        run = f'printf %s "$stdin" | {run}'
        run_on_path = f'printf %s "$stdin" | {run_on_path}'
    else:
        lines += [
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
    guard = hook_guard(hook_type, options, watched, _SCRIPT_ARGS)
    on_path = [
        "    elif command -v migfix >/dev/null 2>&1; then",
        f"        {run_on_path} || {failed}",
    ]
    lines += [
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
    return _with_checksum("\n".join(lines))


def _with_checksum(text: str) -> str:
    """TEXT with a checksum line after the version line: the sha256 of TEXT itself, so
    that a later install or uninstall can tell whether someone edited the script."""
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    head, sep, rest = text.partition(f"{VERSION_MARKER}{SCRIPT_VERSION}\n")
    return f"{head}{sep}{CHECKSUM_MARKER}{digest}\n{rest}"


def _edited(data: bytes) -> bool:
    """Whether our script DATA differs from what migfix wrote (its checksum line says).

    A script from before checksums were kept has nothing to compare with: taken as is.
    """
    import hashlib

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


def sh_path(path: str) -> str:
    """PATH as the hook's ``sh`` runs it: Git for Windows' sh takes ``C:/x/python.exe``,
    where backslashes would be escapes."""
    if os.name == "nt":
        from pathlib import PureWindowsPath

        return PureWindowsPath(path).as_posix()
    return path


# --exit-code with the names sent away, not --quiet: git 2.39's --quiet ignores -G.
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
        return f"[ {argv[0]} = rebase ] && {guard}"
    if hook_type == "post-merge" and declared.ALWAYS.long not in options:
        # Python starts only when the merge changed an Alembic config, a heads.lock or a
        # line that can move the revision graph; any other merge costs two `git diff`s.
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


def _write_executable(path: Path, text: str, *, mode: int = 0o755) -> None:
    """Write ``text`` to ``path`` atomically with MODE (temp file, then replace)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, mode)
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
    watch: Sequence[str] = (),
    versions: Sequence[str] | None = None,
    force: bool = False,
) -> list[str]:
    """Install migfix's hooks into ``repo``'s hooks directory; return what was done.

    ``watch``: hook run options naming one project (``--config PATH`` ...), recorded in the
    script, quoted for the shell, for a project discovery cannot find.

    A hook that is not ours is moved to ``<hook>.legacy`` and chained (it runs first, with the
    same arguments and stdin). Reinstalling rewrites our script only if its text changed, and
    refuses (unless FORCE) when our script was edited since migfix wrote it. All or nothing:
    when writing one hook fails, those already written are put back as they were.
    ``interpreter`` defaults to the running Python, except in a hooks folder inside the work
    tree (committed, so on every clone): there the script finds migfix at run time
    (:data:`RUN_TIME`). ``versions`` (the version locations post-commit watches, relative to
    the work tree root) defaults to the project found from ``repo``.
    """
    _check_hook_types(hook_types)
    options = _options(strategy, commit, always) + tuple(watch)
    directory, hooks_path_set = hooks_dir(repo)
    if interpreter is None and hooks_path_set and _in_work_tree(repo, directory):
        python = RUN_TIME
    else:
        python = sh_path(
            os.path.abspath(interpreter if interpreter is not None else sys.executable)
        )
    if versions is None and ("post-commit" in hook_types or "post-checkout" in hook_types):
        # Without a project found from here, post-commit acts on merge commits only.
        versions = _watched_versions(repo, watch)

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
        if not foreign and not force and os.path.lexists(hook) and _edited(hook.read_bytes()):
            raise Refusal(
                f"Refusing to overwrite {hook}: it is migfix's {hook_type} hook, but it was "
                "edited after migfix wrote it (it no longer matches the checksum on its "
                f"`{CHECKSUM_MARKER.strip()}` line), and reinstalling would lose those edits. "
                f"Nothing was changed. Move your additions into {legacy} (a hook there runs "
                f"before migfix's) and delete {hook}, then run `migfix hook install` again; or "
                "run `migfix hook install --force` to replace it anyway."
            )
        text = render_script(hook_type, python, options, versions or ())
        plans.append((hook_type, hook, legacy, text, foreign))

    messages: list[str] = []
    if hooks_path_set:
        messages.append(
            f"core.hooksPath is set: installed into {directory}, which every repository using "
            "that path shares"
            + (
                "; inside the work tree, so the scripts find migfix when they run (this "
                "repository's .venv, then migfix on PATH) and can be committed"
                if python == RUN_TIME
                else ""
            )
        )
    undo: list[Callable[[], None]] = []
    current = ""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for hook_type, hook, legacy, text, foreign in plans:
            current = f"the {hook_type} hook at {hook}"
            if foreign:
                # rename keeps the bytes, the mode, and a symlink as a symlink.
                os.replace(hook, legacy)
                undo.append(functools.partial(os.replace, legacy, hook))
                messages.append(
                    f"moved the existing {hook_type} hook to {legacy}; it still runs, before migfix"
                )
            elif os.path.lexists(legacy) and not os.path.lexists(hook):
                messages.append(f"chaining to the existing {legacy}; it runs before migfix")
            if os.path.lexists(hook):
                if not hook.is_symlink() and hook.read_bytes() == text.encode("utf-8"):
                    mode = hook.stat().st_mode & 0o777
                    if mode != 0o755:
                        os.chmod(hook, 0o755)
                        undo.append(functools.partial(os.chmod, hook, mode))
                    messages.append(f"{hook_type} hook already installed at {hook}; nothing to do")
                    continue
                undo.append(_undo_overwrite(hook))
                verb = "updated"
            else:
                undo.append(functools.partial(hook.unlink, missing_ok=True))
                verb = "installed"
            _write_executable(hook, text)
            messages.append(f"{verb} the {hook_type} hook at {hook}")
    except OSError as exc:
        raise _install_failed(current or str(directory), exc, undo) from exc
    return messages


def _in_work_tree(repo: Path, directory: Path) -> bool:
    proc = _git(repo, "rev-parse", "--show-toplevel")
    if proc.returncode != 0 or not proc.stdout.strip():
        return False  # a bare repository: its hooks folder travels nowhere
    return directory.is_relative_to(Path(proc.stdout.strip()).resolve())


def _watched_versions(repo: Path, watch: Sequence[str] = ()) -> tuple[str, ...]:
    """The version locations of every project the hooks watch from REPO (the one found from
    there, the one recorded with -c/-n/-d in WATCH, and those discovery finds), relative to
    the work tree root (what post-commit watches); () when there is none."""
    from migfix.git import gitops
    from migfix.hook.run import Watch, watched

    try:
        root = gitops.find_repo(repo)
        if root is None:
            return ()
        entries = watched(root, repo, Watch.from_options(watch), None)
    except MigfixError:
        return ()
    found: list[str] = []
    for e in entries:
        for loc in e.project.version_locations if e.project is not None else ():
            try:
                rel = loc.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                continue  # outside the work tree: no commit of this repository adds files there
            if rel not in found:
                found.append(rel)
    return tuple(found)


def _undo_overwrite(hook: Path) -> Callable[[], None]:
    """What puts HOOK back as it is now (a file with its mode, or a symlink)."""
    if hook.is_symlink():
        target = os.readlink(hook)

        def relink() -> None:
            hook.unlink(missing_ok=True)
            os.symlink(target, hook)

        return relink
    data, mode = hook.read_bytes(), hook.stat().st_mode & 0o777

    def rewrite() -> None:
        _write_executable(hook, data.decode("utf-8", "surrogateescape"), mode=mode)

    return rewrite


def _install_failed(what: str, exc: OSError, undo: list[Callable[[], None]]) -> MigfixError:
    """Put back what was done before EXC (newest first) and say so in one paragraph."""
    stuck = 0
    for step in reversed(undo):
        try:
            step()
        except OSError:
            stuck += 1
    after = (
        "Nothing was installed: every hook is back as it was."
        if not stuck
        else f"migfix could not put back {stuck} of the changes it had made: run "
        "`migfix hook status` and check the hooks directory by hand."
    )
    return MigfixError(
        f"Could not write {what}: {exc.strerror or exc}. {after} Fix the cause (disk space, "
        "permissions, a read-only file system), then run `migfix hook install` again."
    )


def uninstall(
    repo: Path, hook_types: Sequence[str] = HOOK_TYPES, *, force: bool = False
) -> list[str]:
    """Remove migfix's hooks from ``repo`` and put any chained hook back; return what was done.

    A hook that is not ours is left exactly as it is. One of ours that was edited since migfix
    wrote it is refused (before anything is removed) unless FORCE.
    """
    _check_hook_types(hook_types)
    directory, _ = hooks_dir(repo)
    if not force:
        for hook_type in hook_types:
            hook = directory / hook_type
            if _read_ours(hook) is not None and _edited(hook.read_bytes()):
                raise Refusal(
                    f"Refusing to remove {hook}: it is migfix's {hook_type} hook, but it was "
                    "edited after migfix wrote it (it no longer matches the checksum on its "
                    f"`{CHECKSUM_MARKER.strip()}` line), and uninstalling would delete those "
                    "edits. Nothing was changed. Copy what you want to keep, then run "
                    "`migfix hook uninstall --force`."
                )
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
        found = recorded.interpreter == RUN_TIME or (
            recorded.interpreter is not None and os.access(recorded.interpreter, os.X_OK)
        )
        if not found:
            state = STATE_STALE
        elif _edited(hook.read_bytes()):
            state = STATE_EDITED
        elif legacy is not None:
            state = STATE_CHAINED
        else:
            state = STATE_INSTALLED
        result.append(
            HookStatus(hook_type, hook, state, recorded.interpreter, recorded.options, legacy)
        )
    return result
