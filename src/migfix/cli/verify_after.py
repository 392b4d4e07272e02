"""``--verify`` on ``merge`` and ``rebase``: run the migrations once they changed something.

Apart from ``migfix.cli.verify`` so that a merge or rebase without ``--verify`` (the hook's
and nearly every run) does not load the database modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from migfix.cli.running import err


def verify_after(chosen: Any, upstream: str | None, postgres: bool | None) -> Callable[[], int]:
    """The verify to run after merge/rebase changed something (see ``verify_new``)."""

    def run() -> int:
        # Here, not at the top: verifying loads 7 of migfix's modules (scratch databases,
        # embedded PostgreSQL) that a merge or rebase without --verify never needs.
        from migfix.commands import verify as verifycmd

        return verifycmd.verify_new(chosen, upstream, postgres, echo=click.echo, err=err)

    return run
