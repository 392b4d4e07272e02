"""``migfix ci fix``: the click edge of :mod:`migfix.commands.ci_fix`.

Kept out of ``main.py`` like the ``db`` group; ``main`` only adds the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import project
from migfix.cli.options import ALL_KEY, ci_fix_options, project_options
from migfix.commands import ci_fix as fixing


@click.group("ci")
def ci() -> None:
    """Fix a pull request's migrations on the CI server (GitHub Actions, GitLab CI)."""


@ci.command("fix")
@project_options
@ci_fix_options
def ci_fix(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    base: str | None,
    strategy: str,
    branch: str | None,
    remote: str,
    push: bool,
    patch: Path,
    summary: Path | None,
) -> int:
    """Re-root the pull request's revisions onto the base's head and push the fix.

    Only when merging the branch into the base would leave unintended heads or a heads lock
    git would conflict on; then the base is merged into the branch, the branch's own
    revisions are moved (or joined by a merge revision), and one commit is pushed with
    --force-with-lease. A push made meanwhile is never overwritten (exit 1); when it cannot
    push, the fix is written as a patch (exit 1). Nothing to fix: exit 0.
    """
    if click.get_current_context().meta.get(ALL_KEY):
        # One commit and one push per run: several projects would race their own pushes.
        raise click.UsageError(
            "migfix ci fix fixes one project per run; name it with -c (or -d) instead of --all, "
            "and run it once per project."
        )
    chosen = project(config, name, versions, recursive)
    opts = fixing.Options(
        base=base,
        strategy=strategy,
        branch=branch,
        remote=remote,
        push=push,
        patch=patch,
        summary=summary,
    )
    return fixing.fix(chosen, opts, echo=click.echo, err=lambda text: click.echo(text, err=True))
