"""Files of another commit's tree, read through GitPython, following committed symlinks.

The one place migfix uses GitPython (imported inside :func:`read_tree_files`, so importing
this module stays cheap): ``read.gittree`` reads plain trees with ``git ls-tree`` and comes
here only when a version location holds or is reached through a symlink.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from migfix.git import gitops

if TYPE_CHECKING:
    import git


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

    sha = gitops.resolve_ref(repo_root, ref)
    rel = gitops.relative(repo_root, directory)
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
            raise gitops.missing_object(repo_root, ref, rel, exc) from exc
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
