"""Dawid-Skene EM (full confusion matrices) and its one-coin variant.

Both are fitted by EM on the same sparse layout: an ``(n_items, n_annotators * K)`` matrix ``C``
whose entry ``(i, a*K + l)`` counts how often annotator ``a`` gave label ``l`` on item ``i``
(repeated answers count, as in crowd-kit). One EM iteration is then two sparse products:

* E-step: ``log_post = log prior + C @ L`` where ``L[a*K + l, t] = log confusion[a, t, l]``;
* M-step: ``expected[a*K + l, t] = (C.T @ post)[a*K + l, t]``, i.e. the expected number of
  times ``a`` said ``l`` when the truth was ``t``.

Estimates are MAP with additive (Dirichlet) smoothing, which keeps every probability positive
and makes the objective a proper posterior, so EM increases it monotonically; EM stops when the
objective per answer improves by less than ``tol`` or after ``max_iter`` iterations.
Gold items are clamped to their known label after every E-step.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import (
    AggregationResult,
    LOG_TIE_TOL,
    check_answers,
    check_gold,
    chosen_confidence,
    label_totals,
    log_odds_weights,
    log_softmax_rows,
    pick_labels,
    vote_counts,
)


def _clamp_gold(post: np.ndarray, gold: np.ndarray | None) -> None:
    """Overwrite the rows of gold items with one-hot rows of their gold label (in place)."""
    if gold is None:
        return
    known = np.flatnonzero(gold >= 0)
    post[known] = 0.0
    post[known, gold[known]] = 1.0


def _initial_posteriors(counts: np.ndarray, n_answers: np.ndarray) -> np.ndarray:
    """Majority-vote start: each item's vote shares (uniform for unanswered items)."""
    k = counts.shape[1]
    post = np.full(counts.shape, 1.0 / k)
    answered = n_answers > 0
    post[answered] = counts[answered] / n_answers[answered, None]
    return post


def _class_prior(post: np.ndarray, answered: np.ndarray, smoothing: float) -> np.ndarray:
    """MAP class prior from the answered items' posteriors with additive smoothing."""
    mass = answered.astype(np.float64) @ post + smoothing
    return mass / mass.sum()


def confusions_from_posteriors(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    post: np.ndarray,
    n_annotators: int,
    smoothing: float,
) -> np.ndarray:
    """One M-step: ``(n_annotators, K, K)`` confusion matrices (rows = true class, columns =
    given label) from per-item posteriors, with ``smoothing`` added to every cell."""
    k = post.shape[1]
    group = annotators * k + labels
    expected = np.stack(
        [np.bincount(group, weights=post[items, t], minlength=n_annotators * k) for t in range(k)],
        axis=1,
    ).reshape(n_annotators, k, k).transpose(0, 2, 1) + smoothing
    return expected / expected.sum(axis=2, keepdims=True)


def answer_log_likelihood(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    log_conf: np.ndarray,
    n_items: int,
) -> np.ndarray:
    """``(n_items, K)`` table of ``sum over an item's answers of log_conf[a, t, l]`` per truth t.

    ``log_conf`` is indexed by the codes in ``annotators``; pass quantized values (see
    :func:`labeling.aggregation.base.quantize`) to get order-independent exact sums.
    """
    per_answer = log_conf[annotators, :, labels]
    return np.stack(
        [np.bincount(items, weights=per_answer[:, t], minlength=n_items) for t in range(log_conf.shape[1])],
        axis=1,
    )


def _finish(
    method: str,
    post: np.ndarray,
    counts: np.ndarray,
    labels_given: np.ndarray,
    gold: np.ndarray | None,
    **extra: object,
) -> AggregationResult:
    """Pick labels from posteriors and pack the result.

    Labels whose log-posterior is within :data:`LOG_TIE_TOL` of the best are tied; the tie goes to
    the label with more votes, then to the label given more often in the batch, then to the
    lowest code.
    """
    n_classes = counts.shape[1]
    n_answers = counts.sum(axis=1)
    answered = n_answers > 0
    if gold is not None:
        answered = answered | (gold >= 0)
    log_post = np.log(np.maximum(post, np.finfo(float).tiny))
    totals = label_totals(labels_given, n_classes)
    chosen, tied, level = pick_labels([log_post, counts, totals[None, :]], answered, LOG_TIE_TOL)
    return AggregationResult(
        method=method,
        labels=chosen,
        confidence=chosen_confidence(post, chosen),
        posteriors=post,
        tied=tied,
        tie_level=level,
        counts=counts,
        n_answers=n_answers,
        **extra,  # type: ignore[arg-type]
    )


def dawid_skene(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    gold: np.ndarray | None = None,
    smoothing: float = 0.1,
    prior_smoothing: float = 1.0,
    tol: float = 1e-7,
    max_iter: int = 100,
    min_answers_per_cell: float = 2.0,
) -> AggregationResult:
    """Dawid-Skene EM with a full ``K x K`` confusion matrix per annotator.

    A ``K x K`` confusion matrix has ``K (K - 1)`` free parameters; an annotator with fewer than
    ``min_answers_per_cell * K**2`` answers cannot pin them down, and EM then overfits to them.
    Such annotators share one pooled confusion matrix (reported in each of their rows of
    ``confusions``); everyone else gets their own. Set ``min_answers_per_cell=0`` for the
    textbook model. The choice depends only on answer counts, so it is order independent.

    Args:
        items, annotators, labels: one entry per answer (integer codes).
        n_items, n_annotators, n_classes: sizes of the three code spaces.
        gold: per-item known label, -1 where unknown; gold items are clamped to a one-hot
            posterior after every E-step (and in the majority-vote start).
        smoothing: Dirichlet pseudo-count added to every cell of every confusion row.
        prior_smoothing: pseudo-count added to every class of the class prior.
        tol: stop when the MAP objective per answer improves by less than this.
        max_iter: iteration cap.
        min_answers_per_cell: pooling threshold, see above.

    Returns:
        An :class:`AggregationResult` with ``posteriors``, ``confusions``
        (``[a, true, given]``), ``priors``, ``accuracies`` (``sum_t prior[t] confusion[a,t,t]``),
        ``n_iter`` and ``converged``. Labels are posterior argmaxes; see :func:`_finish` for
        ties.
    """
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    gold = check_gold(gold, n_items, n_classes)
    k = n_classes
    counts = vote_counts(items, labels, n_items, k)
    n_answers = counts.sum(axis=1)
    answered = n_answers > 0
    per_annotator = np.bincount(annotators, minlength=n_annotators)
    sparse = per_annotator < min_answers_per_cell * k * k
    # slot of each annotator's confusion matrix: own slot, or the shared last one
    slot = np.where(sparse, n_annotators, np.arange(n_annotators))
    n_slots = n_annotators + 1
    cols = slot[annotators] * k + labels
    c = sp.csr_matrix((np.ones(items.size), (items, cols)), shape=(n_items, n_slots * k))
    c.sum_duplicates()
    ct = c.T.tocsr()

    post = _initial_posteriors(counts, n_answers)
    _clamp_gold(post, gold)
    n_obs = max(items.size, 1)
    objective = -np.inf
    converged = False
    n_iter = 0
    confusions = np.full((n_slots, k, k), 1.0 / k)
    prior = np.full(k, 1.0 / k)
    while n_iter < max_iter:
        n_iter += 1
        # M-step
        expected = (ct @ post).reshape(n_slots, k, k).transpose(0, 2, 1) + smoothing
        confusions = expected / expected.sum(axis=2, keepdims=True)
        prior = _class_prior(post, answered, prior_smoothing)
        log_conf = np.log(confusions)
        # E-step
        table = log_conf.transpose(0, 2, 1).reshape(n_slots * k, k)
        scores = c @ table + np.log(prior)
        log_post, lse = log_softmax_rows(scores)
        post = np.exp(log_post)
        _clamp_gold(post, gold)
        new_objective = (
            lse[answered].sum()
            + smoothing * log_conf.sum()
            + prior_smoothing * np.log(prior).sum()
        ) / n_obs
        if new_objective - objective < tol:
            converged = True
            break
        objective = new_objective
    return _finish(
        "dawid_skene",
        post,
        counts,
        labels,
        gold,
        accuracies=np.diagonal(confusions[slot], axis1=1, axis2=2) @ prior,
        confusions=confusions[slot],
        priors=prior,
        n_iter=n_iter,
        converged=converged,
    )


def one_coin(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    gold: np.ndarray | None = None,
    skill_prior: tuple[float, float] = (2.0, 1.0),
    prior_smoothing: float = 1.0,
    tol: float = 1e-7,
    max_iter: int = 100,
    uniform_prior: bool = False,
) -> AggregationResult:
    """One-coin Dawid-Skene: one accuracy ``p_a`` per annotator, errors uniform over K-1 labels.

    EM as in :func:`dawid_skene`; the M-step sets
    ``p_a = (expected right answers + alpha - 1) / (answers + alpha + beta - 2)`` for the Beta
    ``skill_prior = (alpha, beta)`` (default Beta(2, 1): a mild lean to better than chance), and
    the E-step adds each vote's log-odds weight to its label's score. ``confusions`` in the
    result is the implied ``K x K`` matrix per annotator. ``uniform_prior=True`` keeps the class
    prior uniform instead of learning it, for item-local label codes (free text from
    :func:`labeling.aggregation.encoding.encode_open`).
    """
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    gold = check_gold(gold, n_items, n_classes)
    k = n_classes
    alpha, beta = skill_prior
    counts = vote_counts(items, labels, n_items, k)
    n_answers = counts.sum(axis=1)
    answered = n_answers > 0
    flat = items * k + labels
    per_annotator = np.bincount(annotators, minlength=n_annotators).astype(np.float64)

    post = _initial_posteriors(counts, n_answers)
    _clamp_gold(post, gold)
    n_obs = max(items.size, 1)
    objective = -np.inf
    converged = False
    n_iter = 0
    skill = np.full(n_annotators, 0.5)
    prior = np.full(k, 1.0 / k)
    wrong_share = np.log(max(k - 1, 1))
    while n_iter < max_iter:
        n_iter += 1
        # M-step
        right = np.bincount(annotators, weights=post[items, labels], minlength=n_annotators)
        skill = np.clip(
            (right + alpha - 1.0) / (per_annotator + alpha + beta - 2.0), 1e-6, 1.0 - 1e-6
        )
        if not uniform_prior:
            prior = _class_prior(post, answered, prior_smoothing)
        # E-step
        weights = log_odds_weights(skill, k)
        scores = np.bincount(flat, weights=weights[annotators], minlength=n_items * k)
        scores = scores.reshape(n_items, k) + np.log(prior)
        log_post, lse = log_softmax_rows(scores)
        post = np.exp(log_post)
        _clamp_gold(post, gold)
        base = per_annotator @ (np.log1p(-skill) - wrong_share)
        new_objective = (
            lse[answered].sum()
            + base
            + ((alpha - 1.0) * np.log(skill) + (beta - 1.0) * np.log1p(-skill)).sum()
            + prior_smoothing * np.log(prior).sum()
        ) / n_obs
        if new_objective - objective < tol:
            converged = True
            break
        objective = new_objective
    if k == 1:
        confusions = np.ones((n_annotators, 1, 1))
    else:
        confusions = np.repeat(((1.0 - skill) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
        confusions[:, np.arange(k), np.arange(k)] = skill[:, None]
    return _finish(
        "one_coin",
        post,
        counts,
        labels,
        gold,
        accuracies=skill,
        confusions=confusions,
        priors=prior,
        n_iter=n_iter,
        converged=converged,
    )
