"""The seed's whole Flask-Migrate workflow, end to end, with real tools only.

Two branches each add a model and run ``flask db migrate``; they are merged with a real
``git merge``, which fires migfix's post-merge hook; the hook joins the two heads; then
``flask db upgrade`` works on a fresh database, ``migfix verify`` passes and ``migfix check``
is clean. It needs ``migfix merge`` and the hook runner, so it is skipped until they land.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SRC, ok, python_m
from gitutil import commit_all, git, make_repo, write

DATA = Path(__file__).resolve().parents[1] / "data" / "verify"

pytestmark = [
    pytest.mark.usefixtures("git_env"),
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("migfix.plan.merge") is None,
        reason="needs migfix merge and the hook runner",
    ),
]

TAG_MODEL = """

class Tag(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    label = db.Column(db.String(32), unique=True)
"""

NOTE_MODEL = """

class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.Text)
"""


def run(cwd: Path, *args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    # app.py reads APP_DATABASE_URL: each branch keeps its own development database,
    # as two developers would.
    return python_m(cwd, *args, env=None if db is None else {"APP_DATABASE_URL": f"sqlite:///{db}"})


def add_model(app_py: Path, model: str, *, after: str | None = None) -> None:
    text = app_py.read_text()
    if after is None:
        text += model
    else:
        # Different places in the file, so git merges the two branches without a conflict.
        text = text.replace(after, after + model, 1)
    app_py.write_text(text)


def test_two_branches_migrate_merge_and_the_hook_fixes_the_heads(tmp_path: Path) -> None:
    repo = Path(shutil.copytree(DATA / "flaskapp", tmp_path / "proj"))
    make_repo(repo)
    write(repo / ".gitignore", "__pycache__/\n*.db\ninstance/\n")
    commit_all(repo, "app with three migrations")

    git(repo, "checkout", "-q", "-b", "tags")
    db_a = tmp_path / "a.db"
    ok(run(repo, "flask", "db", "upgrade", db=db_a))
    add_model(repo / "app.py", TAG_MODEL, after="migrate = Migrate(app, db)\n")
    ok(run(repo, "flask", "db", "migrate", "-m", "tags", "--rev-id", "1111aaaa", db=db_a))
    commit_all(repo, "tags")

    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "notes")
    db_b = tmp_path / "b.db"
    ok(run(repo, "flask", "db", "upgrade", db=db_b))
    add_model(repo / "app.py", NOTE_MODEL)
    ok(run(repo, "flask", "db", "migrate", "-m", "notes", "--rev-id", "2222bbbb", db=db_b))
    commit_all(repo, "notes")

    ok(run(repo, "migfix", "hook", "install"))
    git(repo, "checkout", "-q", "tags")
    # Fires the post-merge hook, which must import this checkout's migfix even when the
    # suite runs with a relative PYTHONPATH (`PYTHONPATH=src pytest`).
    git(repo, "merge", "--no-edit", "notes", env={"PYTHONPATH": str(SRC)})

    heads = ok(run(repo, "migfix", "heads")).stdout.split()
    assert len(heads) == 2 and heads[1] == "(head)", heads  # one head left: the merge
    ok(run(repo, "flask", "db", "upgrade", db=tmp_path / "fresh.db"))
    # The developer of `tags` upgrades the database they already had, too.
    ok(run(repo, "flask", "db", "upgrade", db=db_a))
    ok(run(repo, "migfix", "verify"))
    ok(run(repo, "migfix", "verify", "--full"))
    ok(run(repo, "migfix", "check"))
