"""The read-only commands end to end: `migfix heads`, `graph` and `check`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import Migfix, child_imports, copy_fixture
from gitutil import commit_all, git, make_repo, write

READABLE = ["plain", "typed", "two_heads", "labels", "recursive", "pyproject_cfg", "flask_app"]


def alembic_heads(project: Path, monkeypatch: pytest.MonkeyPatch, *, verbose: bool) -> str:
    """What `alembic heads` (or `flask db heads`) prints for a fixture project."""
    from alembic import command
    from alembic.config import Config

    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))
    buf = io.StringIO()
    ini = project / "alembic.ini"
    toml = project / "pyproject.toml"
    flask = not ini.exists()
    cfg = Config(
        project / "migrations/alembic.ini" if flask else ini,
        toml_file=toml if toml.exists() else None,
        stdout=buf,
    )
    if flask:
        cfg.set_main_option("script_location", "migrations")
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            command.heads(cfg, verbose=verbose)
    finally:
        sys.dont_write_bytecode = saved
    return buf.getvalue()


# -- heads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("name", READABLE)
def test_heads_text_equals_alembic_heads(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str, verbose: bool, migfix: Migfix
) -> None:
    project = fixtures_dir / name
    expected = alembic_heads(project, monkeypatch, verbose=verbose)
    code, out, err = migfix(project, "heads", *(["-v"] if verbose else []))
    assert out.splitlines() == expected.splitlines()
    assert err == ""
    assert code == (1 if name == "two_heads" else 0)


def test_heads_labels_text(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "labels", "heads")
    assert (code, out) == (0, "dddd0004 (billing) (head)\ndddd0003 (auth) (head)\n")


def test_heads_json(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "two_heads", "heads", "--json")
    data = json.loads(out)
    assert code == 1
    assert data["version"] == 1
    assert data["ok"] is False
    assert [(h["revision"], h["branch_labels"], h["intended"]) for h in data["heads"]] == [
        ("cccc0002", [], False),
        ("cccc0003", [], False),
    ]
    for h in data["heads"]:
        assert set(h) == {"revision", "path", "line", "doc", "branch_labels", "intended"}
        assert h["path"].startswith("migrations/versions/cccc000")
        assert isinstance(h["line"], int) and h["line"] > 0
    code, out, _ = migfix(fixtures_dir / "labels", "heads", "--json")
    data = json.loads(out)
    assert (code, data["ok"]) == (0, True)
    assert [(h["revision"], h["branch_labels"], h["intended"]) for h in data["heads"]] == [
        ("dddd0004", ["billing"], True),
        ("dddd0003", ["auth"], True),
    ]


def test_allow_heads_makes_heads_intended(tmp_path: Path, migfix: Migfix) -> None:
    project = copy_fixture("two_heads", tmp_path)
    (project / "pyproject.toml").write_text('[tool.migfix]\nallow_heads = ["cccc0003"]\n')
    assert migfix(project, "heads")[0] == 0
    assert migfix(project, "check")[0] == 0


# -- graph ---------------------------------------------------------------------------------------


def test_graph_json_schema(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "labels", "graph", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["heads"] == ["dddd0004", "dddd0003"]
    assert data["bases"] == ["dddd0001", "dddd0002"]
    assert data["version_locations"] == ["migrations/billing", "migrations/auth"]
    by_rev = {r["revision"]: r for r in data["revisions"]}
    assert by_rev["dddd0004"] == {
        "revision": "dddd0004",
        "path": "migrations/billing/dddd0004_invoice_belongs_to_user.py",
        "line": by_rev["dddd0004"]["line"],
        "doc": "invoice belongs to user",
        "down_revisions": ["dddd0001"],
        "branch_labels": [],
        "depends_on": ["dddd0002"],
        "effective_branch_labels": ["billing"],
        "children": [],
    }
    assert by_rev["dddd0001"]["branch_labels"] == ["billing"]
    lines = (fixtures_dir / "labels" / by_rev["dddd0004"]["path"]).read_text().splitlines()
    assert lines[by_rev["dddd0004"]["line"] - 1].startswith("revision")


def test_graph_json_marks_unknown_values(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "faults", "graph", "--json")
    by_rev = {r["revision"]: r for r in json.loads(out)["revisions"]}
    assert code == 0
    assert by_rev["hhhh0005"]["down_revisions"] == {"unknown": "revision_ids.REV"}


def test_graph_text_diamond(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "typed", "graph")
    assert code == 0
    assert out == (
        "bbbb0001 (base)  create account table\n"
        "├─ bbbb0002  create invoice table\n"
        "│  ╰→ bbbb0004 (merge, drawn under bbbb0003)\n"
        "└─ bbbb0003  create address table\n"
        "   bbbb0004 (merges bbbb0002, bbbb0003; head)  merge invoice and address\n"
    )


def test_graph_text_labels(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "labels", "graph")
    assert code == 0
    assert out == (
        "dddd0001 (base; labels: billing)  create invoice table\n"
        "dddd0004 (depends on dddd0002; head)  invoice belongs to user\n"
        "dddd0002 (base; labels: auth)  create user table\n"
        "dddd0003 (head)  add user email\n"
    )


def test_graph_text_shows_a_revision_that_names_itself(tmp_path: Path, migfix: Migfix) -> None:
    # `graph` shows every revision: one whose down_revision is itself was left out entirely.
    write(tmp_path / "v/a.py", "revision = 'a'\ndown_revision = None\n")
    write(tmp_path / "v/s.py", "revision = 's'\ndown_revision = 's'\n")
    code, out, _ = migfix(tmp_path, "graph", "--versions", "v")
    assert code == 0
    assert out == "a (base; HEAD, unintended)\ns (names itself; HEAD, unintended)\n"


# -- check ---------------------------------------------------------------------------------------

FAULTS = [
    ("missing-revision", "error", "migrations/versions/helpers.py", 1),
    ("non-literal", "error", "migrations/versions/hhhh0005_computed_parent.py", 16),
    ("duplicate-revision", "error", "migrations/versions/hhhh0003_copy_of_add_user_email.py", 13),
    ("unknown-parent", "error", "migrations/versions/hhhh0002_parent_was_deleted.py", 14),
    ("revises-mismatch", "warning", "migrations/versions/hhhh0004_header_disagrees.py", 4),
    ("multiple-heads", "error", "migrations/versions/hhhh0005_computed_parent.py", 15),
]


def _line_of(path: Path, prefix: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))


def test_fault_lines_are_where_the_fault_is(fixtures_dir: Path) -> None:
    root = fixtures_dir / "faults"
    versions = "migrations/versions/"
    assert _line_of(root / (versions + "hhhh0005_computed_parent.py"), "down_revision") == 16
    assert _line_of(root / (versions + "hhhh0005_computed_parent.py"), "revision") == 15
    assert _line_of(root / (versions + "hhhh0003_copy_of_add_user_email.py"), "revision") == 13
    assert _line_of(root / (versions + "hhhh0002_parent_was_deleted.py"), "down_revision") == 14
    assert _line_of(root / (versions + "hhhh0004_header_disagrees.py"), "Revises:") == 4


def test_check_json_reports_every_fault(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "faults", "check", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["ok"] is False
    assert [(p["code"], p["severity"], p["path"], p["line"]) for p in data["problems"]] == FAULTS
    assert data["heads"] == ["hhhh0002", "hhhh0004", "hhhh0005"]
    for p in data["problems"]:
        assert set(p) == {"code", "severity", "message", "path", "line", "revisions"}


def test_check_names_the_duplicate_file_relative_to_the_project(
    fixtures_dir: Path, migfix: Migfix
) -> None:
    code, out, _ = migfix(fixtures_dir / "faults", "check", "--format", "json")
    [dupe] = [p for p in json.loads(out)["problems"] if p["code"] == "duplicate-revision"]
    assert code == 1
    assert dupe["message"] == (
        "revision 'hhhh0003' is also declared in "
        "migrations/versions/hhhh0003_add_user_email.py; Alembic keeps only one of them. "
        "Give one file a new id (and repoint its children)."
    )


def test_check_text(fixtures_dir: Path, migfix: Migfix) -> None:
    code, out, _ = migfix(fixtures_dir / "faults", "check")
    lines = out.splitlines()
    assert code == 1
    assert len(lines) == len(FAULTS) + 1
    for line, (fault, severity, path, lineno) in zip(lines, FAULTS, strict=False):
        assert line.startswith(f"{path}:{lineno}: {severity}: ")
        assert line.endswith(f" [{fault}]")
    # `migfix merge` refuses this graph: the footer names what to fix first.
    assert lines[-1] == (
        "5 revisions, 3 heads: 5 errors, 1 warning; fix the duplicate-revision, "
        "missing-revision, non-literal and unknown-parent errors above first (`migfix merge` "
        "refuses while the graph has them), then join the heads"
    )


@pytest.mark.slow
def test_check_github(tmp_path: Path, migfix: Migfix) -> None:
    # A copy outside any git repository: paths are relative to the project root.
    project = copy_fixture("faults", tmp_path)
    code, out, _ = migfix(project, "check", "--format", "github")
    lines = out.splitlines()
    assert code == 1
    assert len(lines) == len(FAULTS)
    for line, (fault, severity, path, lineno) in zip(lines, FAULTS, strict=True):
        assert line.startswith(f"::{severity} file={path},line={lineno},title=migfix {fault}::"), (
            line
        )
    # The other file is named relative to the project, never by the runner's absolute path.
    assert lines[2] == (
        "::error file=migrations/versions/hhhh0003_copy_of_add_user_email.py,line=13,"
        "title=migfix duplicate-revision::revision 'hhhh0003' is also declared in "
        "migrations/versions/hhhh0003_add_user_email.py; Alembic keeps only one of them. "
        "Give one file a new id (and repoint its children)."
    )
    assert lines[3] == (
        "::error file=migrations/versions/hhhh0002_parent_was_deleted.py,line=14,"
        "title=migfix unknown-parent::down_revision names 'hhhh9999', which no revision file "
        "declares. Restore the missing file, or point down_revision at an existing revision."
    )


def test_check_clean_projects(fixtures_dir: Path, migfix: Migfix) -> None:
    for name in READABLE:
        code, out, _ = migfix(fixtures_dir / name, "check")
        assert code == (1 if name == "two_heads" else 0), (name, out)


def test_check_strict_fails_on_warnings(tmp_path: Path, migfix: Migfix) -> None:
    project = copy_fixture("plain", tmp_path)
    rev = project / "migrations/versions/aaaa0003_add_user_email.py"
    rev.write_text(rev.read_text().replace("Revises: aaaa0002", "Revises: aaaa0001"))
    code, out, _ = migfix(project, "check")
    assert code == 0
    assert out.endswith("4 revisions, 1 head: 0 errors, 1 warning\n")
    assert migfix(project, "check", "--strict")[0] == 1


@pytest.mark.parametrize("argv", [["check"], ["check", "--deep"]])
def test_check_finds_a_syntax_error_in_a_body(
    tmp_path: Path, argv: list[str], migfix: Migfix
) -> None:
    # By default: --deep is kept only so that existing scripts still work.
    project = copy_fixture("plain", tmp_path)
    rev = project / "migrations/versions/aaaa0004_index_post_title.py"
    text = rev.read_text()
    rev.write_text(text + "\n\ndef broken(:\n    pass\n")
    code, out, _ = migfix(project, *argv)
    broken_line = len(text.splitlines()) + 3
    assert code == 1
    assert out.count("[unparseable]") == 1
    assert (
        f"migrations/versions/aaaa0004_index_post_title.py:{broken_line}: error: the file is "
        "not valid Python (invalid syntax), so Alembic will fail to load it. Fix the syntax "
        "error. [unparseable]"
    ) in out


@pytest.mark.slow
@pytest.mark.usefixtures("git_env")
def test_check_against_a_ref(tmp_path: Path, migfix: Migfix) -> None:
    project = copy_fixture("plain", tmp_path)
    make_repo(project)
    commit_all(project, "initial")
    git(project, "checkout", "-q", "-b", "feature")
    new = "migrations/versions/aaaa0005_feature.py"
    write(
        project / new,
        '"""feature\n\nRevision ID: aaaa0005\nRevises: aaaa0004\n"""\n'
        "revision = 'aaaa0005'\ndown_revision = 'aaaa0004'\n",
    )
    commit_all(project, "feature migration")
    git(project, "checkout", "-q", "main")
    write(
        project / "migrations/versions/aaaa0006_main.py",
        '"""main\n\nRevision ID: aaaa0006\nRevises: aaaa0004\n"""\n'
        "revision = 'aaaa0006'\ndown_revision = 'aaaa0004'\n",
    )
    commit_all(project, "main migration")
    git(project, "checkout", "-q", "feature")
    assert migfix(project, "check")[0] == 0
    code, out, _ = migfix(project, "check", "--against", "main", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["heads"] == ["aaaa0006", "aaaa0005"]
    [problem] = data["problems"]
    assert (problem["code"], problem["path"]) == ("multiple-heads", new)
    # against its own history, the branch is fine
    assert migfix(project, "check", "--against", "feature")[0] == 0
    code, _, err = migfix(project, "check", "--against", "no-such-ref")
    assert code == 2
    assert err.startswith("migfix: ") and "no-such-ref" in err and "Traceback" not in err


# -- bad input: one paragraph, exit 2, never a traceback ------------------------------------------


@pytest.mark.parametrize(
    ("files", "argv", "fragment"),
    [
        ({"pyproject.toml": "[tool.alembic\n"}, ["check"], "cannot read it as TOML"),
        ({"alembic.ini": "[alembic]\nscript_location = %(nope)s/x\n"}, ["heads"], "cannot be"),
        ({"alembic.ini": "no section header\n"}, ["graph"], "cannot read it as an ini file"),
        ({"alembic.ini": "[alembic]\nscript_location = gone\n"}, ["check"], "does not exist"),
        ({"alembic.ini": "[other]\n"}, ["heads"], "has no script_location in [alembic]"),
        ({}, ["check", "--versions", "nowhere"], "--versions"),
        ({}, ["check", "-c", "missing.ini"], "does not exist"),
        ({}, ["check", "--format", "xml"], "Invalid value for '--format'"),
        (
            {"alembic.ini": "[alembic]\nscript_location = s\n", "s/env.py": ""},
            ["check", "-n", "x"],
            "has no [x] section (sections: [alembic]). Pass -n with one of them",
        ),
    ],
)
def test_bad_input_exits_2_without_traceback(
    tmp_path: Path, files: dict[str, str], argv: list[str], fragment: str, migfix: Migfix
) -> None:
    (tmp_path / ".git").mkdir()
    for rel, text in files.items():
        write(tmp_path / rel, text)
    code, out, err = migfix(tmp_path, *argv)
    assert code == 2
    assert out == ""
    assert fragment in err
    assert "Traceback" not in err and "internal error" not in err
    assert err.count("\n") <= 4, err  # one paragraph (click adds its usage lines)


def test_unreadable_revision_file_is_reported_not_raised(tmp_path: Path, migfix: Migfix) -> None:
    project = copy_fixture("plain", tmp_path)
    (project / "migrations/versions/bad_bytes.py").write_bytes(b"revision = '\xff\xfe'\n")
    code, out, err = migfix(project, "check")
    assert code == 1
    assert "migrations/versions/bad_bytes.py:1: error: cannot decode the file" in out
    assert err == ""


# -- import cost ---------------------------------------------------------------------------------

HEAVY = ("alembic", "sqlalchemy", "libcst", "git", "mako")


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["check"], ["heads"], ["graph", "--json"]])
def test_read_commands_do_not_import_heavy_packages(fixtures_dir: Path, argv: list[str]) -> None:
    proc, modules = child_imports(fixtures_dir / "labels", "-m", "migfix", *argv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported_packages = {name.split(".")[0] for name in modules}
    assert "migfix" in imported_packages  # the parse works
    assert not imported_packages & set(HEAVY), sorted(imported_packages & set(HEAVY))


def _migfix_modules(cwd: Path, *argv: str) -> set[str]:
    """The migfix modules a fresh ``python -m migfix ARGV`` imports (from ``-X importtime``)."""
    proc, modules = child_imports(cwd, "-m", "migfix", *argv)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    found = [name for name in modules if name.startswith("migfix")]
    assert "migfix.cli.main" in found  # the parse works
    return set(found)


# What only `check`, `merge` or `rebase` need: asking git about remotes and other refs,
# overlap with another ref, the heads lock, the writer lock's signal handling reached from
# error reporting, merge hints.
NOT_FOR_HEADS = {
    "migfix.commands.check",
    "migfix.cli.stale",
    "migfix.plan.against",
    "migfix.plan.overlap",
    "migfix.plan.heads_lock",
    "migfix.plan.settled",
    "migfix.git.remotes",
    "migfix.git.history",
    "migfix.report.next_step",
    "migfix.report.published",
}


@pytest.mark.slow
def test_heads_imports_only_what_reading_the_heads_needs(fixtures_dir: Path) -> None:
    imported = _migfix_modules(fixtures_dir / "labels", "heads")
    assert not imported & NOT_FOR_HEADS, sorted(imported & NOT_FOR_HEADS)


@pytest.mark.slow
def test_check_imports_no_hint_of_merge(fixtures_dir: Path) -> None:
    imported = _migfix_modules(fixtures_dir / "labels", "check")
    assert "migfix.commands.check" in imported
    assert not imported & {"migfix.report.published", "migfix.plan.settled", "migfix.cli.heads"}


@pytest.mark.slow
def test_check_github_paths_are_relative_to_the_repository(tmp_path: Path, migfix: Migfix) -> None:
    # GitHub resolves annotation paths against the repository root, not alembic.ini's folder.
    backend = tmp_path / "repo" / "backend"
    backend.parent.mkdir()
    copy_fixture("two_heads", tmp_path).rename(backend)
    subprocess.run(["git", "init", "-q", str(backend.parent)], check=True)
    code, out, _ = migfix(backend, "check", "--format", "github")
    assert code == 1
    assert out.startswith(
        "::error file=backend/migrations/versions/cccc0003_create_team_table.py,line=15,"
        "title=migfix multiple-heads::"
    )


def test_config_options_before_the_command_like_alembic(tmp_path: Path, migfix: Migfix) -> None:
    # `alembic -c path heads` takes -c before the command; so does migfix.
    project = copy_fixture("two_heads", tmp_path)
    ini = str(project / "alembic.ini")
    before = migfix(tmp_path, "-c", ini, "heads")
    after = migfix(tmp_path, "heads", "-c", ini)
    assert before == after == (1, "cccc0002 (head)\ncccc0003 (head)\n", "")
    code, _, err = migfix(tmp_path, "-c", ini, "-n", "other", "heads")
    assert code == 2 and "has no [other] section" in err


def _rev_file(versions: Path, rev: str, down: str, *, revision: str | None = None) -> None:
    write(
        versions / f"{rev}.py",
        f'"""{rev}"""\nrevision = {revision or repr(rev)}\ndown_revision = {down}\n'
        "branch_labels = None\ndepends_on = None\n",
    )


def test_heads_with_a_computed_down_revision_prints_only_sure_heads_and_exits_2(
    tmp_path: Path, migfix: Migfix
) -> None:
    # The alembic-git-revisions template computes down_revision at import time.
    versions = tmp_path / "versions"
    _rev_file(versions, "aaaa0001", "None")
    _rev_file(versions, "aaaa0002", "'aaaa0001'")
    _rev_file(versions, "cccc0001", "previous_revision(__file__)")
    _rev_file(versions, "cccc0002", "'cccc0001'")
    code, out, err = migfix(tmp_path, "heads", "--versions", "versions")
    assert (code, out) == (2, "cccc0002 (head)\n")
    assert err == (
        "migfix: cannot tell every head: 1 value is not a literal, so what it names is known "
        "only when Alembic imports the file (versions/cccc0001.py:3: down_revision = "
        "previous_revision(__file__)). The head printed above holds whatever those values are. "
        "Write the revision ids as string literals (see `migfix check`), then run migfix heads "
        "again.\n"
    )
    code, out, _ = migfix(tmp_path, "heads", "--json", "--versions", "versions")
    data = json.loads(out)
    assert code == 2 and data["ok"] is False
    assert [h["revision"] for h in data["heads"]] == ["cccc0002"]
    assert data["unsure"] == [
        {
            "path": "versions/cccc0001.py",
            "line": 3,
            "name": "down_revision",
            "source": "previous_revision(__file__)",
        }
    ]


def test_heads_with_a_computed_revision_id_names_it_and_exits_2(
    tmp_path: Path, migfix: Migfix
) -> None:
    versions = tmp_path / "versions"
    _rev_file(versions, "aaaa0001", "None")
    _rev_file(versions, "aaaa0002", "'aaaa0001'")
    _rev_file(versions, "bbbb0001", "'aaaa0002'", revision="make_id()")
    code, out, err = migfix(tmp_path, "heads", "--versions", "versions")
    # aaaa0002 is named by the file whose own id is unknown: it is no head.
    assert (code, out) == (2, "")
    assert err == (
        "migfix: cannot tell every head: 1 value is not a literal, so what it names is known "
        "only when Alembic imports the file (versions/bbbb0001.py:2: revision = make_id()). "
        "No head is certain. Write the revision ids as string literals (see `migfix check`), "
        "then run migfix heads again.\n"
    )
    # With literals everywhere the same folder is an ordinary one-head graph.
    _rev_file(versions, "bbbb0001", "'aaaa0002'")
    code, out, err = migfix(tmp_path, "heads", "--versions", "versions")
    assert (code, out, err) == (0, "bbbb0001 (head)\n", "")


# Measured with callgrind on 300 cached revisions: these were 30M instructions of the start of
# every `heads` and `check` that found every file in the scan cache, and none of them is used.
NOT_FOR_CACHED_READING = {
    "migfix.read.header_reader",
    "migfix.read.ast_reader",
    "migfix.read.loadable",
    "json",
    "subprocess",
    "dataclasses",
}


@pytest.mark.slow
@pytest.mark.parametrize("command", ["heads", "check"])
def test_reading_from_the_scan_cache_imports_no_reader(
    tmp_path: Path, migfix: Migfix, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from types import SimpleNamespace

    from migfix.read import scancache

    project = copy_fixture("plain", tmp_path)
    # The files were just copied: the cache keeps a file only once its timestamps are two
    # seconds old. This run fills the cache as if they were, without waiting.
    later = scancache.time.time_ns() + 10 * scancache._RACY_NS
    monkeypatch.setattr(scancache, "time", SimpleNamespace(time_ns=lambda: later))
    assert migfix(project, "check").rc == 0
    proc, modules = child_imports(project, "-m", "migfix", command)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "migfix.read.scan" in modules
    assert not set(modules) & NOT_FOR_CACHED_READING, sorted(set(modules) & NOT_FOR_CACHED_READING)
