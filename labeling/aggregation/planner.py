"""Exact cost/quality of a quorum rule before any data exists.

Model: answers arrive one by one and independently; answer ``n`` is right with probability
``accuracy`` (or ``accuracy[n-1]`` for a per-position sequence; the last value repeats), and a
wrong answer is uniform over the ``K-1`` wrong labels. With ``n_classes="open"`` (free text)
wrong answers never coincide: each is a value of its own.

By symmetry only the *shape* of the vote table matters: the state is ``(c, parts)`` where ``c``
is the number of right answers and ``parts`` the non-zero wrong-label counts sorted in
decreasing order (an integer partition with at most ``K-1`` parts). The dynamic programme
walks these states answer by answer, applies :func:`labeling.aggregation.quorum.quorum_status`
to every state (the same code the live workflow uses) and accumulates the probability of
stopping accepted (right or wrong) or without consensus at each answer count. Ties for the top
label among identical annotators are settled by a rule that does not look at the truth, so the
right label wins a ``t``-way tie with probability ``1/t``.

The number of states is bounded by the partitions of at most ``N`` into at most ``K-1`` parts,
times ``N``; ``N = 15`` with any ``K`` takes a few milliseconds.

A mixture of annotators drawn independently for every answer behaves exactly like one annotator
of the mixture's mean accuracy under this model, so a list of accuracies is read as the
accuracy of the 1st, 2nd, ... answer (e.g. experts for the escalation stage).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base import log_odds_weights
from .quorum import ACCEPTED, NEEDS_MORE, NO_CONSENSUS, QuorumRule, parse_rule, quorum_status

State = tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class PlanResult:
    """What a rule costs and delivers per item.

    Attributes:
        rule: the rule in :func:`parse_rule` syntax.
        accuracy: the accuracy (or per-position accuracies) assumed.
        n_classes: K, or None for open (free-text) answers.
        p_accept: probability that the item ends accepted.
        p_correct_given_accept: probability that an accepted label is the true one.
        p_no_consensus: probability that the item ends without consensus (1 - p_accept).
        expected_answers: expected number of answers collected per item.
        answers_pmf: ``answers_pmf[n]`` = probability of stopping after exactly ``n`` answers.
    """

    rule: str
    accuracy: float | tuple[float, ...]
    n_classes: int | None
    p_accept: float
    p_correct_given_accept: float
    p_no_consensus: float
    expected_answers: float
    answers_pmf: tuple[float, ...]

    @property
    def p_correct(self) -> float:
        """Probability that the item ends accepted with the true label."""
        return self.p_accept * self.p_correct_given_accept

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (also includes ``p_correct``)."""
        return {
            "rule": self.rule,
            "accuracy": list(self.accuracy) if isinstance(self.accuracy, tuple) else self.accuracy,
            "classes": "open" if self.n_classes is None else self.n_classes,
            "p_accept": self.p_accept,
            "p_correct_given_accept": self.p_correct_given_accept,
            "p_correct": self.p_correct,
            "p_no_consensus": self.p_no_consensus,
            "expected_answers": self.expected_answers,
            "answers_pmf": list(self.answers_pmf),
        }


def _parse_classes(n_classes: int | str) -> int | None:
    if isinstance(n_classes, str):
        if n_classes.strip().lower() == "open":
            return None
        try:
            n_classes = int(n_classes)
        except ValueError:
            raise ValueError(f"classes must be an integer >= 2 or 'open', got {n_classes!r}") from None
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"classes must be an integer >= 2 or 'open', got {n_classes!r}")
    return int(n_classes)


def _parse_accuracy(accuracy: float | Sequence[float]) -> tuple[float, ...]:
    values = (accuracy,) if np.isscalar(accuracy) else tuple(accuracy)  # type: ignore[arg-type]
    if not values:
        raise ValueError("accuracy must be a number or a non-empty list of numbers")
    out = []
    for v in values:
        v = float(v)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"accuracy must be in [0, 1], got {v:g}")
        out.append(v)
    return tuple(out)


def _wrong_moves(parts: tuple[int, ...], k: int | None) -> list[tuple[tuple[int, ...], float]]:
    """Successor partitions after one wrong answer, with their probabilities."""
    if k is None:
        return [(parts + (1,), 1.0)]
    moves: list[tuple[tuple[int, ...], float]] = []
    wrong_labels = k - 1
    for size in sorted(set(parts), reverse=True):
        mult = parts.count(size)
        first = parts.index(size)
        grown = parts[:first] + (size + 1,) + parts[first + 1:]
        moves.append((grown, mult / wrong_labels))
    empty = wrong_labels - len(parts)
    if empty > 0:
        moves.append((parts + (1,), empty / wrong_labels))
    return moves


def plan(
    rule: QuorumRule | str,
    accuracy: float | Sequence[float],
    n_classes: int | str,
) -> PlanResult:
    """Exact ``p_accept``, ``p_correct_given_accept`` and ``expected_answers`` of a rule.

    Args:
        rule: a :class:`QuorumRule` or a string for :func:`parse_rule` (``"2/3"``,
            ``"adaptive:2/3"``, ``"escalate:2/3->3/5"``, ``"confidence:0.95/7"``).
        accuracy: probability that an answer is right; or one value per answer position.
        n_classes: number of labels K >= 2, or ``"open"`` for free text.

    ``confidence`` rules need a finite K and a single accuracy (the posterior is the one-coin
    posterior with a uniform prior, as :func:`labeling.aggregation.quorum.decide_item`
    computes it with ``default_accuracy=accuracy``).
    """
    rule_obj = parse_rule(rule) if isinstance(rule, str) else rule
    k = _parse_classes(n_classes)
    acc = _parse_accuracy(accuracy)
    weight = 0.0
    if rule_obj.kind == "confidence":
        if k is None:
            raise ValueError("confidence rules need a finite number of classes, not 'open'")
        if len(acc) != 1:
            raise ValueError("confidence rules need a single accuracy")
        if acc[0] <= 1.0 / k:
            raise ValueError(f"confidence rules need an accuracy above chance (1/{k})")
        weight = float(log_odds_weights(acc[0], k))

    n_max = rule_obj.max_answers
    active: dict[State, float] = {(0, ()): 1.0}
    pmf = [0.0] * (n_max + 1)
    p_accept = p_right = p_none = 0.0
    for n in range(1, n_max + 1):
        p = acc[min(n - 1, len(acc) - 1)]
        nxt: dict[State, float] = defaultdict(float)
        for (c, parts), prob in active.items():
            if p > 0.0:
                nxt[(c + 1, parts)] += prob * p
            if p < 1.0:
                for grown, share in _wrong_moves(parts, k):
                    nxt[(c, grown)] += prob * (1.0 - p) * share
        states = list(nxt)
        probs = np.fromiter((nxt[s] for s in states), float, len(states))
        right = np.fromiter((s[0] for s in states), np.int64, len(states))
        wrong_top = np.fromiter((s[1][0] if s[1] else 0 for s in states), np.int64, len(states))
        top = np.maximum(right, wrong_top)
        n_top = (right == top) + np.fromiter((s[1].count(t) for s, t in zip(states, top)), np.int64, len(states))
        right_share = np.where(right == top, 1.0 / n_top, 0.0)
        confidence = None
        if rule_obj.kind == "confidence":
            assert k is not None
            # posterior of a top label: 1 / sum_j exp(w (n_j - top)) over all K labels
            denom = np.fromiter(
                (
                    np.exp(weight * (np.array((s[0],) + s[1] + (0,) * (k - 1 - len(s[1]))) - t)).sum()
                    for s, t in zip(states, top)
                ),
                float,
                len(states),
            )
            confidence = 1.0 / denom
        status = quorum_status(rule_obj, np.full(len(states), n), top, top, confidence)
        done = status != NEEDS_MORE
        acc_mask = status == ACCEPTED
        p_accept += probs[acc_mask].sum()
        p_right += (probs * right_share)[acc_mask].sum()
        p_none += probs[status == NO_CONSENSUS].sum()
        pmf[n] = probs[done].sum()
        active = {s: q for s, q, d in zip(states, probs, done) if not d}
        if not active:
            break
    leftover = sum(active.values())
    if leftover > 1e-12:
        raise AssertionError(f"rule {rule_obj} left probability {leftover} undecided at max_answers")
    expected = float(np.dot(np.arange(n_max + 1), pmf))
    return PlanResult(
        rule=str(rule_obj),
        accuracy=acc[0] if len(acc) == 1 else acc,
        n_classes=k,
        p_accept=float(p_accept),
        p_correct_given_accept=float(p_right / p_accept) if p_accept > 0 else 0.0,
        p_no_consensus=float(p_none),
        expected_answers=expected,
        answers_pmf=tuple(float(x) for x in pmf),
    )
