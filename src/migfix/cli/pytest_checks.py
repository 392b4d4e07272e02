"""What the pytest plugin's items and fixtures run (:mod:`migfix.cli.pytest_plugin`).

The plugin imports this module only when a session asks for migfix's items or fixtures:
the plugin itself loads in every pytest session of everyone who installs migfix.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest

from migfix.db import dialect, verify
from migfix.db.pgserver import create_database, embedded_postgres
from migfix.errors import ConfigError, MigfixError
from migfix.project.discover import select
from migfix.project.model import Project
from migfix.read import checks
from migfix.read.graph import read_graph
from migfix.report import formats as report

_SERVER = pytest.StashKey[tuple[str, list[int]]]()


def projects(rootpath: Path) -> list[tuple[Project | None, str, str, Path | None]]:
    """(project, ini section, error, config file) for each project: the one at or above
    pytest's root directory, else every project discovery finds in the repository."""
    try:
        selection = select(rootpath)
    except MigfixError as exc:
        return [(None, "alembic", exc.message, None)]
    if selection.single is not None:
        p = selection.single
        return [(p, p.ini_section, "", p.config_file or p.toml_file or p.script_location)]
    return [
        (e.project, e.section, e.error.message if e.error else "", e.config)
        for e in selection.entries
    ]


def find(rootpath: Path) -> Project:
    """The one project for the fixtures; several projects need a choice the plugin cannot make."""
    found = projects(rootpath)
    if len(found) == 1 and found[0][0] is not None:
        return found[0][0]
    if len(found) == 1:
        raise ConfigError(found[0][2])
    names = ", ".join(str(where) for _, _, _, where in found)
    raise ConfigError(
        f"pytest's root directory {rootpath} holds several Alembic projects ({names}); "
        "migfix_project and migfix_database need one: run pytest from that project's "
        "directory (or give it its own rootdir)."
    )


def graph_failure(project: Project) -> str | None:
    """What ``migfix check`` says of PROJECT's errors; None when it has none."""
    graph = read_graph(project)
    problems = [p for p in checks.problems(graph) if p.severity == "error"]
    if not problems:
        return None
    return report.problems_text(project, problems) + "\n" + report.summary(problems, graph)


def _use_postgres(project: Project, config: pytest.Config) -> bool:
    """--migfix-postgres, or what `migfix verify` would choose by itself (PostgreSQL when
    the project's database is PostgreSQL and the extra is installed)."""
    wanted = True if config.getoption("migfix_postgres") else None
    return dialect.choose(project, wanted, explicit_db=False).postgres


def _postgres_database(config: pytest.Config) -> str:
    """A new empty database on the session's throw-away PostgreSQL server (started on
    first use, stopped and deleted when pytest ends)."""
    if _SERVER not in config.stash:
        stack = contextlib.ExitStack()
        url = stack.enter_context(embedded_postgres())
        config.add_cleanup(stack.close)
        config.stash[_SERVER] = (url, [0])
    url, counter = config.stash[_SERVER]
    counter[0] += 1
    return create_database(url, f"migfix_{counter[0]}")


def _scratch_url(project: Project, config: pytest.Config, tmp: Path) -> tuple[str, str]:
    """(URL, how reports name it) of an empty database for one use."""
    if _use_postgres(project, config):
        return _postgres_database(config), verify.POSTGRES
    return f"sqlite:///{(tmp / 'migfix.db').as_posix()}", verify.SCRATCH


def roundtrip_failure(project: Project, config: pytest.Config, *, only_new: bool) -> str | None:
    """What ``verify --full`` (or only the new revisions) says went wrong; None when every
    step ran. Skips the item when there is nothing new to exercise."""
    # On SQLite, verify's own scratch files (one per Flask bind too); on PostgreSQL, a new
    # database on the session's server.
    url = _postgres_database(config) if _use_postgres(project, config) else None
    result = verify.verify(
        project,
        read_graph(project),
        mode="only-new" if only_new else "full",
        upstream=config.getoption("migfix_upstream"),
        url=url,
        postgres=None if url else False,
    )
    if url:
        result = dataclasses.replace(result, database=verify.POSTGRES)
    if result.failure is not None:
        return verify.failure_text(project, result)
    if only_new and not result.plan.exercised:
        pytest.skip(f"migfix-new: {result.plan.note}")
    return None


def migrated_database(project: Project, config: pytest.Config, tmp: Path) -> tuple[str, str | None]:
    """(URL of a scratch database migrated to the heads, what went wrong or None)."""
    url, shown = _scratch_url(project, config, tmp)
    # verify's default plan ends at the heads, through env.py and the Flask app, with its
    # checks that env.py really used this database.
    result = verify.verify(project, read_graph(project), url=url)
    if result.failure is None:
        return url, None
    return url, verify.failure_text(project, dataclasses.replace(result, database=shown))
