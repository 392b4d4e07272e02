"""Starting and ending the process: ``migfix``, ``python -m migfix`` and the hook runner.

``quiet_start`` is the first thing the ``python -m`` entry points do: until a command runs
(and its own handling of Ctrl-C with it), Ctrl-C while its modules are still being
imported prints one line and exits 130, not Python's traceback from inside an import.

``own_work`` turns Python's cyclic garbage collector off around migfix's own work: reading
5,000 revisions allocates enough containers to set it off ~160 times, each pass walking
every record built so far (~27 ms of a 270 ms merge, ~90 ms once Alembic is imported
too), and nothing migfix builds needs it (reference counting frees it all; as
Mercurial's ``util.nogc``). It is a context manager the entry points put around the
commands that run no code of the project's; ``verify``, ``db`` and ``--verify`` (which
run env.py, the migrations and the Flask app) run outside it, so their garbage is
collected as usual, and no module below has to turn the collector back on.

``end_quickly`` skips the interpreter's teardown. Python's own exit would free every
module and object one at a time: after a merge rendered through Alembic that is
SQLAlchemy's and Alembic's ~700 modules and 5,000 revision records, ~100 ms spent on
memory the kernel frees at once anyway. So, as mypy's ``--fast-exit`` does, the entry
point registers, before anything else can, an ``atexit`` handler that flushes the
standard streams and leaves with ``os._exit``. Handlers run last-registered first, so
every handler registered later (logging's flush, a user's env.py, temporary folders)
has run by then, and Python has already waited for running threads. Every file migfix
writes is closed (and fsynced) before its command returns, so nothing is lost.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn


@contextlib.contextmanager
def own_work() -> Iterator[None]:
    """The cyclic garbage collector off inside, as it was outside (see above)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def quiet_start() -> None:
    """Ctrl-C from now until :func:`end_quickly` runs its command: one line, exit 130."""
    started = os.environ.get("MIGFIX_TEST_STARTED")  # a hidden test hook: the moment is known
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    if started:
        with open(started, "w"):
            pass


def _interrupted_while_starting(signum: int, frame: object) -> None:
    # Nothing was read or written yet: no command had started. The same line as a command's.
    with contextlib.suppress(OSError):
        os.write(2, b"migfix: interrupted (SIGINT); nothing was written.\n")
    os._exit(128 + signum)


def end_quickly(main: Callable[[], int]) -> NoReturn:
    """Run MAIN and exit with its code, without tearing the interpreter down (see above).

    An exception that escapes MAIN (``MIGFIX_DEBUG=1`` lets them) gets Python's own exit,
    traceback and all.
    """
    code: list[int] = []

    def leave() -> None:
        if code:
            flush_streams()
            os._exit(code[0])

    atexit.register(leave)
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        # From here the command's own handling of Ctrl-C (KeyboardInterrupt) takes over.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    code.append(main())
    sys.exit(code[0])


def flush_streams() -> None:
    """Flush stdout and stderr. A closed pipe (`migfix heads | head -1`), a closed stream,
    or none at all (`>&-`): what was written is all the reader wanted, as with Python's
    own exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
