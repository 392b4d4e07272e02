"""Every error a run can end with, turned into one paragraph and an exit code: here only.

The click command line (``migfix.cli.main``), the Flask group (``migfix.cli.flask``) and
the hook runner (``migfix.hook.run``) run their work through ``handled``; nothing else
catches an error to report it, and no traceback reaches a user (``MIGFIX_DEBUG=1`` lets an
internal error through, for its traceback).

The hook runs inside ``git merge`` / ``git pull`` / ``git rebase``, and whatever happens
there the user's merge is complete and must stay so: with ``Policy.hook`` set to the git
operation, every error exits 0 (an interruption aside) and says that the operation is
complete and what to run by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from migfix.errors import EXIT_OK, EXIT_USAGE, MigfixError, interrupted_line
from migfix.report.oserrors import describe

T = TypeVar("T")


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Policy(NamedTuple):
    """How errors end a run."""

    say: Callable[[str], None]
    """Print one paragraph on stderr (adding the ``migfix:`` prefix)."""
    hook: str | None = None
    """The git operation that ran the hook ("merge", "rebase", "checkout"): never break it."""
    where: str = ""
    """Which project, in a hook acting on several ("in api: ")."""
    passthrough: tuple[type[BaseException], ...] = ()
    """Exceptions that are no error here (click's own, which click reports; an
    interruption, which the run around this one reports)."""


def handled(work: Callable[[], T], policy: Policy) -> T | int:
    """WORK's result, or the exit code of the error it raised, once said (see above)."""
    try:
        return work()
    except policy.passthrough:
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: any change was undone
        text, code = interrupted_line(exc)
        policy.say(text)
        return code
    except BrokenPipeError:  # `migfix heads | head -1`: the reader had all it wanted
        return EXIT_OK
    except Exception as exc:
        internal = not isinstance(exc, (MigfixError, OSError))
        if internal and policy.hook is None and os.environ.get("MIGFIX_DEBUG"):
            raise
        text, code = _told(exc) if policy.hook is None else _told_in_hook(exc, policy)
        policy.say(text)
        return code


def _told(exc: Exception) -> tuple[str, int]:
    """What a command says of EXC, and its exit code."""
    if isinstance(exc, MigfixError):
        return exc.message, exc.exit_code
    if isinstance(exc, OSError):
        # A full disk, a read-only mount, an immutable file: not a bug, and writes are
        # all-or-nothing, so nothing was changed.
        return describe(exc), EXIT_USAGE
    return (
        f"internal error: {type(exc).__name__}: {exc}. This is a bug in migfix; run again "
        "with MIGFIX_DEBUG=1 for the traceback and report it.",
        EXIT_USAGE,
    )


def _told_in_hook(exc: Exception, policy: Policy) -> tuple[str, int]:
    """What the hook says of EXC: the git operation is complete, and what to run by hand."""
    failed = f"{policy.where}could not fix the migration heads automatically"
    if isinstance(exc, MigfixError):
        return (
            f"{failed}: {exc.message}\nYour {policy.hook} is complete and no file was changed; "
            "run `migfix check` and `migfix merge` by hand.",
            EXIT_OK,
        )
    if isinstance(exc, OSError):
        return (
            f"{failed}: {describe(exc)}\n"
            f"Your {policy.hook} is complete; run `migfix merge` by hand once it is fixed.",
            EXIT_OK,
        )
    return (
        f"{policy.where}internal error ({type(exc).__name__}: {exc}); your {policy.hook} is "
        "complete and no file was changed. Run `migfix merge` by hand, and please report this.",
        EXIT_OK,
    )
