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

Python swallows an exception raised inside a finalizer (``__del__``): it prints "Exception
ignored in" with a traceback and goes on. So a KeyboardInterrupt raised while, say, a
finished ``subprocess.Popen`` is being freed would print a traceback and be lost: the
command would go on as if Ctrl-C had not been pressed. :func:`interrupt` (the command's
SIGINT handler, in place of Python's own) and the writer lock's handler ask
:func:`in_finalizer` first and, inside one, deliver the signal again (:func:`deliver_later`),
so it is raised at the first moment after the finalizer returns.

``end_quickly`` skips the interpreter's teardown. Python's own exit would free every
module and object one at a time: after a merge rendered through Alembic that is
SQLAlchemy's and Alembic's ~700 modules and 5,000 revision records, ~100 ms spent on
memory the kernel frees at once anyway. So, as mypy's ``--fast-exit`` does, the entry
point registers, before anything else can, an ``atexit`` handler that flushes the
standard streams and leaves with ``os._exit``. Handlers run last-registered first, so
every handler registered later (logging's flush, a user's env.py, temporary folders)
has run by then, and Python has already waited for running threads. Every file migfix
writes is closed (and fsynced) before its command returns, so nothing is lost. A Ctrl-C
once the command has returned leaves at once too, with the command's exit code.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
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

    def finished(signum: int, frame: FrameType | None) -> None:
        leave()

    atexit.register(leave)
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        # From here the command's own handling of Ctrl-C (KeyboardInterrupt) takes over.
        signal.signal(signal.SIGINT, interrupt)
    code.append(main())
    try:
        # The command is over, its output and exit code final: a Ctrl-C from here on (while
        # Python waits for threads, runs atexit handlers, flushes) only ends the exit sooner.
        # Raised there, Python would print "Exception ignored" and a traceback.
        signal.signal(signal.SIGINT, finished)
    except KeyboardInterrupt:
        leave()  # it landed just before the handler changed
    sys.exit(code[0])


def interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT while a command runs: KeyboardInterrupt, as Python's own handler, but never
    inside a finalizer, where it would be lost (see above)."""
    if in_finalizer(frame):
        deliver_later(signum)
        return
    raise KeyboardInterrupt


def in_finalizer(frame: FrameType | None) -> bool:
    """Whether FRAME runs inside a ``__del__``, where an exception raised is swallowed."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def deliver_later(signum: int) -> None:
    """Have SIGNUM's handler run again once the main thread has left the finalizer.

    Not from here: a signal tripped from inside a handler is handled at once, inside the
    same finalizer (and so again, without end). A thread waits until the main thread runs
    outside any finalizer and trips it from there; should it land in another finalizer,
    the handler defers it once more. Rare enough (a signal in the moments a finalizer runs)
    that a thread per time costs nothing anyone sees.
    """
    import threading
    import time

    main = threading.main_thread().ident

    def when_out_of_finalizers() -> None:
        while (frame := sys._current_frames().get(main or 0)) is not None:
            if not in_finalizer(frame):
                _thread.interrupt_main(signal.Signals(signum))
                return
            time.sleep(0.001)

    threading.Thread(target=when_out_of_finalizers, daemon=True).start()


def flush_streams() -> None:
    """Flush stdout and stderr. A closed pipe (`migfix heads | head -1`), a closed stream,
    or none at all (`>&-`): what was written is all the reader wanted, as with Python's
    own exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
