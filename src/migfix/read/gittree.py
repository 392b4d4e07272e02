"""Read revision files out of a git tree, scanning each blob once per machine.

``merge`` (which revisions are settled), ``rebase --onto`` and ``check --against`` read the
version locations of another commit. A blob id names its content, so what the scanner found
in it never changes: it is kept in a cache beside the scan cache (``blobs.scan`` in the
same directory, see ``scancache``), keyed by blob id and file name (a file without a
``revision`` takes its id from its name). A second run lists the tree (one ``git ls-tree``)
and reads from git only the blobs it has not seen (one ``git cat-file --batch``).

Plain subprocesses, no GitPython: importing it costs more than the whole listing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from migfix.git import gitops, trees
from migfix.read.revision_file import RevisionFile
from migfix.read.scan import SOURCE_FILE, scan_file, walk_key
from migfix.read.scancache import FORMAT, cache_dir, from_record, load, store, to_record

_SYMLINK, _SUBMODULE = b"120000", b"160000"
_MAX_ENTRIES = 100_000


class BlobCache:
    """Scan records of git blobs, keyed by ``"<blob id>/<file name>"``."""

    def __init__(self) -> None:
        base = cache_dir()
        self.format = FORMAT
        self.path = base / "blobs.scan" if base is not None else None
        self.entries: dict[str, Any] = {}
        self.added = False
        if self.path is None:
            return
        data = load(self.path)
        if (
            isinstance(data, tuple)
            and len(data) == 2
            and data[0] == FORMAT
            and isinstance(data[1], dict)
        ):
            self.entries = data[1]

    def get(self, key: str) -> Any | None:
        return self.entries.get(key)

    def put(self, key: str, record: Any) -> None:
        self.entries[key] = record
        self.added = True

    def save(self) -> None:
        if self.path is None or not self.added:
            return
        if len(self.entries) > _MAX_ENTRIES:
            # Bounded: start again rather than grow for ever (the cost is one cold run).
            self.entries = dict(list(self.entries.items())[-_MAX_ENTRIES // 2 :])
        store(self.path, (self.format, self.entries))


def list_tree(
    repo: Path,
    sha: str,
    directory: Path,
    *,
    recursive: bool,
    ref: str = "",
    only: Sequence[Path] | None = None,
) -> list[tuple[Path, str, bool]] | None:
    """The files under DIRECTORY in commit SHA's tree as (work tree path, blob id, whether
    it is a symlink); None when the tree has no such directory (or reaches it through a
    symlink). Submodules are left out. With ONLY (paths under DIRECTORY), just those are
    asked for."""
    rel = gitops.relative(repo, directory)
    args = ["ls-tree", "-z", "--full-tree"]
    if recursive:
        args.append("-r")
    args.append(sha)
    if only is not None:
        if not only:
            return []
        args += ["--", *(gitops.relative(repo, p) for p in only)]
    elif rel != ".":
        args += ["--", rel + "/"]
    proc = gitops.run(repo, *args)
    if proc.returncode != 0:
        raise gitops.missing_object(
            repo, ref or sha, rel, ValueError(gitops.stderr_text(proc) or "no message")
        )
    entries = [e for e in proc.stdout.split(b"\0") if e]
    if not entries and rel != "." and only is None:
        return None
    skip = 0 if rel == "." else len(PurePosixPath(rel).parts)
    out: list[tuple[Path, str, bool]] = []
    for entry in entries:
        meta, _, raw = entry.partition(b"\t")
        mode, kind, oid = meta.split(b" ")
        if kind != b"blob" or mode == _SUBMODULE:
            continue
        # Spelled from DIRECTORY as the caller spelled it, like files read from disk.
        parts = PurePosixPath(os.fsdecode(raw)).parts[skip:]
        out.append((directory.joinpath(*parts), oid.decode("ascii"), mode == _SYMLINK))
    return out


def cat_blobs(repo: Path, oids: Sequence[str]) -> dict[str, bytes]:
    """The content of each blob (full ids) git has, in one ``git cat-file --batch``; a
    missing one is left out."""
    if not oids:
        return {}
    proc = gitops.run(repo, "cat-file", "--batch", stdin="".join(o + "\n" for o in oids).encode())
    if proc.returncode != 0:
        return {}
    data = proc.stdout
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        out[header[0].decode()] = data[pos : pos + size]
        pos += size + 1
    return out


def read_blobs(repo: Path, oids: Sequence[str], *, ref: str, rel: str) -> dict[str, bytes]:
    """The content of each blob, in one ``git cat-file --batch``; a missing one is an error."""
    out = cat_blobs(repo, oids)
    for oid in oids:
        if oid not in out:
            raise gitops.missing_object(repo, ref, rel, ValueError(f"object {oid} is missing"))
    return out


def tree_files(
    locations: Sequence[Path],
    repo: Path,
    sha: str,
    *,
    ref: str,
    recursive: bool,
    on_missing: Callable[[Path], None] | None = None,
    only: set[Path] | None = None,
    full: bool = True,
) -> list[RevisionFile]:
    """The revision files of these version locations as commit SHA has them, in Alembic's
    load order (as ``scan.scan_sources`` orders them), each blob scanned at most once per
    machine. With ONLY, just those paths. FULL as for ``scan.scan_file`` (a record made
    without compiling the file never stands in for one made with it)."""
    per_loc: list[tuple[Path, dict[Path, str]]] = []
    linked: dict[Path, RevisionFile] = {}
    for loc in locations:
        # A few paths are asked for by name (the command line stays short); many, or a
        # whole location, by listing the folder.
        asked = None
        if only is not None and len(only) <= 200:
            asked = [p for p in only if _under(p, loc, recursive)]
        entries = list_tree(repo, sha, loc, recursive=recursive, ref=ref, only=asked)
        if entries is None or any(is_link for _p, _o, is_link in entries):
            # Symlinks (a linked revision file, a linked folder): gitops follows them
            # inside the tree. Rare, so read without the cache.
            files = trees.read_tree_files(repo, sha, loc, recursive=recursive)
            if files is None and on_missing is not None:
                on_missing(loc)
            chosen = {p: d for p, d in (files or {}).items() if _asked(p, only)}
            linked.update((path, scan_file(path, data, full=full)) for path, data in chosen.items())
            per_loc.append((loc, dict.fromkeys(chosen, "")))
            continue
        per_loc.append((loc, {path: oid for path, oid, _ in entries if _asked(path, only)}))
    rel = gitops.relative(repo, locations[0]) if locations else "."
    found = _scanned(repo, per_loc, ref=ref, rel=rel, full=full)
    out: list[RevisionFile] = []
    for loc, listed in per_loc:
        for path in sorted(listed, key=lambda p: walk_key(p, loc)):
            if not listed[path]:
                out.append(linked[path])
                continue
            rf = found[(listed[path], path.name)]
            # The record is shared by equal blobs: give this file its own path.
            out.append(rf if rf.path == path else _with_path(rf, path))
    return out


def _asked(path: Path, only: set[Path] | None) -> bool:
    return (only is None or path in only) and _wanted(path)


def _scanned(
    repo: Path, per_loc: list[tuple[Path, dict[Path, str]]], *, ref: str, rel: str, full: bool
) -> dict[tuple[str, str], RevisionFile]:
    """Each listed blob scanned, keyed by (blob id, file name): from the blob cache, else
    read from git (all in one ``cat-file``) and scanned once."""
    cache = BlobCache()
    found: dict[tuple[str, str], RevisionFile] = {}
    unread: dict[str, Path] = {}
    for _loc, listed in per_loc:
        for path, oid in listed.items():
            key = (oid, path.name)
            if not oid or key in found or oid in unread:
                continue
            record = cache.get(_key(oid, path, full))
            if record is None:
                unread[oid] = path
            else:
                found[key] = from_record(path, record)
    if not unread:
        return found
    contents = read_blobs(repo, list(unread), ref=ref, rel=rel)
    for _loc, listed in per_loc:
        for path, oid in listed.items():
            key = (oid, path.name)
            if oid and oid in contents and key not in found:
                rf = scan_file(path, contents[oid], full=full)
                found[key] = rf
                cache.put(_key(oid, path, full), to_record(rf))
    cache.save()
    return found


def _both(repo: Path, first: Sequence[str], second: Sequence[str]) -> tuple[bytes, bytes]:
    """The output of two git commands run side by side; a failure is a GitError."""
    procs = [gitops.start(repo, *args) for args in (first, second)]  # no git: a GitError
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode != 0 for p in procs):
        # Run again in the plain way: it raises the error with git's own message.
        return gitops.output(repo, *first), gitops.output(repo, *second)
    return outs[0], outs[1]


def _holds_links(locations: Sequence[Path], recursive: bool) -> bool:
    """Whether a version location holds a symlink (a linked revision file or folder): one
    directory listing each, no stat per file."""
    pending = list(locations)
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        return True
                    if recursive and entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
        except OSError:
            continue
    return False


def _through_links(repo: Path, locations: Sequence[Path]) -> bool:
    """Whether a version location, or a folder between it and the work tree root, is a
    symlink (or lies outside the work tree)."""
    for loc in locations:
        folder = loc
        while folder != repo:
            if folder.is_symlink():
                return True
            if folder.parent == folder:
                return True
            folder = folder.parent
    return False


def _wanted(path: Path) -> bool:
    """Alembic's file-name filter, as ``scan.scan_sources`` applies it."""
    return SOURCE_FILE.match(path.name) is not None and "__pycache__" not in path.parts


def _key(oid: str, path: Path, full: bool) -> str:
    return f"{oid}/{path.name}/{'full' if full else 'ids'}"


def _under(path: Path, loc: Path, recursive: bool) -> bool:
    return path.parent == loc or (recursive and loc in path.parents)


def _with_path(rf: RevisionFile, path: Path) -> RevisionFile:
    return from_record(path, to_record(rf))


def revisions_on(
    locations: Sequence[Path],
    repo: Path,
    ref: str,
    work: Sequence[RevisionFile],
    *,
    recursive: bool,
) -> set[str]:
    """The revision ids REF's tree declares in these version locations, reading only what
    differs from the work tree.

    A work tree file that ``git diff REF`` does not list, and that git tracks, has REF's
    content, so the revision already read from it (WORK) is REF's. Only the files that
    differ are read out of REF's tree (through the blob cache).
    """
    sha = gitops.resolve_ref(repo, ref)
    specs = gitops.pathspecs(repo, locations)
    if not specs:
        return set()
    if _through_links(repo, locations) or _holds_links(locations, recursive):
        # git compares a symlink's target text, not the files it leads to: read REF whole.
        listed = tree_files(locations, repo, sha, ref=ref, recursive=recursive, full=False)
        return {f.revision for f in listed if f.revision}
    # Both questions at once: two git processes cost little more than one.
    diff, untracked = _both(
        repo,
        (
            "--literal-pathspecs",
            "diff",
            "--name-status",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            sha,
            "--",
            *specs,
        ),
        # --directory: a folder git tracks nothing in is one name, not walked file by file
        # (Alembic's __pycache__ beside 5,000 revisions took longer than the diff).
        ("--literal-pathspecs", "ls-files", "--others", "--directory", "-z", "--", *specs),
    )
    # "<status>\0<path>\0" pairs; a file the work tree added (A) is not in REF's tree.
    fields = diff.split(b"\0")
    changes = list(zip(fields[0::2], fields[1::2], strict=False))
    differ = {gitops.from_git_path(repo, raw) for _status, raw in changes if raw}
    in_ref = {gitops.from_git_path(repo, raw) for status, raw in changes if raw and status != b"A"}
    # Only revision files matter; other untracked files (ignored ones are listed too) would
    # cost a Path each for nothing.
    others = untracked.split(b"\0")
    unknown_to_git = {gitops.from_git_path(repo, raw) for raw in others if raw.endswith(b".py")}
    # Every file below an untracked folder is unknown to git too (a __pycache__ holds none).
    folders = tuple(
        os.path.join(gitops.from_git_path(repo, raw), "")
        for raw in others
        if raw.endswith(b"/") and b"__pycache__" not in raw
    )
    # Compared as text: a file's path text is already made (the scan cache is keyed by
    # it), while hashing 5,000 Paths the first time costs ~7 ms.
    elsewhere = {str(p) for p in differ | unknown_to_git}
    same = {
        f.revision
        for f in work
        if f.revision
        and str(f.path) not in elsewhere
        and not (folders and str(f.path).startswith(folders))
    }
    if not in_ref:
        return same
    theirs = tree_files(locations, repo, sha, ref=ref, recursive=recursive, only=in_ref, full=False)
    return same | {f.revision for f in theirs if f.revision}
