"""migfix's pytest plugin (``pytest11`` entry point): the migration checks as test items.

Off until asked, with ``pytest --migfix`` or ``[tool.migfix] pytest = true``. Then each
project gets three items that fail with migfix's own messages:

* ``migfix-graph``: every ``migfix check`` error (label-aware heads, unknown parents, ...);
* ``migfix-roundtrip``: every revision up, down and up again (``verify --full``, merge
  points included) on SQLite, or a throw-away PostgreSQL with ``--migfix-postgres``;
* ``migfix-new``: the same for the revisions new since the upstream ref only.

Fixtures: ``migfix_project`` (the :class:`migfix.project.model.Project`) and ``migfix_database``
(the URL of a scratch database migrated to the heads).

Being installed costs nothing to anyone else's test run: this module imports only
pytest and the standard library; migfix's modules (and through them Alembic and
SQLAlchemy) are imported inside the functions that run when asked.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from migfix.project.model import Project

_ENABLED = pytest.StashKey[bool]()
ITEMS = ("migfix-graph", "migfix-roundtrip", "migfix-new")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migfix", "Alembic migration checks (migfix)")
    group.addoption(
        "--migfix",
        action="store_true",
        default=False,
        help="Add migfix's items: migfix-graph, migfix-roundtrip, migfix-new "
        "(also on with [tool.migfix] pytest = true).",
    )
    group.addoption(
        "--migfix-postgres",
        action="store_true",
        default=False,
        help="Run migfix-roundtrip, migfix-new and migfix_database on a throw-away PostgreSQL "
        "server (pip install 'migfix[postgres]').",
    )
    group.addoption(
        "--migfix-upstream",
        metavar="REF",
        default=None,
        help="For migfix-new: revisions not on REF are new (default: as for migfix merge).",
    )


def _enabled_in_pyproject(rootpath: Path) -> bool:
    path = rootpath / "pyproject.toml"
    if not path.is_file():
        return False
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    tool = data.get("tool", {})
    section = tool.get("migfix", {}) if isinstance(tool, dict) else {}
    return isinstance(section, dict) and section.get("pytest") is True


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_ENABLED] = bool(config.getoption("migfix")) or _enabled_in_pyproject(
        config.rootpath
    )


def _projects(rootpath: Path) -> list[tuple[Project | None, str, str, Path | None]]:
    """(project, ini section, error, config file) for each project: the one at or above
    pytest's root directory, else every project discovery finds in the repository."""
    from migfix.errors import MigfixError
    from migfix.project.discover import select

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


def _find(rootpath: Path) -> Project:
    """The one project for the fixtures; several projects need a choice the plugin cannot make."""
    from migfix.errors import ConfigError

    found = _projects(rootpath)
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


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so they apply to these items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.stash.get(_ENABLED, False):
        return
    added: list[MigfixItem] = []
    for project, section, error, where in _projects(config.rootpath):
        parent: pytest.Session | MigfixFile = session
        if where is not None:
            # Items live under the project's config file: `backend/alembic.ini::migfix-graph`.
            parent = MigfixFile.from_parent(session, path=where)
        suffix = f"[{section}]" if section != "alembic" else ""
        added.extend(
            MigfixItem.from_parent(
                parent, name=name + suffix, kind=name, project=project, error=error
            )
            for name in ITEMS
        )
    items.extend(added)
    # Reported like collected items, so "collected N items" and -k / -m counts include them.
    report = pytest.CollectReport("", "passed", None, list[pytest.Item | pytest.Collector](added))
    config.hook.pytest_collectreport(report=report)


class MigfixFile(pytest.File):
    """The project's config file, as the parent of its items (never collected itself)."""

    def collect(self) -> list[pytest.Item]:
        return []


class MigfixFailure(Exception):
    """A check found problems; the message is what pytest shows."""


class MigfixItem(pytest.Item):
    def __init__(
        self, *, kind: str, project: Project | None, error: str = "", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.project = project
        self.error = error

    def runtest(self) -> None:
        from migfix.errors import MigfixError

        if self.project is None:
            raise MigfixFailure(self.error)
        try:
            if self.kind == "migfix-graph":
                _check_graph(self.project)
            else:
                _roundtrip(self.project, self.config, only_new=self.kind == "migfix-new")
        except MigfixError as exc:
            raise MigfixFailure(exc.message) from None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, MigfixFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if isinstance(item, MigfixItem) and report.skipped and isinstance(report.longrepr, tuple):
        # Name the project, not the line of this plugin that called pytest.skip.
        report.longrepr = (str(item.path), 1, report.longrepr[2])
    return report


def _check_graph(project: Project) -> None:
    from migfix.read import checks
    from migfix.read.graph import read_graph
    from migfix.report import formats as report

    graph = read_graph(project)
    problems = [p for p in checks.problems(graph) if p.severity == "error"]
    if problems:
        raise MigfixFailure(
            report.problems_text(project, problems) + "\n" + report.summary(problems, graph)
        )


_SERVER = pytest.StashKey[tuple[str, list[int]]]()


def _use_postgres(project: Project, config: pytest.Config) -> bool:
    """--migfix-postgres, or what `migfix verify` would choose by itself (PostgreSQL when
    the project's database is PostgreSQL and the extra is installed)."""
    from migfix.db import dialect

    wanted = True if config.getoption("migfix_postgres") else None
    return dialect.choose(project, wanted, explicit_db=False).postgres


def _postgres_database(config: pytest.Config) -> str:
    """A new empty database on the session's throw-away PostgreSQL server (started on
    first use, stopped and deleted when pytest ends)."""
    import contextlib

    from migfix.db.pgserver import create_database, embedded_postgres

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
    from migfix.db import verify

    if _use_postgres(project, config):
        return _postgres_database(config), verify.POSTGRES
    return f"sqlite:///{(tmp / 'migfix.db').as_posix()}", verify.SCRATCH


def _roundtrip(project: Project, config: pytest.Config, *, only_new: bool) -> None:
    import dataclasses

    from migfix.db import verify
    from migfix.read.graph import read_graph

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
        raise MigfixFailure(verify.failure_text(project, result))
    if only_new and not result.plan.exercised:
        pytest.skip(f"migfix-new: {result.plan.note}")


@pytest.fixture(scope="session")
def migfix_project(pytestconfig: pytest.Config) -> Project:
    """The Alembic project migfix finds from pytest's root directory."""
    from migfix.errors import MigfixError

    try:
        return _find(pytestconfig.rootpath)
    except MigfixError as exc:
        pytest.fail(exc.message, pytrace=False)


@pytest.fixture
def migfix_database(migfix_project: Project, pytestconfig: pytest.Config, tmp_path: Path) -> str:
    """The URL of a scratch database migrated to the heads (SQLite, or a database on the
    session's throw-away PostgreSQL server with ``--migfix-postgres``), for one test."""
    from migfix.db import verify
    from migfix.read.graph import read_graph

    url, shown = _scratch_url(migfix_project, pytestconfig, tmp_path)
    # verify's default plan ends at the heads, through env.py and the Flask app, with its
    # checks that env.py really used this database.
    result = verify.verify(migfix_project, read_graph(migfix_project), url=url)
    if result.failure is not None:
        import dataclasses

        result = dataclasses.replace(result, database=shown)
        pytest.fail(verify.failure_text(migfix_project, result), pytrace=False)
    return url
