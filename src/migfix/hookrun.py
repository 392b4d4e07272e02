"""``python -m migfix.hookrun``: the name installed git hooks call (see :mod:`migfix.hook.run`).

Hooks already installed in users' repositories name this module, so it stays, as a shim.
"""

from migfix.procexit import end_quickly, quiet_start

if __name__ == "__main__":
    quiet_start()  # before the hook's modules are imported (see migfix.procexit)

from migfix.hook.run import main

if __name__ == "__main__":
    end_quickly(main)
