"""Which revisions are *new* (may be rewritten) and which are *settled* (never touched).

A revision on an upstream ref is settled: someone may already have applied it to a
database, so rewriting its ``down_revision`` would fork history under their feet.
Everything else (not on upstream, uncommitted, untracked, or named with ``--new``)
is new.

:func:`classify` is the one place that decides it: ``merge``, ``rebase``, ``verify
--only-new`` and both hook strategies all ask it, and :func:`settled_refs` is the one
place that names the refs when none is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migfix.errors import Refusal
from migfix.git import gitops, history, worktree
from migfix.plan.against import ref_files
from migfix.project.model import Project
from migfix.read.gittree import revisions_on
from migfix.read.graph import Graph
from migfix.read.scan import scan_file


@dataclass(frozen=True)
class Newness:
    new: frozenset[str]
    upstream: str | None
    """The ref compared against, or None (no git, or no upstream could be found)."""
    reason: str
    """One sentence saying how ``new`` was decided, for reports."""
    refs: tuple[str, ...] = ()
    """Every named ref whose revisions are settled (``upstream`` is the first)."""
    places: Mapping[str, str] = field(default_factory=dict)
    """For settled revisions: where each is published (a ref), or why it counts as published."""

    def is_new(self, rev: str) -> bool:
        return rev in self.new


def upstream_revisions(
    project: Project, repo: Path, ref: str, graph: Graph | None = None
) -> set[str]:
    """Revision ids declared in the version locations of ``ref``'s tree.

    Given GRAPH (the work tree's), only the files that differ from ``ref`` are read from
    git (``gittree.revisions_on``); the others are the files already read.
    """
    if graph is not None:
        return revisions_on(
            project.version_locations, repo, ref, graph.files, recursive=project.recursive
        )

    return {f.revision for f in ref_files(project, repo, ref, full=False) if f.revision}


def added_against(project: Project, graph: Graph, ref: str) -> frozenset[str]:
    """The revisions of ``graph`` that ``ref``'s tree lacks: what merging this branch adds.

    Not a publication rule (a pushed revision stays published): what ``graph --against``
    draws as this branch's own. Outside git, every revision is this branch's own.
    """
    repo = gitops.find_repo(project.root)
    if repo is None:
        return frozenset(graph.nodes)
    on_ref = upstream_revisions(project, repo, ref, graph)
    return frozenset(r for r in graph.nodes if r not in on_ref)


def settled_refs(repo: Path) -> list[str]:
    """The refs whose revisions are settled when none is configured, by name.

    The branch's own ``@{upstream}`` (``origin/feature`` after ``git push -u``) and the
    repository's default branch (``origin/HEAD``, ``origin/main``, ``origin/master``,
    ``main``, ``master``: the first that exists). Both: the own upstream lacks what was
    merged in from the default branch since, and the default branch lacks what this branch
    already published.
    """

    refs = [r for r in (gitops.branch_upstream(repo), gitops.default_branch(repo)) if r]
    return list(dict.fromkeys(refs))


def classify(
    project: Project,
    graph: Graph,
    *,
    upstream: str | None = None,
    extra_new: Iterable[str] = (),
    cwd: Path | None = None,
) -> Newness:
    """Decide which revisions of ``graph`` are new; every other one is published (settled).

    A revision is published when its file is on a named ref (``--upstream``, else ``[tool.
    migfix] upstream``, else :func:`settled_refs`: the branch's ``@{upstream}`` and the
    default branch), or on any remote-tracking ref of any remote, or on any tag. Where git
    cannot tell (a shallow clone, or a remote without remote-tracking refs), every committed
    revision counts as published unless ``--upstream`` names the ref to compare with.
    ``--new`` makes a revision new whatever git says.
    """
    extra = set(extra_new)
    _refuse_unknown_new(graph, extra)
    repo = gitops.find_repo(cwd or project.root)
    if repo is None:
        reason = (
            "not in a git repository: only the revisions named with --new are treated as new"
            if extra
            else "not in a git repository and no --new given: every revision is settled"
        )
        return Newness(frozenset(extra), None, reason)
    configured = upstream or project.settings.upstream
    refs = [configured] if configured else settled_refs(repo)
    places: dict[str, str] = {}
    for ref in refs:
        # Given the graph, this resolves REF first: a clear error for a ref that does not
        # exist (asking git here as well cost a process per ref).
        for rev in upstream_revisions(project, repo, ref, graph):
            places.setdefault(rev, ref)
    reason = _settle_the_rest(project, repo, graph, refs, places, configured=bool(configured))
    # Uncommitted files need no look of their own: one whose id is not published is new by
    # this rule, and one whose id is published stays settled (rewriting it would change a
    # revision someone may have applied).
    new = {r for r in graph.nodes if r not in places} | extra
    reason += " or named with --new" if extra else ""
    return Newness(
        frozenset(new),
        refs[0] if refs else None,
        reason,
        tuple(refs),
        {r: p for r, p in places.items() if r not in extra},
    )


def _refuse_unknown_new(graph: Graph, extra: Iterable[str]) -> None:
    for rev in extra:
        if rev not in graph.nodes:
            raise Refusal(
                f"--new {rev}: no revision file declares '{rev}'. Give the id of one of this "
                "branch's revisions (see `migfix graph`)."
            )


def _settle_the_rest(
    project: Project,
    repo: Path,
    graph: Graph,
    refs: Sequence[str],
    places: dict[str, str],
    *,
    configured: bool,
) -> str:
    """Add to PLACES the revisions the named REFS lack but that are published all the same
    (on a remote-tracking ref or tag, or committed where git cannot tell); say how new was
    decided."""
    candidates = [r for r in graph.nodes if r not in places]
    remote = history.published_refs(repo)
    blind = None if configured else _cannot_tell(repo, remote)
    if blind is not None or (not refs and not remote):
        # Committed revisions count as published: only files HEAD lacks are new.
        added = worktree.added_paths(repo, list(project.version_locations))
        why = blind or (
            "committed, and no upstream ref was found (no @{upstream}, origin/HEAD, main or master)"
        )
        for rev in candidates:
            if graph.nodes[rev].path not in added:
                places[rev] = why
        return f"new = not committed (every committed revision is settled: {why})"
    named = len(places)
    if candidates and remote:
        _published_elsewhere(project, repo, graph, candidates, remote, places)
    # The remote-tracking refs and tags are named when they settled something.
    elsewhere = ["any remote-tracking ref or tag"] if len(places) > named else []
    return "new = not on " + " nor on ".join([*refs, *elsewhere])


def _cannot_tell(repo: Path, remote: Sequence[str]) -> str | None:
    """Why git cannot tell which commits a remote has, or None when it can."""
    if gitops.is_shallow(repo):
        return (
            "committed in a shallow clone, where git cannot tell which commits the remote has; "
            "pass --new REV for a revision that is not pushed, or --upstream REF"
        )
    if not any(r.startswith("refs/remotes/") for r in remote) and history.has_remote(repo):
        return (
            "committed, and a remote is configured but there are no remote-tracking refs, so "
            "git cannot tell what is pushed (run `git fetch`); pass --new REV for a revision "
            "that is not pushed"
        )
    return None


def _published_elsewhere(
    project: Project,
    repo: Path,
    graph: Graph,
    candidates: Sequence[str],
    remote: Sequence[str],
    places: dict[str, str],
) -> None:
    """Add to PLACES the CANDIDATES whose file is on a remote-tracking ref or a tag.

    Only the candidates are asked about, so the cost hardly grows with the number of remote
    branches: a committed file no unpublished commit changed is published (its content came
    from a commit a remote or a tag holds); the others are looked up at their path in every
    such ref at once, and count when the file there declares the same revision (a squash
    merge or a cherry-pick of a pushed revision).
    """
    # The candidates' own paths when they are few (usually: this branch's new revisions):
    # git then compares a few files, not every file of the version locations.
    paths = [graph.nodes[r].path for r in candidates]
    under = paths if len(paths) <= 64 else list(project.version_locations)
    changed = history.unpublished_paths(repo, under)
    if changed is not None:
        changed |= worktree.uncommitted_paths(repo, under)
    ask = []
    for rev in candidates:
        if changed is not None and graph.nodes[rev].path not in changed:
            places[rev] = _PUSHED_BEFORE
        else:
            ask.append(rev)
    places.update(_refs_holding(repo, graph, ask, remote))


_PUSHED_BEFORE = "a remote-tracking ref or tag (pushed in an earlier commit)"


def _refs_holding(
    repo: Path, graph: Graph, revs: Sequence[str], refs: Sequence[str]
) -> dict[str, str]:
    """For each of REVS whose file is at the same path on one of REFS, declaring the same
    revision, the first such ref (short name). One ``cat-file`` for the lookups, one for the
    contents of the distinct blobs found."""

    ask = {gitops.relative(repo, graph.nodes[r].path): r for r in revs}
    if not ask or not refs:
        return {}
    found = history.blobs_at(repo, refs, list(ask))
    blobs = history.blob_contents(repo, (e.split(" ", 1)[1] for es in found.values() for e in es))
    held: dict[str, str] = {}
    for rel, entries in found.items():
        rev = ask[rel]
        for entry in entries:
            ref, oid = entry.split(" ", 1)
            data = blobs.get(oid)
            if data is not None and scan_file(Path(rel), data, full=False).revision == rev:
                held[rev] = _short(ref)
                break
    return held


def where_published(project: Project, graph: Graph, newness: Newness, revs: Sequence[str]) -> str:
    """Where REVS are published, for a refusal: ref names where git can say (``origin/feature
    or origin/main``), else why they count as published."""
    vague = [r for r in revs if newness.places.get(r) == _PUSHED_BEFORE]
    repo = gitops.find_repo(project.root) if vague else None
    named = _refs_holding(repo, graph, vague, history.published_refs(repo)) if repo else {}
    said = [named.get(r) or newness.places.get(r) for r in revs]
    return " or ".join(dict.fromkeys(p for p in said if p)) or "upstream"


def _short(ref: str) -> str:
    for prefix in ("refs/remotes/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref
