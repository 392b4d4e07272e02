"""Starting and ending the process: ``migfix``, ``python -m migfix`` and the hook runner.

At the start, Python's cyclic garbage collector is turned off (``collect_less``): reading
5,000 revisions allocates enough containers to set it off ~160 times, each pass walking
every record built so far: ~27 ms of a 270 ms merge, ~90 ms once Alembic is imported too.
Nothing migfix builds needs it (reference counting frees it all); as Mercurial's
``util.nogc``. Where the project's own code runs (env.py, migrations, the Flask app:
``verify``, ``db``), ``user_code`` turns it back on, so their garbage is collected as usual.

At the end, Python's own exit would free every module and object one at a time. After a
merge rendered through Alembic, that is SQLAlchemy's and Alembic's ~700 modules and 5,000
revision records: ~100 ms, a fifth of the whole run, spent on memory the kernel frees at
once anyway. So, as mypy's ``--fast-exit`` does, the entry points flush the
standard streams, run the ``atexit`` handlers (logging's flush among them), and leave
with ``os._exit``. Every file migfix writes is closed (and fsynced) before its command
returns, so nothing is lost; a thread still running (migfix starts none, but a user's
env.py might) gets the ordinary exit, which waits for it.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Exit with CODE now, without tearing the interpreter down."""
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    flush_streams()
    os._exit(code)


def collect_less() -> None:
    """Turn the cyclic garbage collector off for migfix's own work (see above)."""
    gc.disable()


def user_code() -> None:
    """The project's code is about to run: collect its cyclic garbage as Python would."""
    gc.enable()


def flush_streams() -> None:
    """Flush stdout and stderr. A closed pipe (`migfix heads | head -1`), a closed stream,
    or none at all (`>&-`): what was written is all the reader wanted, as with Python's
    own exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
