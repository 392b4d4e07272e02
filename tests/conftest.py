"""Shared pytest fixtures: the example projects in fixtures/ and the shared corpus download."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
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
