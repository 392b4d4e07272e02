"""Run the migrations for real, up and down, on a scratch database.

Unlike the rest of migfix this needs the project's code: migrations are code, and
``env.py`` imports the models or the Flask app. They are run the way Alembic runs
them, through ``alembic.command`` with a ``Config`` built for the project, so what
passes here passes for ``alembic upgrade`` / ``flask db upgrade``.

Safety comes first: before any migration runs, ``env.py`` is run once with a
"probe" that only looks at the connection it opened (no version table is created).
If that connection is not the database migfix was given (an ``env.py`` that takes
its URL from somewhere else), or a given database already has tables, nothing runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from migfix.errors import ConfigError, MigfixError, Refusal
from migfix.project.config import Project
from migfix.read.graph import Graph

MODES = ("steps", "full", "only-new")
SCRATCH = "a temporary SQLite database"
POSTGRES = "a throw-away PostgreSQL server"
APP_LOADER_KEY = "migfix.load_app"
"""``ctx.meta`` key: how ``flask migfix`` hands its Flask app loader to ``verify``."""


@dataclass(frozen=True)
class Step:
    """One ``alembic.command`` call."""

    direction: str
    """'upgrade' or 'downgrade'."""
    target: str
    """What is passed to Alembic: 'heads', a revision id, or 'rev@-1'."""
    revision: str | None
    """The one revision this step runs, or None when it runs several."""


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    exercised: tuple[str, ...]
    """Revisions run down and up again, in the order they go up."""
    note: str = ""


@dataclass(frozen=True)
class Failure:
    revision: str | None
    direction: str
    step: Step
    error: str
    """The database error, as one line."""
    path: Path | None = None


@dataclass(frozen=True)
class Result:
    plan: Plan
    database: str
    """What was migrated, for reports: SCRATCH or a URL without its password."""
    steps_run: int
    failure: Failure | None = None
    revisions: int = 0
    choice: str = ""
    """Why this database was chosen (PostgreSQL picked by itself, or SQLite may not match)."""

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass
class _Target:
    urls: dict[str | None, str] = field(default_factory=dict)
    """Bind key (None: the default database) -> URL migfix points env.py at."""
    scratch_dir: Path | None = None
    server_url: str | None = None
    """The throw-away PostgreSQL server's URL (``--postgres``): binds get databases there."""


# -- plans: pure functions of the graph ------------------------------------------------


def _down_target(graph: Graph, rev: str, applied: set[str]) -> str:
    """How to ask Alembic to take exactly ``rev`` (a leaf of ``applied``) down.

    ``rev@-1`` does it for a revision with one parent; for a merge revision Alembic
    calls that an "Ambiguous walk", so it is asked to go down to a parent whose only
    applied descendant is ``rev``.
    """
    down = [p for p in graph.nodes[rev].down if p in graph.nodes]
    if len(down) <= 1:
        return f"{rev}@-1"
    for parent in down:
        if graph.descendants(parent) & applied == {rev}:
            return parent
    return f"{rev}@-1"


def _down_up(graph: Graph, revs: Sequence[str], applied: set[str]) -> list[Step]:
    """Take ``revs`` down newest first, then up again oldest first."""
    steps: list[Step] = []
    for rev in reversed(revs):
        applied.discard(rev)
        steps.append(Step("downgrade", _down_target(graph, rev, applied | {rev}), rev))
    for rev in revs:
        applied.add(rev)
        steps.append(Step("upgrade", rev, rev))
    return steps


def plan_steps(graph: Graph, n: int = 1) -> Plan:
    """``upgrade heads``, the last ``n`` revisions down one by one, then up again."""
    order = graph.topological_order()
    if n < 1:
        raise Refusal(f"--steps {n}: give a number of revisions of at least 1.")
    note = ""
    if n > len(order):
        note = f"--steps {n} is more than the {len(order)} revisions; all of them were stepped"
        n = len(order)
    tail = order[len(order) - n :] if n else []
    steps = [Step("upgrade", "heads", None), *_down_up(graph, tail, set(order))]
    return Plan(tuple(steps), tuple(tail), note)


def plan_full(graph: Graph) -> Plan:
    """base -> heads -> base -> heads, each revision down and up on its own."""
    order = graph.topological_order()
    steps = [Step("upgrade", "heads", None), *_down_up(graph, order, set(order))]
    return Plan(tuple(steps), tuple(order))


def plan_only_new(graph: Graph, new: frozenset[str], reason: str = "") -> Plan:
    """Settled revisions up in one go, then each new one up, down and up again."""
    order = graph.topological_order()
    tainted: set[str] = set()
    for rev in order:
        if rev in new or any(p in tainted for p in graph.nodes[rev].down):
            tainted.add(rev)
    settled = [r for r in order if r not in tainted]
    settled_set = set(settled)
    settled_heads = [r for r in settled if not any(c in settled_set for c in graph.children[r])]
    steps = [Step("upgrade", h, None) for h in settled_heads]
    applied = set(settled)
    exercised: list[str] = []
    for rev in order:
        if rev not in tainted:
            continue
        applied.add(rev)
        steps.append(Step("upgrade", rev, rev))
        if rev in new:
            exercised.append(rev)
            steps.append(Step("downgrade", _down_target(graph, rev, applied), rev))
            steps.append(Step("upgrade", rev, rev))
    if not exercised:
        note = "no new revisions to exercise" + (f" ({reason})" if reason else "")
        steps.append(Step("upgrade", "heads", None))
        return Plan(tuple(steps), (), note)
    return Plan(tuple(steps), tuple(exercised), reason)


# -- running -----------------------------------------------------------------------------


def verify(
    project: Project,
    graph: Graph,
    *,
    mode: str = "steps",
    steps: int = 1,
    upstream: str | None = None,
    url: str | None = None,
    allow_existing: bool = False,
    use_app_db: bool = False,
    load_app: Callable[[], Any] | None = None,
    postgres: bool | None = None,
) -> Result:
    """Run ``graph``'s migrations through Alembic on a scratch database (or ``url``).

    ``load_app`` is how to get the Flask app (``flask migfix`` passes its own); by
    default ``flask.cli.ScriptInfo().load_app()`` from the project directory, as
    ``flask db`` does. Raises a :class:`MigfixError` for anything that stops the run
    before a migration ran; a migration that fails is a :class:`Failure` in the result.
    ``postgres``: True runs on a throw-away PostgreSQL server (``migfix[postgres]``), False
    on SQLite, None decides from the project's configured database (``dialect.choose``).
    """
    if mode not in MODES:
        raise Refusal(f"Unknown verify mode '{mode}'; expected one of {', '.join(MODES)}.")
    if url and use_app_db:
        raise Refusal("--url and --use-app-db both name the database to migrate; give only one.")
    if postgres and (url or use_app_db):
        raise Refusal(
            "--postgres starts its own database, and "
            f"{'--url' if url else '--use-app-db'} names another; give only one."
        )
    if project.script_location is None or not (project.script_location / "env.py").is_file():
        raise ConfigError(
            "verify runs the migrations through env.py, and this project has none "
            f"(script_location: {project.script_location}). Run migfix from the project "
            "or pass -c alembic.ini / -d migrations instead of --versions."
        )
    if mode == "full":
        plan = plan_full(graph)
    elif mode == "only-new":
        from migfix.plan.settled import classify

        newness = classify(project, graph, upstream=upstream)
        plan = plan_only_new(graph, newness.new, newness.reason)
    else:
        plan = plan_steps(graph, steps)

    from migfix.db import dialect

    choice = dialect.choose(project, postgres, explicit_db=bool(url) or use_app_db)
    target = _Target()
    if url:
        target.urls[None] = url
    elif not use_app_db and not choice.postgres:
        target.scratch_dir = Path(tempfile.mkdtemp(prefix="migfix-verify-"))
        target.urls[None] = _sqlite_url(target.scratch_dir / "scratch.db")
    database = SCRATCH if target.scratch_dir else (_safe_url(url) if url else "the app's database")
    flask = load_app is not None or _is_flask(project)
    old_cwd = Path.cwd()
    server = contextlib.ExitStack()
    try:
        if choice.postgres:
            from migfix.db.pgserver import embedded_postgres

            # Started inside the try: stopped and deleted by the ExitStack on any exit.
            target.server_url = server.enter_context(embedded_postgres())
            target.urls[None] = target.server_url
            database = POSTGRES
        # Alembic and Flask resolve relative paths (script_location, FLASK_APP, app.py)
        # against the current directory: run where the user would run them.
        if load_app is None:
            os.chdir(project.root)
        with _app_context(project, target, flask, use_app_db, load_app) as app_ext:
            config = _alembic_config(project, target, app_ext)
            _probe(project, config, target, allow_existing=allow_existing or target.scratch_dir)
            ran = 0
            for step in plan.steps:
                try:
                    _run(config, step)
                except Exception as exc:
                    failure = _failure(project, graph, step, exc)
                    return Result(plan, database, ran, failure, len(graph.nodes), choice.note)
                ran += 1
            return Result(plan, database, ran, None, len(graph.nodes), choice.note)
    finally:
        os.chdir(old_cwd)
        server.close()
        if target.scratch_dir is not None:
            shutil.rmtree(target.scratch_dir, ignore_errors=True)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def _is_flask(project: Project) -> bool:
    if project.kind == "flask":
        return True
    env = project.script_location / "env.py" if project.script_location else None
    try:
        return env is not None and "current_app" in env.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def _alembic_config(project: Project, target: _Target, app_ext: Any) -> Any:
    from migfix.project.config import alembic_config

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


def _run(config: Any, step: Step) -> None:
    from alembic import command

    if step.direction == "upgrade":
        command.upgrade(config, step.target)
    else:
        command.downgrade(config, step.target)


# -- the probe: what env.py connects to, before anything is migrated --------------------


def _url_key(url: Any) -> tuple[Any, ...]:
    """Enough of a URL to tell two databases apart (drivers and query options aside)."""
    from sqlalchemy.engine import make_url

    u = make_url(url) if isinstance(url, str) else url
    database = u.database
    if u.get_backend_name() == "sqlite" and database and database != ":memory:":
        database = os.path.realpath(database)
    return (u.get_backend_name(), u.host, u.port, u.username, database)


def _probe(project: Project, config: Any, target: _Target, *, allow_existing: object) -> None:
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    seen: list[tuple[Any, list[str]]] = []

    def look(_rev: Any, context: Any) -> list[Any]:
        import sqlalchemy

        # Load every revision file now: an import error there is reported like one in
        # env.py, before anything ran.
        script.get_heads()
        conn = context.connection
        tables = [t for t in sqlalchemy.inspect(conn).get_table_names() if t != "alembic_version"]
        if not tables and context.get_current_heads():
            # An empty alembic_version table is fine; one holding a revision is not an empty
            # database, even when the migrations so far created no table.
            tables = ["alembic_version"]
        seen.append((conn.engine.url, tables))
        return []

    try:
        script = ScriptDirectory.from_config(config)
        with EnvironmentContext(config, script, fn=look, dont_mutate=True):
            script.run_env()
    except MigfixError:
        raise
    except ImportError as exc:
        raise ConfigError(_import_message(project, exc)) from None
    except Exception as exc:
        raise ConfigError(
            f"env.py failed before any migration ran: {_one_line(exc)}. Nothing was migrated. "
            "Fix the error (run `alembic current` or `flask db current` to see it in full) "
            "and run migfix verify again."
        ) from None
    if not seen:
        raise ConfigError(
            "env.py ran but never connected to a database (offline mode?), so nothing can be "
            "verified. Make env.py run migrations online with a connection."
        )
    expected = {_url_key(u) for u in target.urls.values()}
    for url, tables in seen:
        if expected and _url_key(url) not in expected:
            raise Refusal(
                "env.py connected to "
                f"{url.render_as_string(hide_password=True)} instead of the database migfix "
                "gave it, so it takes its URL from somewhere other than sqlalchemy.url (or the "
                "Flask app's engine). Nothing was migrated. Make env.py read "
                'config.get_main_option("sqlalchemy.url"), or pass --use-app-db to run on the '
                "database env.py chooses."
            )
        if tables and not allow_existing:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise Refusal(
                f"The database {url.render_as_string(hide_password=True)} already has tables "
                f"({shown}); verify downgrades and upgrades, which can destroy data. Nothing "
                "was migrated. Give an empty database, or pass --allow-existing if this one "
                "may be changed."
            )


# -- Flask --------------------------------------------------------------------------------


@contextmanager
def _app_context(
    project: Project,
    target: _Target,
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
        with _engines_swapped(app, ext.db, target):
            yield ext


def _load_app(project: Project, load_app: Callable[[], Any] | None) -> Any:
    try:
        import flask.cli
    except ImportError as exc:
        raise ConfigError(_import_message(project, exc)) from None
    if load_app is None:
        # `flask db` reads .flaskenv / .env first (FLASK_APP often lives there).
        flask.cli.load_dotenv()
        # `flask` reads FLASK_APP through its --app option; ScriptInfo alone never does.
        load_app = flask.cli.ScriptInfo(app_import_path=os.environ.get("FLASK_APP")).load_app
    try:
        return load_app()
    except ImportError as exc:
        raise ConfigError(_import_message(project, exc)) from None
    except flask.cli.NoAppException as exc:
        # Flask turns an ImportError inside the app module into NoAppException with the
        # traceback as text; the ImportError itself is kept as the context.
        if isinstance(exc.__context__, ImportError):
            raise ConfigError(_import_message(project, exc.__context__)) from None
        text = " ".join(str(exc).split())
        raise ConfigError(
            f"Cannot load the Flask app: {text} Set FLASK_APP (or --app under "
            "`flask migfix`), or run migfix from the directory that holds app.py or wsgi.py."
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"Creating the Flask app failed: {_one_line(exc)}. The app factory may need "
            "settings (environment variables, a .env file or an instance config): set them "
            "as you would for `flask db upgrade`, and run again."
        ) from None


@contextmanager
def _engines_swapped(app: Any, db: Any, target: _Target) -> Iterator[None]:
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
            from migfix.db.pgserver import create_database

            target.urls[bind] = create_database(target.server_url, f"bind_{safe}")
            continue
        assert target.scratch_dir is not None
        target.urls[bind] = _sqlite_url(target.scratch_dir / f"bind-{safe}.db")
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


# -- messages -----------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
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


def _frames(tb: TracebackType | None) -> list[str]:
    return [os.path.abspath(f.filename) for f in traceback.extract_tb(tb)]


def _import_message(project: Project, exc: ImportError) -> str:
    where = ""
    for filename in reversed(_frames(exc.__traceback__)):
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
        what = f"{_one_line(exc)}{where}"
        todo = "fix the import, or run migfix from the project's virtualenv"
    return (
        f"Cannot import the project's migration environment: {what}. verify runs env.py "
        f"and the app's code like Alembic does, so they must import: {todo}. Nothing was "
        "migrated."
    )


def _failure(project: Project, graph: Graph, step: Step, exc: Exception) -> Failure:
    by_path = {os.path.abspath(f.path): f for f in graph.files if f.revision}
    revision = step.revision
    path: Path | None = graph.nodes[revision].path if revision in graph.nodes else None
    for filename in reversed(_frames(exc.__traceback__)):
        f = by_path.get(filename)
        if f is not None:
            revision, path = f.revision, f.path
            break
    return Failure(revision, step.direction, step, _one_line(exc), path)


def failure_text(project: Project, result: Result) -> str:
    """One paragraph: which revision failed, in which direction, and the database error."""
    f = result.failure
    assert f is not None
    call = f"`alembic {f.step.direction} {f.step.target}`"
    if f.revision is not None:
        where = f" ({project.relpath(f.path)})" if f.path else ""
        head = f"Revision {f.revision}{where} failed on {f.direction}"
    else:
        head = f"A migration failed on {f.direction} (could not tell which revision)"
    text = (
        f"{head}, during {call} on {result.database}: {f.error}. Fix its "
        f"{f.direction}() and run migfix verify again."
    )
    if result.database == SCRATCH:
        from migfix.db import dialect

        if dialect.looks_like_dialect_error(f.error):
            text += " " + dialect.sqlite_hint()
    return text


def summary_text(result: Result) -> str:
    """The short line printed on success."""
    plan = result.plan
    if plan.exercised:
        shown = ", ".join(plan.exercised[-5:])
        more = f" and {len(plan.exercised) - 5} more" if len(plan.exercised) > 5 else ""
        walk = f"stepped {len(plan.exercised)} revision(s) down and up again ({shown}{more})"
    else:
        walk = "nothing stepped down"
    note = f"; {plan.note}" if plan.note else ""
    return (
        f"verify: ok on {result.database}: upgraded to heads ({result.revisions} "
        f"revisions), {walk}{note}."
    )
