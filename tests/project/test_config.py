"""migfix.project.config: finding the project and its version locations exactly as Alembic does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from migfix.cli.main import main
from migfix.errors import ConfigError
from migfix.project.config import find_project
from migfix.project.model import Project


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def scripts(*dirs: str) -> dict[str, str]:
    """A script folder (env.py) per entry, and empty version folders are created by callers."""
    return {f"{d}/env.py": "" for d in dirs}


def alembic_view(
    monkeypatch: pytest.MonkeyPatch,
    cwd: Path,
    ini: Path | None,
    toml: Path | None = None,
    *,
    section: str = "alembic",
    script_location: str | None = None,
) -> tuple[list[Path], bool]:
    """(version locations, recursive) as Alembic's own Config + ScriptDirectory compute them,
    run from ``cwd`` (Alembic resolves relative paths against the current directory)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", list(sys.path))  # from_config prepends prepend_sys_path
    cfg = Config(ini, toml_file=toml, ini_section=section)
    if script_location is not None:  # what Flask-Migrate does at run time
        cfg.set_main_option("script_location", script_location)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated separators
        sd = ScriptDirectory.from_config(cfg)
        locations = [Path(p).resolve() for p in sd._version_locations]
    return locations, sd.recursive_version_locations


def migfix_view(project: Project) -> tuple[list[Path], bool]:
    return [p.resolve() for p in project.version_locations], project.recursive


# -- finding the config ----------------------------------------------------------------------


def test_upward_search_from_a_sub_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
            **scripts("migrations"),
            "app/models/x.py": "",
        },
    )
    project = find_project(root / "app" / "models")
    assert project.config_file == root / "alembic.ini"
    assert project.root == root
    assert project.kind == "alembic"
    assert migfix_view(project) == alembic_view(monkeypatch, root, root / "alembic.ini")
    assert project.version_locations == (root / "migrations" / "versions",)


def test_relative_script_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(tmp_path, {"alembic.ini": "[alembic]\nscript_location = db\n", **scripts("db")})
    project = find_project(root / "db")
    assert migfix_view(project) == alembic_view(monkeypatch, root, root / "alembic.ini")


def test_explicit_config_and_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(
        tmp_path,
        {
            "conf/multi.ini": """
                [alembic]
                script_location = %(here)s/one
                [second]
                script_location = %(here)s/two
                version_locations = %(here)s/two/v1 %(here)s/two/v2
                path_separator = space
            """,
            **scripts("conf/one", "conf/two"),
        },
    )
    ini = root / "conf" / "multi.ini"
    first = find_project(tmp_path, config=Path("conf/multi.ini"))
    assert migfix_view(first) == alembic_view(monkeypatch, root, ini)
    second = find_project(tmp_path, config=ini, name="second")
    assert second.ini_section == "second"
    assert migfix_view(second) == alembic_view(monkeypatch, root, ini, section="second")
    assert second.version_locations == (root / "conf/two/v1", root / "conf/two/v2")


def test_explicit_config_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        find_project(tmp_path, config=Path("nope.ini"))
    assert exc.value.message == (
        f"Config file {tmp_path / 'nope.ini'} does not exist. Pass the path of your "
        "alembic.ini (or pyproject.toml) with -c, or run migfix from the project directory."
    )


def test_flask_migrate_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(
        tmp_path,
        {
            "migrations/alembic.ini": "[alembic]\n# template used to generate migration files\n",
            **scripts("migrations"),
            "app.py": "",
        },
    )
    project = find_project(root)
    assert project.kind == "flask"
    assert project.root == root
    assert project.script_location == root / "migrations"
    # Flask-Migrate passes directory="migrations", relative to where `flask db` runs
    expected = alembic_view(
        monkeypatch, root, root / "migrations/alembic.ini", script_location="migrations"
    )
    assert migfix_view(project) == expected
    # from inside the migrations folder too
    assert find_project(root / "migrations").version_locations == project.version_locations


def test_pyproject_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "x"
                [tool.alembic]
                script_location = "%(here)s/migrations"
                version_locations = ["%(here)s/migrations/versions", "%(here)s/more"]
                recursive_version_locations = true
            """,
            **scripts("migrations"),
        },
    )
    project = find_project(root / "migrations")
    assert project.kind == "pyproject"
    assert project.config_file is None
    assert project.toml_file == root / "pyproject.toml"
    assert migfix_view(project) == alembic_view(monkeypatch, root, None, root / "pyproject.toml")
    assert project.recursive is True


def test_pyproject_beside_alembic_ini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `alembic init -t pyproject` layout: alembic.ini only holds the database URL."""
    root = write(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nsqlalchemy.url = sqlite:///x.db\n",
            "pyproject.toml": """
                [tool.alembic]
                script_location = "%(here)s/migrations"
                version_locations = ["%(here)s/migrations/versions"]
            """,
            **scripts("migrations"),
        },
    )
    project = find_project(root)
    expected = alembic_view(monkeypatch, root, root / "alembic.ini", root / "pyproject.toml")
    assert migfix_view(project) == expected
    assert project.config_file == root / "alembic.ini"
    assert project.toml_file == root / "pyproject.toml"


def test_pyproject_fixture(fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fixtures_dir / "pyproject_cfg"
    expected = alembic_view(monkeypatch, root, root / "alembic.ini", root / "pyproject.toml")
    assert migfix_view(find_project(root)) == expected


def test_ini_option_wins_over_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/ini_scripts\n",
            "pyproject.toml": '[tool.alembic]\nscript_location = "%(here)s/toml_scripts"\n',
            **scripts("ini_scripts", "toml_scripts"),
        },
    )
    project = find_project(root)
    expected = alembic_view(monkeypatch, root, root / "alembic.ini", root / "pyproject.toml")
    assert migfix_view(project) == expected
    assert project.script_location == root / "ini_scripts"


def test_package_resource_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nscript_location = mfx_beside_pkg:migrations\n",
            "mfx_beside_pkg/__init__.py": "raise RuntimeError('migfix must not import this')\n",
            **scripts("mfx_beside_pkg/migrations"),
        },
    )
    project = find_project(root)
    assert project.script_location == root / "mfx_beside_pkg" / "migrations"
    # Alembic imports the package to find it; give it one that imports cleanly
    (root / "mfx_beside_pkg/__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    assert migfix_view(project) == alembic_view(monkeypatch, root, root / "alembic.ini")


def test_package_resource_found_via_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "site/mfx_site_pkg/__init__.py": "",
            **scripts("site/mfx_site_pkg/db"),
            "proj/alembic.ini": """
                [alembic]
                script_location = mfx_site_pkg:db
                version_locations = mfx_site_pkg:db/versions mfx_site_pkg:db/extra
                path_separator = space
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    project = find_project(tmp_path / "proj")
    assert project.script_location == tmp_path / "site/mfx_site_pkg/db"
    assert migfix_view(project) == alembic_view(
        monkeypatch, tmp_path / "proj", tmp_path / "proj/alembic.ini"
    )


def test_missing_package_resource(tmp_path: Path) -> None:
    write(tmp_path, {"alembic.ini": "[alembic]\nscript_location = mfx_no_such_pkg:db\n"})
    with pytest.raises(ConfigError) as exc:
        find_project(tmp_path)
    assert exc.value.message == (
        f"{tmp_path / 'alembic.ini'}: cannot find the package resource 'mfx_no_such_pkg:db' "
        f"(looked in {tmp_path}, its parents up to the repository's root, their src/ folders, "
        "prepend_sys_path and sys.path). Install the package, or write the location as a path."
    )


@pytest.mark.slow
def test_package_resource_found_in_the_repository_when_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's layout: the config inside the package it names, the package under src/."""
    pkg = "src/mfx_prefect_pkg"
    root = write(
        tmp_path,
        {
            f"{pkg}/__init__.py": "raise RuntimeError('migfix must not import this')\n",
            f"{pkg}/server/database/alembic.ini": (
                "[alembic]\nscript_location = mfx_prefect_pkg:server/database/migrations\n"
            ),
            **scripts(f"{pkg}/server/database/migrations"),
        },
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    config = root / pkg / "server/database/alembic.ini"

    project = find_project(root, config=config)

    assert project.script_location == root / pkg / "server/database/migrations"
    # Alembic imports the package to find it: as it would once installed.
    (root / pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root / "src"))
    assert migfix_view(project) == alembic_view(monkeypatch, config.parent, config)


def test_package_resource_found_where_prepend_sys_path_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "lib/mfx_pp_pkg/__init__.py": "",
            **scripts("lib/mfx_pp_pkg/db"),
            "proj/alembic.ini": (
                "[alembic]\nscript_location = mfx_pp_pkg:db\nprepend_sys_path = . ../lib\n"
            ),
        },
    )

    project = find_project(tmp_path / "proj")

    assert project.script_location == tmp_path / "lib/mfx_pp_pkg/db"
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    assert migfix_view(project) == alembic_view(
        monkeypatch, tmp_path / "proj", tmp_path / "proj/alembic.ini"
    )


# -- version_locations and separators ----------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "joiner"),
    [
        ("path_separator = os", os.pathsep),
        ("path_separator = space", " "),
        ("path_separator = newline", "\n    "),
        ("path_separator = ;", ";"),
        ("path_separator = :", ":"),
        ("version_path_separator = ;", ";"),
        ("version_path_separator = space", " "),
        ("", " "),  # legacy: spaces
        ("", ", "),  # legacy: commas
        ("", ","),
    ],
)
def test_version_location_separators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, joiner: str
) -> None:
    locations = joiner.join(["%(here)s/v/one", "v/two", "v/three"])
    if joiner.startswith("\n"):
        locations = "\n    " + locations
    root = write(
        tmp_path,
        {
            "alembic.ini": f"[alembic]\nscript_location = scripts\n{option}\n"
            f"version_locations = {locations}\n",
            **scripts("scripts"),
        },
    )
    project = find_project(root)
    assert migfix_view(project) == alembic_view(monkeypatch, root, root / "alembic.ini")
    assert project.version_locations == (root / "v/one", root / "v/two", root / "v/three")


@pytest.mark.parametrize("key", ["path_separator", "version_path_separator"])
def test_bad_separator(tmp_path: Path, key: str) -> None:
    write(
        tmp_path,
        {
            "alembic.ini": f"[alembic]\nscript_location = s\n{key} = comma\n"
            "version_locations = a,b\n",
            **scripts("s"),
        },
    )
    with pytest.raises(ConfigError) as exc:
        find_project(tmp_path)
    assert exc.value.message == (
        f"{tmp_path / 'alembic.ini'}: 'comma' is not a valid value for {key}; expected "
        "'space', 'newline', 'os', ':' or ';'."
    )


@pytest.mark.parametrize("value", ["true", "false", "True", None])
def test_recursive_version_locations_ini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    line = f"recursive_version_locations = {value}\n" if value is not None else ""
    root = write(
        tmp_path, {"alembic.ini": f"[alembic]\nscript_location = s\n{line}", **scripts("s")}
    )
    project = find_project(root)
    assert migfix_view(project) == alembic_view(monkeypatch, root, root / "alembic.ini")
    assert project.recursive is (value == "true")


@pytest.mark.parametrize("value", ["true", "false"])
def test_recursive_version_locations_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": f'[tool.alembic]\nscript_location = "s"\n'
            f"recursive_version_locations = {value}\n",
            **scripts("s"),
        },
    )
    project = find_project(root)
    assert migfix_view(project) == alembic_view(monkeypatch, root, None, root / "pyproject.toml")
    assert project.recursive is (value == "true")


def test_toml_recursive_must_be_a_boolean(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.alembic]\nscript_location = "s"\n'
            'recursive_version_locations = "yes"\n',
            **scripts("s"),
        },
    )
    with pytest.raises(ConfigError, match="recursive_version_locations must be true or false"):
        find_project(tmp_path)


@pytest.mark.parametrize(
    "name", ["plain", "typed", "two_heads", "labels", "recursive", "faults", "flask_app"]
)
def test_fixture_configs_equal_alembic(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    root = fixtures_dir / name
    project = find_project(root)
    if name == "flask_app":
        expected = alembic_view(
            monkeypatch, root, root / "migrations/alembic.ini", script_location="migrations"
        )
    else:
        expected = alembic_view(monkeypatch, root, root / "alembic.ini")
    assert migfix_view(project) == expected


# -- nothing found, and [tool.migfix] ----------------------------------------------------------


def test_no_config_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError) as exc:
        find_project(tmp_path / "sub")
    assert exc.value.message == (
        "No Alembic project found: looked for alembic.ini, pyproject.toml with [tool.alembic] "
        f"and migrations/alembic.ini in {tmp_path / 'sub'} and its parents up to {tmp_path}. "
        "Run migfix from your project, or pass -c path/to/alembic.ini, or --versions "
        "path/to/versions."
    )


def test_no_config_at_the_repository_root_does_not_name_the_directory_twice(
    tmp_path: Path,
) -> None:
    # Run from the root of a monorepo whose project lives in backend/.
    (tmp_path / ".git").mkdir()
    with pytest.raises(ConfigError) as exc:
        find_project(tmp_path)
    assert exc.value.message == (
        "No Alembic project found: looked for alembic.ini, pyproject.toml with [tool.alembic] "
        f"and migrations/alembic.ini in {tmp_path} (the root of its git repository; migfix "
        "does not look above it). Run migfix from your project, or pass -c "
        "path/to/alembic.ini, or --versions path/to/versions."
    )


@pytest.mark.slow
def test_no_config_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for command in (["heads"], ["graph"], ["check"]):
        assert main(command) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("migfix: No Alembic project found: looked for")
        assert "Traceback" not in captured.err


def test_pyproject_without_tool_alembic_is_skipped(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\n',
            "migrations/alembic.ini": "[alembic]\n",
            **scripts("migrations"),
        },
    )
    assert find_project(root).kind == "flask"


def _project_with_settings(tmp_path: Path, settings: str) -> Path:
    return write(
        tmp_path,
        {
            "alembic.ini": "[alembic]\nscript_location = s\n",
            "pyproject.toml": f"[tool.migfix]\n{settings}\n",
            **scripts("s"),
        },
    )


def test_tool_migfix_settings(tmp_path: Path) -> None:
    root = _project_with_settings(
        tmp_path,
        'upstream = "origin/dev"\nstrategy = "rebase"\ncommit = true\nmessage = "join"\n'
        'allow_heads = ["ab12", "cd34"]',
    )
    s = find_project(root).settings
    assert (s.upstream, s.strategy, s.commit, s.message, s.allow_heads, s.source) == (
        "origin/dev",
        "rebase",
        True,
        "join",
        ("ab12", "cd34"),
        root / "pyproject.toml",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "colour = 1",
            "[tool.migfix] has an unknown key 'colour'. Allowed keys: upstream, strategy, "
            "commit, message, allow_heads, lock, pytest, sync_db.",
        ),
        ("lock = 1", "[tool.migfix] lock = 1: allowed values are true, false."),
        ('pytest = "on"', "[tool.migfix] pytest = 'on': allowed values are true, false."),
        (
            'strategy = "squash"',
            '[tool.migfix] strategy = \'squash\': allowed values are "merge", "rebase".',
        ),
        ('commit = "yes"', "[tool.migfix] commit = 'yes': allowed values are true, false."),
        (
            'allow_heads = "ab12"',
            '[tool.migfix] allow_heads must be a list of revision ids, e.g. ["ab12", "cd34"].',
        ),
        (
            "allow_heads = [1]",
            '[tool.migfix] allow_heads must be a list of revision ids, e.g. ["ab12", "cd34"].',
        ),
    ],
)
def test_bad_tool_migfix_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: str,
    message: str,
) -> None:
    root = _project_with_settings(tmp_path, settings)
    monkeypatch.chdir(root)
    assert main(["check"]) == 2
    assert capsys.readouterr().err == f"migfix: {root / 'pyproject.toml'}: {message}\n"


def test_a_file_outside_the_project_root_is_named_from_its_repository(tmp_path: Path) -> None:
    # backend/alembic.ini beside migrations/: the revision files are outside the project
    # root but in its repository, and named from there (as `git status` names them).
    from migfix.project.model import relpath

    (tmp_path / "repo" / ".git").mkdir(parents=True)
    root = tmp_path / "repo" / "backend"
    versions = tmp_path / "repo" / "migrations" / "versions"

    assert relpath(root / "migrations" / "x.py", root) == "migrations/x.py"
    assert relpath(versions / "x.py", root) == "migrations/versions/x.py"
    # Outside the repository there is no shorter name that still says where it is.
    assert relpath(tmp_path / "other" / "x.py", root) == str(tmp_path / "other" / "x.py")
    assert relpath(tmp_path / "x.py", tmp_path / "repo") == str(tmp_path / "x.py")


def test_config_files_are_every_file_the_configuration_was_read_from(tmp_path: Path) -> None:
    # `ci untouched` and the hook treat a change to one as a change to the migrations.
    from migfix.project.discover import Entry, owns

    (tmp_path / ".git").mkdir()
    write(
        tmp_path,
        {
            "pyproject.toml": "[tool.migfix]\nlock = true\n",
            "app/alembic.ini": "[alembic]\nscript_location = s\n",
            **scripts("app/s"),
        },
    )
    ini = tmp_path / "app" / "alembic.ini"
    assert find_project(ini.parent).config_files == (ini, tmp_path / "pyproject.toml")
    entry = Entry("app", ini, project=find_project(ini.parent))
    assert owns(entry, [tmp_path / "pyproject.toml"])
    assert not owns(entry, [tmp_path / "README.md"])

    # A pyproject.toml beside the ini is read even with neither table: adding
    # [tool.migfix] or [tool.alembic] to it changes the project.
    (tmp_path / "app" / "pyproject.toml").write_text('[project]\nname = "app"\n')
    toml = tmp_path / "app" / "pyproject.toml"
    assert find_project(ini.parent).config_files == (ini, toml)
    # [tool.alembic] and [tool.migfix] in one file: named once.
    toml.write_text("[tool.alembic]\nscript_location = 's'\n[tool.migfix]\nlock = true\n")
    assert find_project(ini.parent).config_files == (ini, toml)
