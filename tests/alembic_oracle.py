"""Ask real Alembic what a migration graph is: the oracle for differential tests.

migfix reads revision files statically; these helpers load the same files the way Alembic
does (importing every migration module, which is fine in tests and only in tests) and report
the graph in the shape of the shared corpus truth files (see shared/corpus/README.md beside
the checkout), except that ``file`` is an absolute path here.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any


def alembic_graph(
    version_locations: list[Path],
    *,
    recursive: bool = False,
    script_dir: Path | None = None,
) -> dict[str, Any]:
    """Load ``version_locations`` with Alembic's ``ScriptDirectory`` and describe the graph.

    Returns ``{"heads": [...], "bases": [...], "revisions": {rev: {"file", "down", "labels",
    "deps"}}}``. ``labels`` are the labels a revision declares itself (not the ones Alembic
    propagates down its branch) and ``deps`` its declared ``depends_on``, so the result can be
    compared with what a static reader sees in each file.

    ``script_dir`` only has to exist (Alembic checks it); it defaults to the first version
    location. Alembic's own errors (``CommandError``, ``RevisionError``, ``KeyError`` for a
    dangling parent) propagate unchanged, so a test can assert that Alembic rejects a graph.
    """
    from alembic import util
    from alembic.script import Script, ScriptDirectory

    if not version_locations:
        raise ValueError("alembic_graph needs at least one version location")
    script = ScriptDirectory(
        str(script_dir if script_dir is not None else version_locations[0]),
        version_locations=[str(p) for p in version_locations],
        recursive_version_locations=recursive,
    )
    revision_map = script.revision_map
    # Loading imports every migration; don't leave __pycache__ folders in fixtures or corpus.
    saved_dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with warnings.catch_warnings():
            # Alembic warns (and keeps one) on a duplicate id; report what it kept.
            warnings.simplefilter("ignore")
            heads = sorted(revision_map.heads)
            bases = sorted(revision_map.bases)
    finally:
        sys.dont_write_bytecode = saved_dont_write
    # The map is also keyed by branch label (and None), so keep each revision once, by its id.
    scripts = {
        sc.revision: sc for sc in revision_map._revision_map.values() if isinstance(sc, Script)
    }

    revisions: dict[str, dict[str, Any]] = {}
    for rev, sc in sorted(scripts.items()):
        revisions[rev] = {
            "file": str(Path(sc.path).resolve()),
            "down": sorted(util.to_tuple(sc.down_revision, default=())),
            "labels": sorted(sc._orig_branch_labels),
            "deps": sorted(util.to_tuple(sc.dependencies, default=())),
        }
    return {"heads": heads, "bases": bases, "revisions": revisions}


def fixture_graph(project: Path) -> dict[str, Any]:
    """``alembic_graph`` for a project directory, configured the way Alembic configures it.

    Looks for ``alembic.ini`` (and ``pyproject.toml``) in ``project``, else the Flask-Migrate
    layout ``migrations/alembic.ini``, whose ``script_location`` Flask-Migrate supplies at run
    time (the ini's own folder). Reading through Alembic's ``Config`` keeps ``%(here)s``,
    ``path_separator`` and ``[tool.alembic]`` meaning exactly what they mean to Alembic.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    ini = project / "alembic.ini"
    flask_ini = project / "migrations" / "alembic.ini"
    toml = project / "pyproject.toml"
    if not ini.exists() and flask_ini.exists():
        ini = flask_ini
    config = Config(
        str(ini) if ini.exists() else None,
        toml_file=str(toml) if toml.exists() else None,
    )
    if config.get_alembic_option("script_location") is None and ini == flask_ini:
        config.set_main_option("script_location", str(flask_ini.parent))
    script = ScriptDirectory.from_config(config)
    locations = [Path(p) for p in script.version_locations] or [Path(script.dir, "versions")]
    return alembic_graph(
        locations,
        recursive=script.recursive_version_locations,
        script_dir=Path(script.dir),
    )
