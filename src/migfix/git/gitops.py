"""Everything migfix needs from git.

Cheap questions (where is the repository, is a merge in progress, did these directories
change) run one plain ``git`` subprocess each, because they sit on the post-merge hook's fast
path. Reading files out of another revision's tree goes through GitPython, which is imported
only inside :func:`read_tree_files` so that importing this module stays cheap.

Paths in and out are absolute :class:`pathlib.Path` objects spelled the way the caller spelled
them; git itself only ever sees paths relative to the work tree root, in POSIX form, passed with
``--literal-pathspecs`` so that a directory named ``[v1]`` is not read as a glob.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from migfix.errors import GitError

if TYPE_CHECKING:
    import git

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

_UNSHALLOW_HINT = "run `git fetch --unshallow` (or `git fetch --deepen=<n>`)"


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


def _out_line(raw: bytes) -> str:
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


def _looks_like_option(rev: str) -> bool:
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
    top = Path(_out_line(proc.stdout))
    real_top = top.resolve()
    for candidate in (path, *path.parents):
        if candidate == top or candidate.resolve() == real_top:
            return candidate
    return top


def is_shallow(repo_root: Path) -> bool:
    """True when REPO_ROOT is a shallow clone (history cut off at some depth)."""
    return _out_line(output(repo_root, "rev-parse", "--is-shallow-repository")) == "true"


def _unknown_revision(repo_root: Path, ref: str) -> GitError:
    message = (
        f"Unknown git revision '{ref}'. If it is a remote branch, run `git fetch` first; "
        "otherwise check the name with `git branch -a`."
    )
    if is_shallow(repo_root):
        message = (
            f"Unknown git revision '{ref}'. If it is a remote branch, run `git fetch` first. "
            "This repository is a shallow clone, so older commits are missing: "
            f"{_UNSHALLOW_HINT} if the revision is older than the fetched history. "
            "Otherwise check the name with `git branch -a`."
        )
    return GitError(message)


def try_resolve(repo_root: Path, ref: str) -> str | None:
    if _looks_like_option(ref):
        return None
    proc = run(repo_root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return _out_line(proc.stdout) if proc.returncode == 0 else None


def resolve_ref(repo_root: Path, ref: str) -> str:
    """The full sha of the commit REF names (a branch, tag, sha, ``HEAD~2``, ...)."""
    sha = try_resolve(repo_root, ref)
    if sha is None:
        raise _unknown_revision(repo_root, ref)
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
    return _out_line(proc.stdout) if proc.returncode == 0 else None


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


def has_remote(repo_root: Path) -> bool:
    """True when at least one remote is configured."""
    return bool(run(repo_root, "remote").stdout.strip())


def published_refs(repo_root: Path) -> list[str]:
    """Every remote-tracking ref of every remote and every tag, by full name.

    Symbolic refs (``refs/remotes/origin/HEAD``) are left out: they name a ref listed already.
    """
    out = output(
        repo_root,
        "for-each-ref",
        "--format=%(refname)%00%(symref)",
        "refs/remotes",
        "refs/tags",
    )
    refs = []
    for line in out.splitlines():
        name, _, symref = line.partition(b"\0")
        if not symref:
            refs.append(os.fsdecode(name))
    return refs


def unpublished_paths(repo_root: Path, under: Sequence[Path]) -> set[Path] | None:
    """Files under UNDER that a commit of HEAD's history changed which is on no
    remote-tracking ref and no tag. None when that cannot be told (HEAD has no commit).

    A committed file that none of those commits changed has the content of a commit that is
    on a remote or a tag. Only the unpublished commits are walked (``--not --remotes
    --tags``), so the cost follows their number, not the number of remote branches. A merge
    commit's own changes are not listed: what it brings in comes from its parents' commits.
    """
    specs = pathspecs(repo_root, under)
    if not specs:
        return set()
    proc = run(
        repo_root,
        "--literal-pathspecs",
        "log",
        "--format=",
        "--name-only",
        "--no-renames",
        "-z",
        "HEAD",
        "--not",
        "--remotes",
        "--tags",
        "--",
        *specs,
    )
    if proc.returncode != 0:
        return None
    return {
        from_git_path(repo_root, name.strip(b"\n"))
        for name in proc.stdout.split(b"\0")
        if name.strip(b"\n")
    }


def blobs_at(repo_root: Path, refs: Sequence[str], rels: Sequence[str]) -> dict[str, list[str]]:
    """For each path REL (relative to the work tree, POSIX form), the REFS whose tree has a
    file there, as ``{rel: ["<ref> <blob id>", ...]}``.

    Two ``cat-file`` processes whatever the number of refs: the first names each ref's
    folder of the paths, the second looks the files up once per distinct folder. Many refs
    share the same folder (a versions folder of thousands of files), which is read once,
    not once per ref.
    """
    # A ref name never holds ':' or a newline; a path with a newline cannot be asked this way.
    wanted = [rel for rel in rels if "\n" not in rel]
    folders = sorted({rel.rpartition("/")[0] for rel in wanted})
    if not wanted or not refs:
        return {}
    asked = [(ref, folder) for ref in refs for folder in folders]
    trees = _batch_check(repo_root, [f"{ref}:{folder}" for ref, folder in asked])
    by_tree: dict[str, list[str]] = {}  # folder tree -> refs having it
    tree_of: dict[tuple[str, str], str] = {}
    for (ref, folder), (oid, kind) in zip(asked, trees, strict=True):
        if kind == "tree":
            by_tree.setdefault(oid, []).append(ref)
            tree_of[ref, folder] = oid
    looked = [(tree, rel) for tree in by_tree for rel in wanted]
    names = [f"{tree}:{rel.rpartition('/')[2]}" for tree, rel in looked]
    blob_in: dict[tuple[str, str], str] = {}
    for (tree, rel), (oid, kind) in zip(looked, _batch_check(repo_root, names), strict=True):
        if kind == "blob":
            blob_in[tree, rel] = oid
    found: dict[str, list[str]] = {}
    for rel in wanted:
        folder = rel.rpartition("/")[0]
        for ref in refs:
            held = tree_of.get((ref, folder))
            blob = blob_in.get((held, rel)) if held else None
            if blob:
                found.setdefault(rel, []).append(f"{ref} {blob}")
    return found


def _batch_check(repo_root: Path, names: Sequence[str]) -> list[tuple[str, str]]:
    """``(object id, type)`` of each of NAMES (``<rev>:<path>``), ``("", "missing")`` for a
    name that names nothing; one git process."""
    if not names:
        return []
    proc = run(
        repo_root,
        "cat-file",
        "--batch-check=%(objectname) %(objecttype)",
        stdin="".join(n + "\n" for n in names).encode(),
    )
    answers = []
    lines = proc.stdout.splitlines()
    for i in range(len(names)):
        oid, _, kind = (lines[i] if i < len(lines) else b"").partition(b" ")
        answers.append((oid.decode(), kind.decode()) if kind != b"missing" else ("", "missing"))
    return answers


def blob_contents(repo_root: Path, oids: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob in OIDS (one git process for all)."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return {}
    proc = run(repo_root, "cat-file", "--batch", stdin="".join(o + "\n" for o in wanted).encode())
    out: dict[str, bytes] = {}
    data, at = proc.stdout, 0
    for oid in wanted:
        end = data.find(b"\n", at)
        if end < 0:
            break
        header = data[at:end].split()
        if len(header) != 3:  # "<oid> missing"
            at = end + 1
            continue
        size = int(header[2])
        out[oid] = data[end + 1 : end + 1 + size]
        at = end + 1 + size + 1
    return out


def added_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """Files under UNDER that HEAD does not have: untracked (not ignored) or added."""
    if not under:
        return set()
    out = output(
        repo_root,
        "--literal-pathspecs",
        "status",
        "--porcelain",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--",
        *pathspecs(repo_root, under),
    )
    return {
        from_git_path(repo_root, entry[3:])
        for entry in out.split(b"\0")
        if entry[:2] == b"??" or entry[:1] == b"A"
    }


def origin_head(repo_root: Path) -> str | None:
    """What ``origin/HEAD`` points at (e.g. ``'origin/main'``), when it names a ref that exists."""
    proc = run(repo_root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if proc.returncode == 0:
        target = _out_line(proc.stdout)
        if try_resolve(repo_root, f"refs/remotes/{target}") is not None:
            return target
    return None


def read_tree_files(
    repo_root: Path, ref: str, directory: Path, *, recursive: bool
) -> dict[Path, bytes] | None:
    """The files under DIRECTORY as they are in REF's tree, read from git's object store.

    Keys are the absolute paths the files would have in the work tree (DIRECTORY joined with
    the path inside it); only DIRECTORY's own files unless RECURSIVE. Returns None when REF has
    no directory there. The work tree and index are never touched. Symlinks committed inside
    the repository are followed, as a checkout would follow them (a versions folder that is a
    link to a shared folder is common); a link out of the repository cannot be read from git
    and counts as absent. Submodules are skipped.
    """
    import git

    sha = resolve_ref(repo_root, ref)
    rel = relative(repo_root, directory)
    with git.Repo(repo_root) as repo:
        try:
            root = repo.commit(sha).tree
            tree = root if rel == "." else _tree_entry(root, rel)
            if not isinstance(tree, git.Tree):
                return None
            files: dict[Path, bytes] = {}
            _collect_blobs(root, tree, directory, recursive, files)
        except KeyError:
            return None
        except (ValueError, git.GitError) as exc:
            raise missing_object(repo_root, ref, rel, exc) from exc
    return files


_MAX_LINKS = 40  # as the kernel's ELOOP limit: a longer chain is a loop


def _tree_entry(root: git.Tree, rel: str) -> git.Tree | git.Blob | None:
    """The tree or blob at REL (POSIX, relative to ROOT), following committed symlinks; None
    when nothing is there or a link leaves the repository or loops."""
    import posixpath

    parts = [p for p in rel.split("/") if p not in ("", ".")]
    hops = 0
    node: git.Tree | git.Blob = root
    done: list[str] = []
    while parts:
        name = parts.pop(0)
        if name == "..":
            if not done:
                return None
            done.pop()
            node = _walk(root, done)
            continue
        if not hasattr(node, "trees"):  # a blob is not a folder
            return None
        try:
            child = node / name
        except KeyError:
            return None
        if getattr(child, "mode", None) == getattr(child, "link_mode", -1):
            hops += 1
            target = child.data_stream.read().decode("utf-8", "surrogateescape")
            if hops > _MAX_LINKS or target.startswith("/"):
                return None
            parts = [p for p in posixpath.normpath(target).split("/") if p not in ("", ".")] + parts
            node = _walk(root, done)
            continue
        done.append(name)
        node = child
    return node


def _walk(root: git.Tree, parts: Sequence[str]) -> git.Tree:
    node = root
    for name in parts:
        node = node / name
    return node


def _collect_blobs(
    root: git.Tree, tree: git.Tree, base: Path, recursive: bool, out: dict[Path, bytes]
) -> None:
    import posixpath

    import git

    for blob in tree.blobs:
        if blob.mode != blob.link_mode:
            out[base / blob.name] = blob.data_stream.read()
            continue
        # A linked revision file: read what the link points at, when it is in the tree.
        target = blob.data_stream.read().decode("utf-8", "surrogateescape")
        if target.startswith("/"):
            continue
        linked = _tree_entry(root, posixpath.join(posixpath.dirname(blob.path), target))
        if isinstance(linked, git.Blob):
            out[base / blob.name] = linked.data_stream.read()
    if recursive:
        for sub in tree.trees:
            _collect_blobs(root, sub, base / sub.name, recursive, out)


def missing_object(repo_root: Path, ref: str, rel: str, exc: Exception) -> GitError:
    what = f"Cannot read '{rel}' from git revision '{ref}': {' '.join(str(exc).split())}."
    if is_shallow(repo_root):
        return GitError(
            f"{what} This repository is a shallow clone and lacks that history: "
            f"{_UNSHALLOW_HINT} and try again."
        )
    return GitError(f"{what} The repository may be damaged: run `git fsck` to check it.")


def uncommitted_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """Files under UNDER whose state differs from HEAD, plus untracked (not ignored) files.

    That is: modified (staged or not), added, deleted, both sides of a rename, unmerged, and
    untracked. Deleted paths are included so that a "nothing uncommitted" check really means
    the directories match HEAD; callers looking up files on disk simply will not meet them.
    """
    if not under:
        return set()
    out = output(
        repo_root,
        "--literal-pathspecs",
        "status",
        "--porcelain",
        "-z",
        "--untracked-files=all",
        "--",
        *pathspecs(repo_root, under),
    )
    paths: set[Path] = set()
    entries = iter(out.split(b"\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        paths.add(from_git_path(repo_root, path))
        if b"R" in status or b"C" in status:
            # -z prints a rename as "XY new NUL old": the next entry is the source path.
            source = next(entries, b"")
            if b"R" in status and source:
                paths.add(from_git_path(repo_root, source))
    return paths


def conflicted_paths(repo_root: Path, under: Sequence[Path]) -> set[Path]:
    """Files under UNDER with unmerged index entries (an unresolved merge conflict)."""
    if not under:
        return set()
    out = output(
        repo_root,
        "--literal-pathspecs",
        "ls-files",
        "--unmerged",
        "-z",
        "--",
        *pathspecs(repo_root, under),
    )
    # Each entry is "mode sha stage<TAB>path"; a conflicted file has one entry per stage.
    return {
        from_git_path(repo_root, entry.split(b"\t", 1)[1])
        for entry in out.split(b"\0")
        if b"\t" in entry
    }


def operation_in_progress(repo_root: Path) -> str | None:
    """'rebase', 'am', 'merge', 'cherry-pick' or 'revert' when one is stopped half-way.

    Looks in this worktree's own git dir, where git keeps that state for linked worktrees too.
    ``git am`` shares ``rebase-apply/`` with old-style rebases and is told apart by the
    ``applying`` marker git writes there.
    """
    git_dir = Path(_out_line(output(repo_root, "rev-parse", "--absolute-git-dir")))
    if (git_dir / "rebase-merge").is_dir():
        return "rebase"
    if (git_dir / "rebase-apply").is_dir():
        return "am" if (git_dir / "rebase-apply" / "applying").exists() else "rebase"
    for marker, name in (
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ):
        if (git_dir / marker).exists():
            return name
    return None


def picks_left(repo_root: Path) -> int:
    """How many picks a running ``git cherry-pick A B ...`` makes after the one being committed.

    0 for a single pick (git keeps no sequencer state for it) and for the last one. Read from
    the sequencer's todo list, where git keeps the pick being made as the first line until
    the next one starts (git 2.x).
    """
    git_dir = Path(_out_line(output(repo_root, "rev-parse", "--absolute-git-dir")))
    try:
        todo = (git_dir / "sequencer" / "todo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    picks = [ln for ln in todo.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return max(0, len(picks) - 1)


_COMMIT_MARK = "\x01"


def first_commit_times(repo_root: Path, paths: Sequence[Path]) -> dict[Path, int]:
    """For each of PATHS committed on HEAD, the author time (Unix seconds) of its oldest add.

    One ``git log`` for all paths, limited to their directories (a long list of files could
    overflow the command line). Renames are not followed: a file moved into place counts as
    added by the move. Paths never committed are absent. In a shallow clone, files older than
    the cut-off count as added by the oldest fetched commit. A file added more than once
    (deleted and re-added, or added on two merged branches) gets the earliest author time.
    """
    if not paths or try_resolve(repo_root, "HEAD") is None:
        return {}
    wanted = {relative(repo_root, p): p for p in paths}
    dirs = sorted({PurePosixPath(rel).parent.as_posix() for rel in wanted})
    out = output(
        repo_root,
        # log.follow would turn on --follow when a single directory is given.
        "-c",
        "log.follow=false",
        "--literal-pathspecs",
        "log",
        "HEAD",
        "--diff-filter=A",
        "--no-renames",
        "--no-show-signature",
        "--no-color",
        f"--format={_COMMIT_MARK}%at",
        "--name-only",
        "-z",
        "--",
        *dirs,
    )
    # With -z the output is: MARK time NUL "\n" name NUL name NUL ... MARK time NUL ...
    times: dict[Path, int] = {}
    current = 0
    after_header = False
    for token in os.fsdecode(out).split("\0"):
        if token.startswith(_COMMIT_MARK):
            current = int(token[1:].strip())
            after_header = True
            continue
        if after_header:
            token = token.removeprefix("\n")
            after_header = False
        path = wanted.get(token)
        if path is not None:
            times[path] = min(times.get(path, current), current)
    return times


def changed_between(repo_root: Path, old: str, new: str, under: Sequence[Path]) -> bool:
    """Whether any file under UNDER differs between commits OLD and NEW.

    Plain subprocess only: the post-merge hook calls this on every merge and pull.
    """
    if not under:
        return False
    status = _yes_no(
        repo_root,
        (old, new),
        f"git diff {old} {new}",
        "--literal-pathspecs",
        "diff",
        "--quiet",
        "--no-ext-diff",
        "--no-textconv",
        old,
        new,
        "--",
        *pathspecs(repo_root, under),
    )
    return status == 1


def changed_paths(repo_root: Path, old: str, new: str) -> list[Path]:
    """Every file that differs between commits OLD and NEW, as absolute paths.

    One plain ``git diff``: the hook asks this on every merge and pull, and the paths decide
    which projects (if any) it needs to read.
    """
    return TreeDiff(repo_root, old, new).paths()


class TreeDiff:
    """What differs between commits OLD and NEW: each file with its blob before and after.

    One ``git diff --raw``, started when the object is made and read when first asked, so
    that git compares the trees while Python goes on (the hook reads the revision graph
    meanwhile); the hook asks it both which files changed and which revisions moved.
    """

    def __init__(self, repo_root: Path, old: str, new: str) -> None:
        self.repo_root, self.old, self.new = repo_root, old, new
        self._proc: subprocess.Popen[bytes] | None = None
        self._done: tuple[int, bytes, bytes] | None = None
        if _looks_like_option(old) or _looks_like_option(new):
            self._done = (128, b"", b"")
            return
        cmd = ("diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff")
        self._proc = start(repo_root, *cmd, old, new, "--")

    def finish(self) -> tuple[int, bytes, bytes]:
        if self._done is None:
            assert self._proc is not None
            out, err = self._proc.communicate()
            self._done = (self._proc.returncode, out, err)
        return self._done

    def close(self) -> None:
        """Stop git if its answer was not asked for (no project needed it), and reap it."""
        if self._done is None and self._proc is not None:
            self._proc.kill()
            self._proc.communicate()
            self._done = (-1, b"", b"")

    def raw(self) -> list[tuple[str, str, str]] | None:
        """(path from the work tree root in POSIX form, old blob, new blob) of each changed
        file (an all-zero blob: none on that side); None when git failed."""
        code, out, _ = self.finish()
        if code != 0:
            return None
        parts = out.split(b"\0")
        entries: list[tuple[str, str, str]] = []
        for i in range(0, len(parts) - 1, 2):
            meta = parts[i].decode().split()
            if len(meta) >= 4:
                entries.append((os.fsdecode(parts[i + 1]), meta[2], meta[3]))
        return entries

    def paths(self) -> list[Path]:
        """Every changed file, as absolute paths; a GitError when git failed."""
        for rev in (self.old, self.new):
            if _looks_like_option(rev):
                raise _unknown_revision(self.repo_root, rev)
        entries = self.raw()
        if entries is None:
            for rev in (self.old, self.new):
                resolve_ref(self.repo_root, rev)
            raise GitError(
                f"`git diff --name-only {self.old} {self.new}` failed in {self.repo_root}: "
                f"{' '.join(self.finish()[2].decode('utf-8', 'replace').split()) or 'no message'}"
                ". Run it yourself to see what git needs."
            )
        return [self.repo_root.joinpath(*PurePosixPath(path).parts) for path, _, _ in entries]


def is_ancestor(repo_root: Path, a: str, b: str) -> bool:
    """Whether commit A is B or one of B's ancestors.

    In a shallow clone, history beyond the cut-off is unknown and this can answer False.
    """
    status = _yes_no(
        repo_root,
        (a, b),
        f"git merge-base --is-ancestor {a} {b}",
        "merge-base",
        "--is-ancestor",
        a,
        b,
    )
    return status == 0


def _yes_no(repo_root: Path, revs: Sequence[str], shown: str, *args: str) -> int:
    """Run ``git ARGS``, a question about commits REVS that git answers with exit status 0 or 1.

    Any other status is an error: an unknown revision among REVS is named as such, else the
    command (SHOWN) and git's message are.
    """
    for rev in revs:
        if _looks_like_option(rev):
            raise _unknown_revision(repo_root, rev)
    proc = run(repo_root, *args)
    if proc.returncode in (0, 1):
        return proc.returncode
    for rev in revs:
        resolve_ref(repo_root, rev)
    raise GitError(
        f"`{shown}` failed in {repo_root}: {stderr_text(proc) or 'no message'}. "
        "Run it yourself to see what git needs."
    )


# -- CI: bring the base branch in, commit the fix, push it back (``migfix ci fix``) --------------

# Our own commits and merges in CI run none of the repository's hooks (migfix's included:
# ci fix does the hook's work itself, once, and says so).
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def current_branch(repo_root: Path) -> str | None:
    """The checked-out branch's short name, or None on a detached HEAD (as CI checks out)."""
    proc = run(repo_root, "symbolic-ref", "--quiet", "--short", "HEAD")
    return _out_line(proc.stdout) if proc.returncode == 0 else None


def fetch_branch(repo_root: Path, remote: str, branch: str) -> None:
    """Fetch REMOTE's BRANCH into ``refs/remotes/REMOTE/BRANCH``, with the whole history when
    this is a shallow clone (a merge needs the commit both sides share)."""
    deepen = ("--unshallow",) if is_shallow(repo_root) else ()
    output(
        repo_root,
        "fetch",
        "--quiet",
        "--no-tags",
        *deepen,
        remote,
        f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
    )


def merge_base(repo_root: Path, a: str, b: str) -> str | None:
    proc = run(repo_root, "merge-base", a, b)
    return _out_line(proc.stdout) if proc.returncode == 0 else None


def blob_at(repo_root: Path, rev: str, path: Path) -> bytes | None:
    """PATH's content in commit REV, or None when REV has no such file."""
    proc = run(repo_root, "cat-file", "blob", f"{rev}:{relative(repo_root, path)}")
    return proc.stdout if proc.returncode == 0 else None


def start_merge(repo_root: Path, ref: str) -> list[Path]:
    """``git merge --no-commit --no-ff REF``; returns the files left in conflict (the merge
    stays in progress either way, for :func:`commit` or :func:`abort_merge`)."""
    if _looks_like_option(ref):
        raise _unknown_revision(repo_root, ref)
    proc = run(repo_root, *_NO_HOOKS, "merge", "--quiet", "--no-commit", "--no-ff", ref)
    conflicted = conflicted_paths(repo_root, [repo_root])
    if proc.returncode != 0 and not conflicted:
        raise GitError(
            f"`git merge {ref}` failed in {repo_root} (exit {proc.returncode}): "
            f"{stderr_text(proc) or 'no message'}. Run it yourself to see what git needs."
        )
    return sorted(conflicted)


def abort_merge(repo_root: Path) -> None:
    run(repo_root, "merge", "--abort")


def take_theirs(repo_root: Path, path: Path) -> None:
    """Resolve a conflicted PATH with the side being merged in."""
    spec = relative(repo_root, path)
    output(repo_root, "checkout", "--theirs", "--", spec)
    output(repo_root, "add", "--", spec)


def commit(repo_root: Path, paths: Sequence[Path], message: str) -> str:
    """Stage PATHS (written or deleted) and commit the index (a merge in progress becomes a
    merge commit); returns the new commit's sha. Without a configured identity, the commit
    is made as ``migfix``."""
    if paths:
        output(repo_root, "add", "--all", "--", *pathspecs(repo_root, paths))
    identity: tuple[str, ...] = ()
    if run(repo_root, "var", "GIT_COMMITTER_IDENT").returncode != 0:
        identity = ("-c", "user.name=migfix", "-c", "user.email=migfix@users.noreply.github.com")
    output(repo_root, *_NO_HOOKS, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    return resolve_ref(repo_root, "HEAD")


def changed_since(repo_root: Path, rev: str, under: Sequence[Path], kinds: str) -> list[Path]:
    """Files under UNDER that differ between commit REV and HEAD, of the diff-filter KINDS
    (``"MDT"``: modified, deleted, type changed)."""
    out = output(
        repo_root,
        "diff",
        "--name-only",
        "-z",
        "--no-renames",
        f"--diff-filter={kinds}",
        rev,
        "HEAD",
        "--",
        *pathspecs(repo_root, under),
    )
    return [from_git_path(repo_root, raw) for raw in out.split(b"\0") if raw]


def binary_diff(repo_root: Path, old: str, new: str) -> bytes:
    """The patch from commit OLD to NEW, as ``git apply`` takes it (binary files too)."""
    return output(repo_root, "diff", "--binary", "--no-renames", old, new)


def push_with_lease(repo_root: Path, remote: str, branch: str, expected: str) -> str | None:
    """Push HEAD to REMOTE's BRANCH only if that branch is still at EXPECTED (``git push
    --force-with-lease``): a push made meanwhile is never overwritten. Returns None when
    pushed, else git's message."""
    proc = run(
        repo_root,
        *_NO_HOOKS,
        "push",
        "--quiet",
        f"--force-with-lease=refs/heads/{branch}:{expected}",
        remote,
        f"HEAD:refs/heads/{branch}",
    )
    return None if proc.returncode == 0 else (stderr_text(proc) or f"exit {proc.returncode}")


def remote_branch_sha(repo_root: Path, remote: str, branch: str) -> str | None:
    """Where REMOTE's BRANCH is now (asked of the server), or None when git cannot tell."""
    proc = run(repo_root, "ls-remote", "--heads", remote, f"refs/heads/{branch}")
    if proc.returncode != 0:
        return None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        sha, _, name = line.partition("\t")
        if name == f"refs/heads/{branch}":
            return sha
    return None


def commit_paths(repo_root: Path, paths: Sequence[Path], message: str) -> None:
    """Commit PATHS on top of HEAD, and nothing else.

    Not ``git commit``: post-merge runs while MERGE_HEAD still exists, where ``git commit --
    PATHS`` refuses ("cannot do a partial commit during a merge") and a plain commit would
    record a second merge. The commit is built from HEAD's tree plus PATHS in a scratch index,
    so nothing else the user staged is swept in; then the real index takes PATHS too.
    """
    import tempfile

    rel = [str(p) for p in paths]

    def git(*args: str, index: str | None = None) -> str:
        return output(repo_root, *args, index=index).decode().strip()

    with tempfile.TemporaryDirectory(prefix="migfix-index-") as scratch:
        index = os.path.join(scratch, "index")
        head = git("rev-parse", "--verify", "HEAD")
        git("read-tree", head, index=index)
        git("add", "--", *rel, index=index)
        tree = git("write-tree", index=index)
        sha = git("commit-tree", tree, "-p", head, "-m", message)
    git("update-ref", "-m", f"migfix: {message}", "HEAD", sha, head)
    git("add", "--", *rel)
