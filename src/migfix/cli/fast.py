"""The ``migfix`` entry point: ``heads``, ``check`` and ``merge`` without importing click.

``heads`` and ``check`` run in git hooks and pre-commit, where start-up is most of their
time, and importing click alone costs about a third of a ``check`` (and ~30 ms of a
``merge`` that only moves revisions). A plain invocation of these (the options listed
below, in any order) is parsed here the way click parses it and run through ``commands.heads``
/ ``writecmds``, exactly as ``cli`` runs it; anything else (another command, ``--help``,
an option this parser does not know, a value click would reject) goes to ``cli.main``
unchanged, so click still gives every message and the help.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migfix.project.config import Project

_FLAGS = {
    "heads": {"--json": "as_json", "-v": "verbose", "--verbose": "verbose"},
    "check": {"--strict": "strict", "--deep": "deep", "--fetch": "fetch"},
    "merge": {
        "--no-repoint": "no_repoint",
        "--dry-run": "dry_run",
        "--json": "as_json",
        "--strict": "strict",
    },
}
_VALUES: dict[str, dict[str, str]] = {
    "heads": {},
    "check": {"--format": "fmt", "--against": "against"},
    "merge": {
        "-m": "message",
        "--message": "message",
        "--rev-id": "rev_id",
        "--branch-label": "branch_label",
        "--upstream": "upstream",
        "--new": "new",
    },
}
_PROJECT_VALUES = {
    "-c": "config",
    "--config": "config",
    "-n": "name",
    "--name": "name",
    "--versions": "versions",
}
_REPEATABLE = ("new", "versions")
_FORMATS = ("text", "json", "github")


def _path_ok(value: str, *, file_okay: bool, dir_okay: bool) -> bool:
    """Whether click.Path(file_okay, dir_okay) accepts VALUE (else click prints why)."""
    try:
        st = os.stat(value)
    except OSError:
        return True  # need not exist
    if (not file_okay and stat.S_ISREG(st.st_mode)) or (not dir_okay and stat.S_ISDIR(st.st_mode)):
        return False
    return os.access(value, os.R_OK)


def _parse(argv: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its options, or None when click must handle this command line.

    As click's parser: a value option takes the rest of its word (``--name=x``, ``-nx``;
    ``-n=x`` is ``=x``) or else the next word whatever it looks like (``-m --json`` is the
    message ``--json``); a later value wins, except for the repeatable ones.
    """
    if not argv or argv[0] not in _FLAGS:
        return None
    command, rest = argv[0], list(argv[1:])
    opts: dict[str, Any] = {"versions": [], "new": [], "heads": [], "recursive": False}
    flags, values = _FLAGS[command], _VALUES[command]
    while rest:
        word = rest.pop(0)
        if word == "--":
            return None
        if not word.startswith("-") or word == "-":
            if command != "merge" or word == "-":
                return None  # check's FILES pick projects: click's path (migfix.cli.every_project)
            opts["heads"].append(word)
            continue
        if word.startswith("--"):
            name, eq, inline = word.partition("=")
            attached = inline if eq else None
        else:
            name, attached = word[:2], word[2:] or None
        if name in flags or name == "--recursive":
            if attached is not None:
                return None  # `--json=1`, or short options run together: click's message
            opts[flags.get(name, "recursive")] = True
            continue
        key = values.get(name) or _PROJECT_VALUES.get(name)
        if key is None:
            return None
        if attached is not None:
            value = attached
        elif rest:
            value = rest.pop(0)
        else:
            return None  # click's "requires an argument"
        if key == "fmt" and value not in _FORMATS:
            return None
        if key in ("config", "versions"):
            if not _path_ok(value, file_okay=key == "config", dir_okay=key == "versions"):
                return None
            if key == "versions":
                opts["versions"].append(Path(value))
            else:
                opts["config"] = Path(value)
        elif key in _REPEATABLE:
            opts[key].append(value)
        else:
            opts[key] = value
    return command, opts


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parsed = _parse(args)
    if parsed is None:
        from migfix.cli.main import main as click_main

        return click_main(args)
    command, opts = parsed
    from migfix.errors import EXIT_USAGE, MigfixError

    try:
        return _run(command, opts, args)
    except MigfixError as exc:
        _err(f"migfix: {exc.message}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        from migfix.write.lock import interrupted_line

        text, code = interrupted_line(exc)
        _err(f"migfix: {text}")
        return code
    except BrokenPipeError:  # `migfix heads | head -1`
        return 0
    except OSError as exc:
        # As cli.main: a full disk, a read-only mount, an immutable file (merge writes).
        from migfix.report.oserrors import describe

        _err(f"migfix: {describe(exc)}")
        return EXIT_USAGE
    except Exception as exc:  # pragma: no cover - last line of defence, as in cli.main
        if os.environ.get("MIGFIX_DEBUG"):
            raise
        _err(
            f"migfix: internal error: {type(exc).__name__}: {exc}. This is a bug in migfix; "
            "run again with MIGFIX_DEBUG=1 for the traceback and report it."
        )
        return EXIT_USAGE


# Flushed at once, as click.echo does, so stdout and stderr interleave as through click
# (merge's report, then its notice on stderr) when both go to one file.
def _echo(text: str) -> None:
    _write(sys.stdout, text)


def _err(text: str) -> None:
    _write(sys.stderr, text)


def _write(stream: Any, text: str) -> None:
    # A stream Python could not open (`migfix heads >&-`) is None: say nothing there, as
    # click.echo does.
    if stream is not None:
        stream.write(text + "\n")
        stream.flush()


def _project(opts: dict[str, Any]) -> Project | None:
    """The project the options name; None when click's path must run (several projects
    below here and none at or above)."""
    from migfix.project.config import find_project

    config = opts.get("config")
    if config is not None or opts.get("name") or opts["versions"]:
        return find_project(
            Path.cwd(),
            config=config,
            name=str(opts.get("name") or "alembic"),
            versions=tuple(opts["versions"]),
            recursive=bool(opts["recursive"]),
            directory=None,
        )
    # As migfix.cli.every_project: the project at or above here, else every project discovery
    # finds, which click's path prints project by project.
    from migfix.project import discover

    return discover.select(Path.cwd()).single


def _run(command: str, opts: dict[str, Any], args: Sequence[str]) -> int:
    from migfix.write import txn

    project = _project(opts)
    if project is None:
        from migfix.cli.main import main as click_main

        return click_main(list(args))
    # As cli._project: first undo a change that a killed migfix left half done.
    txn.recover(project.root, project)
    if command == "heads":
        from migfix.commands import heads as headscmd

        return headscmd.heads(
            project,
            as_json=bool(opts.get("as_json")),
            verbose=bool(opts.get("verbose")),
            echo=_echo,
        )
    if command == "merge":
        from migfix.commands import merge as writecmds

        return writecmds.merge(
            project,
            heads=opts["heads"],
            message=opts.get("message"),
            rev_id=opts.get("rev_id"),
            branch_label=opts.get("branch_label"),
            no_repoint=bool(opts.get("no_repoint")),
            upstream=opts.get("upstream"),
            new=opts["new"],
            dry_run=bool(opts.get("dry_run")),
            as_json=bool(opts.get("as_json")),
            strict=bool(opts.get("strict")),
            echo=_echo,
            err=_err,
        )
    from migfix.commands import check as checkcmd

    against = opts.get("against")
    if against:
        from migfix.plan.against import current_ref

        stale = current_ref(project, str(against), fetch=bool(opts.get("fetch")))
        if stale:
            _err(f"migfix: {stale}")
    return checkcmd.check(
        project,
        fmt=str(opts.get("fmt") or "text"),
        strict=bool(opts.get("strict")),
        deep=bool(opts.get("deep")),
        against=str(against) if against else None,
        prog="migfix",
        echo=_echo,
    )


def _command(args: Sequence[str]) -> str | None:
    """The command word of ARGS, after the global options (``migfix -c x.ini merge``)."""
    rest = iter(args)
    for word in rest:
        if word in _PROJECT_VALUES or word in ("-d", "--directory"):
            next(rest, None)
        elif not word.startswith("-"):
            return word
    return None


# The commands that run the project's own code (env.py, its migrations, the Flask app)
# run with Python's garbage collector as usual (see ``migfix.procexit``); ``hook run``
# scopes it itself.
_RUNS_PROJECT_CODE = ("verify", "db", "hook")


def run() -> None:
    """The console script: ``main``, then a quick exit (see ``migfix.procexit``)."""
    from migfix import procexit

    args = sys.argv[1:]
    if _command(args) in _RUNS_PROJECT_CODE or "--verify" in args:
        procexit.end_quickly(main)
    else:
        procexit.end_quickly(lambda: _own_work(main))


def _own_work(main: Callable[[], int]) -> int:
    from migfix.procexit import own_work

    with own_work():
        return main()


if __name__ == "__main__":  # pragma: no cover
    run()
