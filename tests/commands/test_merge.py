"""``migfix merge`` end to end: real git repositories, revisions made by the real
``alembic revision``, results checked byte for byte and loaded by real Alembic.

Revision names follow issue 4's table: ``a`` is the fixture's head (bbbb0004 / gggg0003),
``b``/``c`` are revisions that reached origin/main, ``n``/``b1``/``b2`` are this branch's own,
``m`` is the merge migfix writes and ``u`` a merge someone already landed upstream.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Migfix, corpus_index, corpus_truth
from gitutil import git, git_proc
from projutil import (
    DOWN_PREFIX,
    STAMP,
    Proj,
    alembic_view,
    configured_project,
    land,
    make_team,
    new_project,
    normalize,
    pull,
    repointed,
)

pytestmark = pytest.mark.usefixtures("git_env")

B, C, N, B1, B2 = "b0000001", "c0000001", "n0000001", "b1000001", "b2000001"
M, U = "mmmm0001", "uuuu0001"
TEMPLATES = ["typed", "flask"]


def assert_healthy(migfix: Migfix, proj: Proj, heads: list[str], *, upgrade: bool = False) -> None:
    """migfix check passes and real Alembic sees exactly HEADS (and can upgrade to them)."""
    checked = migfix(proj.root, "check")
    assert checked.rc == 0, checked.out + checked.err
    seen = alembic_view(proj, upgrade=upgrade)
    assert seen["heads"] == sorted(heads)
    if upgrade:
        assert seen["current"] == sorted(heads)


def reference_merge(proj: Proj, dest: Path, *, drop: tuple[str, ...] = ()) -> bytes:
    """What the real ``alembic merge heads`` writes in a copy of PROJ (minus DROP's files)."""
    ref = proj.copy(dest)
    for rev in drop:
        ref.file(rev).unlink()
    return normalize(ref.alembic_merge(M).read_bytes())


def merge_file(proj: Proj) -> Path:
    return proj.file(M)


# --- issue 4's table, row by row, with both templates --------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_row1_two_settled_heads_get_one_merge_and_nothing_else_changes(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    team = make_team(tmp_path, template)
    # c lands first, b second from a branch cut before c: git order is not Alembic's order.
    land(team.bob, C, "add c")
    land(team.bob, B, "add b", beside=True)
    alice = team.alice
    pull(alice)
    before = alice.snapshot()
    expected = reference_merge(alice, tmp_path / "ref")

    result = migfix(alice.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert result.out == (
        f"Created merge revision {M} ({B}, {C}): migrations/versions/{M}_merge_heads.py\n"
        "Review the result and commit it; `migfix check` now passes.\n"
    )
    after = alice.snapshot()
    assert set(after) - set(before) == {f"{M}_merge_heads.py"}
    assert {k: v for k, v in after.items() if k in before} == before
    assert normalize(merge_file(alice).read_bytes()) == expected
    assert git(alice.root, "status", "--porcelain") == f"?? migrations/versions/{M}_merge_heads.py"
    assert_healthy(migfix, alice, [M], upgrade=True)


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_row2_branch_revision_written_before_upstream_merge_moves_onto_it(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    team = make_team(tmp_path, template)
    alice, bob = team.alice, team.bob
    land(bob, B, "add b")
    pull(alice)
    n_path = alice.revision(N, "add n")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "n")
    # Meanwhile upstream: c beside b, joined by a merge made with the real `alembic merge`.
    land(bob, C, "add c", beside=True)
    bob.alembic_merge(U, message="merge b and c")
    git(bob.root, "add", "-A")
    git(bob.root, "commit", "-q", "-m", "merge heads")
    git(bob.root, "push", "-q", "origin", "main")
    pull(alice)
    old = n_path.read_bytes()
    before = alice.snapshot()

    result = migfix(alice.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert result.out == (
        f"Repointed {N}: {B} -> {U}  (migrations/versions/{N}_add_n.py)\n"
        "Review the result and commit it; `migfix check` now passes.\n"
    )
    assert n_path.read_bytes() == repointed(old, template, B, U)
    after = alice.snapshot()
    assert set(after) == set(before)  # no new file
    assert [k for k in after if after[k] != before[k]] == [f"{N}_add_n.py"]
    assert_healthy(migfix, alice, [N], upgrade=True)


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_row3_branch_revision_on_one_of_two_settled_heads_moves_onto_the_merge(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    team = make_team(tmp_path, template)
    alice, bob = team.alice, team.bob
    land(bob, C, "add c")
    pull(alice)
    n_path = alice.revision(N, "add n")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "n")
    land(bob, B, "add b", beside=True)
    pull(alice)
    old = n_path.read_bytes()
    expected_merge = reference_merge(alice, tmp_path / "ref", drop=(N,))

    result = migfix(alice.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert result.out == (
        f"Created merge revision {M} ({B}, {C}): migrations/versions/{M}_merge_heads.py\n"
        f"Repointed {N}: {C} -> {M}  (migrations/versions/{N}_add_n.py)\n"
        "Review the result and commit it; `migfix check` now passes.\n"
    )
    assert normalize(merge_file(alice).read_bytes()) == expected_merge
    assert n_path.read_bytes() == repointed(old, template, C, M)
    assert sorted(git(alice.root, "status", "--porcelain").splitlines()) == [
        f" M migrations/versions/{N}_add_n.py",
        f"?? migrations/versions/{M}_merge_heads.py",
    ]
    assert_healthy(migfix, alice, [N], upgrade=True)


def _row4(tmp_path: Path, template: str) -> Proj:
    team = make_team(tmp_path, template)
    alice = team.alice
    alice.revision(B1, "add b1")
    alice.revision(B2, "add b2")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "b1, b2")
    land(team.bob, C, "add c")
    pull(alice)
    return alice


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_row4_branch_chain_is_moved_onto_the_upstream_head(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    alice = _row4(tmp_path, template)
    b1 = alice.file(B1)
    old = b1.read_bytes()
    before = alice.snapshot()

    result = migfix(alice.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert result.out == (
        f"Repointed {B1}: {alice.a} -> {C}  (migrations/versions/{B1}_add_b1.py)\n"
        "Review the result and commit it; `migfix check` now passes.\n"
    )
    assert b1.read_bytes() == repointed(old, template, alice.a, C)
    after = alice.snapshot()
    assert [k for k in after if after.get(k) != before.get(k)] == [f"{B1}_add_b1.py"]
    assert_healthy(migfix, alice, [B2], upgrade=True)


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_row4_no_repoint_writes_what_alembic_merge_heads_writes(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    alice = _row4(tmp_path, template)
    before = alice.snapshot()
    expected = reference_merge(alice, tmp_path / "ref")

    result = migfix(alice.root, "merge", "--no-repoint", "--rev-id", M)

    assert result.rc == 0, result.err
    # Alembic's order: load order, i.e. file names sorted (b2... before c...).
    assert f"Created merge revision {M} ({B2}, {C})" in result.out
    assert normalize(merge_file(alice).read_bytes()) == expected
    after = alice.snapshot()
    assert {k: v for k, v in after.items() if k in before} == before
    assert len(after) == len(before) + 1
    assert_healthy(migfix, alice, [M])


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_row5_without_git_two_heads_get_a_merge(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    proj = new_project(tmp_path, template)
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)
    expected = reference_merge(proj, tmp_path / "ref")
    before = proj.snapshot()

    result = migfix(proj.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert f"Created merge revision {M} ({B}, {C})" in result.out
    assert normalize(merge_file(proj).read_bytes()) == expected
    assert {k: v for k, v in proj.snapshot().items() if k in before} == before
    assert_healthy(migfix, proj, [M], upgrade=True)


# --- what is new, what is settled -----------------------------------------------------------


@pytest.mark.slow
def test_upstream_option_and_config_override_the_tracking_branch(
    migfix: Migfix, tmp_path: Path
) -> None:
    alice = _row4(tmp_path, "typed")
    before = alice.snapshot()
    dry = migfix(alice.root, "merge", "--dry-run", "--rev-id", M)
    assert f"Would repoint {B1}: {alice.a} -> {C}" in dry.out

    # Against HEAD everything is settled: b1 may not move, so the heads get a merge.
    result = migfix(alice.root, "merge", "--upstream", "HEAD", "--rev-id", M, "--json")

    assert result.rc == 0, result.err
    data = json.loads(result.out)
    assert (data["upstream"], data["new_revisions"], data["repointed"]) == ("HEAD", [], [])
    assert [(m["revision"], m["parents"]) for m in data["merges"]] == [(M, [B2, C])]
    assert {k: v for k, v in alice.snapshot().items() if k in before} == before

    # The same through [tool.migfix] upstream, once the merge is undone.
    merge_file(alice).unlink()
    (alice.root / "pyproject.toml").write_text('[tool.migfix]\nupstream = "HEAD"\n')
    result = migfix(alice.root, "merge", "--rev-id", M, "--json")
    data = json.loads(result.out)
    assert (data["upstream"], data["repointed"]) == ("HEAD", [])
    assert [(m["revision"], m["parents"]) for m in data["merges"]] == [(M, [B2, C])]
    # ... and --upstream wins over the config.
    merge_file(alice).unlink()
    result = migfix(alice.root, "merge", "--upstream", "origin/main", "--rev-id", M, "--dry-run")
    assert result.rc == 1
    assert f"Would repoint {B1}: {alice.a} -> {C}" in result.out


@pytest.mark.slow
def test_branch_without_tracking_uses_origin_head(migfix: Migfix, tmp_path: Path) -> None:
    team = make_team(tmp_path, "typed")
    bob = team.bob  # a real clone: origin/HEAD -> origin/main
    git(bob.root, "checkout", "-q", "-b", "topic")
    bob.revision(N, "add n")
    git(bob.root, "add", "-A")
    git(bob.root, "commit", "-q", "-m", "n")
    land(team.alice, C, "add c")
    git(bob.root, "fetch", "-q")
    # Before the merge origin/main already has c, but the work tree does not: nothing to do.
    assert migfix(bob.root, "merge").out == "Nothing to do: no unintended heads.\n"
    git(bob.root, "merge", "-q", "--no-edit", "origin/main")

    result = migfix(bob.root, "merge", "--json")

    data = json.loads(result.out)
    assert data["upstream"] == "origin/main"
    assert data["new_revisions"] == [N]
    assert data["repointed"] == [
        {"revision": N, "path": f"migrations/versions/{N}_add_n.py", "old": [bob.a], "new": [C]}
    ]
    assert_healthy(migfix, bob, [N])


@pytest.mark.slow
def test_default_branch_revisions_stay_settled_on_a_branch_tracking_its_own_remote(
    migfix: Migfix, tmp_path: Path
) -> None:
    # `git push -u origin feature`, then `git merge origin/main`: @{upstream} is origin/feature,
    # which lacks main's revision c. c is on main (maybe applied in production) and must not
    # be rewritten; moving it onto the branch's b1 would make Alembic skip b1 on databases at c.
    team = make_team(tmp_path, "typed")
    alice = team.bob  # a real clone: origin/HEAD -> origin/main
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(B1, "add b1")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "b1")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    alice.revision(B2, "add b2")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "b2")
    land(team.alice, C, "add c")
    git(alice.root, "fetch", "-q")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    before = alice.snapshot()

    result = migfix(alice.root, "merge", "--rev-id", M, "--json")

    assert result.rc == 0, result.err
    data = json.loads(result.out)
    assert data["new_revisions"] == [B2]
    assert [(m["revision"], m["parents"]) for m in data["merges"]] == [(M, [B1, C])]
    assert data["repointed"] == [
        {"revision": B2, "path": f"migrations/versions/{B2}_add_b2.py", "old": [B1], "new": [M]}
    ]
    after = alice.snapshot()
    for rev in (C, B1):
        name = alice.file(rev).name
        assert after[name] == before[name]
    assert_healthy(migfix, alice, [B2])


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["untracked", "staged"])
def test_uncommitted_revision_files_are_new(migfix: Migfix, tmp_path: Path, stage: str) -> None:
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    land(bob, C, "add c")
    pull(alice)
    n_path = alice.revision(N, "add n")
    if stage == "staged":
        git(alice.root, "add", str(n_path))
    land(bob, B, "add b", beside=True)
    pull(alice)
    old = n_path.read_bytes()

    # Even with HEAD as the upstream, a file git does not have committed is new.
    result = migfix(alice.root, "merge", "--upstream", "HEAD", "--rev-id", M)

    assert result.rc == 0, result.err
    assert f"Repointed {N}: {C} -> {M}" in result.out
    assert n_path.read_bytes() == repointed(old, "typed", C, M)
    assert_healthy(migfix, alice, [N])


@pytest.mark.slow
def test_new_option_outside_git_moves_the_named_revision(migfix: Migfix, tmp_path: Path) -> None:
    proj = new_project(tmp_path, "flask")
    proj.revision(B, "add b", head=proj.a, splice=True)
    c_path = proj.revision(C, "add c", head=proj.a, splice=True)
    old = c_path.read_bytes()

    result = migfix(proj.root, "merge", "--new", C, "--rev-id", M)

    assert result.rc == 0, result.err
    assert result.out == (
        f"Repointed {C}: {proj.a} -> {B}  (migrations/versions/{C}_add_c.py)\n"
        "Review the result and commit it; `migfix check` now passes.\n"
    )
    assert c_path.read_bytes() == repointed(old, "flask", proj.a, B)
    assert not list(proj.versions.glob(f"{M}_*"))
    assert_healthy(migfix, proj, [C])


@pytest.mark.slow
def test_new_option_naming_an_unknown_revision_is_refused(migfix: Migfix, tmp_path: Path) -> None:
    proj = new_project(tmp_path, "typed")
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)
    before = proj.snapshot()
    result = migfix(proj.root, "merge", "--new", "nosuch01")
    assert (result.rc, result.out) == (2, "")
    assert result.err == (
        "migfix: --new nosuch01: no revision file declares 'nosuch01'. Give the id of one of "
        "this branch's revisions (see `migfix graph`).\n"
    )
    assert proj.snapshot() == before


# --- idempotence, dry run, JSON -------------------------------------------------------------


def _row3(tmp_path: Path, template: str = "typed") -> Proj:
    team = make_team(tmp_path, template)
    alice, bob = team.alice, team.bob
    land(bob, C, "add c")
    pull(alice)
    alice.revision(N, "add n")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "n")
    land(bob, B, "add b", beside=True)
    pull(alice)
    return alice


@pytest.mark.slow
def test_second_run_does_nothing(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    assert migfix(alice.root, "merge", "--rev-id", M).rc == 0
    done = alice.snapshot()
    status = git(alice.root, "status", "--porcelain")

    again = migfix(alice.root, "merge")

    assert (again.rc, again.out, again.err) == (0, "Nothing to do: no unintended heads.\n", "")
    assert alice.snapshot() == done  # same bytes, same mtimes: nothing was rewritten
    assert git(alice.root, "status", "--porcelain") == status
    assert migfix(alice.root, "merge", "--dry-run").rc == 0


@pytest.mark.slow
def test_dry_run_prints_the_diff_and_writes_nothing(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    before = alice.snapshot()
    n_rel = f"migrations/versions/{N}_add_n.py"
    m_rel = f"migrations/versions/{M}_merge_heads.py"

    result = migfix(alice.root, "merge", "--dry-run", "--rev-id", M)

    assert result.rc == 1, result.err
    assert alice.snapshot() == before
    assert git(alice.root, "status", "--porcelain") == ""
    head, diff = result.out.split("\n\n", 1)
    assert head == (
        f"Would create merge revision {M} ({B}, {C}): {m_rel}\n"
        f"Would repoint {N}: {C} -> {M}  ({n_rel})"
    )
    new_file, n_diff = diff.split(f"--- a/{n_rel}\n")
    assert new_file.startswith(f"--- /dev/null\n+++ b/{m_rel}\n@@ -0,0 +1,")
    assert f"+down_revision: Union[str, Sequence[str], None] = ('{B}', '{C}')\n" in new_file
    prefix = "down_revision: Union[str, Sequence[str], None] = "
    assert n_diff.startswith(f"+++ b/{n_rel}\n")
    changed = [line for line in n_diff.splitlines() if line[:1] in "+-" and line[:3] != "+++"]
    assert changed == [
        f"-Revises: {C}",
        f"+Revises: {M}",
        f"-{prefix}'{C}'",
        f"+{prefix}'{M}'",
    ]
    # What the dry run showed is what the real run writes.
    assert migfix(alice.root, "merge", "--rev-id", M).rc == 0
    written = merge_file(alice).read_text()
    shown = "".join(line[1:] + "\n" for line in new_file.splitlines()[3:] if line.startswith("+"))
    assert normalize(shown.encode()) == normalize(written.encode())


@pytest.mark.slow
def test_json_output(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    n_rel = f"migrations/versions/{N}_add_n.py"
    m_rel = f"migrations/versions/{M}_merge_heads.py"
    expected = {
        "version": 1,
        "changed": True,
        "upstream": "origin/main",
        "new_revisions": [N],
        "merges": [{"revision": M, "parents": [B, C], "path": m_rel}],
        "repointed": [{"revision": N, "path": n_rel, "old": [C], "new": [M]}],
        "notes": [],
        "folded": [],
    }

    dry = migfix(alice.root, "merge", "--dry-run", "--json", "--rev-id", M)
    assert dry.rc == 1
    data = json.loads(dry.out)
    assert data.pop("diff").startswith(f"--- /dev/null\n+++ b/{m_rel}\n")
    assert data == {**expected, "dry_run": True, "written": []}

    real = migfix(alice.root, "merge", "--json", "--rev-id", M)
    assert real.rc == 0
    assert json.loads(real.out) == {**expected, "dry_run": False, "written": [m_rel, n_rel]}

    again = migfix(alice.root, "merge", "--json")
    assert json.loads(again.out) == {
        "version": 1,
        "changed": False,
        "upstream": None,
        "new_revisions": [],
        "merges": [],
        "repointed": [],
        "notes": [],
        "folded": [],
        "dry_run": False,
        "written": [],
    }


# --- refusals: exit 2, one paragraph, nothing written ---------------------------------------


def assert_refused(migfix: Migfix, proj: Proj, args: list[str], message: str) -> None:
    before = proj.snapshot()
    status = git(proj.root, "status", "--porcelain") if (proj.root / ".git").exists() else None
    result = migfix(proj.root, "merge", *args)
    assert (result.rc, result.out) == (2, ""), result
    assert result.err == f"migfix: {message}\n"
    assert proj.snapshot() == before
    if status is not None:
        assert git(proj.root, "status", "--porcelain") == status


@pytest.mark.slow
def test_refuses_a_non_literal_down_revision_that_must_change(
    migfix: Migfix, tmp_path: Path
) -> None:
    alice = _row3(tmp_path)
    n_path = alice.file(N)
    prefix = "down_revision: Union[str, Sequence[str], None] = "
    text = n_path.read_text()
    n_path.write_text(text.replace(f"{prefix}'{C}'", f"PARENT = '{C}'\n{prefix}PARENT"))
    line = n_path.read_text().splitlines().index(f"{prefix}PARENT") + 1
    assert_refused(
        migfix,
        alice,
        ["--rev-id", M],
        "The revision graph has faults that make rewriting unsafe: "
        f"migrations/versions/{N}_add_n.py:{line}: down_revision is not a literal (PARENT); "
        "migfix will not guess which revision it names. Replace it with the revision id(s) "
        "as string literals. Fix them first.",
    )


@pytest.mark.slow
def test_refuses_while_a_merge_has_conflicts_in_the_versions_folder(
    migfix: Migfix, tmp_path: Path
) -> None:
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    # Both sides create the same file with different contents: an add/add conflict.
    alice.revision(N, "add n")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "n here")
    land(bob, B, "add b")
    bob.revision(N, "add n", head=B)
    git(bob.root, "add", "-A")
    git(bob.root, "commit", "-q", "-m", "n there")
    git(bob.root, "push", "-q", "origin", "main")
    git(alice.root, "fetch", "-q")
    merged = git_proc(alice.root, "merge", "--no-edit", "origin/main")
    assert merged.returncode == 1 and "CONFLICT (add/add)" in merged.stdout
    assert_refused(
        migfix,
        alice,
        [],
        "A git merge is in progress with unresolved conflicts in the versions folder "
        f"(migrations/versions/{N}_add_n.py). Resolve them and `git add` the files, then "
        "finish the merge (`git merge --continue`) or abort it, and run `migfix merge` again.",
    )


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_refuses_a_template_without_down_revision(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    alice = _row4(tmp_path, template)
    mako = alice.migrations / "script.py.mako"
    kept = [line for line in mako.read_text().splitlines(True) if "down_revision)" not in line]
    mako.write_text("".join(kept))
    assert_refused(
        migfix,
        alice,
        ["--no-repoint"],
        f"{mako} has no ${{down_revision}}, so a merge revision rendered from it would not "
        "name its parents. Add `down_revision = ${repr(down_revision)}` to the template.",
    )


@pytest.mark.slow
def test_refuses_a_rev_id_that_exists(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    assert_refused(
        migfix,
        alice,
        ["--rev-id", B],
        f"--rev-id {B} already exists (migrations/versions/{B}_add_b.py). Choose another id, "
        "or leave --rev-id out to let Alembic pick one.",
    )


@pytest.mark.slow
def test_refuses_a_named_head_that_is_not_a_head(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    assert_refused(
        migfix,
        alice,
        [C, B],
        f"{C} is not a head, so it cannot be merged. The current heads are: {B}, {N}.",
    )
    assert_refused(
        migfix,
        alice,
        ["nosuch01", B],
        f"nosuch01 is not a head, so it cannot be merged. The current heads are: {B}, {N}.",
    )


@pytest.mark.slow
def test_refusal_to_edit_an_unpacked_down_revision_names_the_file_relative_to_the_project(
    migfix: Migfix, tmp_path: Path
) -> None:
    # Every other refusal names files relative to the project root; this one did not.
    alice = _row3(tmp_path)
    n_path = alice.file(N)
    prefix = DOWN_PREFIX["typed"]
    old = f"revision: str = '{N}'\n{prefix}'{C}'"
    assert old in n_path.read_text()
    n_path.write_text(n_path.read_text().replace(old, f"revision, down_revision = '{N}', '{C}'"))
    line = n_path.read_text().splitlines().index(f"revision, down_revision = '{N}', '{C}'") + 1
    assert_refused(
        migfix,
        alice,
        ["--rev-id", M],
        f"migrations/versions/{N}_add_n.py:{line}: down_revision is set by unpacking "
        f"(revision, down_revision = '{N}', '{C}'); migfix will not guess what it means. "
        "Replace it with the revision id(s) it stands for, or edit this revision's parents by "
        "hand.",
    )


@pytest.mark.slow
def test_refuses_a_graph_with_a_missing_parent_in_one_sentence(
    migfix: Migfix, tmp_path: Path
) -> None:
    # A typo'd down_revision: the refusal quotes check's message once, without a doubled period.
    proj = new_project(tmp_path, "typed")
    proj.revision(B, "add b", head=proj.a, splice=True)
    c_path = proj.revision(C, "add c", head=proj.a, splice=True)
    prefix = DOWN_PREFIX["typed"]
    c_path.write_text(c_path.read_text().replace(f"{prefix}'{proj.a}'", f"{prefix}'typo0001'"))
    line = c_path.read_text().splitlines().index(f"{prefix}'typo0001'") + 1
    assert_refused(
        migfix,
        proj,
        ["--new", C],
        "The revision graph has faults that make rewriting unsafe: "
        f"migrations/versions/{C}_add_c.py:{line}: down_revision names 'typo0001', which no "
        "revision file declares. Restore the missing file, or point down_revision at an "
        "existing revision. Fix them first.",
    )


@pytest.mark.slow
def test_named_heads_are_planned_like_the_default(migfix: Migfix, tmp_path: Path) -> None:
    # Naming the heads picks the group; the plan is the same: the settled heads are merged and
    # the new revision moves on top.
    alice = _row3(tmp_path)
    result = migfix(alice.root, "merge", N, B, "--rev-id", M)
    assert result.rc == 0, result.err
    assert f"Created merge revision {M} ({B}, {C})" in result.out
    assert f"Repointed {N}: {C} -> {M}" in result.out
    assert_healthy(migfix, alice, [N])


@pytest.mark.slow
def test_one_named_head_is_nothing_to_do(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    before = alice.snapshot()
    result = migfix(alice.root, "merge", B)
    assert (result.rc, result.out) == (0, "Nothing to do: no unintended heads.\n")
    assert alice.snapshot() == before


@pytest.mark.slow
def test_settled_revisions_are_never_planned_for_a_rewrite(migfix: Migfix, tmp_path: Path) -> None:
    """A settled file cannot have to change: settled heads are joined by a *new* merge file and
    only new revisions are repointed. Row 3 against HEAD (everything settled) shows it; the
    last guard before writing is exercised through the library with a hand-made plan."""
    from migfix.plan import merge as merge_mod
    from migfix.plan.settled import classify
    from migfix.project.config import find_project
    from migfix.read.graph import read_graph

    alice = _row3(tmp_path)
    project = find_project(alice.root)
    graph = read_graph(project)
    newness = classify(project, graph, upstream="HEAD")
    assert newness.new == frozenset()
    plan = merge_mod.plan_merge(project, graph, newness, merge_mod.MergeOptions(rev_id=M))
    assert plan.repoints == []
    assert [(m.revision, m.parents) for m in plan.merges] == [(M, (B, N))]

    settled = merge_mod.Repoint(N, alice.file(N), (C,), (M,))
    plan.repoints.append(settled)
    with pytest.raises(merge_mod.Refusal) as info:
        merge_mod._refuse_settled_repoints(plan)
    assert info.value.message == (
        f"migrations/versions/{N}_add_n.py: revision {N} is settled (it is on HEAD); migfix "
        "never rewrites a settled revision."
    )


# --- the merge file is what `alembic merge` would write -------------------------------------


@pytest.mark.slow
def test_merge_file_honours_the_project_options_like_alembic_merge(
    migfix: Migfix, tmp_path: Path
) -> None:
    proj = configured_project(tmp_path)
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)
    message = "merge h\u00e9ads"
    ref = proj.copy(tmp_path / "ref")
    expected = ref.alembic_merge(M, message=message)
    ran = (proj.migrations / "env-ran.txt").read_text().count("ran")

    result = migfix(proj.root, "merge", "-m", message, "--rev-id", M)

    assert result.rc == 0, result.err
    (written,) = (p for p in proj.versions.iterdir() if M in p.name)
    # file_template, truncate_slug_length: the name Alembic chose.
    assert written.name == expected.name
    assert written.name.endswith(f"_{M}_merge_.py")
    data = written.read_bytes()
    assert normalize(data) == normalize(expected.read_bytes())
    # output_encoding: latin-1 bytes; timezone: an aware UTC date.
    assert "merge h\u00e9ads".encode("latin-1") in data
    assert re.search(rb"Create Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00", data)
    # revision_environment: env.py ran once and its template_args reached the template.
    assert (proj.migrations / "env-ran.txt").read_text().count("ran") == ran + 1
    assert b"# reviewed by: env.py\n" in data
    # post_write_hooks: the hook's change is in the written file.
    assert data.endswith(STAMP.encode())
    assert f"{written.name}" in result.out
    assert_healthy(migfix, proj, [M])


@pytest.mark.slow
def test_parents_follow_alembics_load_order_not_revision_ids(
    migfix: Migfix, tmp_path: Path
) -> None:
    proj = new_project(tmp_path, "flask")
    ini = proj.migrations / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "# file_template = %%(rev)s_%%(slug)s", "file_template = %%(slug)s_%%(rev)s"
        )
    )
    # b's file is zeta_b..., c's alpha_c...: Alembic loads c first.
    proj.revision(B, "zeta", head=proj.a, splice=True)
    proj.revision(C, "alpha", head=proj.a, splice=True)
    expected = reference_merge(proj, tmp_path / "ref")
    assert f"down_revision = ('{C}', '{B}')".encode() in expected

    result = migfix(proj.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert f"Created merge revision {M} ({C}, {B}): migrations/versions/merge_heads_{M}.py" in (
        result.out
    )
    assert normalize((proj.versions / f"merge_heads_{M}.py").read_bytes()) == expected


@pytest.mark.slow
def test_existing_revision_files_are_never_imported(migfix: Migfix, tmp_path: Path) -> None:
    proj = new_project(tmp_path, "typed")
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)
    for path in proj.versions.glob("*.py"):
        text = path.read_text()
        path.write_text(
            text.replace(
                "\nfrom alembic import op\n",
                "\nimport not_installed_app_module\nfrom alembic import op\n",
                1,
            )
        )
        assert "import not_installed_app_module" in path.read_text()
    # Real Alembic imports them, so it cannot merge this project at all.
    with pytest.raises(ModuleNotFoundError, match="not_installed_app_module"):
        proj.copy(tmp_path / "ref").alembic_merge(M)

    result = migfix(proj.root, "merge", "--rev-id", M)

    assert result.rc == 0, result.err
    assert f"Created merge revision {M} ({B}, {C})" in result.out
    assert f"down_revision: Union[str, Sequence[str], None] = ('{B}', '{C}')" in (
        merge_file(proj).read_text()
    )
    assert migfix(proj.root, "check").rc == 0


# --- a real project's history ---------------------------------------------------------------


def _removable_merge(revisions: dict[str, Any], heads: list[str]) -> tuple[str, set[str]]:
    """A merge revision whose removal (with everything above it) leaves exactly its parents
    as the new heads beside the project's other heads; the smallest such cut."""
    children: dict[str, set[str]] = {r: set() for r in revisions}
    for rev, entry in revisions.items():
        for parent in entry["down"]:
            children[parent].add(rev)
    options = []
    for rev, entry in sorted(revisions.items()):
        if len(entry["down"]) < 2:
            continue
        cut, stack = set(), [rev]
        while stack:
            r = stack.pop()
            if r not in cut:
                cut.add(r)
                stack.extend(children[r])
        left = {r for r in revisions if r not in cut}
        named = {p for r in left for p in revisions[r]["down"]}
        new_heads = {r for r in left if r not in named}
        if new_heads == set(entry["down"]) | (set(heads) - cut):
            options.append((len(cut), rev, cut))
    assert options, "no merge revision can be cut off cleanly"
    _, rev, cut = min(options)
    return rev, cut


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.parametrize("project_id", ["langflow", "galaxy"])
def test_real_project_merge_is_rebuilt_with_the_same_parents(
    migfix: Migfix, tmp_path: Path, corpus_dir: Path, project_id: str
) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    locations = [Path(p) for p in corpus_index(corpus_dir)[project_id]["version_locations"]]
    truth = corpus_truth(corpus_dir, project_id)
    merge_rev, cut = _removable_merge(truth["revisions"], truth["heads"])
    parents = truth["revisions"][merge_rev]["down"]
    cut_files = {Path(truth["revisions"][r]["file"]) for r in cut}

    # A fresh `alembic init` project whose version_locations are copies of the real folders,
    # without the merge and everything after it; and the same files as import-free stubs.
    root = tmp_path / "proj"
    root.mkdir()
    ini = root / "alembic.ini"
    command.init(Config(str(ini)), str(root / "alembic"))
    copies: list[Path] = []
    stubs: list[Path] = []
    by_file = {Path(e["file"]): (r, e) for r, e in truth["revisions"].items()}
    for loc in locations:
        copy, stub = root / loc.name, root / f"stub_{loc.name}"
        stub.mkdir()
        shutil.copytree(loc, copy, ignore=shutil.ignore_patterns("__pycache__"))
        for path in sorted(loc.resolve().iterdir()):
            if path in cut_files:
                (copy / path.name).unlink()
            elif path in by_file:
                rev, entry = by_file[path]
                (stub / path.name).write_text(
                    f"revision = {rev!r}\n"
                    f"down_revision = {tuple(entry['down']) or None!r}\n"
                    f"branch_labels = {tuple(entry['labels']) or None!r}\n"
                    f"depends_on = {tuple(entry['deps']) or None!r}\n"
                )
        copies.append(copy)
        stubs.append(stub)
    text = ini.read_text()
    ini.write_text(
        text.replace(
            "[alembic]\n",
            f"[alembic]\nversion_locations = {os.pathsep.join(map(str, copies))}\n",
            1,
        )
    )

    result = migfix(root, "merge", "--rev-id", M, "--json")

    assert result.rc == 0, result.err
    data = json.loads(result.out)
    assert data["repointed"] == []
    (merge,) = data["merges"]
    assert set(merge["parents"]) == set(parents)
    # Alembic's order for these heads: what `alembic merge heads` would pass on, read from
    # real Alembic loading the stubs (the real files import the application).
    stub_cfg = Config(str(ini))
    stub_cfg.set_main_option("version_locations", os.pathsep.join(map(str, stubs)))
    script = ScriptDirectory.from_config(stub_cfg)
    order = [r.revision for r in script.revision_map.get_revisions("heads")]
    assert merge["parents"] == [h for h in order if h in parents]
    # The merge sits beside its first parent, as Alembic would put it.
    first = Path(truth["revisions"][merge["parents"][0]]["file"]).parent.name
    assert merge["path"].startswith(f"{first}/")
    # Nothing but the project's own redundant parents (langflow has two such merges).
    checked = json.loads(migfix(root, "check", "--format", "json").out)["problems"]
    errors = [p for p in checked if p["severity"] == "error"]
    assert all(p["code"] == "redundant-parent" and M not in p["revisions"] for p in errors)


# --- smaller options ------------------------------------------------------------------------


@pytest.mark.slow
def test_message_from_config_and_branch_label(migfix: Migfix, tmp_path: Path) -> None:
    proj = new_project(tmp_path, "typed")
    (proj.root / "pyproject.toml").write_text('[tool.migfix]\nmessage = "join the heads"\n')
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)

    result = migfix(proj.root, "merge", "--rev-id", M, "--branch-label", "core")

    assert result.rc == 0, result.err
    written = proj.versions / f"{M}_join_the_heads.py"
    text = written.read_text()
    assert text.startswith('"""join the heads\n')
    assert "branch_labels: Union[str, Sequence[str], None] = ('core',)\n" in text
    assert_healthy(migfix, proj, [M])


@pytest.mark.slow
def test_unknown_upstream_ref_is_a_git_error(migfix: Migfix, tmp_path: Path) -> None:
    alice = _row3(tmp_path)
    assert_refused(
        migfix,
        alice,
        ["--upstream", "origin/nosuch"],
        "Unknown git revision 'origin/nosuch'. If it is a remote branch, run `git fetch` "
        "first; otherwise check the name with `git branch -a`.",
    )


@pytest.mark.slow
def test_stale_bytecode_of_a_rewritten_file_is_removed(migfix: Migfix, tmp_path: Path) -> None:
    import py_compile

    proj = new_project(tmp_path, "typed")
    proj.revision(B, "add b", head=proj.a, splice=True)
    c_path = proj.revision(C, "add c", head=proj.a, splice=True)
    # Same length as the old parent: size and (whole-second) mtime could match the old .pyc.
    assert len(B) == len(proj.a)
    pyc = Path(py_compile.compile(str(c_path), doraise=True))
    kept = Path(py_compile.compile(str(proj.file(B)), doraise=True))

    result = migfix(proj.root, "merge", "--new", C)

    assert result.rc == 0, result.err
    assert f"Repointed {C}: {proj.a} -> {B}" in result.out
    assert not pyc.exists()
    assert kept.exists()  # only the rewritten file's bytecode goes


@pytest.mark.slow
def test_never_writes_a_merge_naming_a_revision_and_its_descendant(
    migfix: Migfix, tmp_path: Path
) -> None:
    """bbbb0004 <- x (named with --new) <- a3, and s beside: bbbb0004 is settled and has no
    settled child, but it is below a3; a merge over all three could not be walked down."""
    proj = new_project(tmp_path, "typed")
    x, a3, s = "x0000001", "a0000003", "s0000001"
    proj.revision(x, "x")
    proj.revision(a3, "a three", head=x)
    proj.revision(s, "side", head="bbbb0003", splice=True)

    result = migfix(proj.root, "merge", "--new", x, "--rev-id", M)

    assert (result.rc, result.err) == (0, "")
    assert result.out.splitlines()[0] == (
        f"Created merge revision {M} ({a3}, {s}): migrations/versions/{M}_merge_heads.py"
    )
    assert "Repointed" not in result.out
    assert_healthy(migfix, proj, [M])
    assert migfix(proj.root, "check").out.endswith("0 errors, 0 warnings\n")


def test_named_heads_never_give_a_merge_with_a_redundant_parent(tmp_path: Path) -> None:
    from migfix.plan import merge as merge_mod

    with pytest.raises(merge_mod.Refusal) as info:
        merge_mod._refuse_redundant_parents(
            [(M, ("a", "c"))],
            {"a": (), "b": ("a",), "c": ("b",), M: ("a", "c")},
        )
    assert info.value.message == (
        "a is an ancestor of c, so a merge revision over both would name a parent twice over "
        "and `alembic downgrade` could not walk down through it. Merge only c (`migfix merge` "
        "without naming heads picks them)."
    )


@pytest.mark.slow
def test_dry_run_without_rev_id_says_the_id_is_chosen_when_written(
    migfix: Migfix, tmp_path: Path
) -> None:
    alice = _row3(tmp_path)
    result = migfix(alice.root, "merge", "--dry-run")
    assert result.rc == 1, result.err
    head = result.out.split("\n\n", 1)[0].splitlines()
    assert head[0].startswith("Would create merge revision ")
    assert head[-1] == (
        "The merge revision's id is chosen when it is written (the one above is an example); "
        "pass --rev-id to fix it."
    )
    # With --rev-id the dry run shows the id the real run writes, and says nothing more.
    fixed = migfix(alice.root, "merge", "--dry-run", "--rev-id", M)
    assert "chosen when it is written" not in fixed.out


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_a_duplicate_local_merge_is_folded_into_the_incoming_one(
    migfix: Migfix, tmp_path: Path, template: str
) -> None:
    """Alice and Bob both joined main's heads B and C. Bob pushed his merge U first; Alice's
    own merge M (unpushed, with N on top) is deleted and N moves onto U: no empty linear
    "merge heads" revision is left in everyone's history."""
    team = make_team(tmp_path, template)
    alice, bob = team.alice, team.bob
    land(bob, C, "add c")
    land(bob, B, "add b", beside=True)
    pull(alice)
    assert migfix(alice.root, "merge", "--rev-id", M).rc == 0
    alice.revision(N, "add n")
    git(alice.root, "add", "-A")
    git(alice.root, "commit", "-q", "-m", "merge and n")
    bob.alembic_merge(U, [B, C])
    git(bob.root, "add", "-A")
    git(bob.root, "commit", "-q", "-m", "bob's merge")
    git(bob.root, "push", "-q", "origin", "main")
    pull(alice)
    n_before = alice.file(N).read_text()
    merge_rel = f"migrations/versions/{M}_merge_heads.py"
    dry = migfix(alice.root, "merge", "--dry-run")
    assert dry.rc == 1 and alice.file(M).exists()

    result = migfix(alice.root, "merge")

    assert (result.rc, result.err) == (
        0,
        f"moved {N} ({M} -> {U}): `migfix db sync` brings a database that ran them in step.\n",
    )
    parents = ", ".join(alice_parents := re.findall(r"'(\w+)'", _down_line(alice, U)))
    assert sorted(alice_parents) == sorted([B, C])
    assert result.out.splitlines()[:2] == [
        f"Folded merge revision {M} into {U}, which already joins {parents}: deleted {merge_rel}",
        f"Repointed {N}: {M} -> {U}  (migrations/versions/{N}_add_n.py)",
    ]
    assert not (alice.versions / f"{M}_merge_heads.py").exists()
    assert alice.file(N).read_text().encode() == repointed(n_before.encode(), template, M, U)
    assert_healthy(migfix, alice, [N], upgrade=True)


def _down_line(proj: Proj, rev: str) -> str:
    return next(line for line in proj.file(rev).read_text().splitlines() if "down_revision" in line)


@pytest.mark.slow
def test_a_new_merge_whose_parent_moves_on_top_of_its_other_parent_keeps_only_its_own(
    migfix: Migfix, tmp_path: Path
) -> None:
    """feature: b1 on main's old head, then main's a2 merged in (m1 joins b1 and a2); main
    moved on to a3. b1 moves onto a3, and m1's a2 would become a3, an ancestor of b1:
    Alembic could not walk such a merge down, so m1 keeps b1 alone."""

    proj = new_project(tmp_path, "typed")
    git(proj.root, "init", "-q", "-b", "main")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "project")
    git(proj.root, "branch", "feature")
    a2, a3, b1, m1 = "a0000002", "a0000003", "b1000001", "m1000001"
    proj.revision(a2, "a two")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "a2")
    halfway = git(proj.root, "rev-parse", "HEAD")
    proj.revision(a3, "a three")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "a3")
    git(proj.root, "checkout", "-q", "feature")
    proj.revision(b1, "b one")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "b1")
    git(proj.root, "merge", "-q", "--no-edit", halfway)
    proj.alembic_merge(m1, [b1, a2])
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "m1")
    git(proj.root, "merge", "-q", "--no-edit", "main")

    result = migfix(proj.root, "merge")

    assert result.rc == 0, result.err
    assert result.out.splitlines()[:2] == [
        f"Repointed {b1}: {proj.a} -> {a3}  (migrations/versions/{b1}_b_one.py)",
        f"Repointed {m1}: {b1}, {a2} -> {b1}  (migrations/versions/{m1}_merge_heads.py)",
    ]
    assert_healthy(migfix, proj, [m1], upgrade=True)


# --- the project's template and hooks fail: the project's problem, said so -----------------


def _two_heads(tmp_path: Path) -> Proj:
    proj = new_project(tmp_path, "typed")
    proj.revision(B, "add b", head=proj.a, splice=True)
    proj.revision(C, "add c", head=proj.a, splice=True)
    return proj


@pytest.mark.slow
def test_refuses_a_template_that_imports_a_module_that_is_not_installed(
    migfix: Migfix, tmp_path: Path
) -> None:
    proj = _two_heads(tmp_path)
    mako = proj.migrations / "script.py.mako"
    mako.write_text("<%! import not_installed_anywhere %>\n" + mako.read_text())
    assert_refused(
        migfix,
        proj,
        ["--rev-id", M],
        f"{mako}: rendering the merge revision failed: No module named "
        "'not_installed_anywhere'. The revision template imports it where migfix runs, as "
        "`alembic merge` would (from the config's folder, with prepend_sys_path): install it "
        "(or run migfix inside the project's virtualenv), or fix the template. Nothing was "
        "written.",
    )


@pytest.mark.slow
def test_refuses_a_post_write_hook_that_leaves_invalid_python(
    migfix: Migfix, tmp_path: Path
) -> None:
    proj = _two_heads(tmp_path)
    hook = tmp_path / "mangle.sh"
    hook.write_text("#!/bin/sh\nprintf 'def broken(:\\n' >> \"$1\"\n")
    hook.chmod(0o755)
    ini = proj.root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "[post_write_hooks]\n",
            "[post_write_hooks]\nhooks = mangle\nmangle.type = exec\n"
            f"mangle.executable = {hook}\nmangle.options = REVISION_SCRIPT_FILENAME\n",
            1,
        )
    )
    result = migfix(proj.root, "merge", "--rev-id", M)
    assert result.rc == 2, result  # (stdout has Alembic's "Running post write hook" line)
    assert result.err.count("\n") == 1 and "internal error" not in result.err, result.err
    assert "post_write_hooks (mangle)" in result.err and "not valid Python" in result.err
    assert "Nothing was written" in result.err
    assert not list(proj.versions.glob(f"*{M}*"))
