"""Reads that feed the aggregation engine: answers as code arrays, annotator estimates as matrices.

The engine (``labeling.aggregation``) works on integer codes; these functions turn stored answer
values into codes with the project's schema (choices by position, ratings by offset from the
scale's minimum, free text and multi-choice sets by their normalised key) and fetch only the
columns they need (``values_list``), in one query per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeling.models import Answer, AnnotatorEstimate, Project, SchemaKind
from labeling.schema import LabelSchema, answer_key

# Free text and multi-choice sets are open categories: a wrong answer rarely coincides with
# another. The live decision models that with at least this many classes, so that two
# agreeing free-text answers weigh what they should (see docs/ARCHITECTURE.md, "Deciding").
OPEN_MIN_CLASSES = 20


@dataclass
class LabelSpace:
    """How answer values map to codes for one decision or one aggregation run."""

    keys: list[str]        # code -> key (the category an answer counts as)
    values: list[Any]      # code -> a representative stored value (what a consensus label holds)
    n_classes: int         # >= len(keys); extra classes stand for "something nobody answered"
    fixed: bool            # True when the classes are the schema's own (choices, rating scale)

    def code_of(self, key: str) -> int:
        return self.keys.index(key)


def label_space(project: Project, values: Iterable[Any]) -> tuple[LabelSpace, list[int]]:
    """Codes for ``values`` (stored answer values) and the space they live in."""
    schema = LabelSchema.of(project)
    values = list(values)
    if project.schema_kind == SchemaKind.SINGLE:
        keys = list(schema.choices)
        index = {k: i for i, k in enumerate(keys)}
        return LabelSpace(keys, keys, len(keys), True), [index[v] for v in values]
    if project.schema_kind == SchemaKind.RATING:
        keys = [str(v) for v in range(project.scale_min, project.scale_max + 1)]
        space = LabelSpace(keys, list(range(project.scale_min, project.scale_max + 1)), len(keys), True)
        return space, [int(v) - project.scale_min for v in values]
    keys: list[str] = []
    reps: list[Any] = []
    index: dict[str, int] = {}
    codes = []
    for value in values:
        key = answer_key(schema, value)
        code = index.get(key)
        if code is None:
            code = index[key] = len(keys)
            keys.append(key)
            reps.append(value if project.schema_kind == SchemaKind.MULTI else key)
        codes.append(code)
    # Sorted keys make codes independent of answer order (the engine's tie rule relies on it).
    order = sorted(range(len(keys)), key=lambda c: keys[c])
    remap = {old: new for new, old in enumerate(order)}
    keys = [keys[c] for c in order]
    reps = [reps[c] for c in order]
    codes = [remap[c] for c in codes]
    return LabelSpace(keys, reps, max(len(keys) + 1, OPEN_MIN_CLASSES), False), codes


@dataclass
class ItemAnswers:
    annotator_ids: list[int]
    values: list[Any]


def item_answers(item_id: int) -> ItemAnswers:
    """The answers that count for one item (excluded answers are left out), oldest first."""
    rows = list(
        Answer.objects.filter(item_id=item_id, excluded=False).order_by("id").values_list("annotator_id", "value")
    )
    return ItemAnswers([r[0] for r in rows], [r[1] for r in rows])


@dataclass
class Estimate:
    """An annotator's stored estimate, as the decision reads it (see AnnotatorEstimate)."""

    annotator_id: int
    accuracy: float | None
    confusion: list | None
    labels: list


def confusions_for(project: Project, annotator_ids: Sequence[int], space: LabelSpace,
                   estimates: dict[int, Estimate] | None = None) -> np.ndarray | None:
    """Per-annotator confusion matrices (rows true class, columns given label) in ``space``.

    A full matrix is used where the last aggregation run estimated one over the same classes;
    otherwise a one-coin matrix from the estimated accuracy; annotators with no estimate get the
    engine's default (returned as an all-NaN matrix is not allowed, so they get code -1 by the
    caller). Returns None when no annotator has an estimate. ``estimates``: the annotators'
    estimates when the caller already read them (annotator id -> Estimate; absent = none)."""
    ids = list(dict.fromkeys(annotator_ids))
    if estimates is None:
        estimates = {
            e.annotator_id: e
            for e in AnnotatorEstimate.objects.filter(project=project, annotator_id__in=ids)
            .only("annotator_id", "accuracy", "confusion", "labels")
        }
    if not estimates:
        return None
    k = space.n_classes
    mats = np.empty((len(ids), k, k))
    for row, annotator_id in enumerate(ids):
        est = estimates.get(annotator_id)
        if est is not None and space.fixed and est.confusion and est.labels == space.keys:
            mats[row] = np.asarray(est.confusion, dtype=float)
            continue
        p = est.accuracy if est is not None and est.accuracy is not None else None
        if p is None:
            mats[row] = np.nan  # marked: the caller maps this annotator to the default model
            continue
        p = min(max(p, 1e-3), 1 - 1e-3)
        mats[row] = (1 - p) / (k - 1)
        np.fill_diagonal(mats[row], p)
    return mats


@dataclass
class ProjectAnswers:
    """Every counted answer of a project as engine codes."""

    item_ids: np.ndarray        # code -> Item.pk
    annotator_ids: np.ndarray   # code -> Annotator.pk
    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    space: LabelSpace
    gold: np.ndarray            # per item code: gold label code or -1


def project_answers(project: Project) -> ProjectAnswers:
    """All counted answers of the project, encoded for the engine (one query, streamed)."""
    rows = (Answer.objects.filter(item__project=project, excluded=False)
            .order_by("id").values_list("item_id", "annotator_id", "value", "item__gold", "item__is_gold"))
    item_col, ann_col, values, golds = [], [], [], {}
    for item_id, annotator_id, value, gold, is_gold in rows.iterator(chunk_size=5000):
        item_col.append(item_id)
        ann_col.append(annotator_id)
        values.append(value)
        if is_gold:
            golds[item_id] = gold
    space, codes = label_space(project, values + list(golds.values()))
    gold_codes = dict(zip(golds, codes[len(values):]))
    codes = codes[:len(values)]
    item_ids, items = np.unique(np.asarray(item_col, dtype=np.int64), return_inverse=True)
    annotator_ids, annotators = np.unique(np.asarray(ann_col, dtype=np.int64), return_inverse=True)
    gold = np.full(len(item_ids), -1, dtype=np.int64)
    for i, pk in enumerate(item_ids.tolist()):
        if pk in gold_codes:
            gold[i] = gold_codes[pk]
    return ProjectAnswers(item_ids, annotator_ids, items.astype(np.int64), annotators.astype(np.int64),
                          np.asarray(codes, dtype=np.int64), space, gold)
