"""``migfix ci fix``: the click edge of :mod:`migfix.commands.ci_fix`.

Kept out of ``main.py`` like the ``db`` group; ``main`` only adds the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from migfix.cli.every_project import project
from migfix.cli.options import ALL_KEY, ci_fix_options, ci_untouched_options, project_options
from migfix.commands import ci_fix as fixing
from migfix.project.model import Project


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
    chosen = _one_project(config, name, versions, recursive)
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


@ci.command("untouched")
@project_options
@ci_untouched_options
def ci_untouched(
    config: Path | None,
    name: str | None,
    versions: tuple[Path, ...],
    recursive: bool,
    rev: str,
    base: str | None,
    remote: str,
) -> int:
    """Exit 0 when the pull request at REV leaves the migrations untouched.

    Compares REV with where it left the base (git diff BASE...REV): exit 0 when it changes
    nothing in the version locations, the heads lock or the files the project's
    configuration is read from, so `migfix ci fix` has nothing to do for it; exit 1 when
    it does. The GitHub action asks this of every open pull request on a push to the base
    branch, and fixes only those that touch the migrations.
    """
    chosen = _one_project(config, name, versions, recursive)
    opts = fixing.Options(base=base, remote=remote)
    return fixing.untouched(chosen, rev, opts, echo=click.echo)


def _one_project(
    config: Path | None, name: str | None, versions: tuple[Path, ...], recursive: bool
) -> Project:
    if click.get_current_context().meta.get(ALL_KEY):
        # One commit and one push per run: several projects would race their own pushes.
        raise click.UsageError(
            "migfix ci fixes one project per run; name it with -c (or -d) instead of --all, "
            "and run it once per project."
        )
    return project(config, name, versions, recursive)
