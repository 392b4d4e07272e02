"""The package as a release publishes it: the wheel and the sdist that ``.ci/minversions``
builds (it sets ``$MIGFIX_DIST`` to their folder; these tests skip without it), and the
constraints that install the lowest declared version of every dependency.

A downstream packager builds and tests from the sdist, so it carries the code, the tests and
what they read, and no CI scripts or benchmarks; the wheel carries the typing marker, the
licence and the metadata an index shows.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = re.search(
    r'^__version__ = "(.+)"$',
    (REPO / "src" / "migfix" / "__init__.py").read_text(encoding="utf-8"),
    re.MULTILINE,
)
CONSTRAINTS = REPO / "scripts" / "constraints.py"


@pytest.fixture(scope="module")
def dist() -> Path:
    folder = os.environ.get("MIGFIX_DIST")
    if not folder:
        pytest.skip("MIGFIX_DIST is unset (.ci/minversions builds the wheel and sdist, sets it)")
    return Path(folder)


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def sdist_names(dist: Path) -> set[str]:
    with tarfile.open(only(dist, "migfix-*.tar.gz")) as sdist:
        # migfix-X.Y.Z/path -> path
        return {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}


def wheel_metadata(dist: Path) -> Message:
    with zipfile.ZipFile(only(dist, "migfix-*.whl")) as wheel:
        text = wheel.read(f"migfix-{VERSION and VERSION[1]}.dist-info/METADATA").decode()
    return HeaderParser().parsestr(text)


def test_the_version_is_declared_once() -> None:
    assert VERSION is not None
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/migfix/__init__.py"


def test_the_sdist_has_what_a_packager_builds_and_tests_from(dist: Path) -> None:
    names = sdist_names(dist)
    for needed in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "src/migfix/__init__.py",
        "src/migfix/py.typed",
        "tests/conftest.py",
        "tests/e2e/test_stories.py",
        "tests/winsim/sitecustomize.py",
        "fixtures/typed/alembic.ini",
        "docs/check-migrations.yml",
        "action.yml",
        ".pre-commit-hooks.yaml",
    ):
        assert needed in names, needed
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & {".ci", ".github", "bench", "scripts", ".venv", "corpus"}, sorted(tops)


def test_the_wheel_carries_the_typing_marker_and_the_licence(dist: Path) -> None:
    with zipfile.ZipFile(only(dist, "migfix-*.whl")) as wheel:
        names = set(wheel.namelist())
    assert "migfix/py.typed" in names
    assert f"migfix-{VERSION and VERSION[1]}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", "fixtures/", "bench/"))]


def test_the_wheel_metadata_an_index_shows(dist: Path) -> None:
    meta = wheel_metadata(dist)
    assert VERSION is not None and meta["Version"] == VERSION[1]
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert {"Operating System :: Microsoft :: Windows", "Operating System :: MacOS"} <= set(
        classifiers
    )
    assert {u.split(",")[0] for u in meta.get_all("Project-URL") or []} >= {"Homepage", "Source"}


def test_the_linters_are_in_the_dev_extra_not_the_test_extra(dist: Path) -> None:
    requires = wheel_metadata(dist).get_all("Requires-Dist") or []

    def extra(name: str) -> set[str]:
        return {
            re.split(r"[<>=;\[ ]", r, maxsplit=1)[0].lower()
            for r in requires
            if f"extra == '{name}'" in r
        }

    assert {"ruff", "mypy", "twine", "build"} <= extra("dev")
    assert not {"ruff", "mypy", "twine", "build"} & extra("test")


def load_constraints() -> ModuleType:
    if not CONSTRAINTS.is_file():
        pytest.skip("scripts/constraints.py is a CI script, not in the sdist")
    spec = importlib.util.spec_from_file_location("constraints", CONSTRAINTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_constraints_pin_every_dependency_to_its_lowest_version(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\ndependencies = [\n"
        '  "alembic>=1.16",\n'
        '  "GitPython >= 3.1.40, <4",\n'
        '  "psycopg[binary]>=3.1",\n'
        "  \"tomli>=2.0; python_version < '3.11'\",\n"
        "]\n"
    )
    assert load_constraints().constraints(pyproject) == [
        "alembic==1.16",
        "GitPython==3.1.40",
        "psycopg==3.1",
        "tomli==2.0; python_version < '3.11'",
    ]


def test_constraints_refuse_a_dependency_without_a_lower_bound(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["click>=8.1", "libcst"]\n')
    with pytest.raises(SystemExit, match="'libcst' has no `>=` lower bound"):
        load_constraints().constraints(pyproject)


def test_constraints_cover_every_declared_dependency() -> None:
    pins = load_constraints().constraints(REPO / "pyproject.toml")
    assert len(pins) == len(PYPROJECT["project"]["dependencies"])
    assert all("==" in pin for pin in pins)
