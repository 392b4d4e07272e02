"""Alembic projects in real git repositories, for the merge and hook tests.

A :class:`Proj` is a copy of one of the fixture projects (Alembic's typed template in
``fixtures/typed`` or Flask-Migrate's in ``fixtures/flask_app``) in which revisions are made by
the real ``alembic revision`` with readable ids. :func:`make_team` puts one in a git repository
with a bare ``origin`` and a second clone, so that what is on ``origin/main`` (the upstream)
is decided by real pushes and fetches.

Import as ``from projutil import ...`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import SRC as SRC  # re-exported: tests import it from here too
from conftest import copy_fixture, python, python_m
from gitutil import commit_all, git, make_repo

# The head of each fixture project: revision "a" of the scenarios.
BASE_HEAD = {"typed": "bbbb0004", "flask": "gggg0003"}
FIXTURE = {"typed": "typed", "flask": "flask_app"}
# How each template spells the down_revision assignment.
DOWN_PREFIX = {
    "typed": "down_revision: Union[str, Sequence[str], None] = ",
    "flask": "down_revision = ",
}
GITIGNORE = "__pycache__/\n*.db\ninstance/\n"

_CREATE_DATE = re.compile(rb"Create Date: [^\r\n]*")


@dataclass(frozen=True)
class Proj:
    """One Alembic project directory (the work tree root when it is in git)."""

    root: Path
    template: str  # "typed" or "flask"

    @property
    def migrations(self) -> Path:
        return self.root / "migrations"

    @property
    def versions(self) -> Path:
        return self.migrations / "versions"

    @property
    def a(self) -> str:
        return BASE_HEAD[self.template]

    def config(self) -> Any:
        """The ``alembic.config.Config`` that ``alembic`` / ``flask db`` would build."""
        from alembic.config import Config

        if self.template == "flask":
            cfg = Config(str(self.migrations / "alembic.ini"))
            # Flask-Migrate supplies script_location at run time.
            cfg.set_main_option("script_location", str(self.migrations))
            return cfg
        return Config(str(self.root / "alembic.ini"))

    def revision(self, rev: str, message: str, *, head: str = "head", splice: bool = False) -> Path:
        """``alembic revision -m MESSAGE --rev-id REV [--head HEAD] [--splice]``."""
        from alembic import command

        script = command.revision(
            self.config(), message=message, rev_id=rev, head=head, splice=splice
        )
        assert script is not None
        return Path(script.path)

    def alembic_merge(self, rev: str, heads: str | list[str] = "heads", message: str = "") -> Path:
        """The real ``alembic merge`` (it imports every revision file)."""
        from alembic import command

        script = command.merge(self.config(), heads, message=message or "merge heads", rev_id=rev)
        assert script is not None
        return Path(script.path)

    def file(self, rev: str) -> Path:
        found = sorted(self.versions.glob(f"{rev}_*.py"))
        assert len(found) == 1, (rev, found)
        return found[0]

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every file under the versions folder: content and mtime, by relative path."""
        return {
            p.relative_to(self.versions).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(self.versions.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }

    def copy(self, dest: Path) -> Proj:
        shutil.copytree(self.root, dest, ignore=shutil.ignore_patterns(".git", "*.db"))
        return Proj(dest, self.template)


def new_project(tmp_path: Path, template: str, name: str = "proj") -> Proj:
    """A fixture project copied to ``tmp_path/name`` (not in git)."""
    copied = copy_fixture(FIXTURE[template], tmp_path)
    return Proj(copied.rename(tmp_path / name), template)


@dataclass(frozen=True)
class Team:
    """``origin`` (bare), ``alice`` (where migfix runs) and ``bob`` (lands things upstream)."""

    remote: Path
    alice: Proj
    bob: Proj


def make_team(tmp_path: Path, template: str) -> Team:
    remote = tmp_path / "origin.git"
    remote.mkdir()
    git(remote, "init", "-q", "--bare", "-b", "main")
    alice_root = make_repo(tmp_path / "alice")
    src = new_project(tmp_path, template, "seed")
    shutil.copytree(src.root, alice_root, dirs_exist_ok=True)
    (alice_root / ".gitignore").write_text(GITIGNORE)
    commit_all(alice_root, "project")
    git(alice_root, "remote", "add", "origin", str(remote))
    git(alice_root, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(remote), "bob")
    return Team(remote, Proj(alice_root, template), Proj(tmp_path / "bob", template))


def land(proj: Proj, rev: str, message: str, *, beside: bool = False) -> None:
    """Land one new revision on origin/main from PROJ's clone (a merged pull request).

    With ``beside``, the revision is made on a branch cut before main's last commit and then
    merged with a real ``git merge``: two pull requests that each added a migration.
    """
    if beside:
        git(proj.root, "checkout", "-q", "-b", f"pr-{rev}", "main~1")
    proj.revision(rev, message)
    commit_all(proj.root, f"add {rev}")
    if beside:
        git(proj.root, "checkout", "-q", "main")
        git(proj.root, "merge", "-q", "--no-edit", f"pr-{rev}")
    git(proj.root, "push", "-q", "origin", "main")


def pull(proj: Proj) -> None:
    git(proj.root, "pull", "-q", "--no-rebase", "--no-edit")


def normalize(data: bytes) -> bytes:
    """File bytes with the ``Create Date`` (the clock) blanked."""
    return _CREATE_DATE.sub(b"Create Date: <now>", data)


def repointed(old: bytes, template: str, before: str, after: str) -> bytes:
    """The exact bytes migfix must leave: only the Revises: line and down_revision changed."""
    text = old.decode("utf-8")
    prefix = DOWN_PREFIX[template]
    for a, b in (
        (f"Revises: {before}\n", f"Revises: {after}\n"),
        (f"{prefix}{before!r}\n", f"{prefix}{after!r}\n"),
    ):
        assert text.count(a) == 1, (a, text)
        text = text.replace(a, b)
    return text.encode("utf-8")


_VERIFY = r"""
import json, os, sys
from pathlib import Path
from alembic.config import Config
from alembic.script import ScriptDirectory

root, template = Path(sys.argv[1]), sys.argv[2]
if template == "flask":
    cfg = Config(str(root / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
else:
    cfg = Config(str(root / "alembic.ini"))
heads = sorted(ScriptDirectory.from_config(cfg).get_heads())
current = None
if sys.argv[3] == "upgrade":
    import sqlalchemy as sa
    if template == "flask":
        sys.path.insert(0, str(root))
        import flask_migrate
        from app import app
        with app.app_context():
            flask_migrate.upgrade(directory=str(root / "migrations"))
    else:
        from alembic import command
        command.upgrade(cfg, "heads")
    engine = sa.create_engine(os.environ["MIGFIX_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("select version_num from alembic_version")
        current = sorted(r[0] for r in rows)
print(json.dumps({"heads": heads, "current": current}))
"""


def alembic_view(proj: Proj, *, upgrade: bool = False) -> dict[str, Any]:
    """What real Alembic sees, in a fresh interpreter (no module or bytecode cache).

    With ``upgrade``, also run a real upgrade to the heads on a new SQLite database
    (``flask db upgrade`` for the Flask app) and read back ``alembic_version``.
    """
    db = proj.root.parent / f"{proj.root.name}-verify.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    mode = "upgrade" if upgrade else "heads"
    proc = python(
        proj.root,
        "-c",
        _VERIFY,
        str(proj.root),
        proj.template,
        mode,
        env={"MIGFIX_DATABASE_URL": url, "DATABASE_URL": url},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def migfix_proc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """``python -m migfix ARGS`` in a subprocess (:func:`conftest.python_m`)."""
    return python_m(cwd, "migfix", *args, env=env)


def local_project(tmp_path: Path, template: str = "typed") -> Proj:
    """A repository on main with the fixture project committed, no remote."""
    proj = new_project(tmp_path, template, "repo")
    git(proj.root, "init", "-q", "-b", "main")
    (proj.root / ".gitignore").write_text(GITIGNORE)
    commit_all(proj.root, "project")
    return proj


def two_migration_branches(proj: Proj, b: str = "b0000001", c: str = "c0000001") -> None:
    """Branches feat-b and feat-c, each adding one migration (B, C) on top of main's head;
    main is fast-forwarded to feat-b, so it has one head. The commits run the installed hooks."""
    for branch, rev in (("feat-b", b), ("feat-c", c)):
        git(proj.root, "checkout", "-q", "-b", branch, "main")
        proj.revision(rev, f"add {rev[0]}")
        git(proj.root, "add", "-A")
        git(proj.root, "commit", "-q", "-m", f"add {rev}")
    git(proj.root, "checkout", "-q", "main")
    git(proj.root, "merge", "-q", "feat-b")  # fast-forward: one head


STAMP = "# stamped by the post-write hook\n"


def configured_project(tmp_path: Path) -> Proj:
    """The typed project with every option that shapes a new revision file turned on."""
    proj = new_project(tmp_path, "typed")
    hook = tmp_path / "stamp.sh"
    hook.write_text(f"#!/bin/sh\nprintf '{STAMP.strip()}\\n' >> \"$1\"\n")
    hook.chmod(0o755)
    ini = proj.root / "alembic.ini"
    text = ini.read_text()
    text = text.replace(
        "[alembic]\n",
        "[alembic]\n"
        "file_template = %%(year)d_%%(rev)s_%%(slug)s\n"
        "truncate_slug_length = 8\n"
        "timezone = UTC\n"
        "output_encoding = latin-1\n"
        "revision_environment = true\n",
        1,
    )
    text = text.replace(
        "[post_write_hooks]\n",
        "[post_write_hooks]\n"
        "hooks = stamp\n"
        "stamp.type = exec\n"
        f"stamp.executable = {hook}\n"
        "stamp.options = REVISION_SCRIPT_FILENAME\n",
        1,
    )
    ini.write_text(text)
    env = proj.migrations / "env.py"
    text = env.read_text()
    text = text.replace(
        "config = context.config\n",
        "config = context.config\n"
        "with open(os.path.join(os.path.dirname(__file__), 'env-ran.txt'), 'a') as _f:\n"
        "    _f.write('ran\\n')\n",
        1,
    )
    text = text.replace(
        "connection=connection, target_metadata=target_metadata\n",
        "connection=connection, target_metadata=target_metadata,\n"
        "            template_args={'reviewed_by': 'env.py'},\n",
        1,
    )
    env.write_text(text)
    mako = proj.migrations / "script.py.mako"
    text = mako.read_text()
    mako.write_text(
        # A bare coding comment would be read by Mako as the template's own encoding.
        '${"# -*- coding: latin-1 -*-"}\n'
        + text.replace(
            "import sqlalchemy as sa\n", "import sqlalchemy as sa\n# reviewed by: ${reviewed_by}\n"
        )
    )
    return proj
