"""The errors a user can act on.

Each is raised where the problem is detected and turned into one paragraph and an
exit code in exactly one place, :mod:`migfix.commands.handler`, which the click group, the
Flask group and the hook runner all call. Nothing else prints a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class MigfixError(Exception):
    """Base of every error migfix reports to the user (exit 2 unless a subclass says otherwise)."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(MigfixError):
    """No Alembic project found, or its configuration cannot be read."""


class NoProjectFound(ConfigError):
    """Nothing configures Alembic at or above the directory (discovery may look below it)."""


class ScanError(MigfixError):
    """A revision file cannot be read well enough to act on it."""


class Refusal(MigfixError):
    """migfix will not do what was asked, because it would be wrong or ambiguous."""


class GitError(MigfixError):
    """git could not give what migfix needs (unknown ref, shallow clone, conflicts)."""


SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 15: "SIGTERM"}


def interrupted_line(exc: BaseException) -> tuple[str, int]:
    """The one line to print for Ctrl-C / SIGTERM / SIGHUP, and the exit code (128 + signal)."""
    signum = getattr(exc, "signum", 2)
    name = SIGNAL_NAMES.get(signum, f"signal {signum}")
    state = getattr(exc, "migfix_state", None)
    if state == "undone":
        text = f"interrupted ({name}); the partial change was undone, every file is as it was."
    elif state == "written":
        text = (
            f"interrupted ({name}) after the change was written (every file, and the record "
            "of the revisions it moved); what the command does after writing did not run."
        )
    elif state == "nothing":
        text = f"interrupted ({name}); nothing was written."
    else:
        text = f"interrupted ({name})."
    return text, 128 + signum
