"""``migfix db sync``: run what a move left unrun on a database (see ``migfix.db.sync_status``).

``sync`` runs each missing revision's ``upgrade()`` through the project's own ``env.py``
(``migfix.db.connect``), in graph order, never a downgrade, never a revision that already
ran, and then records the heads the database really has. It runs inside ``env.py``'s own
transaction: on PostgreSQL (transactional DDL) the whole sync is one transaction; elsewhere
a failure puts the version record back exactly as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from migfix.db.connect import mask, one_line, run_env
from migfix.db.sync_status import (
    IN_STEP,
    OUT_OF_STEP,
    Status,
    SyncResult,
    status,
    status_text,
    upgrade_command,
)
from migfix.errors import MigfixError, Refusal
from migfix.git import gitops
from migfix.plan.collision import collision
from migfix.project.model import Project
from migfix.read.graph import Graph, read_graph
from migfix.write import moves as journal
from migfix.write import txn


def _step_class() -> Any:
    from alembic.runtime.migration import RevisionStep
    from alembic.util import to_tuple

    class SyncStep(RevisionStep):
        """Run one revision's upgrade(); keep Alembic's version rows consistent meanwhile.

        Alembic's own step would place the revision with the *current* graph's ancestry,
        where R (already recorded) sits above it; this one moves only the rows of the
        revisions being synced (a row per head among them), and the final rows are written
        once at the end.
        """

        def _inside(self, heads: set[str]) -> list[str]:
            return sorted(set(to_tuple(self.revision.down_revision, default=())) & heads)

        def should_delete_branch(self, heads: set[str]) -> bool:
            return False

        def should_create_branch(self, heads: set[str]) -> bool:
            return not self._inside(heads)

        def should_merge_branches(self, heads: set[str]) -> bool:
            return len(self._inside(heads)) > 1

        def merge_branch_idents(self, heads: set[str]) -> tuple[list[str], str, str]:
            inside = self._inside(heads)
            return inside[:-1], inside[-1], self.revision.revision

        def should_unmerge_branches(self, heads: set[str]) -> bool:
            return False

        def update_version_num(self, heads: set[str]) -> tuple[str, str]:
            return self._inside(heads)[0], self.revision.revision

    return SyncStep


class _Changed(Exception):
    pass


def _write_heads(context: Any, heads: Sequence[str]) -> None:
    """Make the version table hold exactly HEADS, in Alembic's own transaction block."""
    from sqlalchemy import literal_column

    version = context._version
    with context.begin_transaction(_per_migration=True):
        context.execute(version.delete())
        for h in heads:
            context.execute(version.insert().values(version_num=literal_column(f"'{h}'")))


def sync(
    project: Project,
    graph: Graph,
    *,
    url: str | None = None,
    load_app: Callable[[], Any] | None = None,
    dry_run: bool = False,
    sql: bool = False,
    command: str = "migfix",
) -> SyncResult:
    """Run the revisions a database never ran, then record the heads it really has.

    Holds the project's writer lock: no merge or rebase moves a revision meanwhile."""

    with txn.writer_lock(project.root):
        return _sync(
            project, graph, url=url, load_app=load_app, dry_run=dry_run, sql=sql, command=command
        )


def mark_in_step(
    project: Project,
    graph: Graph,
    *,
    url: str | None = None,
    load_app: Callable[[], Any] | None = None,
    command: str = "migfix",
) -> Status:
    """Record that a database already ran every revision below its heads in the files'
    present order (it was created or upgraded after the move), running nothing: from now on
    only later moves count for it, as after a complete ``db sync``."""

    with txn.writer_lock(project.root):
        st = status(project, graph, url=url, load_app=load_app, command=command)
        if st.analysis.unknown:
            raise Refusal(status_text(project, st) + " Nothing was recorded.")
        if st.analysis.state == OUT_OF_STEP:
            repo = gitops.find_repo(project.root)
            if repo is None:  # pragma: no cover - moves are only known inside git
                raise Refusal("Not in a git repository: migfix keeps no record of moves here.")
            journal.record_synced(repo, st.key, [], True, st.reflog)
        return st


def mark_in_step_text(st: Status) -> str:
    if st.analysis.state == IN_STEP:
        return f"{st.database} is already in step; nothing recorded."
    return (
        f"Recorded {st.database} as in step at {journal.ids(st.analysis.recorded)}: it ran "
        "every revision below them in the files' present order. Nothing was run."
    )


def _sync(
    project: Project,
    graph: Graph,
    *,
    url: str | None,
    load_app: Callable[[], Any] | None,
    dry_run: bool,
    sql: bool,
    command: str,
) -> SyncResult:

    st = status(project, graph, url=url, load_app=load_app, command=command)
    a = st.analysis
    result = SyncResult(st, dry_run=dry_run)
    if a.unknown:
        raise Refusal(status_text(project, st) + " Nothing was run.")
    if a.state == IN_STEP or (dry_run and not sql):
        return result
    fn = _run_missing(result)
    opts: dict[str, Any] = {}
    if sql:
        opts["starting_rev"] = list(a.recorded)
    try:
        run_env(project, url, load_app, fn, as_sql=sql, **opts)
    except MigfixError:
        raise
    except _Changed as exc:
        raise Refusal(
            f"{st.database} changed while migfix was syncing it (now at {exc}); nothing was "
            f"run. Run `{command} db status` and `{command} db sync` again."
        ) from None
    except Exception as exc:
        _failed(project, result, exc, url=url, load_app=load_app, sql=sql)
        return result
    if not sql:
        repo = gitops.find_repo(project.root)
        journal.record_synced(repo, st.key, result.ran, True, st.reflog)
    return result


def _run_missing(result: SyncResult) -> Callable[[Any, Any], Iterator[Any]]:
    """The migration function env.py runs: each missing revision's upgrade(), in graph
    order, then the heads the database really has; refuses if the heads changed meanwhile."""
    a = result.status.analysis
    recorded = set(a.recorded)
    step_class = _step_class()

    def steps(heads: Any, context: Any) -> Iterator[Any]:
        if set(heads) != recorded:
            raise _Changed(", ".join(heads) or "<base>")
        result.transactional = bool(
            context.impl.transactional_ddl and not context.opts.get("transaction_per_migration")
        )
        script = context.script
        for rev in a.missing:
            yield step_class(script.revision_map, script.get_revision(rev), True)
            result.ran.append(rev)
        _write_heads(context, a.target)

    def fn(heads: Any, context: Any) -> Iterator[Any]:
        return steps(heads, context)

    return fn


def _failed(
    project: Project,
    result: SyncResult,
    exc: Exception,
    *,
    url: str | None,
    load_app: Callable[[], Any] | None,
    sql: bool,
) -> None:
    """Record a failed sync: which revision failed, and what was undone or kept."""
    a = result.status.analysis
    ran = result.ran
    result.failed = a.missing[len(ran)] if len(ran) < len(a.missing) else None
    result.error = mask(one_line(exc))
    if result.transactional:
        ran.clear()  # rolled back with everything else
    else:
        result.restored = _restore(project, url, load_app, a.recorded)
    if ran and not sql:
        st = result.status
        journal.record_synced(gitops.find_repo(project.root), st.key, ran, False, st.reflog)


def _restore(
    project: Project, url: str | None, load_app: Callable[[], Any] | None, rows: Sequence[str]
) -> bool:
    """Put the version rows back to ROWS after a failure left others (no transactional DDL)."""

    def put_back(heads: Any, context: Any) -> list[Any]:
        if set(heads) != set(rows):
            _write_heads(context, rows)
        return []

    try:
        run_env(project, url, load_app, put_back)
    except Exception:
        return False
    return True


def _failure_text(project: Project, r: SyncResult, command: str) -> str:
    """What a failed sync says: which revision failed, what was kept, and what to change."""
    st, a = r.status, r.status.analysis
    ids = journal.ids
    what = f"Revision {r.failed}" if r.failed else "A migration"
    path = ""
    if r.failed and r.failed in project_nodes(project):
        path = f" ({project.relpath(project_nodes(project)[r.failed])})"
    if r.transactional:
        kept = "the whole sync was rolled back: nothing changed"
    elif r.ran:
        kept = (
            f"{', '.join(r.ran)} ran and stay (this database has no transactional DDL); "
            f"the version record is back at {ids(a.recorded)}"
        )
    else:
        kept = f"the version record is back at {ids(a.recorded)}"
    if not r.transactional and not r.restored:
        kept += " (could not confirm the version record: check `alembic current`)"
    advice = (
        f"Fix the revision (it may conflict with what {ids(a.recorded)} already did) and "
        f"run `{command} db sync` again."
    )
    if r.failed:
        found = collision(project, read_graph(project), r.failed, sorted(a.applied))
        if found:
            advice = f"{found} Then run `{command} db sync` again."
    return (
        f"{what}{path} failed during `{command} db sync` on {st.database}: {r.error}. "
        f"Stopped: {kept}. {advice}"
    )


def sync_text(project: Project, r: SyncResult, command: str = "migfix") -> str:
    st, a = r.status, r.status.analysis
    ids = journal.ids
    if a.state == IN_STEP:
        return status_text(project, st).replace(" is in step", " is already in step", 1) + (
            " Nothing to do."
        )
    if r.dry_run:
        run = f"run {', '.join(a.missing)} (upgrade, in this order), then " if a.missing else ""
        return f"Would {run}record {st.database} at {ids(a.target)}; nothing downgraded."
    if r.error:
        return _failure_text(project, r, command)
    ran = f"Ran {', '.join(r.ran)} on {st.database}; " if r.ran else f"{st.database}: "
    tail = ""
    if a.behind:
        tail = f" {len(a.behind)} later revision(s) remain: `{upgrade_command(project, None)}`."
    return f"{ran}recorded at {ids(a.target)}. In step now.{tail}"


def project_nodes(project: Project) -> dict[str, Path]:
    return {r: n.path for r, n in read_graph(project).nodes.items()}


def sync_exit(r: SyncResult) -> int:
    if r.error:
        return 1
    if r.dry_run and r.status.state != IN_STEP:
        return 1
    return 0


def confirm_needed() -> bool:
    return sys.stdin.isatty()
