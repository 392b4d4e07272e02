"""``migfix db status`` and ``migfix db sync``: a database after a migration moved.

Alembic stores only a database's heads. When migfix (or a teammate's rebase) repoints R
from A onto S2, a database that ran R on A still says "R": ``alembic upgrade`` does
nothing, and S1 and S2 never run there. What a database really ran is found from its
recorded heads and the parents each revision had *when it ran*: the journal of moves
(:mod:`migfix.write.moves`) and HEAD's reflog say what those were.

``status`` reads ``alembic_version`` read-only, connecting exactly as ``alembic current``
does: through the project's own ``env.py`` (and the Flask app's engines under Flask), with
``--url`` replacing ``sqlalchemy.url`` when given. ``sync`` runs each missing revision's
``upgrade()`` through that same ``env.py``, in graph order, never a downgrade, never a
revision that already ran, and then records the heads the database really has. It runs
inside ``env.py``'s own transaction: on PostgreSQL (transactional DDL) the whole sync is
one transaction; elsewhere a failure puts the version record back exactly as it was.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError, MigfixError, Refusal
from migfix.project.config import Project
from migfix.read.graph import Graph
from migfix.write import moves as journal

IN_STEP = "in-step"
OUT_OF_STEP = "out-of-step"
UNKNOWN = "unknown-revision"


@dataclass(frozen=True)
class Declared:
    """Where git declares a revision that no file of the work tree declares."""

    revision: str
    where: tuple[str, ...]
    """``branch:path`` or ``commit abc123:path``; empty when git has no trace of it."""


@dataclass(frozen=True)
class Analysis:
    """What a database ran, against what the files say it should have (pure data)."""

    recorded: tuple[str, ...]
    applied: frozenset[str]
    missing: tuple[str, ...]
    """Revisions below the recorded heads (in the files) that never ran, in graph order."""
    target: tuple[str, ...]
    """The heads the database really has once the missing revisions ran."""
    behind: tuple[str, ...]
    """Revisions after the target that ``alembic upgrade heads`` would still run."""
    moved: tuple[tuple[str, tuple[str, ...], tuple[str, ...], journal.Move], ...]
    """(revision, parents when it ran, parents now, the first move) of moved applied ones."""
    unknown: tuple[str, ...]
    ran_partly: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        if self.unknown:
            return UNKNOWN
        if self.missing or set(self.target) != set(self.recorded):
            return OUT_OF_STEP
        return IN_STEP


@dataclass
class Status:
    database: str
    """The URL with its password masked."""
    key: str
    analysis: Analysis
    heads: tuple[str, ...]
    declared: tuple[Declared, ...] = ()
    fix: str = ""

    @property
    def state(self) -> str:
        return self.analysis.state


@dataclass
class SyncResult:
    status: Status
    ran: list[str] = field(default_factory=list)
    dry_run: bool = False
    failed: str | None = None
    error: str = ""
    transactional: bool = False
    restored: bool = False


def analyse(
    graph: Graph,
    recorded: Sequence[str],
    moves: Sequence[journal.Move],
    syncs: Sequence[journal.Synced] = (),
) -> Analysis:
    """What a database recorded at RECORDED really ran, given the moves since its last sync.

    A revision ran under the parents it had then: the old parents of its first move since
    the database was last brought in step (its current parents if it never moved). What the
    files put below the recorded heads and the database never ran is missing.
    """
    nodes = graph.nodes
    last_sync = max((s.when for s in syncs if s.complete), default=float("-inf"))
    ran_partly = {r for s in syncs if not s.complete and s.when > last_sync for r in s.ran}
    first: dict[str, journal.Move] = {}
    for m in sorted(moves, key=lambda m: m.when):
        if m.when > last_sync and m.revision not in first:
            first[m.revision] = m
    unknown = tuple(r for r in recorded if r not in nodes)
    applied: set[str] = set()
    stack = [r for r in recorded if r in nodes]
    while stack:
        rev = stack.pop()
        if rev in applied:
            continue
        applied.add(rev)
        move = first.get(rev)
        parents = move.old if move is not None else nodes[rev].down
        stack.extend(p for p in parents if p in nodes and p not in applied)
    applied |= {r for r in ran_partly if r in nodes}
    expected: set[str] = set()
    for rev in recorded:
        if rev in nodes:
            expected |= graph.ancestors(rev) | {rev}
    order = graph.topological_order()
    missing = tuple(r for r in order if r in expected and r not in applied)
    has = applied | expected
    target = tuple(r for r in order if r in has and not any(c in has for c in graph.children[r]))
    behind = tuple(r for r in order if r not in has)
    moved = tuple(
        (r, m.old, nodes[r].down, m)
        for r, m in first.items()
        if r in applied and r not in ran_partly and m.old != nodes[r].down
    )
    return Analysis(
        tuple(recorded),
        frozenset(applied),
        missing,
        target,
        behind,
        moved,
        unknown,
        tuple(r for r in order if r in ran_partly),
    )


# -- connecting the way `alembic current` does -------------------------------------------


def safe_url(url: Any) -> str:
    """A URL as SQLAlchemy renders it with ``hide_password=True``."""
    from migfix.db.verify import _safe_url

    return _safe_url(str(url)) if isinstance(url, str) else str(url.render_as_string(True))


def database_key(url: Any) -> str:
    """Which database this is, for the journal: no password, no driver, no options."""
    from migfix.db.verify import _url_key

    backend, host, port, user, database = _url_key(url)
    where = f"{user + '@' if user else ''}{host or ''}{':' + str(port) if port else ''}"
    return f"{backend}://{where}/{database or ''}"


def _mask(text: str, url: str | None) -> str:
    """TEXT with the password of URL (and any user:password@ in a URL) masked."""
    if url:
        try:
            from sqlalchemy.engine import make_url

            password = make_url(url).password
        except Exception:
            password = None
        if password:
            text = text.replace(str(password), "***")
    return re.sub(r"(//[^:/@\s]*):[^@/\s]+@", r"\1:***@", text)


def _run_env(
    project: Project,
    url: str | None,
    load_app: Callable[[], Any] | None,
    fn: Callable[[Any, Any], Any],
    *,
    as_sql: bool = False,
    **opts: Any,
) -> None:
    """Run the project's env.py once with FN as the migration function, as Alembic does."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    from migfix.db import verify as v

    if project.script_location is None or not (project.script_location / "env.py").is_file():
        raise ConfigError(
            "migfix db connects through env.py, and this project has none "
            f"(script_location: {project.script_location}). Run migfix from the project or "
            "pass -c alembic.ini / -d migrations."
        )
    target = v._Target()
    if url:
        target.urls[None] = url
    flask = load_app is not None or v._is_flask(project)
    old_cwd = Path.cwd()
    try:
        if load_app is None:
            os.chdir(project.root)
        with v._app_context(project, target, flask, not url, load_app) as app_ext:
            config = v._alembic_config(project, target, app_ext)
            script = ScriptDirectory.from_config(config)
            with EnvironmentContext(config, script, fn=fn, as_sql=as_sql, **opts):
                script.run_env()
    finally:
        os.chdir(old_cwd)


def _env_error(exc: BaseException, url: str | None, doing: str) -> MigfixError:
    from migfix.db.verify import _one_line

    return ConfigError(
        f"Could not {doing}: {_mask(_one_line(exc), url)}. Check that the database is "
        "reachable with the URL env.py uses (run `alembic current` or `flask db current` to "
        "see it), or pass --url."
    )


@dataclass
class _Seen:
    url: Any = None
    heads: tuple[str, ...] = ()
    connected: bool = False


def _read(project: Project, url: str | None, load_app: Callable[[], Any] | None) -> _Seen:
    seen = _Seen()

    def look(_rev: Any, context: Any) -> list[Any]:
        seen.url = context.connection.engine.url
        seen.heads = tuple(context.get_current_heads())
        seen.connected = True
        return []

    try:
        _run_env(project, url, load_app, look, dont_mutate=True)
    except MigfixError:
        raise
    except ImportError as exc:
        from migfix.db.verify import _import_message

        raise ConfigError(_import_message(project, exc)) from None
    except Exception as exc:
        raise _env_error(exc, url, "read the database's alembic_version") from None
    if not seen.connected:
        raise ConfigError(
            "env.py ran but never connected to a database (offline mode?), so migfix cannot "
            "read which revisions it ran. Make env.py run online with a connection."
        )
    return seen


# -- status ---------------------------------------------------------------------------------


def status(
    project: Project,
    graph: Graph,
    *,
    url: str | None = None,
    load_app: Callable[[], Any] | None = None,
    command: str = "migfix",
) -> Status:
    """Connect, read the recorded heads, and compare with the files and their moves."""
    from migfix.git import gitops

    seen = _read(project, url, load_app)
    repo = gitops.find_repo(project.root)
    key = database_key(seen.url)
    moves, syncs = journal.all_moves(repo, list(project.version_locations))
    analysis = analyse(graph, seen.heads, moves, [s for s in syncs if s.database == key])
    heads = tuple(r for r in graph.topological_order() if not graph.children[r])
    st = Status(safe_url(seen.url), key, analysis, heads)
    if analysis.unknown and repo is not None:
        st.declared = tuple(_declared(repo, project, r) for r in analysis.unknown)
    st.fix = _fix(project, st, command)
    return st


def _upgrade_command(project: Project, load_app: object) -> str:
    from migfix.db import verify as v

    return "flask db upgrade" if v._is_flask(project) else "alembic upgrade heads"


def _fix(project: Project, st: Status, command: str) -> str:
    a = st.analysis
    if a.unknown:
        return (
            "switch to the branch that declares it and downgrade the database there to a "
            "revision this branch has too, then come back and upgrade (or recreate the "
            "database)"
        )
    if a.state == OUT_OF_STEP:
        return f"{command} db sync"
    if a.behind:
        return _upgrade_command(project, None)
    return ""


def _declared(repo: Path, project: Project, rev: str) -> Declared:
    """Which branch (or, failing that, which commit) declares REV, found with git grep/log."""
    from migfix.git.gitops import _run as _git
    from migfix.read.gittree import cat_blobs
    from migfix.read.scan import scan_file
    from migfix.write.moves import _rel

    specs = [_rel(repo, p) for p in project.version_locations]
    refs = _git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes")
    names = [r for r in refs.stdout.decode().split() if r and not r.endswith("/HEAD")]
    where: list[str] = []
    if names:
        proc = _git(repo, "grep", "-l", "-F", "-e", rev, *names, "--", *specs)
        hits = [line for line in proc.stdout.decode().splitlines() if ":" in line]
        for hit in hits:
            ref, _, path = hit.partition(":")
            blob = _git(repo, "rev-parse", f"{ref}:{path}").stdout.decode().strip()
            data = cat_blobs(repo, [blob]).get(blob)
            if data is not None and scan_file(Path(path), data).revision == rev:
                where.append(f"branch {ref} ({path})")
    if not where:
        proc = _git(repo, "log", "--all", "-n1", "--format=%h", "--name-only", f"-S{rev}", "--")
        lines = [x for x in proc.stdout.decode().splitlines() if x.strip()]
        if lines:
            where.append(f"commit {lines[0]}" + (f" ({lines[1]})" if len(lines) > 1 else ""))
    return Declared(rev, tuple(where[:3]))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def status_text(project: Project, st: Status) -> str:
    a = st.analysis
    ids = journal.ids
    if a.state == UNKNOWN:
        parts = []
        for d in st.declared or tuple(Declared(r, ()) for r in a.unknown):
            where = "; ".join(d.where) if d.where else "no branch or commit git knows of"
            parts.append(f"{d.revision} (declared on {where})")
        return (
            f"{st.database} is recorded at {', '.join(parts)}, which no revision file here "
            f"declares: it ran migrations of another branch. To fix: {st.fix}."
        )
    if a.state == OUT_OF_STEP:
        lines = [f"{st.database} is out of step: at {ids(a.recorded)}, but"]
        for rev, old, new, m in a.moved:
            lines.append(
                f"  {rev} moved ({ids(old)} -> {ids(new)}, by `{m.by}` on {_when(m.when)})"
            )
        if a.missing:
            lines.append(f"{', '.join(a.missing)} never ran here.")
        else:
            lines.append(f"its version record should be {ids(a.target)}.")
        lines.append(f"To fix (runs only what never ran, downgrades nothing): {st.fix}")
        # Alembic records only heads, so a database created or upgraded after the move (it
        # ran them all, in the new order) looks the same; only its owner can tell.
        lines.append(
            "If this database was created or upgraded after the move, it ran them already: "
            f"`{st.fix} --already-in-step` records that and runs nothing."
        )
        return "\n".join(lines)
    where = f"{st.database} is in step: at {ids(a.recorded)}"
    if not a.behind:
        return where + (" (head)." if a.recorded else " (an empty database).")
    return (
        f"{where}, {len(a.behind)} revision(s) behind the heads ({ids(st.heads)}); "
        f"`{st.fix}` runs them."
    )


def status_json(project: Project, st: Status) -> dict[str, Any]:
    a = st.analysis
    return {
        "version": 1,
        "database": st.database,
        "state": a.state,
        "recorded": list(a.recorded),
        "heads": list(st.heads),
        "missing": list(a.missing),
        "behind": list(a.behind),
        "target": list(a.target),
        "moved": [
            {
                "revision": r,
                "old": list(o),
                "new": list(n),
                "by": m.by,
                "when": datetime.fromtimestamp(m.when).isoformat(timespec="seconds"),
            }
            for r, o, n, m in a.moved
        ],
        "unknown": [{"revision": d.revision, "declared": list(d.where)} for d in st.declared]
        or [{"revision": r, "declared": []} for r in a.unknown],
        "fix": st.fix,
    }


def status_exit(st: Status) -> int:
    return 0 if st.state == IN_STEP else 1


# -- sync -----------------------------------------------------------------------------------


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
    from migfix.write import txn

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
    from migfix.git import gitops
    from migfix.write import txn

    with txn.writer_lock(project.root):
        st = status(project, graph, url=url, load_app=load_app, command=command)
        if st.analysis.unknown:
            raise Refusal(status_text(project, st) + " Nothing was recorded.")
        if st.analysis.state == OUT_OF_STEP:
            repo = gitops.find_repo(project.root)
            if repo is None:  # pragma: no cover - moves are only known inside git
                raise Refusal("Not in a git repository: migfix keeps no record of moves here.")
            journal.record_synced(repo, st.key, [], complete=True)
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
    from migfix.git import gitops

    st = status(project, graph, url=url, load_app=load_app, command=command)
    a = st.analysis
    result = SyncResult(st, dry_run=dry_run)
    if a.unknown:
        raise Refusal(status_text(project, st) + " Nothing was run.")
    if a.state == IN_STEP or (dry_run and not sql):
        return result
    recorded = set(a.recorded)
    step_class = _step_class()
    ran: list[str] = result.ran

    def steps(heads: Any, context: Any) -> Iterator[Any]:
        if set(heads) != recorded:
            raise _Changed(", ".join(heads) or "<base>")
        result.transactional = bool(
            context.impl.transactional_ddl and not context.opts.get("transaction_per_migration")
        )
        script = context.script
        for rev in a.missing:
            yield step_class(script.revision_map, script.get_revision(rev), True)
            ran.append(rev)
        _write_heads(context, a.target)

    def fn(heads: Any, context: Any) -> Iterator[Any]:
        return steps(heads, context)

    opts: dict[str, Any] = {}
    if sql:
        opts["starting_rev"] = list(a.recorded)
    try:
        _run_env(project, url, load_app, fn, as_sql=sql, **opts)
    except MigfixError:
        raise
    except _Changed as exc:
        raise Refusal(
            f"{st.database} changed while migfix was syncing it (now at {exc}); nothing was "
            f"run. Run `{command} db status` and `{command} db sync` again."
        ) from None
    except Exception as exc:
        from migfix.db.verify import _one_line

        result.failed = a.missing[len(ran)] if len(ran) < len(a.missing) else None
        result.error = _mask(_one_line(exc), url)
        if result.transactional:
            ran.clear()  # rolled back with everything else
        else:
            result.restored = _restore(project, url, load_app, a.recorded)
        if ran and not sql:
            journal.record_synced(gitops.find_repo(project.root), st.key, ran, complete=False)
        return result
    if not sql:
        journal.record_synced(gitops.find_repo(project.root), st.key, ran, complete=True)
    return result


def _restore(
    project: Project, url: str | None, load_app: Callable[[], Any] | None, rows: Sequence[str]
) -> bool:
    """Put the version rows back to ROWS after a failure left others (no transactional DDL)."""

    def put_back(heads: Any, context: Any) -> list[Any]:
        if set(heads) != set(rows):
            _write_heads(context, rows)
        return []

    try:
        _run_env(project, url, load_app, put_back)
    except Exception:
        return False
    return True


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
        return (
            f"{what}{path} failed during `{command} db sync` on {st.database}: {r.error}. "
            f"Stopped: {kept}. Fix the revision (it may conflict with what "
            f"{ids(a.recorded)} already did) and run `{command} db sync` again."
        )
    ran = f"Ran {', '.join(r.ran)} on {st.database}; " if r.ran else f"{st.database}: "
    tail = ""
    if a.behind:
        tail = f" {len(a.behind)} later revision(s) remain: `{_upgrade_command(project, None)}`."
    return f"{ran}recorded at {ids(a.target)}. In step now.{tail}"


def project_nodes(project: Project) -> dict[str, Path]:
    from migfix.read.graph import read_graph

    return {r: n.path for r, n in read_graph(project).nodes.items()}


def sync_exit(r: SyncResult) -> int:
    if r.error:
        return 1
    if r.dry_run and r.status.state != IN_STEP:
        return 1
    return 0


def confirm_needed() -> bool:
    return sys.stdin.isatty()
