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

from dataclasses import dataclass

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


# --- annotator estimates for live decisions -------------------------------------------------------
#
# The quorum engine multiplies, per item, each answer's probability under its annotator's confusion
# matrix. Plugging in point estimates fitted from a few dozen answers per annotator makes those
# products overconfident: a matrix estimated from 50 answers is trusted like one from 5,000. The
# estimates below are posterior means under a hierarchical prior fitted to the crowd itself
# (empirical Bayes), which is exactly the posterior predictive of one answer: an item has at most
# one answer per annotator, so integrating each annotator's uncertain matrix out of the item's
# likelihood gives the product of the posterior-mean matrices.

#: Bounds of the fitted prior strengths (pseudo-answers), so that degenerate crowds (one
#: annotator, everyone identical) give finite, usable estimates.
MIN_ROW_STRENGTH_PER_CLASS = 0.1
MAX_PRIOR_STRENGTH = 1e4


@dataclass(frozen=True, eq=False)
class AnnotatorEstimates:
    """Per-annotator estimates for live decisions (see :func:`estimate_annotators`).

    Attributes:
        confusions: ``(n_annotators, K, K)`` posterior-mean confusion matrices (rows = true class,
            columns = given label), or None for item-local codes (free text), where only
            ``accuracies`` mean anything.
        accuracies: posterior-mean probability of a right answer per annotator.
        answers: answers per annotator (gold answers included).
        accuracy_prior: the crowd's distribution of accuracies, fitted (:class:`AccuracyPrior`).
        row_strength: pseudo-answers with which each confusion row is pulled toward the
            annotator's one-coin matrix (``inf`` for the one-coin model).
        priors: class prior (uniform for item-local codes).
        posteriors: ``(n_items, K)`` posteriors of the items' true labels.
        n_classes: K used by the model (for item-local codes: the K the live decision uses).
        local_labels: the item-local label codes the model was fitted on (None for global codes).
    """

    confusions: np.ndarray | None
    accuracies: np.ndarray
    answers: np.ndarray
    accuracy_prior: AccuracyPrior
    row_strength: float
    priors: np.ndarray
    posteriors: np.ndarray
    n_classes: int
    n_iter: int
    converged: bool
    local_labels: np.ndarray | None = None

    @property
    def prior_accuracy(self) -> float:
        """Mean of the fitted accuracy prior: the best guess for an annotator with no answers."""
        return self.accuracy_prior.mean


@dataclass(frozen=True)
class AccuracyPrior:
    """The crowd's distribution of accuracies: with probability ``1 - chance_share`` an annotator's
    accuracy is drawn from Beta(``alpha``, ``beta``), otherwise they answer at about chance
    (Beta with mean ``chance`` = 1/K and :data:`CHANCE_STRENGTH` pseudo-answers): spammers.

    A single Beta fitted to a crowd of similar annotators and one spammer is narrow, and would
    pull the spammer almost all the way to the crowd; the chance component lets the spammer's own
    answers decide which group they belong to.
    """

    alpha: float
    beta: float
    chance_share: float
    chance: float

    def _components(self) -> list[tuple[float, float, float]]:
        c = CHANCE_STRENGTH
        out = [(1.0 - self.chance_share, self.alpha, self.beta)]
        if self.chance_share > 0:
            out.append((self.chance_share, self.chance * c, (1.0 - self.chance) * c))
        return out

    @property
    def mean(self) -> float:
        """Expected accuracy of an annotator nothing is known about."""
        return float(sum(w * a / (a + b) for w, a, b in self._components()))

    def log_marginal(self, right: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """Per annotator, log P(right of answers) up to the binomial coefficient."""
        from scipy.special import betaln, logsumexp

        parts = [np.log(w) + betaln(right + a, answers - right + b) - betaln(a, b)
                 for w, a, b in self._components() if w > 0]
        return logsumexp(np.stack(parts), axis=0)

    def posterior_mean(self, right: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """E[accuracy | right of answers] per annotator (counts may be fractional)."""
        from scipy.special import betaln, softmax

        comps = [(w, a, b) for w, a, b in self._components() if w > 0]
        logw = np.stack([np.log(w) + betaln(right + a, answers - right + b) - betaln(a, b) for w, a, b in comps])
        means = np.stack([(right + a) / (answers + a + b) for _, a, b in comps])
        return (softmax(logw, axis=0) * means).sum(axis=0)


#: Pseudo-answers of the chance component of :class:`AccuracyPrior` (Beta(10/K, 10 (K-1)/K)).
CHANCE_STRENGTH = 10.0


def fit_accuracy_prior(
    right: np.ndarray, answers: np.ndarray, n_classes: int, start: AccuracyPrior | None = None
) -> AccuracyPrior:
    """The :class:`AccuracyPrior` maximising the likelihood of ``right`` of ``answers`` per
    annotator (beta-binomial mixture; empirical Bayes). Counts may be fractional (expected right
    answers from EM posteriors); annotators without answers are ignored. ``alpha + beta`` is
    capped at :data:`MAX_PRIOR_STRENGTH`; with no answers at all the prior is Beta(1, 1).
    ``start`` (e.g. the previous EM iteration's fit) is where the search starts.
    """
    from scipy.optimize import minimize

    r = np.asarray(right, dtype=np.float64)
    n = np.asarray(answers, dtype=np.float64)
    keep = n > 0
    r, n = np.clip(r[keep], 0.0, n[keep]), n[keep]
    chance = 1.0 / max(n_classes, 1)
    if r.size == 0:
        return AccuracyPrior(1.0, 1.0, 0.0, chance)
    m = float(np.clip(r.sum() / n.sum(), 1e-3, 1 - 1e-3))
    with_chance = n_classes > 1

    lo = np.array([-6.0, -6.0, -12.0])
    hi = np.array([np.log(MAX_PRIOR_STRENGTH), np.log(MAX_PRIOR_STRENGTH), 12.0])

    def prior_of(x: np.ndarray) -> AccuracyPrior:
        x = np.clip(x, lo, hi)
        a, b = np.exp(x[:2])
        share = 1.0 / (1.0 + np.exp(-x[2])) if with_chance else 0.0
        return AccuracyPrior(float(a), float(b), float(share), chance)

    def nll(x: np.ndarray) -> float:
        return float(-prior_of(x).log_marginal(r, n).sum())

    if start is not None and start.chance == chance:
        share = min(max(start.chance_share, 1e-5), 1 - 1e-5)
        x0 = np.array([np.log(start.alpha), np.log(start.beta), np.log(share / (1 - share))])
    else:
        x0 = np.array([np.log(10.0 * m), np.log(10.0 * (1.0 - m)), -2.0])
    # three parameters: Nelder-Mead is cheap and needs no gradients
    res = minimize(nll, np.clip(x0, lo, hi), method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    fitted = prior_of(res.x)
    total = fitted.alpha + fitted.beta
    if total > MAX_PRIOR_STRENGTH:
        scale = MAX_PRIOR_STRENGTH / total
        fitted = AccuracyPrior(fitted.alpha * scale, fitted.beta * scale, fitted.chance_share, chance)
    return fitted


def _one_coin_matrices(accuracy: np.ndarray, k: int) -> np.ndarray:
    """``(n, K, K)`` matrices: ``accuracy`` on the diagonal, the rest spread evenly."""
    if k == 1:
        return np.ones((len(accuracy), 1, 1))
    mats = np.repeat(((1.0 - accuracy) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
    mats[:, np.arange(k), np.arange(k)] = accuracy[:, None]
    return mats


def fit_row_strength(expected: np.ndarray, base: np.ndarray) -> float:
    """Dirichlet strength ``s`` maximising the Dirichlet-multinomial likelihood of the confusion
    rows ``expected[a, t, :]`` around ``s * base[a, t, :]`` (the one-coin matrices).

    Large when annotators' errors look uniform (then a full matrix adds only noise), small when
    they have systematic confusions. Bounded to ``[0.1 K, MAX_PRIOR_STRENGTH]``.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import gammaln

    k = expected.shape[1]
    n = expected.sum(axis=2)
    base = np.clip(base, 1e-12, None)

    def nll(log_s: float) -> float:
        s = np.exp(log_s)
        c = s * base
        return float(-(gammaln(s) - gammaln(n + s) + (gammaln(expected + c) - gammaln(c)).sum(axis=2)).sum())

    lo, hi = np.log(MIN_ROW_STRENGTH_PER_CLASS * k), np.log(MAX_PRIOR_STRENGTH)
    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
    return float(np.exp(res.x))


def item_local_codes(items: np.ndarray, labels: np.ndarray, n_items: int) -> tuple[np.ndarray, int]:
    """Renumber labels per item: code c on item i = the c-th smallest distinct label on item i.

    For open label sets (free text, multiple-choice sets coded over a whole project) where a label
    means nothing across items. With globally sorted codes the local order is the sorted order of
    the item's own values, as the live decision numbers them. Returns the codes and the most
    distinct labels on one item.
    """
    items = np.asarray(items, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if items.size == 0:
        return labels.copy(), 0
    span = int(labels.max()) + 1
    pairs, inverse = np.unique(items * span + labels, return_inverse=True)
    pair_item = pairs // span
    first = np.searchsorted(pair_item, np.arange(n_items))
    codes = inverse - first[items]
    return codes.astype(np.int64), int(np.bincount(pair_item, minlength=n_items).max())


def estimate_annotators(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    gold: np.ndarray | None = None,
    model: str = "confusion",
    item_local: bool = False,
    min_classes: int = 1,
    row_strength: float | None = None,
    accuracy_prior: AccuracyPrior | None = None,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> AnnotatorEstimates:
    """Annotator estimates for live decisions: Dawid-Skene EM with an empirical-Bayes prior.

    Model, per annotator ``a``: an accuracy ``p_a`` drawn from the crowd's :class:`AccuracyPrior`
    (a Beta, plus a share of spammers at about chance); each confusion row ``t ~ Dirichlet(s * one_coin(p_a)[t])``, i.e. centred on
    "right with ``p_a``, errors uniform", with ``s`` pseudo-answers per row. EM alternates item
    posteriors (E-step, as :func:`dawid_skene`) with:

    * expected counts ``N[a, t, l]`` (how often ``a`` said ``l`` when the truth was ``t``);
    * the prior fitted to the annotators' expected right answers (beta-binomial mixture
      likelihood, :func:`fit_accuracy_prior`), unless ``accuracy_prior`` is given;
    * ``p_a`` = posterior-mean accuracy; within the Beta component
      ``(right_a + alpha) / (answers_a + alpha + beta)``: an annotator with 50 answers moves
      from the crowd's mean by ~50/(50 + alpha + beta) of the way, one with 5,000 answers almost
      all of it;
    * rows = ``(N[a, t] + s one_coin(p_a)[t]) / (n_{a,t} + s)``, with ``s`` fitted by
      :func:`fit_row_strength` unless ``row_strength`` is given: thin rows stay near the
      one-coin matrix, rows with many answers follow the annotator's own confusions.

    ``model="one_coin"`` keeps only the accuracies (every matrix one-coin). ``item_local=True``
    renumbers labels per item (:func:`item_local_codes`) for open label sets (free text): the
    model is then one-coin with a uniform class prior, ``K = max(min_classes, most distinct
    labels on an item + 1)`` (the live decision's K for free text), and ``confusions`` is None.
    Gold items (``gold >= 0``, in the same codes as ``labels``) are clamped to their label.

    Iterates until no item posterior moves by more than ``tol`` or ``max_iter`` iterations.
    """
    if model not in ("confusion", "one_coin"):
        raise ValueError(f"model must be 'confusion' or 'one_coin', got {model!r}")
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    gold = check_gold(gold, n_items, n_classes)
    local = None
    if item_local:
        model = "one_coin"
        if gold is not None:
            # the gold label joins the item's values so that it has a local code
            known = np.flatnonzero(gold >= 0)
            all_items = np.concatenate([items, known])
            codes, most = item_local_codes(all_items, np.concatenate([labels, gold[known]]), n_items)
            labels, gold_local = codes[: items.size], codes[items.size:]
            gold = np.full(n_items, -1, dtype=np.int64)
            gold[known] = gold_local
        else:
            labels, most = item_local_codes(items, labels, n_items)
        local = labels
        k = max(min_classes, most + 1)
    else:
        k = n_classes
    counts = vote_counts(items, labels, n_items, k)
    n_answers = counts.sum(axis=1)
    answered = n_answers > 0
    if gold is not None:
        answered = answered | (gold >= 0)
    per_annotator = np.bincount(annotators, minlength=n_annotators).astype(np.float64)
    flat = annotators * k + labels
    uniform = item_local

    post = _initial_posteriors(counts, n_answers)
    _clamp_gold(post, gold)
    prior = np.full(k, 1.0 / k)
    fitted_prior = accuracy_prior if accuracy_prior is not None else AccuracyPrior(1.0, 1.0, 0.0, 1.0 / k)
    s = np.inf
    converged = False
    n_iter = 0
    confusions = np.full((n_annotators, k, k), 1.0 / k)
    accuracy = np.full(n_annotators, 1.0 / k)
    while n_iter < max_iter:
        n_iter += 1
        # M-step: expected counts, then the crowd's prior, then posterior means
        if model == "confusion":
            expected = np.stack(
                [np.bincount(flat, weights=post[items, t], minlength=n_annotators * k) for t in range(k)],
                axis=1,
            ).reshape(n_annotators, k, k)  # [a, true, given]
            right = np.trace(expected, axis1=1, axis2=2)
        else:
            right = np.bincount(annotators, weights=post[items, labels], minlength=n_annotators)
        if accuracy_prior is None:
            fitted_prior = fit_accuracy_prior(right, per_annotator, k, start=fitted_prior if n_iter > 1 else None)
        accuracy = fitted_prior.posterior_mean(right, per_annotator)
        base = _one_coin_matrices(accuracy, k)
        if model == "confusion" and k > 1:
            s = row_strength if row_strength is not None else fit_row_strength(expected, base)
            confusions = (expected + s * base) / (expected.sum(axis=2, keepdims=True) + s)
        else:
            confusions = base
        if not uniform:
            prior = _class_prior(post, answered, 1.0)
        # E-step
        log_conf = np.log(np.maximum(confusions, 1e-300))
        per_answer = log_conf[annotators, :, labels]
        scores = np.stack(
            [np.bincount(items, weights=per_answer[:, t], minlength=n_items) for t in range(k)], axis=1
        ) + np.log(prior)
        log_post, _ = log_softmax_rows(scores)
        new_post = np.exp(log_post)
        _clamp_gold(new_post, gold)
        delta = float(np.abs(new_post - post).max()) if n_items else 0.0
        post = new_post
        if delta < tol:
            converged = True
            break
    return AnnotatorEstimates(
        confusions=None if item_local else confusions,
        accuracies=accuracy,
        answers=per_annotator.astype(np.int64),
        accuracy_prior=fitted_prior,
        row_strength=float(s),
        priors=prior,
        posteriors=post,
        n_classes=k,
        n_iter=n_iter,
        converged=converged,
        local_labels=local,
    )
