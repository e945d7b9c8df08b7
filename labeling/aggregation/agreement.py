"""Inter-annotator agreement statistics over answer arrays.

Repeated answers by one annotator on one item are kept as separate values (as elsewhere in the
engine); where a statistic needs one value per annotator and item (Cohen's kappa) the annotator's
answers on that item are split evenly.
"""

from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np
import scipy.sparse as sp

from .base import check_answers, vote_counts

LEVELS = ("nominal", "ordinal", "interval", "ratio")

#: Above this many value_counts cells times values, alpha is computed from unique unit patterns
#: (same formula as the krippendorff package, which builds an N x V x V array).
_PACKAGE_CELLS_LIMIT = 20_000_000


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha with a bootstrap percentile interval over units (items)."""

    alpha: float
    ci_low: float
    ci_high: float
    level: str
    n_units: int
    n_values: int
    n_boot: int


def _value_table(
    items: np.ndarray, values: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Units x values count table (only units with >= 2 values) and the sorted value domain."""
    domain, codes = np.unique(np.asarray(values), return_inverse=True)
    table = vote_counts(items, codes.astype(np.int64), n_items, len(domain))
    return table[table.sum(axis=1) >= 2], np.asarray(domain)


def _unit_patterns(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a units x values count table and how many units show each.

    Rows are packed into one integer each (base = largest count + 1) when that fits in 63 bits,
    which is much faster than ``np.unique(axis=0)``.
    """
    base = int(table.max()) + 1
    if table.shape[1] * np.log2(base) < 62:
        keys = table @ (base ** np.arange(table.shape[1], dtype=np.int64))
        _, first, freq = np.unique(keys, return_index=True, return_counts=True)
        return table[first], freq
    return np.unique(table, axis=0, return_counts=True)


def _distance(level: str, domain: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Distance matrices ``(B, V, V)`` for value totals ``n_v`` of shape ``(B, V)``."""
    v = len(domain)
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(v), (n_v.shape[0], v, v))
    if level == "ordinal":
        cum = np.concatenate([np.zeros((n_v.shape[0], 1)), np.cumsum(n_v, axis=1)], axis=1)
        i, j = np.meshgrid(np.arange(v), np.arange(v), indexing="ij")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        between = cum[:, hi + 1] - cum[:, lo]
        return (between - (n_v[:, i] + n_v[:, j]) / 2.0) ** 2
    x = domain.astype(np.float64)
    diff = x[:, None] - x[None, :]
    if level == "interval":
        d = diff**2
    else:
        total = x[:, None] + x[None, :]
        d = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    return np.broadcast_to(d, (n_v.shape[0], v, v))


def _alpha_from_coincidences(o: np.ndarray, level: str, domain: np.ndarray) -> np.ndarray:
    """Alpha for a batch of coincidence matrices ``o`` of shape ``(B, V, V)``."""
    n_v = o.sum(axis=1)
    n = n_v.sum(axis=1)
    e = (n_v[:, :, None] * n_v[:, None, :] - n_v[:, :, None] * np.eye(len(domain))) / (n - 1)[:, None, None]
    d = _distance(level, domain, n_v)
    expected = (e * d).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - (o * d).sum(axis=(1, 2)) / expected


def krippendorff_alpha(
    items: np.ndarray,
    values: np.ndarray,
    *,
    n_items: int,
    level: str = "nominal",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> AlphaResult:
    """Krippendorff's alpha for any level of measurement, with a bootstrap interval.

    Args:
        items: item code per answer.
        values: value per answer: label codes for nominal data, numbers for the other levels
            (the ordered value domain is the sorted distinct values).
        n_items: number of item codes.
        level: "nominal", "ordinal", "interval" or "ratio".
        n_boot: bootstrap resamples of the units (items with >= 2 values), 0 for none.
        ci: coverage of the percentile interval.
        seed: RNG seed for the resampling (None = fresh entropy).

    The point estimate comes from the ``krippendorff`` package (value_counts form). The
    bootstrap resamples units with replacement; because alpha only depends on how many units
    show each distinct pattern of value counts, a resample is drawn as multinomial counts over
    those patterns, which is exact and costs nothing per answer.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    items = np.asarray(items, dtype=np.int64)
    table, domain = _value_table(items, values, n_items)
    if len(domain) < 2:
        raise ValueError("alpha needs at least two distinct values")
    if table.shape[0] == 0:
        raise ValueError("alpha needs at least one item with two or more answers")
    patterns, freq = _unit_patterns(table)
    m = patterns.sum(axis=1)
    per_pattern = (
        patterns[:, :, None] * patterns[:, None, :] - patterns[:, :, None] * np.eye(len(domain))
    ) / (m - 1)[:, None, None]
    flat = per_pattern.reshape(len(patterns), -1)
    if table.size * len(domain) <= _PACKAGE_CELLS_LIMIT:
        value = float(
            krippendorff.alpha(value_counts=table, value_domain=domain, level_of_measurement=level)
        )
    else:
        value = float(_alpha_from_coincidences((freq @ flat).reshape(1, len(domain), -1), level, domain)[0])
    lo = hi = float("nan")
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        n_units = int(freq.sum())
        chunk = max(1, min(n_boot, 20_000_000 // max(len(patterns), 1)))
        draws = []
        for start in range(0, n_boot, chunk):
            weights = rng.multinomial(n_units, freq / n_units, size=min(chunk, n_boot - start))
            o = (weights @ flat).reshape(-1, len(domain), len(domain))
            draws.append(_alpha_from_coincidences(o, level, domain))
        boot = np.concatenate(draws)
        boot = boot[np.isfinite(boot)]
        if boot.size:
            tail = (1.0 - ci) / 2.0 * 100.0
            lo, hi = (float(x) for x in np.percentile(boot, [tail, 100.0 - tail]))
    return AlphaResult(
        alpha=value,
        ci_low=lo,
        ci_high=hi,
        level=level,
        n_units=int(table.shape[0]),
        n_values=int(table.sum()),
        n_boot=n_boot,
    )


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an ``(n_items, K)`` vote table, allowing a varying number of raters.

    Items with fewer than two answers are left out. Each remaining item's observed agreement
    ``P_i = sum_c n_ic (n_ic - 1) / (n_i (n_i - 1))`` counts equally (Fleiss 1971 with ``n_i``
    in place of a constant ``n``); chance agreement uses the pooled label shares of those items.
    Returns NaN when no item qualifies or chance agreement is 1 (a single label throughout).
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_i = counts.sum(axis=1)
    keep = n_i >= 2
    if not keep.any():
        return float("nan")
    c, n_i = counts[keep], n_i[keep]
    p_i = ((c * (c - 1.0)).sum(axis=1)) / (n_i * (n_i - 1.0))
    shares = c.sum(axis=0) / n_i.sum()
    p_e = float((shares**2).sum())
    if p_e >= 1.0 - 1e-12:
        return float("nan")
    return float((p_i.mean() - p_e) / (1.0 - p_e))


def _annotator_item_shares(
    items: np.ndarray, annotators: np.ndarray, labels: np.ndarray, n_items: int, n_annotators: int, k: int
) -> tuple[list[sp.csr_matrix], sp.csr_matrix]:
    """Per label, the ``(n_annotators, n_items)`` share of an annotator's answers on an item
    with that label; and the 0/1 matrix of who answered what."""
    cell = annotators * n_items + items
    uniq, inv, per_cell = np.unique(cell, return_inverse=True, return_counts=True)
    weight = 1.0 / per_cell[inv]
    a_idx, i_idx = uniq // n_items, uniq % n_items
    answered = sp.csr_matrix((np.ones(uniq.size), (a_idx, i_idx)), shape=(n_annotators, n_items))
    shares = [
        sp.csr_matrix(
            (weight[labels == lab], (annotators[labels == lab], items[labels == lab])),
            shape=(n_annotators, n_items),
        )
        for lab in range(k)
    ]
    return shares, answered


def cohen_kappa_matrix(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
) -> np.ndarray:
    """Pairwise Cohen's kappa over the items both annotators answered, ``(n_annotators,)*2``.

    NaN on the diagonal, where a pair shares fewer than 2 items, and where kappa is undefined
    (chance agreement 1). An annotator with several answers on an item contributes each label
    with weight 1/(number of their answers there). Memory is O(n_annotators^2).
    """
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    shares, answered = _annotator_item_shares(items, annotators, labels, n_items, n_annotators, n_classes)
    overlap = (answered @ answered.T).toarray()
    agree = np.zeros((n_annotators, n_annotators))
    chance = np.zeros((n_annotators, n_annotators))
    for f in shares:
        agree += (f @ f.T).toarray()
        row = (f @ answered.T).toarray()  # share of a's label on items shared with b
        chance += row * row.T
    with np.errstate(invalid="ignore", divide="ignore"):
        p_o = agree / overlap
        p_e = chance / overlap**2
        kappa = (p_o - p_e) / (1.0 - p_e)
    kappa[(overlap < 2) | (p_e >= 1.0 - 1e-12)] = np.nan
    np.fill_diagonal(kappa, np.nan)
    return kappa


def annotator_agreement(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    consensus: np.ndarray,
    n_annotators: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Share of each annotator's answers equal to the item's consensus label.

    Only answers on items with a consensus (code >= 0) count. Returns ``(share, answers
    compared)``; share is NaN for annotators with none. The consensus includes the annotator's
    own vote.
    """
    items = np.asarray(items, dtype=np.int64)
    annotators = np.asarray(annotators, dtype=np.int64)
    target = np.asarray(consensus)[items]
    counted = target >= 0
    hits = np.bincount(annotators, weights=(counted & (labels == target)).astype(float), minlength=n_annotators)
    seen = np.bincount(annotators, weights=counted.astype(float), minlength=n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / seen, seen.astype(np.int64)


def item_agreement(counts: np.ndarray) -> np.ndarray:
    """Share of each item's answers that went to its most chosen label (NaN without answers)."""
    counts = np.asarray(counts)
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts.max(axis=1) / n


def label_confusion(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
) -> np.ndarray:
    """``(K, K)`` counts of ordered answer pairs (label of one, label of the other) given by two
    different annotators on the same item. Symmetric; the diagonal is agreement.

    Computed as all ordered pairs of answers on an item minus the pairs within one annotator's
    own answers on it (which include each answer paired with itself).
    """
    items, annotators, labels = check_answers(items, annotators, labels, n_items, n_annotators, n_classes)
    by_item = vote_counts(items, labels, n_items, n_classes)
    _, group = np.unique(items * n_annotators + annotators, return_inverse=True)
    by_group = vote_counts(group.astype(np.int64), labels, int(group.max()) + 1 if group.size else 0, n_classes)
    return by_item.T @ by_item - by_group.T @ by_group


def median_consensus(items: np.ndarray, values: np.ndarray, n_items: int, *, lower: bool = True) -> np.ndarray:
    """Per-item median of numeric answers (rating scales); NaN for items without answers.

    With an even number of answers, ``lower=True`` returns the lower middle value (always a point
    of the scale, the usual choice for ordinal ratings); ``lower=False`` the mean of the two
    middle values (interval data).
    """
    items = np.asarray(items, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    order = np.lexsort((values, items))
    sorted_values = values[order]
    n = np.bincount(items, minlength=n_items)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    out = np.full(n_items, np.nan)
    has = n > 0
    low = sorted_values[start[has] + (n[has] - 1) // 2]
    high = sorted_values[start[has] + n[has] // 2]
    out[has] = low if lower else (low + high) / 2.0
    return out
