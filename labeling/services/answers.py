"""Storing answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling import rawsql
from labeling.errors import DomainError
from labeling.models import ACTIVE_STATUSES as ACTIVE
from labeling.models import Answer, AnswerSource, Item, ItemStatus, Project
from labeling.schema import LabelSchema, clean_answer
from labeling.selectors import Estimate, ItemAnswers


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
    #: The caller's membership may have changed (a gold answer can pause them): re-read it
    #: before handing out more work.
    membership_stale: bool = True
    #: The rows of ``answer_submit(then=...)``'s statement when it ran (right after the commit,
    #: in the same round trip), or the error it raised; None when it did not run.
    then_rows: list | Exception | None = None


def _refuse(message: str, code: str, status: int = 409, field: str | None = None) -> DomainError:
    return DomainError.single(field, message, status=status, code=code)


# The item's row lock, first and alone: under READ COMMITTED a statement that waited for the lock
# sees the locked row as it is now but every other table as it was when the statement began, so
# the lease and the consensus are read by the next statement, after the lock is held.
_LOCK_SQL = ("SELECT i.id, i.status, i.is_gold, i.gold, i.lease_count, i.open_slots, i.confidence "
             "FROM labeling_item i WHERE i.id = %s AND i.project_id = %s")
# Under the lock: the caller's active lease on the item and the current consensus label (one row),
# joined with every answer of the item (with the annotators' estimates) and the caller's
# estimate (answer id NULL). Params: item, annotator, item, annotator, item, project, item,
# project, annotator.
_STATE_SQL = (
    "SELECT m.lease_id, m.lease_expires, m.label, x.id, x.annotator_id, x.value, x.excluded, x.client_request_id, "
    "x.result, x.accuracy, x.confusion, x.labels FROM ("
    "SELECT (SELECT l.id FROM labeling_lease l WHERE l.item_id = %s AND l.annotator_id = %s "
    "AND l.state = 'active') AS lease_id, "
    "(SELECT l.expires_at FROM labeling_lease l WHERE l.item_id = %s AND l.annotator_id = %s "
    "AND l.state = 'active') AS lease_expires, "
    "(SELECT c.label FROM labeling_consensus c WHERE c.item_id = %s) AS label) m "
    "LEFT JOIN ("
    "SELECT a.id, a.annotator_id, a.value, a.excluded, a.client_request_id, a.result, e.accuracy, e.confusion, "
    "e.labels FROM labeling_answer a LEFT JOIN labeling_annotatorestimate e "
    "ON e.annotator_id = a.annotator_id AND e.project_id = %s WHERE a.item_id = %s "
    "UNION ALL SELECT NULL, e.annotator_id, NULL, NULL, NULL, NULL, e.accuracy, e.confusion, e.labels "
    "FROM labeling_annotatorestimate e WHERE e.project_id = %s AND e.annotator_id = %s"
    ") x ON 1 = 1 ORDER BY x.id"
)
# What the submit knows of the item (from the lock): the instance it hands on has these loaded.
_ITEM_FIELDS = ("id", "project_id", "status", "is_gold", "gold", "lease_count", "confidence")
_ANSWER_INSERT_SQL = (
    "INSERT INTO labeling_answer (item_id, annotator_id, value, seconds, source, client_request_id, excluded, "
    "result, created_at) VALUES (%s, %s, %s, %s, %s, %s, FALSE, %s, %s) RETURNING id"
)


def _replay(answer_id: int, result: Any) -> Submission:
    body = {"answer": answer_id, **(rawsql.json_value(result) or {})}
    return Submission(body, created=False)


def _replay_by_request_id(annotator, client_request_id: str | None) -> Submission | None:
    if not client_request_id:
        return None
    row = rawsql.fetchone("SELECT id, result FROM labeling_answer WHERE annotator_id = %s AND client_request_id = %s",
                          [annotator.pk, client_request_id])
    return _replay(row[0], row[1]) if row is not None else None


def answer_submit(*, project: Project, annotator, item_id: int, value: Any, seconds: float | None = None,
                  lease_id: int | None = None, client_request_id: str | None = None,
                  source: str = AnswerSource.INTERNAL, membership=None,
                  then: tuple[str, list] | None = None) -> Submission:
    """Store one answer and decide its item, all under the item's row lock.

    - Idempotent: the same ``client_request_id`` from the same annotator stores one answer and
      returns the same body every time.
    - The value is checked against the schema (400 naming the problem).
    - Against an active lease it is always taken. Without one (the lease expired, or none was
      given) it is taken only while the item still needs an answer; otherwise it is refused with
      a 409 that says why, so the client can tell the person: nothing is dropped silently.

    ``membership``: the caller's membership when already loaded (checked for a pause here).
    Statements: lock the item, then read the caller's lease, the current consensus label and
    the item's answers with the annotators' estimates (one round trip on PostgreSQL:
    ``rawsql.fetch_many``); then insert the answer, close the lease, write the item's counters
    and decision, upsert the consensus, and a history row when the decision changed (one
    statement). The decision is computed before the answer is written, so the answer row is
    written once, with the body a retry gets back.

    ``then``: a statement (e.g. the next task's, ``tasks.task_plan``) to run right after this
    transaction commits. On PostgreSQL, for a stored answer on a non-gold item outside any
    caller's transaction, the writes and the COMMIT go in one round trip (with that statement
    after them, its rows in ``Submission.then_rows``); otherwise ``then`` is not run here.
    """
    from labeling.services.tasks import _check_membership, membership_for

    try:
        if membership is None:
            membership_for(project=project, annotator=annotator)
        else:
            _check_membership(membership)
        try:
            value = clean_answer(LabelSchema.of(project), value)
        except ValueError as exc:
            raise DomainError.single("value", str(exc), code="invalid_value") from None
        if seconds is not None and (seconds < 0 or seconds > 7 * 24 * 3600):
            raise DomainError.single("seconds", "must be between 0 and one week")
        if not 0 < item_id < 2**63:
            raise _refuse(f"no item {item_id} in this project", "not_found", 404, "item")
    except DomainError:
        # A retry of a submission that was stored gets the stored body, even if the caller has
        # since been paused (e.g. by that very answer, on a check item).
        replay = _replay_by_request_id(annotator, client_request_id)
        if replay is not None:
            return replay
        raise
    if lease_id is not None and not 0 < lease_id < 2**63:
        lease_id = -1  # names no lease of theirs
    lock = " FOR UPDATE OF i" if connection.vendor == "postgresql" else ""
    # Outside any caller's transaction, on PostgreSQL, the commit goes with the writes (and
    # ``then`` after it); inside one the commit is not ours to send.
    commit = not connection.in_atomic_block and rawsql.pipelines()
    if not commit:
        then = None
    try:
        with transaction.atomic():
            # A refusal is returned, not raised, out of the block: the transaction only read, so
            # it commits (nothing to undo; a rollback would also end it, at the same cost).
            outcome = _submit_locked(project=project, annotator=annotator, item_id=item_id, value=value,
                                     seconds=seconds, lease_id=lease_id, client_request_id=client_request_id,
                                     source=source, lock=lock, commit=commit, then=then)
    except IntegrityError:
        # A concurrent retry of the same submission (or the same request id on another item) won
        # the race: return what it stored.
        replay = _replay_by_request_id(annotator, client_request_id)
        if replay is not None:
            return replay
        raise _refuse("you already answered this item", "already_answered") from None
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _submit_locked(*, project: Project, annotator, item_id: int, value: Any, seconds: float | None,
                   lease_id: int | None, client_request_id: str | None, source: str,
                   lock: str, commit: bool, then: tuple[str, list] | None) -> Submission | DomainError:
    """The part of ``answer_submit`` under the item's row lock (inside its transaction): the
    stored submission, or the refusal to raise once the transaction is over."""
    from labeling.services.decisions import item_decide
    from labeling.services.quality import gold_answer_record

    # The lock, then (a statement of its own, with a snapshot taken once the lock is held) the
    # lease, consensus and answers: sent together, run one after the other by the server.
    locked, state = rawsql.fetch_many([
        (_LOCK_SQL + lock, [item_id, project.pk]),
        (_STATE_SQL, [item_id, annotator.pk, item_id, annotator.pk, item_id, project.pk, item_id, project.pk,
                      annotator.pk]),
    ])
    row = locked[0] if locked else None
    if row is None:
        replay = _replay_by_request_id(annotator, client_request_id)
        if replay is not None:
            return replay
        return _refuse(f"no item {item_id} in this project", "not_found", 404, "item")
    _, status, is_gold, gold, lease_count, open_slots, confidence = row
    ids, values, estimates = [], [], {}
    held_id = held_expires = previous_label = None
    for (held_id, held_expires, previous_label, answer_id, annotator_id, answer_value, excluded, request_id,
         result, accuracy, confusion, labels) in state:
        if annotator_id is None:  # no answers and no estimate: the lease/consensus row alone
            continue
        if accuracy is not None or confusion is not None:
            estimates[annotator_id] = Estimate(annotator_id, accuracy, rawsql.json_value(confusion),
                                               rawsql.json_value(labels) or [])
        if answer_id is None:
            continue
        if annotator_id == annotator.pk:
            if client_request_id and request_id == client_request_id:
                return _replay(answer_id, result)
            return _refuse("you already answered this item", "already_answered")
        if not excluded:
            ids.append(annotator_id)
            values.append(rawsql.json_value(answer_value))
    now = timezone.now()
    # The caller's lease on the item counts when it is the one they name (or they name none).
    named = held_id is not None and (lease_id is None or held_id == lease_id)
    live = named and rawsql.time_value(held_expires) > now
    if not live and not is_gold:
        if status not in ACTIVE or len(values) >= project.max_answers or (
                not named and open_slots <= 0):
            return _refuse(
                "your lease on this item expired and the item no longer needs your answer "
                f"(it is {ItemStatus(status).label.lower()}); your answer was not stored",
                "not_needed")
    writes = rawsql.Writes()
    if held_id is not None:  # an answer closes the caller's lease on the item, whichever they named
        writes.add("UPDATE labeling_lease SET state = 'answered', closed_at = %s WHERE id = %s "
                   "AND state = 'active'", [rawsql.time_param(now), held_id])
        lease_count -= 1
    item = rawsql.build(Item, _ITEM_FIELDS, (item_id, project.pk, status, bool(is_gold), rawsql.json_value(gold),
                                             lease_count, confidence))
    if is_gold:
        writes.add("UPDATE labeling_item SET answer_count = answer_count + 1, lease_count = %s, "
                   "open_slots = needed - %s WHERE id = %s", [lease_count, lease_count, item_id])
        # Whether it was right is not told: gold items look like any other item.
        decision = {"status": status, "label": None, "confidence": None}
    elif status == ItemStatus.REVIEWED:
        # A lead's label stands; the answer is kept and the lease it closed is released.
        if held_id is not None:
            writes.add("UPDATE labeling_item SET lease_count = %s, open_slots = needed - %s WHERE id = %s",
                       [lease_count, lease_count, item_id])
        decision = {"status": status, "label": rawsql.json_value(previous_label), "confidence": confidence}
    else:
        outcome = item_decide(
            item=item, project=project, reason="answer",
            answers=ItemAnswers(ids + [annotator.pk], values + [value]), estimates=estimates,
            previous_label=rawsql.json_value(previous_label), writes=writes)
        decision = {"status": outcome.status, "label": outcome.label, "confidence": outcome.confidence}
    body = {"item": item_id, "status": item.status, "decision": decision}
    insert = (_ANSWER_INSERT_SQL, [item_id, annotator.pk, rawsql.json_param(value), seconds, source,
                                   client_request_id or None, rawsql.json_param(body), rawsql.time_param(now)])
    then_rows = None
    if commit and not is_gold:
        # Nothing else to do in this transaction: the writes, the commit and the caller's next
        # statement in one round trip (Django's commit at the end of the block finds it done).
        done = rawsql.fetch_many([writes.statement(insert), rawsql.COMMIT], then=then)
        answer_id = done[0][0][0]
        then_rows = done[2] if then is not None else None
    else:
        answer_id = writes.run(insert)[0]
    if is_gold:
        gold_answer_record(project=project, annotator=annotator, item=item, value=value)
    return Submission({"answer": answer_id, **body}, created=True, membership_stale=bool(is_gold),
                      then_rows=then_rows)

