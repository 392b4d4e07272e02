"""The ``migfix`` entry point: ``heads`` and ``check`` without importing click.

Both run in git hooks and pre-commit, where start-up is most of their time, and importing
click alone costs about a third of a ``check``. A plain invocation of either (the options
listed below, in any order) is parsed here and run through ``readcmds``, exactly as
``cli`` runs it; anything else (another command, ``--help``, an option this parser does
not know, a value click would reject) goes to ``cli.main`` unchanged, so click still
gives every message and the help.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_FLAGS = {
    "heads": {"--json": "as_json", "-v": "verbose", "--verbose": "verbose"},
    "check": {"--strict": "strict", "--deep": "deep"},
}
_VALUES: dict[str, dict[str, str]] = {
    "heads": {},
    "check": {"--format": "fmt", "--against": "against"},
}
_PROJECT_VALUES = {
    "-c": "config",
    "--config": "config",
    "-n": "name",
    "--name": "name",
}
_FORMATS = ("text", "json", "github")


def _parse(argv: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its options, or None when click must handle this command line."""
    if not argv or argv[0] not in _FLAGS:
        return None
    command, rest = argv[0], list(argv[1:])
    opts: dict[str, Any] = {"versions": [], "recursive": False}
    flags, values = _FLAGS[command], _VALUES[command]
    while rest:
        word = rest.pop(0)
        name, eq, inline = word.partition("=")
        if not word.startswith("-") or word in ("-", "--"):
            return None
        if word in flags:
            opts[flags[word]] = True
        elif word == "--recursive":
            opts["recursive"] = True
        elif name in values or name in _PROJECT_VALUES or name == "--versions":
            if eq:
                value = inline
            elif rest and not rest[0].startswith("-"):
                value = rest.pop(0)
            else:
                return None
            if name == "--versions":
                if os.path.isfile(value):
                    return None  # click's "is a file" message
                opts["versions"].append(Path(value))
            elif name in _PROJECT_VALUES:
                if _PROJECT_VALUES[name] == "config" and os.path.isdir(value):
                    return None
                opts[_PROJECT_VALUES[name]] = value
            else:
                if name == "--format" and value not in _FORMATS:
                    return None
                opts[values[name]] = value
        else:
            return None
    return command, opts


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parsed = _parse(args)
    if parsed is None:
        from migfix.cli import main as click_main

        return click_main(args)
    command, opts = parsed
    from migfix.errors import EXIT_USAGE, MigfixError

    try:
        return _run(command, opts, args)
    except MigfixError as exc:
        _err(f"migfix: {exc.message}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        from migfix.txn import interrupted_line

        text, code = interrupted_line(exc)
        _err(f"migfix: {text}")
        return code
    except BrokenPipeError:  # `migfix heads | head -1`
        return 0
    except Exception as exc:  # pragma: no cover - last line of defence, as in cli.main
        if os.environ.get("MIGFIX_DEBUG"):
            raise
        _err(
            f"migfix: internal error: {type(exc).__name__}: {exc}. This is a bug in migfix; "
            "run again with MIGFIX_DEBUG=1 for the traceback and report it."
        )
        return EXIT_USAGE


def _echo(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _run(command: str, opts: dict[str, Any], args: Sequence[str]) -> int:
    from migfix import readcmds, txn
    from migfix.config import find_project

    config = opts.get("config")
    if config or opts.get("name") or opts["versions"]:
        project = find_project(
            Path.cwd(),
            config=Path(str(config)) if config else None,
            name=str(opts.get("name") or "alembic"),
            versions=tuple(opts["versions"]),
            recursive=bool(opts["recursive"]),
            directory=None,
        )
    else:
        # As migfix.across: the project at or above here, else every project discovery
        # finds, which click's path prints project by project.
        from migfix import discover

        sel = discover.select(Path.cwd())
        if sel.single is None:
            from migfix.cli import main as click_main

            return click_main(list(args))
        project = sel.single
    # As cli._project: first undo a change that a killed migfix left half done.
    txn.recover(project.root)
    if command == "heads":
        return readcmds.heads(
            project,
            as_json=bool(opts.get("as_json")),
            verbose=bool(opts.get("verbose")),
            echo=_echo,
        )
    against = opts.get("against")
    return readcmds.check(
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


def run() -> None:
    """The console script: ``main``, then a quick exit (see ``migfix.procexit``)."""
    from migfix.procexit import collect_less, exit_now

    collect_less()
    if _command(sys.argv[1:]) == "merge" and not {"-h", "--help"} & set(sys.argv):
        # A merge may render a file through Alembic: start importing it now, beside
        # everything that comes before the render (see ``migfix.prewarm``).
        from migfix import prewarm

        prewarm.start()

    exit_now(main())


if __name__ == "__main__":  # pragma: no cover
    run()
