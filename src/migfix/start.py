"""The first code the ``migfix`` console script and ``python -m migfix`` run.

Ctrl-C is one line and exit 130 from this moment (:func:`migfix.procexit.quiet_start`), so
the command modules (click and the rest) are imported only after it: importing them is most
of a command's first moments, when a traceback would otherwise reach the user.
"""

from migfix.procexit import quiet_start


def main() -> None:
    quiet_start()
    from migfix.cli.main import run  # after quiet_start, on purpose (see above)

    run()
