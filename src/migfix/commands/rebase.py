"""``migfix rebase``'s work, without click: plan, write under the writer lock, report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from migfix.errors import EXIT_OK, EXIT_PROBLEMS
from migfix.plan import rebase as planning
from migfix.plan.overlap import refuse_if_strict
from migfix.project.config import Project
from migfix.report import formats as report
from migfix.write import txn
from migfix.write.moves import advice

Echo = Callable[[str], None]


@dataclass(frozen=True)
class RebaseOptions:
    """What ``migfix rebase`` was asked (see its ``--help``)."""

    onto: str
    drop_merges: bool = False
    upstream: str | None = None
    new: Sequence[str] = ()
    dry_run: bool = False
    as_json: bool = False
    strict: bool = False


def rebase(
    project: Project,
    options: RebaseOptions,
    *,
    echo: Echo,
    err: Echo,
    verify: Callable[[], int] | None = None,
) -> int:
    """``migfix rebase``: exit 1 if a dry run found changes; VERIFY (``--verify``) runs
    after a real run that changed something and gives the exit code."""
    o = options
    if o.dry_run:
        plan = planning.plan_onto(
            project, o.onto, drop_merges=o.drop_merges, upstream=o.upstream, extra_new=o.new
        )
        if o.as_json:
            echo(report.dumps(plan.to_json()))
        else:
            diff = planning.diff(plan)
            if diff:
                echo(diff.removesuffix("\n"))
            echo(planning.render(plan))
        return EXIT_PROBLEMS if plan.changed else EXIT_OK
    # Planned under the writer lock, so a second run plans on what the first wrote.
    with txn.writer_lock(project.root):
        plan = planning.plan_onto(
            project, o.onto, drop_merges=o.drop_merges, upstream=o.upstream, extra_new=o.new
        )
        refuse_if_strict(o.strict, plan.notes)
        planning.apply(plan)
    echo(report.dumps(plan.to_json()) if o.as_json else planning.render(plan))
    if plan.moves and not o.as_json:
        err(advice([(m.revision, m.old_parents, m.new_parents) for m in plan.moves]))
    if plan.changed and verify is not None:
        return verify()
    return EXIT_OK
