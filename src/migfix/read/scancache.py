"""Remember what each revision file declared, keyed by the file's identity.

The post-merge hook and ``migfix check`` run again and again on the same folder, where
almost no file changed since the last run. With this cache a run stats every file but
reads and scans only the changed ones, like git's index does for the work tree.

Safety, as in git's "racy git" rule: an entry is only trusted when inode, size, mtime
and ctime all match, and a file whose mtime or ctime is less than two seconds old is
never stored (it could change again within the filesystem's timestamp granularity
without any of those moving). The cache is a private file under the user's cache
directory (``$MIGFIX_CACHE_DIR``, else ``$XDG_CACHE_HOME/migfix``, else
``~/.cache/migfix``); ``MIGFIX_NO_CACHE=1`` turns it off. Any problem reading or
writing it just means a cold run: it never changes a result.
"""

from __future__ import annotations

import marshal
import os
import time
import zlib
from pathlib import Path
from typing import Any

from migfix import __version__
from migfix.read.revision_file import Field, Issue, RevisionFile, Unknown

# Bump when what the scanner extracts changes, so old entries are not reused.
FORMAT = f"migfix-scan-5/{__version__}"
_RACY_NS = 2_000_000_000

Entry = tuple[tuple[int, int, int, int], Any]


def cache_dir() -> Path | None:
    if os.environ.get("MIGFIX_NO_CACHE"):
        return None
    base = os.environ.get("MIGFIX_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "migfix" if xdg else Path.home() / ".cache" / "migfix"


class LocationCache:
    """The cache of one version location (with its recursive flag)."""

    def __init__(self, location: Path, recursive: bool) -> None:
        self.location = str(location)
        self.recursive = recursive
        base = cache_dir()
        name = f"{zlib.crc32(self.location.encode()):08x}-{int(recursive)}.scan"
        self.path = base / name if base is not None else None
        self.entries: dict[str, Entry] = {}
        self.fresh: dict[str, Entry] = {}
        self.dirty = False
        self.changed = 0
        """Files whose entry no longer matches them (they changed since it was made)."""
        self.now_ns = time.time_ns()
        self._load()

    def _load(self) -> None:
        if self.path is None:
            return
        data = load(self.path)
        # The location is stored too: two locations whose names share a checksum
        # must not read each other's entries.
        if (
            isinstance(data, tuple)
            and len(data) == 4
            and data[0] == FORMAT
            and data[1] == self.location
            and data[2] == self.recursive
            and isinstance(data[3], dict)
        ):
            self.entries = data[3]

    def get(self, path: str, stat: os.stat_result) -> Any | None:
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        entry = self.entries.get(path)
        if entry is not None:
            if entry[0] == key:
                self.fresh[path] = entry
                return entry[1]
            self.changed += 1
        return None

    def put(self, path: str, stat: os.stat_result, record: Any) -> None:
        newest = max(stat.st_mtime_ns, stat.st_ctime_ns)
        if self.now_ns - newest < _RACY_NS:
            return  # too recent to trust its timestamps: scan it again next time
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        self.fresh[path] = (key, record)
        self.dirty = True

    def save(self) -> None:
        if self.path is None:
            return
        # Write only when an entry was added or replaced, or a file went away: a run
        # that found everything cached (or only files too young to store) writes nothing.
        # A changed file too young to store again (every file a merge just wrote) leaves
        # its old entry behind: it can never match again (its ctime moved on), and the
        # run that stores the file replaces it, so it is no reason to rewrite the cache.
        if not self.dirty and len(self.fresh) + self.changed == len(self.entries):
            return
        store(self.path, (FORMAT, self.location, self.recursive, self.fresh))


def load(path: Path) -> Any:
    """What a cache file holds, or None when it is missing or unreadable (a cache miss)."""
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def store(path: Path, data: Any) -> None:
    """Replace a cache file atomically; a read-only home or a full disk only costs speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass


# -- records: a RevisionFile as marshal stores it ----------------------------------------


def _field_record(f: Field) -> tuple[object, int, bool]:
    v = f.value
    # marshal keeps lists and tuples apart: a list marks an Unknown.
    return ([v.source, v.reason] if isinstance(v, Unknown) else v), f.line, f.assigned


def _field_from(rec: tuple[Any, int, bool]) -> Field:
    if type(rec[0]) is list:
        return Field(Unknown(*rec[0]), rec[1], rec[2])
    return Field(*rec)


def to_record(rf: RevisionFile) -> tuple[object, ...]:
    return (
        rf.revision,
        rf.revision_line,
        _field_record(rf.down_revision),
        _field_record(rf.branch_labels),
        _field_record(rf.depends_on),
        rf.revises,
        rf.revises_line,
        rf.doc,
        rf.docstring,
        tuple(tuple(i) for i in rf.issues),
        rf.checked,
    )


def from_record(path: Path, rec: tuple[Any, ...]) -> RevisionFile:
    rev, rev_line, down, labels, deps, revises, revises_line, doc, docstring, issues, checked = rec
    return RevisionFile(
        path,
        rev,
        rev_line,
        _field_from(down),
        _field_from(labels),
        _field_from(deps),
        revises,
        revises_line,
        doc,
        docstring,
        tuple(Issue(*i) for i in issues) if issues else (),
        checked,
    )
