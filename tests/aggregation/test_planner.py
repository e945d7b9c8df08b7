"""The exact planner against hand calculations and an independent Monte-Carlo simulation."""

from __future__ import annotations

import time

import numpy as np
import pytest

from labeling.aggregation import plan


def test_fixed_two_of_three_binary_by_hand() -> None:
    r = plan("2/3", 0.8, 2)
    assert r.p_accept == pytest.approx(1.0)  # three binary answers always hold a 2-majority
    assert r.p_correct_given_accept == pytest.approx(0.8**3 + 3 * 0.8**2 * 0.2)  # 0.896
    assert r.expected_answers == pytest.approx(3.0)


def test_adaptive_two_of_three_binary_by_hand() -> None:
    r = plan("adaptive:2/3", 0.8, 2)
    assert r.p_correct_given_accept == pytest.approx(0.896)
    assert r.expected_answers == pytest.approx(2 + 2 * 0.8 * 0.2)  # 2.32
    assert r.answers_pmf == pytest.approx((0.0, 0.0, 0.68, 0.32))


def test_open_answers_by_hand() -> None:
    # wrong free-text answers never coincide: accepted iff two right answers among three
    r = plan("adaptive:2/3", 0.8, "open")
    assert r.p_accept == pytest.approx(0.8**2 + 2 * 0.8 * 0.2 * 0.8)
    assert r.p_correct_given_accept == pytest.approx(1.0)
    assert r.expected_answers == pytest.approx(2 + (1 - 0.8**2))


def test_three_classes_two_of_three_by_hand() -> None:
    # K=3: wrong answers agree with probability 1/2
    p, q = 0.8, 0.2
    right = p**2 + 2 * p * q * p
    # accepted wrong: the first two are the same wrong label (q^2/2); or one right and one
    # wrong, then the third repeats that wrong label (2pq * q/2); or two different wrong labels,
    # then any wrong third answer repeats one of them ((q^2/2) * q)
    wrong = q * q / 2 + 2 * p * q * (q / 2) + (q * q / 2) * q
    r = plan("adaptive:2/3", p, 3)
    assert r.p_accept == pytest.approx(right + wrong)
    assert r.p_correct_given_accept == pytest.approx(right / (right + wrong))


def test_single_answer_and_per_position_accuracy() -> None:
    r = plan("1/1", 0.73, 5)
    assert (r.p_accept, r.p_correct_given_accept, r.expected_answers) == pytest.approx((1.0, 0.73, 1.0))
    # first answer from a 0.9 annotator, the rest from 0.6 ones
    r = plan("adaptive:2/3", [0.9, 0.6], 2)
    agree = 0.9 * 0.6 + 0.1 * 0.4
    assert r.expected_answers == pytest.approx(2 + (1 - agree))


def test_planner_errors() -> None:
    with pytest.raises(ValueError, match="classes"):
        plan("2/3", 0.8, 1)
    with pytest.raises(ValueError, match="classes"):
        plan("2/3", 0.8, "many")
    with pytest.raises(ValueError, match="accuracy"):
        plan("2/3", 1.2, 2)
    with pytest.raises(ValueError, match="finite number of classes"):
        plan("confidence:0.9/5", 0.8, "open")
    with pytest.raises(ValueError, match="cannot parse rule"):
        plan("2 of 3", 0.8, 2)


def test_fast_for_ten_classes_and_fifteen_answers() -> None:
    start = time.perf_counter()
    for rule in ("adaptive:8/15", "8/15", "escalate:3/5->8/15", "confidence:0.99/15"):
        plan(rule, 0.7, 10)
    plan("adaptive:8/15", 0.7, 1000)
    plan("adaptive:8/15", 0.7, "open")
    assert time.perf_counter() - start < 1.0


def _simulate(rule: str, p: float, k: int | str, n_sims: int = 40_000, seed: int = 0) -> tuple[float, float, float]:
    """Straightforward simulation of the rules as the issue words them (independent of the
    planner's and quorum_status's code)."""
    rng = np.random.default_rng(seed)
    kind, _, body = rule.rpartition(":")
    if kind == "confidence":
        target, n_max = float(body.split("/")[0]), int(body.split("/")[1])
    else:
        stages = [tuple(map(int, s.split("/"))) for s in body.split("->")]
        n_max = stages[-1][1]
    open_answers = k == "open"
    cols = n_max + 1 if open_answers else int(k)
    counts = np.zeros((n_sims, cols), dtype=int)
    running = np.ones(n_sims, dtype=bool)
    accepted = np.zeros(n_sims, dtype=bool)
    correct = np.zeros(n_sims, dtype=bool)
    used = np.zeros(n_sims, dtype=int)
    stage2 = np.zeros(n_sims, dtype=bool)
    weight = np.log(p * (cols - 1) / (1 - p)) if kind == "confidence" else 0.0
    for n in range(1, n_max + 1):
        right = rng.random(n_sims) < p
        wrong = n if open_answers else rng.integers(1, cols, n_sims)  # label 0 is the truth
        label = np.where(right, 0, wrong)
        rows = np.flatnonzero(running)
        counts[rows, label[rows]] += 1
        used[rows] = n
        top = counts.max(axis=1)
        if kind == "confidence":
            post = np.exp(weight * (counts - top[:, None]))
            lead = 1.0 / post.sum(axis=1)
            accept_now = running & (lead >= target - 1e-12)
            stop_now = running & ~accept_now & (n == n_max)
        elif kind == "escalate":
            (k1, n1), (k2, n2) = stages
            stage2 |= running & ((top + (n1 - n) < k1) | (n > n1))
            need = np.where(stage2, k2, k1)
            accept_now = running & (top >= need)
            stop_now = running & ~accept_now & stage2 & ((top + (n2 - n) < k2) | (n == n2))
        else:
            kk, nn = stages[0]
            if kind == "adaptive":
                accept_now = running & (top >= kk)
                stop_now = running & ~accept_now & ((top + (nn - n) < kk) | (n == nn))
            else:  # fixed: decide once all N answers are in
                accept_now = running & (n == nn) & (top >= kk)
                stop_now = running & (n == nn) & ~accept_now
        # the accepted label: one of the top labels, tie broken blind to the truth
        rows = np.flatnonzero(accept_now)
        is_top = counts[rows] == top[rows, None]
        pick = np.argmax(is_top * rng.random(is_top.shape), axis=1)
        correct[rows] = pick == 0
        accepted |= accept_now
        running &= ~(accept_now | stop_now)
    assert not running.any()
    return accepted.mean(), correct[accepted].mean(), used.mean()


@pytest.mark.parametrize(
    ("rule", "p", "k"),
    [
        ("2/3", 0.8, 2),
        ("adaptive:2/3", 0.7, "open"),
        ("adaptive:7/9", 0.75, 4),
        ("7/9", 0.75, 4),
        ("2/4", 0.6, 3),  # fixed rule where two labels can both reach K
        ("escalate:2/3->3/5", 0.7, 3),
        ("escalate:2/3->3/5", 0.6, "open"),
        ("adaptive:3/5", 0.55, 10),
        ("confidence:0.9/6", 0.75, 3),
    ],
)
def test_planner_matches_monte_carlo(rule: str, p: float, k: int | str) -> None:
    exact = plan(rule, p, k)
    p_accept, p_cga, answers = _simulate(rule, p, k)
    assert exact.p_accept == pytest.approx(p_accept, abs=0.01)
    assert exact.p_correct_given_accept == pytest.approx(p_cga, abs=0.01)
    assert exact.expected_answers == pytest.approx(answers, rel=0.01)
    assert sum(exact.answers_pmf) == pytest.approx(1.0)
    assert exact.p_accept + exact.p_no_consensus == pytest.approx(1.0)
