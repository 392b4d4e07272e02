"""What the installed git hook does after ``git merge`` / ``git pull`` / ``git rebase``.

post-commit stands in for post-merge when a merge stopped on conflicts: git runs no
post-merge then, and the merge commit is made later by the user's ``git commit``. Its
script starts Python for a merge commit, and from there on it is handled as post-merge:
ORIG_HEAD is still the commit the merge started from (``git merge`` set it; ``git commit``
leaves it alone), and HEAD^2 is what the merge brought in. It also starts Python for a
commit that added files to the version locations recorded in the script: ``git merge
--squash`` + ``git commit`` and ``git cherry-pick`` bring another line of migrations in
with an ordinary commit, and HEAD^..HEAD is what they brought.

A hook must never lose the user's merge: whatever happens here, ``run`` returns 0 and
leaves files untouched on error (migfix.commands.handler's hook policy). This module
decides which commits to look at and whether any changed file may matter
(``migfix.hook.watch``); ``migfix.hook.projects`` finds the projects, ``migfix.hook.fix``
fixes each. The common case (one head, or a merge that did not touch the migrations)
never imports Alembic, libcst or GitPython; a merge that did not touch them costs one
``git diff`` and imports neither of those two modules nor the transaction's.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from pathlib import Path

from migfix.commands import options as declared
from migfix.commands.handler import Policy, handled
from migfix.git import gitops, history, worktree
from migfix.git.gitops import remembering
from migfix.hook.job import Fixing, say, what_ran
from migfix.hook.watch import Watch, may_matter
from migfix.procexit import own_work
from migfix.project.model import Project
from migfix.write import recovery


def run(
    hook_type: str,
    args: Sequence[str],
    *,
    cwd: Path,
    strategy: str | None = None,
    commit: bool | None = None,
    always: bool = False,
    watch: Watch | None = None,
) -> int:
    """Act on what HOOK_TYPE (with git's ARGS) brought in; exits 0 whatever happens, but
    for an interruption, which ``main`` reports."""
    to_sync: list[tuple[Project, Sequence[object]]] = []

    def work() -> int:
        with remembering(), own_work():
            _run(
                hook_type,
                args,
                cwd,
                watch,
                always,
                functools.partial(
                    Fixing, hook_type=hook_type, strategy=strategy, commit=commit, to_sync=to_sync
                ),
            )
        return 0

    handled(work, Policy(say, hook=what_ran(hook_type), passthrough=(KeyboardInterrupt,)))
    # The project's own code (env.py, its migrations) runs after migfix's work, with the
    # garbage collector on (see migfix.procexit).
    if to_sync:
        from migfix.hook.fix import sync_db  # only after a fix ran (see _run)

        for project, moved in to_sync:
            sync_db(project, moved)
    return 0


def _run(
    hook_type: str,
    args: Sequence[str],
    cwd: Path,
    watch: Watch | None,
    always: bool,
    fixing: functools.partial[Fixing],
) -> None:
    # First undo a change a killed migfix left half done (git runs hooks at the top of the
    # work tree, whose git dir holds the journal).
    recovery.recover(cwd)
    if _nothing_to_do(hook_type, args):
        return
    repo = gitops.find_repo(cwd)
    span = _span(repo, hook_type, args) if repo is not None else None
    if repo is None or span is None:
        return
    # The changed paths decide which projects to look at: a merge that touched no migration
    # costs this one `git diff` and never reads a graph. (No base: a root commit; look at all.)
    # The same diff tells which revisions arrived moved; with --always git runs it while
    # the projects and their graphs are read.
    base, new = span
    diff = history.TreeDiff(repo, base, new) if base else None
    try:
        changed = None if always or diff is None else diff.paths()
        if changed is not None:
            changed = [p for p in changed if may_matter(p)]
            if not changed:
                return
        # Only now the modules that find projects, read graphs and fix them: the no-op
        # path above is one `git diff`, and they would double its imports.
        from migfix.hook.fix import fix_each

        side: list[list[str]] = []

        def other_side() -> list[str]:
            # post-rewrite's stdin can be read only once, whatever number of projects.
            if not side:
                side.append(_rebase_candidates(repo, hook_type))
            return side[0]

        fix_each(
            repo,
            cwd,
            watch,
            changed,
            lambda where: fixing(repo=repo, other_side=other_side, diff=diff, where=where),
        )
    finally:
        if diff is not None:
            diff.close()  # never leave git running behind


def _nothing_to_do(hook_type: str, args: Sequence[str]) -> bool:
    """What git's ARGS alone say needs no look."""
    if hook_type == "post-rewrite" and args and args[0] != "rebase":
        return True  # `git commit --amend` rewrites no history worth checking
    # `git merge --squash`: nothing is committed yet; the commit will tell
    return hook_type == "post-merge" and bool(args) and args[0] == "1"


def _span(repo: Path, hook_type: str, args: Sequence[str]) -> tuple[str, str] | None:
    """The commits before and after what the hook's git operation brought in ("" before:
    a root commit); None when there is nothing to look at."""
    base, new = "ORIG_HEAD", "HEAD"
    if hook_type == "post-checkout":
        # git passes the previous HEAD, the new HEAD, and 1 for a branch checkout.
        if len(args) < 3 or args[2] != "1" or args[0] == args[1] or set(args[0]) == {"0"}:
            return None
        base, new = args[0], args[1]
    if hook_type == "post-commit":
        op = worktree.operation_in_progress(repo)
        if op is not None and not (op == "cherry-pick" and worktree.picks_left(repo) == 0):
            # A commit replayed by `git rebase` (post-rewrite runs when it is done), or a
            # cherry-pick with more picks to come: moving HEAD or dirtying the tree under
            # the sequencer would break it. The last pick is the one to act on.
            return None
        if gitops.try_resolve(repo, "HEAD^2") is None:
            # Not a merge: a squash merge or a cherry-pick, which the script let through
            # because the commit added revision files. What it brought is HEAD^..HEAD.
            base = "HEAD^" if gitops.try_resolve(repo, "HEAD^") else ""
    return base, new


def _rebase_candidates(repo: Path, hook_type: str) -> list[str]:
    """The commits to rebase onto, in order of preference (see ``rebase.hook_rebase``).

    First the commit whose history the merge or rebase just brought in: a feature branch
    that merges origin/main puts its own revisions on top of main's (HEAD^2). Then, for a
    merge, the commit the merge started from (HEAD^1): merging a feature INTO main must move
    the feature's revisions, never main's published ones; the settled check in the rebase
    picks whichever moves no settled revision. After a rebase, git lists "old new" pairs on
    stdin; the first new commit's parent is what the branch was replayed onto. After a
    plain commit (a squash merge, a cherry-pick) the commit's parent is the settled side.
    """
    if hook_type in ("post-merge", "post-commit"):
        revs = ["HEAD^2", "HEAD^1"] if gitops.try_resolve(repo, "HEAD^2") else ["HEAD^1"]
    else:
        try:
            first = sys.stdin.readline().split() if not sys.stdin.isatty() else []
        except (OSError, ValueError):
            first = []
        if len(first) >= 2:
            revs = [f"{first[1]}^"]
        else:
            # No "<old> <new>" lines: pre-commit runs its hooks without git's stdin. The
            # rebase's start is in the reflog, where it checked out what it replayed onto.
            onto = _rebase_start(repo)
            if onto is None:
                return []
            revs = [onto]
    return [sha for sha in (gitops.try_resolve(repo, rev) for rev in revs) if sha]


def _rebase_start(repo: Path) -> str | None:
    """The commit the newest rebase started from ("rebase (start): checkout X", also
    "pull --rebase (start)"), from HEAD's reflog; None when no rebase is recorded there."""
    proc = gitops.text(repo, "reflog", "-n", "200", "--format=%H %gs", "HEAD")
    for line in proc.stdout.splitlines():
        sha, _, subject = line.partition(" ")
        if " (start): checkout " in subject:
            return sha
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m migfix.hookrun HOOK [options] -- ARGS``: what the installed hook calls.

    It reads its fixed arguments (``hook_run_argv``'s) from the declarations
    ``migfix hook run`` is built from, without click: importing click alone costs more
    than the whole no-op path (one head) is allowed to take.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    git_args: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, git_args = args[:cut], args[cut + 1 :]
    hook_type = args.pop(0) if args else ""
    values, unknown = declared.parse(declared.HOOK_RUN, args)
    for opt in unknown:
        say(f"ignoring unknown hook option {opt!r} (reinstall with `migfix hook install`).")
    strategy = values.get("strategy")
    if hook_type not in declared.HOOK_TYPES or strategy not in (None, *declared.STRATEGIES):
        say(f"unknown hook {hook_type!r} or strategy {strategy!r}; nothing done.")
        return 0
    chosen = {opt.dest: values[opt.dest] for opt in declared.WATCH if opt.dest in values}
    return handled(
        lambda: run(
            hook_type,
            git_args,
            cwd=Path.cwd(),
            strategy=strategy,
            commit=values.get("commit"),
            always=bool(values.get("always")),
            watch=Watch(**chosen) if chosen else None,
        ),
        Policy(say),
    )
