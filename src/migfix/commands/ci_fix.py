"""``migfix ci fix``: fix a pull request's migrations on the server and push the fix back.

The CI wrappers (the GitHub action, the GitLab template) only call this. In the checked-out
pull request: fetch the base branch; when merging the branch into it would leave unintended
heads (or a heads lock that git would conflict on, or that would be stale), merge the base
into the branch, re-root the branch's own revisions onto the base's head (``rebase``, or a
merge revision with ``strategy="merge"``) and the heads lock with them, commit that as one
commit and push it with ``--force-with-lease`` semantics. The branch's own revisions are
named as movable (the user asked for the move by installing the fix); the base's revisions
are never touched, and that is checked against git before the commit is made.

When the push is refused because someone pushed meanwhile, nothing is overwritten: it says
so and stops. When it cannot push at all (a fork, a protected branch, no token), the fix is
written as a patch that ``git apply`` takes, and the job summary says how to use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migfix.commands.merge import run_merge
from migfix.commands.rebase import text, write_rebase
from migfix.errors import EXIT_OK, EXIT_PROBLEMS, MigfixError, Refusal
from migfix.git import commits, gitops, history, worktree
from migfix.plan import heads_lock
from migfix.plan.against import graph_against, ref_files
from migfix.plan.merge import MergeOptions
from migfix.plan.rebase_onto import plan_onto
from migfix.project.model import Project, lock_path, relpath
from migfix.project.settings import STRATEGIES
from migfix.read.graph import Graph, read_graph
from migfix.report import diagram
from migfix.write import heads_lock_files
from migfix.write.fileio import atomic_write
from migfix.write.moves import advice

Echo = Callable[[str], None]

BY = "migfix ci fix"
# Where CI services put the pull request's branches (GitHub Actions, GitLab CI).
_BASE_ENV = ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
_BRANCH_ENV = ("GITHUB_HEAD_REF", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")


class CannotFix(MigfixError):
    """The pull request needs a fix that this run could not deliver (exit 1, not a usage
    error): a push raced in, the branch cannot be pushed to, or the base will not merge."""

    exit_code = EXIT_PROBLEMS


@dataclass
class Options:
    base: str | None = None
    strategy: str = "rebase"
    branch: str | None = None
    remote: str = "origin"
    push: bool = True
    patch: Path = Path("migfix-fix.patch")
    summary: Path | None = None


@dataclass
class _Run:
    """What one run found and did, for the report and the job summary."""

    project: Project
    base: str
    branch: str
    own: tuple[str, ...]
    before: Graph
    lines: list[str] = field(default_factory=list)
    moved: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    merge_revisions: tuple[str, ...] = ()
    written: list[Path] = field(default_factory=list)
    """Every file the fix wrote or deleted: only these are staged with the base's merge (a
    stray ``__pycache__`` from an earlier step of the job is not committed)."""
    after: Graph | None = None


def _from_env(names: Sequence[str]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _base_ref(opts: Options) -> str:
    if opts.base:
        return opts.base
    name = _from_env(_BASE_ENV)
    if name is None:
        raise Refusal(
            "migfix ci fix needs the branch the pull request merges into: give "
            "`--base origin/main` (in GitHub Actions and GitLab merge request pipelines it is "
            "read from GITHUB_BASE_REF / CI_MERGE_REQUEST_TARGET_BRANCH_NAME)."
        )
    return f"{opts.remote}/{name}"


def _branch(repo: Path, opts: Options) -> str:
    name = opts.branch or _from_env(_BRANCH_ENV) or commits.current_branch(repo)
    if not name:
        raise Refusal(
            "migfix ci fix pushes its fix to the pull request's branch, and HEAD is detached: "
            "give `--branch NAME` (in GitHub Actions and GitLab merge request pipelines it is "
            "read from GITHUB_HEAD_REF / CI_MERGE_REQUEST_SOURCE_BRANCH_NAME)."
        )
    return name


def fix(project: Project, opts: Options, *, echo: Echo, err: Echo) -> int:
    """Run ``migfix ci fix``; see the module docstring. Exit 0 when nothing needed fixing
    or the fix was pushed; :class:`CannotFix` (exit 1) when it was needed and not pushed."""
    if opts.strategy not in STRATEGIES:
        raise Refusal(f"--strategy {opts.strategy}: use rebase or merge.")
    repo = _repo(project)
    base = _base_ref(opts)
    branch = _branch(repo, opts)
    if base.startswith(f"{opts.remote}/"):
        commits.fetch_branch(repo, opts.remote, base[len(opts.remote) + 1 :])
    gitops.resolve_ref(repo, base)
    tip = gitops.resolve_ref(repo, "HEAD")
    _refuse_uncommitted(project, repo)
    before = graph_against(project, base)
    base_files = ref_files(project, repo, base, full=False)
    base_ids = {f.revision for f in base_files if f.revision}
    own = tuple(r for r in before.topological_order() if r not in base_ids)
    lock_trouble = _lock_trouble(project, repo, base, before)
    if not own and lock_trouble is None:
        echo(f"Nothing to fix: {branch} adds no revisions that {base} lacks.")
        return EXIT_OK
    if not before.unintended_heads() and lock_trouble is None:
        echo(f"Nothing to fix: merging {branch} into {base} leaves one head per branch label.")
        return EXIT_OK
    if opts.push:
        _refuse_behind(repo, opts.remote, branch, tip)
    run = _Run(project, base, branch, own, before)
    if lock_trouble:
        run.lines.append(lock_trouble)
    merging = not history.is_ancestor(repo, base, "HEAD")
    try:
        _apply_fix(run, repo, opts, merging=merging)
        _refuse_if_base_touched(run, repo, {f.path for f in base_files})
    except BaseException:
        if merging:
            commits.abort_merge(repo)  # the checkout as it was: files and git state
        raise
    commits.commit(repo, run.written, _commit_message(run))
    run.after = read_graph(project)
    return _deliver(run, repo, tip, opts, echo=echo, err=err)


def untouched(project: Project, rev: str, opts: Options, *, echo: Echo) -> int:
    """``migfix ci untouched REV``: exit 0 when the pull request at REV changes nothing in
    the project's version locations, heads lock or configuration files since it left the
    base (so ``fix`` would have nothing to do and need not check it out), 1 when it changes
    something there. A configuration change alone can change the heads (a version location
    added) or what is allowed of them (allow_heads, lock).

    On a push to the base branch the action asks this of every open pull request: only
    those that touch the migrations are checked out and fixed. Reads git only.
    """
    repo = _repo(project)
    base = _base_ref(opts)
    if base.startswith(f"{opts.remote}/"):
        commits.fetch_branch(repo, opts.remote, base[len(opts.remote) + 1 :])
    gitops.resolve_ref(repo, base)
    gitops.resolve_ref(repo, rev)
    # What the pull request changed is the diff from where it left the base (git diff
    # BASE...REV), not from the base's tip, whose own new migrations are not the pull
    # request's.
    common = commits.merge_base(repo, base, rev)
    if common is None:
        raise Refusal(
            f"{rev} and {base} share no commit, so what {rev} changes cannot be told; "
            f"fetch their whole history (`git fetch --unshallow`) and run it again."
        )
    # A config outside the repository (-c elsewhere) is no pull request's change.
    configs = [p for p in project.config_files if p.resolve().is_relative_to(repo.resolve())]
    watched = [*_touched_paths(project), *configs]
    names = gitops.pathspecs(repo, watched)
    where = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    if history.changed_between(repo, common, rev, watched):
        echo(f"{rev} changes {where} since {base}: `{BY}` has to look at it.")
        return EXIT_PROBLEMS
    echo(f"{rev} changes nothing in {where} since {base}.")
    return EXIT_OK


def _repo(project: Project) -> Path:
    repo = gitops.find_repo(project.root)
    if repo is None:
        raise Refusal(
            f"{project.root} is not inside a git repository; migfix ci runs in the "
            "pull request's checkout."
        )
    return repo


def _refuse_uncommitted(project: Project, repo: Path) -> None:
    dirty = worktree.uncommitted_paths(repo, _touched_paths(project))
    if dirty:
        names = ", ".join(sorted(relpath(p, repo) for p in dirty))
        raise Refusal(
            f"migfix ci fix commits what it changes, and the migrations have uncommitted "
            f"changes ({names}). Commit or stash them, then run it again."
        )


def _refuse_behind(repo: Path, remote: str, branch: str, tip: str) -> None:
    """Stop before any work when the branch on the server is not the checked-out commit:
    the push would have to overwrite it. (A push landing during the run is caught by the
    push's lease.)"""
    now = commits.remote_branch_sha(repo, remote, branch)
    if now is not None and now != tip:
        raise CannotFix(
            f"{remote}/{branch} is at {now[:12]}, not at the checked-out commit {tip[:12]}, so "
            "a fix made here could only be pushed by overwriting it; nothing was changed. If "
            "someone pushed since this job started, the run for that push fixes it; otherwise "
            "check out the branch's tip (not a merge result) and run again."
        )


def _lock_trouble(project: Project, repo: Path, base: str, merged: Graph) -> str | None:
    """Why the heads lock needs this fix, or None: git would conflict on it when merging,
    or the lock the merge gives would not match the merged graph."""
    if not heads_lock.enabled(project):
        return None
    path = lock_path(project)
    rel = project.relpath(path)
    common = commits.merge_base(repo, base, "HEAD")
    ours = commits.blob_at(repo, "HEAD", path)
    theirs = commits.blob_at(repo, base, path)
    old = commits.blob_at(repo, common, path) if common else None
    if theirs in (old, ours):
        result = ours
    elif ours == old:
        result = theirs
    else:
        return f"Both {base} and this branch changed the heads lock {rel}: git would conflict."
    if result != heads_lock.render(merged):
        return f"The heads lock {rel} would not match the merged graph."
    return None


def _apply_fix(run: _Run, repo: Path, opts: Options, *, merging: bool) -> None:
    """Merge the base into the branch (unless it is in already), then rebase or merge the
    migrations and update the heads lock; the work tree holds the result, uncommitted."""
    project = run.project
    if merging:
        lock = lock_path(project)
        conflicted = commits.start_merge(repo, run.base)
        others = [p for p in conflicted if p != lock]
        if others:
            names = ", ".join(relpath(p, repo) for p in others)
            raise CannotFix(
                f"Merging {run.base} into {run.branch} conflicts outside the migrations "
                f"({names}), so migfix ci fix cannot fix the migrations on its own. Merge "
                f"{run.base} into {run.branch} by hand, then run `migfix rebase --onto "
                f"{run.base}` (or let this job run again)."
            )
        if lock in conflicted:
            commits.take_theirs(repo, lock)  # rewritten below from the merged graph
        run.lines.append(f"Merged {run.base} into {run.branch}.")
    if opts.strategy == "rebase":
        _rebase(run)
    else:
        _merge(run)
    lock_written = heads_lock_files.update(project) if heads_lock.enabled(project) else None
    if lock_written is not None:
        run.written.append(lock_written)
        rel = project.relpath(lock_path(project))
        run.lines.append(f"Updated the heads lock {rel}.")


def _rebase(run: _Run) -> None:
    # The branch's own revisions are movable by request: they are named, not left to the
    # settled rule (they are on the branch's upstream, so it would call them published).
    plan = plan_onto(run.project, run.base, upstream=run.base, extra_new=run.own)
    if not plan.changed:
        return
    run.written += write_rebase(plan, by=BY)
    run.moved = [(m.revision, m.old, m.new) for m in plan.repoints]
    run.lines.append(text(plan))


def _merge(run: _Run) -> None:
    outcome = run_merge(run.project, MergeOptions(no_repoint=True), upstream=run.base, by=BY)
    if outcome.changed:
        run.written += outcome.written
        run.merge_revisions = tuple(m.revision for m in outcome.plan.merges)
        run.lines.append(outcome.text(review=False))


def _touched_paths(project: Project) -> list[Path]:
    paths = list(project.version_locations)
    if heads_lock.enabled(project):
        paths.append(lock_path(project))
    return paths


def _refuse_if_base_touched(run: _Run, repo: Path, base_paths: set[Path]) -> None:
    """The last guard before the commit: the fix wrote or deleted none of the base's revision
    files (a planner bug would otherwise reach the server). The commit is git's merge plus
    exactly ``run.written``, so this is all it can change; a file the pull request itself
    edited (an old revision's comment) is the author's change, kept as git merged it."""
    ours = {p.resolve() for p in base_paths}
    bad = sorted(p for p in run.written if p.resolve() in ours)
    if bad:  # pragma: no cover - would be a planner bug
        names = ", ".join(relpath(p, repo) for p in bad)
        raise Refusal(
            f"migfix ci fix would change {names}, which {run.base} holds; nothing was "
            "pushed. Please report this."
        )


def _commit_message(run: _Run) -> str:
    if run.moved:
        title = f"Rebase migrations onto {run.base}: " + ", ".join(
            f"{r} ({_ids(old)} -> {_ids(new)})" for r, old, new in run.moved
        )
    elif run.merge_revisions:
        title = f"Merge migration heads of {run.base} and {run.branch}: " + ", ".join(
            run.merge_revisions
        )
    else:
        title = f"Update the heads lock for {run.base}"
    body = "\n".join(run.lines)
    if run.moved:
        body += "\n\n" + advice(run.moved)
    return f"{title}\n\nMade by `{BY}`.\n{body}\n"


def _ids(revs: Sequence[str]) -> str:
    return ", ".join(revs) if revs else "<base>"


def _deliver(run: _Run, repo: Path, tip: str, opts: Options, *, echo: Echo, err: Echo) -> int:
    """Push the fix commit, or say why not and leave a patch."""
    report = "\n".join(run.lines)
    why = "not asked to push (--no-push)"
    if opts.push:
        failure = commits.push_with_lease(repo, opts.remote, run.branch, tip)
        if failure is None:
            echo(report)
            echo(f"Pushed the fix to {opts.remote}/{run.branch}.")
            if run.moved:
                err(advice(run.moved))
            _summary(run, opts, pushed=True)
            return EXIT_OK
        now = commits.remote_branch_sha(repo, opts.remote, run.branch)
        if now is not None and now != tip:
            _summary(run, opts, raced=now)
            raise CannotFix(
                f"{opts.remote}/{run.branch} moved while migfix fixed it (it is at {now[:12]} "
                f"now, the fix was made on {tip[:12]}), so nothing was pushed: a push made "
                "meanwhile is never overwritten. The run for that newer push fixes it."
            )
        why = f"the push was refused: {failure}"
    patch = opts.patch if opts.patch.is_absolute() else Path.cwd() / opts.patch

    atomic_write(patch, commits.binary_diff(repo, tip, "HEAD"))
    echo(report)
    _summary(run, opts, patch=patch)
    raise CannotFix(
        f"{run.branch} needs this fix and migfix could not push it ({why}). The fix is in "
        f"{patch}: on {run.branch} at {tip[:12]}, run `git apply {patch.name}` and commit "
        f"it, or run `git merge {run.base}` and `migfix rebase --onto {run.base}` yourself."
    )


# -- the job summary (Markdown: GitHub renders its Mermaid blocks) -----------------------------


def _picture(graph: Graph, new: Sequence[str]) -> str:
    pic = diagram.build(graph, frozenset(new), near=3)
    return "```mermaid\n" + diagram.mermaid(pic).rstrip("\n") + "\n```"


def _summary(
    run: _Run,
    opts: Options,
    *,
    pushed: bool = False,
    raced: str | None = None,
    patch: Path | None = None,
) -> None:
    if opts.summary is None:
        return
    if pushed:
        head = f"### migfix: fixed the migrations of {run.branch} for {run.base}"
    elif raced:
        head = f"### migfix: {run.branch} moved meanwhile; nothing was pushed"
    else:
        head = f"### migfix: {run.branch} needs a migration fix this run could not push"
    parts = [head, "", "```", "\n".join(run.lines), "```", ""]
    if run.moved:
        parts += [advice(run.moved), ""]
    parts += [f"Before (merging {run.branch} into {run.base}):", "", _picture(run.before, run.own)]
    if run.after is not None:
        new = [r for r in run.after.nodes if r not in _settled(run)]
        parts += ["", "After:", "", _picture(run.after, new)]
    if patch is not None:
        parts += [
            "",
            f"To fix it, on {run.branch} run `git apply {patch.name}` with the patch this "
            f"job saved ({patch}) and commit, or run `git merge {run.base}` and "
            f"`migfix rebase --onto {run.base}`.",
        ]
    with opts.summary.open("a", encoding="utf-8") as out:
        out.write("\n".join(parts) + "\n")


def _settled(run: _Run) -> set[str]:
    return {r for r in run.before.nodes if r not in run.own}
