"""Annotator estimates for live decisions: Dawid-Skene EM with an empirical-Bayes prior
(``estimate_annotators``), its pieces, and item-local codes for free text."""

from __future__ import annotations

import time

import numpy as np
import pytest

from labeling.aggregation import QuorumRule, dawid_skene, decide_items
from labeling.aggregation.dawid_skene import (
    estimate_annotators,
    fit_accuracy_prior,
    fit_row_strength,
    item_local_codes,
)


def _crowd_answers(rng, n_items, k, acc, per_item, spammer=None):
    """One-coin crowd: annotator a right with acc[a], else a uniform wrong label (spammers uniform)."""
    pool = len(acc)
    spammer = np.zeros(pool, dtype=bool) if spammer is None else spammer
    truth = rng.integers(0, k, n_items)
    ann = np.argsort(rng.random((n_items, pool)), axis=1)[:, :per_item]
    right = (rng.random(ann.shape) < acc[ann]) & ~spammer[ann]
    wrong = (truth[:, None] + rng.integers(1, k, ann.shape)) % k
    labels = np.where(spammer[ann], rng.integers(0, k, ann.shape), np.where(right, truth[:, None], wrong))
    items = np.repeat(np.arange(n_items), per_item)
    return truth, items, ann.ravel(), labels.ravel()


def test_fit_accuracy_prior_recovers_the_crowd() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(12.0, 4.0, 3000)
    p[:300] = 0.2  # 10% spammers on 5 labels
    n = rng.integers(20, 200, 3000)
    prior = fit_accuracy_prior(rng.binomial(n, p), n, 5)
    assert prior.alpha / (prior.alpha + prior.beta) == pytest.approx(0.75, abs=0.01)
    assert prior.alpha + prior.beta == pytest.approx(16.0, rel=0.2)
    assert prior.chance_share == pytest.approx(0.1, abs=0.02) and prior.chance == 0.2
    # identical annotators: the strength goes to its cap, not to infinity
    prior = fit_accuracy_prior(np.full(50, 800.0), np.full(50, 1000.0), 2)
    assert prior.alpha / (prior.alpha + prior.beta) == pytest.approx(0.8, abs=1e-3)
    assert np.isfinite(prior.alpha + prior.beta) and prior.chance_share < 0.02
    assert fit_accuracy_prior(np.zeros(3), np.zeros(3), 2).mean == 0.5


def test_a_spammer_in_a_homogeneous_crowd_keeps_a_low_accuracy() -> None:
    # ten annotators at 0.8 make a narrow Beta; the chance component keeps the spammer's own
    # answers in charge of their estimate
    right = np.r_[np.full(10, 96.0), 28.0]
    answers = np.r_[np.full(10, 120.0), 68.0]
    prior = fit_accuracy_prior(right, answers, 3)
    post = prior.posterior_mean(right, answers)
    assert post[10] < 0.45 and np.allclose(post[:10], 0.8, atol=0.01)


def test_few_answers_are_trusted_less_than_many() -> None:
    # every item is gold, so the expected counts are exact; annotator 0 and 1 are right every
    # time, 0 on 10 answers, 1 on 400; the rest of the crowd is right 70% of the time
    rng = np.random.default_rng(2)
    k, n_items = 3, 2000
    truth = rng.integers(0, k, n_items)
    rows = []
    for a, (n, acc) in enumerate([(10, 1.0), (400, 1.0)] + [(200, 0.7)] * 20):
        its = rng.choice(n_items, n, replace=False)
        ok = rng.random(n) < acc
        rows.append((its, np.full(n, a), np.where(ok, truth[its], (truth[its] + 1) % k)))
    items, ann, labels = (np.concatenate(x) for x in zip(*rows))
    est = estimate_annotators(items, ann, labels, n_items=n_items, n_annotators=22, n_classes=k, gold=truth)
    mean = est.prior_accuracy
    assert 0.65 < mean < 0.8
    assert mean < est.accuracies[0] < est.accuracies[1] < 1.0
    # posterior mean of a Beta prior updated with 10 of 10 right
    a, b = est.accuracy_prior.alpha, est.accuracy_prior.beta
    assert est.accuracies[0] == pytest.approx((10 + a) / (10 + a + b), rel=1e-3)
    assert est.accuracies[1] > 0.97
    assert np.allclose(est.confusions.sum(axis=2), 1.0)


def test_spammers_are_not_pooled_with_the_crowd() -> None:
    # K=5, ~50 answers per annotator: textbook-with-pooling DS puts annotators under 2 x 25
    # answers into one shared matrix; here each keeps their own, shrunk toward the crowd
    rng = np.random.default_rng(3)
    pool, k = 100, 5
    spammer = np.zeros(pool, dtype=bool)
    spammer[:10] = True
    acc = 0.55 + 0.40 * rng.beta(2, 2, pool)
    _, items, ann, labels = _crowd_answers(rng, 1000, k, acc, 5, spammer)
    est = estimate_annotators(items, ann, labels, n_items=1000, n_annotators=pool, n_classes=k)
    assert est.accuracies[spammer].mean() < 0.35
    assert abs(est.accuracies[~spammer].mean() - acc[~spammer].mean()) < 0.03
    # errors are uniform in this crowd: rows are pulled hard toward one-coin matrices
    assert est.row_strength > 100


def test_systematic_confusions_keep_their_own_matrix() -> None:
    # a quarter of the crowd swaps labels 0 and 1 (answers 1 for 0 and 0 for 1)
    rng = np.random.default_rng(4)
    pool, k, n_items = 40, 3, 3000
    truth, items, ann, labels = _crowd_answers(rng, n_items, k, np.full(pool, 0.9), 5)
    swap = ann < 10
    t = truth[items]
    labels = np.where(swap & (t == 0), 1, np.where(swap & (t == 1), 0, labels))
    est = estimate_annotators(items, ann, labels, n_items=n_items, n_annotators=pool, n_classes=k)
    assert est.row_strength < 10
    assert est.confusions[:10, 0, 1].min() > 0.7 and est.confusions[10:, 0, 0].min() > 0.7


def test_fit_row_strength_limits() -> None:
    base = np.tile(np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]), (30, 1, 1))
    assert fit_row_strength(base * 300, base) > 1000  # rows exactly one-coin
    assert fit_row_strength(np.tile(np.eye(3)[[1, 0, 2]] * 100, (30, 1, 1)), base) == pytest.approx(0.3, rel=0.01)


def _posterior_accuracy(confusions, truth, items, ann, labels, n_items, k, target):
    rule = QuorumRule("confidence", k=1, max_answers=9, confidence=target)
    batch = decide_items(items, ann, labels, n_items=n_items, n_classes=k, rule=rule, confusions=confusions)
    accepted = batch.status == 0
    return (batch.labels[accepted] == truth[accepted]).mean(), accepted.mean()


def test_posteriors_from_thin_data_are_not_overconfident() -> None:
    """Estimates from ~50 answers per annotator, applied to fresh items with 3 answers each: labels
    accepted at 0.95 are right about 95% of the time; plug-in MAP matrices are overconfident."""
    rng = np.random.default_rng(5)
    pool, k = 100, 3
    spammer = np.zeros(pool, dtype=bool)
    spammer[:10] = True
    acc = 0.55 + 0.40 * rng.beta(2, 2, pool)
    _, items, ann, labels = _crowd_answers(rng, 1000, k, acc, 5, spammer)
    est = estimate_annotators(items, ann, labels, n_items=1000, n_annotators=pool, n_classes=k)
    ds = dawid_skene(items, ann, labels, n_items=1000, n_annotators=pool, n_classes=k)
    truth, items, ann, labels = _crowd_answers(rng, 30000, k, acc, 3, spammer)
    shrunk, _ = _posterior_accuracy(est.confusions, truth, items, ann, labels, 30000, k, 0.95)
    plug_in, _ = _posterior_accuracy(ds.confusions, truth, items, ann, labels, 30000, k, 0.95)
    assert shrunk > 0.95 - 0.005
    assert plug_in < shrunk - 0.01


def test_estimates_do_not_depend_on_answer_order() -> None:
    rng = np.random.default_rng(6)
    _, items, ann, labels = _crowd_answers(rng, 300, 3, 0.5 + 0.4 * rng.random(20), 4)
    first = estimate_annotators(items, ann, labels, n_items=300, n_annotators=20, n_classes=3)
    perm = rng.permutation(items.size)
    again = estimate_annotators(items[perm], ann[perm], labels[perm], n_items=300, n_annotators=20, n_classes=3)
    # equal up to EM's own tolerance (sums in another order take another path to the optimum)
    assert np.allclose(first.confusions, again.confusions, atol=1e-4)
    assert np.allclose(first.accuracies, again.accuracies, atol=1e-4)


def test_item_local_codes_by_hand() -> None:
    items = np.array([0, 0, 1, 1, 1, 0, 2])
    labels = np.array([7, 3, 9, 2, 9, 7, 5])
    codes, most = item_local_codes(items, labels, 4)
    assert codes.tolist() == [1, 0, 1, 0, 1, 1, 0]
    assert most == 2


def _free_text(rng, n_items, pool, per_item, acc):
    """Strings as project-wide sorted codes: value 0 on item i is its true text, others wrong and
    almost always unique; codes are (item, value) pairs numbered in a random global order."""
    ann = np.argsort(rng.random((n_items, pool)), axis=1)[:, :per_item]
    right = rng.random(ann.shape) < acc[ann]
    values = np.where(right, 0, 1 + np.arange(per_item)[None, :])
    items = np.repeat(np.arange(n_items), per_item)
    pair = items * (per_item + 1) + values.ravel()
    global_code = rng.permutation(n_items * (per_item + 1))  # names sort in an arbitrary order
    return items, ann.ravel(), global_code[pair], global_code[np.arange(n_items) * (per_item + 1)]


def test_free_text_estimates_use_item_local_codes() -> None:
    rng = np.random.default_rng(7)
    pool, n_items = 60, 2000
    acc = 0.5 + 0.45 * rng.random(pool)
    items, ann, codes, truth_codes = _free_text(rng, n_items, pool, 5, acc)
    n_global = int(codes.max()) + 2
    started = time.perf_counter()
    est = estimate_annotators(items, ann, codes, n_items=n_items, n_annotators=pool, n_classes=n_global,
                              model="one_coin", item_local=True, min_classes=20)
    assert time.perf_counter() - started < 2.0  # n_items x 20, not n_items x 12,000 distinct texts
    assert est.confusions is None and est.n_classes == 20 and est.posteriors.shape == (n_items, 20)
    assert np.corrcoef(est.accuracies, acc)[0, 1] > 0.9
    # renaming the texts (another global order) changes nothing
    perm = rng.permutation(n_global)
    again = estimate_annotators(items, ann, perm[codes], n_items=n_items, n_annotators=pool, n_classes=n_global,
                                model="one_coin", item_local=True, min_classes=20)
    assert np.allclose(est.accuracies, again.accuracies, atol=1e-4)
    # gold items (even with a text nobody gave) are clamped and sharpen the estimates
    gold = np.full(n_items, -1)
    gold[:200] = truth_codes[:200]
    gold[0] = n_global - 1  # a text no annotator gave on item 0
    with_gold = estimate_annotators(items, ann, codes, n_items=n_items, n_annotators=pool, n_classes=n_global,
                                    gold=gold, model="one_coin", item_local=True, min_classes=20)
    assert with_gold.posteriors[:200].max(axis=1).min() == 1.0
    assert np.abs(with_gold.accuracies - acc).mean() <= np.abs(est.accuracies - acc).mean() + 0.005


def test_single_class_and_input_checks() -> None:
    est = estimate_annotators(np.array([0, 1]), np.array([0, 1]), np.array([0, 0]), n_items=2, n_annotators=2,
                              n_classes=1)
    assert est.confusions.shape == (2, 1, 1) and np.allclose(est.confusions, 1.0)
    with pytest.raises(ValueError, match="model"):
        estimate_annotators(np.array([0]), np.array([0]), np.array([0]), n_items=1, n_annotators=1,
                            n_classes=2, model="two_coin")
