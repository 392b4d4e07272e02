"""Alembic imported ahead of time in a forked child (migfix.write.prewarm): the console script's
merge renders there, writes what the in-process render writes, and the child never
outlives its run, holds the parent's files, or hides an error."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SRC
from gitutil import git
from projutil import (
    STAMP,
    configured_project,
    land,
    local_project,
    make_team,
    migfix_proc,
    new_project,
    normalize,
    two_migration_branches,
)

B, C, M = "b0000001", "c0000001", "mmmm0001"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("git_env"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="prewarm needs os.fork"),
]


def _script(
    cwd: Path, code: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


# A merge as the console script runs it, reporting whether *this* process imported
# Alembic and whether the child is gone at the end.
MERGE = """
import os, sys
from migfix import prewarm
prewarm.start()
pid = prewarm._child.pid if prewarm._child else None
from migfix.cli.fast import main
rc = main(sys.argv[1:] or {argv!r})
prewarm.stop()
try:
    os.kill(pid, 0)
    alive = True
except (ProcessLookupError, TypeError):
    alive = False
print("RESULT", rc, "alembic" in sys.modules, alive)
"""


def _merge(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    proc = _script(cwd, MERGE.format(argv=list(argv)), env)
    result = proc.stdout.strip().splitlines()[-1]
    return result, proc.stdout + proc.stderr


def test_the_render_happens_in_the_child_and_matches_alembic(tmp_path: Path) -> None:
    """Every project option that shapes the file (file_template, encoding, timezone,
    revision_environment's template_args, post-write hooks) holds in the child too."""
    proj = configured_project(tmp_path)
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)
    ref = proj.copy(tmp_path / "ref")
    expected = ref.alembic_merge(M, message="merge heads")
    ran = (proj.migrations / "env-ran.txt").read_text().count("ran")

    result, output = _merge(proj.root, "merge", "--rev-id", M)

    # This process never imported Alembic: the child rendered.
    assert result == "RESULT 0 False False", output
    (written,) = (p for p in proj.versions.iterdir() if M in p.name)
    assert written.name == expected.name
    data = written.read_bytes()
    assert normalize(data) == normalize(expected.read_bytes())
    assert data.endswith(STAMP.encode())
    assert b"# reviewed by: env.py\n" in data
    # env.py ran once, in the child, not again here.
    assert (proj.migrations / "env-ran.txt").read_text().count("ran") == ran + 1
    assert f"Created merge revision {M}" in output


def test_without_prewarm_this_process_renders_the_same_file(tmp_path: Path) -> None:
    files = []
    for name, env in (("warm", {}), ("cold", {"MIGFIX_NO_PREWARM": "1"})):
        proj = new_project(tmp_path / name, "typed")
        proj.revision(B, "add b", head=proj.a, splice=True)
        proj.revision(C, "add c", head=proj.a, splice=True)
        result, output = _merge(proj.root, "merge", "--rev-id", M, env=env)
        assert result == f"RESULT 0 {name == 'cold'} False", output
        (written,) = (p for p in proj.versions.iterdir() if M in p.name)
        files.append(re.sub(rb"Create Date: [^\n]*", b"", written.read_bytes()))
    assert files[0] == files[1]


def test_a_merge_that_renders_nothing_stops_the_child_early(tmp_path: Path) -> None:
    """Only a new revision to move: the child is killed when the plan is made, and this
    process imports no Alembic."""
    team = make_team(tmp_path, "typed")
    team.alice.revision(C, "add c")  # new: only in alice's work tree
    land(team.bob, B, "add b")  # settled
    git(team.alice.root, "fetch", "-q")
    git(team.alice.root, "merge", "-q", "origin/main")
    proj = team.alice
    code = MERGE.format(argv=["merge"]).replace(
        "rc = main(",
        "import migfix.plan.merge as m\n_stop = prewarm.stop\n"
        "def stop():\n    print('STOPPED', prewarm._child is not None)\n    _stop()\n"
        "prewarm.stop = stop\nrc = main(",
    )
    proc = _script(proj.root, code)
    assert proc.stdout.splitlines()[0] == "STOPPED True", proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "RESULT 0 False False", proc.stderr
    assert "Repointed" in proc.stdout


def test_an_error_in_the_child_is_reported_as_without_it(tmp_path: Path) -> None:
    """revision_environment with an env.py that cannot import: the same one paragraph and
    exit code 2, from the console script, with and without the warm child."""
    outputs = []
    for name, env in (("warm", {}), ("cold", {"MIGFIX_NO_PREWARM": "1"})):
        proj = new_project(tmp_path / name, "typed")
        proj.revision(B, "add b", head=proj.a, splice=True)
        proj.revision(C, "add c", head=proj.a, splice=True)
        ini = proj.root / "alembic.ini"
        text = ini.read_text()
        ini.write_text(text.replace("[alembic]\n", "[alembic]\nrevision_environment = true\n", 1))
        env_py = proj.migrations / "env.py"
        env_py.write_text("import not_installed_app_xyz\n" + env_py.read_text())
        before = sorted(p.name for p in proj.versions.iterdir())
        proc = migfix_proc(proj.root, "merge", "--rev-id", M, env=env)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert sorted(p.name for p in proj.versions.iterdir()) == before
        outputs.append(proc.stderr)
    assert "not_installed_app_xyz" in outputs[0]
    assert outputs[0] == outputs[1]


CALL = """
import os, signal, sys
from migfix import prewarm
prewarm.start()
{before}
print("RESULT", prewarm.call(os.getpid), os.getpid())
"""


def test_the_call_runs_in_the_child() -> None:
    proc = _script(Path.cwd(), CALL.format(before=""))
    _, there, here = proc.stdout.split()
    assert there != here, proc.stderr


def test_a_child_that_died_is_replaced_by_doing_the_work_here() -> None:
    kill = "os.kill(prewarm._child.pid, signal.SIGKILL)"
    proc = _script(Path.cwd(), CALL.format(before=kill))
    _, there, here = proc.stdout.split()
    assert there == here, proc.stderr


def test_no_prewarm_when_asked_not_to() -> None:
    proc = _script(Path.cwd(), CALL.format(before=""), {"MIGFIX_NO_PREWARM": "1"})
    _, there, here = proc.stdout.split()
    assert there == here, proc.stderr


PROBE = "import fcntl, os; fcntl.flock(os.open({lock!r}, os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)"


def test_the_child_does_not_hold_the_parents_locks(tmp_path: Path) -> None:
    """migfix's writer lock is an flock: a child keeping the descriptor would keep the
    lock after this process let it go."""
    lock = tmp_path / "lock"
    code = f"""
import fcntl, os, subprocess, sys
from migfix import prewarm
spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(4)]  # the lock fd is not 3 or 4
fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
prewarm.start()
os.close(fd)
probe = {PROBE.format(lock=str(lock))!r}
# The child closes what it inherited just after the fork: give it the time to run.
for _ in range(100):
    code = subprocess.run([sys.executable, "-c", probe], stderr=subprocess.DEVNULL).returncode
    if code == 0:
        break
print("RESULT", code, prewarm._child is not None)
"""
    proc = _script(tmp_path, code)
    assert proc.stdout.split() == ["RESULT", "0", "True"], proc.stderr
    # The probe really can fail: with the lock held, LOCK_NB is refused.
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        held = subprocess.run(
            [sys.executable, "-c", PROBE.format(lock=str(lock))],
            capture_output=True,
            check=False,
        )
        assert held.returncode != 0
    finally:
        os.close(fd)


def test_the_child_ignores_ctrl_c_sent_to_the_whole_group() -> None:
    """The terminal sends SIGINT to both processes: the child stays quiet (no traceback
    of its own) and goes when this process does."""
    code = """
import os, signal, sys, time
from migfix import prewarm
prewarm.start()
time.sleep(0.5)  # the child is importing Alembic or waiting
os.kill(prewarm._child.pid, signal.SIGINT)
time.sleep(0.2)
os.kill(prewarm._child.pid, 0)  # still there
print("RESULT", prewarm.call(os.getpid) != os.getpid())
"""
    proc = _script(Path.cwd(), code)
    assert proc.stdout.split() == ["RESULT", "True"], proc.stderr
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr


def test_the_hooks_fix_renders_in_the_child(tmp_path: Path) -> None:
    """After a real `git merge` of two branches that each added a migration, the hook's
    runner starts the child once it sees several heads; the merge file is rendered there."""

    code = (
        "import sys\nfrom migfix.hookrun import main\nrc = main(['post-merge', '--', '0'])\n"
        "print('RESULT', rc, 'alembic' in sys.modules)\n"
    )
    for name, env in (("warm", {}), ("cold", {"MIGFIX_NO_PREWARM": "1"})):
        proj = local_project(tmp_path / name)
        two_migration_branches(proj)
        git(proj.root, "merge", "-q", "--no-edit", "feat-c")  # no hook installed: run it below
        proc = _script(proj.root, code, env)
        assert proc.stdout.split() == ["RESULT", "0", str(name == "cold")], proc.stderr
        assert "Created merge revision" in proc.stderr
        assert len([p for p in proj.versions.iterdir() if "merge_heads" in p.name]) == 1


@pytest.mark.parametrize(
    ("guess", "in_child"),
    [("lambda: True", True), ("lambda: False", False), ("lambda: 1 / 0", True)],
)
def test_the_child_imports_only_when_a_render_is_likely(guess: str, in_child: bool) -> None:
    """A child told a render is unlikely ends at once: a later call is done here. A guess
    that fails is no guess: the child imports and serves."""
    code = f"""
import os
from migfix import prewarm
prewarm.start({guess})
print("RESULT", prewarm.call(os.getpid) != os.getpid())
"""
    proc = _script(Path.cwd(), code)
    assert proc.stdout.split() == ["RESULT", str(in_child)], proc.stderr


def _forked_children(pid: int) -> list[int]:
    """PID's children that are forks of it (the same executable), not git processes."""
    exe = os.path.realpath(sys.executable)
    found = []
    try:
        kids = [
            k
            for t in Path(f"/proc/{pid}/task").iterdir()
            for k in (t / "children").read_text().split()
        ]
    except OSError:
        return []  # PID has ended meanwhile
    for kid in kids:
        try:
            if os.readlink(f"/proc/{kid}/exe") == exe:
                found.append(int(kid))
        except OSError:
            continue  # gone already
    return found


@pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs /proc/PID/task/TID/children (Linux)",
)
# Across the child's life here: its fork, Alembic's import, its wait, the render (a run
# that ends first is not killed, and must of course succeed too).
@pytest.mark.parametrize("delay", [0.0, 0.03, 0.08, 0.15, 0.22, 0.3])
def test_a_child_killed_at_any_moment_leaves_the_same_merge(tmp_path: Path, delay: float) -> None:
    """SIGKILL the warm child while it guesses, imports, waits or renders: the merge is
    written all the same (rendered here instead), byte for byte as without the child."""
    import signal
    import time

    reference = new_project(tmp_path / "ref", "typed")
    reference.revision(B, "add b", head=reference.a, splice=True)
    reference.revision(C, "add c", head=reference.a, splice=True)
    proj = reference.copy(tmp_path / "run" / "proj")
    done = migfix_proc(reference.root, "merge", "--rev-id", M, env={"MIGFIX_NO_PREWARM": "1"})
    assert done.returncode == 0, done.stderr
    (expected,) = (p for p in reference.versions.iterdir() if M in p.name)

    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.Popen(
        [sys.executable, "-m", "migfix", "merge", "--rev-id", M],
        cwd=proj.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + delay
    killed = False
    while run.poll() is None and not killed:
        if time.monotonic() >= deadline:
            for kid in _forked_children(run.pid):
                with contextlib.suppress(ProcessLookupError):  # reaped in between
                    os.kill(kid, signal.SIGKILL)
                killed = True
        time.sleep(0.005)
    out, err = run.communicate(timeout=60)

    assert run.returncode == 0, err
    assert f"Created merge revision {M}" in out
    (written,) = (p for p in proj.versions.iterdir() if M in p.name)
    assert written.name == expected.name
    assert normalize(written.read_bytes()) == normalize(expected.read_bytes())
    assert "Traceback" not in err
