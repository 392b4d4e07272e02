"""The journal of moves and what a database really ran: the pure parts, and git without hooks.

``analyse`` gets small graphs read from real revision files; the journal and the reflog are
read from real git repositories. The end-to-end stories are in test_dbsync.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitutil import commit_all, git, make_repo, write

from migfix.db.sync_status import IN_STEP, OUT_OF_STEP, UNKNOWN, analyse
from migfix.read.graph import Graph
from migfix.read.scan import scan_file
from migfix.write import moves, moves_seen

pytestmark = pytest.mark.usefixtures("git_env")

A, R, S1, S2, S3, M = "aaaa0001", "rrrr0001", "ssss0001", "ssss0002", "ssss0003", "mmmm0001"


def source(rev: str, down: tuple[str, ...]) -> str:
    value = "None" if not down else repr(down[0]) if len(down) == 1 else repr(down)
    return f'"""{rev}"""\nrevision = {rev!r}\ndown_revision = {value}\n'


def graph(tmp_path: Path, spec: dict[str, tuple[str, ...]]) -> Graph:
    files = [
        scan_file(tmp_path / f"{rev}.py", source(rev, down).encode()) for rev, down in spec.items()
    ]
    return Graph(files, root=tmp_path)


def move(rev: str, old: tuple[str, ...], new: tuple[str, ...], when: float = 10.0) -> moves.Move:
    return moves.Move(rev, old, new, when, "test")


MOVED = {A: (), S1: (A,), S2: (S1,), R: (S2,)}


def test_a_database_that_ran_r_on_a_misses_s1_and_s2(tmp_path: Path) -> None:
    a = analyse(graph(tmp_path, MOVED), [R], [move(R, (A,), (S2,))])
    assert a.state == OUT_OF_STEP
    assert a.missing == (S1, S2)
    assert a.target == (R,)
    assert a.applied == {A, R}
    assert [m[:3] for m in a.moved] == [(R, (A,), (S2,))]


def test_without_a_move_the_same_database_is_in_step(tmp_path: Path) -> None:
    a = analyse(graph(tmp_path, MOVED), [R], [])
    assert a.state == IN_STEP and a.missing == () and a.behind == ()


def test_a_database_behind_the_move_is_not_concerned(tmp_path: Path) -> None:
    a = analyse(graph(tmp_path, MOVED), [A], [move(R, (A,), (S2,))])
    assert a.state == IN_STEP
    assert a.behind == (S1, S2, R)


def test_a_complete_sync_after_the_move_settles_it(tmp_path: Path) -> None:
    g = graph(tmp_path, MOVED)
    synced = moves.Synced("sqlite:///x", 20.0, (S1, S2), True)
    assert analyse(g, [R], [move(R, (A,), (S2,), 10.0)], [synced]).state == IN_STEP
    # A later move counts again, from the parents R had when the database was synced.
    later = move(R, (S2,), (S3,), 30.0)
    g2 = graph(tmp_path, {A: (), S1: (A,), S2: (S1,), S3: (S2,), R: (S3,)})
    a = analyse(g2, [R], [move(R, (A,), (S2,), 10.0), later], [synced])
    assert a.missing == (S3,)


def test_a_partial_sync_is_not_run_again(tmp_path: Path) -> None:
    partial = moves.Synced("sqlite:///x", 20.0, (S1,), False)
    a = analyse(graph(tmp_path, MOVED), [R], [move(R, (A,), (S2,))], [partial])
    assert a.missing == (S2,)


def test_a_diamond_below_r_runs_in_graph_order(tmp_path: Path) -> None:
    spec = {A: (), S1: (A,), S3: (A,), M: (S1, S3), S2: (M,), R: (S2,)}
    a = analyse(graph(tmp_path, spec), [R], [move(R, (A,), (S2,))])
    assert set(a.missing[:2]) == {S1, S3} and a.missing[2:] == (M, S2)
    assert a.target == (R,)


def test_a_revision_r_left_behind_stays_a_head(tmp_path: Path) -> None:
    """R moved off X, which is now on another line: the database keeps X as a head."""
    spec = {A: (), "xxxx0001": (A,), S1: (A,), R: (S1,)}
    a = analyse(graph(tmp_path, spec), [R], [move(R, ("xxxx0001",), (S1,))])
    assert a.missing == (S1,)
    assert set(a.target) == {"xxxx0001", R}


def test_an_unknown_recorded_revision(tmp_path: Path) -> None:
    a = analyse(graph(tmp_path, MOVED), ["zzzz0001"], [])
    assert a.state == UNKNOWN and a.unknown == ("zzzz0001",)


# -- the journal and git ---------------------------------------------------------------------


@pytest.mark.slow
def test_record_and_read_skip_the_same_move_seen_twice(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = moves.record(repo, [(R, (A,), (S2,))], "migfix merge")
    again = moves.record(repo, [(R, [A], [S2])], "git rebase (post-rewrite hook)")
    back = moves.record(repo, [(R, (S2,), (A,))], "git checkout")
    found, syncs = moves.read(repo)
    assert [m.by for m in first] == ["migfix merge"] and again == []
    assert [(m.revision, m.old, m.new) for m in found] == [(R, (A,), (S2,)), (R, (S2,), (A,))]
    assert back and syncs == []
    assert (repo / ".git" / "migfix-moves.jsonl").is_file()


@pytest.mark.slow
def test_a_linked_worktree_shares_the_clones_journal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "x.txt", "x")
    commit_all(repo, "x")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    moves.record(tmp_path / "wt", [(R, (A,), (S2,))], "migfix rebase")
    assert moves.journal_path(tmp_path / "wt") == moves.journal_path(repo)
    assert [m.by for m in moves.read(repo)[0]] == ["migfix rebase"]


@pytest.mark.slow
def test_moves_between_commits_and_in_the_reflog(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    write(versions / "a.py", source(A, ()))
    write(versions / "r.py", source(R, (A,)))
    before = commit_all(repo, "R on A")
    git(repo, "checkout", "-q", "-b", "other")
    (versions / "r.py").unlink()
    commit_all(repo, "no R here")
    write(versions / "s1.py", source(S1, (A,)))
    write(versions / "r_moved.py", source(R, (S1,)))  # another file name: same revision
    after = commit_all(repo, "R on S1")

    assert moves_seen.moves_between(repo, before, after, [versions]) == [(R, (A,), (S1,))]
    assert moves_seen.moves_between(repo, before, before, [versions]) == []
    seen = moves_seen.reflog_moves(repo, [versions])
    # HEAD went R-on-A -> no R -> R-on-S1: the move is seen across the state without R.
    assert [(m.revision, m.old, m.new) for m in seen] == [(R, (A,), (S1,))]
    assert seen[0].by == "git commit (seen in the reflog)"


@pytest.mark.slow
def test_moves_in_a_diff_already_run_agree_with_moves_between(tmp_path: Path) -> None:
    from migfix.git.history import TreeDiff

    repo = make_repo(tmp_path / "repo")
    versions = repo / "versions"
    write(versions / "a.py", source(A, ()))
    write(versions / "s1.py", source(S1, (A,)))
    write(versions / "r.py", source(R, (A,)))
    # Moves in a sibling folder whose name starts alike and in a file that is not Python:
    # neither is under `versions`.
    write(repo / "versions2" / "s3.py", source(S3, (A,)))
    write(versions / "s2.txt", source(S2, (A,)))
    before = commit_all(repo, "R on A")
    write(versions / "r.py", source(R, (S1,)))
    write(repo / "versions2" / "s3.py", source(S3, (S1,)))
    write(versions / "s2.txt", source(S2, (S1,)))
    after = commit_all(repo, "R on S1")

    diff = TreeDiff(repo, before, after)
    assert moves_seen.moves_in(repo, diff, [versions]) == [(R, (A,), (S1,))]
    assert moves_seen.moves_in(repo, diff, [versions]) == moves_seen.moves_between(
        repo, before, after, [versions]
    )
    assert moves_seen.moves_in(repo, diff, [repo / "versions2"]) == [(S3, (A,), (S1,))]
    both = moves_seen.moves_in(repo, diff, [repo])  # the whole work tree as the location
    assert sorted(both) == [(R, (A,), (S1,)), (S3, (A,), (S1,))]
    assert both == moves_seen.moves_between(repo, before, after, [repo])
    # A failed diff (an unknown commit) finds nothing, as moves_between.
    assert moves_seen.moves_in(repo, TreeDiff(repo, "nope", after), [versions]) == []
    assert [p.relative_to(repo).as_posix() for p in diff.paths()] == [
        "versions/r.py",
        "versions/s2.txt",
        "versions2/s3.py",
    ]


@pytest.mark.slow
def test_a_journal_line_that_does_not_fit_its_schema_is_named_and_never_used(
    tmp_path: Path,
) -> None:
    # "old": "a0" (a string) was read as the parents a and 0.
    repo = make_repo(tmp_path / "repo")
    moves.record(repo, [(R, (A,), (S2,))], "migfix merge")
    path = moves.journal_path(repo)
    assert path is not None
    with path.open("a") as f:
        f.write(
            '{"kind": "move", "revision": "a0", "old": "a0", "new": ["b1"], "when": 1, "by": "x"}\n'
        )
        f.write('{"kind": "synced", "database": "sqlite:///x", "when": 2, "ran": "s1"}\n')
        f.write("[1, 2]\n")
        f.write('{"kind": "move", "revision": "r", "old": [], "new": [3], "when": 1, "by": "x"}\n')
        f.write("not json\n")
        f.write(
            '{"kind": "move", "revision": "r", "old": [], "new": [], "when": true, "by": "x"}\n'
        )

    found, syncs, faults = moves.read_all(repo)

    assert [(m.revision, m.old, m.new) for m in found] == [(R, (A,), (S2,))]
    assert syncs == []
    assert [f.split(":")[0] for f in faults] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7)], faults
    assert '"old" is not a list of revision ids' in faults[0], faults
    assert moves.read(repo) == (found, syncs)


@pytest.mark.slow
def test_sync_records_with_and_without_a_reflog_point_are_read_and_a_bad_one_is_named(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    point = moves.ReflogPoint(".", "c" * 40, 1700000000.0, "pull --rebase (finish): x")
    moves.record_synced(repo, "sqlite:///x", [S1], True, point)
    path = moves.journal_path(repo)
    assert path is not None
    with path.open("a") as f:
        # What migfix wrote before syncs kept their reflog point: still read.
        f.write('{"kind": "synced", "database": "sqlite:///x", "when": 2, "ran": ["s1"]}\n')
        f.write('{"kind": "synced", "database": "d", "when": 2, "reflog": "HEAD@{3}"}\n')
        bad = {"head": ".", "commit": "zz", "when": 1, "subject": ""}
        f.write(json.dumps({"kind": "synced", "database": "d", "when": 2, "reflog": bad}) + "\n")

    _, syncs, faults = moves.read_all(repo)

    assert [(s.ran, s.reflog, s.line) for s in syncs] == [((S1,), point, 1), (("s1",), None, 2)]
    assert faults == [
        'line 3: "reflog" is not a JSON object',
        'line 4: "reflog"."commit" is not a commit id',
    ]


@pytest.mark.slow
def test_journal_moves_and_syncs_are_ordered_by_their_lines_not_their_clocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock went back between a sync and a move migfix made after it (and forward
    between a move and the sync after it): the journal's order is what happened."""
    g = graph(tmp_path, MOVED)
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("MIGFIX_TEST_NOW", "100.5")
    moves.record(repo, [(R, (S2,), (A,))], "migfix rebase")  # before the sync, clock ahead
    monkeypatch.setenv("MIGFIX_TEST_NOW", "50.25")
    moves.record_synced(repo, "sqlite:///x", [], True, None)
    monkeypatch.setenv("MIGFIX_TEST_NOW", "20.75")
    moves.record(repo, [(R, (A,), (S2,))], "migfix rebase")  # after the sync, clock behind

    found, syncs = moves.read(repo)

    assert [m.when for m in found] == [100.5, 20.75] and [s.when for s in syncs] == [50.25]
    assert [moves.order(m, syncs[0]) for m in found] == [moves.BEFORE, moves.AFTER]
    a = analyse(g, [R], found, syncs)
    assert a.missing == (S1, S2)
    assert [m[:3] for m in a.moved] == [(R, (A,), (S2,))]


def test_a_reflog_move_is_ordered_by_entry_and_by_time_only_when_no_entry_is_known(
    tmp_path: Path,
) -> None:
    g = graph(tmp_path, MOVED)
    seen_at = moves.Move(R, (A,), (S2,), 1000.0, "git pull (seen in the reflog)", entry=7)
    synced = moves.Synced("sqlite:///x", 1000.5, (), True, entry=6)
    # By position: entry 7 came after the sync's 6, whatever the times say.
    assert moves.order(seen_at, synced) == moves.AFTER
    assert analyse(g, [R], [seen_at], [synced]).missing == (S1, S2)
    assert moves.order(seen_at, synced._replace(entry=7)) == moves.BEFORE

    # The sync's entry expired (or another worktree's, or an old record): time, and the
    # same second cannot be ordered. It counts as synced, and says so.
    lost = synced._replace(entry=None)
    assert moves.order(seen_at, lost) == moves.UNORDERED
    a = analyse(g, [R], [seen_at], [lost])
    assert a.state == IN_STEP and a.missing == ()
    assert a.unordered == (seen_at,) and a.doubtful == (S1, S2)
    assert moves.order(seen_at._replace(when=1001.0), lost) == moves.AFTER
    assert moves.order(seen_at._replace(when=999.0), lost) == moves.BEFORE
    # A move migfix wrote has a fractional time of its own: no second to share.
    assert moves.order(seen_at._replace(entry=None, when=1000.25), lost) == moves.BEFORE
