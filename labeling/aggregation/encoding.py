"""Turn string answer columns into the integer codes the engine works on.

Codes follow the *sorted* names (plain string order), so the same set of names always gets the
same codes whatever the row order of the input; the lowest-code tie rule therefore means "first
label name in sorted order".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .textnorm import DEFAULT_TEXT_OPS, normalize_text

ANSWER_COLUMNS = ("item", "annotator", "label")


@dataclass(frozen=True, eq=False)
class EncodedAnswers:
    """Answers as parallel code arrays plus the names behind the codes.

    ``item_names[items[j]]`` is the item of answer ``j``; likewise for annotators and labels.
    """

    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    item_names: np.ndarray
    annotator_names: np.ndarray
    label_names: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.item_names)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_names)

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def arrays(self) -> dict[str, object]:
        """Keyword arguments for :func:`labeling.aggregation.aggregate` and friends."""
        return {
            "items": self.items,
            "annotators": self.annotators,
            "labels": self.labels,
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "n_classes": self.n_classes,
        }

    def encode_gold(self, gold: Mapping[str, str] | pd.Series) -> np.ndarray:
        """Per-item gold codes (-1 where unknown) from an item-name -> label-name mapping.

        Items or labels that do not occur in the answers are ignored.
        """
        series = gold if isinstance(gold, pd.Series) else pd.Series(gold, dtype=object)
        item_pos = pd.Index(self.item_names).get_indexer(series.index.astype(str))
        label_pos = pd.Index(self.label_names).get_indexer(series.astype(str).to_numpy())
        keep = (item_pos >= 0) & (label_pos >= 0)
        out = np.full(self.n_items, -1, dtype=np.int64)
        out[item_pos[keep]] = label_pos[keep]
        return out


def factorize_sorted(values: Iterable[object] | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and sorted unique names of a string column (pandas factorize, ``sort=True``)."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object), dtype="str")
    if series.isna().any():
        raise ValueError(f"missing value at position {int(np.flatnonzero(series.isna().to_numpy())[0])}")
    codes, uniques = pd.factorize(series.astype("str"), sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)


def encode(
    data: pd.DataFrame | None = None,
    *,
    items: Iterable[object] | None = None,
    annotators: Iterable[object] | None = None,
    labels: Iterable[object] | None = None,
    label_names: Sequence[str] | None = None,
) -> EncodedAnswers:
    """Encode answers given as a DataFrame with columns ``item, annotator, label`` or as columns.

    Values are compared as strings. ``label_names`` fixes the label vocabulary and its code order
    (e.g. a project's configured labels, so codes stay stable as answers arrive); a label outside
    it raises ValueError. Without it, codes follow the sorted distinct labels.
    """
    if data is not None:
        missing = [c for c in ANSWER_COLUMNS if c not in data.columns]
        if missing:
            raise ValueError(f"missing column(s): {', '.join(missing)}")
        items, annotators, labels = data["item"], data["annotator"], data["label"]
    if items is None or annotators is None or labels is None:
        raise ValueError("give a DataFrame or all of items, annotators and labels")
    item_codes, item_names = factorize_sorted(items)
    annotator_codes, annotator_names = factorize_sorted(annotators)
    if label_names is None:
        label_codes, names = factorize_sorted(labels)
    else:
        names = np.asarray([str(x) for x in label_names], dtype=object)
        if len(set(names)) != len(names):
            raise ValueError("label_names has duplicates")
        label_series = labels if isinstance(labels, pd.Series) else pd.Series(np.asarray(labels, dtype=object))
        label_codes = pd.Index(names).get_indexer(label_series.astype("str").to_numpy()).astype(np.int64)
        if (label_codes < 0).any():
            bad = np.asarray(label_series)[np.flatnonzero(label_codes < 0)[0]]
            raise ValueError(f"label {bad!r} is not one of label_names")
    if not (item_codes.size == annotator_codes.size == label_codes.size):
        raise ValueError("items, annotators and labels differ in length")
    return EncodedAnswers(
        items=item_codes,
        annotators=annotator_codes,
        labels=label_codes,
        item_names=item_names,
        annotator_names=annotator_names,
        label_names=names,
    )


@dataclass(frozen=True, eq=False)
class OpenEncodedAnswers:
    """Free-text answers with *item-local* label codes.

    Label code ``c`` on item ``i`` is the ``c``-th distinct normalised text given on that item,
    in sorted order: ``texts[offsets[i] + c]``. ``n_classes`` is the largest number of distinct
    texts on one item, so the dense per-item tables stay small however many different texts
    exist overall. Codes mean nothing across items: use methods that do not learn per-label
    parameters (majority or one-coin with ``uniform_prior=True``, weighted), not Dawid-Skene.
    """

    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    item_names: np.ndarray
    annotator_names: np.ndarray
    texts: np.ndarray
    offsets: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.item_names)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_names)

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 1

    def arrays(self) -> dict[str, object]:
        """Keyword arguments for :func:`labeling.aggregation.aggregate` and friends."""
        return {
            "items": self.items,
            "annotators": self.annotators,
            "labels": self.labels,
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "n_classes": self.n_classes,
        }

    def label_texts(self, labels: np.ndarray) -> np.ndarray:
        """Text of each item's label code (one code per item, -1 -> None)."""
        labels = np.asarray(labels)
        out = np.full(labels.size, None, dtype=object)
        known = labels >= 0
        out[known] = self.texts[self.offsets[np.flatnonzero(known)] + labels[known]]
        return out


def encode_open(
    data: pd.DataFrame | None = None,
    *,
    items: Iterable[object] | None = None,
    annotators: Iterable[object] | None = None,
    texts: Iterable[object] | None = None,
    ops: Sequence[str] | None = None,
) -> OpenEncodedAnswers:
    """Encode free-text answers: normalise (see :func:`labeling.aggregation.normalize_text`;
    ``ops=None`` uses every operation) and give each distinct text an item-local code.

    ``data`` may be a DataFrame with columns ``item, annotator, label``.
    """
    if data is not None:
        missing = [c for c in ANSWER_COLUMNS if c not in data.columns]
        if missing:
            raise ValueError(f"missing column(s): {', '.join(missing)}")
        items, annotators, texts = data["item"], data["annotator"], data["label"]
    if items is None or annotators is None or texts is None:
        raise ValueError("give a DataFrame or all of items, annotators and texts")
    item_codes, item_names = factorize_sorted(items)
    annotator_codes, annotator_names = factorize_sorted(annotators)
    text_codes, text_names = factorize_sorted(normalize_text(texts, DEFAULT_TEXT_OPS if ops is None else ops))
    if not (item_codes.size == annotator_codes.size == text_codes.size):
        raise ValueError("items, annotators and texts differ in length")
    n_texts = max(len(text_names), 1)
    pairs, pair_of_answer = np.unique(item_codes * n_texts + text_codes, return_inverse=True)
    offsets = np.searchsorted(pairs // n_texts, np.arange(len(item_names)))
    return OpenEncodedAnswers(
        items=item_codes,
        annotators=annotator_codes,
        labels=(pair_of_answer - offsets[item_codes]).astype(np.int64),
        item_names=item_names,
        annotator_names=annotator_names,
        texts=text_names[pairs % n_texts],
        offsets=offsets,
    )
