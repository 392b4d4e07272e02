"""``python -m migfix.hookrun``: the name installed git hooks call (see :mod:`migfix.hook.run`).

Hooks already installed in users' repositories name this module, so it stays, as a shim.
"""

from migfix.hook.run import main
from migfix.procexit import end_quickly

if __name__ == "__main__":
    end_quickly(main)
