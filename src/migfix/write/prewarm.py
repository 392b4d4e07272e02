"""Alembic's import, done ahead of time in a second process.

A merge revision is rendered through Alembic's API, and importing ``alembic.script``
(which imports SQLAlchemy) costs ~250-350 ms: more than everything else a merge of
5,000 revisions does. It cannot be avoided, but it need not wait: when a command may
render a merge, ``start`` forks a child at once, which imports Alembic on another core
while this process reads the graph, asks git what is settled and plans. ``call`` then
hands the render to that child, already warm. A merge that only moves new revisions
renders nothing: ``stop`` kills the child as soon as the plan says so. Until then, on a
machine with few cores, the child slows this process by a tenth (they share memory
bandwidth and the cores git runs on), so ``migfix merge`` also has the child guess, from a
few git questions asked beside the import, whether a render is likely at all
(``newness.likely_all_settled``), and end early when it is not.

Everything degrades to rendering here, in this process, exactly as before: no
``os.fork`` (Windows), ``MIGFIX_NO_PREWARM=1``, threads running (forking them is
unsafe), arguments that do not pickle, or a child that died. The child writes no file
until it is asked to render; killed before that, it leaves nothing behind. It ignores
Ctrl-C (the terminal sends it to both processes; this one undoes and reports), and it
ends when this process does: its request pipe closes, and ``stop`` runs at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from migfix.procexit import flush_streams

T = TypeVar("T")

# What the child imports while it waits: all that rendering a merge file needs, migfix's
# own rendering code included (unpickling the request would import it otherwise).
_WARM = (
    "alembic.script",
    "alembic.script.revision",
    "alembic.config",
    "mako.template",
    "migfix.write.render",
)


@dataclass
class _Child:
    pid: int
    request: int  # write end: this process sends one request
    response: int  # read end: the child sends one answer


_child: _Child | None = None


def start(worth_it: Callable[[], bool] | None = None) -> None:
    """Fork the child that imports Alembic, unless one runs already or forking is unsafe.

    WORTH_IT, when given, runs first in the child: when it says a render is unlikely, the
    child ends without importing anything. Guessing costs the child a few git calls; an
    import nobody uses would cost this process a tenth of its speed on a machine with
    few cores (the two compete for memory and the cores git runs on).
    """
    global _child
    if _child is not None or not hasattr(os, "fork") or os.environ.get("MIGFIX_NO_PREWARM"):
        return
    if threading.active_count() > 1:
        return
    # Flushed first, or the child would inherit (and one day print again) buffered output.
    flush_streams()
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its work is seen through call()
        os.close(req_w)
        os.close(resp_r)
        _serve(req_r, resp_w, worth_it)
    os.close(req_r)
    os.close(resp_w)
    _child = _Child(pid, req_w, resp_r)
    atexit.register(stop)


def stop() -> None:
    """Kill the child (nothing to render, or the run is over) and reap it."""
    global _child
    child, _child = _child, None
    if child is None:
        return
    for fd in (child.request, child.response):
        if fd >= 0:
            os.close(fd)
    with contextlib.suppress(OSError):  # already gone
        os.kill(child.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(child.pid, 0)


def call(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the warm child when there is one, else here. FN must be a
    module-level function; its result or its exception comes back as if run here."""
    import pickle

    global _child
    child, _child = _child, None
    if child is None:
        return fn(*args)
    try:
        request = pickle.dumps((fn, args))
    except Exception:  # something in ARGS does not pickle: render here
        _child = child
        stop()
        return fn(*args)
    try:
        with os.fdopen(child.request, "wb") as out:
            child.request = -1  # closed by the with, which tells the child the request ended
            out.write(request)
        with os.fdopen(child.response, "rb") as inp:
            child.response = -1
            kind, value = pickle.load(inp)
    except Exception:  # a broken pipe, or an answer that does not load here
        kind, value = "lost", None
    finally:
        _child = child
        stop()
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    if kind == "raise":
        raise value
    # The child died before answering (killed, out of memory, or it guessed no render
    # would come), or its answer did not load: do the work here.
    return fn(*args)


def _serve(  # pragma: no cover - runs in the child
    req_r: int, resp_w: int, worth_it: Callable[[], bool] | None
) -> NoReturn:
    """The child: import Alembic, answer one request, leave without Python's exit (which
    would run the parent's atexit handlers and flush its inherited buffers)."""
    import pickle

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        # Hold nothing of the parent's open: a lock file's descriptor kept open here
        # would keep the lock (flock) after the parent released it.
        os.dup2(req_r, 3)
        os.dup2(resp_w, 4)
        os.closerange(5, _max_fd())
        import gc
        import importlib

        # Importing SQLAlchemy sets the collector off often enough to cost a fifth of
        # the import; this process lives for one render. Off whatever the parent chose.
        gc.disable()
        warm = threading.Event()
        if worth_it is not None:
            # The guess waits on git most of its time: it runs beside the import, which
            # it stops (by ending this process) when a render is unlikely, unless the
            # import is done by then and the warm process may as well stay.
            threading.Thread(target=_judge, args=(worth_it, warm), daemon=True).start()

        for module in _WARM:
            try:
                importlib.import_module(module)
            except Exception:
                break  # the request will fail the same way and say why
        warm.set()
        with os.fdopen(3, "rb") as inp:
            try:
                fn, args = pickle.load(inp)
            except Exception:
                os._exit(0)  # no request: the parent needed no render, or is gone
        try:
            answer: tuple[str, Any] = ("ok", fn(*args))
        except BaseException as exc:  # every failure goes back to the parent
            answer = ("raise", exc)
        try:
            data = pickle.dumps(answer)
        except Exception:  # an exception that does not pickle: its type and text do
            failed = answer[1]
            data = pickle.dumps(("raise", RuntimeError(f"{type(failed).__name__}: {failed}")))
        flush_streams()
        with os.fdopen(4, "wb") as out:
            out.write(data)
    finally:
        os._exit(0)


def _judge(worth_it: Callable[[], bool], warm: threading.Event) -> None:  # pragma: no cover
    try:
        unlikely = not worth_it()
    except Exception:
        return  # no guess: stay
    if unlikely and not warm.is_set():
        os._exit(0)  # mid-import: nothing written, nothing to undo; the parent renders itself


def _max_fd() -> int:
    try:
        return min(int(os.sysconf("SC_OPEN_MAX")), 1 << 16)
    except (ValueError, OSError):
        return 1024
