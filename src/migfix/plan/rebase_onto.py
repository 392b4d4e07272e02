"""``migfix rebase --onto REF``, reading REF: this project's graph and REF's (from git objects,
no checkout), the refusals that need git or the project, and the plan of ``migfix.plan.rebase``
with the overlap warnings and the heads lock note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from migfix.errors import Refusal
from migfix.git import gitops, history
from migfix.plan import overlap
from migfix.plan.against import ref_files
from migfix.plan.guards import refuse_broken, refuse_conflicts
from migfix.plan.rebase import RebasePlan, SettledRevisions, plan_rebase
from migfix.plan.settled import classify, where_published
from migfix.project.model import Project, lock_path, relpath
from migfix.read.does_nothing import does_nothing
from migfix.read.graph import Graph, read_graph


def plan_onto(
    project: Project,
    ref: str,
    *,
    drop_merges: bool = False,
    upstream: str | None = None,
    extra_new: Sequence[str] = (),
) -> RebasePlan:
    """Read this project's graph and REF's (from git objects) and plan the rebase.

    Refuses (:class:`SettledRevisions`) a plan that would rewrite or delete a settled
    revision; UPSTREAM and EXTRA_NEW decide which are settled, as for ``migfix merge``.
    """
    repo = gitops.find_repo(project.root)
    if repo is None:
        raise Refusal(
            f"{project.root} is not inside a git repository, and migfix rebase reads {ref} "
            "from git. Run it from the repository's work tree."
        )
    refuse_conflicts(project, repo, rerun=f"migfix rebase --onto {ref}")
    sha = gitops.resolve_ref(repo, ref)
    onto = Graph(
        ref_files(project, repo, sha, on_missing=lambda loc: _refuse_missing(ref, repo, loc)),
        allow_heads=project.settings.allow_heads,
    )
    work = read_graph(project)
    # Before `git merge`, a rebased revision's parent exists only on REF: the planner
    # checks parents against both sides itself.
    refuse_broken(project, work, ignore=("unknown-parent",))
    refuse_broken(project, onto)  # REF's files must load too: the result holds them
    empty = {
        r
        for r, n in work.nodes.items()
        if len(n.down) > 1 and r not in onto.nodes and does_nothing(n.path.read_bytes())
    }
    branch_paths = [n.path for r, n in work.nodes.items() if r not in onto.nodes]
    times = history.first_commit_times(repo, branch_paths)
    plan = plan_rebase(
        work,
        onto,
        ref=ref,
        root=project.root,
        first_commits=times,
        drop_merges=drop_merges,
        empty_merges=empty,
    )
    if plan.changed:
        newness = classify(project, work, upstream=upstream, extra_new=extra_new)
        touched = [m.revision for m in plan.repoints] + [d.revision for d in plan.dropped]
        settled = sorted(r for r in touched if not newness.is_new(r))
        if settled:
            where = where_published(project, work, newness, settled)
            raise _settled_refusal(plan, settled, where)
    return _join_extras(project, repo, ref, work, onto, plan)


def _settled_refusal(plan: RebasePlan, settled: Sequence[str], where: str) -> SettledRevisions:
    one = len(settled) == 1
    ids = ", ".join(settled)
    new = " ".join(f"--new {r}" for r in settled)
    return SettledRevisions(
        f"{ids} {'is' if one else 'are'} settled (on {where}): a database may already have "
        f"applied {'it' if one else 'them'}, and rebasing onto {plan.ref} would rewrite "
        f"{'its' if one else 'their'} down_revision. migfix never rewrites a settled revision; "
        "nothing was written. Use `migfix merge`, which only adds a merge revision over "
        "settled ones, or, if no database has applied "
        f"{'it' if one else 'them'} yet (a pull request still in review), run "
        f"`migfix rebase --onto {plan.ref} {new}`.",
        settled,
    )


def _join_extras(
    project: Project, repo: Path, ref: str, work: Graph, onto: Graph, plan: RebasePlan
) -> RebasePlan:
    """Overlap warnings for the join, and the project, so the heads lock is written too."""
    notes = [
        overlap.NOTE + overlap.message(found)
        for found in overlap.for_rebase(project, repo, ref, work, onto, plan)
    ]
    if project.settings.lock and plan.changed:
        notes.append(f"The heads lock {project.relpath(lock_path(project))} follows the new head.")
    return replace(plan, notes=(*plan.notes, *notes), project=project)


def _refuse_missing(ref: str, repo: Path, loc: Path) -> None:
    raise Refusal(
        f"{ref} has no folder {relpath(loc, repo)} in its tree, which is where this "
        f"project's revision files live, so there is nothing to rebase onto. Check that "
        f"{ref} is the branch you meant, then run `migfix rebase --onto {ref}` again."
    )
