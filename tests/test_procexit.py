"""The process's start and end: the collector off for migfix's own work only, the quick exit."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from conftest import copy_fixture, python

from migfix.procexit import own_work


def test_own_work_turns_the_collector_off_inside_and_back_as_it_was() -> None:
    assert gc.isenabled()
    with own_work():
        assert not gc.isenabled()
        with own_work():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer scope is still migfix's
    assert gc.isenabled()
    gc.disable()
    try:
        with own_work():
            pass
        assert not gc.isenabled()  # someone else's choice stays
    finally:
        gc.enable()


@pytest.mark.slow
def test_the_quick_exit_flushes_the_streams_and_runs_the_handlers_registered_since() -> None:
    """Piped stdout is block-buffered: without the flush the report would be lost. A
    handler registered by the work (logging's, a user's env.py's) runs first."""
    proc = python(
        Path.cwd(),
        "-c",
        "import atexit, sys\nfrom migfix.procexit import end_quickly\n"
        "def main():\n"
        "    atexit.register(lambda: print('handler ran'))\n"
        "    print('report', end=' ')\n    sys.stderr.write('notice')\n    return 3\n"
        "end_quickly(main)\n",
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "report handler ran\n", "notice")


@pytest.mark.slow
def test_the_quick_exit_waits_for_a_running_thread() -> None:
    proc = python(
        Path.cwd(),
        "-c",
        "import threading, time\nfrom migfix.procexit import end_quickly\n"
        "def late():\n    time.sleep(0.3)\n    print('thread done', flush=True)\n"
        "def main():\n    threading.Thread(target=late).start()\n    return 0\n"
        "end_quickly(main)\n",
    )
    assert (proc.returncode, proc.stdout) == (0, "thread done\n")


@pytest.mark.slow
def test_an_exception_that_escapes_gets_pythons_own_exit() -> None:
    proc = python(
        Path.cwd(),
        "-c",
        "from migfix.procexit import end_quickly\n"
        "def main():\n    raise RuntimeError('debugging')\n"
        "end_quickly(main)\n",
    )
    assert proc.returncode == 1
    assert "RuntimeError: debugging" in proc.stderr


@pytest.mark.slow
def test_ctrl_c_that_lands_in_a_finalizer_still_stops_the_command() -> None:
    """Python swallows an exception raised inside ``__del__`` (it prints "Exception ignored
    in" and goes on), so a Ctrl-C that lands while a finished ``subprocess.Popen`` is being
    freed was lost, with a traceback printed. It is delivered again, to the command."""
    # The command's minute of sleeps is a safety net: the signal comes back within
    # milliseconds (from a thread, which a loaded machine may start late).
    proc = python(
        Path.cwd(),
        "-c",
        "import signal, time\nfrom migfix.procexit import end_quickly, quiet_start\nquiet_start()\n"
        "class Popen:\n    def __del__(self):\n        signal.raise_signal(signal.SIGINT)\n"
        "def main():\n"
        "    try:\n        Popen()\n        for _ in range(6000): time.sleep(0.01)\n"
        "    except KeyboardInterrupt:\n        print('stopped')\n        return 130\n"
        "    return 0\n"
        "end_quickly(main)\n",
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "stopped\n", "")


@pytest.mark.slow
def test_a_signal_that_lands_in_a_finalizer_while_writing_still_interrupts_the_write() -> None:
    """The same under the writer lock's handler (SIGTERM raises Interrupted, so the
    transaction is undone): swallowed in a finalizer, the write would have gone on."""
    proc = python(
        Path.cwd(),
        "-c",
        "import signal, time\nfrom migfix.write import lock\n"
        "class Popen:\n    def __del__(self):\n        signal.raise_signal(signal.SIGTERM)\n"
        "lock.install_handlers(lock.Hold(-1))\n"
        "try:\n    Popen()\n    for _ in range(6000): time.sleep(0.01)\n"
        "except lock.Interrupted as exc:\n    print('interrupted by', exc.signum)\n",
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "interrupted by 15\n", "")


# After the command returned: from an atexit handler it registered (run before the quick
# exit's), and from a thread the exit waits for, once the main thread waits in
# threading._shutdown (polled: the moment is known, whatever the machine's load).
_CTRL_C_AFTER_THE_COMMAND = {
    "atexit": "    atexit.register(signal.raise_signal, signal.SIGINT)\n",
    "thread": (
        "    main_id = threading.get_ident()\n"
        "    def late():\n"
        "        while sys._current_frames()[main_id].f_code.co_name != '_shutdown':\n"
        "            time.sleep(0.001)\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(60)\n"
        "    threading.Thread(target=late).start()\n"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("where", list(_CTRL_C_AFTER_THE_COMMAND))
def test_ctrl_c_after_the_command_returned_ends_the_exit_with_its_code(where: str) -> None:
    """Once the command has returned, its output and exit code are final: a Ctrl-C while
    the exit runs (atexit handlers, waiting for threads, flushing) only ends it sooner. It
    was raised there as KeyboardInterrupt, which Python reports with "Exception ignored"
    and a traceback (seen when the hook's no-op run and a Ctrl-C ended together)."""
    proc = python(
        Path.cwd(),
        "-c",
        "import atexit, os, signal, sys, threading, time\n"
        "from migfix.procexit import end_quickly, quiet_start\nquiet_start()\n"
        "def main():\n" + _CTRL_C_AFTER_THE_COMMAND[where] + "    print('report')\n"
        "    return 3\n"
        "end_quickly(main)\n",
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "report\n", "")


@pytest.mark.slow
def test_ctrl_c_while_click_parses_the_command_line_is_one_line_and_130() -> None:
    """Ctrl-C after the command's own handling took over but before a command runs, while
    click parses the options: click turned it into a blank line, "Aborted." and exit 2. The
    signal is raised at that moment (click's parse step, wrapped), not hoped for."""
    proc = python(
        Path.cwd(),
        "-c",
        "import signal\nfrom migfix.procexit import quiet_start\nquiet_start()\n"
        "import click\nparse = click.Command.parse_args\n"
        "def interrupted(self, ctx, args):\n"
        "    signal.raise_signal(signal.SIGINT)\n    return parse(self, ctx, args)\n"
        "click.Command.parse_args = interrupted\n"
        "import sys\nsys.argv = ['migfix', 'heads']\n"
        "from migfix.cli.main import run\nrun()\n",
    )
    assert (proc.returncode, proc.stdout) == (130, ""), proc.stderr
    assert proc.stderr == "migfix: interrupted (SIGINT); nothing was written.\n"


# What the collector is doing while migfix reads (heads) and while the project's own
# env.py runs (verify): printed on stderr by a spy and by env.py.
SPY = (
    "import gc, sys\n"
    "from migfix.commands import heads as heads_command\n"
    "real = heads_command.heads\n"
    "def spy(*args, **kwargs):\n"
    "    print('migfix GC', gc.isenabled(), file=sys.stderr)\n"
    "    return real(*args, **kwargs)\n"
    "heads_command.heads = spy\n"
    "sys.argv = ['migfix', *sys.argv[1:]]\n"
    "import runpy\nrunpy.run_module('migfix', run_name='__main__')\n"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "seen"), [(["heads"], "migfix GC False"), (["verify"], "env GC True")]
)
def test_the_collector_is_off_for_migfixs_work_and_on_for_the_projects_code(
    tmp_path: Path, argv: list[str], seen: str
) -> None:
    """Reading thousands of revisions with the collector on costs ~10% of a run; running
    the project's migrations (verify, db) with it off could hold their garbage."""
    root = copy_fixture("plain", tmp_path)
    env_py = root / "migrations" / "env.py"
    env_py.write_text(
        "import gc, sys\nprint('env GC', gc.isenabled(), file=sys.stderr)\n" + env_py.read_text()
    )
    proc = python(root, "-c", SPY, *argv)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen in proc.stderr.splitlines(), proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("module", ["migfix", "migfix.hookrun", "the migfix script"])
def test_ctrl_c_while_migfix_starts_prints_one_line_not_a_traceback(
    tmp_path: Path, module: str
) -> None:
    """Ctrl-C while the command's modules are still being imported (before any command runs,
    so before its own handling of Ctrl-C): one line and exit 130, never Python's traceback.
    MIGFIX_TEST_STARTED names a file created as soon as migfix's entry point runs; the
    signal comes at a different moment after it in each run."""
    import signal
    import subprocess
    import sys
    import time

    project = copy_fixture("typed", tmp_path)
    # As the installed hook calls it: without "--", the 0 is read as an unknown option and
    # warned about (a second line of stderr, depending on when the signal lands).
    args = ["post-merge", "--", "0"] if module == "migfix.hookrun" else ["heads"]
    # The console script pip wrote beside this Python (scripts/test.sh installs the checkout).
    start = [str(Path(sys.executable).with_name("migfix"))] if "script" in module else []
    for i in range(8):
        started = tmp_path / f"started-{i}"
        proc = subprocess.Popen(
            [*start, *args] if start else [sys.executable, "-m", module, *args],
            cwd=project,
            env={**os.environ, "MIGFIX_TEST_STARTED": str(started)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        assert started.exists(), proc.communicate()
        time.sleep(i * 0.01)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (i, err)
        assert proc.returncode in (0, 130), (i, proc.returncode, err)
        if proc.returncode == 130:
            assert err.count("\n") == 1 and "interrupted (SIGINT)" in err, (i, err)
