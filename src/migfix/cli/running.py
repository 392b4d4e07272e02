"""How every click command runs: errors through the one handler, migfix's own work with
the garbage collector off, notices on stderr."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from migfix.commands.handler import Policy
from migfix.procexit import own_work

F = TypeVar("F", bound=Callable[..., Any])


def say(text: str) -> None:
    """An error or notice of migfix's own, on stderr."""
    click.echo(f"migfix: {text}", err=True)


def err(text: str) -> None:
    """A line on stderr (what a command reports beside its output)."""
    click.echo(text, err=True)


POLICY = Policy(
    say=say,
    passthrough=(click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort),
)
"""How errors end a command: ``migfix``'s group and the Flask group both use it (click's
own usage errors are click's to show)."""


def migfix_only(fn: F) -> F:
    """Run the command inside ``procexit.own_work``, unless ``--verify`` then runs the
    project's migrations (whose garbage the collector must see)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("run_verify"):
            return fn(*args, **kwargs)
        with own_work():
            return fn(*args, **kwargs)

    return cast(F, wrapper)
