"""The next step a report suggests, fitted to where the command runs.

A hint that names a command which would refuse, or say "nothing to do", is worse than
none: each function here picks the step that will work (``merge`` only when nothing
blocks it, ``rebase --onto REF`` when the heads exist only once this branch meets REF)
and spells the command the way the user is running migfix (``flask migfix ...`` inside
Flask).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.git import gitops
from migfix.plan.settled import upstream_revisions
from migfix.read.checks import Problem, blocks_writes

if TYPE_CHECKING:
    from migfix.plan.merge import MergePlan
    from migfix.read.graph import Graph


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_footer(failing: Sequence[Problem], *, against: str | None, prog: str = "migfix") -> str:
    """What to add after ``check``'s summary line when unintended heads make it fail."""
    if not any(p.code == "multiple-heads" for p in failing):
        return ""
    blockers = sorted({p.code for p in failing if blocks_writes(p)})
    if blockers:
        one = len(blockers) == 1
        named = blockers[0] if one else f"{', '.join(blockers[:-1])} and {blockers[-1]}"
        return (
            f"; fix the {named} {'error' if one else 'errors'} above first (`{prog} merge` "
            f"refuses while the graph has {'it' if one else 'them'}), then join the heads"
        )
    if against:
        return (
            f"; the heads appear once this branch meets {against}: run `{prog} rebase --onto "
            f"{against}` (or `git merge {against}`, then `{prog} merge`)"
        )
    return f"; run `{prog} merge` to join the heads"


def prog_name() -> str:
    """``migfix``, or ``flask migfix`` when the command runs inside Flask's command line."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "migfix"
    words = ctx.command_path.split()
    return " ".join(words[:-1]) or "migfix"


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
