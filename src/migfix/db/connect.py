"""Connecting to a project's database the way Alembic does: through the project's own
``env.py`` (and the Flask app's engines under Flask, swapped for migfix's target), with
``--url`` replacing ``sqlalchemy.url`` when given; naming a database without its password;
and a failure in the project's code as one line. ``verify``, ``db status`` and ``db sync``
all connect through here.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from migfix.db.pgserver import create_database
from migfix.errors import ConfigError, MigfixError, Refusal
from migfix.project.config import alembic_config
from migfix.project.model import Project


def safe_url(url: Any) -> str:
    """A URL as SQLAlchemy renders it with ``hide_password=True``."""
    return hide_password(str(url)) if isinstance(url, str) else str(url.render_as_string(True))


def database_key(url: Any) -> str:
    """Which database this is, for the journal: no password, no driver, no options."""
    backend, host, port, user, database = url_key(url)
    where = f"{user + '@' if user else ''}{host or ''}{':' + str(port) if port else ''}"
    return f"{backend}://{where}/{database or ''}"


def mask(text: str) -> str:
    """TEXT with the password field of every URL and connection string in it masked.

    Only the field is masked, never the password's text wherever it occurs: a password of
    one letter replaced throughout the message would spell itself out.
    """
    text = re.sub(r"(//[^:/@\s]*):[^@/\s]*@", r"\1:***@", text)
    # libpq's key=value form (psycopg quotes a connection string in some errors).
    return re.sub(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text)


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

    if project.script_location is None or not (project.script_location / "env.py").is_file():
        raise ConfigError(
            "migfix db connects through env.py, and this project has none "
            f"(script_location: {project.script_location}). Run migfix from the project or "
            "pass -c alembic.ini / -d migrations."
        )
    target = Target()
    if url:
        target.urls[None] = url
    flask = load_app is not None or is_flask(project)
    old_cwd = Path.cwd()
    try:
        if load_app is None:
            os.chdir(project.root)
        with app_context(project, target, flask, not url, load_app) as app_ext:
            config = alembic_config_for(project, target, app_ext)
            script = ScriptDirectory.from_config(config)
            with EnvironmentContext(config, script, fn=fn, as_sql=as_sql, **opts):
                script.run_env()
    finally:
        os.chdir(old_cwd)


def env_error(exc: BaseException, url: str | None, doing: str) -> MigfixError:
    return ConfigError(
        f"Could not {doing}: {mask(one_line(exc))}. Check that the database is "
        "reachable with the URL env.py uses (run `alembic current` or `flask db current` to "
        "see it), or pass --url."
    )


@dataclass
class Seen:
    url: Any = None
    key: str = ""
    """The database's identity, taken while env.py runs: a relative SQLite path means the
    file the connection opened, from the folder env.py runs in, not from the caller's."""
    heads: tuple[str, ...] = ()
    connected: bool = False


def read_heads(project: Project, url: str | None, load_app: Callable[[], Any] | None) -> Seen:
    seen = Seen()

    def look(_rev: Any, context: Any) -> list[Any]:
        seen.url = context.connection.engine.url
        seen.key = database_key(seen.url)
        seen.heads = tuple(context.get_current_heads())
        seen.connected = True
        return []

    try:
        run_env(project, url, load_app, look, dont_mutate=True)
    except MigfixError:
        raise
    except ImportError as exc:
        raise ConfigError(import_message(project, exc)) from None
    except Exception as exc:
        raise env_error(exc, url, "read the database's alembic_version") from None
    if not seen.connected:
        raise ConfigError(
            "env.py ran but never connected to a database (offline mode?), so migfix cannot "
            "read which revisions it ran. Make env.py run online with a connection."
        )
    return seen


# -- the project's env.py, its Alembic config, and the Flask app -------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


@dataclass
class Target:
    urls: dict[str | None, str] = field(default_factory=dict)
    """Bind key (None: the default database) -> URL migfix points env.py at."""
    scratch_dir: Path | None = None
    server_url: str | None = None
    """The throw-away PostgreSQL server's URL (``--postgres``): binds get databases there."""


def hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def is_flask(project: Project) -> bool:
    if project.kind == "flask":
        return True
    env = project.script_location / "env.py" if project.script_location else None
    try:
        return env is not None and "current_app" in env.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def alembic_config_for(project: Project, target: Target, app_ext: Any) -> Any:
    config = alembic_config(project)
    if None in target.urls:
        # ConfigParser interpolation: a literal % in a URL (an escaped password) is %%.
        config.set_main_option("sqlalchemy.url", target.urls[None].replace("%", "%%"))
    if app_ext is not None:
        # Migrate.configure callbacks may change the config; `flask db` applies them too.
        callbacks = getattr(getattr(app_ext, "migrate", None), "call_configure_callbacks", None)
        if callbacks is not None:
            config = callbacks(config)
    return config


def url_key(url: Any) -> tuple[Any, ...]:
    """Enough of a URL to tell two databases apart (drivers and query options aside)."""
    from sqlalchemy.engine import make_url

    u = make_url(url) if isinstance(url, str) else url
    database = u.database
    if u.get_backend_name() == "sqlite" and database and database != ":memory:":
        database = os.path.realpath(database)
    return (u.get_backend_name(), u.host, u.port, u.username, database)


@contextmanager
def app_context(
    project: Project,
    target: Target,
    flask: bool,
    use_app_db: bool,
    load_app: Callable[[], Any] | None,
) -> Iterator[Any]:
    """Create the Flask app and, unless ``use_app_db``, point its engines at ``target``."""
    if not flask:
        yield None
        return
    app = _load_app(project, load_app)
    with app.app_context():
        ext = app.extensions.get("migrate")
        if ext is None:
            raise ConfigError(
                f"The Flask app '{app.name}' has no Flask-Migrate extension, but env.py "
                "expects one (current_app.extensions['migrate']). Create Migrate(app, db) "
                "in the app, or check FLASK_APP points at the right app."
            )
        if use_app_db:
            yield ext
            return
        with engines_swapped(app, ext.db, target):
            yield ext


def _load_app(project: Project, load_app: Callable[[], Any] | None) -> Any:
    try:
        import flask.cli
    except ImportError as exc:
        raise ConfigError(import_message(project, exc)) from None
    if load_app is None:
        # `flask db` reads .flaskenv / .env first (FLASK_APP often lives there).
        flask.cli.load_dotenv()
        # `flask` reads FLASK_APP through its --app option; ScriptInfo alone never does.
        load_app = flask.cli.ScriptInfo(app_import_path=os.environ.get("FLASK_APP")).load_app
    try:
        return load_app()
    except ImportError as exc:
        raise ConfigError(import_message(project, exc)) from None
    except flask.cli.NoAppException as exc:
        # Flask turns an ImportError inside the app module into NoAppException with the
        # traceback as text; the ImportError itself is kept as the context.
        if isinstance(exc.__context__, ImportError):
            raise ConfigError(import_message(project, exc.__context__)) from None
        text = " ".join(str(exc).split())
        raise ConfigError(
            f"Cannot load the Flask app: {text} Set FLASK_APP (or --app under "
            "`flask migfix`), or run migfix from the directory that holds app.py or wsgi.py."
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"Creating the Flask app failed: {one_line(exc)}. The app factory may need "
            "settings (environment variables, a .env file or an instance config): set them "
            "as you would for `flask db upgrade`, and run again."
        ) from None


@contextmanager
def engines_swapped(app: Any, db: Any, target: Target) -> Iterator[None]:
    """Replace Flask-SQLAlchemy 3's engines for ``app`` with engines on ``target``.

    Flask-SQLAlchemy creates engines in ``init_app`` and never reads the config again,
    so changing ``SQLALCHEMY_DATABASE_URI`` alone would not reach env.py: the engines
    themselves (``db._app_engines[app]``, 3.x internals) are replaced, and put back after.
    """
    app_engines = getattr(db, "_app_engines", None)
    if app_engines is None or app not in app_engines or not hasattr(db, "_make_engine"):
        raise ConfigError(
            f"Cannot point the app's database at a scratch database: its db object "
            f"({type(db).__module__}.{type(db).__name__}) is not Flask-SQLAlchemy 3. Pass "
            "--use-app-db to run on the app's own database (with --allow-existing if it "
            "has tables)."
        )
    engines: dict[str | None, Any] = app_engines[app]
    binds = [k for k in engines if k is not None]
    if binds and target.scratch_dir is None and target.server_url is None:
        raise Refusal(
            f"The app uses more than one database (binds: {', '.join(map(str, binds))}) and "
            "--url names only one. Run without --url to use temporary SQLite databases, or "
            "pass --use-app-db."
        )
    for bind in binds:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(bind))
        if target.server_url is not None:
            target.urls[bind] = create_database(target.server_url, f"bind_{safe}")
            continue
        assert target.scratch_dir is not None
        target.urls[bind] = sqlite_url(target.scratch_dir / f"bind-{safe}.db")
    saved = dict(engines)
    saved_config = {k: app.config.get(k) for k in ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_BINDS")}
    made: dict[str | None, Any] = {}
    try:
        for key in saved:
            # Only the URL: pool options written for the real server may not apply to it.
            options: dict[str, Any] = {"url": target.urls[key]}
            db._apply_driver_defaults(options, app)
            made[key] = db._make_engine(key, options, app)
        engines.clear()
        engines.update(made)
        if None in target.urls:
            app.config["SQLALCHEMY_DATABASE_URI"] = target.urls[None]
        if binds:
            app.config["SQLALCHEMY_BINDS"] = {k: target.urls[k] for k in binds}
        yield
    finally:
        for engine in made.values():
            engine.dispose()
        engines.clear()
        engines.update(saved)
        app.config.update(saved_config)


def one_line(exc: BaseException) -> str:
    from sqlalchemy.exc import StatementError

    if isinstance(exc, StatementError) and exc.orig is not None:
        orig = exc.orig
        name = type(orig).__qualname__
        module = type(orig).__module__
        text = f"{module}.{name}: {orig}" if module != "builtins" else f"{name}: {orig}"
        if exc.statement:
            sql = " ".join(str(exc.statement).split())
            text += f" [SQL: {sql[:300]}{'...' if len(sql) > 300 else ''}]"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


def frames(tb: TracebackType | None) -> list[str]:
    return [os.path.abspath(f.filename) for f in traceback.extract_tb(tb)]


def import_message(project: Project, exc: ImportError) -> str:
    where = ""
    for filename in reversed(frames(exc.__traceback__)):
        if not filename.startswith("<") and "importlib" not in Path(filename).parts:
            where = f" (imported by {project.relpath(Path(filename))})"
            break
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        what = f"No module named '{exc.name}'{where}"
        todo = (
            f"install '{exc.name.split('.')[0]}' in the environment migfix runs in (or run "
            "migfix from the project's virtualenv), or fix the import"
        )
    else:
        what = f"{one_line(exc)}{where}"
        todo = "fix the import, or run migfix from the project's virtualenv"
    return (
        f"Cannot import the project's migration environment: {what}. verify runs env.py "
        f"and the app's code like Alembic does, so they must import: {todo}. Nothing was "
        "migrated."
    )
