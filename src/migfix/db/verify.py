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
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migfix.db import dialect
from migfix.db.connect import (
    Target,
    alembic_config_for,
    app_context,
    frames,
    hide_password,
    import_message,
    is_flask,
    one_line,
    sqlite_url,
    url_key,
)
from migfix.db.pgserver import embedded_postgres
from migfix.errors import ConfigError, MigfixError, Refusal
from migfix.plan.settled import classify
from migfix.project.model import Project
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
    _refuse_options(project, mode=mode, url=url, use_app_db=use_app_db, postgres=postgres)
    plan = _plan_for(project, graph, mode=mode, steps=steps, upstream=upstream)
    choice = dialect.choose(project, postgres, explicit_db=bool(url) or use_app_db)
    target = Target()
    if url:
        target.urls[None] = url
    elif not use_app_db and not choice.postgres:
        target.scratch_dir = Path(tempfile.mkdtemp(prefix="migfix-verify-"))
        target.urls[None] = sqlite_url(target.scratch_dir / "scratch.db")
    database = (
        SCRATCH if target.scratch_dir else (hide_password(url) if url else "the app's database")
    )
    flask = load_app is not None or is_flask(project)
    old_cwd = Path.cwd()
    server = contextlib.ExitStack()
    try:
        if choice.postgres:
            # Started inside the try: stopped and deleted by the ExitStack on any exit.
            target.server_url = server.enter_context(embedded_postgres())
            target.urls[None] = target.server_url
            database = POSTGRES
        # Alembic and Flask resolve relative paths (script_location, FLASK_APP, app.py)
        # against the current directory: run where the user would run them.
        if load_app is None:
            os.chdir(project.root)
        with app_context(project, target, flask, use_app_db, load_app) as app_ext:
            config = alembic_config_for(project, target, app_ext)
            _probe(project, config, target, allow_existing=allow_existing or target.scratch_dir)
            ran, failure = _run_steps(project, graph, config, plan)
            return Result(plan, database, ran, failure, len(graph.nodes), choice.note)
    finally:
        os.chdir(old_cwd)
        server.close()
        if target.scratch_dir is not None:
            shutil.rmtree(target.scratch_dir, ignore_errors=True)


def _refuse_options(
    project: Project, *, mode: str, url: str | None, use_app_db: bool, postgres: bool | None
) -> None:
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


def _plan_for(
    project: Project, graph: Graph, *, mode: str, steps: int, upstream: str | None
) -> Plan:
    if mode == "full":
        return plan_full(graph)
    if mode == "only-new":
        newness = classify(project, graph, upstream=upstream)
        return plan_only_new(graph, newness.new, newness.reason)
    return plan_steps(graph, steps)


def _run_steps(
    project: Project, graph: Graph, config: Any, plan: Plan
) -> tuple[int, Failure | None]:
    """Run PLAN's steps in order; stop at the first that fails."""
    for ran, step in enumerate(plan.steps):
        try:
            _run(config, step)
        except Exception as exc:
            return ran, _failure(project, graph, step, exc)
    return len(plan.steps), None


def _run(config: Any, step: Step) -> None:
    from alembic import command

    if step.direction == "upgrade":
        command.upgrade(config, step.target)
    else:
        command.downgrade(config, step.target)


# -- the probe: what env.py connects to, before anything is migrated --------------------


def _probe(project: Project, config: Any, target: Target, *, allow_existing: object) -> None:
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
        raise ConfigError(import_message(project, exc)) from None
    except Exception as exc:
        raise ConfigError(
            f"env.py failed before any migration ran: {one_line(exc)}. Nothing was migrated. "
            "Fix the error (run `alembic current` or `flask db current` to see it in full) "
            "and run migfix verify again."
        ) from None
    if not seen:
        raise ConfigError(
            "env.py ran but never connected to a database (offline mode?), so nothing can be "
            "verified. Make env.py run migrations online with a connection."
        )
    expected = {url_key(u) for u in target.urls.values()}
    for url, tables in seen:
        if expected and url_key(url) not in expected:
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


# -- messages -----------------------------------------------------------------------------


def _failure(project: Project, graph: Graph, step: Step, exc: Exception) -> Failure:
    by_path = {os.path.abspath(f.path): f for f in graph.files if f.revision}
    revision = step.revision
    path: Path | None = graph.nodes[revision].path if revision in graph.nodes else None
    for filename in reversed(frames(exc.__traceback__)):
        f = by_path.get(filename)
        if f is not None:
            revision, path = f.revision, f.path
            break
    return Failure(revision, step.direction, step, one_line(exc), path)


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
    if result.database == SCRATCH and dialect.looks_like_dialect_error(f.error):
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
