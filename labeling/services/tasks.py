"""Handing out work: leases on items, skipping, expiry.

How the picker stays fast and correct (see docs/ARCHITECTURE.md, "Getting work"):

- Every item carries ``open_slots`` = answers it still needs before its rule can decide, minus
  its open leases. Only items with ``open_slots > 0`` that are still undecided are in the partial
  indexes ``item_pick_depth`` / ``item_pick_breadth`` / ``item_pick_uncertain``; the picker walks
  the one for the project's order and stops at the first item this annotator has not answered,
  skipped or leased (two index probes per candidate). Its cost follows the annotator's own
  history among open items, not the size of the project.
- On PostgreSQL the candidate row is taken with ``SELECT ... FOR UPDATE SKIP LOCKED``: two
  annotators never wait on, or both take, the last slot of an item. On SQLite, transactions are
  IMMEDIATE (settings), so writers are serialised and the same invariant holds.
- Counters change only under the item's row lock: ``lease_count`` and ``open_slots`` here,
  ``answer_count``/``needed`` in the decision.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from annotators.models import Annotator, Membership
from labeling.errors import DomainError
from labeling.models import ACTIVE_STATUSES, Answer, Item, ItemStatus, Lease, LeaseState, Project, TaskOrder

MAX_OPEN_LEASES = 3  # the item on screen, the one prefetched, one spare for a slow network
EXPIRY_BATCH = 500


@dataclass
class TaskOffer:
    lease: Lease
    item: Item


def membership_for(*, project: Project, annotator: Annotator) -> Membership:
    membership = Membership.objects.filter(project=project, annotator=annotator).first()
    if membership is None:
        raise DomainError.single(None, "you are not a member of this project", status=403, code="not_member")
    if membership.paused:
        reason = membership.paused_reason or "a lead paused you"
        raise DomainError.single(None, f"you are paused in this project: {reason}", status=403, code="paused")
    return membership


def _release_counts(item_ids: list[int]) -> None:
    """One lease fewer on each of these items (one statement per distinct count)."""
    per_item: dict[int, int] = {}
    for item_id in item_ids:
        per_item[item_id] = per_item.get(item_id, 0) + 1
    by_n: dict[int, list[int]] = {}
    for item_id, n in per_item.items():
        by_n.setdefault(n, []).append(item_id)
    for n, ids in by_n.items():
        Item.objects.filter(pk__in=ids).update(lease_count=F("lease_count") - n, open_slots=F("open_slots") + n)


def lease_expire_due(*, project: Project, now=None) -> int:
    """Return overdue leases to the pool. Cheap when there are none (a partial index on expiry).

    Lock order everywhere is item, then lease. Here both rows are taken in one statement with
    SKIP LOCKED, so expiry never waits on (or deadlocks with) a submission holding an item; a
    lease whose item is busy is simply expired on a later call."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Lease.objects.filter(project=project, state=LeaseState.ACTIVE, expires_at__lt=now)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_related("item").select_for_update(skip_locked=True, of=("self", "item"))
        rows = [(lease.pk, lease.item_id) for lease in due.only("id", "item_id", "item__id")[:EXPIRY_BATCH]]
        if not rows:
            return 0
        Lease.objects.filter(pk__in=[r[0] for r in rows]).update(state=LeaseState.EXPIRED, closed_at=now)
        _release_counts([r[1] for r in rows])
        Item.objects.filter(pk__in=[r[1] for r in rows], status=ItemStatus.IN_PROGRESS, answer_count=0,
                            lease_count=0).update(status=ItemStatus.OPEN)
    return len(rows)


def lease_expire_all() -> int:
    """Expire overdue leases in every project that has some (used by the periodic task)."""
    now = timezone.now()
    project_ids = (Lease.objects.filter(state=LeaseState.ACTIVE, expires_at__lt=now)
                   .values_list("project_id", flat=True).distinct())
    return sum(lease_expire_due(project=project, now=now) for project in Project.objects.filter(pk__in=project_ids))


def _candidates(project: Project, annotator: Annotator, *, gold: bool):
    mine_answered = Answer.objects.filter(item=OuterRef("pk"), annotator=annotator)
    mine_leased = Lease.objects.filter(item=OuterRef("pk"), annotator=annotator,
                                       state__in=[LeaseState.ACTIVE, LeaseState.SKIPPED])
    qs = Item.objects.filter(project=project, is_gold=gold)
    if gold:
        qs = qs.order_by("answer_count", "id")
    else:
        qs = qs.filter(status__in=ACTIVE_STATUSES, open_slots__gt=0)
        order = {
            TaskOrder.DEPTH_FIRST: ("-answer_count", "id"),
            TaskOrder.BREADTH_FIRST: ("answer_count", "id"),
            TaskOrder.LEAST_CERTAIN: (F("confidence").asc(nulls_last=True), "id"),
        }[project.task_order]
        qs = qs.order_by(*order)
    qs = qs.filter(~Exists(mine_answered), ~Exists(mine_leased))
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def task_next(*, project: Project, annotator: Annotator, exclude_leases: list[int] | None = None,
              rng: random.Random | None = None) -> TaskOffer | None:
    """Lease the next item to ``annotator``, or give back a lease they already hold.

    - A lease they hold and did not list in ``exclude_leases`` comes back first (a reload shows
      the same item); otherwise a new lease, up to MAX_OPEN_LEASES at once.
    - With probability ``project.gold_rate`` a gold item they have not seen is served; gold items
      look like any other item.
    - None when there is no work left for them.
    """
    membership_for(project=project, annotator=annotator)
    lease_expire_due(project=project)
    now = timezone.now()
    with transaction.atomic():
        held = list(Lease.objects.filter(project=project, annotator=annotator, state=LeaseState.ACTIVE,
                                         expires_at__gt=now).select_related("item").order_by("id"))
        for lease in held:
            if lease.pk not in (exclude_leases or ()):
                return TaskOffer(lease, lease.item)
        if len(held) >= MAX_OPEN_LEASES:
            raise DomainError.single(None, f"you hold {len(held)} open tasks; answer or skip one first",
                                     status=409, code="too_many_leases")
        item = None
        rng = rng or random
        if project.gold_rate and rng.random() < project.gold_rate:
            item = _candidates(project, annotator, gold=True).first()
        if item is None:
            item = _candidates(project, annotator, gold=False).first()
        if item is None:
            return None
        lease = Lease.objects.create(project=project, item=item, annotator=annotator, is_gold=item.is_gold,
                                     expires_at=now + timedelta(seconds=project.lease_seconds))
        Item.objects.filter(pk=item.pk).update(
            lease_count=F("lease_count") + 1, open_slots=F("open_slots") - 1,
            status=ItemStatus.IN_PROGRESS if item.status == ItemStatus.OPEN else item.status,
        )
        item.refresh_from_db()
        return TaskOffer(lease, item)


def lease_skip(*, lease: Lease, annotator: Annotator) -> Lease:
    """Give the item back without an answer; it is never offered to this annotator again."""
    if lease.annotator_id != annotator.pk:
        raise DomainError.single("lease", "not your lease", status=404, code="not_found")
    with transaction.atomic():
        Item.objects.select_for_update().filter(pk=lease.item_id).first()  # item first, then lease
        lease = Lease.objects.select_for_update().get(pk=lease.pk)
        if lease.state == LeaseState.SKIPPED:
            return lease
        if lease.state == LeaseState.ANSWERED:
            raise DomainError.single("lease", "you already answered this item", status=409, code="already_answered")
        was_active = lease.state == LeaseState.ACTIVE
        # A skip also records an expired lease as skipped: the annotator chose not to answer.
        Lease.objects.filter(item_id=lease.item_id, annotator=annotator, state=LeaseState.SKIPPED).delete()
        lease.state = LeaseState.SKIPPED
        lease.closed_at = timezone.now()
        lease.save(update_fields=["state", "closed_at"])
        if was_active:
            _release_counts([lease.item_id])
            Item.objects.filter(pk=lease.item_id, status=ItemStatus.IN_PROGRESS, answer_count=0,
                                lease_count=0).update(status=ItemStatus.OPEN)
    return lease


def lease_release_all(*, project: Project, annotator: Annotator) -> int:
    """Release every open lease of an annotator in a project (when they are paused or removed)."""
    with transaction.atomic():
        held = Lease.objects.filter(project=project, annotator=annotator, state=LeaseState.ACTIVE)
        item_ids = sorted(held.values_list("item_id", flat=True))
        list(Item.objects.select_for_update().filter(pk__in=item_ids).order_by("pk").values_list("pk"))
        rows = list(held.select_for_update().values_list("id", "item_id"))
        Lease.objects.filter(pk__in=[r[0] for r in rows]).update(state=LeaseState.RELEASED, closed_at=timezone.now())
        _release_counts([r[1] for r in rows])
    return len(rows)

