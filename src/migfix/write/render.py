"""``migfix merge``'s new files, rendered by Alembic.

Alembic renders each planned merge file with the project's own ``script.py.mako``,
``file_template``, timezone, output encoding and post-write hooks, but it is handed the
static graph instead of loading (importing) every revision file: that is both faster and
works when the migrations import an application that is not installed. Alembic itself is
imported only here, inside the functions that render.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import sys
import tempfile
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migfix.errors import MigfixError, Refusal
from migfix.plan.merge import MergePlan
from migfix.project.config import alembic_config
from migfix.project.model import Project
from migfix.read.graph import Graph
from migfix.write import txn
from migfix.write.state import state_dir

# A line assigning down_revision from the template variable, e.g.
# ``down_revision: Union[...] = ${repr(down_revision)}``.
_DOWN_IN_TEMPLATE = re.compile(
    r"(?m)^[ \t]*down_revision\b[^\n]*=[^\n]*\$\{[^}\n]*\bdown_revision\b"
)


@dataclass(frozen=True)
class RenderedMerge:
    """A planned merge revision as Alembic rendered it: where it goes, and its bytes."""

    revision: str
    parents: tuple[str, ...]
    path: Path
    content: bytes


def render_merges(project: Project, graph: Graph, plan: MergePlan) -> list[RenderedMerge]:
    """Have Alembic write each planned merge file into a scratch folder, then read it back.

    The scratch folder is migfix's own (:func:`scratch_folder`, under the git dir or beside the
    config), never inside a version location, where Alembic with
    ``recursive_version_locations`` would load it if migfix were killed. It is still below
    the project root when the git dir is, so post-write hooks (black, ruff...) find the
    project's configuration. The real file is written later, with every other change.
    """
    if project.script_location is None:
        raise Refusal(
            "No script_location is known (the project was given with --versions), so there is "
            "no script.py.mako to render a merge revision with. Run migfix with -c "
            "path/to/alembic.ini."
        )
    template = project.script_location / "script.py.mako"
    try:
        template_text = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise Refusal(
            f"{template}: cannot read the revision template ({exc.strerror}). Restore "
            "script.py.mako (e.g. from `alembic init`)."
        ) from exc
    # The Revises: header also uses ${down_revision}; what matters is the assignment.
    if not _DOWN_IN_TEMPLATE.search(template_text):
        raise Refusal(
            f"{template} has no ${{down_revision}}, so a merge revision rendered from it would "
            "not name its parents. Add `down_revision = ${repr(down_revision)}` to the template."
        )
    jobs = [
        _RenderJob(
            m.revision,
            m.parents,
            # Alembic puts the file beside the first head when there are several version
            # locations; the scratch folder takes that place.
            _version_dir(project, graph, m.parents),
            tuple(_parent(project, graph, h) for h in m.parents),
            m.branch_label,
        )
        for m in plan.merges
    ]
    return render(project, jobs, plan.message)


@dataclass(frozen=True)
class _Parent:
    """A merge's parent as Alembic needs to see it (see ``_parent_scripts``)."""

    revision: str
    labels: tuple[str, ...]
    docstring: str
    path: Path


@dataclass(frozen=True)
class _RenderJob:
    revision: str
    heads: tuple[str, ...]
    real_dir: Path
    parents: tuple[_Parent, ...]
    branch_label: str | None


def _parent(project: Project, graph: Graph, rev: str) -> _Parent:
    node = graph.nodes.get(rev)
    if node is None:  # a merge planned just before this one, not in the graph yet
        return _Parent(rev, (), "", project.version_locations[0] / f"{rev}.py")
    return _Parent(rev, tuple(node.labels or ()), node.file.docstring or "", node.path)


def render(project: Project, jobs: Sequence[_RenderJob], message: str) -> list[RenderedMerge]:
    """Render JOBS through Alembic."""
    try:
        from alembic.script import ScriptDirectory
        from alembic.script.revision import RevisionMap
        from alembic.util import CommandError
    except ImportError as exc:  # pragma: no cover - alembic is a dependency
        raise MigfixError(f"alembic is needed to write a merge revision ({exc}).") from exc

    cfg = alembic_config(project)
    out: list[RenderedMerge] = []
    for job in jobs:
        with scratch_folder(project.root) as scratch, _where_alembic_runs(project):
            script_dir = ScriptDirectory.from_config(cfg)
            script_dir.version_locations = [str(scratch)]
            script_dir.__dict__.pop("_version_locations", None)
            script_dir.__dict__.pop("_singular_version_location", None)
            scripts = _parent_scripts(job.parents)
            script_dir.revision_map = RevisionMap(_constant(scripts))
            # As in `alembic merge`: env.py may add template arguments through
            # context.configure(template_args=...), so the same dict goes to the template.
            template_args: dict[str, Any] = {"config": cfg}
            try:
                _run_revision_environment(cfg, script_dir, template_args)
                script = script_dir.generate_revision(
                    job.revision,
                    message,
                    refresh=True,
                    head=list(job.heads),
                    branch_labels=job.branch_label,
                    **template_args,
                )
            except CommandError as exc:
                raise Refusal(f"Alembic refused to write the merge revision: {exc}") from exc
            except ImportError as exc:
                raise _template_failed(project, exc) from exc
            except SyntaxError as exc:  # Alembic loads the file it wrote
                raise _invalid(project, script_dir, exc) from exc
            if script is None:  # pragma: no cover - alembic returns None only for odd names
                raise Refusal("Alembic wrote no merge revision (check file_template).")
            written = Path(script.path)
            content = written.read_bytes()
            try:
                ast.parse(content)
            except (SyntaxError, ValueError) as exc:
                raise _invalid(project, script_dir, exc) from exc
            path = job.real_dir / written.relative_to(scratch)
            out.append(RenderedMerge(job.revision, job.heads, path, content))
    return out


@contextlib.contextmanager
def _where_alembic_runs(project: Project) -> Iterator[None]:
    """Render as ``alembic merge`` run from the config's folder would, whatever folder
    migfix (or the hook, at the repository root) started in: ``prepend_sys_path = .`` and
    a template importing the project's own package mean that folder. The working folder
    and sys.path (Alembic prepends to it) are given back afterwards."""
    old_cwd = Path.cwd()
    old_path = list(sys.path)
    os.chdir(project.root)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def _template_failed(project: Project, exc: ImportError) -> Refusal:
    assert project.script_location is not None  # checked before rendering
    return Refusal(
        f"{project.script_location / 'script.py.mako'}: rendering the merge revision failed: "
        f"{exc}. The revision template imports it where migfix runs, as `alembic merge` "
        "would (from the config's folder, with prepend_sys_path): install it (or run migfix "
        "inside the project's virtualenv), or fix the template. Nothing was written."
    )


def _invalid(project: Project, script_dir: Any, exc: Exception) -> Refusal:
    """A merge file that is not valid Python is the template's or a post-write hook's
    doing (Alembic fails to load it, and so would every command after it)."""
    detail = f"{getattr(exc, 'msg', exc)}, line {getattr(exc, 'lineno', '?')}"
    names = [str(h.get("_hook_name", "?")) for h in script_dir.hooks]
    if names:
        culprit = (
            f"The post_write_hooks ({', '.join(names)}) left a merge revision that is "
            f"not valid Python ({detail}). Fix the hook (try it on the file `alembic "
            "revision` writes)"
        )
    else:
        assert project.script_location is not None
        culprit = (
            f"{project.script_location / 'script.py.mako'} renders a merge revision that "
            f"is not valid Python ({detail}). Fix the template"
        )
    return Refusal(f"{culprit}. Nothing was written.")


def _parent_scripts(parents: Sequence[_Parent]) -> list[Any]:
    """The merge's parents as Alembic scripts, each standing alone as a base.

    To render a merge, Alembic needs its parents to exist and be heads; the history
    below them changes nothing in the file it writes. Building Alembic's RevisionMap
    over a 5,000-revision history costs ~200 ms, so it gets only the parents (a parent
    may be a merge planned just before this one, not in the graph yet).
    """
    from alembic.script import Script

    out = []
    for parent in parents:
        module = types.ModuleType(f"migfix_parent_{parent.revision}")
        module.down_revision = None  # type: ignore[attr-defined]
        module.branch_labels = parent.labels or None  # type: ignore[attr-defined]
        module.depends_on = None  # type: ignore[attr-defined]
        module.__doc__ = parent.docstring
        out.append(Script(module, parent.revision, parent.path))
    return out


def _constant(scripts: list[Any]) -> Any:
    def generate() -> list[Any]:
        return scripts

    return generate


def _run_revision_environment(cfg: Any, script_dir: Any, template_args: dict[str, Any]) -> None:
    """``revision_environment = true`` makes ``alembic merge`` run env.py; so does migfix."""
    from alembic import util

    if not util.asbool(cfg.get_alembic_option("revision_environment")):
        return
    from alembic.runtime.environment import EnvironmentContext

    def nothing(rev: Any, context: Any) -> list[Any]:
        return []

    try:
        with EnvironmentContext(
            cfg, script_dir, fn=nothing, as_sql=False, template_args=template_args
        ):
            script_dir.run_env()
    except ImportError as exc:
        raise Refusal(
            f"revision_environment is on, so env.py must run to write a revision, and it "
            f"failed to import {getattr(exc, 'name', None) or exc}. Install the application's "
            "dependencies (or run migfix inside its virtualenv), or turn revision_environment off."
        ) from exc


def _version_dir(project: Project, graph: Graph, heads: Sequence[str]) -> Path:
    if len(project.version_locations) > 1:
        for h in heads:
            if h in graph.nodes:
                return graph.nodes[h].path.parent
    return project.version_locations[0]


@contextlib.contextmanager
def scratch_folder(root: Path) -> Iterator[Path]:
    """A fresh folder on the project's file system but outside every version location
    (where Alembic renders a merge file); removed afterwards, or by recovery if killed."""
    folder = state_dir(root) / txn.TXN
    folder.mkdir(parents=True, exist_ok=True)
    # The ".migfix-" prefix tells the heads lock's post-write hook to skip this render.
    path = Path(tempfile.mkdtemp(prefix=".migfix-render-", dir=folder))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
