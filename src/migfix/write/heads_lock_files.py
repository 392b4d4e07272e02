"""Writing the heads lock (``migfix.plan.heads_lock``) and what keeps it current outside
migfix's own runs: ``migfix lock update``, the ``post_write_hooks`` entry ``migfix lock init``
adds to the Alembic config, and the merge driver ``migfix hook install`` registers with git.
"""

from __future__ import annotations

import re
from pathlib import Path

from migfix.errors import ConfigError, Refusal
from migfix.git import gitops, worktree
from migfix.plan.heads_lock import (
    DRIVER,
    HOOK_NAME,
    HOOK_OPTIONS,
    change,
    enabled,
    skipped_hook_file,
)
from migfix.project.config import find_project
from migfix.project.model import Project, lock_path, relpath
from migfix.project.settings import read_toml
from migfix.read.graph import Graph, read_graph
from migfix.write import txn
from migfix.write.fileio import atomic_write


def update(project: Project, graph: Graph | None = None) -> Path | None:
    """Rewrite the lock to match the graph on disk; return its path when it changed."""
    # Under the writer lock; a graph read before waiting for it may be stale.
    with txn.writer_lock(project.root) as changed:
        found = change(project, graph if graph is not None and not changed else read_graph(project))
        if found is None:
            return None
        txn.write_changes([found], root=project.root)
        return found.path


def mark_resolved(project: Project, path: Path | None) -> str:
    """``git add`` the lock at PATH if git lists it as conflicted; what to say about it."""
    if path is None or not worktree.mark_resolved(gitops.find_repo(project.root), [path]):
        return ""
    return f"marked {project.relpath(path)} resolved (git add)"


# -- lock init: the post_write_hooks entry -----------------------------------------------------


def _hook_options(project: Project) -> str:
    section = "" if project.ini_section == "alembic" else f"-n {project.ini_section} "
    return section + HOOK_OPTIONS


def ini_entry(project: Project) -> str:
    opts = _hook_options(project)
    return (
        f"{HOOK_NAME}.type = console_scripts\n"
        f"{HOOK_NAME}.entrypoint = migfix\n"
        f"{HOOK_NAME}.options = {opts}\n"
    )


def toml_entry(project: Project) -> str:
    return (
        "[[tool.alembic.post_write_hooks]]\n"
        "# Keeps the heads lock current when a revision is written (`migfix lock init`).\n"
        f'name = "{HOOK_NAME}"\n'
        'type = "console_scripts"\n'
        'entrypoint = "migfix"\n'
        f'options = "{_hook_options(project)}"\n'
    )


_SECTION = re.compile(r"^\[([^\]\r\n]+)\][ \t]*\r?$", re.M)
_HOOKS_LINE = re.compile(r"^hooks[ \t]*[=:][ \t]*([^\r\n]*?)[ \t]*(\r?)$", re.M)


def _ini_hooks(text: str, section: str = "post_write_hooks") -> list[str] | None:
    """The ``hooks`` names of the ini's [post_write_hooks], None when it has no such section."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    if not parser.has_section(section):
        return None
    return [n for n in re.split(r", *|(?: +)", parser.get(section, "hooks", fallback="")) if n]


def add_ini_hook(text: str, project: Project) -> str:
    """TEXT (an alembic.ini) with the migfix_lock post-write hook added; comments, order and
    newlines stay. Appends ``[post_write_hooks]`` when the file has none."""
    nl = "\r\n" if "\r\n" in text else "\n"
    entry = ini_entry(project).replace("\n", nl)
    header = next((m for m in _SECTION.finditer(text) if m.group(1) == "post_write_hooks"), None)
    if header is None:
        sep = "" if not text or text.endswith(("\n", "\r")) else nl
        return f"{text}{sep}{nl}[post_write_hooks]{nl}hooks = {HOOK_NAME}{nl}{entry}"
    following = next((m for m in _SECTION.finditer(text, header.end())), None)
    end = following.start() if following else len(text)
    body = text[header.end() : end]
    hooks = _HOOKS_LINE.search(body)
    if hooks is not None:
        names = hooks.group(1)
        joined = f"{names}, {HOOK_NAME}" if names else HOOK_NAME
        line_end = header.end() + hooks.end()
        at = header.end() + hooks.start()
        # The match ends before the "\n" (its "\r" is matched); the entry goes right after
        # the hooks line, inside the section.
        rest = text[line_end:].removeprefix("\n")
        return text[:at] + f"hooks = {joined}" + nl + entry + rest
    at = header.end()
    lead = text[at : at + len(nl)]
    if lead == nl:
        at += len(nl)
    else:
        entry = nl + entry
    return text[:at] + f"hooks = {HOOK_NAME}{nl}" + entry + text[at:]


def _toml_has_hook(path: Path) -> bool | None:
    data = read_toml(path)
    hooks = data.get("tool", {}).get("alembic", {}).get("post_write_hooks")
    if hooks is None:
        return False
    if not isinstance(hooks, list):
        return None
    return any(isinstance(h, dict) and h.get("name") == HOOK_NAME for h in hooks)


def require(project: Project, command: str) -> None:
    """Refuse COMMAND while ``[tool.migfix] lock`` is off."""
    if not enabled(project):
        where = project.settings.source or project.root / "pyproject.toml"
        raise ConfigError(
            f"The heads lock is off. Add `lock = true` under [tool.migfix] in {where}, commit "
            f"it with the lock, then run `{command}` again."
        )


def init(project: Project) -> list[str]:
    """``migfix lock init``: add the post-write hook entry and write the first lock."""
    require(project, "migfix lock init")
    messages = [_add_hook(project)]
    path = update(project)
    rel = project.relpath(lock_path(project))
    messages.append(f"wrote {rel}" if path else f"{rel} is already current")
    messages.append(
        f"Commit {rel} (and the configuration change); `migfix hook install` also registers "
        "the merge driver that lets the hook resolve a conflict in it."
    )
    return messages


def _add_hook(project: Project) -> str:
    ini = project.config_file
    ini_text = ini.read_text(encoding="utf-8") if ini is not None else None
    ini_hooks = _ini_hooks(ini_text) if ini_text is not None else None
    if ini is not None and ini_text is not None and ini_hooks is not None:
        # Alembic reads [post_write_hooks] from the ini whenever the ini has that section.
        if HOOK_NAME in ini_hooks:
            return f"{relpath(ini, project.root)} already runs migfix after `alembic revision`"
        new = add_ini_hook(ini_text, project)
        _check_ini(new, ini)
        atomic_write(ini, new.encode("utf-8"))
        return f"added the {HOOK_NAME} post-write hook to {relpath(ini, project.root)}"
    toml = project.toml_file
    if toml is not None:
        has = _toml_has_hook(toml)
        if has:
            return f"{relpath(toml, project.root)} already runs migfix after `alembic revision`"
        text = toml.read_text(encoding="utf-8")
        sep = "" if text.endswith("\n") else "\n"
        new = f"{text}{sep}\n{toml_entry(project)}"
        if has is False and _valid_toml(new):
            atomic_write(toml, new.encode("utf-8"))
            return f"added the {HOOK_NAME} post-write hook to {relpath(toml, project.root)}"
        return (
            f"{relpath(toml, project.root)}: add this post-write hook to the "
            f"post_write_hooks of [tool.alembic] yourself, so that `alembic revision` keeps "
            f"the lock current:\n{toml_entry(project)}"
        )
    if ini is not None and ini_text is not None:
        new = add_ini_hook(ini_text, project)
        _check_ini(new, ini)
        atomic_write(ini, new.encode("utf-8"))
        return f"added the {HOOK_NAME} post-write hook to {relpath(ini, project.root)}"
    return (
        "No alembic.ini to add the post-write hook to; add this to the [post_write_hooks] "
        f"section of the configuration Alembic reads:\nhooks = {HOOK_NAME}\n{ini_entry(project)}"
    )


def _check_ini(text: str, path: Path) -> None:
    try:
        hooks = _ini_hooks(text)
    except Exception as exc:  # configparser raises several unrelated types
        hooks = None
        why = str(exc)
    else:
        why = "the hook entry did not read back"
    if not hooks or HOOK_NAME not in hooks:
        raise Refusal(
            f"{path}: migfix could not add its post-write hook safely ({why}); nothing was "
            f"written. Add it to [post_write_hooks] by hand:\nhooks = {HOOK_NAME}\n"
            f"{HOOK_NAME}.type = console_scripts\n{HOOK_NAME}.entrypoint = migfix\n"
            f"{HOOK_NAME}.options = {HOOK_OPTIONS}"
        )


def _valid_toml(text: str) -> bool:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    hooks = data.get("tool", {}).get("alembic", {}).get("post_write_hooks")
    return isinstance(hooks, list) and any(
        isinstance(h, dict) and h.get("name") == HOOK_NAME for h in hooks
    )


# -- the merge driver ---------------------------------------------------------------------------


def attributes_line(repo: Path, project: Project) -> str:
    rel = relpath(lock_path(project), repo)
    pattern = f'"/{rel}"' if any(c in rel for c in ' "\\') else f"/{rel}"
    return f"{pattern} merge={DRIVER}"


def install_driver(cwd: Path) -> list[str]:
    """Register the lock's merge driver, when CWD's project keeps a lock.

    ``.gitattributes`` (committed, shared) names the driver for the lock file; the
    repository's git config defines it as "keep this side" (``true``), so the merge completes
    and the post-merge / post-rewrite / post-commit hook rewrites the lock. A server, which
    has no such config, falls back to git's own merge and reports the conflict.
    """

    try:
        project = find_project(cwd)
    except ConfigError:
        return []
    if not enabled(project):
        return []
    repo = gitops.find_repo(project.root)
    if repo is None:
        return []
    messages = []
    attributes = repo / ".gitattributes"
    line = attributes_line(repo, project)
    text = attributes.read_text(encoding="utf-8") if attributes.is_file() else ""
    if line not in text.splitlines():
        sep = "" if not text or text.endswith("\n") else "\n"
        atomic_write(attributes, f"{text}{sep}{line}\n".encode())
        messages.append(f"added `{line}` to {attributes}; commit it")
    name = "migfix heads lock: keep one side, the migfix hook rewrites it"
    current = gitops.text(repo, "config", "--get", f"merge.{DRIVER}.driver").stdout.strip()
    if current == "true":
        messages.append(f"merge driver {DRIVER} already registered")
    else:
        for key, value in (("name", name), ("driver", "true")):
            proc = gitops.text(repo, "config", f"merge.{DRIVER}.{key}", value)
            if proc.returncode != 0:
                raise Refusal(
                    f"git config merge.{DRIVER}.{key} failed: {proc.stderr.strip()}. Register "
                    "the lock's merge driver by hand, or run `migfix hook install` again."
                )
        messages.append(
            f"registered the merge driver {DRIVER} for {relpath(lock_path(project), repo)}"
        )
    return messages


def uninstall_driver(cwd: Path) -> list[str]:
    """Remove the driver's definition from the repository's git config (``.gitattributes``
    is shared with everyone and stays; without the definition git merges the file itself)."""

    repo = gitops.find_repo(cwd)
    if repo is None or gitops.text(repo, "config", "--get", f"merge.{DRIVER}.driver").returncode:
        return []
    gitops.text(repo, "config", "--remove-section", f"merge.{DRIVER}")
    return [f"removed the merge driver {DRIVER} from the git config"]


def hook_update(file: Path, *, section: str = "alembic") -> str | None:
    """What Alembic's post-write hook runs for a freshly written revision FILE.

    The file is new and not committed; the project is found from its folder, so the hook
    works whatever directory ``alembic`` / ``flask db`` was started in.
    """

    file = file.absolute()
    if skipped_hook_file(file):
        return None
    project = find_project(file.parent, name=section)
    if not enabled(project):
        return None
    path = update(project)
    return f"updated {project.relpath(path)}" if path else None
