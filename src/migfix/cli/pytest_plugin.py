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
pytest, the standard library and :mod:`migfix.errors`; what the items and fixtures run,
:mod:`migfix.cli.pytest_checks` (and through it Alembic and SQLAlchemy), is imported
inside the functions that run when asked.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migfix.errors import MigfixError

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


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so they apply to these items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.stash.get(_ENABLED, False):
        return
    from migfix.cli import pytest_checks  # only when asked (see the module docstring)

    added: list[MigfixItem] = []
    for project, section, error, where in pytest_checks.projects(config.rootpath):
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
        from migfix.cli import pytest_checks  # only when asked (see the module docstring)

        if self.project is None:
            raise MigfixFailure(self.error)
        try:
            if self.kind == "migfix-graph":
                failure = pytest_checks.graph_failure(self.project)
            else:
                only_new = self.kind == "migfix-new"
                failure = pytest_checks.roundtrip_failure(
                    self.project, self.config, only_new=only_new
                )
        except MigfixError as exc:
            raise MigfixFailure(exc.message) from None
        if failure is not None:
            raise MigfixFailure(failure)

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


@pytest.fixture(scope="session")
def migfix_project(pytestconfig: pytest.Config) -> Project:
    """The Alembic project migfix finds from pytest's root directory."""
    from migfix.cli import pytest_checks  # only when asked (see the module docstring)

    try:
        return pytest_checks.find(pytestconfig.rootpath)
    except MigfixError as exc:
        pytest.fail(exc.message, pytrace=False)


@pytest.fixture
def migfix_database(migfix_project: Project, pytestconfig: pytest.Config, tmp_path: Path) -> str:
    """The URL of a scratch database migrated to the heads (SQLite, or a database on the
    session's throw-away PostgreSQL server with ``--migfix-postgres``), for one test."""
    from migfix.cli import pytest_checks  # only when asked (see the module docstring)

    url, failure = pytest_checks.migrated_database(migfix_project, pytestconfig, tmp_path)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    return url
