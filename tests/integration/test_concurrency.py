"""32 annotators at once on PostgreSQL, 1,000 items, rule 3 of 5, until the project is finished.

Each annotator is a thread with its own database connection, calling the same services the API
views call; half of them send each answer with the next task's statement, as the API's answer
with ``"next": true`` does (writes, commit and next task in one round trip). Some submissions are sent twice (a client retry), some tasks are skipped. Checked:
no (item, annotator) pair twice, no item with more answers than its maximum, every acknowledged
submission stored, no lease left open, and the final decisions equal a from-scratch recomputation
by the engine over all stored answers.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import numpy as np
import pytest
from django.db import connection, connections  # noqa: F401 - `connection` is read by a skipif condition string

from annotators.models import Role
from annotators.services import annotator_for_user, membership_set
from labeling.aggregation import decide_items
from labeling.errors import DomainError
from labeling.models import ACTIVE_STATUSES, Answer, Consensus, Item, ItemStatus, Lease, LeaseState
from labeling.selectors import project_answers
from labeling.services.answers import answer_submit
from labeling.services.decisions import quorum_rule
from labeling.services.items import item_import_objects
from labeling.services.projects import project_create
from labeling.services.tasks import lease_skip, task_next, task_plan
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ANNOTATORS, ITEMS = 32, 1000
LABELS = ["a", "b", "c"]


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="runs in the PostgreSQL pass of .ci/run (DATABASE_URL=postgres://...)")
def test_32_annotators_finish_a_project_without_breaking_an_invariant():
    lead = UserFactory(username="lead-c")
    project = project_create(created_by=lead, name="concurrency", schema_kind="single", choices=LABELS,
                             rule_kind="k_of_n", agree_k=3, min_answers=3, max_answers=5)
    rng = random.Random(5)
    truth = {f"i{i}": rng.choice(LABELS) for i in range(ITEMS)}
    item_import_objects(project=project, objects=[{"external_id": e, "text": e} for e in truth])
    users = [UserFactory(username=f"c{i}") for i in range(ANNOTATORS)]
    annotators = []
    for user in users:
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        annotators.append(annotator_for_user(user=user))
    external = dict(Item.objects.filter(project=project).values_list("pk", "external_id"))

    acknowledged: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        local = random.Random(index)
        accuracy = 0.6 + 0.35 * local.random()
        mine: list[int] = []
        combined = index % 2 == 1  # as the API's answer with "next": true (one round trip)
        offer = None
        try:
            while True:
                if offer is None:
                    offer = task_next(project=project, annotator=annotators[index])
                if offer is None:
                    # Nothing free right now; more may open up when others' answers disagree.
                    # Stop only when no undecided item is left that this annotator could take.
                    if not Item.objects.filter(project=project, status__in=ACTIVE_STATUSES).exclude(
                            answers__annotator=annotators[index]).exclude(
                            leases__annotator=annotators[index], leases__state=LeaseState.SKIPPED).exists():
                        break
                    time.sleep(0.05)
                    continue
                if local.random() < 0.03:
                    lease_skip(lease=offer.lease, annotator=annotators[index])
                    offer = None
                    continue
                right = truth[external[offer.item.pk]]
                value = right if local.random() < accuracy else local.choice([x for x in LABELS if x != right])
                request_id = uuid.uuid4().hex
                plan = task_plan(project=project, annotator=annotators[index]) if combined else None
                try:
                    result = answer_submit(project=project, annotator=annotators[index], item_id=offer.item.pk,
                                           value=value, seconds=1.0, lease_id=offer.lease.pk,
                                           client_request_id=request_id,
                                           then=(plan.sql, plan.params) if plan is not None else None)
                except DomainError as exc:
                    # A live lease is never refused; anything else is a bug.
                    raise AssertionError(f"submission refused: {exc}") from exc
                mine.append(result.body["answer"])
                answered, offer = offer, None
                if combined:
                    # the next task's statement ran in the answer's round trip, after its commit
                    assert isinstance(result.then_rows, list), result.then_rows
                    offer = task_next(project=project, annotator=annotators[index], plan=plan,
                                      rows=result.then_rows)
                if local.random() < 0.05:  # the client retries: same request id, same answer back
                    again = answer_submit(project=project, annotator=annotators[index], item_id=answered.item.pk,
                                          value=value, seconds=1.0, lease_id=answered.lease.pk,
                                          client_request_id=request_id)
                    assert not again.created and again.body == result.body
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            with lock:
                errors.append(exc)
        finally:
            with lock:
                acknowledged.extend(mine)
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(ANNOTATORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "annotator threads still running after 10 minutes"
    assert not errors, errors[:3]

    answers = Answer.objects.filter(item__project=project)
    pairs = Counter(answers.values_list("item_id", "annotator_id"))
    assert max(pairs.values()) == 1
    per_item = Counter(answers.values_list("item_id", flat=True))
    assert max(per_item.values()) <= 5
    stored = set(answers.values_list("id", flat=True))
    assert len(acknowledged) == len(set(acknowledged)) == len(stored)
    assert set(acknowledged) == stored

    # Finished: every item decided, no lease open, counters consistent with the rows.
    statuses = Counter(Item.objects.filter(project=project).values_list("status", flat=True))
    assert set(statuses) <= {ItemStatus.ACCEPTED, ItemStatus.NO_CONSENSUS}, statuses
    assert not Lease.objects.filter(project=project, state=LeaseState.ACTIVE).exists()
    for pk, count, leases in Item.objects.filter(project=project).values_list("pk", "answer_count", "lease_count"):
        assert (count, leases) == (per_item.get(pk, 0), 0)

    # From scratch: the engine over every stored answer gives the stored decisions.
    data = project_answers(project)
    batch = decide_items(data.items, np.full(len(data.items), -1), data.labels, n_items=len(data.item_ids),
                         n_classes=data.space.n_classes, rule=quorum_rule(project), default_accuracy=0.7)
    recomputed = {
        int(pk): (batch.status_names[i], data.space.values[batch.labels[i]])
        for i, pk in enumerate(data.item_ids.tolist())
    }
    stored_decisions = {
        item_id: ({"accepted": "accepted", "no_consensus": "no_consensus"}[status], label)
        for item_id, status, label in Consensus.objects.filter(item__project=project)
        .values_list("item_id", "status", "label")
    }
    assert stored_decisions == recomputed
    assert len(stored_decisions) == ITEMS
    print(f"\nconcurrency: {len(stored)} answers by {ANNOTATORS} annotators; statuses {dict(statuses)}")
