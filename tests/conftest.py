"""Shared pytest fixtures: the example projects in fixtures/, the shared corpus download, the
one environment every test that runs git or migfix gets (``git_env``), the two ways a test runs
migfix: in this process (the ``migfix`` fixture) or as a child (:func:`python`,
:func:`python_m`), and the check that keeps the ``slow`` mark true."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import pytest
from gitutil import GIT_ENV
from hypothesis import HealthCheck, settings

# Property tests try the same examples on every run and every machine (derandomize: no
# seed, no example database carried from run to run) and never fail for being slow (no
# deadline per example, no health check on generation time): a loaded CI machine fails
# only on a real counterexample, and any failure replays. A test's own settings override
# these per key: one that lists health checks to suppress lists too_slow as well.
settings.register_profile(
    "migfix",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# The fixed examples never look further: MIGFIX_PROPERTY_SEARCH=1 draws new random ones on
# each run (each test's own number of them), to hunt for counterexamples where a slow or
# failing run costs nobody a CI run (README, "Tests"); a failure prints the example found.
settings.register_profile("search", parent=settings.get_profile("migfix"), derandomize=False)
settings.load_profile("search" if os.environ.get("MIGFIX_PROPERTY_SEARCH") else "migfix")

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
FIXTURES = REPO / "fixtures"
# The corpus tooling (fetch.sh, truth files) sits in shared/ beside the checkout; a download
# there is used when MIGFIX_CORPUS is unset. No path of one machine: a clone anywhere works.
SHARED_CORPUS = REPO.parent / "shared" / "corpus"
# Truth files ship with the corpus tooling, not with the download.
TRUTH_DIRS = (SHARED_CORPUS / "truth", REPO / "corpus" / "truth")


def pytest_configure(config: pytest.Config) -> None:
    # The scan cache lives under the user's cache directory; tests (and every migfix
    # subprocess they start, which inherits the environment) use a private one.
    if "MIGFIX_CACHE_DIR" not in os.environ:
        import tempfile

        os.environ["MIGFIX_CACHE_DIR"] = tempfile.mkdtemp(prefix="migfix-test-cache-")
    sys.addaudithook(_note_process)


# -- the slow mark is true ---------------------------------------------------------------------
# `-m "not slow"` is the quick loop: it must leave out every test that starts another process
# (git, `python -m migfix`, alembic, dot, pytester, a forked child), each of which costs from
# tens of milliseconds to seconds. The audit hook sees every way Python starts a process: a test
# that starts one without the mark fails on the spot, and a run that includes slow tests lists
# those that passed without starting any, so the mark cannot drift either way.
_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.system"}
)


class _Running:
    """The test running now: whether it is marked slow, and the processes it started."""

    item: ClassVar[pytest.Item | None] = None
    slow: ClassVar[bool] = False
    started: ClassVar[list[str]] = []  # replaced for each test
    idle_slow: ClassVar[list[str]] = []  # slow tests that passed without starting one


class StartedAProcess(Exception):
    """A test not marked ``slow`` started a process."""


def _unmarked_message(what: str) -> str:
    return (
        f"this test starts a process ({what}) but is not marked slow: add @pytest.mark.slow "
        '(or the module\'s pytestmark) so `-m "not slow"` leaves it out'
    )


def _note_process(event: str, args: tuple[Any, ...]) -> None:
    if _Running.item is None or event not in _PROCESS_EVENTS:
        return
    what = " ".join(map(str, args[1]))[:120] if event == "subprocess.Popen" else event
    _Running.started.append(what)
    if not _Running.slow:
        raise StartedAProcess(_unmarked_message(what))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that asks for the embedded PostgreSQL server starts one (where it is skipped here,
    # it runs in CI).
    for item in items:
        if "postgres_ok" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    _Running.item, _Running.slow, _Running.started = item, bool(item.get_closest_marker("slow")), []
    try:
        yield
    finally:
        _Running.item = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not _Running.slow and _Running.started and report.passed:
        # Code under test caught the exception (the hook runner never fails a merge): the test
        # fails all the same.
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: {_unmarked_message(_Running.started[0])}"
    if _Running.slow and report.when == "call" and report.passed and not _Running.started:
        _Running.idle_slow.append(item.nodeid)
    if not _Running.slow:
        _Running.started = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _Running.idle_slow:
        terminalreporter.section("marked slow, started no process")
        for nodeid in _Running.idle_slow:
            terminalreporter.write_line(nodeid)


# Files that running a fixture in place can leave behind; never part of a copy.
_RUN_LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.db", "instance")


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """Copy ``fixtures/<name>`` to ``tmp_path/<name>`` and return the copy.

    Tests edit, migrate and git-commit the copy, never the files in the repository.
    """
    source = FIXTURES / name
    if not source.is_dir():
        raise FileNotFoundError(f"no fixture project named {name!r} in {FIXTURES}")
    dest = tmp_path / name
    shutil.copytree(source, dest, ignore=_RUN_LEFTOVERS)
    return dest


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The repository's fixtures/ folder (read-only: copy a project before changing it)."""
    return FIXTURES


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The corpus download: ``$MIGFIX_CORPUS``, else ``../shared/corpus`` beside the
    checkout, else skip with a message naming MIGFIX_CORPUS.

    A MIGFIX_CORPUS that points at something without ``index.json`` fails the test instead of
    skipping: CI set it on purpose, so a silent skip would hide a broken download.
    """
    configured = os.environ.get("MIGFIX_CORPUS")
    if configured:
        path = Path(configured)
        if not (path / "index.json").is_file():
            pytest.fail(
                f"MIGFIX_CORPUS={configured} has no index.json; run the corpus fetch.sh "
                "with that folder as DEST, or unset MIGFIX_CORPUS."
            )
        return path
    if (SHARED_CORPUS / "index.json").is_file():
        return SHARED_CORPUS
    pytest.skip(
        "corpus not downloaded: set MIGFIX_CORPUS to the folder the corpus fetch.sh filled "
        "(scripts/test.sh does both when shared/corpus/fetch.sh is beside the checkout)"
    )


def corpus_index(corpus: Path) -> dict[str, Any]:
    """``index.json`` of a corpus download: id -> version_locations, recursive flag."""
    index: dict[str, Any] = json.loads((corpus / "index.json").read_text(encoding="utf-8"))
    return index


def corpus_truth(corpus: Path, project_id: str) -> dict[str, Any]:
    """What Alembic computed for one corpus graph, with ``file`` made absolute under ``corpus``.

    Same shape as ``alembic_oracle.alembic_graph``, so the two compare with ``==``. Skips when
    no truth file exists for ``project_id``.
    """
    for truth_dir in TRUTH_DIRS:
        path = truth_dir / f"{project_id}.json"
        if path.is_file():
            break
    else:
        pytest.skip(f"no truth file {project_id}.json in {', '.join(map(str, TRUTH_DIRS))}")
    truth: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for entry in truth["revisions"].values():
        entry["file"] = str((corpus / entry["file"]).resolve())
    return truth


@pytest.fixture(scope="session")
def postgres_ok() -> None:
    """Skip (with the reason, shown by ``-ra``) when the embedded PostgreSQL server of the
    ``postgres`` extra cannot start here; CI installs the extra, so a skip there says why."""
    from migfix.db.pgserver import server_check

    reason = server_check()
    if reason is not None:
        pytest.skip(f"embedded PostgreSQL unavailable: {reason}")


# A developer's shell may carry variables that change what git, Flask, migfix or the database
# lookup do (GIT_DIR, FLASK_APP, MIGFIX_SKIP_HOOK, DATABASE_URL, ...), and the test run may be
# a CI job whose pull request is not the one under test; no test may see them.
_FOREIGN_PREFIXES = ("GIT_", "FLASK_", "MIGFIX_", "GITHUB_", "CI_MERGE_REQUEST_")
_FOREIGN_NAMES = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "PYTHONPATH")
# Set for the tests on purpose (the private scan cache, the corpus download): kept.
_KEPT = ("MIGFIX_CACHE_DIR", "MIGFIX_CORPUS")


def _foreign(name: str) -> bool:
    if name in _KEPT:
        return False
    return name.startswith(_FOREIGN_PREFIXES) or name in _FOREIGN_NAMES


def child_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process a test starts: this process's (made clean by ``git_env``),
    git's fixed identity and config (``GIT_ENV``), this checkout's ``src`` on ``PYTHONPATH``
    (hooks and children run ``python -m migfix``), no bytecode files, then EXTRA."""
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra or {})
    return env


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The one environment of tests that run git, migfix or Alembic: ``os.environ`` without the
    foreign variables above, then :func:`child_environ`, so code under test in this process and
    every git, hook or child it starts see the same; ``tmp_path`` is the outermost repository git
    may find, and in-process imports of revision files write no ``__pycache__`` into the trees.

    A module whose tests run git says ``pytestmark = pytest.mark.usefixtures("git_env")``.
    """
    for name in list(os.environ):
        if _foreign(name):
            monkeypatch.delenv(name)
    for name, value in child_environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def python(
    cwd: Path, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (``-c CODE``, a script) as a child in CWD, in :func:`child_environ` plus
    ENV; never raises on its exit code. KWARGS go to subprocess.run (``timeout``, ...)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=child_environ(env),
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )


def python_m(
    cwd: Path, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` (migfix, migfix.hookrun, alembic, flask): :func:`python`."""
    return python(cwd, "-m", *args, env=env, **kwargs)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """PROC, once it is known to have exited 0 (else its command and output in the failure)."""
    assert proc.returncode == 0, f"{proc.args}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def child_imports(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """A child ``python -X importtime ARGS`` (see :func:`python`) and every module it
    imported, in the order ``-X importtime`` lists them (dotted names)."""
    proc = python(cwd, "-X", "importtime", *args, env=env)
    return proc, re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", proc.stderr, re.M)


class Result(NamedTuple):
    """What one in-process ``migfix`` run gave: exit code, stdout, stderr."""

    rc: int
    out: str
    err: str


Migfix = Callable[..., Result]


@pytest.fixture
def migfix(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Migfix:
    """``migfix(cwd, *args)``: the click CLI (``migfix.cli.main.main``) in this process, in CWD."""
    from migfix.cli.main import main

    def run(cwd: Path, *args: str) -> Result:
        capsys.readouterr()
        monkeypatch.chdir(cwd)
        rc = main(list(args))
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run


# -- pre-commit, the team's installer ------------------------------------------------------------
# The test extra installs pre-commit beside the interpreter running the tests.
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


@pytest.fixture(scope="session")
def migfix_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's HEAD, as pre-commit would fetch it by URL.

    One for the session: pre-commit keys the environment it builds by URL and commit."""
    dest = tmp_path_factory.mktemp("migfix-repo") / "migfix"
    subprocess.run(
        ["git", "clone", "-q", "--no-hardlinks", str(REPO), str(dest)],
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
    )
    return dest


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME for the session, so that pre-commit builds migfix's environment
    (a pip install of migfix and its dependencies, several seconds) once, not once per test."""
    return tmp_path_factory.mktemp("pre-commit-home")


def pre_commit_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of ``pre-commit`` (and of git, whose hooks start it) in a test."""
    env = {
        **os.environ,
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(home),
        "PRE_COMMIT_COLOR": "never",
        **extra,
    }
    # The hooks must run the migfix pre-commit installed, not this checkout's.
    env.pop("PYTHONPATH", None)
    return env
