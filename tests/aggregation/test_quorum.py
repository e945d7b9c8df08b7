"""Quorum rules and the live decision function, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.aggregation import QuorumRule, decide_item, decide_items, parse_rule


def _decide(labels: list[int], rule: str | QuorumRule, k: int = 3, **kw: object):
    r = parse_rule(rule) if isinstance(rule, str) else rule
    return decide_item(np.array(labels, dtype=int), np.arange(len(labels)), n_classes=k, rule=r, **kw)


@pytest.mark.parametrize(
    ("text", "kind", "k", "max_answers", "min_answers"),
    [
        ("2/3", "k_of_n", 2, 3, 3),
        ("adaptive:2/3", "k_of_n", 2, 3, 1),
        (" Adaptive: 7 / 9 ", "k_of_n", 7, 9, 1),
        ("escalate:2/3->3/5", "escalate", 2, 5, 1),
        ("confidence:0.95/7", "confidence", 1, 7, 1),
    ],
)
def test_parse_rule(text: str, kind: str, k: int, max_answers: int, min_answers: int) -> None:
    rule = parse_rule(text)
    assert (rule.kind, rule.k, rule.max_answers, rule.min_answers) == (kind, k, max_answers, min_answers)
    assert parse_rule(str(rule)) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty rule"),
        ("two of three", "cannot parse rule"),
        ("3/2", r"K \(3\) cannot exceed N \(2\)"),
        ("0/3", "at least 1"),
        ("majority:2/3", "unknown rule kind 'majority'"),
        ("escalate:2/3->3/3", "must exceed the first's"),
        ("escalate:2/3", "cannot parse rule"),
        ("confidence:1.5/3", r"confidence must be in \(0, 1\]"),
        ("adaptive:2/3/4", "cannot parse rule"),
    ],
)
def test_parse_rule_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rule(text)


def test_rule_validation() -> None:
    with pytest.raises(ValueError, match="min_answers"):
        QuorumRule("k_of_n", k=2, max_answers=3, min_answers=4)
    with pytest.raises(ValueError, match="escalate_after"):
        QuorumRule("escalate", k=2, max_answers=5)
    with pytest.raises(ValueError, match="rule kind"):
        QuorumRule("vote", k=2, max_answers=5)


def test_adaptive_k_of_n_transitions() -> None:
    assert _decide([], "adaptive:2/3").status == "needs_more"
    assert _decide([], "adaptive:2/3").label is None
    assert _decide([1], "adaptive:2/3").status == "needs_more"
    d = _decide([1, 1], "adaptive:2/3")
    assert (d.status, d.label, d.tied, d.counts) == ("accepted", 1, False, (0, 2, 0))
    d = _decide([1, 2], "adaptive:2/3")
    assert d.status == "needs_more" and d.tied
    assert _decide([1, 2, 1], "adaptive:2/3").status == "accepted"
    assert _decide([0, 1, 2], "adaptive:2/3").status == "no_consensus"
    # binary: 2 of 3 can never fail
    assert _decide([0, 1, 1], "adaptive:2/3", k=2).status == "accepted"


def test_no_consensus_as_soon_as_k_is_out_of_reach() -> None:
    # 3 of 5 with answers 0,1,2,0: top 2 + 1 remaining = 3 -> still possible
    assert _decide([0, 1, 2, 0], "adaptive:3/5").status == "needs_more"
    # 0,1,2,... with K=4 classes: 0,1,2,3 -> top 1 + 1 remaining < 3 -> stop early
    assert _decide([0, 1, 2, 3], "adaptive:3/5", k=4).status == "no_consensus"


def test_fixed_rule_waits_for_all_answers() -> None:
    assert _decide([1, 1], "2/3").status == "needs_more"
    assert _decide([1, 1, 0], "2/3").status == "accepted"
    assert _decide([0, 1, 2], "2/3").status == "no_consensus"


def test_min_answers_delays_every_final_status() -> None:
    rule = QuorumRule("k_of_n", k=1, max_answers=3, min_answers=2)
    assert _decide([0], rule).status == "needs_more"
    assert _decide([0, 1], rule).status == "accepted"


def test_escalate_transitions() -> None:
    rule = "escalate:2/3->3/5"
    assert _decide([0, 0], rule).status == "accepted"  # stage 1
    assert _decide([0, 1], rule).status == "needs_more"
    assert _decide([0, 1, 2], rule).status == "needs_more"  # escalated: stage 2 needs 3 of 5
    assert _decide([0, 1, 2, 0], rule).status == "needs_more"
    assert _decide([0, 1, 2, 0, 0], rule).status == "accepted"
    assert _decide([0, 1, 2, 0, 1], rule).status == "no_consensus"
    assert _decide([0, 1, 2, 1, 2], rule, k=3).status == "no_consensus"


def test_confidence_rule_with_one_coin_default() -> None:
    rule = "confidence:0.8/5"
    d = _decide([0], rule, k=2)
    assert d.status == "needs_more" and d.confidence == pytest.approx(0.7, abs=1e-5)
    d = _decide([0, 0], rule, k=2)  # 0.49 / (0.49 + 0.09)
    assert d.status == "accepted" and d.confidence == pytest.approx(0.49 / 0.58, abs=1e-5)
    d = _decide([0, 1, 0, 1, 0], rule, k=2)  # 3-2 -> posterior 0.7 at the maximum
    assert d.status == "no_consensus" and d.label == 0
    d = _decide([0, 1], rule, k=2)
    assert d.tied and d.label == 0 and d.confidence == pytest.approx(0.5)


def test_ties_follow_annotator_reliability_then_prior() -> None:
    good = np.full((2, 2), 0.05) + np.eye(2) * 0.9  # 95% accurate
    poor = np.full((2, 2), 0.4) + np.eye(2) * 0.2  # 60% accurate
    confusions = np.stack([poor, good])
    rule = parse_rule("adaptive:2/3")
    d = decide_item(np.array([0, 1]), np.array([0, 1]), n_classes=2, rule=rule, confusions=confusions)
    assert d.label == 1 and d.tied and d.status == "needs_more"
    d = decide_item(np.array([1, 0]), np.array([0, 1]), n_classes=2, rule=rule, confusions=confusions)
    assert d.label == 0
    # equal reliability -> the prior decides
    d = decide_item(np.array([0, 1]), np.array([1, 1]), n_classes=2, rule=rule, confusions=confusions,
                    prior=np.array([0.3, 0.7]))
    assert d.label == 1 and d.tied
    # an annotator code outside the matrices (-1, or too large) uses the default accuracy
    d = decide_item(np.array([0, 1]), np.array([-1, 7]), n_classes=2, rule=rule, confusions=confusions)
    assert d.label == 0 and d.confidence == pytest.approx(0.5)


def test_confidence_uses_the_confusion_matrices() -> None:
    expert = np.array([[[0.99, 0.01], [0.01, 0.99]]])
    d = decide_item(np.array([1]), np.array([0]), n_classes=2, rule=parse_rule("confidence:0.95/3"),
                    confusions=expert)
    assert d.status == "accepted" and d.label == 1 and d.confidence == pytest.approx(0.99, abs=1e-5)


@pytest.mark.parametrize("rule", ["adaptive:2/3", "3/5", "escalate:2/3->4/7", "confidence:0.9/6"])
def test_batch_equals_per_item(rule: str) -> None:
    rng = np.random.default_rng(4)
    n_items, k = 60, 3
    items = rng.integers(0, n_items, 250)
    annotators = rng.integers(-1, 12, 250)
    labels = rng.integers(0, k, 250)
    confusions = rng.dirichlet(np.ones(k), size=(10, k)) * 0.5 + np.eye(k) * 0.5
    prior = np.array([0.5, 0.3, 0.2])
    parsed = parse_rule(rule)
    batch = decide_items(items, annotators, labels, n_items=n_items, n_classes=k, rule=parsed,
                         confusions=confusions, prior=prior)
    for i in range(n_items):
        sel = items == i
        one = decide_item(labels[sel], annotators[sel], n_classes=k, rule=parsed, confusions=confusions, prior=prior)
        want = batch.decision(i)
        assert (want.label, want.status, want.tied, want.counts) == (one.label, one.status, one.tied, one.counts)
        assert want.confidence == pytest.approx(one.confidence, rel=1e-12, abs=1e-15)
        assert batch.status_names[i] == one.status


def test_decide_item_order_of_answers_does_not_matter() -> None:
    rng = np.random.default_rng(9)
    confusions = rng.dirichlet(np.ones(4), size=(6, 4))
    labels = rng.integers(0, 4, 7)
    annotators = rng.integers(0, 6, 7)
    rule = parse_rule("confidence:0.9/9")
    first = decide_item(labels, annotators, n_classes=4, rule=rule, confusions=confusions)
    for _ in range(10):
        perm = rng.permutation(7)
        assert decide_item(labels[perm], annotators[perm], n_classes=4, rule=rule, confusions=confusions) == first


def test_a_posterior_exactly_on_the_target_is_accepted() -> None:
    # two net votes of 0.75-accurate annotators on two labels: posterior 9/10 exactly; the
    # engine's quantised log-likelihoods land ~8e-8 below it, within CONFIDENCE_SLACK
    from labeling.aggregation.quorum import CONFIDENCE_SLACK

    rule = parse_rule("confidence:0.9/9")
    for labels in ([0, 0], [0, 0, 0, 1], [1, 0, 1, 0, 0, 0]):
        d = _decide(labels, rule, k=2, default_accuracy=0.75)
        assert d.confidence == pytest.approx(0.9, abs=1e-6) and d.status == "accepted"
    assert 1e-6 < CONFIDENCE_SLACK <= 1e-5
    # clearly below the target is not accepted: 0.75 vs 0.9
    assert _decide([0], rule, k=2, default_accuracy=0.75).status == "needs_more"


def test_planner_and_engine_agree_on_a_target_met_exactly() -> None:
    from labeling.aggregation import plan

    rule = parse_rule("confidence:0.9/5")
    planned = plan(rule, 0.75, 2)
    # the planner accepts after 2 agreeing answers (posterior exactly 0.9), and so does the engine
    assert planned.answers_pmf[2] > 0.5
    assert _decide([1, 1], rule, k=2, default_accuracy=0.75).status == "accepted"
