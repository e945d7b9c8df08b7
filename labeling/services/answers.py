"""Storing answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from labeling.errors import DomainError
from labeling.models import Answer, AnswerSource, Item, Project
from labeling.schema import LabelSchema, clean_answer


@dataclass
class ImportedAnswer:
    item: Item
    annotator_id: int
    value: Any
    seconds: float | None = None


@transaction.atomic
def answer_bulk_import(*, project: Project, answers: Iterable[ImportedAnswer],
                       source: str = AnswerSource.IMPORT) -> int:
    """Store answers collected elsewhere (another tool, a crowd platform's results file).

    Every value is checked against the project's schema first; one bad value stores nothing.
    Item answer counts are updated in one statement per distinct count, not one per answer.
    """
    schema = LabelSchema.of(project)
    rows: list[Answer] = []
    for index, answer in enumerate(answers, start=1):
        if answer.item.project_id != project.pk:
            raise DomainError.single("item", f"answer {index}: item {answer.item.external_id!r} is in another project")
        try:
            value = clean_answer(schema, answer.value)
        except ValueError as exc:
            raise DomainError.single("value", f"answer {index} ({answer.item.external_id!r}): {exc}") from None
        rows.append(Answer(item=answer.item, annotator_id=answer.annotator_id, value=value,
                           seconds=answer.seconds, source=source))
    Answer.objects.bulk_create(rows, batch_size=2000)
    per_item = Counter(row.item.pk for row in rows)
    by_count: dict[int, list[int]] = {}
    for item_id, n in per_item.items():
        by_count.setdefault(n, []).append(item_id)
    for n, item_ids in by_count.items():
        Item.objects.filter(pk__in=item_ids).update(answer_count=F("answer_count") + n)
    return len(rows)
