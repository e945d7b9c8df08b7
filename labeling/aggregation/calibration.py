"""Calibration of confidences against known truth."""

from __future__ import annotations

import numpy as np


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """Binned expected calibration error.

    Confidences in [0, 1] are split into ``n_bins`` equal-width bins (the last one closed);
    ECE = sum over bins of (share of decisions in the bin) x |accuracy in bin - mean confidence
    in bin|. Returns NaN for no decisions.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape:
        raise ValueError("confidence and correct differ in shape")
    if conf.size == 0:
        return float("nan")
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    size = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=hit, minlength=n_bins) - np.bincount(bins, weights=conf, minlength=n_bins)
    )
    return float(gap.sum() / size.sum())
