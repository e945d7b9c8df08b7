"""Aggregation and agreement engine: pure numpy/scipy, no Django.

Answers are parallel integer arrays ``items``, ``annotators``, ``labels`` (one entry per answer;
build them with :func:`encode`). See docs/aggregation.md for the methods, the tie rule, what
confidence means and the planner's model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .agreement import (
    AlphaResult,
    annotator_agreement,
    cohen_kappa_matrix,
    fleiss_kappa,
    item_agreement,
    krippendorff_alpha,
    label_confusion,
    median_consensus,
)
from .base import AggregationResult, vote_counts
from .calibration import expected_calibration_error
from .dawid_skene import dawid_skene, one_coin
from .encoding import EncodedAnswers, OpenEncodedAnswers, encode, encode_open
from .majority import (
    accuracies_from_confusions,
    accuracies_from_gold,
    majority_vote,
    weighted_majority,
)
from .planner import PlanResult, plan
from .quorum import (
    STATUS_NAMES,
    Decision,
    DecisionBatch,
    QuorumRule,
    decide_item,
    decide_items,
    parse_rule,
    quorum_status,
)
from .textnorm import DEFAULT_TEXT_OPS, multichoice_key, multichoice_keys, normalize_text

METHODS = {
    "majority": majority_vote,
    "weighted": weighted_majority,
    "dawid_skene": dawid_skene,
    "one_coin": one_coin,
}


def method_name(name: str) -> str:
    """Canonical method name: accepts ``dawid-skene`` / ``one-coin`` spellings too."""
    canonical = name.strip().lower().replace("-", "_")
    if canonical not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    return canonical


def aggregate(
    method: str,
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    gold: np.ndarray | None = None,
    **options: Any,
) -> AggregationResult:
    """Run consensus ``method`` ("majority", "weighted", "dawid_skene", "one_coin").

    ``gold`` is per item (-1 = unknown). ``options`` go to the method (e.g. ``accuracies`` for
    "weighted", ``max_iter``/``tol``/``smoothing`` for the EM methods).
    """
    fn = METHODS[method_name(method)]
    return fn(
        items, annotators, labels,
        n_items=n_items, n_annotators=n_annotators, n_classes=n_classes, gold=gold, **options,
    )


__all__ = [
    "AggregationResult", "AlphaResult", "Decision", "DecisionBatch", "DEFAULT_TEXT_OPS",
    "EncodedAnswers", "METHODS", "OpenEncodedAnswers", "PlanResult", "QuorumRule", "STATUS_NAMES",
    "accuracies_from_confusions", "accuracies_from_gold", "aggregate", "annotator_agreement",
    "cohen_kappa_matrix", "dawid_skene", "decide_item", "decide_items", "encode", "encode_open",
    "expected_calibration_error", "fleiss_kappa", "item_agreement", "krippendorff_alpha",
    "label_confusion", "majority_vote", "median_consensus", "method_name", "multichoice_key",
    "multichoice_keys", "normalize_text", "one_coin", "parse_rule", "plan", "quorum_status",
    "vote_counts", "weighted_majority",
]
