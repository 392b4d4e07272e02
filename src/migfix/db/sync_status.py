"""``migfix db status``: where a database is after a migration moved, read-only.

Alembic stores only a database's heads. When migfix (or a teammate's rebase) repoints R
from A onto S2, a database that ran R on A still says "R": ``alembic upgrade`` does
nothing, and S1 and S2 never run there. What a database really ran is found from its
recorded heads and the parents each revision had *when it ran*: the journal of moves
(:mod:`migfix.write.moves`) and HEAD's reflog say what those were (:func:`analyse`).
``migfix.db.sync`` runs what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from migfix.db.connect import is_flask, read_heads, safe_url
from migfix.git import gitops
from migfix.project.model import Project
from migfix.read.gittree import cat_blobs
from migfix.read.graph import Graph
from migfix.read.scan import scan_file
from migfix.write import moves as journal
from migfix.write import moves_seen
from migfix.write.nomove import rel

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
    unordered: tuple[journal.Move, ...] = ()
    """Moves of applied revisions in the very second of the last sync that no position
    orders against it: counted as synced (see :func:`analyse`), and said."""
    doubtful: tuple[str, ...] = ()
    """What never ran here if the unordered moves came after the sync, in graph order."""

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
    journal_faults: tuple[str, ...] = ()
    """Lines of the journal of moves that do not fit its schema (left out of the analysis)."""
    reflog: journal.ReflogPoint | None = None
    """Where HEAD's reflog stood when the moves were read: what a sync of them records."""

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


def _rank(s: journal.Synced) -> tuple[int, float]:
    return (s.line, s.when)  # the journal's order; time only for syncs from no journal


def _since_last_sync(
    moves: Sequence[journal.Move], syncs: Sequence[journal.Synced]
) -> tuple[dict[str, journal.Move], list[journal.Move], set[str]]:
    """Each revision's first move since the last complete sync, the moves that cannot be
    ordered against that sync, and what partial syncs after it ran."""
    complete = [s for s in syncs if s.complete]
    last = max(complete, key=_rank) if complete else None
    ran_partly = {
        r
        for s in syncs
        if not s.complete and (last is None or _rank(s) > _rank(last))
        for r in s.ran
    }
    first: dict[str, journal.Move] = {}
    unordered: list[journal.Move] = []
    for m in sorted(moves, key=lambda m: m.when):
        seen = journal.AFTER if last is None else journal.order(m, last)
        # A move that cannot be ordered against the sync counts as synced: counted as
        # unsynced, it would make the sync's revisions look unrun when the sync came after
        # it, and `db sync` would run them a second time. Missed, a later move of the
        # revision is only unseen, and the status says so (a revision run twice cannot be
        # undone; one left unrun can still be run).
        if seen == journal.UNORDERED:
            unordered.append(m)
        elif seen == journal.AFTER and m.revision not in first:
            first[m.revision] = m
    return first, unordered, ran_partly


def _ran_under(
    graph: Graph, recorded: Sequence[str], first: dict[str, journal.Move], ran_partly: set[str]
) -> set[str]:
    """What a database at RECORDED ran, each revision under the parents it had before its
    FIRST move (its current ones if it never moved), and what partial syncs ran."""
    nodes = graph.nodes
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
    return applied | {r for r in ran_partly if r in nodes}


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
    first, unordered, ran_partly = _since_last_sync(moves, syncs)
    unknown = tuple(r for r in recorded if r not in nodes)
    applied = _ran_under(graph, recorded, first, ran_partly)
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
    unsure = [
        m
        for m in unordered
        if m.revision in applied and m.revision not in first and m.old != nodes[m.revision].down
    ]
    doubtful: set[str] = set()
    if unsure:
        # What would have run had the unordered moves come after the sync.
        later = {**{m.revision: m for m in reversed(unsure)}, **first}
        doubtful = expected - _ran_under(graph, recorded, later, ran_partly) - set(missing)
    return Analysis(
        tuple(recorded),
        frozenset(applied),
        missing,
        target,
        behind,
        moved,
        unknown,
        tuple(r for r in order if r in ran_partly),
        tuple(unsure),
        tuple(r for r in order if r in doubtful),
    )


def status(
    project: Project,
    graph: Graph,
    *,
    url: str | None = None,
    load_app: Callable[[], Any] | None = None,
    command: str = "migfix",
) -> Status:
    """Connect, read the recorded heads, and compare with the files and their moves."""

    seen = read_heads(project, url, load_app)
    repo = gitops.find_repo(project.root)
    key = seen.key
    known = moves_seen.all_moves(repo, list(project.version_locations))
    faults = tuple(journal.read_all(repo)[2]) if repo is not None else ()
    syncs = [s for s in known.syncs if s.database == key]
    analysis = analyse(graph, seen.heads, known.moves, syncs)
    heads = tuple(r for r in graph.topological_order() if not graph.children[r])
    st = Status(safe_url(seen.url), key, analysis, heads, reflog=known.reflog)
    if analysis.unknown and repo is not None:
        st.declared = tuple(_declared(repo, project, r) for r in analysis.unknown)
    st.fix = _fix(project, st, command)
    st.journal_faults = faults
    return st


def upgrade_command(project: Project, load_app: object) -> str:
    return "flask db upgrade" if is_flask(project) else "alembic upgrade heads"


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
        return upgrade_command(project, None)
    return ""


def _declared(repo: Path, project: Project, rev: str) -> Declared:
    """Which branch (or, failing that, which commit) declares REV, found with git grep/log."""

    specs = [rel(repo, p) for p in project.version_locations]
    refs = gitops.run(
        repo, "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes"
    )
    names = [r for r in refs.stdout.decode().split() if r and not r.endswith("/HEAD")]
    where: list[str] = []
    if names:
        proc = gitops.run(repo, "grep", "-l", "-F", "-e", rev, *names, "--", *specs)
        hits = [line for line in proc.stdout.decode().splitlines() if ":" in line]
        for hit in hits:
            ref, _, path = hit.partition(":")
            blob = gitops.run(repo, "rev-parse", f"{ref}:{path}").stdout.decode().strip()
            data = cat_blobs(repo, [blob]).get(blob)
            if data is not None and scan_file(Path(path), data).revision == rev:
                where.append(f"branch {ref} ({path})")
    if not where:
        proc = gitops.run(
            repo, "log", "--all", "-n1", "--format=%h", "--name-only", f"-S{rev}", "--"
        )
        lines = [x for x in proc.stdout.decode().splitlines() if x.strip()]
        if lines:
            where.append(f"commit {lines[0]}" + (f" ({lines[1]})" if len(lines) > 1 else ""))
    return Declared(rev, tuple(where[:3]))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def status_text(project: Project, st: Status) -> str:
    text = _status_text(project, st)
    a = st.analysis
    if a.doubtful:  # an unordered move that changes nothing of what ran needs no note
        shown = "; ".join(
            f"{m.revision} moved ({journal.ids(m.old)} -> {journal.ids(m.new)}, by `{m.by}`)"
            for m in a.unordered
        )
        text += (
            f"\nNote: {shown} in the same second as the last sync of this database, and "
            "nothing tells which came first (HEAD's reflog no longer holds the entry the sync "
            "recorded, or the sync was in another worktree or by an older migfix). migfix "
            "counts the move as synced: counted wrongly as unsynced, it would make `db sync` "
            "run again revisions the database already ran. If the move came after the sync, "
            f"{journal.ids(a.doubtful)} never ran here: check the database, and run what is "
            "missing by hand."
        )
    if st.journal_faults:
        repo = gitops.find_repo(project.root)
        path = journal.journal_path(repo) if repo is not None else None
        text += (
            f"\nThe journal of moves {path} has lines that do not fit its schema; they were "
            f"left out, so no revision was planned from them: {'; '.join(st.journal_faults)}. "
            "Fix or delete those lines (each is one JSON object, see migfix.write.moves)."
        )
    return text


def _status_text(project: Project, st: Status) -> str:
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
        "journal_faults": list(st.journal_faults),
        "unordered": [
            {"revision": m.revision, "old": list(m.old), "new": list(m.new), "by": m.by}
            for m in a.unordered
        ],
        "doubtful": list(a.doubtful),
    }


def status_exit(st: Status) -> int:
    return 0 if st.state == IN_STEP else 1
