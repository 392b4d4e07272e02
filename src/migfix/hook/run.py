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
leaves files untouched on error. The common case (one head, or a merge that did not
touch the migrations) must cost almost nothing, so this module imports only the
static reader until it knows there is work to do.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from migfix.errors import GitError, MigfixError
from migfix.git import commits, gitops, history

if TYPE_CHECKING:
    from migfix.project.config import Project
    from migfix.project.discover import Entry
    from migfix.read.graph import Graph

# As in migfix.hook.install, which is not imported here to keep the hook's start-up short.
_HOOK_TYPES = ("post-merge", "post-rewrite", "post-commit", "post-checkout")


class Watch(NamedTuple):
    """The project chosen with ``hook install -c/-n/-d``, recorded in the hook script.

    Paths are relative to the work tree root (where git runs hooks), so the same script
    serves every linked worktree.
    """

    config: str | None = None
    name: str | None = None
    directory: str | None = None

    def label(self) -> str:
        where = self.config or self.directory or "."
        return where if not self.name else f"{where} [{self.name}]"

    def args(self) -> tuple[str, ...]:
        """The hook run options that record this choice."""
        out: list[str] = []
        for key in ("config", "name", "directory"):
            value = getattr(self, key)
            if value is not None:
                out += [f"--{key}", value]
        return tuple(out)

    @classmethod
    def from_options(cls, options: Sequence[str]) -> Watch | None:
        """The choice recorded among a hook script's options, if any."""
        chosen: dict[str, str] = {}
        rest = list(options)
        while rest:
            opt = rest.pop(0)
            if opt in ("--config", "--name", "--directory") and rest:
                chosen[opt[2:]] = rest.pop(0)
        return cls(**chosen) if chosen else None

    @classmethod
    def choose(
        cls, cwd: Path, config: Path | None, name: str | None, directory: Path | None
    ) -> Watch | None:
        """``hook install -c/-n/-d`` given in CWD: check the project loads, record it."""
        from migfix.project.config import find_project

        if config is None and name is None and directory is None:
            return None
        find_project(cwd, config=config, name=name or "alembic", directory=directory)
        repo = gitops.find_repo(cwd) or cwd

        def rel(path: Path | None) -> str | None:
            if path is None:
                return None
            full = (cwd / path).absolute()
            return full.relative_to(repo).as_posix() if full.is_relative_to(repo) else str(full)

        return cls(rel(config), name, rel(directory))


def watch_report(repo: Path, watch: Watch | None) -> list[dict[str, str | None]]:
    """The projects the hook watches in REPO: label, config (relative to REPO), error."""
    from migfix.project.config import relpath

    out: list[dict[str, str | None]] = []
    for e in watched(repo, repo, watch, None):
        config = e.config
        if e.project is not None:
            config = e.project.config_file or e.project.toml_file or e.config
        out.append(
            {
                "project": e.label,
                "config": relpath(config, repo),
                "section": e.section,
                "error": e.error.message if e.error is not None else None,
            }
        )
    return out


def watch_lines(repo: Path, watch: Watch | None) -> list[str]:
    """What ``hook install`` / ``hook status`` say about the projects the hook watches."""
    report = watch_report(repo, watch)
    if not report:
        return [
            "no Alembic project found in this repository: the hooks act once there is one, "
            "or install them with -c path/to/alembic.ini"
        ]
    lines = []
    for r in report:
        name = f"{r['config']}" + (f" [{r['section']}]" if r["section"] != "alembic" else "")
        if r["error"] is None:
            lines.append(f"watches {name}")
        else:
            lines.append(f"cannot read {name}: {r['error']}")
    return lines


def _say(text: str) -> None:
    for line in text.splitlines():
        print(f"migfix: {line}" if line else "migfix:", file=sys.stderr)


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
    from migfix.procexit import own_work

    to_sync: list[tuple[Project, Sequence[object]]] = []
    try:
        with gitops.remembering(), own_work():
            _run(
                hook_type,
                args,
                cwd=cwd,
                strategy=strategy,
                commit=commit,
                always=always,
                watch=watch,
                to_sync=to_sync,
            )
    except MigfixError as exc:
        _say(
            f"could not fix the migration heads automatically: {exc.message}\n"
            f"Your {_what(hook_type)} is complete and no file was changed; run `migfix check` "
            "and `migfix merge` by hand."
        )
    except OSError as exc:
        from migfix.report.oserrors import describe

        _say(
            f"could not fix the migration heads automatically: {describe(exc)}\n"
            f"Your {_what(hook_type)} is complete; run `migfix merge` by hand once it is fixed."
        )
    except Exception as exc:  # a hook must never break the user's merge
        _say(
            f"internal error ({type(exc).__name__}: {exc}); your {_what(hook_type)} is complete "
            "and no file was changed. Run `migfix merge` by hand, and please report this."
        )
    # The project's own code (env.py, its migrations) runs after migfix's work, with the
    # garbage collector on (see migfix.procexit).
    for project, moved in to_sync:
        _sync_db(project, moved)
    return 0


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


def _what(hook_type: str) -> str:
    return {"post-rewrite": "rebase", "post-checkout": "checkout"}.get(hook_type, "merge")


def _run(
    hook_type: str,
    args: Sequence[str],
    *,
    cwd: Path,
    strategy: str | None,
    commit: bool | None,
    always: bool,
    watch: Watch | None = None,
    to_sync: list[tuple[Project, Sequence[object]]],
) -> None:
    from migfix.write import txn

    # First undo a change a killed migfix left half done (git runs hooks at the top of the
    # work tree, whose git dir holds the journal).
    txn.recover(cwd)
    if hook_type == "post-rewrite" and args and args[0] != "rebase":
        return  # `git commit --amend` rewrites no history worth checking
    if hook_type == "post-merge" and args and args[0] == "1":
        return  # `git merge --squash`: nothing is committed yet; the commit will tell
    repo = gitops.find_repo(cwd)
    if repo is None:
        return
    base, new = "ORIG_HEAD", "HEAD"
    if hook_type == "post-checkout":
        # git passes the previous HEAD, the new HEAD, and 1 for a branch checkout.
        if len(args) < 3 or args[2] != "1" or args[0] == args[1] or set(args[0]) == {"0"}:
            return
        base, new = args[0], args[1]
    if hook_type == "post-commit":
        op = gitops.operation_in_progress(repo)
        if op is not None and not (op == "cherry-pick" and gitops.picks_left(repo) == 0):
            # A commit replayed by `git rebase` (post-rewrite runs when it is done), or a
            # cherry-pick with more picks to come: moving HEAD or dirtying the tree under
            # the sequencer would break it. The last pick is the one to act on.
            return
        if gitops.try_resolve(repo, "HEAD^2") is None:
            # Not a merge: a squash merge or a cherry-pick, which the script let through
            # because the commit added revision files. What it brought is HEAD^..HEAD.
            base = "HEAD^" if gitops.try_resolve(repo, "HEAD^") else ""
    # The changed paths decide which projects to look at: a merge that touched no migration
    # costs this one `git diff` and never reads a graph. (No base: a root commit; look at all.)
    # The same diff tells which revisions arrived moved; with --always git runs it while
    # the projects and their graphs are read.
    diff = history.TreeDiff(repo, base, new) if base else None
    changed = None if always or diff is None else diff.paths()
    if changed is not None:
        changed = [p for p in changed if _may_matter(p)]
        if not changed:
            return
    entries = _watched(repo, cwd, watch, changed)
    first = next(entries, None)
    if first is None:
        if diff is not None:
            diff.close()  # never leave git running behind
        return
    side: list[list[str]] = []

    def other_side() -> list[str]:
        # post-rewrite's stdin can be read only once, whatever number of projects.
        if not side:
            side.append(_rebase_candidates(repo, hook_type))
        return side[0]

    for entry in itertools.chain([first], entries):
        where = "" if entry.label == "." else f"in {entry.label}: "
        try:
            if entry.error is not None:
                raise entry.error
            assert entry.project is not None
            _fix(repo, entry.project, hook_type, strategy, commit, other_side, where, diff, to_sync)
        except MigfixError as exc:
            _say(
                f"{where}could not fix the migration heads automatically: {exc.message}\n"
                f"Your {_what(hook_type)} is complete and no file was changed; run "
                "`migfix check` and `migfix merge` by hand."
            )
    if diff is not None:
        diff.close()


def _may_matter(path: Path) -> bool:
    """Whether a changed file can be a revision file or an Alembic config.

    Every revision file assigns ``down_revision``; reading the few changed .py files is far
    cheaper than importing the config reader, so a merge of application code stays
    at one ``git diff``.
    """
    if path.name in ("alembic.ini", "pyproject.toml", "heads.lock"):
        return True
    if path.suffix != ".py":
        return False
    try:
        return b"down_revision" in path.read_bytes()
    except OSError:
        return True  # deleted (or unreadable): the project decides


def watched(
    repo: Path, cwd: Path, watch: Watch | None, changed: Sequence[Path] | None
) -> list[Entry]:
    """The projects the hook acts on: those CHANGED touched (every one when None), from
    the project at or above CWD, the one recorded by ``hook install -c/-n/-d`` (WATCH) and
    discovery."""
    return list(_watched(repo, cwd, watch, changed))


def _watched(
    repo: Path, cwd: Path, watch: Watch | None, changed: Sequence[Path] | None
) -> Iterator[Entry]:
    """``watched``, one project at a time: with CHANGED None, git lists the repository's
    configs for discovery while the hook fixes the projects found first."""
    from migfix.errors import ConfigError
    from migfix.project import discover
    from migfix.project.config import find_project

    later = discover.discover_later(repo) if changed is None else None
    entries: list[Entry] = []
    if watch is not None:
        label, section = watch.label(), watch.name or "alembic"
        config = repo / (watch.config or watch.directory or ".")
        try:
            found = find_project(
                repo,
                config=repo / watch.config if watch.config else None,
                name=section,
                directory=repo / watch.directory if watch.directory else None,
            )
            entries.append(discover.Entry(label, config, section, found))
        except MigfixError as exc:
            entries.append(discover.Entry(label, config, section, None, exc))
    try:
        here = find_project(cwd)
        config = here.config_file or here.toml_file or cwd
        entries.append(discover.Entry(discover.label_of(here.root, repo), config, "alembic", here))
    except ConfigError:
        pass  # nothing here, or unreadable: discovery below reports what the merge touched
    rest = discover.touched(repo, changed) if changed is not None else None
    seen: set[tuple[Path, ...]] = set()
    for e in itertools.chain(entries, rest if rest is not None else _call(later)):
        if e.project is not None:
            if e.project.version_locations in seen:
                continue
            seen.add(e.project.version_locations)
        if changed is None or discover.owns(e, changed):
            yield e


def _call(later: Callable[[], list[Entry]] | None) -> Iterator[Entry]:
    """The entries LATER gives, asked for only when the ones before are done."""
    if later is not None:
        yield from later()


def _fix(
    repo: Path,
    project: Project,
    hook_type: str,
    strategy: str | None,
    commit: bool | None,
    other_side: Callable[[], list[str]],
    where: str,
    diff: history.TreeDiff | None,
    to_sync: list[tuple[Project, Sequence[object]]],
) -> None:
    """Fix one project's heads after a merge or rebase, if it has several; the revisions
    a database may have to run again go to TO_SYNC (see ``_sync_db``).

    First, tell of revisions that arrived with other parents than they had before (DIFF:
    between the commits before and after): a database that ran them is now out of step."""
    from migfix.read.graph import checked, read_graph
    from migfix.write import moves

    def arrivals() -> list[moves.Move]:
        arrived = moves.record(
            repo,
            moves.moves_in(repo, diff, list(project.version_locations)) if diff is not None else [],
            f"git {_what(hook_type)} ({hook_type} hook)",
        )
        if arrived:
            _say(where + moves.advice([(m.revision, m.old, m.new) for m in arrived]))
        return arrived

    if hook_type == "post-checkout":
        to_sync.append((project, arrivals()))
        return

    # One head and no lock to refresh (the usual case) needs no compile of changed files;
    # writing anything does: never act on a graph Alembic would not load.
    full = bool(project.settings.lock)
    # Read first, while git may still be comparing the trees; nothing is said before.
    graph = read_graph(project, full=full)
    arrived = arrivals()
    if not full and graph.head_groups():
        graph = checked(graph)
    if not graph.head_groups():
        if project.settings.lock:
            _refresh_lock(repo, project, graph, commit)
        to_sync.append((project, arrived))
        return
    mark = len(moves.read(repo)[0])
    chosen = strategy or project.settings.strategy
    do_commit = project.settings.commit if commit is None else commit
    heads = ", ".join(graph.unintended_heads())
    _say(
        f"{where}the {_what(hook_type)} left several migration heads ({heads}); "
        f"fixing with `{chosen}`."
    )
    # Files with uncommitted work of the user's (an untracked migration still being written)
    # are fixed but never committed: the commit would sweep their unfinished content in.
    own = (
        {p.resolve() for p in gitops.uncommitted_paths(repo, list(project.version_locations))}
        if do_commit
        else set()
    )
    review: str | None = None
    title = "Merge migration heads (migfix)"
    added: list[Path] = []
    note: str | None = None
    if chosen == "rebase":
        from migfix.commands.rebase import hook_rebase
        from migfix.plan.rebase import SettledRevisions, SeveralHeads
        from migfix.report.next_step import ref_name

        # Named (origin/main) rather than by sha, in the report and the commit title.
        candidates = [ref_name(repo, sha) for sha in other_side()]
        try:
            written, report = hook_rebase(project, onto=candidates, by=f"migfix hook ({hook_type})")
            first = report.split("\n", 1)[0]
            if first.startswith("Rebasing onto ") and first.endswith(":"):
                title = f"Rebase migrations onto {first[len('Rebasing onto ') : -1]} (migfix)"
        except SettledRevisions as exc:
            _say(
                f"{where}the rebase strategy would rewrite settled revisions "
                f"({', '.join(exc.revisions)}); using the merge strategy instead."
            )
            chosen = "merge"
        except SeveralHeads as exc:
            shown = exc.ref[:12] if len(exc.ref) == 40 else exc.ref
            _say(
                f"{where}the rebase strategy has no single head to rebase onto ({shown} "
                f"already has several heads: {', '.join(exc.heads)}); using the merge "
                "strategy instead."
            )
            chosen = "merge"
    if chosen != "rebase":
        from migfix.commands.merge import review_line, run_merge
        from migfix.plan.merge import MergeOptions

        outcome = run_merge(project, MergeOptions(), graph=graph, by=f"migfix hook ({hook_type})")
        # When the hook commits, the request to review and commit gives way to what
        # really happened, said once the commit is made.
        written, report = outcome.written, outcome.text(review=not do_commit)
        added = [m.path for m in outcome.merges]
        if do_commit and written:
            review = review_line(outcome.plan.notes)
        from migfix.report.next_step import published_note

        note = published_note(repo, outcome.plan, graph)
    _say(report)
    if note:
        _say(note)
    repointed = moves.read(repo)[0][mark:]
    if repointed:
        _say(where + moves.advice([(m.revision, m.old, m.new) for m in repointed]))
    to_sync.append((project, [*arrived, *repointed]))
    held = [p for p in written if p.resolve() in own]
    if do_commit:
        written = [p for p in written if p not in held]
    if review is not None and not written:
        _say(review)  # nothing gets committed after all: the request stands
    for path in held:
        _say(
            f"did not commit {project.relpath(path)}: it holds changes of yours that were not "
            "committed yet. Review it and commit it yourself."
        )
    if written and do_commit:
        try:
            commits.commit_paths(repo, written, title)
        except GitError as exc:
            # The fix is on disk: say so, rather than the generic "no file was changed".
            _say(
                f"wrote the fix but could not commit it: {exc.message} It is left uncommitted "
                f"for review: {_review_how(project, written, added)}."
            )
            return
        _say("committed the result.")
    elif written:
        _say(f"left uncommitted for review: {_review_how(project, written, added)}.")


def _review_how(project: object, written: Sequence[Path], added: Sequence[Path]) -> str:
    """`git diff` shows changed files only; a new file needs `git status` to be seen."""
    new = [p for p in written if p in added]
    if not new:
        return "`git diff`, then commit"
    rel = getattr(project, "relpath", str)
    names = ", ".join(rel(p) for p in new)
    return f"`git status` (new: {names}) and `git diff`, then commit"


def _sync_db(project: Project, moved: Sequence[object]) -> None:
    """``[tool.migfix] sync_db = true``: bring the configured database in step by itself.

    Off by default: a git hook should not reach a database unasked. Any failure is told
    and leaves the merge alone, like every other hook failure.
    """
    if not moved or not project.settings.sync_db:
        return
    from migfix.db import sync as dbsync
    from migfix.read.graph import read_graph

    try:
        result = dbsync.sync(project, read_graph(project))
        _say(dbsync.sync_text(project, result))
    except MigfixError as exc:
        _say(f"sync_db: could not sync the database: {exc.message} Run `migfix db sync`.")
    except Exception as exc:
        _say(f"sync_db: could not sync the database ({type(exc).__name__}); run `migfix db sync`.")


def _refresh_lock(repo: Path, project: Project, graph: Graph, commit: bool | None) -> None:
    """One head, but the heads lock is stale (its merge driver kept one side): rewrite it."""
    from migfix.write.heads_lock_files import update

    path = update(project, graph)
    if path is None:
        return
    _say(f"rewrote the heads lock {project.relpath(path)} to match the merged migrations.")
    if project.settings.commit if commit is None else commit:
        try:
            commits.commit_paths(repo, [path], "Update the migration heads lock (migfix)")
        except GitError:
            _say("could not commit it; it is left uncommitted for review: `git diff`, then commit.")
            return
        _say("committed the result.")
    else:
        _say("left uncommitted for review: `git diff`, then commit.")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m migfix.hookrun HOOK [--strategy S] [--commit|--no-commit] [--always]
    [--config C] [--name N] [--directory D] -- ARGS``

    What the installed hook script calls. It parses its own fixed arguments instead of
    going through click: importing click alone costs more than the whole no-op path
    (one head) is allowed to take.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    git_args: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, git_args = args[:cut], args[cut + 1 :]
    strategy: str | None = None
    commit: bool | None = None
    always = False
    chosen: dict[str, str] = {}
    hook_type = args.pop(0) if args else ""
    while args:
        opt = args.pop(0)
        if opt == "--strategy" and args:
            strategy = args.pop(0)
        elif opt in ("--config", "--name", "--directory") and args:
            chosen[opt[2:]] = args.pop(0)
        elif opt == "--commit":
            commit = True
        elif opt == "--no-commit":
            commit = False
        elif opt == "--always":
            always = True
        else:
            _say(f"ignoring unknown hook option {opt!r} (reinstall with `migfix hook install`).")
    if hook_type not in _HOOK_TYPES or strategy not in (None, "merge", "rebase"):
        _say(f"unknown hook {hook_type!r} or strategy {strategy!r}; nothing done.")
        return 0
    watch = Watch(**chosen) if chosen else None
    try:
        return run(
            hook_type,
            git_args,
            cwd=Path.cwd(),
            strategy=strategy,
            commit=commit,
            always=always,
            watch=watch,
        )
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: any change was undone
        from migfix.write.lock import interrupted_line

        text, code = interrupted_line(exc)
        _say(text)
        return code
