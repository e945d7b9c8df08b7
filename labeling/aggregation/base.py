"""Shared building blocks: input checks, vote tables, exact tie-breaking, result type.

Everything works on parallel integer arrays ``items``, ``annotators``, ``labels`` (one entry per
answer, codes starting at 0) plus the sizes ``n_items``, ``n_annotators``, ``n_classes``.

Tie-breaking scores are built from *quantized* per-answer weights (multiples of
:data:`QUANTUM`), so that their per-item sums are exact in float64 and therefore do not depend on
the order in which answers are added up. That is what makes the tie rules independent of input
order (see :func:`pick_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Grid for tie-breaking scores: 2**-20 (about 1e-6). Sums of up to ~4e8 such weights of magnitude
#: below 20 stay exact integers times QUANTUM in float64, hence order independent.
QUANTUM = 2.0**-20

#: Accuracies are clipped to [ACC_EPS, 1 - ACC_EPS] before taking log-odds (|weight| <= ~14).
ACC_EPS = 1e-6

#: Two log-posteriors closer than this are treated as tied by the probabilistic methods.
LOG_TIE_TOL = 1e-9


def as_codes(values: np.ndarray | Sequence[int], name: str, size: int) -> np.ndarray:
    """Return ``values`` as an int64 array, checking every code is in ``[0, size)``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer codes, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    # one pass: read as unsigned, negative codes are above any size
    if arr.size and arr.view(np.uint64).max() >= size:
        bad = arr[(arr < 0) | (arr >= size)][0]
        raise ValueError(f"{name} code {bad} is outside [0, {size})")
    return arr


def check_answers(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    n_items: int,
    n_annotators: int,
    n_classes: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the three answer columns and return them as int64 arrays."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    it = as_codes(items, "items", n_items)
    an = as_codes(annotators, "annotators", n_annotators)
    lb = as_codes(labels, "labels", n_classes)
    if not (it.size == an.size == lb.size):
        raise ValueError(
            f"items, annotators and labels differ in length ({it.size}, {an.size}, {lb.size})"
        )
    return it, an, lb


def check_gold(gold: np.ndarray | None, n_items: int, n_classes: int) -> np.ndarray | None:
    """Validate a per-item gold array (-1 = unknown); return None when nothing is known."""
    if gold is None:
        return None
    g = np.asarray(gold).astype(np.int64, copy=False)
    if g.shape != (n_items,):
        raise ValueError(f"gold must have shape ({n_items},), got {g.shape}")
    if ((g < -1) | (g >= n_classes)).any():
        raise ValueError(f"gold codes must be -1 (unknown) or in [0, {n_classes})")
    return g if (g >= 0).any() else None


def vote_counts(items: np.ndarray, labels: np.ndarray, n_items: int, n_classes: int) -> np.ndarray:
    """Votes per (item, label) as an ``(n_items, n_classes)`` int64 table."""
    flat = np.bincount(items * n_classes + labels, minlength=n_items * n_classes)
    return flat.reshape(n_items, n_classes)


def quantize(x: np.ndarray | float) -> np.ndarray:
    """Round to the :data:`QUANTUM` grid so that sums of the result are exact."""
    return np.round(np.asarray(x, dtype=np.float64) / QUANTUM) * QUANTUM


def log_odds_weights(accuracy: np.ndarray | float, n_classes: int) -> np.ndarray:
    """Vote weight ``log(p (K-1) / (1-p))`` of an annotator with accuracy ``p``.

    This is the log-likelihood ratio of one vote under the one-coin model (right with
    probability ``p``, otherwise uniformly one of the ``K-1`` wrong labels).
    """
    p = np.clip(np.asarray(accuracy, dtype=np.float64), ACC_EPS, 1.0 - ACC_EPS)
    return np.log(p) + np.log(max(n_classes - 1, 1)) - np.log1p(-p)


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of log-scores (stable: shifts each row by its maximum)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def log_softmax_rows(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (log-posteriors, per-row log normaliser) of log-scores."""
    top = scores.max(axis=1, keepdims=True)
    lse = top + np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
    return scores - lse, lse[:, 0]


def pick_labels(
    keys: Sequence[np.ndarray],
    answered: np.ndarray,
    first_tol: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose one label per row by lexicographic comparison of ``keys``.

    ``keys[0]`` is the primary score (integer votes, or a log-posterior); labels within
    ``first_tol`` of a row's best primary score are the *tied* candidates. Each further key
    (arrays broadcastable to ``(n_rows, K)``) keeps only the candidates with its exact maximum.
    If several candidates survive every key, the lowest label code wins: with
    :func:`labeling.aggregation.encoding.encode` codes follow the sorted label names, so this
    last resort depends on naming only when the data cannot tell the survivors apart.

    Returns ``(labels, tied, tie_level)``: label ``-1`` for rows where ``answered`` is False;
    ``tied`` says the primary score was tied; ``tie_level`` is 0 when not tied, ``j`` when key
    ``j`` settled the tie, and ``len(keys)`` when the lowest-code rule had to decide.
    """
    primary = np.asarray(keys[0])
    n_rows, k = primary.shape
    best = primary.max(axis=1, keepdims=True)
    cand = primary >= best - first_tol
    n_cand = cand.sum(axis=1)
    tied = (n_cand > 1) & answered
    level = np.zeros(n_rows, dtype=np.int8)
    rows = np.flatnonzero(tied)
    if rows.size:
        sub = cand[rows]
        open_rows = np.ones(rows.size, dtype=bool)
        for j, key in enumerate(keys[1:], start=1):
            kv = np.broadcast_to(np.asarray(key, dtype=np.float64), (n_rows, k))[rows]
            masked = np.where(sub, kv, -np.inf)
            sub &= masked == masked.max(axis=1, keepdims=True)
            settled = open_rows & (sub.sum(axis=1) == 1)
            level[rows[settled]] = j
            open_rows &= ~settled
        level[rows[open_rows]] = len(keys)
        cand[rows] = sub
    labels = np.argmax(cand, axis=1).astype(np.int64)
    labels[~answered] = -1
    return labels, tied, level


@dataclass(frozen=True, eq=False)
class AggregationResult:
    """Consensus over a batch of items.

    Attributes:
        method: name of the method that produced it.
        labels: chosen label code per item, ``-1`` for items without answers.
        confidence: posterior probability of the chosen label (0.0 for items without answers).
        posteriors: ``(n_items, K)`` posterior over the true label (rows of unanswered items
            hold the class prior).
        tied: True where the method's primary score had a tie that a secondary rule settled.
        tie_level: 0 = no tie; ``j`` = settled by the j-th tie-break key of the method (see
            its docstring); the highest level means the lowest-code rule decided.
        counts: ``(n_items, K)`` integer votes per label (repeated answers count).
        n_answers: answers per item.
        accuracies: estimated per-annotator accuracy used by the method, if any.
        confusions: ``(n_annotators, K, K)`` per-annotator confusion matrices (rows = true
            class, columns = given label), for Dawid-Skene and one-coin.
        priors: class prior used by the method.
        n_iter: EM iterations run (iterative methods only).
        converged: whether EM stopped on the tolerance rather than the iteration cap.
    """

    method: str
    labels: np.ndarray
    confidence: np.ndarray
    posteriors: np.ndarray
    tied: np.ndarray
    tie_level: np.ndarray
    counts: np.ndarray
    n_answers: np.ndarray
    accuracies: np.ndarray | None = None
    confusions: np.ndarray | None = None
    priors: np.ndarray | None = None
    n_iter: int | None = None
    converged: bool | None = None


def chosen_confidence(posteriors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Posterior of each row's chosen label; 0.0 where the label is -1."""
    conf = np.take_along_axis(posteriors, np.maximum(labels, 0)[:, None], axis=1)[:, 0]
    return np.where(labels >= 0, conf, 0.0)


def label_totals(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """How often each label was given over the whole batch (an exact, order-free prior key)."""
    return np.bincount(labels, minlength=n_classes).astype(np.float64)
