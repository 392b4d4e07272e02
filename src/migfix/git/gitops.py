"""How migfix runs git, and the questions every command asks of it.

Every git process migfix starts goes through :func:`run` (or :func:`start`, which does not
wait), with one environment policy (:func:`_env`): the variables that point git at another
repository are dropped, messages are in one language, and git never waits for a password.
Here too: where the repository is and what a ref names. The other modules of this package
build on these: ``worktree`` (what is uncommitted or conflicted, an operation stopped
half-way), ``history`` (what commits hold), ``commits`` (commits and pushes migfix makes),
``trees`` (another commit's files, through GitPython).

Cheap questions run one plain ``git`` subprocess each, because they sit on the post-merge
hook's fast path. Paths in and out are absolute :class:`pathlib.Path` objects spelled the way
the caller spelled them; git itself only ever sees paths relative to the work tree root, in
POSIX form, passed with ``--literal-pathspecs`` so that a directory named ``[v1]`` is not read
as a glob.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from migfix.errors import GitError

if TYPE_CHECKING:
    import subprocess

# Variables that tell git which repository or index to use. git sets some of them when it runs a
# hook; left in place they would override the ``cwd`` we pass and point every call at the hook's
# repository instead of the one asked about (pre-commit strips them for the same reason).
_REPO_LOCATING_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
)

UNSHALLOW_HINT = "run `git fetch --unshallow` (or `git fetch --deepen=<n>`)"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATING_ENV}
    # Messages we quote back to the user are easier to act on in one predictable language.
    env["LC_ALL"] = "C"
    # migfix runs unattended (hooks, CI): a push or fetch that needs credentials fails
    # with git's message instead of waiting for someone to type them.
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


_NO_GIT = (
    "git was not found on PATH. migfix needs the git command line tool for this; "
    "install git (https://git-scm.com/downloads) and try again."
)


def _cannot_start(cwd: Path) -> GitError:
    if not cwd.is_dir():
        return GitError(f"Cannot run git in {cwd}: the directory does not exist.")
    return GitError(_NO_GIT)


def run(
    cwd: Path, *args: str, stdin: bytes | None = None, index: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in CWD (STDIN on its standard input) and return the finished
    process, whatever its exit code. With INDEX, git uses that index file instead of the
    repository's."""
    # Here, not at the top: heads and check import this module (discovery may ask git) yet
    # usually start no git at all, and subprocess with its selectors is 6M instructions of
    # their start (callgrind), a fifth of what migfix's own reading modules cost.
    import subprocess

    env = _env()
    if index is not None:
        env["GIT_INDEX_FILE"] = index
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise _cannot_start(cwd) from None


def text(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``run``, its output decoded as file names are (for answers read as text)."""
    import subprocess  # see run

    proc = run(cwd, *args)
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, os.fsdecode(proc.stdout), os.fsdecode(proc.stderr)
    )


# Where a work tree's root and its git dir are cannot change while one hook runs, yet the
# hook and the merge it makes ask it up to eight times, a git process each: within
# ``remembering()``, each question is asked once per folder.
_remembered: dict[tuple[str, ...], subprocess.CompletedProcess[bytes]] | None = None


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block, ``find_repo`` and ``moves.journal_path`` ask git once per folder."""
    global _remembered
    outer = _remembered
    if outer is None:
        _remembered = {}
    try:
        yield
    finally:
        _remembered = outer


def remembered(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``run``, answered from memory within ``remembering()`` (for questions whose answer
    cannot change meanwhile)."""
    if _remembered is None:
        return run(cwd, *args)
    key = (str(cwd), *args)
    proc = _remembered.get(key)
    if proc is None:
        proc = _remembered[key] = run(cwd, *args)
    return proc


def start(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    """``git ARGS`` in CWD, started and not waited for (stdout and stderr piped)."""
    import subprocess  # see run

    try:
        return subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise _cannot_start(cwd) from None


def started(cwd: Path, *args: str) -> Callable[[], subprocess.CompletedProcess[bytes]]:
    """``run``, started now: calling the result waits for git and returns what ``run``
    would have."""
    proc = start(cwd, *args)

    def finished() -> subprocess.CompletedProcess[bytes]:
        import subprocess  # see run

        out, err = proc.communicate()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    return finished


def stderr_text(proc: subprocess.CompletedProcess[bytes]) -> str:
    return " ".join(proc.stderr.decode("utf-8", "replace").split())


def output(cwd: Path, *args: str, index: str | None = None) -> bytes:
    """Run ``git ARGS`` in CWD and return its stdout; any non-zero exit is a GitError."""
    proc = run(cwd, *args, index=index)
    if proc.returncode != 0:
        # Quote the command without its pathspecs, which can be long.
        shown = " ".join(args[: args.index("--")] if "--" in args else args)
        raise GitError(
            f"`git {shown}` failed in {cwd} (exit {proc.returncode}): "
            f"{stderr_text(proc) or 'no message'}. Run it yourself to see what git needs."
        )
    return proc.stdout


def out_line(raw: bytes) -> str:
    # Strip only the trailing newline: a path may legitimately end in spaces.
    return os.fsdecode(raw).rstrip("\n")


def relative(repo_root: Path, path: Path) -> str:
    """PATH relative to REPO_ROOT in POSIX form ('.' for the root itself)."""
    try:
        rel = path.relative_to(repo_root)
    except ValueError:
        # One side may be spelled through a symlink (macOS /tmp, a linked checkout).
        try:
            rel = path.resolve().relative_to(repo_root.resolve())
        except ValueError:
            raise GitError(
                f"{path} is outside the git work tree {repo_root}, so migfix cannot use git "
                "to read it. Keep the migrations inside the repository, or run migfix from the "
                "repository that contains them."
            ) from None
    return rel.as_posix()


def pathspecs(repo_root: Path, under: Iterable[Path]) -> list[str]:
    return [relative(repo_root, p) for p in under]


def from_git_path(repo_root: Path, raw: bytes) -> Path:
    return repo_root.joinpath(*PurePosixPath(os.fsdecode(raw)).parts)


def looks_like_option(rev: str) -> bool:
    # A revision starting with '-' would be read by git as an option; no real ref name can.
    return not rev or rev.startswith("-")


def find_repo(path: Path) -> Path | None:
    """The root of the git work tree containing PATH, or None when PATH is not in one.

    Works from a linked worktree too (it returns that worktree's root). When PATH is reached
    through a symlink, the root is returned spelled the same way as PATH, so that callers can
    use ``relative_to`` between the two.
    """
    start = path if path.is_dir() else path.parent
    while not start.is_dir() and start != start.parent:
        start = start.parent
    proc = remembered(start, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        if b"dubious ownership" in proc.stderr:
            raise GitError(
                f"git refuses to work in {start} because the repository belongs to another "
                'user ("dubious ownership"). If you trust it, run '
                f"`git config --global --add safe.directory <repository root>` and try again."
            )
        return None
    top = Path(out_line(proc.stdout))
    real_top = top.resolve()
    for candidate in (path, *path.parents):
        if candidate == top or candidate.resolve() == real_top:
            return candidate
    return top


def is_shallow(repo_root: Path) -> bool:
    """True when REPO_ROOT is a shallow clone (history cut off at some depth)."""
    return out_line(output(repo_root, "rev-parse", "--is-shallow-repository")) == "true"


def unknown_revision(repo_root: Path, ref: str) -> GitError:
    message = (
        f"Unknown git revision '{ref}'. If it is a remote branch, run `git fetch` first; "
        "otherwise check the name with `git branch -a`."
    )
    if is_shallow(repo_root):
        message = (
            f"Unknown git revision '{ref}'. If it is a remote branch, run `git fetch` first. "
            "This repository is a shallow clone, so older commits are missing: "
            f"{UNSHALLOW_HINT} if the revision is older than the fetched history. "
            "Otherwise check the name with `git branch -a`."
        )
    return GitError(message)


def try_resolve(repo_root: Path, ref: str) -> str | None:
    if looks_like_option(ref):
        return None
    proc = run(repo_root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return out_line(proc.stdout) if proc.returncode == 0 else None


def resolve_ref(repo_root: Path, ref: str) -> str:
    """The full sha of the commit REF names (a branch, tag, sha, ``HEAD~2``, ...)."""
    sha = try_resolve(repo_root, ref)
    if sha is None:
        raise unknown_revision(repo_root, ref)
    return sha


def default_upstream(repo_root: Path) -> str | None:
    """The ref this branch is most likely meant to follow, by name (e.g. ``'origin/main'``).

    The current branch's configured upstream (:func:`branch_upstream`), else the repository's
    default branch (:func:`default_branch`). None when neither exists. Which revisions are
    settled is decided from both, in ``migfix.plan.settled.settled_refs``.
    """
    return branch_upstream(repo_root) or default_branch(repo_root)


def branch_upstream(repo_root: Path) -> str | None:
    """The current branch's configured upstream (``@{upstream}``), e.g. ``'origin/feature'``.

    None on a detached HEAD, for a branch without one, and when the upstream's remote branch
    was deleted (git fails then rather than naming a branch).
    """
    proc = run(repo_root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    return out_line(proc.stdout) if proc.returncode == 0 else None


def default_branch(repo_root: Path) -> str | None:
    """The repository's default branch, by name: what ``origin/HEAD`` points at, else
    ``origin/main``, ``origin/master``, a local ``main``, a local ``master``; None when none
    exists.

    The remote branches come before the local ones: a local ``main`` may be weeks behind,
    and revisions on the shared branch are the ones someone may have applied
    (``origin/HEAD`` is unset in a clone of an empty repository or after ``git remote add``).
    """
    target = origin_head(repo_root)
    if target is not None:
        return target
    for name in ("main", "master"):
        if try_resolve(repo_root, f"refs/remotes/origin/{name}") is not None:
            return f"origin/{name}"
    for name in ("main", "master"):
        if try_resolve(repo_root, f"refs/heads/{name}") is not None:
            return name
    return None


def origin_head(repo_root: Path) -> str | None:
    """What ``origin/HEAD`` points at (e.g. ``'origin/main'``), when it names a ref that exists."""
    proc = run(repo_root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if proc.returncode == 0:
        target = out_line(proc.stdout)
        if try_resolve(repo_root, f"refs/remotes/{target}") is not None:
            return target
    return None


def missing_object(repo_root: Path, ref: str, rel: str, exc: Exception) -> GitError:
    what = f"Cannot read '{rel}' from git revision '{ref}': {' '.join(str(exc).split())}."
    if is_shallow(repo_root):
        return GitError(
            f"{what} This repository is a shallow clone and lacks that history: "
            f"{UNSHALLOW_HINT} and try again."
        )
    return GitError(f"{what} The repository may be damaged: run `git fsck` to check it.")
