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

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from migfix.errors import Refusal
from migfix.project.config import Project
from migfix.read.graph import Graph


@dataclass(frozen=True)
class Newness:
    new: frozenset[str]
    upstream: str | None
    """The ref compared against, or None (no git, or no upstream could be found)."""
    reason: str
    """One sentence saying how ``new`` was decided, for reports."""
    refs: tuple[str, ...] = ()
    """Every ref whose revisions are settled (``upstream`` is the first)."""

    def is_new(self, rev: str) -> bool:
        return rev in self.new


def upstream_revisions(
    project: Project, repo: Path, ref: str, graph: Graph | None = None
) -> set[str]:
    """Revision ids declared in the version locations of ``ref``'s tree.

    Given GRAPH (the work tree's), only the files that differ from ``ref`` are read from
    git (``blobscan.revisions_on``); the others are the files already read.
    """
    if graph is not None:
        from migfix.read.gittree import revisions_on

        return revisions_on(
            project.version_locations, repo, ref, graph.files, recursive=project.recursive
        )
    from migfix.plan.against import ref_files

    return {f.revision for f in ref_files(project, repo, ref, full=False) if f.revision}


def settled_refs(repo: Path) -> list[str]:
    """The refs whose revisions are settled when none is configured, by name.

    The branch's own ``@{upstream}`` (``origin/feature`` after ``git push -u``) and the
    repository's default branch (``origin/HEAD``, ``origin/main``, ``origin/master``,
    ``main``, ``master``: the first that exists). Both: the own upstream lacks what was
    merged in from the default branch since, and the default branch lacks what this branch
    already published.
    """
    from migfix.git import gitops

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
    """Decide which revisions of ``graph`` are new.

    ``upstream`` (``--upstream``) overrides ``[tool.migfix] upstream``, which overrides
    :func:`settled_refs` (the branch's ``@{upstream}`` plus the default branch).
    """
    extra = set(extra_new)
    for rev in extra:
        if rev not in graph.nodes:
            raise Refusal(
                f"--new {rev}: no revision file declares '{rev}'. Give the id of one of this "
                "branch's revisions (see `migfix graph`)."
            )
    from migfix.git import gitops

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
    if not refs:
        dirty_paths = gitops.uncommitted_paths(repo, list(project.version_locations))
        dirty = {f.revision for f in graph.files if f.revision and f.path in dirty_paths}
        reason = (
            "no upstream ref found (no @{upstream}, origin/HEAD, main or master): "
            "only uncommitted revisions and --new are treated as new"
        )
        return Newness(frozenset(dirty | extra), None, reason)
    on_upstream: set[str] = set()
    for ref in refs:
        # Given the graph, this resolves REF first: a clear error for a ref that does not
        # exist (asking git here as well cost a process per ref).
        on_upstream |= upstream_revisions(project, repo, ref, graph)
    # Uncommitted files need no look of their own: one whose id is not on upstream is
    # new by this rule, and one whose id is on upstream stays settled (rewriting it would
    # change a revision someone may have applied).
    new = {r for r in graph.nodes if r not in on_upstream} | extra
    reason = "new = not on " + " nor on ".join(refs)
    reason += " or named with --new" if extra else ""
    return Newness(frozenset(new), refs[0], reason, tuple(refs))
