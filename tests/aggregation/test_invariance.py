"""Property tests: results do not depend on item order, annotator order, answer order or the
names (codes) of the labels.

The one documented exception: when a tie survives every data-derived key, majority-type
methods take the lowest label code, and relabelling can then change which of the
still-tied labels is named (tie_level is the last level on both sides, with the same
confidence). No rule can do better there: such data is symmetric in those labels.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.aggregation import aggregate

METHODS = ("majority", "weighted", "dawid_skene", "one_coin")
LAST_LEVEL = 3  # every method breaks ties with three keys; level 3 = lowest code


@st.composite
def datasets(draw: st.DrawFn) -> dict:
    n_items = draw(st.integers(1, 8))
    n_annotators = draw(st.integers(1, 5))
    k = draw(st.integers(2, 4))
    n = draw(st.integers(1, 30))
    items = draw(st.lists(st.integers(0, n_items - 1), min_size=n, max_size=n))
    annotators = draw(st.lists(st.integers(0, n_annotators - 1), min_size=n, max_size=n))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    perm_items = draw(st.permutations(range(n_items)))
    perm_annotators = draw(st.permutations(range(n_annotators)))
    perm_labels = draw(st.permutations(range(k)))
    perm_rows = draw(st.permutations(range(n)))
    return {
        "items": np.array(items), "annotators": np.array(annotators), "labels": np.array(labels),
        "n_items": n_items, "n_annotators": n_annotators, "k": k,
        "perm_items": np.array(perm_items), "perm_annotators": np.array(perm_annotators),
        "perm_labels": np.array(perm_labels), "perm_rows": np.array(perm_rows),
    }


def _run(method: str, d: dict, items: np.ndarray, annotators: np.ndarray, labels: np.ndarray):
    return aggregate(method, items, annotators, labels, n_items=d["n_items"],
                     n_annotators=d["n_annotators"], n_classes=d["k"])


def _check(method: str, d: dict, rename_labels: bool) -> None:
    base = _run(method, d, d["items"], d["annotators"], d["labels"])
    rows = d["perm_rows"]
    label_map = d["perm_labels"] if rename_labels else np.arange(d["k"])
    moved = _run(
        method, d,
        d["perm_items"][d["items"]][rows],
        d["perm_annotators"][d["annotators"]][rows],
        label_map[d["labels"]][rows],
    )
    # item i of the original is item perm_items[i] of the moved data
    got_labels = moved.labels[d["perm_items"]]
    got_conf = moved.confidence[d["perm_items"]]
    got_level = moved.tie_level[d["perm_items"]]
    expected = np.where(base.labels >= 0, label_map[np.maximum(base.labels, 0)], -1)
    np.testing.assert_allclose(got_conf, base.confidence, atol=1e-9)
    np.testing.assert_array_equal(moved.tied[d["perm_items"]], base.tied)
    np.testing.assert_allclose(moved.posteriors[d["perm_items"]][:, label_map], base.posteriors, atol=1e-9)
    arbitrary = (base.tie_level == LAST_LEVEL) & rename_labels
    np.testing.assert_array_equal(got_labels[~arbitrary], expected[~arbitrary])
    np.testing.assert_array_equal(got_level[arbitrary], LAST_LEVEL)


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_order_invariance(d: dict) -> None:
    for method in METHODS:
        _check(method, d, rename_labels=False)


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_label_renaming_invariance(d: dict) -> None:
    for method in METHODS:
        _check(method, d, rename_labels=True)
