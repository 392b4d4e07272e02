"""What a report says about revisions already published: the name of the ref that has them,
and why the hook wrote a merge revision instead of moving them.

Apart from ``migfix.report.next_step`` because it asks git which revisions a ref holds,
which ``check`` (whose footer is in ``next_step``) never needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from migfix.git import gitops
from migfix.plan.settled import upstream_revisions

if TYPE_CHECKING:
    from migfix.plan.merge import MergePlan
    from migfix.read.graph import Graph


def ref_name(repo: Path, sha: str) -> str:
    """A branch or remote branch naming commit SHA (``origin/main``), else SHA itself:
    reports and commit titles read better with a name than with 40 hex digits."""
    proc = gitops.text(repo, "name-rev", "--name-only", "--no-undefined", "--exclude=tags/*", sha)
    name = proc.stdout.strip().removeprefix("remotes/")
    if proc.returncode != 0 or not name or any(c in name for c in "~^"):
        return sha
    return name


def published_note(repo: Path, plan: MergePlan, graph: Graph) -> str | None:
    """Why the hook wrote a merge revision instead of moving this branch's revisions: they
    are on the branch's own upstream already (published), and migfix never rewrites those."""
    refs = plan.newness.refs
    if not plan.merges or len(refs) < 2:
        return None  # one settled ref (the shared branch itself): a merge is the only way

    # classify's refs: the branch's own @{upstream} first, then the default branch.
    upstream, default = refs[0], refs[1]
    shared = upstream_revisions(plan.project, repo, default, graph)
    own = [p for m in plan.merges for p in m.parents if p in graph.nodes and p not in shared]
    if not own:
        return None
    one = len(own) == 1
    return (
        f"wrote a merge revision instead of moving {', '.join(own)}: "
        f"{'it is' if one else 'they are'} on {upstream} already (published), and migfix never "
        f"rewrites a published revision. If nobody has applied {'it' if one else 'them'} yet, "
        f"`migfix merge --upstream {default}` moves {'it' if one else 'them'} instead."
    )
