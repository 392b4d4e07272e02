"""The writing commands' work, without click: ``merge``.

The click command (migfix.cli.write) and the hook call it. ECHO prints one line of
output, ERR one line on stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migfix.commands import merge_run as apply
from migfix.errors import EXIT_OK, EXIT_PROBLEMS
from migfix.plan.merge import MergeOptions
from migfix.project.config import Project
from migfix.report import formats as report
from migfix.write.moves import advice

Echo = Callable[[str], None]


def merge(
    project: Project,
    *,
    heads: Sequence[str],
    message: str | None,
    rev_id: str | None,
    branch_label: str | None,
    no_repoint: bool,
    upstream: str | None,
    new: Sequence[str],
    dry_run: bool,
    as_json: bool,
    strict: bool,
    echo: Echo,
    err: Echo,
    verify: Callable[[], int] | None = None,
) -> int:
    """``migfix merge``: exit 1 if a dry run found changes; VERIFY (``--verify``, click only)
    runs after a real run that changed something and gives the exit code."""
    opts = MergeOptions(
        message=message,
        rev_id=rev_id,
        branch_label=branch_label,
        heads=tuple(heads),
        no_repoint=no_repoint,
    )
    result = apply.merge(
        project, opts, upstream=upstream, extra_new=new, dry_run=dry_run, strict=strict
    )
    if as_json:
        echo(report.dumps(result.to_json()))
    else:
        echo(result.text())
        if result.written and result.plan.repoints:
            # A notice, on stderr like the hook's: stdout stays the report scripts read.
            err(advice([(r.revision, r.old, r.new) for r in result.plan.repoints]))
    if result.changed and not dry_run and verify is not None:
        return verify()
    return EXIT_PROBLEMS if (dry_run and result.changed) else EXIT_OK
