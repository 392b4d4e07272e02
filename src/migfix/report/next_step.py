"""The next step a report suggests, fitted to where the command runs.

A hint that names a command which would refuse, or say "nothing to do", is worse than
none: each function here picks the step that will work (``merge`` only when nothing
blocks it, ``rebase --onto REF`` when the heads exist only once this branch meets REF)
and spells the command the way the user is running migfix (``flask migfix ...`` inside
Flask).
"""

from __future__ import annotations

from collections.abc import Sequence

from migfix.read.checks import Problem, blocks_writes


def check_footer(failing: Sequence[Problem], *, against: str | None, prog: str = "migfix") -> str:
    """What to add after ``check``'s summary line when unintended heads make it fail."""
    if not any(p.code == "multiple-heads" for p in failing):
        return ""
    blockers = sorted({p.code for p in failing if blocks_writes(p)})
    if blockers:
        one = len(blockers) == 1
        named = blockers[0] if one else f"{', '.join(blockers[:-1])} and {blockers[-1]}"
        return (
            f"; fix the {named} {'error' if one else 'errors'} above first (`{prog} merge` "
            f"refuses while the graph has {'it' if one else 'them'}), then join the heads"
        )
    if against:
        return (
            f"; the heads appear once this branch meets {against}: run `{prog} rebase --onto "
            f"{against}` (or `git merge {against}`, then `{prog} merge`)"
        )
    return f"; run `{prog} merge` to join the heads"


def prog_name() -> str:
    """``migfix``, or ``flask migfix`` when the command runs inside Flask's command line."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "migfix"
    words = ctx.command_path.split()
    return " ".join(words[:-1]) or "migfix"
