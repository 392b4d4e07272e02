"""A settled revision is never rewritten, by any command or hook, whatever the strategy.

Real repositories with a bare ``origin`` set up the way GitHub's "push an existing repository"
recipe does it (``git remote add origin``, ``git push -u origin main``): ``origin/HEAD`` does
not exist there, which is where the default branch used to be missed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import git, git_proc
from projutil import Proj, land, make_team, migfix_proc

from migfix.plan import settled as newness
from migfix.project.config import find_project

pytestmark = [pytest.mark.usefixtures("git_env"), pytest.mark.slow]

C, N = "c0000001", "n0000001"


def commit(proj: Proj, message: str) -> None:
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", message)


def hook_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("migfix:")]


def pushed_feature_meets_main(tmp_path: Path, *, strategy: str | None = None) -> Proj:
    """alice's feature branch, pushed with its revision n (upstream origin/feature), and
    origin/main with c landed by bob; alice has fetched. origin/HEAD is unset in alice's
    clone (``git remote add``), as after GitHub's "push an existing repository" recipe."""
    team = make_team(tmp_path, "typed")
    alice = team.alice
    if strategy is not None:
        (alice.root / "pyproject.toml").write_text(f'[tool.migfix]\nstrategy = "{strategy}"\n')
        commit(alice, "config")
        git(alice.root, "push", "-q", "origin", "main")
        git(team.bob.root, "pull", "-q")
    assert git_proc(alice.root, "rev-parse", "--verify", "-q", "origin/HEAD").returncode != 0
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    land(team.bob, C, "add c")
    git(alice.root, "fetch", "-q")
    return alice


def settled_bytes(proj: Proj, ref: str) -> dict[str, str]:
    """Every revision file on REF, as REF has it."""
    names = git(proj.root, "ls-tree", "--name-only", f"{ref}:migrations/versions").splitlines()
    return {
        name: git(proj.root, "show", f"{ref}:migrations/versions/{name}") + "\n"
        for name in names
        if name.endswith(".py")
    }


def assert_untouched(proj: Proj, before: dict[str, str]) -> None:
    for name, text in before.items():
        assert (proj.versions / name).read_text() == text, name


def test_settled_refs_are_the_own_upstream_and_the_default_branch(tmp_path: Path) -> None:
    alice = pushed_feature_meets_main(tmp_path)
    repo = alice.root

    assert newness.settled_refs(repo) == ["origin/feature", "origin/main"]
    git(repo, "checkout", "-q", "main")
    assert newness.settled_refs(repo) == ["origin/main"]
    git(repo, "checkout", "-q", "--detach", "feature")
    assert newness.settled_refs(repo) == ["origin/main"]
    git(repo, "remote", "set-head", "origin", "feature")  # origin/HEAD wins over origin/main
    assert newness.settled_refs(repo) == ["origin/feature"]


def test_classify_settles_the_default_branch_without_origin_head(tmp_path: Path) -> None:
    alice = pushed_feature_meets_main(tmp_path)
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    project = find_project(alice.root)
    from migfix.read.graph import read_graph

    found = newness.classify(project, read_graph(project), cwd=alice.root)

    assert not found.is_new(C) and not found.is_new(N)
    assert "origin/main" in found.reason and "origin/feature" in found.reason


def test_merge_on_a_pushed_feature_never_repoints_mains_revision(tmp_path: Path) -> None:
    alice = pushed_feature_meets_main(tmp_path)
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    before = {**settled_bytes(alice, "origin/main"), **settled_bytes(alice, "origin/feature")}

    done = migfix_proc(alice.root, "merge")

    assert done.returncode == 0, done.stderr
    assert "Repointed" not in done.stdout
    assert "Created merge revision" in done.stdout
    assert_untouched(alice, before)


def test_post_merge_hook_on_a_pushed_feature_never_repoints_mains_revision(
    tmp_path: Path,
) -> None:
    alice = pushed_feature_meets_main(tmp_path)
    assert migfix_proc(alice.root, "hook", "install").returncode == 0
    before = {**settled_bytes(alice, "origin/main"), **settled_bytes(alice, "origin/feature")}

    merged = git_proc(alice.root, "merge", "--no-edit", "origin/main")

    assert merged.returncode == 0, merged.stderr
    assert not any("Repointed" in line for line in hook_lines(merged.stderr)), merged.stderr
    assert_untouched(alice, before)
    heads = migfix_proc(alice.root, "heads").stdout.split()
    assert len([h for h in heads if len(h) == 12]) == 1, heads


def test_rebase_strategy_merging_a_feature_into_main_moves_the_feature_not_main(
    tmp_path: Path,
) -> None:
    # On main (pushed: c is on origin/main), merging a local feature branch whose revision n
    # also sits on a. The merged-in side is the feature: rebasing "onto the other side"
    # would rewrite c, which is published. The feature's revision moves instead.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    (alice.root / "pyproject.toml").write_text('[tool.migfix]\nstrategy = "rebase"\n')
    commit(alice, "config")
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "checkout", "-q", "main")
    alice.revision(C, "add c")
    commit(alice, "c")
    git(alice.root, "push", "-q", "origin", "main")
    assert migfix_proc(alice.root, "hook", "install").returncode == 0
    before = settled_bytes(alice, "origin/main")

    merged = git_proc(alice.root, "merge", "--no-edit", "feature")

    assert merged.returncode == 0, merged.stderr
    assert_untouched(alice, before)
    assert f"  {N}: {alice.a} -> {C}  (migrations/versions/{N}_add_n.py)" in merged.stderr
    assert migfix_proc(alice.root, "heads").stdout.split()[0] == N


def test_rebase_strategy_falls_back_to_merge_when_both_sides_are_settled(
    tmp_path: Path,
) -> None:
    alice = pushed_feature_meets_main(tmp_path, strategy="rebase")
    assert migfix_proc(alice.root, "hook", "install").returncode == 0
    before = {**settled_bytes(alice, "origin/main"), **settled_bytes(alice, "origin/feature")}

    merged = git_proc(alice.root, "merge", "--no-edit", "origin/main")

    assert merged.returncode == 0, merged.stderr
    lines = hook_lines(merged.stderr)
    assert lines[1] == (
        f"migfix: the rebase strategy would rewrite settled revisions ({C}, {N}); "
        "using the merge strategy instead."
    ), lines
    assert any("Created merge revision" in line for line in lines), lines
    assert_untouched(alice, before)


def test_manual_rebase_refuses_to_move_a_settled_revision(tmp_path: Path) -> None:
    alice = pushed_feature_meets_main(tmp_path)
    path = alice.file(N)
    before = path.read_bytes()

    refused = migfix_proc(alice.root, "rebase", "--onto", "origin/main")

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{N} is settled" in refused.stderr
    assert f"--new {N}" in refused.stderr
    assert path.read_bytes() == before

    forced = migfix_proc(alice.root, "rebase", "--onto", "origin/main", "--new", N)

    assert forced.returncode == 0, forced.stderr
    assert f"{N}: {alice.a} -> {C}" in forced.stdout


# -- published means on any remote-tracking ref of any remote, or on any tag (issue 20) -------


def published_bytes(proj: Proj) -> dict[str, str]:
    """Every revision file on every remote-tracking ref and tag, as that ref has it."""
    refs = git(
        proj.root, "for-each-ref", "--format=%(refname)", "refs/remotes", "refs/tags"
    ).split()
    out: dict[str, str] = {}
    for ref in refs:
        if not ref.endswith("/HEAD"):
            out.update(settled_bytes(proj, ref))
    return out


def _develop_without_origin_head(tmp_path: Path) -> Proj:
    # The default branch is `develop` and origin/HEAD is unset; there is no main at all.
    team = make_team(tmp_path, "typed")
    alice, bob = team.alice, team.bob
    git(alice.root, "checkout", "-q", "-b", "develop")
    git(alice.root, "push", "-q", "-u", "origin", "develop")
    git(team.remote, "symbolic-ref", "HEAD", "refs/heads/develop")
    git(alice.root, "push", "-q", "origin", "--delete", "main")
    git(alice.root, "branch", "-q", "-D", "main")
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    git(bob.root, "fetch", "-q")
    git(bob.root, "checkout", "-q", "-b", "develop", "origin/develop")
    land_on(bob, "develop", C)
    git(alice.root, "fetch", "-q", "--prune")
    git(alice.root, "merge", "-q", "--no-edit", "origin/develop")
    return alice


def land_on(proj: Proj, branch: str, rev: str) -> None:
    proj.revision(rev, f"add {rev[0]}")
    commit(proj, f"add {rev}")
    git(proj.root, "push", "-q", "origin", branch)


def _fork(tmp_path: Path) -> Proj:
    # `origin` is alice's fork, `upstream` the real repository; `git pull upstream main`.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    fork = tmp_path / "fork.git"
    git(tmp_path, "clone", "-q", "--bare", str(team.remote), str(fork))
    git(alice.root, "remote", "rename", "origin", "upstream")
    git(alice.root, "remote", "add", "origin", str(fork))
    git(alice.root, "fetch", "-q", "origin")
    git(alice.root, "branch", "-q", "--set-upstream-to", "origin/main")
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "push", "-q", "-u", "origin", "feature")
    land(team.bob, C, "add c")
    git(alice.root, "pull", "-q", "--no-rebase", "--no-edit", "upstream", "main")
    return alice


def _pushed_without_u(tmp_path: Path) -> Proj:
    # `git push origin feature` without -u, then `git merge origin/main` on feature.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "push", "-q", "origin", "feature")
    land(team.bob, C, "add c")
    git(alice.root, "fetch", "-q")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    return alice


def _detached_at_origin_feature(tmp_path: Path) -> Proj:
    alice = _pushed_without_u_before_merge(tmp_path)
    git(alice.root, "checkout", "-q", "--detach", "origin/feature")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    return alice


def _pushed_without_u_before_merge(tmp_path: Path) -> Proj:
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "push", "-q", "origin", "feature")
    land(team.bob, C, "add c")
    git(alice.root, "fetch", "-q")
    return alice


def _main_merges_pushed_feature(tmp_path: Path) -> Proj:
    # A teammate on main merges the pushed origin/feature: both sides are on the remote.
    alice = _pushed_without_u_before_merge(tmp_path)
    git(alice.root, "checkout", "-q", "main")
    git(alice.root, "merge", "-q", "--ff-only", "origin/main")
    git(alice.root, "merge", "-q", "--no-edit", "origin/feature")
    return alice


def _tagged(tmp_path: Path) -> Proj:
    # n is on a tag only (a release cut from the feature), not on any branch of the remote.
    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    git(alice.root, "tag", "v1")
    land(team.bob, C, "add c")
    git(alice.root, "fetch", "-q")
    git(alice.root, "merge", "-q", "--no-edit", "origin/main")
    return alice


PUBLISHED_SETUPS = {
    "develop-without-origin-head": _develop_without_origin_head,
    "fork-pull-upstream": _fork,
    "push-without-u": _pushed_without_u,
    "detached-at-origin-feature": _detached_at_origin_feature,
    "main-merges-pushed-feature": _main_merges_pushed_feature,
    "tag": _tagged,
}


@pytest.mark.parametrize("setup", sorted(PUBLISHED_SETUPS))
def test_merge_never_moves_a_revision_on_any_remote_or_tag(tmp_path: Path, setup: str) -> None:
    alice = PUBLISHED_SETUPS[setup](tmp_path)
    before = published_bytes(alice)
    before.update({f"{N}_add_n.py": alice.file(N).read_text()})
    assert {f"{C}_add_c.py", f"{N}_add_n.py"} <= set(before), sorted(before)

    done = migfix_proc(alice.root, "merge")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Repointed" not in done.stdout, done.stdout
    assert "Created merge revision" in done.stdout, done.stdout
    assert_untouched(alice, before)


def test_the_hook_never_commits_a_move_of_a_revision_pushed_without_u(tmp_path: Path) -> None:
    alice = _pushed_without_u_before_merge(tmp_path)
    (alice.root / "pyproject.toml").write_text("[tool.migfix]\ncommit = true\n")
    commit(alice, "config")
    assert migfix_proc(alice.root, "hook", "install").returncode == 0
    before = published_bytes(alice)

    merged = git_proc(alice.root, "merge", "--no-edit", "origin/main")

    assert merged.returncode == 0, merged.stderr
    assert not any("Repointed" in line for line in hook_lines(merged.stderr)), merged.stderr
    assert any("Created merge revision" in line for line in hook_lines(merged.stderr))
    assert_untouched(alice, before)


def test_rebase_in_a_shallow_clone_treats_committed_revisions_as_published(
    tmp_path: Path,
) -> None:
    # A --depth 1 clone tracks only main; feature is pushed, but no ref here says so.
    team = make_team(tmp_path, "typed")
    url = team.remote.as_uri()
    git(tmp_path, "clone", "-q", "--depth", "1", url, "shallow")
    carol = Proj(tmp_path / "shallow", "typed")
    git(carol.root, "checkout", "-q", "-b", "feature")
    carol.revision(N, "add n")
    commit(carol, "n")
    git(carol.root, "push", "-q", "origin", "feature")
    land(team.bob, C, "add c")
    git(carol.root, "fetch", "-q", "origin", "main")
    before = carol.file(N).read_bytes()

    refused = migfix_proc(carol.root, "rebase", "--onto", "origin/main")

    said = refused.stdout + refused.stderr
    assert refused.returncode == 2, said
    assert f"{N} is settled" in said and "shallow" in said, said
    assert carol.file(N).read_bytes() == before
    # --upstream names the ref to compare with: git can tell again, and n is not on it.
    named = migfix_proc(carol.root, "rebase", "--onto", "origin/main", "--upstream",
                        "origin/main", "--dry-run")  # fmt: skip
    assert named.returncode in (0, 1), named.stdout + named.stderr
    assert f"{N}: {carol.a} -> {C}" in named.stdout, named.stdout
    assert carol.file(N).read_bytes() == before

    forced = migfix_proc(carol.root, "rebase", "--onto", "origin/main", "--new", N)

    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert f"{N}: {carol.a} -> {C}" in forced.stdout


def test_a_remote_without_tracking_refs_treats_committed_revisions_as_published(
    tmp_path: Path,
) -> None:
    from migfix.read.graph import read_graph

    team = make_team(tmp_path, "typed")
    alice = team.alice
    git(alice.root, "checkout", "-q", "-b", "feature")
    alice.revision(N, "add n")
    commit(alice, "n")
    alice.revision("u0000001", "still being written", head=N)
    for ref in git(alice.root, "for-each-ref", "--format=%(refname)", "refs/remotes").split():
        git(alice.root, "update-ref", "-d", ref)
    project = find_project(alice.root)

    found = newness.classify(project, read_graph(project), cwd=alice.root)

    assert found.new == {"u0000001"}
    assert "remote-tracking" in found.reason, found.reason
    forced = newness.classify(project, read_graph(project), cwd=alice.root, extra_new=[N])
    assert forced.new == {"u0000001", N}


def test_settled_refusal_names_where_a_revision_is_published(tmp_path: Path) -> None:
    alice = _pushed_without_u(tmp_path)

    refused = migfix_proc(alice.root, "rebase", "--onto", "origin/main")

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{N} is settled (on origin/feature)" in refused.stderr, refused.stderr


def _config_beside_the_migrations_folder(tmp_path: Path) -> Path:
    """server/alembic.ini with script_location = %(here)s/../migrations (what `alembic init
    ../migrations` run in server/ writes); main adds c, feature adds n, and feature has merged
    main: two heads, n new. The repository's root, on feature."""
    from alembic import command
    from alembic.config import Config
    from gitutil import commit_all, make_repo
    from projutil import new_project

    proj = new_project(tmp_path, "typed", "seed")
    repo = make_repo(tmp_path / "repo")
    for name in ("migrations", ".gitignore"):
        src = proj.root / name
        if src.exists():
            src.rename(repo / name)
    (repo / "server").mkdir()
    ini = (proj.root / "alembic.ini").read_text()
    (repo / "server" / "alembic.ini").write_text(
        ini.replace("%(here)s/migrations", "%(here)s/../migrations")
    )
    commit_all(repo, "project")
    cfg = Config(str(repo / "server" / "alembic.ini"))
    git(repo, "checkout", "-q", "-b", "feature")
    command.revision(cfg, message="add n", rev_id=N)
    commit_all(repo, "n")
    git(repo, "checkout", "-q", "main")
    command.revision(cfg, message="add c", rev_id=C)
    commit_all(repo, "c")
    git(repo, "checkout", "-q", "feature")
    return repo


@pytest.mark.parametrize("command", ["merge", "rebase"])
def test_a_config_beside_the_migrations_folder_with_dotdot_is_the_same_project(
    tmp_path: Path, command: str
) -> None:
    # Paths compared with git's must be normalised, or the feature's revision looked settled
    # (merge wrote a merge revision) and rebase found nothing to do with two heads.
    repo = _config_beside_the_migrations_folder(tmp_path)
    git(repo, "merge", "-q", "--no-edit", "main")
    project = find_project(repo / "server")
    assert project.version_locations == (repo / "migrations" / "versions",)
    args = ["merge"] if command == "merge" else ["rebase", "--onto", "main"]

    done = migfix_proc(repo / "server", *args)

    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert f"{N}: bbbb0004 -> {C}" in said, said
    assert "Created merge revision" not in said, said
    assert migfix_proc(repo / "server", "heads").stdout.split()[0] == N


def test_the_hook_fixes_a_project_whose_config_sits_beside_its_migrations_folder(
    tmp_path: Path,
) -> None:
    # The hook runs at the root, where no config is; the merge touched only
    # migrations/versions/, and server/alembic.ini is in none of its parent folders: the
    # hook was silent and left two heads.
    repo = _config_beside_the_migrations_folder(tmp_path)
    assert migfix_proc(repo, "hook", "install").returncode == 0

    merged = git_proc(repo, "merge", "--no-edit", "main")

    assert merged.returncode == 0, merged.stderr
    lines = hook_lines(merged.stderr)
    assert f"migfix: Repointed {N}: bbbb0004 -> {C}  (migrations/versions/{N}_add_n.py)" in (
        lines
    ), merged.stderr
    assert migfix_proc(repo / "server", "heads").stdout.split()[0] == N
