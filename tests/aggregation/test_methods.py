"""Consensus methods on small hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.aggregation import (
    accuracies_from_gold,
    aggregate,
    encode,
    encode_open,
    expected_calibration_error,
    method_name,
    multichoice_key,
    normalize_text,
)

METHODS = ("majority", "weighted", "dawid_skene", "one_coin")


def _answers(rows: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arr = np.array(rows, dtype=np.int64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _reliability_case(swap: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Annotators 0 and 2 always agree, annotator 1 always disagrees, on items 1-6; on item 0,
    annotator 0 says A and annotator 1 says B (a 1-1 tie)."""
    a, b = (1, 0) if swap else (0, 1)
    rows = [(0, 0, a), (0, 1, b)]
    for item in range(1, 7):
        good = item % 2
        rows += [(item, 0, good), (item, 2, good), (item, 1, 1 - good)]
    return _answers(rows)


@pytest.mark.parametrize("swap", [False, True])
def test_majority_tie_goes_to_the_reliable_annotator(swap: bool) -> None:
    items, annotators, labels = _reliability_case(swap)
    result = aggregate("majority", items, annotators, labels, n_items=7, n_annotators=3, n_classes=2)
    assert result.labels[0] == labels[0]  # annotator 0's label, whatever its name
    assert result.tied[0] and result.tie_level[0] == 1
    assert not result.tied[1:].any()
    assert 0.5 < result.confidence[0] < 1.0
    assert result.counts[0].tolist() == [1, 1]


def test_majority_tie_then_prior_then_lowest_code() -> None:
    # item 0: two interchangeable annotators say 0 and 1 (equal reliability); item 1: two
    # others both say 1, so label 1 is given more often overall -> tie level 2 picks 1.
    items, annotators, labels = _answers([(0, 0, 0), (0, 1, 1), (1, 2, 1), (1, 3, 1)])
    result = aggregate("majority", items, annotators, labels, n_items=2, n_annotators=4, n_classes=2)
    assert result.labels[0] == 1 and result.tied[0] and result.tie_level[0] == 2
    # fully symmetric data: nothing tells the labels apart -> the lowest code, tie level 3
    items, annotators, labels = _answers([(0, 0, 0), (0, 1, 1)])
    result = aggregate("majority", items, annotators, labels, n_items=1, n_annotators=2, n_classes=2)
    assert result.labels[0] == 0 and result.tie_level[0] == 3
    assert result.confidence[0] == pytest.approx(0.5)


def test_majority_plain_plurality_and_repeats_count() -> None:
    # annotator 0 answers item 0 twice with label 2: two votes
    items, annotators, labels = _answers([(0, 0, 2), (0, 0, 2), (0, 1, 1), (1, 1, 0)])
    result = aggregate("majority", items, annotators, labels, n_items=3, n_annotators=2, n_classes=3)
    assert result.labels.tolist() == [2, 0, -1]
    assert result.counts[0].tolist() == [0, 1, 2]
    assert result.n_answers.tolist() == [3, 1, 0]
    assert result.confidence[2] == 0.0 and not result.tied.any()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_handles_unanswered_items_and_single_class(method: str) -> None:
    items, annotators, labels = _answers([(0, 0, 0), (0, 1, 0), (2, 1, 0)])
    result = aggregate(method, items, annotators, labels, n_items=3, n_annotators=2, n_classes=1)
    assert result.labels.tolist() == [0, -1, 0]
    assert result.posteriors.shape == (3, 1)
    np.testing.assert_allclose(result.confidence, [1.0, 0.0, 1.0])


@pytest.mark.parametrize("method", METHODS)
def test_posteriors_are_distributions_and_confidence_is_the_chosen_posterior(method: str) -> None:
    rng = np.random.default_rng(0)
    items = rng.integers(0, 40, 300)
    annotators = rng.integers(0, 9, 300)
    labels = rng.integers(0, 3, 300)
    result = aggregate(method, items, annotators, labels, n_items=40, n_annotators=9, n_classes=3)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    answered = result.labels >= 0
    np.testing.assert_allclose(
        result.confidence[answered], result.posteriors[answered, result.labels[answered]]
    )


@pytest.mark.parametrize("method", ["dawid_skene", "one_coin"])
def test_gold_items_are_clamped(method: str) -> None:
    items, annotators, labels = _answers([(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 1), (1, 1, 1)])
    gold = np.array([1, -1])
    result = aggregate(method, items, annotators, labels, n_items=2, n_annotators=3, n_classes=2, gold=gold)
    assert result.labels[0] == 1
    np.testing.assert_array_equal(result.posteriors[0], [0.0, 1.0])


def test_dawid_skene_recovers_a_label_swapping_annotator() -> None:
    """An annotator who always answers the other label is worth as much as a perfect one once
    DS has learnt the confusion; majority vote cannot use that."""
    rng = np.random.default_rng(1)
    n = 400
    truth = rng.integers(0, 2, n)
    rows = []
    for item in range(n):
        rows.append((item, 0, 1 - truth[item]))  # swapper
        for a in (1, 2, 3, 4):  # four noisy annotators
            rows.append((item, a, truth[item] if rng.random() < 0.75 else 1 - truth[item]))
    items, annotators, labels = _answers(rows)
    ds = aggregate("dawid_skene", items, annotators, labels, n_items=n, n_annotators=5, n_classes=2)
    mv = aggregate("majority", items, annotators, labels, n_items=n, n_annotators=5, n_classes=2)
    assert ds.converged
    assert (ds.labels == truth).mean() > 0.97
    assert (mv.labels == truth).mean() < 0.8
    assert ds.confusions is not None and ds.confusions[0, 0, 1] > 0.95


def test_weighted_uses_gold_accuracies_as_log_odds() -> None:
    # annotator 0 is always wrong on gold, annotators 1 and 2 always right
    rows = [(0, 0, 1), (0, 1, 0), (0, 2, 0), (1, 0, 0), (1, 1, 1), (1, 2, 1)]
    rows += [(2, 0, 1), (2, 1, 0)]  # item 2: a 1-1 split between the bad and a good annotator
    items, annotators, labels = _answers(rows)
    gold = np.array([0, 1, -1])
    acc = accuracies_from_gold(items, annotators, labels, gold, 3)
    pooled = (4 + 1) / (6 + 2)
    np.testing.assert_allclose(acc, [(0 + 2 * pooled) / 4, (2 + 2 * pooled) / 4, (2 + 2 * pooled) / 4])
    result = aggregate("weighted", items, annotators, labels, n_items=3, n_annotators=3, n_classes=2, gold=gold)
    assert result.labels[2] == 0
    # uniform prior: posterior = softmax of weighted votes
    w = np.log(acc / (1 - acc))
    expected = 1 / (1 + np.exp(w[0] - w[1]))
    assert result.confidence[2] == pytest.approx(expected, abs=1e-5)


def test_weighted_accepts_given_accuracies() -> None:
    items, annotators, labels = _answers([(0, 0, 0), (0, 1, 1), (0, 2, 1)])
    result = aggregate(
        "weighted", items, annotators, labels, n_items=1, n_annotators=3, n_classes=2,
        accuracies=np.array([0.99, 0.6, 0.6]),
    )
    assert result.labels[0] == 0  # one expert outweighs two weak annotators


def test_method_names_and_input_checks() -> None:
    assert method_name("Dawid-Skene") == "dawid_skene" and method_name("one-coin") == "one_coin"
    with pytest.raises(ValueError, match="unknown method"):
        method_name("glad")
    with pytest.raises(ValueError, match="labels code 3"):
        aggregate("majority", [0], [0], [3], n_items=1, n_annotators=1, n_classes=3)
    with pytest.raises(ValueError, match="differ in length"):
        aggregate("majority", [0, 0], [0], [0], n_items=1, n_annotators=1, n_classes=1)
    with pytest.raises(ValueError, match="gold"):
        aggregate("dawid_skene", [0], [0], [0], n_items=1, n_annotators=1, n_classes=2, gold=np.array([5]))


def test_expected_calibration_error_by_hand() -> None:
    conf = np.array([0.9, 0.9, 0.6, 0.6])
    hit = np.array([True, False, True, True])
    # bin 9: accuracy 0.5 vs 0.9 on half the decisions; bin 6: 1.0 vs 0.6 on the other half
    assert expected_calibration_error(conf, hit) == pytest.approx(0.4)
    assert expected_calibration_error(np.array([1.0]), np.array([True])) == 0.0


def test_encode_sorts_codes_and_maps_gold() -> None:
    enc = encode(items=["b", "a", "b"], annotators=["x", "y", "x"], labels=["dog", "cat", "cat"])
    assert enc.label_names.tolist() == ["cat", "dog"] and enc.labels.tolist() == [1, 0, 0]
    assert enc.item_names.tolist() == ["a", "b"] and enc.items.tolist() == [1, 0, 1]
    assert enc.encode_gold({"a": "dog", "zzz": "cat"}).tolist() == [1, -1]
    fixed = encode(items=["i"], annotators=["x"], labels=["dog"], label_names=["dog", "cat"])
    assert fixed.labels.tolist() == [0] and fixed.n_classes == 2
    with pytest.raises(ValueError, match="not one of label_names"):
        encode(items=["i"], annotators=["x"], labels=["cow"], label_names=["dog", "cat"])


def test_free_text_and_multiple_choice_become_categories() -> None:
    texts = normalize_text(["  @Alice   Smith", "alice smith ", "Bob"])
    assert texts.tolist() == ["alice smith", "alice smith", "bob"]
    assert normalize_text(["  @X  "], ops=["strip_at"]).tolist() == ["  @X  "]  # '@' not leading
    assert normalize_text(["@X  y"], ops=["strip_at", "collapse_whitespace"]).tolist() == ["X y"]
    with pytest.raises(ValueError, match="unknown text operation"):
        normalize_text(["x"], ops=["stem"])
    enc = encode(items=["q"] * 3, annotators=["a", "b", "c"], labels=texts)
    result = aggregate("majority", **enc.arrays())
    assert enc.label_names[result.labels[0]] == "alice smith"
    assert multichoice_key(["b", "a", "a"]) == multichoice_key(("a", "b")) != multichoice_key(["a"])


def test_free_text_with_item_local_codes() -> None:
    """Thousands of distinct texts overall, but only a few per item: the per-item tables stay
    K = (most distinct texts on one item) wide."""
    items, annotators, texts = [], [], []
    for i in range(2000):
        answer = f"City {i}"
        for a, text in enumerate([answer, f"  @city   {i} ", f"typo{i}", answer.upper()]):
            items.append(f"q{i:04d}")
            annotators.append(f"w{(i + a) % 7}")
            texts.append(text)
    enc = encode_open(items=items, annotators=annotators, texts=texts)
    assert enc.n_classes == 2  # "city i" and "typoi" per item
    for method, options in [("majority", {"uniform_prior": True}), ("one_coin", {"uniform_prior": True}), ("weighted", {"accuracies": np.full(7, 0.8)})]:
        result = aggregate(method, **enc.arrays(), **options)
        got = enc.label_texts(result.labels)
        assert got[0] == "city 0" and got[1999] == "city 1999", method
        assert (result.n_answers == 4).all()
    assert enc.label_texts(np.array([-1, 1]))[0] is None
    assert enc.label_texts(np.array([-1, 1]))[1] == "typo1"
