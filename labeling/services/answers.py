"""Storing answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from labeling.errors import DomainError
from labeling.models import ACTIVE_STATUSES as ACTIVE
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


@dataclass
class Submission:
    """What ``answer_submit`` returns; stored on the answer so a retry returns the same thing."""

    body: dict[str, Any]
    created: bool


def _refuse(message: str, code: str, status: int = 409, field: str | None = None) -> DomainError:
    return DomainError.single(field, message, status=status, code=code)


def answer_submit(*, project: Project, annotator, item_id: int, value: Any, seconds: float | None = None,
                  lease_id: int | None = None, client_request_id: str | None = None,
                  source: str = AnswerSource.INTERNAL) -> Submission:
    """Store one answer and decide its item, all under the item's row lock.

    - Idempotent: the same ``client_request_id`` from the same annotator stores one answer and
      returns the same body every time.
    - The value is checked against the schema (400 naming the problem).
    - Against an active lease it is always taken. Without one (the lease expired, or none was
      given) it is taken only while the item still needs an answer; otherwise it is refused with
      a 409 that says why, so the client can tell the person: nothing is dropped silently.
    """
    from labeling.models import Lease, LeaseState
    from labeling.services.decisions import item_decide
    from labeling.services.quality import gold_answer_record
    from labeling.services.tasks import _release_counts, membership_for

    if client_request_id:
        done = Answer.objects.filter(annotator=annotator, client_request_id=client_request_id).first()
        if done is not None:
            return Submission(done.result or {}, created=False)
    membership_for(project=project, annotator=annotator)
    try:
        value = clean_answer(LabelSchema.of(project), value)
    except ValueError as exc:
        raise DomainError.single("value", str(exc), code="invalid_value") from None
    if seconds is not None and (seconds < 0 or seconds > 7 * 24 * 3600):
        raise DomainError.single("seconds", "must be between 0 and one week")
    try:
        with transaction.atomic():
            item = Item.objects.select_for_update().filter(project=project, pk=item_id).first()
            if item is None:
                raise _refuse(f"no item {item_id} in this project", "not_found", 404, "item")
            if Answer.objects.filter(item=item, annotator=annotator).exists():
                raise _refuse("you already answered this item", "already_answered")
            now = timezone.now()
            lease = (Lease.objects.select_for_update()
                     .filter(item=item, annotator=annotator, state=LeaseState.ACTIVE).first())
            if lease_id is not None and lease is not None and lease.pk != lease_id:
                lease = None
            live = lease is not None and lease.expires_at > now
            if not live and not item.is_gold:
                if item.status not in ACTIVE or item.answer_count >= project.max_answers or (
                        lease is None and item.open_slots <= 0):
                    raise _refuse(
                        "your lease on this item expired and the item no longer needs your answer "
                        f"(it is {item.get_status_display().lower()}); your answer was not stored",
                        "not_needed")
            answer = Answer.objects.create(item=item, annotator=annotator, value=value, seconds=seconds,
                                           source=source, client_request_id=client_request_id or None)
            if lease is not None:
                Lease.objects.filter(pk=lease.pk).update(state=LeaseState.ANSWERED, closed_at=now)
                _release_counts([item.pk])
                item.refresh_from_db()
            if item.is_gold:
                Item.objects.filter(pk=item.pk).update(answer_count=F("answer_count") + 1)
                # Whether it was right is not told: gold items look like any other item.
                gold_answer_record(project=project, annotator=annotator, item=item, value=value)
                decision = {"status": item.status, "label": None, "confidence": None}
                body = {"answer": answer.pk, "item": item.pk, "status": item.status, "decision": decision}
            else:
                outcome = item_decide(item=item, project=project, reason="answer")
                decision = {"status": outcome.status, "label": outcome.label, "confidence": outcome.confidence}
                body = {"answer": answer.pk, "item": item.pk, "status": item.status, "decision": decision}
            Answer.objects.filter(pk=answer.pk).update(result=body)
            return Submission(body, created=True)
    except IntegrityError:
        # A concurrent retry of the same submission won the race: return what it stored.
        if client_request_id:
            done = Answer.objects.filter(annotator=annotator, client_request_id=client_request_id).first()
            if done is not None:
                return Submission(done.result or {}, created=False)
        raise _refuse("you already answered this item", "already_answered") from None
