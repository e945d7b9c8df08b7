"""Reads for exports: the project's current decisions, streamed in item-id order.

Rows come in keyset pages (``id > last ORDER BY id LIMIT chunk``) of plain tuples, one query per
page and never one per row, so memory holds one page whatever the project's size. (On PostgreSQL a
JSON null label is SQL NULL or the JSON text ``null``; both decode to None.) The filter is a
superset of what the selection keeps; ``selection.row_source`` has the last word per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q

from labeling.exports.selection import Selection
from labeling.models import Item

# (item id, external id, data, is_gold, gold, answer_count, label, confidence, status, reviewed_by_id, votes)
DecisionRow = tuple[int, str, dict, bool, Any, int, Any, float | None, str | None, int | None, dict | None]

COLUMNS = ("id", "external_id", "data", "is_gold", "gold", "answer_count", "consensus__label",
           "consensus__confidence", "consensus__status", "consensus__reviewed_by_id", "consensus__votes")


def selection_filter(selection: Selection) -> Q:
    q = Q(pk__in=[])
    if selection.gold:
        q |= Q(is_gold=True)
    if selection.reviewed:
        q |= Q(is_gold=False, consensus__reviewed_by__isnull=False) | Q(is_gold=False, consensus__status="reviewed")
    if selection.accepted:
        q |= Q(is_gold=False, consensus__status="accepted")
    # selection.include_weak_above: weak labels are not stored yet, so it adds no rows.
    return q


def candidate_count(*, project_id: int, selection: Selection) -> int:
    return Item.objects.filter(selection_filter(selection), project_id=project_id).count()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def decision_rows(*, project_id: int, selection: Selection, chunk_size: int = 5000) -> Iterator[DecisionRow]:
    """Every candidate item of the project with its decision, in item-id order.

    The SQL is the queryset's; the rows are read with a plain cursor and the JSON columns decoded
    here (Django's per-value converters cost a third of an export's time on large projects)."""
    base = Item.objects.filter(selection_filter(selection), project_id=project_id).order_by("id")
    last = 0
    loads = json.loads
    while True:
        try:
            sql, params = base.filter(id__gt=last).values_list(*COLUMNS)[:chunk_size].query.sql_with_params()
        except EmptyResultSet:  # the selection can match nothing at all
            return
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            page = cursor.fetchall()
        if not page:
            return
        for (item_id, external_id, data, is_gold, gold, answer_count, label, confidence, status, reviewed_by,
             votes) in page:
            yield (item_id, external_id,
                   loads(data) if isinstance(data, str) else _json(data),
                   bool(is_gold),
                   _json(gold) if gold is not None else None,
                   answer_count,
                   _json(label) if label is not None else None,
                   confidence, status, reviewed_by,
                   _json(votes) if votes is not None else None)
        last = page[-1][0]
        if len(page) < chunk_size:
            return
