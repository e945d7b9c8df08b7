"""Quorum rules and the per-item decision used by the live workflow.

A rule turns an item's current answers into a status:

* ``"accepted"``: the consensus label is final;
* ``"needs_more"``: ask for another answer;
* ``"no_consensus"``: stop; the rule can no longer be met within ``max_answers``.

The status is a pure function of the item's current answers (not of their history), so
recomputing it from scratch always gives the live value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .base import (
    check_answers,
    chosen_confidence,
    pick_labels,
    quantize,
    softmax_rows,
    vote_counts,
)
from .dawid_skene import answer_log_likelihood

RULE_KINDS = ("k_of_n", "escalate", "confidence")

#: Status codes used in arrays; ``STATUS_NAMES[code]`` is the string form.
ACCEPTED, NEEDS_MORE, NO_CONSENSUS = 0, 1, 2
STATUS_NAMES = ("accepted", "needs_more", "no_consensus")

#: Slack when comparing a posterior with a confidence target. :func:`decide_items` rounds every
#: per-answer log-likelihood to the 2**-20 grid (``base.quantize``), so with n answers a
#: difference of two labels' scores is off by at most ``(2n + 1) 2**-21`` and a posterior ``p``
#: by at most ``p (1 - p) (2n + 1) 2**-21``: under 1e-5 for any target up to 40 answers (for
#: targets of 0.8 or more, up to 65). A posterior that is exactly the target (e.g. two net
#: votes of 0.75-accurate annotators on two labels: 0.9) must be accepted however the rounding
#: falls; 1e-12 was below this error and refused it. The planner compares its exact posteriors
#: with the same slack.
CONFIDENCE_SLACK = 1e-5


@dataclass(frozen=True)
class QuorumRule:
    """When an item's consensus is final.

    * ``"k_of_n"``: accepted when the chosen (top) label has at least ``k`` votes; no consensus
      when no label can reach ``k`` within ``max_answers``.
    * ``"escalate"``: stage 1 is ``k`` of ``escalate_after`` (adaptive); once ``k`` is out of
      reach in stage 1, or more than ``escalate_after`` answers exist, stage 2 needs
      ``escalate_k`` votes (counting all answers) within ``max_answers``.
    * ``"confidence"``: accepted when the posterior of the leading label reaches
      ``confidence``; no consensus at ``max_answers`` answers otherwise. ``k`` is not used.

    No status other than ``needs_more`` is given before ``min_answers`` answers. A fixed rule
    ("always collect N answers, accept if the top label has K") is ``k_of_n`` with
    ``min_answers = max_answers = N``.
    """

    kind: str
    k: int
    max_answers: int
    min_answers: int = 1
    escalate_after: int | None = None
    escalate_k: int | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"rule kind must be one of {', '.join(RULE_KINDS)}, got {self.kind!r}")
        if self.max_answers < 1:
            raise ValueError(f"max_answers must be >= 1, got {self.max_answers}")
        if not 1 <= self.min_answers <= self.max_answers:
            raise ValueError(
                f"min_answers must be between 1 and max_answers ({self.max_answers}), got {self.min_answers}"
            )
        if self.kind == "confidence":
            if self.confidence is None or not 0.0 < self.confidence <= 1.0:
                raise ValueError(f"a confidence rule needs 0 < confidence <= 1, got {self.confidence}")
            return
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.kind == "k_of_n":
            if self.k > self.max_answers:
                raise ValueError(f"k ({self.k}) cannot exceed max_answers ({self.max_answers})")
            return
        if self.escalate_after is None or self.escalate_k is None:
            raise ValueError("an escalate rule needs escalate_after and escalate_k")
        if not self.k <= self.escalate_after < self.max_answers:
            raise ValueError(
                f"escalate needs k ({self.k}) <= escalate_after ({self.escalate_after}) "
                f"< max_answers ({self.max_answers})"
            )
        if not 1 <= self.escalate_k <= self.max_answers:
            raise ValueError(
                f"escalate_k ({self.escalate_k}) must be between 1 and max_answers ({self.max_answers})"
            )

    def __str__(self) -> str:
        """The rule in :func:`parse_rule` syntax (round-trips when representable)."""
        if self.kind == "confidence":
            return f"confidence:{self.confidence:g}/{self.max_answers}"
        if self.kind == "escalate":
            return f"escalate:{self.k}/{self.escalate_after}->{self.escalate_k}/{self.max_answers}"
        if self.min_answers == self.max_answers:
            return f"{self.k}/{self.max_answers}"
        return f"adaptive:{self.k}/{self.max_answers}"


_KN = r"\s*(\d+)\s*/\s*(\d+)\s*"
_RULE_FORMS = "'K/N', 'adaptive:K/N', 'escalate:K1/N1->K2/N2' or 'confidence:P/N'"


def parse_rule(text: str) -> QuorumRule:
    """Parse a rule string.

    * ``"K/N"``: fixed: collect N answers, accept when the top label has at least K;
    * ``"adaptive:K/N"``: stop as soon as a label has K votes or K is out of reach within N;
    * ``"escalate:K1/N1->K2/N2"``: adaptive K1 of N1, then (all answers counted) K2 of N2;
    * ``"confidence:P/N"``: accept when the leading label's posterior reaches P, at most N answers.

    Raises ValueError with a message naming the problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty rule; expected {_RULE_FORMS}")
    raw = text.strip()
    prefix, _, body = raw.partition(":") if ":" in raw else ("", "", raw)
    prefix = prefix.strip().lower()
    if prefix == "":
        m = re.fullmatch(_KN, body)
        if m:
            k, n = int(m[1]), int(m[2])
            _check_kn(k, n, raw)
            return QuorumRule("k_of_n", k=k, max_answers=n, min_answers=n)
    elif prefix == "adaptive":
        m = re.fullmatch(_KN, body)
        if m:
            k, n = int(m[1]), int(m[2])
            _check_kn(k, n, raw)
            return QuorumRule("k_of_n", k=k, max_answers=n)
    elif prefix == "escalate":
        m = re.fullmatch(_KN + r"->" + _KN, body)
        if m:
            k1, n1, k2, n2 = (int(g) for g in m.groups())
            _check_kn(k1, n1, raw)
            _check_kn(k2, n2, raw)
            if n2 <= n1:
                raise ValueError(f"in {raw!r} the second stage's N ({n2}) must exceed the first's ({n1})")
            return QuorumRule("escalate", k=k1, max_answers=n2, escalate_after=n1, escalate_k=k2)
    elif prefix == "confidence":
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*/\s*(\d+)\s*", body)
        if m:
            p, n = float(m[1]), int(m[2])
            if not 0.0 < p <= 1.0:
                raise ValueError(f"in {raw!r} the confidence must be in (0, 1], got {p:g}")
            if n < 1:
                raise ValueError(f"in {raw!r} N must be at least 1")
            return QuorumRule("confidence", k=1, max_answers=n, confidence=p)
    else:
        raise ValueError(f"unknown rule kind {prefix!r} in {raw!r}; expected {_RULE_FORMS}")
    raise ValueError(f"cannot parse rule {raw!r}; expected {_RULE_FORMS}")


def _check_kn(k: int, n: int, raw: str) -> None:
    if n < 1 or k < 1:
        raise ValueError(f"in {raw!r} K and N must be at least 1")
    if k > n:
        raise ValueError(f"in {raw!r} K ({k}) cannot exceed N ({n})")


def _accept_stop(rule: QuorumRule, n, top, chosen_votes, confidence, where, maximum):
    """The rule itself, once, for arrays (``where=np.where``, ``maximum=np.maximum``) and for one
    item's plain numbers (:func:`_pick`, :func:`max`): ``&`` and ``|`` mean the same on both.
    Returns (accept, stop); stop counts only where accept does not."""
    ready = n >= rule.min_answers
    if rule.kind == "confidence":
        if confidence is None:
            raise ValueError("a confidence rule needs the chosen label's confidence")
        accept = ready & (confidence >= rule.confidence - CONFIDENCE_SLACK)
        stop = ready & (n >= rule.max_answers)
    elif rule.kind == "k_of_n":
        accept = ready & (chosen_votes >= rule.k)
        hopeless = top + maximum(rule.max_answers - n, 0) < rule.k
        stop = ready & (hopeless | (n >= rule.max_answers))
    else:
        assert rule.escalate_after is not None and rule.escalate_k is not None
        escalated = (n > rule.escalate_after) | (top + (rule.escalate_after - n) < rule.k)
        accept = ready & (chosen_votes >= where(escalated, rule.escalate_k, rule.k))
        hopeless = top + maximum(rule.max_answers - n, 0) < rule.escalate_k
        stop = ready & escalated & (hopeless | (n >= rule.max_answers))
    return accept, stop


def _pick(condition, yes, no):
    return yes if condition else no


def quorum_status(
    rule: QuorumRule,
    n: np.ndarray,
    top: np.ndarray,
    chosen_votes: np.ndarray,
    confidence: np.ndarray | None = None,
) -> np.ndarray:
    """Vectorised status codes (:data:`ACCEPTED`, :data:`NEEDS_MORE`, :data:`NO_CONSENSUS`).

    Args:
        rule: the quorum rule.
        n: answers per item.
        top: highest vote count per item (any label).
        chosen_votes: votes for the chosen label (equals ``top`` for vote-based choices).
        confidence: posterior of the chosen label; required for ``"confidence"`` rules.
    """
    accept, stop = _accept_stop(rule, np.asarray(n), np.asarray(top), np.asarray(chosen_votes),
                                None if confidence is None else np.asarray(confidence), np.where, np.maximum)
    return np.where(accept, ACCEPTED, np.where(stop, NO_CONSENSUS, NEEDS_MORE)).astype(np.int8)


def status_of(rule: QuorumRule, n: int, top: int, chosen_votes: int, confidence: float | None = None) -> int:
    """:func:`quorum_status` for one item, with plain numbers (the same rule, see
    :func:`_accept_stop`)."""
    accept, stop = _accept_stop(rule, n, top, chosen_votes, confidence, _pick, max)
    return ACCEPTED if accept else NO_CONSENSUS if stop else NEEDS_MORE


@dataclass(frozen=True)
class Decision:
    """The live decision for one item (see :func:`decide_item`)."""

    label: int | None
    confidence: float
    status: str
    tied: bool
    counts: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class DecisionBatch:
    """Decisions for many items as arrays; ``decision(i)`` gives item ``i``'s :class:`Decision`."""

    labels: np.ndarray
    confidence: np.ndarray
    status: np.ndarray
    tied: np.ndarray
    counts: np.ndarray
    posteriors: np.ndarray

    @property
    def status_names(self) -> np.ndarray:
        """Status strings per item."""
        return np.asarray(STATUS_NAMES, dtype=object)[self.status]

    def decision(self, i: int) -> Decision:
        label = int(self.labels[i])
        return Decision(
            label=None if label < 0 else label,
            confidence=float(self.confidence[i]),
            status=STATUS_NAMES[int(self.status[i])],
            tied=bool(self.tied[i]),
            counts=tuple(int(x) for x in self.counts[i]),
        )


def _log_confusion_table(
    confusions: np.ndarray | None, n_classes: int, default_accuracy: float
) -> np.ndarray:
    """Quantized log confusion matrices with one extra last row: the one-coin default."""
    if not 0.0 < default_accuracy < 1.0:
        raise ValueError(f"default_accuracy must be in (0, 1), got {default_accuracy}")
    k = n_classes
    fallback = np.full((1, k, k), (1.0 - default_accuracy) / max(k - 1, 1))
    fallback[0, np.arange(k), np.arange(k)] = default_accuracy if k > 1 else 1.0
    if confusions is None:
        table = fallback
    else:
        conf = np.asarray(confusions, dtype=np.float64)
        if conf.ndim != 3 or conf.shape[1:] != (k, k):
            raise ValueError(f"confusions must have shape (n_annotators, {k}, {k}), got {conf.shape}")
        table = np.concatenate([conf, fallback])
    return quantize(np.log(np.maximum(table, 1e-300)))


def decide_items(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_classes: int,
    rule: QuorumRule,
    confusions: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    default_accuracy: float = 0.7,
) -> DecisionBatch:
    """Decide many items at once; item ``i`` gets exactly what :func:`decide_item` gives it.

    Model: ``confusions[a]`` (rows true class, columns given label) for annotator code ``a``;
    annotator codes outside ``[0, len(confusions))`` (e.g. -1 for someone new), and everyone
    when ``confusions`` is None, use the one-coin model with ``default_accuracy``. ``prior`` is
    the class prior (uniform when None). Per-answer log-likelihoods are quantized so the scores
    below are exact sums, independent of answer order.

    * ``reliability[i, c]`` = log-likelihood of item i's answers if its truth were c;
    * ``posteriors`` = softmax(reliability + log prior); confidence = posterior of the label.

    Label choice: for ``k_of_n`` and ``escalate``, the label with most votes; ties go to higher
    reliability, then higher prior, then the lowest code. For ``confidence``, the label with
    the highest posterior; ties go to more votes, then higher prior, then the lowest code.
    Items without answers get label -1, confidence 0.0 and status ``needs_more``.
    """
    table = _log_confusion_table(confusions, n_classes, default_accuracy)
    annotators_arr = np.asarray(annotators, dtype=np.int64)
    fallback = len(table) - 1
    rows = np.where((annotators_arr >= 0) & (annotators_arr < fallback), annotators_arr, fallback)
    it, rows, lb = check_answers(np.asarray(items), rows, labels, n_items, len(table), n_classes)
    counts = vote_counts(it, lb, n_items, n_classes)
    n = counts.sum(axis=1)
    answered = n > 0
    reliability = answer_log_likelihood(it, rows, lb, table, n_items)
    log_prior = np.asarray(_log_prior(prior, n_classes))
    score = reliability + log_prior
    posteriors = softmax_rows(score.copy())
    if rule.kind == "confidence":
        keys = [score, counts, log_prior[None, :]]
    else:
        keys = [counts, reliability, log_prior[None, :]]
    chosen, tied, _ = pick_labels(keys, answered)
    confidence = chosen_confidence(posteriors, chosen)
    chosen_votes = np.where(answered, counts[np.arange(n_items), np.maximum(chosen, 0)], 0)
    status = quorum_status(rule, n, counts.max(axis=1), chosen_votes, confidence)
    status[~answered] = NEEDS_MORE
    return DecisionBatch(
        labels=chosen,
        confidence=confidence,
        status=status,
        tied=tied,
        counts=counts,
        posteriors=posteriors,
    )


def log_table(confusions: np.ndarray | None, n_classes: int, default_accuracy: float = 0.7) -> list:
    """``table[a][t][l]``: the quantized log-probability that annotator code ``a`` gives label
    ``l`` when the truth is ``t``, as nested lists (what :func:`decide_items` builds as an
    array); the last entry is the one-coin default. Build it once per model and pass it to
    :func:`decide_item` as ``table``. Treat it as read-only (the default table is shared)."""
    if confusions is None:
        return _default_table(n_classes, default_accuracy)
    return _log_confusion_table(confusions, n_classes, default_accuracy).tolist()


@lru_cache(maxsize=256)
def _default_table(n_classes: int, default_accuracy: float) -> list:
    return _log_confusion_table(None, n_classes, default_accuracy).tolist()


def decide_item(
    labels: Sequence[int] | np.ndarray,
    annotators: Sequence[int] | np.ndarray,
    *,
    n_classes: int,
    rule: QuorumRule,
    confusions: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    default_accuracy: float = 0.7,
    table: list | None = None,
) -> Decision:
    """Decide one item from its answers (label codes and annotator codes, one per answer).

    Same model, label choice and status as :func:`decide_items`, in plain Python: the live
    workflow calls this once per answer, where the batch code's fifty numpy calls on arrays of
    a handful of numbers cost 25 times more. The per-answer log-likelihoods come from the same
    quantized table (``table``, from :func:`log_table`; built here from ``confusions`` and
    ``default_accuracy`` when not given), so vote counts, scores, label, tie flag and status
    are exactly the batch code's; the confidence is the same softmax with ``math.exp`` (it may
    differ from numpy's in the last bits). ``label`` is None when there are no answers.
    ``tests/aggregation/test_decide_item.py`` checks it against :func:`decide_items`.
    """
    k = n_classes
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if isinstance(annotators, np.ndarray):
        annotators = annotators.tolist()
    if len(labels) != len(annotators):
        raise ValueError(f"labels and annotators differ in length ({len(labels)}, {len(annotators)})")
    if table is None:
        table = log_table(confusions, k, default_accuracy)
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
    log_prior = _log_prior(prior, k)
    score = [r + p for r, p in zip(reliability, log_prior)]
    top_score = max(score)
    weights = [math.exp(x - top_score) for x in score]
    if rule.kind == "confidence":
        keys = (score, counts, log_prior)
    else:
        keys = (counts, reliability, log_prior)
    # As pick_labels: the candidates with the best primary key; each further key keeps those
    # with its maximum; the lowest code is the last resort.
    best = max(keys[0])
    candidates = [c for c in range(k) if keys[0][c] == best]
    tied = len(candidates) > 1
    for key in keys[1:]:
        if len(candidates) == 1:
            break
        top_key = max(key[c] for c in candidates)
        candidates = [c for c in candidates if key[c] == top_key]
    chosen = candidates[0]
    confidence = weights[chosen] / sum(weights)
    status = status_of(rule, n, max(counts), counts[chosen], confidence)
    return Decision(label=chosen, confidence=confidence, status=STATUS_NAMES[status], tied=tied,
                    counts=tuple(counts))


def _log_prior(prior: np.ndarray | None, k: int) -> list[float]:
    """The quantized log prior as :func:`decide_items` computes it (zeros when uniform)."""
    if prior is None:
        return [0.0] * k
    pr = np.asarray(prior, dtype=np.float64)
    if pr.shape != (k,) or (pr < 0).any() or pr.sum() <= 0:
        raise ValueError(f"prior must be {k} non-negative numbers with a positive sum")
    return quantize(np.log(np.maximum(pr / pr.sum(), 1e-300))).tolist()
