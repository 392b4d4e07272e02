"""The heads lock: a small file beside the migrations that makes git itself conflict.

``[tool.migfix] lock = true`` keeps ``<script_location>/heads.lock`` with one line per head
(its branch labels, revision id and message). Two branches that each add a migration both
change the same line, so git (and a server's merge button) stops their merge with a conflict
instead of leaving two heads behind. Lines of different heads are kept apart by a blank line:
git merges changes to separate lines cleanly, so work on two intended branches (different
labels) never conflicts.

The lock is kept current by ``migfix merge`` and ``rebase`` (one more change in the same
all-or-nothing write), by the git hook, and by Alembic itself through a ``post_write_hooks``
entry that ``migfix lock init`` adds. Locally a conflict resolves itself: ``migfix hook
install`` registers a merge driver for the file that keeps one side, and the hook that runs
after the merge fixes the heads and rewrites the lock.

Only the standard library and migfix's static reader are imported here: ``check`` and the
hook's quiet path read the lock.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from migfix.errors import ConfigError, Refusal
from migfix.project.config import Project, relpath
from migfix.read.checks import LOCK_OUT_OF_DATE, Problem
from migfix.read.graph import Graph
from migfix.write.fileio import FileChange, apply_changes

LOCK_NAME = "heads.lock"
HOOK_NAME = "migfix_lock"
HOOK_OPTIONS = "lock update --hook REVISION_SCRIPT_FILENAME"
DRIVER = "migfix-lock"
HEADER = (
    "# Heads of the migration graph, kept by migfix (`migfix lock update`); do not edit.\n"
    "# Two branches that each add a migration change the same line below, so git stops\n"
    "# their merge with a conflict instead of leaving two heads: run `migfix merge` (or\n"
    "# `migfix rebase --onto <ref>`) and then `migfix lock update`.\n"
)
# The scratch folder `migfix merge` has Alembic render into (merge._render_merges): the
# post-write hook runs there too, and the real lock is written with the merge's other files.
_SCRATCH_PREFIX = ".migfix-"


def lock_path(project: Project) -> Path:
    """Where the lock lives: beside env.py (the script location), else beside the versions."""
    if project.script_location is not None:
        return project.script_location / LOCK_NAME
    return project.version_locations[0].parent / LOCK_NAME


def enabled(project: Project) -> bool:
    return project.settings.lock


def render(graph: Graph) -> bytes:
    """The lock's content for GRAPH: the header, then one line per head.

    ``label: rev message`` for a head under branch labels, ``rev message`` without; sorted by
    label then id, so the same heads always give the same bytes.
    """
    entries: list[tuple[str, str]] = []
    for head in graph.heads:
        labels = graph.effective_labels(head)
        tag = "?" if labels is None else ", ".join(sorted(labels))
        doc = " ".join(graph.nodes[head].file.doc.split())
        line = f"{head} {doc}".rstrip()
        entries.append((tag, f"{tag}: {line}" if tag else line))
    entries.sort()
    body = "\n\n".join(line for _, line in entries) if entries else "(no revisions)"
    return (HEADER + "\n" + body + "\n").encode("utf-8")


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Refusal(f"{path}: cannot read the heads lock ({exc.strerror}).") from exc


def change(project: Project, graph: Graph) -> FileChange | None:
    """The write that makes the lock match GRAPH (the graph as it is, or will be), if any."""
    path = lock_path(project)
    old = _current(path)
    new = render(graph)
    return None if old == new else FileChange(path, old, new)


def problem(project: Project, graph: Graph) -> Problem | None:
    """``lock-out-of-date`` when the lock is enabled and does not match GRAPH (for check)."""
    if not enabled(project):
        return None
    path = lock_path(project)
    found = change(project, graph)
    if found is None:
        return None
    what = "does not exist" if found.old is None else "does not match the revision graph"
    expected = (found.new or b"").decode("utf-8")
    return LOCK_OUT_OF_DATE.problem(
        f"the heads lock {what}; run `migfix lock update` (or `migfix merge` if there are "
        f"several heads) and commit it. Expected content:\n{expected}",
        path,
        1,
        tuple(graph.heads),
    )


def graph_after(graph: Graph, changes: Sequence[FileChange]) -> Graph:
    """GRAPH with CHANGES applied to its files (revision files only), without writing."""
    from migfix.read.scan import scan_file

    by_path = {c.path: c for c in changes if c.path.suffix == ".py"}
    files = []
    for f in graph.files:
        c = by_path.pop(f.path, None)
        if c is None:
            files.append(f)
        elif c.new is not None:
            files.append(scan_file(c.path, c.new))
    files.extend(scan_file(c.path, c.new) for c in by_path.values() if c.new is not None)
    return Graph(files, allow_heads=graph.allow_heads, root=graph.root)


def follow(project: Project, graph: Graph, changes: Sequence[FileChange]) -> list[FileChange]:
    """The lock write that goes with CHANGES to GRAPH's files (none when the lock is off)."""
    if not enabled(project) or not changes:
        return []
    found = change(project, graph_after(graph, changes))
    return [found] if found is not None else []


def update(project: Project, graph: Graph | None = None) -> Path | None:
    """Rewrite the lock to match the graph on disk; return its path when it changed."""
    from migfix.read.graph import read_graph
    from migfix.write import txn

    # Under the writer lock; a graph read before waiting for it may be stale.
    with txn.writer_lock(project.root) as changed:
        found = change(project, graph if graph is not None and not changed else read_graph(project))
        if found is None:
            return None
        apply_changes([found], root=project.root)
        return found.path


def skipped_hook_file(path: Path) -> bool:
    """Whether a post-write hook call for PATH is one of migfix's own scratch renders."""
    return any(part.startswith(_SCRATCH_PREFIX) for part in path.parts)


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
    from migfix.project.config import _read_toml

    data = _read_toml(path)
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
    from migfix.write.fileio import atomic_write

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


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from migfix.git.gitops import _env

    return subprocess.run(
        ["git", *args], cwd=repo, env=_env(), capture_output=True, text=True, check=False
    )


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
    from migfix.git import gitops
    from migfix.project.config import find_project

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
        from migfix.write.fileio import atomic_write

        atomic_write(attributes, f"{text}{sep}{line}\n".encode())
        messages.append(f"added `{line}` to {attributes}; commit it")
    name = "migfix heads lock: keep one side, the migfix hook rewrites it"
    current = _git(repo, "config", "--get", f"merge.{DRIVER}.driver").stdout.strip()
    if current == "true":
        messages.append(f"merge driver {DRIVER} already registered")
    else:
        for key, value in (("name", name), ("driver", "true")):
            proc = _git(repo, "config", f"merge.{DRIVER}.{key}", value)
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
    from migfix.git import gitops

    repo = gitops.find_repo(cwd)
    if repo is None or _git(repo, "config", "--get", f"merge.{DRIVER}.driver").returncode:
        return []
    _git(repo, "config", "--remove-section", f"merge.{DRIVER}")
    return [f"removed the merge driver {DRIVER} from the git config"]


def hook_update(file: Path, *, section: str = "alembic") -> str | None:
    """What Alembic's post-write hook runs for a freshly written revision FILE.

    The file is new and not committed; the project is found from its folder, so the hook
    works whatever directory ``alembic`` / ``flask db`` was started in.
    """
    from migfix.project.config import find_project

    file = file.absolute()
    if skipped_hook_file(file):
        return None
    project = find_project(file.parent, name=section)
    if not enabled(project):
        return None
    path = update(project)
    return f"updated {project.relpath(path)}" if path else None
