"""The one-item decision (``decide_item``, plain Python, used once per answer by the live
workflow) against the batch code (``decide_items``, numpy): same label, status, tie flag and
counts, and the same confidence up to the last bits, for every rule kind, with and without
per-annotator confusion matrices and a class prior; and the status rule for one item
(``status_of``) against the vectorised one on every small case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeling.aggregation import QuorumRule, decide_item, decide_items
from labeling.aggregation.quorum import log_table, quorum_status, status_of


@st.composite
def cases(draw):
    k = draw(st.integers(2, 6))
    n_annotators = draw(st.integers(1, 5))
    n = draw(st.integers(0, 12))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    annotators = draw(st.lists(st.integers(-1, n_annotators - 1), min_size=n, max_size=n))
    confusions = None
    if draw(st.booleans()):
        seed = draw(st.integers(0, 2**31))
        rng = np.random.default_rng(seed)
        if draw(st.booleans()):
            confusions = rng.dirichlet(np.ones(k), size=(n_annotators, k))
        else:  # one-coin matrices from a few accuracies: ties between labels happen
            acc = rng.choice([0.6, 0.7, 0.8, 0.9], size=n_annotators)
            confusions = np.repeat(((1 - acc) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
            for a in range(n_annotators):
                np.fill_diagonal(confusions[a], acc[a])
    kind = draw(st.sampled_from(["k_of_n", "escalate", "confidence"]))
    max_answers = draw(st.integers(1, 12))
    min_answers = draw(st.integers(1, max_answers))
    if kind == "k_of_n":
        rule = QuorumRule(kind=kind, k=draw(st.integers(1, max_answers)), max_answers=max_answers,
                          min_answers=min_answers)
    elif kind == "escalate":
        max_answers = max(max_answers, 2)
        after = draw(st.integers(1, max_answers - 1))
        k1 = draw(st.integers(1, after))
        rule = QuorumRule(kind=kind, k=k1, max_answers=max_answers, min_answers=min_answers,
                          escalate_after=after, escalate_k=draw(st.integers(k1, max_answers)))
    else:
        rule = QuorumRule(kind=kind, k=1, max_answers=max_answers, min_answers=min_answers,
                          confidence=draw(st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99])))
    default_accuracy = draw(st.sampled_from([0.55, 0.7, 0.9]))
    prior = draw(st.sampled_from([None, "skewed", "flat"]))
    if prior == "skewed":
        prior = np.arange(1, k + 1, dtype=float)[::-1]
    elif prior == "flat":
        prior = np.ones(k)
    return labels, annotators, k, rule, confusions, default_accuracy, prior


def _batch_of_one(labels, annotators, k, rule, confusions=None, default_accuracy=0.7, prior=None):
    batch = decide_items(np.zeros(len(labels), dtype=np.int64), np.array(annotators, dtype=np.int64),
                         np.array(labels, dtype=np.int64), n_items=1, n_classes=k, rule=rule,
                         confusions=confusions, default_accuracy=default_accuracy, prior=prior)
    return batch.decision(0)


@settings(max_examples=600, deadline=None)
@given(cases())
def test_decide_item_is_the_batch_code_on_one_item(case):
    labels, annotators, k, rule, confusions, default_accuracy, prior = case
    expected = _batch_of_one(labels, annotators, k, rule, confusions, default_accuracy, prior)
    got = decide_item(labels, annotators, n_classes=k, rule=rule, prior=prior,
                      table=log_table(confusions, k, default_accuracy))
    assert (got.label, got.status, got.tied, got.counts) == (
        expected.label, expected.status, expected.tied, expected.counts)
    assert got.confidence == pytest.approx(expected.confidence, rel=1e-12, abs=1e-15)
    # numpy arrays in, the table built from the confusions: the same decision
    again = decide_item(np.array(labels, dtype=np.int64), np.array(annotators, dtype=np.int64), n_classes=k,
                        rule=rule, confusions=confusions, default_accuracy=default_accuracy, prior=prior)
    assert again == got


RULES = [
    QuorumRule(kind="k_of_n", k=3, max_answers=5, min_answers=1),
    QuorumRule(kind="k_of_n", k=2, max_answers=3, min_answers=2),
    QuorumRule(kind="escalate", k=2, max_answers=5, min_answers=1, escalate_after=3, escalate_k=3),
    QuorumRule(kind="escalate", k=2, max_answers=4, min_answers=1, escalate_after=3, escalate_k=4),
    QuorumRule(kind="confidence", k=1, max_answers=6, min_answers=2, confidence=0.9),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.kind}-{r.k}-{r.max_answers}")
def test_status_of_one_item_is_the_vectorised_rule(rule):
    cases = [(n, top, chosen, conf) for n in range(0, 8) for top in range(0, n + 1)
             for chosen in range(0, top + 1) for conf in (0.5, 0.9 - 2e-5, 0.9 - 5e-6, 0.95)]
    n, top, chosen, conf = (np.array(c) for c in zip(*cases))
    expected = quorum_status(rule, n, top, chosen, conf)
    got = [status_of(rule, *c) for c in cases]
    assert got == expected.tolist()


def test_hand_computed_tie_goes_to_the_more_reliable_annotator():
    # 1 vote each for labels 0 and 1: annotator 0 is 0.9 accurate, annotator 1 is 0.6.
    conf = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.6, 0.4], [0.4, 0.6]]])
    rule = QuorumRule(kind="k_of_n", k=2, max_answers=3, min_answers=1)
    got = decide_item([1, 0], [1, 0], n_classes=2, rule=rule, confusions=conf)
    assert (got.label, got.tied, got.status, got.counts) == (0, True, "needs_more", (1, 1))
    # posterior of label 0: 0.9*0.4 / (0.9*0.4 + 0.1*0.6) = 0.857...
    assert got.confidence == pytest.approx(0.36 / 0.42, abs=1e-5)


def test_bad_codes_are_refused():
    with pytest.raises(ValueError, match="outside"):
        decide_item([3], [0], n_classes=2, rule=QuorumRule(kind="k_of_n", k=1, max_answers=1, min_answers=1))


@pytest.mark.parametrize("labels, status", [
    # escalate 2 of 3, then 4 of 4: two different labels after two answers cannot reach 4 of 4,
    # but stage one (2 of 3) is still open: needs more, not "no consensus".
    ([0, 1], "needs_more"),
    ([0, 1, 2], "no_consensus"),  # stage one out of reach, and 4 of 4 too
    ([0, 0], "accepted"),
])
def test_escalate_by_hand(labels, status):
    rule = QuorumRule(kind="escalate", k=2, max_answers=4, min_answers=1, escalate_after=3, escalate_k=4)
    got = decide_item(labels, [-1] * len(labels), n_classes=3, rule=rule)
    expected = _batch_of_one(labels, [-1] * len(labels), 3, rule)
    assert got.status == expected.status == status
