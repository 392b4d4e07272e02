"""Run one command over every Alembic project discovery found (see migfix.project.discover).

Commands stay written for one project: :func:`each_project` wraps a command's function and,
when the directory has no project at or above it (or with ``--all``), calls it once per
project, with ``cli._project`` returning that project. Around each call it prints the
project's heading (text), gathers the printed JSON into one list (``--json`` /
``--format json``), reports a project that cannot be read without stopping the others, and
returns the worst exit code.

With ``-c``, ``-n``, ``-d`` or ``--versions`` the command acts on that one project, and when
a project is found at or above the directory the command runs exactly as before (same text,
same JSON object), so nothing that parsed migfix's output breaks.

JSON across projects is a list with one object per project::

    [{"project": "backend", "config": "backend/alembic.ini", "section": "alembic",
      "exit_code": 1, "result": {...what the command prints for one project...},
      "error": null}]
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from migfix.cli.options import ALL_KEY, CONFIG_KEY, DIRECTORY_KEY, NAME_KEY
from migfix.errors import EXIT_OK, MigfixError
from migfix.project import discover
from migfix.project.config import find_project
from migfix.project.model import Project, relpath
from migfix.write import recovery

F = TypeVar("F", bound=Callable[..., Any])
Labelled = list[tuple[str | None, Any]]
Draw = Callable[[str, Labelled], str]
"""Joins each project's picture (labelled with the project) into one diagram of a format."""

PROJECT_KEY = "migfix.project"
"""``ctx.meta`` key of the project the current call acts on (read by ``cli._project``)."""
FILES_KEY = "migfix.files"
"""``ctx.meta`` key of file names given to the command (pre-commit's staged files)."""
PICTURES_KEY = "migfix.pictures"
"""``ctx.meta`` key of the list ``graph --format mermaid|dot`` appends its picture to when
several projects make one diagram (a subgraph each)."""


def project(
    config: Path | None, name: str | None, versions: tuple[Path, ...], recursive: bool
) -> Project:
    """The project a command acts on: the one discovery chose for this call, else the one
    ``-c``/``-n``/``-d``/``--versions`` name, else the one at or above here.

    ``-d``/``--directory`` (or the app's migrations folder under ``flask migfix``) and
    ``-c``/``-n`` given before the command arrive through ``ctx.meta`` (see
    migfix.cli.options), so no command signature changes.
    """
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    found: Project | None = meta.get(PROJECT_KEY)
    if found is None:
        found = find_project(
            Path.cwd(),
            config=config or meta.get(CONFIG_KEY),
            name=name or meta.get(NAME_KEY) or "alembic",
            versions=versions,
            recursive=recursive,
            directory=meta.get(DIRECTORY_KEY),
        )
    # Every command first undoes a change that a killed migfix left half done.
    recovery.recover(found.root, found)
    return found


def files_argument(f: F) -> F:
    """``FILES...``: act only on the projects these files belong to (what pre-commit passes)."""
    return click.argument(
        "files",
        nargs=-1,
        type=click.Path(path_type=Path),
        expose_value=False,
        callback=_store_files,
    )(f)


def _store_files(ctx: click.Context, _param: click.Parameter, value: tuple[Path, ...]) -> None:
    if value:
        ctx.meta[FILES_KEY] = value


def _explicit(ctx: click.Context, kwargs: dict[str, Any]) -> bool:
    """-c, -n, -d or --versions pick one project: discovery is not asked."""
    meta = ctx.meta
    return bool(
        kwargs.get("config")
        or kwargs.get("name")
        or kwargs.get("versions")
        or meta.get(CONFIG_KEY)
        or meta.get(NAME_KEY)
        or meta.get(DIRECTORY_KEY)
    )


def _mode(kwargs: dict[str, Any]) -> str:
    """json: one list; plain: no headings (GitHub annotations name their files); text."""
    if kwargs.get("as_json") or kwargs.get("fmt") == "json":
        return "json"
    if kwargs.get("fmt") in ("mermaid", "dot"):
        return str(kwargs["fmt"])  # one diagram for all projects
    return "plain" if kwargs.get("fmt") == "github" else "text"


def each_project(fn: F) -> F:
    """Make a one-project command act on every discovered project (see the module doc)."""
    return _each(fn, None)


def each_project_drawn(draw: Draw) -> Callable[[F], F]:
    """:func:`each_project` for a command that draws: with several projects, DRAW joins
    their pictures into one diagram (the drawing code loads with the command that draws)."""
    return functools.partial(_each, draw=draw)


def _each(fn: F, draw: Draw | None) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        ctx.meta.pop(PROJECT_KEY, None)
        if _explicit(ctx, kwargs):
            return fn(*args, **kwargs)
        sel = discover.select(
            Path.cwd(),
            all_projects=bool(ctx.meta.get(ALL_KEY)),
            files=ctx.meta.get(FILES_KEY, ()),
        )
        if sel.single is not None:
            ctx.meta[PROJECT_KEY] = sel.single
            return fn(*args, **kwargs)
        try:
            call = functools.partial(fn, *args, **kwargs)
            return run_each(ctx, sel, call, _mode(kwargs), draw)
        finally:
            ctx.meta.pop(PROJECT_KEY, None)

    return cast(F, wrapper)


def run_each(
    ctx: click.Context,
    sel: discover.Selection,
    call: Callable[[], Any],
    mode: str,
    draw: Draw | None = None,
) -> int:
    """Call CALL once per project of SEL; print grouped output; return the worst exit code."""
    as_json = mode == "json"
    worst = EXIT_OK
    results: list[dict[str, Any]] = []
    pictures: list[Any] = []
    labelled: Labelled = []
    # Only a picture format makes one diagram of every project's picture.
    drawing = draw if mode in ("mermaid", "dot") else None
    if drawing is not None:
        ctx.meta[PICTURES_KEY] = pictures
    for i, entry in enumerate(sel.entries):
        if mode == "text":
            if i:
                click.echo("")
            click.echo(f"==> {entry.label} <==")
        code, error, output = _run_one(ctx, entry, call, as_json=as_json)
        worst = max(worst, code)
        labelled.extend((entry.label, pic) for pic in pictures[len(labelled) :])
        if as_json:
            results.append(_json_result(sel, entry, code, error, output))
    if drawing is not None:
        ctx.meta.pop(PICTURES_KEY, None)
        click.echo(drawing(mode, labelled))
    if as_json:
        # Here, not at the top: every command imports this module, few print JSON, and
        # json is 5.6M instructions of `heads` start (callgrind).
        import json

        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    elif not sel.entries and mode == "text":
        click.echo("No Alembic project among the given files; nothing to check.")
    return worst


def _run_one(
    ctx: click.Context, entry: discover.Entry, call: Callable[[], Any], *, as_json: bool
) -> tuple[int, MigfixError | None, str]:
    """One project's run: its exit code, its error (said on stderr unless JSON) and, for
    JSON, what it printed (captured, to be nested under the project)."""
    error: MigfixError | None = entry.error
    out = io.StringIO()
    code = EXIT_OK
    if error is None:
        ctx.meta[PROJECT_KEY] = entry.project
        try:
            with contextlib.redirect_stdout(out) if as_json else contextlib.nullcontext():
                rv = call()
            code = rv if isinstance(rv, int) else EXIT_OK
        except MigfixError as exc:
            error = exc
    if error is not None:
        code = error.exit_code
        if not as_json:
            click.echo(f"migfix: {entry.label}: {error.message}", err=True)
    return code, error, out.getvalue()


def _json_result(
    sel: discover.Selection,
    entry: discover.Entry,
    code: int,
    error: MigfixError | None,
    output: str,
) -> dict[str, Any]:
    import json  # see run_each

    text = output.strip()
    try:
        result = json.loads(text) if text else None
    except ValueError:
        result = text
    return {
        "project": entry.label,
        "config": relpath(entry.config, sel.root),
        "section": entry.section,
        "exit_code": code,
        "result": result,
        "error": error.message if error is not None else None,
    }
