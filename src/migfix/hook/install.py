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
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from migfix.errors import GitError, MigfixError, Refusal
from migfix.git import gitops
from migfix.hook.projects import watched
from migfix.hook.script import (
    CHECKSUM_MARKER,
    HOOK_TYPES,
    LEGACY_SUFFIX,
    RUN_TIME,
    edited,
    options_of,
    read_ours,
    render_script,
    sh_path,
)
from migfix.hook.watch import Watch

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


def hooks_dir(repo: Path) -> tuple[Path, bool]:
    """The absolute directory git runs hooks from, and whether ``core.hooksPath`` chose it.

    ``--git-path hooks`` already follows ``core.hooksPath`` and, in a linked worktree, points
    at the common git dir (hooks are shared by all worktrees). Its answer is relative to the
    directory git ran in, hence the join with ``repo``.
    """
    proc = gitops.text(repo, "rev-parse", "--git-path", "hooks")
    if proc.returncode != 0:
        raise GitError(
            f"{repo} is not inside a git repository (git rev-parse said: "
            f"{proc.stderr.strip()}). Run `migfix hook` from the repository whose merges "
            "migfix should watch."
        )
    path = (repo / proc.stdout.rstrip("\n")).resolve()
    hooks_path_set = gitops.text(repo, "config", "--get", "core.hooksPath").returncode == 0
    return path, hooks_path_set


# --exit-code with the names sent away, not --quiet: git 2.39's --quiet ignores -G.


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
    options = options_of(strategy, commit, always) + tuple(watch)
    directory, hooks_path_set = hooks_dir(repo)
    python = _interpreter(repo, directory, hooks_path_set, interpreter)
    if versions is None and ("post-commit" in hook_types or "post-checkout" in hook_types):
        # Without a project found from here, post-commit acts on merge commits only.
        versions = _watched_versions(repo, watch)

    # Decide everything before touching anything, so a refusal on the second hook does not
    # leave the first one half-installed.
    plans = [
        _plan_hook(directory, hook_type, python, options, versions or (), force=force)
        for hook_type in hook_types
    ]
    messages = [_shared_folder_line(directory, python)] if hooks_path_set else []
    undo: list[Callable[[], None]] = []
    current = ""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for plan in plans:
            current = f"the {plan.hook_type} hook at {plan.hook}"
            messages.extend(_put_in_place(plan, undo))
    except OSError as exc:
        raise _install_failed(current or str(directory), exc, undo) from exc
    return messages


def _interpreter(repo: Path, directory: Path, hooks_path_set: bool, interpreter: str | None) -> str:
    """The Python the scripts run: INTERPRETER, else this one, except in a hooks folder inside
    the work tree (committed, so on every clone), where the script finds migfix at run time."""
    if interpreter is None and hooks_path_set and _in_work_tree(repo, directory):
        return RUN_TIME
    return sh_path(os.path.abspath(interpreter if interpreter is not None else sys.executable))


def _shared_folder_line(directory: Path, python: str) -> str:
    return (
        f"core.hooksPath is set: installed into {directory}, which every repository using "
        "that path shares"
        + (
            "; inside the work tree, so the scripts find migfix when they run (this "
            "repository's .venv, then migfix on PATH) and can be committed"
            if python == RUN_TIME
            else ""
        )
    )


@dataclass(frozen=True)
class _HookPlan:
    hook_type: str
    hook: Path
    legacy: Path
    text: str
    foreign: bool
    """The hook there is not migfix's: it moves to ``legacy`` and is chained."""


def _plan_hook(
    directory: Path,
    hook_type: str,
    python: str,
    options: Sequence[str],
    versions: Sequence[str],
    *,
    force: bool,
) -> _HookPlan:
    """What installing HOOK_TYPE will do; refuses what would lose a hook or an edit."""
    hook = directory / hook_type
    legacy = directory / f"{hook_type}{LEGACY_SUFFIX}"
    foreign = os.path.lexists(hook) and read_ours(hook) is None
    if foreign and os.path.lexists(legacy):
        raise Refusal(
            f"Refusing to install the {hook_type} hook: {hook} is not migfix's, and "
            f"{legacy} already exists, so moving the first aside would overwrite the "
            f"second. Combine them into one {hook_type} script (or delete the one you no "
            "longer need), then run `migfix hook install` again."
        )
    if not foreign and not force and os.path.lexists(hook) and edited(hook.read_bytes()):
        raise Refusal(
            f"Refusing to overwrite {hook}: it is migfix's {hook_type} hook, but it was "
            "edited after migfix wrote it (it no longer matches the checksum on its "
            f"`{CHECKSUM_MARKER.strip()}` line), and reinstalling would lose those edits. "
            f"Nothing was changed. Move your additions into {legacy} (a hook there runs "
            f"before migfix's) and delete {hook}, then run `migfix hook install` again; or "
            "run `migfix hook install --force` to replace it anyway."
        )
    text = render_script(hook_type, python, options, versions)
    return _HookPlan(hook_type, hook, legacy, text, foreign)


def _put_in_place(plan: _HookPlan, undo: list[Callable[[], None]]) -> list[str]:
    """Write one planned hook (moving a foreign one aside first); record how to undo it."""
    hook_type, hook, legacy = plan.hook_type, plan.hook, plan.legacy
    messages: list[str] = []
    if plan.foreign:
        # rename keeps the bytes, the mode, and a symlink as a symlink.
        os.replace(hook, legacy)
        undo.append(functools.partial(os.replace, legacy, hook))
        messages.append(
            f"moved the existing {hook_type} hook to {legacy}; it still runs, before migfix"
        )
    elif os.path.lexists(legacy) and not os.path.lexists(hook):
        messages.append(f"chaining to the existing {legacy}; it runs before migfix")
    if os.path.lexists(hook):
        if not hook.is_symlink() and hook.read_bytes() == plan.text.encode("utf-8"):
            mode = hook.stat().st_mode & 0o777
            if mode != 0o755:
                os.chmod(hook, 0o755)
                undo.append(functools.partial(os.chmod, hook, mode))
            messages.append(f"{hook_type} hook already installed at {hook}; nothing to do")
            return messages
        undo.append(_undo_overwrite(hook))
        verb = "updated"
    else:
        undo.append(functools.partial(hook.unlink, missing_ok=True))
        verb = "installed"
    _write_executable(hook, plan.text)
    messages.append(f"{verb} the {hook_type} hook at {hook}")
    return messages


def _in_work_tree(repo: Path, directory: Path) -> bool:
    proc = gitops.text(repo, "rev-parse", "--show-toplevel")
    if proc.returncode != 0 or not proc.stdout.strip():
        return False  # a bare repository: its hooks folder travels nowhere
    return directory.is_relative_to(Path(proc.stdout.strip()).resolve())


def _watched_versions(repo: Path, watch: Sequence[str] = ()) -> tuple[str, ...]:
    """The version locations of every project the hooks watch from REPO (the one found from
    there, the one recorded with -c/-n/-d in WATCH, and those discovery finds), relative to
    the work tree root (what post-commit watches); () when there is none."""

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
            if read_ours(hook) is not None and edited(hook.read_bytes()):
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
        if read_ours(hook) is None:
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
        recorded = read_ours(hook)
        if recorded is None:
            result.append(HookStatus(hook_type, hook, STATE_FOREIGN, None, (), legacy))
            continue
        found = recorded.interpreter == RUN_TIME or (
            recorded.interpreter is not None and os.access(recorded.interpreter, os.X_OK)
        )
        if not found:
            state = STATE_STALE
        elif edited(hook.read_bytes()):
            state = STATE_EDITED
        elif legacy is not None:
            state = STATE_CHAINED
        else:
            state = STATE_INSTALLED
        result.append(
            HookStatus(hook_type, hook, state, recorded.interpreter, recorded.options, legacy)
        )
    return result
