"""The one error handler: every error to one paragraph and an exit code, for the command
line and, with the never-break-the-merge policy, for the hook."""

from __future__ import annotations

import errno
import signal

import pytest

from migfix.commands.handler import Policy, handled
from migfix.errors import ConfigError, Refusal
from migfix.write.lock import Interrupted


def run(exc: BaseException, **policy: object) -> tuple[int, list[str]]:
    said: list[str] = []

    def work() -> int:
        raise exc

    code = handled(work, Policy(said.append, **policy))  # type: ignore[arg-type]
    return int(code), said


def test_a_command_says_the_error_and_exits_with_its_code() -> None:
    assert run(Refusal("Nothing to merge.")) == (2, ["Nothing to merge."])
    assert run(ConfigError("No alembic.ini here.")) == (2, ["No alembic.ini here."])
    code, said = run(OSError(errno.ENOSPC, "No space left on device", "/x/a.py"))
    assert (code, said) == (
        2,
        [
            "/x/a.py: no space left on the device. Nothing was changed. Free some disk space "
            "and run the command again."
        ],
    )


def test_an_internal_error_is_a_paragraph_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGFIX_DEBUG", raising=False)
    code, said = run(ValueError("boom"))
    assert code == 2
    assert said == [
        "internal error: ValueError: boom. This is a bug in migfix; run again with "
        "MIGFIX_DEBUG=1 for the traceback and report it."
    ]
    monkeypatch.setenv("MIGFIX_DEBUG", "1")
    with pytest.raises(ValueError):
        run(ValueError("boom"))


def test_the_hook_never_breaks_the_merge() -> None:
    code, said = run(Refusal("Two heads."), hook="merge", where="in api: ")
    assert code == 0
    assert said == [
        "in api: could not fix the migration heads automatically: Two heads.\n"
        "Your merge is complete and no file was changed; run `migfix check` and "
        "`migfix merge` by hand."
    ]
    code, said = run(ValueError("boom"), hook="rebase")
    assert code == 0 and said[0].startswith("internal error (ValueError: boom); your rebase is")
    code, said = run(OSError(errno.EROFS, "Read-only file system"), hook="merge")
    assert code == 0 and said[0].endswith("run `migfix merge` by hand once it is fixed.")


def test_an_interruption_exits_128_plus_the_signal_in_both_policies() -> None:
    for policy in ({}, {"hook": "merge"}):
        assert run(KeyboardInterrupt(), **policy) == (130, ["interrupted (SIGINT)."])
        code, _ = run(Interrupted(signal.SIGTERM), **policy)
        assert code == 128 + signal.SIGTERM


def test_passthrough_leaves_an_exception_to_the_caller() -> None:
    with pytest.raises(KeyboardInterrupt):
        run(KeyboardInterrupt(), hook="merge", passthrough=(KeyboardInterrupt,))


def test_a_closed_pipe_is_no_error() -> None:
    assert run(BrokenPipeError()) == (0, [])
