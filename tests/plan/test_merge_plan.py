"""migfix.plan.merge on planned parents alone: the guard that never plans a merge naming a
parent and its ancestor, and the walk it rests on (pure: no files, no git)."""

from __future__ import annotations

import pytest

from migfix.errors import Refusal
from migfix.plan.merge import _refuse_redundant_parents
from migfix.read.graph import ancestry, reachable

# a <- b <- c, and d off a; e names a revision nobody declares; l1 <-> l2 is a loop.
PARENTS: dict[str, tuple[str, ...]] = {
    "a": (),
    "b": ("a",),
    "c": ("b",),
    "d": ("a",),
    "e": ("zzzz",),
    "l1": ("l2",),
    "l2": ("l1",),
}


@pytest.mark.parametrize("starts", [["c"], ["b", "d"], ["e"], ["l1"], ["zzzz"], []])
def test_ancestry_is_reachable_within_the_parents(starts: list[str]) -> None:
    assert ancestry(PARENTS, starts) == reachable(starts, PARENTS.__getitem__, within=PARENTS)


def test_a_merge_over_a_revision_and_its_ancestor_is_refused_naming_both() -> None:
    with pytest.raises(Refusal) as caught:
        _refuse_redundant_parents([("m", ("d", "a", "c"))], PARENTS)
    assert str(caught.value).startswith("a is an ancestor of d, so a merge revision over both")


def test_a_merge_over_unrelated_heads_or_a_loop_is_let_through() -> None:
    # A loop is the proof's to report (as a cycle), not a parent named twice over.
    _refuse_redundant_parents([("m", ("c", "d")), ("n", ("l1", "e"))], PARENTS)
