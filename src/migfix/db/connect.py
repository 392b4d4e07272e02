"""Connecting to a project's database the way ``alembic current`` does: through the project's
own ``env.py`` (and the Flask app's engines under Flask), with ``--url`` replacing
``sqlalchemy.url`` when given; and naming a database without its password.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError, MigfixError
from migfix.project.config import Project


def safe_url(url: Any) -> str:
    """A URL as SQLAlchemy renders it with ``hide_password=True``."""
    from migfix.db.verify import _safe_url

    return _safe_url(str(url)) if isinstance(url, str) else str(url.render_as_string(True))


def database_key(url: Any) -> str:
    """Which database this is, for the journal: no password, no driver, no options."""
    from migfix.db.verify import _url_key

    backend, host, port, user, database = _url_key(url)
    where = f"{user + '@' if user else ''}{host or ''}{':' + str(port) if port else ''}"
    return f"{backend}://{where}/{database or ''}"


def mask(text: str, url: str | None) -> str:
    """TEXT with the password of URL (and any user:password@ in a URL) masked."""
    if url:
        try:
            from sqlalchemy.engine import make_url

            password = make_url(url).password
        except Exception:
            password = None
        if password:
            text = text.replace(str(password), "***")
    return re.sub(r"(//[^:/@\s]*):[^@/\s]+@", r"\1:***@", text)


def run_env(
    project: Project,
    url: str | None,
    load_app: Callable[[], Any] | None,
    fn: Callable[[Any, Any], Any],
    *,
    as_sql: bool = False,
    **opts: Any,
) -> None:
    """Run the project's env.py once with FN as the migration function, as Alembic does."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    from migfix.db import verify as v

    if project.script_location is None or not (project.script_location / "env.py").is_file():
        raise ConfigError(
            "migfix db connects through env.py, and this project has none "
            f"(script_location: {project.script_location}). Run migfix from the project or "
            "pass -c alembic.ini / -d migrations."
        )
    target = v._Target()
    if url:
        target.urls[None] = url
    flask = load_app is not None or v._is_flask(project)
    old_cwd = Path.cwd()
    try:
        if load_app is None:
            os.chdir(project.root)
        with v._app_context(project, target, flask, not url, load_app) as app_ext:
            config = v._alembic_config(project, target, app_ext)
            script = ScriptDirectory.from_config(config)
            with EnvironmentContext(config, script, fn=fn, as_sql=as_sql, **opts):
                script.run_env()
    finally:
        os.chdir(old_cwd)


def env_error(exc: BaseException, url: str | None, doing: str) -> MigfixError:
    from migfix.db.verify import _one_line

    return ConfigError(
        f"Could not {doing}: {mask(_one_line(exc), url)}. Check that the database is "
        "reachable with the URL env.py uses (run `alembic current` or `flask db current` to "
        "see it), or pass --url."
    )


@dataclass
class Seen:
    url: Any = None
    heads: tuple[str, ...] = ()
    connected: bool = False


def read_heads(project: Project, url: str | None, load_app: Callable[[], Any] | None) -> Seen:
    seen = Seen()

    def look(_rev: Any, context: Any) -> list[Any]:
        seen.url = context.connection.engine.url
        seen.heads = tuple(context.get_current_heads())
        seen.connected = True
        return []

    try:
        run_env(project, url, load_app, look, dont_mutate=True)
    except MigfixError:
        raise
    except ImportError as exc:
        from migfix.db.verify import _import_message

        raise ConfigError(_import_message(project, exc)) from None
    except Exception as exc:
        raise env_error(exc, url, "read the database's alembic_version") from None
    if not seen.connected:
        raise ConfigError(
            "env.py ran but never connected to a database (offline mode?), so migfix cannot "
            "read which revisions it ran. Make env.py run online with a connection."
        )
    return seen
