"""Which database a project really runs on, and whether ``verify`` should use PostgreSQL.

``verify`` defaults to a scratch SQLite file, which answers a different question from
the one that matters when the project targets PostgreSQL (``ALTER COLUMN ... TYPE``,
``JSONB``, enums, ``CREATE INDEX CONCURRENTLY`` fail on SQLite, and some mistakes pass
there that PostgreSQL rejects). This module reads the configured URL statically (no
import of the app or env.py) and decides.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from migfix.db import pgserver
from migfix.project.ini import ini_options
from migfix.project.model import Project

URL_ENV_VARS = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI")
# Where a URL literal for a Flask app or env.py usually lives.
_SOURCES = ("app.py", "wsgi.py", "config.py", "settings.py", "*/config.py", "*/__init__.py")
_URL = re.compile(r"""["'](postgres(?:ql)?|mysql|mariadb|sqlite|oracle|mssql)[+:][^"']*["']""")


@dataclass(frozen=True)
class Configured:
    dialect: str
    """'postgresql', 'mysql', 'sqlite', ... (a SQLAlchemy backend name)."""
    where: str
    """Where it was read, for messages: 'alembic.ini', '$DATABASE_URL', 'app.py'."""


def _backend(url: str) -> str | None:
    scheme = url.split("://", 1)[0].split("+", 1)[0].strip().lower()
    if not scheme or "://" not in url:
        return None
    return {"postgres": "postgresql", "mariadb": "mysql"}.get(scheme, scheme)


def configured(project: Project) -> Configured | None:
    """The database the project is configured for, read without importing anything:
    from the environment, then the ini file's sqlalchemy.url, then a URL in the sources."""
    return _from_environment() or _from_ini(project) or _from_sources(project)


def _from_environment() -> Configured | None:
    for var in URL_ENV_VARS:
        value = os.environ.get(var)
        backend = _backend(value) if value else None
        if backend:
            return Configured(backend, f"${var}")
    return None


def _from_ini(project: Project) -> Configured | None:
    if project.config_file is None or project.config_file.suffix != ".ini":
        return None
    try:
        url = ini_options(project.config_file, project.ini_section).get("sqlalchemy.url")
    except Exception:
        url = None
    backend = _backend(url) if url else None
    return Configured(backend, project.relpath(project.config_file)) if backend else None


def _from_sources(project: Project) -> Configured | None:
    candidates: list[Path] = []
    if project.script_location is not None:
        candidates.append(project.script_location / "env.py")
    for pattern in _SOURCES:
        candidates.extend(sorted(project.root.glob(pattern)))
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        m = _URL.search(text)
        backend = _backend(m.group(0).strip("\"'")) if m else None
        if backend:
            return Configured(backend, project.relpath(path))
    return None


@dataclass(frozen=True)
class Choice:
    postgres: bool
    note: str
    """One line for the user, or ''."""


def choose(project: Project, postgres: bool | None, *, explicit_db: bool) -> Choice:
    """Decide whether ``verify`` runs on the embedded PostgreSQL server.

    ``postgres``: True (``--postgres``), False (``--sqlite``) or None (decide).
    ``explicit_db``: ``--url`` or ``--use-app-db`` was given, so nothing is chosen.
    """

    if postgres is not None or explicit_db:
        return Choice(bool(postgres), "")
    found = configured(project)
    if found is None or found.dialect != "postgresql":
        return Choice(False, "")
    if pgserver.available():
        return Choice(
            True,
            f"verify: the project's database is PostgreSQL ({found.where}), so migfix runs "
            "the migrations on a throw-away PostgreSQL server (--sqlite for SQLite).",
        )
    return Choice(
        False,
        f"verify: the project's database is PostgreSQL ({found.where}) but this runs on "
        f"SQLite, which may not match; `{pgserver.EXTRA_HINT}` to verify on PostgreSQL.",
    )


# Errors that SQLite (or SQLAlchemy's SQLite dialect) gives for features it does not have.
_DIALECT_ERRORS = re.compile(
    r"CompileError|UnsupportedCompilationError|can't render element of type|"
    r"No support for ALTER|NotImplementedError|"
    r"sqlite3\.OperationalError: (near \"[^\"]*\": syntax error|no such function|"
    r"unknown database|unrecognized token)",
)


def looks_like_dialect_error(error: str) -> bool:
    """True when a failure on SQLite looks like a feature SQLite does not have."""
    return _DIALECT_ERRORS.search(error) is not None


def sqlite_hint() -> str:
    extra = "" if pgserver.available() else f" (after `{pgserver.EXTRA_HINT}`)"
    return (
        "This looks like a feature SQLite does not have, not a bug in the migration: run "
        f"`migfix verify --postgres`{extra} to verify on a real PostgreSQL server."
    )
