"""The heads lock: a small file beside the migrations that makes git itself conflict.

``[tool.migfix] lock = true`` keeps ``<script_location>/heads.lock`` with one line per head
(its branch labels, revision id and message). Two branches that each add a migration both
change the same line, so git (and a server's merge button) stops their merge with a conflict
instead of leaving two heads behind. Lines of different heads are kept apart by a blank line:
git merges changes to separate lines cleanly, so work on two intended branches (different
labels) never conflicts.

The lock is kept current by ``migfix merge`` and ``rebase`` (one more change in the same
all-or-nothing write: :func:`follow`), by the git hook, and by Alembic itself through a
``post_write_hooks`` entry that ``migfix lock init`` adds (``migfix.write.heads_lock_files``).
Locally a conflict resolves itself: ``migfix hook install`` registers a merge driver for the
file that keeps one side, and the hook that runs after the merge fixes the heads and rewrites
the lock.

Only the standard library and migfix's static reader are imported here: ``check`` and the
hook's quiet path read the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migfix.errors import Refusal
from migfix.plan.records import FileChange
from migfix.project.model import Project, lock_path
from migfix.read.checks import LOCK_OUT_OF_DATE, Problem
from migfix.read.graph import Graph
from migfix.read.scan import scan_file

HOOK_NAME = "migfix_lock"
HOOK_OPTIONS = "lock update --hook REVISION_SCRIPT_FILENAME"
DRIVER = "migfix-lock"
HEADER = (
    "# Heads of the migration graph, kept by migfix (`migfix lock update`); do not edit.\n"
    "# Two branches that each add a migration change the same line below, so git stops\n"
    "# their merge with a conflict instead of leaving two heads: run `migfix merge` (or\n"
    "# `migfix rebase --onto <ref>`) and then `migfix lock update`.\n"
)
# The scratch folder `migfix merge` has Alembic render into (``migfix.write.render``): the
# post-write hook runs there too, and the real lock is written with the merge's other files.
_SCRATCH_PREFIX = ".migfix-"


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
    if old is not None and b"\r\n" in old:
        # Checked out with CRLF (core.autocrlf): the same content, and an update keeps the
        # file's line endings.
        new = new.replace(b"\n", b"\r\n")
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


def skipped_hook_file(path: Path) -> bool:
    """Whether a post-write hook call for PATH is one of migfix's own scratch renders."""
    return any(part.startswith(_SCRATCH_PREFIX) for part in path.parts)
