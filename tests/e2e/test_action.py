"""The composite GitHub Action in ``action.yml``, its shell steps run locally.

The "Check migrations" step's script is taken out of action.yml and run with bash in a
clone made the way ``actions/checkout`` makes it (one commit deep, no base branch), with
the ``GITHUB_*`` variables and the ``${{ }}`` expressions of its ``env:`` filled in as the
runner would. migfix comes from this test run's environment (the install step is pip).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, copy_fixture
from gitutil import GIT_ENV, commit_all, git, make_repo

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))


def step(name: str) -> dict[str, Any]:
    found = [s for s in ACTION["runs"]["steps"] if s.get("name") == name]
    assert len(found) == 1, name
    return dict(found[0])


def evaluate(text: str, context: dict[str, Any]) -> str:
    """The ``${{ a.b || c.d }}`` expressions action.yml uses: paths joined by ``||``."""

    def one(match: re.Match[str]) -> str:
        for alternative in match.group(1).split("||"):
            value: Any = context
            for part in alternative.strip().split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            if value:
                return str(value)
        return ""

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, text)


def run_step(
    name: str, cwd: Path, tmp_path: Path, inputs: dict[str, str], base_ref: str
) -> tuple[subprocess.CompletedProcess[str], str, str]:
    s = step(name)
    assert s["shell"] == "bash"
    defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    context = {
        "inputs": {**defaults, **inputs},
        "github": {
            "base_ref": base_ref,
            "action_path": str(REPO),
            "event": {"repository": {"default_branch": "main"}},
        },
    }
    summary = tmp_path / "summary.md"
    output = tmp_path / "output.txt"
    summary.write_text("")
    output.write_text("")
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_BASE_REF": base_ref,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(cwd),
    }
    env.update({k: evaluate(str(v), context) for k, v in s.get("env", {}).items()})
    workdir = cwd / evaluate(s.get("working-directory", "."), context)
    proc = subprocess.run(
        # What the runner runs for `shell: bash`.
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s["run"]],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, summary.read_text(), output.read_text()


def pull_request(tmp_path: Path, *, up_to_date: bool) -> Path:
    """origin: main has cccc0001 then cccc0002; branch feature adds cccc0003 (on cccc0001,
    or on cccc0002 when ``up_to_date``). Returns a one-commit-deep clone of feature."""
    proj = copy_fixture("two_heads", tmp_path)
    versions = proj / "migrations/versions"
    second = next(versions.glob("cccc0002_*.py"))
    third = next(versions.glob("cccc0003_*.py"))
    texts = {p: p.read_text() for p in (second, third)}
    second.unlink()
    third.unlink()
    make_repo(proj)
    commit_all(proj, "base")
    if not up_to_date:
        git(proj, "checkout", "-q", "-b", "feature")
        third.write_text(texts[third])
        commit_all(proj, "feature")
        git(proj, "checkout", "-q", "main")
    second.write_text(texts[second])
    commit_all(proj, "main moves on")
    if up_to_date:
        git(proj, "checkout", "-q", "-b", "feature")
        third.write_text(texts[third].replace("cccc0001", "cccc0002"))
        commit_all(proj, "feature")
        git(proj, "checkout", "-q", "main")
    git(tmp_path, "clone", "-q", "--bare", str(proj), "origin.git")
    git(
        tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature",
        f"file://{tmp_path / 'origin.git'}", "checkout",
    )  # fmt: skip
    clone = tmp_path / "checkout"
    assert git(clone, "branch", "-r") == "  origin/feature"  # no base branch yet
    return clone


def test_action_is_a_composite_with_the_documented_inputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {
        "python-version",
        "args",
        "base-ref",
        "working-directory",
        "package",
        "fix",
    }
    assert ACTION["runs"]["steps"][0]["uses"].startswith("actions/setup-python@")
    install = step("Install migfix")
    assert "pip install" in install["run"] and "${MIGFIX_PACKAGE:-$ACTION_PATH}" in install["run"]


@pytest.mark.slow
def test_problem_is_annotated_and_pictured_in_the_summary(tmp_path: Path) -> None:
    clone = pull_request(tmp_path, up_to_date=False)
    proc, summary, output = run_step("Check migrations", clone, tmp_path, {}, "main")
    assert proc.returncode == 1, proc.stderr
    assert output == "status=1\n"
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1
    assert annotations[0].startswith(
        "::error file=migrations/versions/cccc0003_create_team_table.py,line=15,"
        "title=migfix multiple-heads::2 heads without branch labels"
    ), annotations
    assert summary.startswith("### migfix: migration problems against origin/main\n\n```\n")
    assert "error: 2 heads without branch labels" in summary
    picture = summary.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert picture.startswith("flowchart TD\n")
    assert "    class r_cccc0001,r_cccc0002 settled\n" in picture
    assert "    class r_cccc0003 new\n" in picture
    assert "    class r_cccc0002,r_cccc0003 problem\n" in picture
    assert summary.endswith("Fix it with `migfix merge` or `migfix rebase --onto origin/main`.\n")


@pytest.mark.slow
def test_up_to_date_branch_passes(tmp_path: Path) -> None:
    clone = pull_request(tmp_path, up_to_date=True)
    proc, summary, output = run_step("Check migrations", clone, tmp_path, {}, "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert summary == "### migfix: migrations OK against origin/main\n"
    assert output == "status=0\n"


@pytest.mark.slow
def test_args_and_working_directory_are_used(tmp_path: Path) -> None:
    clone = pull_request(tmp_path, up_to_date=False)
    inputs = {"args": "-c alembic.ini --strict", "base-ref": "main", "working-directory": "."}
    proc, summary, _ = run_step("Check migrations", clone, tmp_path, inputs, "")
    assert proc.returncode == 1, proc.stderr
    assert "```mermaid\nflowchart TD\n" in summary  # graph got -c but not --strict


@pytest.mark.slow
def test_configuration_error_is_reported_without_a_picture(tmp_path: Path) -> None:
    clone = pull_request(tmp_path, up_to_date=False)
    proc, summary, output = run_step(
        "Check migrations", clone, tmp_path, {"args": "-c missing.ini"}, "main"
    )
    assert proc.returncode == 2
    assert output == "status=2\n"
    assert "Config file" in summary and "does not exist" in summary
    assert "mermaid" not in summary


def test_docs_workflow_is_kept() -> None:
    text = (REPO / "docs" / "check-migrations.yml").read_text(encoding="utf-8")
    assert "migfix check --format github --against origin/" in text


@pytest.mark.slow
def test_monorepo_gets_one_picture_with_a_subgraph_per_project(tmp_path: Path) -> None:
    clone = pull_request(tmp_path, up_to_date=False)
    # A second project beside the first: the root alembic.ini moves into backend/.
    backend = clone / "backend"
    backend.mkdir()
    for name in ("alembic.ini", "migrations"):
        (clone / name).rename(backend / name)
    shutil.copytree(REPO / "fixtures" / "two_heads", clone / "shop")  # two heads
    proc, summary, _ = run_step("Check migrations", clone, tmp_path, {"base-ref": ""}, "")
    assert proc.returncode == 1, proc.stderr
    pictures = summary.split("```mermaid\n")[1:]
    assert len(pictures) == 1
    body = pictures[0].split("\n```", 1)[0]
    assert body.startswith("flowchart TD\n")
    assert '    subgraph p1["backend"]\n' in body and '    subgraph p2["shop"]\n' in body
    assert "==>" not in body and "migfix:" not in body


# An array expanded as "${a[@]}" with nothing in it: an "unbound variable" under set -u in
# bash before 4.4, which macOS runners still have (3.2). No bash 3.2 is at hand to run the
# steps with (bash 5's BASH_COMPAT does not bring the error back), so the form is checked.
_BARE_ARRAY = re.compile(r'(?<!\[@\]\+)"\$\{(\w+)\[@\]\}"')


@pytest.mark.slow
def test_every_array_in_the_action_expands_safely_under_bash_3_2() -> None:
    scripts = [s["run"] for s in ACTION["runs"]["steps"] if "run" in s]
    code = [ln for text in scripts for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    assert any("[@]" in ln for ln in code)  # the arrays are still there to check
    bare = [ln.strip() for ln in code if _BARE_ARRAY.search(ln)]
    assert bare == [], 'expand arrays as ${a[@]+"${a[@]}"}: ' + "; ".join(bare)
    # The safe form expands an empty array to no word and a full one to its elements.
    probe = 'set -u; a=(); b=(x "y z"); printf "<%s>" ${a[@]+"${a[@]}"} ${b[@]+"${b[@]}"}'
    assert (
        subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout
        == "<x><y z>"
    )


# What bash 3.2 lacks beyond that (each came with bash 4.0 or later): associative and name
# reference variables, mapfile, case changes in an expansion, |&, &>>, the ;& and ;;& case
# ends, negative array indices, `-v`, `wait -n`, globstar, the ${x@Q} transformations.
_BASH4_ONLY = re.compile(
    r"\b(?:declare|local|typeset)\s+-\w*[An]|\b(?:mapfile|readarray|coproc)\b|"
    r"\$\{\w+(?:\[[^]]*\])?(?:,,?|\^\^?)[^}]*\}|\|&|&>>|;;?&|\[-\d+\]|"
    r"\[\[?\s+-v\s|\bwait\s+-n\b|\bglobstar\b|\$\{[^}]*@[QEPAaKkUuL]\}|\bEPOCH(?:SECONDS|REALTIME)\b"
)


def test_the_action_uses_nothing_newer_than_bash_3_2() -> None:
    newer = [
        'declare -A seen=()', "mapfile -t lines < f", 'echo "${name,,}"', 'echo "${a[-1]}"',
        "cmd |& tee log", "[[ -v name ]]", "wait -n", 'echo "${x@Q}"', "local -n ref=$1",
    ]  # fmt: skip
    assert [ln for ln in newer if not _BASH4_ONLY.search(ln)] == []  # the check can fail
    scripts = [s["run"] for s in ACTION["runs"]["steps"] if "run" in s]
    code = [ln for text in scripts for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    found = [ln.strip() for ln in code if _BASH4_ONLY.search(ln)]
    assert found == [], "not in macOS runners' bash 3.2: " + "; ".join(found)
