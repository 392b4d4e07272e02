"""Which projects the installed hook acts on: the one ``hook install -c/-n/-d`` recorded
(:class:`migfix.hook.watch.Watch`), the one at or above where git runs the hook, and those
discovery finds that the merge touched.

Only the static reader is imported here; the hook imports this module only once the merge
touched a file that may matter (:func:`migfix.hook.watch.may_matter`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from migfix.errors import ConfigError, MigfixError
from migfix.git import gitops
from migfix.hook.watch import Watch
from migfix.project import discover
from migfix.project.config import find_project
from migfix.project.discover import Entry
from migfix.project.model import relpath


def choose(
    cwd: Path, config: Path | None, name: str | None, directory: Path | None
) -> Watch | None:
    """``hook install -c/-n/-d`` given in CWD: check the project loads, record it."""
    if config is None and name is None and directory is None:
        return None
    find_project(cwd, config=config, name=name or "alembic", directory=directory)
    repo = gitops.find_repo(cwd) or cwd

    def rel(path: Path | None) -> str | None:
        if path is None:
            return None
        full = (cwd / path).absolute()
        return full.relative_to(repo).as_posix() if full.is_relative_to(repo) else str(full)

    return Watch(rel(config), name, rel(directory))


def watch_report(repo: Path, watch: Watch | None) -> list[dict[str, str | None]]:
    """The projects the hook watches in REPO: label, config (relative to REPO), error."""

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


def watched(
    repo: Path, cwd: Path, watch: Watch | None, changed: Sequence[Path] | None
) -> list[Entry]:
    """The projects the hook acts on: those CHANGED touched (every one when None), from
    the project at or above CWD, the one recorded by ``hook install -c/-n/-d`` (WATCH) and
    discovery."""
    return list(projects(repo, cwd, watch, changed))


def projects(
    repo: Path, cwd: Path, watch: Watch | None, changed: Sequence[Path] | None
) -> Iterator[Entry]:
    """``watched``, one project at a time: with CHANGED None, git lists the repository's
    configs for discovery while the hook fixes the projects found first."""
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
