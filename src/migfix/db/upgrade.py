"""``migfix db upgrade [REV]``: ``alembic upgrade`` for a database that may have missed a move.

A teammate's database that ran R on A, before R was re-rooted onto S, still records R:
``alembic upgrade heads`` does nothing there, and S never runs. This command first runs what
a move left unrun (``db sync``: the revisions below the recorded heads the database never
ran, in graph order) and then upgrades to REV like ``alembic upgrade REV``, through the
project's own env.py, both under the project's writer lock. A failed sync upgrades nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migfix.db import sync as dbsync
from migfix.db.connect import mask, one_line, run_env
from migfix.db.sync_status import SyncResult
from migfix.errors import MigfixError
from migfix.project.model import Project
from migfix.read.graph import Graph
from migfix.write import txn


@dataclass
class UpgradeResult:
    synced: SyncResult
    revision: str
    ran: list[str] = field(default_factory=list)
    """The revisions the upgrade planned to run (all of them ran when ``error`` is empty)."""
    error: str = ""


def upgrade(
    project: Project,
    graph: Graph,
    revision: str = "heads",
    *,
    url: str | None = None,
    load_app: Callable[[], Any] | None = None,
    command: str = "migfix",
) -> UpgradeResult:
    """Sync what a move left unrun, then ``alembic upgrade REVISION``."""

    with txn.writer_lock(project.root):
        synced = dbsync._sync(
            project, graph, url=url, load_app=load_app, dry_run=False, sql=False, command=command
        )
        result = UpgradeResult(synced, revision)
        if synced.error:
            return result

        def steps(heads: Any, context: Any) -> list[Any]:
            found = list(context.script._upgrade_revs(revision, heads))
            result.ran.extend(s.revision.revision for s in found)
            return found

        try:
            run_env(project, url, load_app, steps, destination_rev=revision)
        except MigfixError:
            raise
        except Exception as exc:
            result.error = mask(one_line(exc))
        return result


def upgrade_text(project: Project, r: UpgradeResult, command: str = "migfix") -> str:
    lines: list[str] = []
    if r.synced.ran or r.synced.error:
        lines.append(dbsync.sync_text(project, r.synced, command))
    if r.synced.error:
        lines.append(f"Did not upgrade to {r.revision}: the sync above failed.")
        return "\n".join(lines)
    if r.error:
        lines.append(
            f"Upgrading {r.synced.status.database} to {r.revision} failed: {r.error}. "
            f"Fix the revision, then run `{command} db upgrade` again."
        )
    elif r.ran:
        lines.append(
            f"Upgraded {r.synced.status.database} to {r.revision}: ran {', '.join(r.ran)}."
        )
    else:
        lines.append(f"{r.synced.status.database} is already at {r.revision}; nothing to upgrade.")
    return "\n".join(lines)


def upgrade_exit(r: UpgradeResult) -> int:
    return 1 if r.synced.error or r.error else 0
