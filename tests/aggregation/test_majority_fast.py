"""The column-wise majority vote gives exactly what the dense formulation gives.

The reference below is the previous implementation, written out per (item, label) cell with the
generic helpers of ``base`` and ``dawid_skene``: counts, one Dawid-Skene step from the vote shares,
the per-item log-likelihood table, ``pick_labels`` on every row and ``softmax_rows``. The fast
path (one sparse incidence matrix for both passes, column-wise tie rule on the tied rows only)
must pick the same labels, ties and tie levels, and give the same confidences, posteriors,
confusions and priors.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.aggregation import majority_vote
from labeling.aggregation.base import (
    check_answers,
    chosen_confidence,
    pick_labels,
    quantize,
    softmax_rows,
    vote_counts,
)
from labeling.aggregation.dawid_skene import (
    answer_log_likelihood,
    confusions_from_posteriors,
)
from labeling.aggregation.majority import MAJORITY_SMOOTHING, accuracies_from_confusions


def _reference(items, annotators, labels, *, n_items, n_annotators, n_classes, uniform_prior=False):
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    counts = vote_counts(items, labels, n_items, n_classes)
    n_answers = counts.sum(axis=1)
    answered = n_answers > 0
    shares = counts / np.maximum(n_answers, 1)[:, None]
    confusions = confusions_from_posteriors(items, annotators, labels, shares, n_annotators, MAJORITY_SMOOTHING)
    reliability = answer_log_likelihood(items, annotators, labels, quantize(np.log(confusions)), n_items)
    if uniform_prior:
        prior = np.full(n_classes, 1.0 / n_classes)
    else:
        prior = (shares[answered].sum(axis=0) + 1.0) / (answered.sum() + n_classes)
    log_prior = quantize(np.log(prior))
    posteriors = softmax_rows(reliability + log_prior)
    chosen, tied, level = pick_labels([counts, reliability, log_prior[None, :]], answered)
    return {
        "labels": chosen, "tied": tied, "tie_level": level, "counts": counts, "n_answers": n_answers,
        "confidence": chosen_confidence(posteriors, chosen), "posteriors": posteriors,
        "confusions": confusions, "priors": prior, "accuracies": accuracies_from_confusions(confusions, prior),
    }


EXACT = ("labels", "tied", "tie_level", "counts", "n_answers")
CLOSE = ("confidence", "posteriors", "confusions", "priors", "accuracies")


def _assert_same(data: dict, uniform_prior: bool = False) -> None:
    got = majority_vote(**data, uniform_prior=uniform_prior)
    want = _reference(**data, uniform_prior=uniform_prior)
    for field in EXACT:
        assert np.array_equal(getattr(got, field), want[field]), field
        assert getattr(got, field).dtype == want[field].dtype, field
    for field in CLOSE:
        np.testing.assert_allclose(getattr(got, field), want[field], rtol=0, atol=1e-12, err_msg=field)


@st.composite
def answer_sets(draw: st.DrawFn) -> dict:
    n_items = draw(st.integers(1, 12))
    n_annotators = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    n = draw(st.integers(0, 60))
    pick = lambda hi: np.array(draw(st.lists(st.integers(0, hi - 1), min_size=n, max_size=n)), dtype=np.int64)
    return {"items": pick(n_items), "annotators": pick(n_annotators), "labels": pick(k),
            "n_items": n_items, "n_annotators": n_annotators, "n_classes": k}


@settings(max_examples=200, deadline=None)
@given(answer_sets(), st.booleans())
def test_same_as_dense_formulation(data: dict, uniform_prior: bool) -> None:
    _assert_same(data, uniform_prior)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_same_as_dense_formulation_on_many_ties(k: int) -> None:
    # two or four answers per item over few labels: many items tie on votes; a few annotators
    # answer identically, so some ties survive the reliability key as well
    rng = np.random.default_rng(k)
    n_items, per_item = 3000, int(rng.choice([2, 4]))
    items = np.repeat(np.arange(n_items), per_item)
    annotators = rng.integers(0, 40, items.size)
    labels = rng.integers(0, k, items.size)
    unanswered = rng.choice(n_items, 50, replace=False)  # items listed without answers
    keep = ~np.isin(items, unanswered)
    data = {"items": items[keep], "annotators": annotators[keep], "labels": labels[keep],
            "n_items": n_items, "n_annotators": 40, "n_classes": k}
    result = majority_vote(**data)
    assert result.tied.mean() > 0.2 and set(np.unique(result.tie_level)) >= {0, 1}
    assert (result.labels[unanswered] == -1).all() and (result.confidence[unanswered] == 0).all()
    _assert_same(data)
    _assert_same(data, uniform_prior=True)


def test_int32_and_list_inputs() -> None:
    data = {"items": [0, 0, 1, 1, 1], "annotators": [0, 1, 0, 1, 2], "labels": [1, 0, 2, 2, 0],
            "n_items": 3, "n_annotators": 3, "n_classes": 3}
    want = majority_vote(**data)
    got = majority_vote(**{**data, **{c: np.array(data[c], dtype=np.int32) for c in ("items", "annotators", "labels")}})
    for field in EXACT + CLOSE:
        assert np.array_equal(getattr(got, field), getattr(want, field)), field
    assert want.labels[1:].tolist() == [2, -1] and want.tied.tolist() == [True, False, False]
    assert want.tie_level[0] in (1, 2, 3)


def test_inputs_are_not_modified() -> None:
    rng = np.random.default_rng(3)
    items, annotators, labels = rng.integers(0, 50, 400), rng.integers(0, 9, 400), rng.integers(0, 3, 400)
    before = [a.copy() for a in (items, annotators, labels)]
    majority_vote(items, annotators, labels, n_items=50, n_annotators=9, n_classes=3)
    for a, b in zip((items, annotators, labels), before):
        assert np.array_equal(a, b)


def test_package_import_does_not_load_pandas() -> None:
    code = ("import sys, labeling.aggregation, labeling.aggregation.cli; "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


@settings(max_examples=100, deadline=None)
@given(answer_sets(), st.booleans())
def test_answers_in_item_order(data: dict, uniform_prior: bool) -> None:
    """Answers grouped by item (compressed-row incidence matrix, built without conversion) give
    what the dense formulation gives, and the same as the same answers in any order."""
    order = np.argsort(data["items"], kind="stable")
    grouped = {**data, **{key: data[key][order] for key in ("items", "annotators", "labels")}}
    _assert_same(grouped, uniform_prior)
    a = majority_vote(**grouped, uniform_prior=uniform_prior)
    b = majority_vote(**data, uniform_prior=uniform_prior)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.tie_level, b.tie_level)
    np.testing.assert_allclose(a.posteriors, b.posteriors, rtol=0, atol=1e-12)


def test_items_without_answers_in_item_order() -> None:
    data = {"items": np.array([0, 0, 3, 3, 3, 5]), "annotators": np.array([0, 1, 0, 1, 2, 2]),
            "labels": np.array([1, 1, 0, 2, 2, 0]), "n_items": 7, "n_annotators": 3, "n_classes": 3}
    _assert_same(data)
    result = majority_vote(**data)
    assert result.labels.tolist() == [1, -1, -1, 2, -1, 0, -1]


@pytest.mark.parametrize("k", [33, 70, 130])
def test_many_labels(k: int) -> None:
    """Wide vote tables (free text gives many item-local codes): the column-wise paths that
    switch on the number of labels (chosen label's posterior, tie counts) match the reference."""
    rng = np.random.default_rng(k)
    items = np.repeat(np.arange(300), 3)
    items = items[rng.random(items.size) < 0.9]
    data = {"items": items, "annotators": rng.integers(0, 7, items.size), "labels": rng.integers(0, k, items.size),
            "n_items": 305, "n_annotators": 7, "n_classes": k}
    _assert_same(data)
    _assert_same(data, uniform_prior=True)
    shuffled = rng.permutation(items.size)
    _assert_same({**data, **{c: data[c][shuffled] for c in ("items", "annotators", "labels")}})

