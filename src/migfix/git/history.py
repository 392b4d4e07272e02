"""Questions about commits and what they hold: which files differ between two commits,
which commits are published (on a remote or a tag), when a file was first added, whether
one commit is an ancestor of another. Every git process starts through ``gitops``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from migfix.errors import GitError
from migfix.git import gitfiles, gitops


def has_remote(repo_root: Path) -> bool:
    """True when at least one remote is configured."""
    return bool(gitops.run(repo_root, "remote").stdout.strip())


def published_refs(repo_root: Path) -> list[str]:
    """Every remote-tracking ref of every remote and every tag, by full name.

    Symbolic refs (``refs/remotes/origin/HEAD``) are left out: they name a ref listed already.
    """
    out = gitops.output(
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
    specs = gitops.pathspecs(repo_root, under)
    if not specs:
        return set()
    proc = gitops.run(
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
        gitops.from_git_path(repo_root, name.strip(b"\n"))
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
    proc = gitops.run(
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
    proc = gitops.run(
        repo_root, "cat-file", "--batch", stdin="".join(o + "\n" for o in wanted).encode()
    )
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


_COMMIT_MARK = "\x01"


def first_commit_times(repo_root: Path, paths: Sequence[Path]) -> dict[Path, int]:
    """For each of PATHS committed on HEAD, the author time (Unix seconds) of its oldest add.

    One ``git log`` for all paths, limited to their directories (a long list of files could
    overflow the command line). Renames are not followed: a file moved into place counts as
    added by the move. Paths never committed are absent. In a shallow clone, files older than
    the cut-off count as added by the oldest fetched commit. A file added more than once
    (deleted and re-added, or added on two merged branches) gets the earliest author time.
    """
    if not paths or gitops.try_resolve(repo_root, "HEAD") is None:
        return {}
    wanted = {gitops.relative(repo_root, p): p for p in paths}
    dirs = sorted({PurePosixPath(rel).parent.as_posix() for rel in wanted})
    out = gitops.output(
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
        *gitops.pathspecs(repo_root, under),
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
        if gitops.looks_like_option(old) or gitops.looks_like_option(new):
            self._done = (128, b"", b"")
            return
        cmd = ("diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff")
        self._proc = gitops.start(repo_root, *cmd, old, new, "--")

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
            if gitops.looks_like_option(rev):
                raise gitops.unknown_revision(self.repo_root, rev)
        entries = self.raw()
        if entries is None:
            for rev in (self.old, self.new):
                gitops.resolve_ref(self.repo_root, rev)
            raise GitError(
                f"`git diff --name-only {self.old} {self.new}` failed in {self.repo_root}: "
                f"{' '.join(self.finish()[2].decode('utf-8', 'replace').split()) or 'no message'}"
                ". Run it yourself to see what git needs."
            )
        return [self.repo_root.joinpath(*PurePosixPath(path).parts) for path, _, _ in entries]


def head_reflog(repo_root: Path, limit: int) -> list[gitfiles.ReflogEntry]:
    """HEAD's LIMIT newest reflog entries, oldest first: read from the file where git keeps
    it plainly (no process), else from ``git log -g``."""
    try:
        dirs = gitfiles.locate(repo_root)
        if dirs is not None:
            return gitfiles.head_reflog(dirs, limit)
    except gitfiles.Unusual:
        pass
    proc = gitops.run(
        repo_root, "log", "-g", f"-n{limit}", "--date=unix", "--format=%H %gd %gs", "HEAD"
    )
    if proc.returncode != 0:
        return []
    entries = []
    for line in reversed(proc.stdout.decode("utf-8", "replace").splitlines()):
        sha, _, rest = line.partition(" ")
        selector, _, subject = rest.partition(" ")  # HEAD@{<unix time>}
        try:
            when = float(selector[selector.index("{") + 1 : selector.index("}")])
        except ValueError:
            when = 0.0
        entries.append(gitfiles.ReflogEntry(sha, when, subject))
    return entries


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
        if gitops.looks_like_option(rev):
            raise gitops.unknown_revision(repo_root, rev)
    proc = gitops.run(repo_root, *args)
    if proc.returncode in (0, 1):
        return proc.returncode
    for rev in revs:
        gitops.resolve_ref(repo_root, rev)
    raise GitError(
        f"`{shown}` failed in {repo_root}: {gitops.stderr_text(proc) or 'no message'}. "
        "Run it yourself to see what git needs."
    )
