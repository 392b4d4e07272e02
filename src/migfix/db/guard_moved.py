"""What the env.py guard (:mod:`migfix.db.guard`) says once it could not rule a move out:
the moves ``db status`` would find, the database's recorded heads through the connection
env.py opened, and, when they are out of step, the paragraph that stops the upgrade.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from migfix.db.connect import database_key, safe_url
from migfix.db.sync_status import OUT_OF_STEP, analyse
from migfix.git import gitops
from migfix.project.config import find_project
from migfix.read.graph import read_graph
from migfix.write import moves as journal
from migfix.write import moves_seen


def refusal(mc: Any, repo: Path | None) -> str | None:
    """Why the upgrade that Alembic's MigrationContext MC is about to run must stop; None
    when it may go on. REPO is the work tree holding the scripts, None to ask git."""
    script = mc.script
    dirs = [Path(p) for p in script._version_locations]
    if repo is None:
        repo = gitops.find_repo(Path(script.dir))
        if repo is None:
            return None  # outside git: nothing can have moved
    moves, syncs, _ = moves_seen.all_moves(repo, dirs)
    if not moves:
        return None
    project = find_project(
        Path(script.dir), versions=dirs, recursive=bool(script.recursive_version_locations)
    )
    graph = read_graph(project, full=False)
    url = mc.connection.engine.url
    key = database_key(url)
    a = analyse(graph, mc.get_current_heads(), moves, [s for s in syncs if s.database == key])
    if a.state != OUT_OF_STEP:
        return None
    flask = "flask_migrate" in sys.modules
    command = "flask migfix db upgrade" if flask else "migfix db upgrade"
    moved = "; ".join(
        f"{rev} moved ({journal.ids(old)} -> {journal.ids(new)})" for rev, old, new, _ in a.moved
    )
    return (
        f"migfix: {safe_url(url)} records {journal.ids(a.recorded)}, but {moved} after "
        f"it ran there: {journal.ids(a.missing)} never ran on this database, and this upgrade "
        f"would not run them. Nothing was run. Run `{command}`, which runs them and then "
        "upgrades (or set MIGFIX_NO_GUARD=1 to upgrade without this check)."
    )
