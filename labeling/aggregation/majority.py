"""Majority vote (with an explicit tie rule) and weighted majority vote.

Both report, as confidence, the posterior probability of the chosen label under a model of the
annotators: majority vote under one Dawid-Skene step from the vote shares, weighted vote under
the one-coin model (annotator ``a`` is right with probability ``p_a``, otherwise gives one of the
``K-1`` other labels uniformly), where the log-posterior of label ``c`` is the sum of the log-odds
weights ``w_a = log(p_a (K-1) / (1-p_a))`` of its votes, plus a constant.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from . import native
from .base import (
    AggregationResult,
    check_answers,
    check_gold,
    chosen_confidence,
    label_totals,
    log_odds_weights,
    pick_labels,
    quantize,
    softmax_rows,
    vote_counts,
)
from .dawid_skene import dawid_skene


def weighted_votes(
    items: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_items: int, n_classes: int
) -> np.ndarray:
    """Sum of per-answer ``weights`` per (item, label), as an ``(n_items, K)`` float table."""
    flat = np.bincount(items * n_classes + labels, weights=weights, minlength=n_items * n_classes)
    return flat.reshape(n_items, n_classes)


def accuracies_from_gold(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    gold: np.ndarray,
    n_annotators: int,
    strength: float = 2.0,
) -> np.ndarray:
    """Per-annotator accuracy on gold items, shrunk toward the pooled gold accuracy.

    ``p_a = (right_a + strength * pooled) / (answered_gold_a + strength)``; annotators without
    gold answers get the pooled accuracy. ``gold`` is per item, -1 where unknown.
    """
    known = gold[items] >= 0
    right = known & (labels == gold[items])
    n_right = np.bincount(annotators, weights=right.astype(np.float64), minlength=n_annotators)
    n_known = np.bincount(annotators, weights=known.astype(np.float64), minlength=n_annotators)
    if n_known.sum() == 0:
        raise ValueError("no answer falls on a gold item; cannot estimate accuracies from gold")
    pooled = (n_right.sum() + 1.0) / (n_known.sum() + 2.0)
    return (n_right + strength * pooled) / (n_known + strength)


def accuracies_from_confusions(confusions: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Accuracy implied by confusion matrices: ``p_a = sum_t prior[t] * confusion[a, t, t]``."""
    diag = np.diagonal(confusions, axis1=1, axis2=2)
    return diag @ np.asarray(priors, dtype=np.float64)


#: Pseudo-count per confusion cell in majority vote's one-step reliability estimate.
MAJORITY_SMOOTHING = 0.5


def majority_vote(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    gold: np.ndarray | None = None,
    uniform_prior: bool = False,
) -> AggregationResult:
    """Plurality of votes per item, with an order- and naming-independent tie rule.

    The label with the most votes wins (repeated answers count as separate votes). Reliability
    is estimated with one Dawid-Skene step from the vote shares: each annotator's confusion
    matrix is fitted to the items' vote shares (``MAJORITY_SMOOTHING`` pseudo-counts per cell),
    and ``reliability[i, c]`` is the log-likelihood of item ``i``'s answers if its true label
    were ``c`` (per-answer terms quantized, so sums are exact). When several labels share the
    most votes, ``tied`` is set and the tie goes, in order, to:

    1. the label with the higher reliability (tie_level 1);
    2. the label with the higher class prior, i.e. mean vote share over the answered items
       plus one pseudo-count per label (tie_level 2);
    3. the lowest label code (tie_level 3; only when the data cannot tell the labels apart,
       and then the tied labels also have equal confidence).

    Confidence is the posterior of the chosen label under that one-step model: softmax of
    reliability plus log class prior. ``uniform_prior=True`` drops the class prior (and its tie
    key), for item-local label codes such as free text from
    :func:`labeling.aggregation.encoding.encode_open`. ``gold`` is accepted for a uniform
    interface and ignored: majority vote reports what the crowd said.
    """
    lib = native.active()
    if lib is not None:
        result = _majority_native(lib, items, annotators, labels, n_items, n_annotators, n_classes, gold,
                                  uniform_prior)
        if result is not None:
            return result
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    check_gold(gold, n_items, n_classes)
    k = n_classes
    # One per-answer scratch array serves twice: each answer's (item, label) cell for the vote
    # counts, then its (annotator, label) column in the incidence matrix below.
    cell = np.multiply(items, k, out=_pooled(items.size, np.int64))
    cell += labels
    counts = np.bincount(cell, minlength=n_items * k).reshape(n_items, k)
    n_answers = _column_sum(counts)
    answered = n_answers > 0
    # vote shares, a column at a time (the same divisions as counts / n_answers[:, None], which
    # broadcasts over a short last axis, several times slower)
    shares = _pooled(counts.size, np.float64).reshape(counts.shape)
    denominator = np.maximum(n_answers, 1)
    for t in range(k):
        np.divide(counts[:, t], denominator, out=shares[:, t])
    # Both passes over the answers go through one sparse incidence matrix, item x (annotator,
    # given label), each a single product in compiled code: the M-step sums the vote shares of the
    # items an annotator gave label l (in input order, as a bincount would), the E-step sums the
    # quantized log-likelihoods per item (exact, so order-free).
    group = np.multiply(annotators, k, out=cell)
    group += labels
    ones = _pooled(group.size, np.float64)
    ones.fill(1.0)
    incidence = _incidence(items, group, ones, n_answers, (n_items, n_annotators * k))
    expected = (incidence.T @ shares).reshape(n_annotators, k, k).transpose(0, 2, 1) + MAJORITY_SMOOTHING
    confusions = expected / expected.sum(axis=2, keepdims=True)  # (annotator, true, given)
    log_conf = quantize(np.log(confusions))
    reliability = incidence @ log_conf.transpose(0, 2, 1).reshape(n_annotators * k, k)
    del incidence, group, cell, ones
    if uniform_prior:
        prior = np.full(k, 1.0 / k)
    else:
        # rows without answers hold zero shares
        prior = (np.array([shares[:, t].sum() for t in range(k)]) + 1.0) / (answered.sum() + k)
    del shares
    log_prior = quantize(np.log(prior))
    chosen, tied, level = _plurality(counts, answered, [reliability, log_prior])
    for t in range(k):
        reliability[:, t] += log_prior[t]
    posteriors = _softmax_columns(reliability)  # in place
    return AggregationResult(
        method="majority",
        labels=chosen,
        confidence=_chosen_confidence(posteriors, chosen, answered),
        posteriors=posteriors,
        tied=tied,
        tie_level=level,
        counts=counts,
        n_answers=n_answers,
        accuracies=accuracies_from_confusions(confusions, prior),
        confusions=confusions,
        priors=prior,
    )


def _int64_codes(values: object) -> np.ndarray | None:
    """``values`` as a 1-d C-contiguous int64 array without copying what already is one (as
    :func:`labeling.aggregation.base.as_codes`, minus the range check), or None if it is not
    a 1-d array of integers."""
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        return None
    return np.ascontiguousarray(arr, dtype=np.int64)


def _record_shift(n_items: int, n_annotators: int, k: int) -> int | None:
    """Bits of the item code in majority vote's packed 32-bit answer records (item |
    (annotator * k + label) << shift), or None when the codes do not fit."""
    shift = max(n_items - 1, 0).bit_length()
    if shift < 32 and shift + max(n_annotators * k - 1, 0).bit_length() <= 32:
        return shift
    return None


def _majority_native(
    lib: object, items: object, annotators: object, labels: object,
    n_items: int, n_annotators: int, k: int, gold: np.ndarray | None, uniform_prior: bool,
) -> AggregationResult | None:
    """:func:`majority_vote` with its passes over the answers and its per-item loops in C
    (``labeling/aggregation/native``): the same operations in the same order, so the same bits
    (``tests/aggregation/test_native_reader.py``). NumPy keeps the per-annotator tables, ``log``,
    the class prior's sums and ``exp``. The codes' range is checked in the passes; None when
    anything is wrong with the input (the caller's checks then raise the usual error).
    """
    codes = [_int64_codes(values) for values in (items, annotators, labels)]
    if k < 1 or k > 256 or any(c is None for c in codes) or not codes[0].size == codes[1].size == codes[2].size:
        return None
    items, annotators, labels = codes
    n = items.size
    counts = _pooled(n_items * k, np.int64).reshape(n_items, k)
    n_answers = _pooled(n_items, np.int64)
    shares = _pooled(n_items * k, np.float64).reshape(n_items, k)
    best = _pooled(n_items, np.int64)
    chosen = _pooled(n_items, np.int64)
    tied = _pooled(n_items, np.bool_)
    sums = np.empty((n_annotators * k, k), dtype=np.float64)
    # Answers as packed records, item | (annotator * k + label) << shift in 32 bits, where they
    # fit: passes 2 and 3 then read 4 bytes per answer instead of 24; the same sums in the same
    # order either way.
    shift = _record_shift(n_items, n_annotators, k)
    record = None
    if shift is not None:
        record = _pooled(n, np.uint32)
        if lib.qn_vote_pass_packed(items.ctypes.data, annotators.ctypes.data, labels.ctypes.data, n, n_items,
                                   n_annotators, k, counts.ctypes.data, n_answers.ctypes.data, shares.ctypes.data,
                                   best.ctypes.data, chosen.ctypes.data, tied.ctypes.data, record.ctypes.data,
                                   shift):
            return None
        # M-step: per (annotator, given label), the vote shares of its items, summed in input order
        lib.qn_share_sums_packed(record.ctypes.data, n, shift, n_annotators, k, shares.ctypes.data, sums.ctypes.data)
    else:
        if lib.qn_vote_pass(items.ctypes.data, labels.ctypes.data, n, n_items, k, counts.ctypes.data,
                            n_answers.ctypes.data, shares.ctypes.data, best.ctypes.data, chosen.ctypes.data,
                            tied.ctypes.data):
            return None
        if lib.qn_share_sums(items.ctypes.data, annotators.ctypes.data, labels.ctypes.data, n, n_annotators, k,
                             shares.ctypes.data, sums.ctypes.data):
            return None
    check_gold(gold, n_items, k)
    answered = n_answers > 0
    expected = sums.reshape(n_annotators, k, k).transpose(0, 2, 1) + MAJORITY_SMOOTHING
    confusions = expected / expected.sum(axis=2, keepdims=True)  # (annotator, true, given)
    log_conf = quantize(np.log(confusions))
    # E-step: per item, the quantized log-likelihoods of its answers (exact sums)
    weights = np.ascontiguousarray(log_conf.transpose(0, 2, 1).reshape(n_annotators * k, k))
    reliability = _pooled(n_items * k, np.float64).reshape(n_items, k)
    if record is not None:
        lib.qn_weight_sums_packed(record.ctypes.data, n, shift, n_items, k, weights.ctypes.data,
                                  reliability.ctypes.data)
        del record
    else:
        lib.qn_weight_sums(items.ctypes.data, annotators.ctypes.data, labels.ctypes.data, n, n_items, k,
                           weights.ctypes.data, reliability.ctypes.data)
    if uniform_prior:
        prior = np.full(k, 1.0 / k)
    else:
        prior = (np.array([shares[:, t].sum() for t in range(k)]) + 1.0) / (answered.sum() + k)
    del shares
    log_prior = np.ascontiguousarray(quantize(np.log(prior)))
    level = _pooled(n_items, np.int8)
    lib.qn_break_ties(counts.ctypes.data, best.ctypes.data, tied.ctypes.data, n_items, k,
                      reliability.ctypes.data, log_prior.ctypes.data, chosen.ctypes.data, level.ctypes.data)
    lib.qn_softmax_shift(reliability.ctypes.data, n_items, k, log_prior.ctypes.data)
    np.exp(reliability, out=reliability)
    confidence = _pooled(n_items, np.float64)
    lib.qn_softmax_finish(reliability.ctypes.data, n_items, k, chosen.ctypes.data, confidence.ctypes.data)
    return AggregationResult(
        method="majority",
        labels=chosen,
        confidence=confidence,
        posteriors=reliability,
        tied=tied,
        tie_level=level,
        counts=counts,
        n_answers=n_answers,
        accuracies=accuracies_from_confusions(confusions, prior),
        confusions=confusions,
        priors=prior,
    )


def _incidence(
    items: np.ndarray, group: np.ndarray, ones: np.ndarray, n_answers: np.ndarray, shape: tuple[int, int]
) -> sp.sparray:
    """The item x (annotator, label) incidence matrix of the answers.

    Answers in item order (a file grouped by item) give its compressed rows as they stand, the
    row pointers being the running total of answers per item: no conversion, and the products
    then visit the answers in input order, as the coordinate form does.
    """
    if items.size > 1 and not (items[1:] >= items[:-1]).all():
        return sp.coo_array((ones, (items, group)), shape=shape)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(n_answers, out=indptr[1:])
    return sp.csr_array((ones, group, indptr), shape=shape)


def _pooled(size: int, dtype: type) -> np.ndarray:
    """An uninitialised writable 1-d array for per-answer scratch, from Arrow's memory pool.

    The pool (mimalloc or jemalloc) keeps freed pages mapped, so a long-running process that
    aggregates repeatedly does not page-fault on every fresh multi-megabyte array, as it does
    with the C library's allocator, which returns such arrays to the system when freed.
    """
    dt = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(size * dt.itemsize), dtype=dt, count=size)


def _column_sum(table: np.ndarray) -> np.ndarray:
    """Row sums of a narrow ``(n, K)`` table, one vector add per column (numpy's reductions
    along a short last axis are several times slower)."""
    total = table[:, 0].copy() if table.shape[1] else np.zeros(table.shape[0], dtype=table.dtype)
    for t in range(1, table.shape[1]):
        total += table[:, t]
    return total


def _softmax_columns(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of an ``(n, K)`` table, in place, with column-wise vector operations
    (the values of :func:`labeling.aggregation.base.softmax_rows` up to rounding)."""
    k = scores.shape[1]
    top = scores[:, 0].copy()
    for t in range(1, k):
        np.maximum(top, scores[:, t], out=top)
    # Shifted one below the row maximum: no exponent is exactly 0, a case the C library's exp
    # branches off for (unpredictably here: a third of the entries), which made it 40% slower.
    # The shift cancels in the ratio.
    top += 1.0
    for t in range(k):  # a strided column at a time: broadcasting over a short last axis is slower
        scores[:, t] -= top
    np.exp(scores, out=scores)
    total = _column_sum(scores)
    for t in range(k):
        scores[:, t] /= total
    return scores


def _plurality(
    counts: np.ndarray, answered: np.ndarray, tie_keys: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`labeling.aggregation.base.pick_labels` with ``[counts, *tie_keys]`` for a narrow
    ``(n, K)`` vote table, column by column; the tie keys are read only on the tied rows.

    Each tie key is an ``(n, K)`` table or a ``(K,)`` vector (the same for every row).
    """
    n, k = counts.shape
    best = counts[:, 0].copy()
    for t in range(1, k):
        np.maximum(best, counts[:, t], out=best)
    # The lowest label with the most votes, and how many labels have that many: arithmetic on
    # whole columns (masked assignments are several times slower). Rows without answers have
    # every label at the top (zero votes): their chosen is 0, made -1 at the end.
    chosen = np.zeros(n, dtype=np.int64)
    n_top = np.zeros(n, dtype=np.int8 if k < 128 else np.int64)
    at_top = np.empty(n, dtype=bool)
    step = np.empty(n, dtype=np.int64)
    for t in range(k - 1, -1, -1):
        np.equal(counts[:, t], best, out=at_top)
        n_top += at_top
        np.subtract(chosen, t, out=step)  # chosen = t where at_top
        step *= at_top
        chosen -= step
    del step
    tied = np.greater(n_top, 1, out=at_top)
    tied &= answered
    level = np.zeros(n, dtype=np.int8)
    rows = np.flatnonzero(tied)
    if rows.size:
        chosen[rows] = _break_ties(rows, counts, best, tie_keys, level)
    chosen += answered  # -1 on rows without answers
    chosen -= 1
    return chosen, tied, level


def _break_ties(
    rows: np.ndarray, counts: np.ndarray, best: np.ndarray, tie_keys: list[np.ndarray], level: np.ndarray
) -> np.ndarray:
    """Labels of the tied ``rows`` under the tie keys (sets their ``level``): one key at a time,
    on the rows it has not settled yet, one label column at a time (1-d gathers by flat index;
    the tables are C-ordered ``(n, K)``)."""
    k = counts.shape[1]
    cells = rows * k  # flat index of each open row's first cell
    top_votes = best[rows]
    flat_counts = counts.reshape(-1)
    candidates = [np.take(flat_counts, cells + t) == top_votes for t in range(k)]
    labels = np.empty(rows.size, dtype=np.int64)
    position = np.arange(rows.size)  # where each open row is in ``rows``
    for j, key in enumerate(tie_keys, start=1):
        if key.ndim == 2:
            flat_key = key.reshape(-1)
            values = [np.take(flat_key, cells + t) for t in range(k)]
        else:
            values = [key[t] for t in range(k)]
        top = np.full(cells.size, -np.inf)
        for t in range(k):
            np.maximum(top, np.where(candidates[t], values[t], -np.inf), out=top)
        left = np.zeros(cells.size, dtype=np.int64)
        for t in range(k):
            candidates[t] &= values[t] == top
            left += candidates[t]
        settled = left == 1
        if settled.any():
            done = position[settled]
            level[rows[done]] = j
            labels[done] = _lowest([c[settled] for c in candidates])
            open_ = ~settled
            position, cells = position[open_], cells[open_]
            candidates = [c[open_] for c in candidates]
            if not position.size:
                return labels
    level[rows[position]] = len(tie_keys) + 1
    labels[position] = _lowest(candidates)
    return labels


def _lowest(candidates: list[np.ndarray]) -> np.ndarray:
    """Per row, the lowest ``t`` with ``candidates[t]`` set (each row has at least one)."""
    k = len(candidates)
    lowest = np.full(candidates[0].size, k - 1, dtype=np.int64)
    for t in range(k - 2, -1, -1):
        lowest = np.where(candidates[t], t, lowest)
    return lowest


def _chosen_confidence(posteriors: np.ndarray, chosen: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """Posterior of each row's chosen label (0.0 for rows without answers)."""
    n, k = posteriors.shape
    confidence = np.empty(n, dtype=np.float64)
    column = np.maximum(chosen, 0)
    if k <= 32:  # np.choose takes at most 32 (numpy 1) or 64 (numpy 2) choices
        np.choose(column, [posteriors[:, t] for t in range(k)], out=confidence)
    else:
        column += np.arange(0, n * k, k)
        np.take(posteriors.reshape(-1), column, out=confidence)
    confidence *= answered
    return confidence


def weighted_majority(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    accuracies: np.ndarray | None = None,
    gold: np.ndarray | None = None,
    **ds_options: float,
) -> AggregationResult:
    """Weighted vote with log-odds weights ``log(p_a (K-1) / (1-p_a))``.

    Accuracies come from, in order of preference: the ``accuracies`` argument (e.g. from a
    previous Dawid-Skene run, see :func:`accuracies_from_confusions`); the gold items
    (:func:`accuracies_from_gold`), when ``gold`` knows any item; otherwise a Dawid-Skene run on
    the same answers (``ds_options`` are passed to it).

    The label with the highest weighted vote wins; exact ties (weights are quantized, so sums
    are exact) go to the label with more raw votes, then the more frequent label in the batch,
    then the lowest code. Confidence is the one-coin posterior with a uniform prior, i.e.
    ``softmax`` of the weighted votes.
    """
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    gold = check_gold(gold, n_items, n_classes)
    if accuracies is None:
        if gold is not None:
            accuracies = accuracies_from_gold(items, annotators, labels, gold, n_annotators)
        else:
            ds = dawid_skene(
                items, annotators, labels,
                n_items=n_items, n_annotators=n_annotators, n_classes=n_classes, **ds_options,
            )
            assert ds.confusions is not None and ds.priors is not None
            accuracies = accuracies_from_confusions(ds.confusions, ds.priors)
    accuracies = np.asarray(accuracies, dtype=np.float64)
    if accuracies.shape != (n_annotators,):
        raise ValueError(f"accuracies must have shape ({n_annotators},), got {accuracies.shape}")
    counts = vote_counts(items, labels, n_items, n_classes)
    n_answers = counts.sum(axis=1)
    weights = quantize(log_odds_weights(accuracies, n_classes))
    score = weighted_votes(items, labels, weights[annotators], n_items, n_classes)
    # Labels nobody chose score 0 like any other; a label with only negative-weight votes can
    # therefore lose to an unchosen one, which is what the one-coin model says.
    posteriors = softmax_rows(score.copy())
    answered = n_answers > 0
    totals = label_totals(labels, n_classes)
    chosen, tied, level = pick_labels([score, counts, totals[None, :]], answered)
    return AggregationResult(
        method="weighted",
        labels=chosen,
        confidence=chosen_confidence(posteriors, chosen),
        posteriors=posteriors,
        tied=tied,
        tie_level=level,
        counts=counts,
        n_answers=n_answers,
        accuracies=accuracies,
        priors=np.full(n_classes, 1.0 / n_classes),
    )
