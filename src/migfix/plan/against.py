"""``migfix check --against REF``: the graph that merging this branch into REF would give.

REF's revision files are read from git objects (no checkout); this branch contributes
the revisions of its work tree whose ids REF does not have. A pull request that adds a
migration on an outdated parent is flagged before it is merged, not after.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from migfix.errors import GitError, Refusal
from migfix.git import gitops, remotes
from migfix.project.model import Project
from migfix.read.gittree import tree_files
from migfix.read.graph import Graph, read_graph
from migfix.read.revision_file import RevisionFile


def ref_files(
    project: Project,
    repo: Path,
    ref: str,
    *,
    on_missing: Callable[[Path], None] | None = None,
    full: bool = True,
) -> list[RevisionFile]:
    """The revision files of the project's version locations as REF's tree has them, read
    from git objects (no checkout). A location REF has no folder for is skipped, after
    ON_MISSING (which may refuse) is called with it.

    What ``check --against``, merge's settled revisions and ``rebase --onto`` all read.
    ``full=False`` skips compiling each file (enough when only the ids matter).
    """

    # Listed with `git ls-tree`; blobs already scanned on this machine are not read again.
    sha = gitops.resolve_ref(repo, ref)
    return tree_files(
        list(project.version_locations),
        repo,
        sha,
        ref=ref,
        recursive=project.recursive,
        on_missing=on_missing,
        full=full,
    )


def current_ref(project: Project, ref: str, *, fetch: bool = False) -> str | None:
    """Make sure REF (``--onto`` / ``--against``) is current: with FETCH, fetch the remote
    branch it names; else return a warning when it may be stale (a "Nothing to do" against a
    remote that moved since the last fetch is no answer). None when there is nothing to say.
    """
    repo = gitops.find_repo(project.root)
    if repo is None:
        return None
    if fetch:
        if not remotes.fetch_remote_ref(repo, ref):
            raise Refusal(
                f"--fetch fetches a remote branch such as origin/main, and {ref} is not one. "
                "Fetch it your own way, or name the remote branch."
            )
        return None
    return remotes.stale_remote_ref(repo, ref)


def graph_against(project: Project, ref: str) -> Graph:
    repo = gitops.find_repo(project.root)
    if repo is None:
        raise GitError(f"--against {ref} needs a git repository, and {project.root} is not in one.")
    gitops.resolve_ref(repo, ref)
    theirs = ref_files(project, repo, ref)
    their_ids = {f.revision for f in theirs if f.revision}
    ours = read_graph(project)
    mine = [f for f in ours.files if f.revision not in their_ids]
    return Graph([*theirs, *mine], allow_heads=project.settings.allow_heads, root=project.root)
