"""The decision for one item, in plain Python, for the live workflow (one call per answer).

:func:`labeling.aggregation.quorum.decide_item` runs the batch code on a batch of one: about
fifty numpy calls on arrays of a handful of numbers, where each call's fixed cost dwarfs the
arithmetic. :func:`decide_one` gives the same decision with plain floats: the per-answer
log-likelihoods come from the same quantized table (built by numpy, see
:func:`log_table`), so the reliability sums, vote counts, label choice, tie flag and status are
exactly the batch code's; the confidence is the same softmax computed with ``math.exp`` (it may
differ from numpy's in the last bit). ``tests/aggregation/test_live_decision.py`` checks both
against each other on random items for every rule kind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .quorum import CONFIDENCE_SLACK, STATUS_NAMES, ACCEPTED, NEEDS_MORE, NO_CONSENSUS, Decision, QuorumRule
from .quorum import _log_confusion_table


def log_table(confusions: np.ndarray | None, n_classes: int, default_accuracy: float) -> list:
    """``table[a][t][l]``: the quantized log-probability that annotator code ``a`` gives label
    ``l`` when the truth is ``t``, as nested lists; the last entry is the one-coin default
    (as :func:`decide_items` builds it). Treat it as read-only (the default table is shared)."""
    if confusions is None:
        return _default_table(n_classes, default_accuracy)
    return _log_confusion_table(confusions, n_classes, default_accuracy).tolist()


@lru_cache(maxsize=256)
def _default_table(n_classes: int, default_accuracy: float) -> list:
    return _log_confusion_table(None, n_classes, default_accuracy).tolist()


def decide_one(labels: Sequence[int], annotators: Sequence[int], *, n_classes: int, rule: QuorumRule,
               table: list) -> Decision:
    """One item's decision from its answers' label codes and annotator codes (codes outside
    ``[0, len(table) - 1)`` use the default model, the last entry of ``table``), with a
    uniform class prior: what ``decide_item(labels, annotators, ..., confusions, prior=None)``
    gives for the ``confusions`` that ``table`` was built from."""
    k = n_classes
    if len(labels) != len(annotators):
        raise ValueError(f"labels and annotators differ in length ({len(labels)}, {len(annotators)})")
    fallback = len(table) - 1
    counts = [0] * k
    reliability = [0.0] * k
    for label, annotator in zip(labels, annotators):
        if not 0 <= label < k:
            raise ValueError(f"labels code {label} is outside [0, {k})")
        counts[label] += 1
        rows = table[annotator if 0 <= annotator < fallback else fallback]
        for t in range(k):
            reliability[t] += rows[t][label]
    n = len(labels)
    if n == 0:
        return Decision(label=None, confidence=0.0, status=STATUS_NAMES[NEEDS_MORE], tied=False,
                        counts=tuple(counts))
    # The prior is uniform: its log is 0.0 for every label, so it neither moves the scores nor
    # settles a tie (the batch code's third key), and the lowest code is the last resort.
    top_score = max(reliability)
    weights = [math.exp(r - top_score) for r in reliability]
    total = sum(weights)
    if rule.kind == "confidence":
        keys = (reliability, counts)
    else:
        keys = (counts, reliability)
    best = max(keys[0])
    candidates = [c for c in range(k) if keys[0][c] == best]
    tied = len(candidates) > 1
    if tied:
        second = max(keys[1][c] for c in candidates)
        candidates = [c for c in candidates if keys[1][c] == second]
    chosen = candidates[0]
    confidence = weights[chosen] / total
    status = _status(rule, n, max(counts), counts[chosen], confidence)
    return Decision(label=chosen, confidence=confidence, status=STATUS_NAMES[status], tied=tied,
                    counts=tuple(counts))


def _status(rule: QuorumRule, n: int, top: int, chosen_votes: int, confidence: float) -> int:
    """:func:`labeling.aggregation.quorum.quorum_status` for one item."""
    ready = n >= rule.min_answers
    if rule.kind == "confidence":
        accept = ready and confidence >= rule.confidence - CONFIDENCE_SLACK
        stop = not accept and ready and n >= rule.max_answers
    elif rule.kind == "k_of_n":
        accept = ready and chosen_votes >= rule.k
        hopeless = top + max(rule.max_answers - n, 0) < rule.k
        stop = not accept and ready and (hopeless or n >= rule.max_answers)
    else:
        escalated = n > rule.escalate_after or top + (rule.escalate_after - n) < rule.k
        accept = ready and chosen_votes >= (rule.escalate_k if escalated else rule.k)
        hopeless = top + max(rule.max_answers - n, 0) < rule.escalate_k
        stop = not accept and ready and escalated and (hopeless or n >= rule.max_answers)
    return ACCEPTED if accept else NO_CONSENSUS if stop else NEEDS_MORE
