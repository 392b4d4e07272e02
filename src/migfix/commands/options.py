"""The options the click command line shares with the click-free hook runner, as data.

The installed hook calls ``python -m migfix.hookrun HOOK [options] -- ARGS``, which parses
its argv without click (importing click costs more than the hook's no-op path may take);
``migfix hook run`` and ``migfix hook install`` are click commands. Both read these
declarations: ``migfix.cli.options`` builds its click options from them and
``hook_run_argv`` writes what ``hook install`` records in the script, so the two parsers
accept the same options and no option string is written twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from migfix.project.settings import STRATEGIES as STRATEGIES

HOOK_TYPES = ("post-merge", "post-rewrite", "post-commit", "post-checkout")
"""The git hooks migfix installs, in the order it installs them."""


# A NamedTuple, not a dataclass: it is defined on every start (see migfix.project.model).
class Option(NamedTuple):
    """One option: its spellings, the parameter it sets, and what it takes."""

    names: tuple[str, ...]
    dest: str
    takes_value: bool = True
    choices: tuple[str, ...] = ()
    negative: str | None = None
    """A flag's spelling that sets it to False (``--no-commit``); unset, it stays None."""

    @property
    def long(self) -> str:
        return next(n for n in self.names if n.startswith("--"))


CONFIG = Option(("-c", "--config"), "config")
NAME = Option(("-n", "--name"), "name")
DIRECTORY = Option(("-d", "--directory"), "directory")
STRATEGY = Option(("--strategy",), "strategy", choices=STRATEGIES)
COMMIT = Option(("--commit",), "commit", takes_value=False, negative="--no-commit")
ALWAYS = Option(("--always",), "always", takes_value=False)

WATCH = (CONFIG, NAME, DIRECTORY)
"""The project ``hook install -c/-n/-d`` records in the hook script (``hook.run.Watch``)."""
HOOK_RUN = (STRATEGY, COMMIT, ALWAYS, *WATCH)
"""What ``migfix hook run`` / ``python -m migfix.hookrun`` take before ``--``."""


def hook_run_argv(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The HOOK_RUN options that give VALUES (by ``dest``; None and False are left out)."""
    out: list[str] = []
    for opt in HOOK_RUN:
        value = values.get(opt.dest)
        if value is None or (value is False and opt.negative is None):
            continue
        if not opt.takes_value:
            out.append(opt.long if value else str(opt.negative))
        else:
            out += [opt.long, str(value)]
    return tuple(out)


def parse(options: Sequence[Option], argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """OPTIONS' values in ARGV (by ``dest``), and the words that are none of them.

    A fixed, machine-written argv is all this reads (``hook_run_argv``'s): a value is the
    next word, and a later option wins.
    """
    by_name: dict[str, tuple[Option, Any]] = {}
    for opt in options:
        for name in opt.names:
            by_name[name] = (opt, True)
        if opt.negative is not None:
            by_name[opt.negative] = (opt, False)
    values: dict[str, Any] = {}
    unknown: list[str] = []
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        found = by_name.get(word)
        if found is None or (found[0].takes_value and not rest):
            unknown.append(word)
            continue
        opt, flag = found
        values[opt.dest] = rest.pop(0) if opt.takes_value else flag
    return values, unknown
