"""Split assignment: a pure function of (salt, external id, ratios)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.exports.splits import SPLITS, SplitAssigner, SplitRatios, assign_split, new_salt, split_point


def test_the_same_item_always_gets_the_same_split():
    salt = "fixed-salt"
    ratios = SplitRatios(0.8, 0.1, 0.1)
    first = [assign_split(salt, f"id-{i}", ratios) for i in range(1000)]
    again = [assign_split(salt, f"id-{i}", ratios) for i in range(1000)]
    assert first == again
    assigner = SplitAssigner(salt, ratios)
    assert [assigner(f"id-{i}") for i in range(1000)] == first


def test_shares_are_close_to_the_ratios_on_many_items():
    ratios = SplitRatios(0.7, 0.2, 0.1)
    assigner = SplitAssigner(new_salt(), ratios)
    n = 20_000
    counts = {s: 0 for s in SPLITS}
    for i in range(n):
        counts[assigner(f"x{i}")] += 1
    assert abs(counts["train"] / n - 0.7) < 0.02
    assert abs(counts["validation"] / n - 0.2) < 0.02
    assert abs(counts["test"] / n - 0.1) < 0.02


def test_a_different_salt_gives_a_different_assignment():
    ratios = SplitRatios()
    a = [assign_split("a", str(i), ratios) for i in range(500)]
    b = [assign_split("b", str(i), ratios) for i in range(500)]
    assert a != b


@pytest.mark.parametrize("shares", [(0.5, 0.5, 0.5), (1.2, -0.1, -0.1), (0.3, 0.3, 0.3)])
def test_ratios_must_be_shares_that_add_up_to_one(shares):
    with pytest.raises(ValueError):
        SplitRatios(*shares)


def test_empty_splits_are_allowed():
    assert {assign_split("s", str(i), SplitRatios(1.0, 0.0, 0.0)) for i in range(200)} == {"train"}


@settings(max_examples=200, deadline=None)
@given(external_ids=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=50, unique=True),
       new_ids=st.lists(st.text(min_size=1, max_size=40), max_size=50))
def test_adding_items_never_moves_an_old_one(external_ids, new_ids):
    ratios = SplitRatios(0.6, 0.2, 0.2)
    before = {e: assign_split("salt", e, ratios) for e in external_ids}
    after = {e: assign_split("salt", e, ratios) for e in [*new_ids, *external_ids]}
    assert all(after[e] == before[e] for e in external_ids)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_split_point_is_in_the_unit_interval(external_id):
    assert 0.0 <= split_point("s", external_id) < 1.0


def test_moving_a_boundary_moves_only_items_between_the_old_and_the_new_boundary():
    old, new = SplitRatios(0.8, 0.1, 0.1), SplitRatios(0.7, 0.2, 0.1)
    for i in range(2000):
        e = f"i{i}"
        a, b = assign_split("s", e, old), assign_split("s", e, new)
        if a != b:
            assert (a, b) == ("train", "validation")
            assert 0.7 <= split_point("s", e) < 0.8
