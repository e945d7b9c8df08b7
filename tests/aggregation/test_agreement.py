"""Agreement statistics against published worked examples and independent implementations."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from labeling.aggregation import (
    annotator_agreement,
    cohen_kappa_matrix,
    fleiss_kappa,
    item_agreement,
    krippendorff_alpha,
    label_confusion,
    median_consensus,
)
from labeling.aggregation.agreement import _alpha_from_coincidences

NAN = np.nan
# Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), 4 coders x 12 units.
KRIPPENDORFF_EXAMPLE = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)


def _answers_from_reliability(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coder, unit = np.nonzero(~np.isnan(data))
    return unit, coder, data[coder, unit]


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_krippendorff_worked_example(level: str, expected: float) -> None:
    units, _, values = _answers_from_reliability(KRIPPENDORFF_EXAMPLE)
    result = krippendorff_alpha(units, values, n_items=12, level=level, n_boot=200, seed=1)
    assert round(result.alpha, 3) == expected
    assert result.ci_low <= result.alpha <= result.ci_high
    assert result.n_units == 11  # unit 12 has one value only


def test_bootstrap_is_seeded() -> None:
    units, _, values = _answers_from_reliability(KRIPPENDORFF_EXAMPLE)
    a = krippendorff_alpha(units, values, n_items=12, level="interval", n_boot=300, seed=7)
    b = krippendorff_alpha(units, values, n_items=12, level="interval", n_boot=300, seed=7)
    c = krippendorff_alpha(units, values, n_items=12, level="interval", n_boot=300, seed=8)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_pattern_formula_equals_package_on_random_data(level: str) -> None:
    """The bootstrap's alpha-from-patterns formula equals the package at full weight."""
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, size=200)
    units = np.repeat(np.arange(200), rng.integers(1, 6, size=200))
    values = np.where(rng.random(units.size) < 0.6, truth[units], rng.integers(1, 6, size=units.size))
    table = np.zeros((200, 5), dtype=np.int64)
    np.add.at(table, (units, values - 1), 1)
    table = table[table.sum(axis=1) >= 2]
    m = table.sum(axis=1)
    o = ((table[:, :, None] * table[:, None, :] - table[:, :, None] * np.eye(5)) / (m - 1)[:, None, None]).sum(0)
    domain = np.arange(1, 6)
    ours = _alpha_from_coincidences(o[None], level, domain)[0]
    theirs = krippendorff.alpha(value_counts=table, value_domain=domain, level_of_measurement=level)
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert krippendorff_alpha(units, values, n_items=200, level=level, n_boot=0).alpha == pytest.approx(theirs)


def test_alpha_errors() -> None:
    with pytest.raises(ValueError, match="two distinct values"):
        krippendorff_alpha(np.array([0, 0]), np.array([1, 1]), n_items=1)
    with pytest.raises(ValueError, match="two or more answers"):
        krippendorff_alpha(np.array([0, 1]), np.array([1, 2]), n_items=2)
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(np.array([0, 0]), np.array([1, 2]), n_items=1, level="cardinal")


def test_fleiss_kappa_classic_example() -> None:
    # Fleiss (1971) as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210
    table = np.array(
        [
            [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
        ]
    )
    assert round(fleiss_kappa(table), 3) == 0.210


def test_fleiss_kappa_variable_raters_and_degenerate_cases() -> None:
    # single-answer items are ignored; perfect agreement with two labels gives 1
    assert fleiss_kappa(np.array([[3, 0], [0, 2], [1, 0]])) == pytest.approx(1.0)
    assert np.isnan(fleiss_kappa(np.array([[3, 0], [2, 0]])))  # one label only
    assert np.isnan(fleiss_kappa(np.array([[1, 0], [0, 1]])))  # no item with 2 answers
    # by hand: items (2,0) P=1, (1,1) P=0, (2,1) P=1/3; shares 5/7, 2/7
    p_bar = (1 + 0 + 1 / 3) / 3
    p_e = (5 / 7) ** 2 + (2 / 7) ** 2
    assert fleiss_kappa(np.array([[2, 0], [1, 1], [2, 1]])) == pytest.approx((p_bar - p_e) / (1 - p_e))


def test_cohen_kappa_matrix_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    n_items, n_annotators, k = 60, 4, 3
    truth = rng.integers(0, k, n_items)
    items, annotators = np.nonzero(rng.random((n_items, n_annotators)) < 0.8)
    labels = np.where(rng.random(items.size) < 0.7, truth[items], rng.integers(0, k, items.size))
    kappa = cohen_kappa_matrix(items, annotators, labels, n_items=n_items, n_annotators=n_annotators, n_classes=k)
    grid = np.full((n_items, n_annotators), -1)
    grid[items, annotators] = labels
    for a in range(n_annotators):
        assert np.isnan(kappa[a, a])
        for b in range(n_annotators):
            if a != b:
                both = (grid[:, a] >= 0) & (grid[:, b] >= 0)
                assert kappa[a, b] == pytest.approx(cohen_kappa_score(grid[both, a], grid[both, b]))


def test_cohen_kappa_nan_when_overlap_too_small() -> None:
    items = np.array([0, 0, 1, 2])
    annotators = np.array([0, 1, 1, 2])
    labels = np.array([0, 1, 0, 1])
    kappa = cohen_kappa_matrix(items, annotators, labels, n_items=3, n_annotators=3, n_classes=2)
    assert np.isnan(kappa).all()


def test_label_confusion_counts_cross_annotator_pairs_only() -> None:
    # item 0: a0 says 0 twice (repeat), a1 says 1; item 1: a0 says 1, a1 says 1
    items = np.array([0, 0, 0, 1, 1])
    annotators = np.array([0, 0, 1, 0, 1])
    labels = np.array([0, 0, 1, 1, 1])
    conf = label_confusion(items, annotators, labels, n_items=2, n_annotators=2, n_classes=2)
    # item 0 pairs across annotators: (0,1) x2 and (1,0) x2; item 1: (1,1) x2
    np.testing.assert_array_equal(conf, [[0, 2], [2, 2]])


def test_item_and_annotator_agreement() -> None:
    counts = np.array([[3, 1], [0, 0], [1, 1]])
    np.testing.assert_allclose(item_agreement(counts), [0.75, np.nan, 0.5])
    items = np.array([0, 0, 1, 1, 2])
    annotators = np.array([0, 1, 0, 1, 1])
    labels = np.array([1, 1, 0, 1, 0])
    share, seen = annotator_agreement(items, annotators, labels, np.array([1, 0, -1]), 3)
    np.testing.assert_allclose(share[:2], [1.0, 0.5])
    assert np.isnan(share[2])
    np.testing.assert_array_equal(seen, [2, 2, 0])


def test_median_consensus() -> None:
    items = np.array([0, 0, 0, 1, 1, 1, 1, 3])
    values = np.array([5, 1, 3, 4, 1, 2, 5, 2])
    np.testing.assert_allclose(median_consensus(items, values, 4), [3, 2, np.nan, 2])
    np.testing.assert_allclose(median_consensus(items, values, 4, lower=False), [3, 3, np.nan, 2])


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_large_input_path_gives_the_package_value(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    """Above a size limit alpha is computed from unique unit patterns instead of calling the
    package (which builds an N x V x V array); both must agree."""
    from labeling.aggregation import agreement

    units, _, values = _answers_from_reliability(KRIPPENDORFF_EXAMPLE)
    expected = krippendorff_alpha(units, values, n_items=12, level=level, n_boot=0).alpha
    monkeypatch.setattr(agreement, "_PACKAGE_CELLS_LIMIT", 0)
    assert krippendorff_alpha(units, values, n_items=12, level=level, n_boot=0).alpha == pytest.approx(expected)


def test_unit_patterns_packed_and_fallback_agree() -> None:
    from labeling.aggregation.agreement import _unit_patterns

    rng = np.random.default_rng(2)
    small = rng.integers(0, 3, size=(500, 4))
    patterns, freq = _unit_patterns(small)
    ref_patterns, ref_freq = np.unique(small, axis=0, return_counts=True)
    order = np.lexsort(patterns.T[::-1])
    np.testing.assert_array_equal(patterns[order], ref_patterns)
    np.testing.assert_array_equal(freq[order], ref_freq)
    wide = rng.integers(0, 3, size=(200, 70))  # 70 columns do not pack into 63 bits
    patterns, freq = _unit_patterns(wide)
    assert freq.sum() == 200 and patterns.shape[1] == 70
