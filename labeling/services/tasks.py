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

import functools
import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotators.models import Annotator, Membership
from labeling import rawsql
from labeling.errors import DomainError
from labeling.models import Item, ItemStatus, Lease, LeaseState, Project, TaskOrder

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
    return _check_membership(membership)


def _check_membership(membership: Membership) -> Membership:
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


_T_ITEM, _T_LEASE, _T_ANSWER = "labeling_item", "labeling_lease", "labeling_answer"
_ORDER_SQL = {
    TaskOrder.DEPTH_FIRST: "i.answer_count DESC, i.id",
    TaskOrder.BREADTH_FIRST: "i.answer_count, i.id",
    TaskOrder.LEAST_CERTAIN: "i.confidence ASC NULLS LAST, i.id",
}
# The partial indexes' conditions, as literals: SQLite uses a partial index only when the query
# repeats its condition with the same constants (a bound parameter does not count).
_POOL_SQL = "NOT i.is_gold AND i.open_slots > 0 AND i.status IN ('open', 'in_progress')"
_GOLD_SQL = "i.is_gold"
_NOT_MINE_SQL = (
    f"NOT EXISTS (SELECT 1 FROM {_T_ANSWER} a WHERE a.item_id = i.id AND a.annotator_id = %s) "
    f"AND NOT EXISTS (SELECT 1 FROM {_T_LEASE} l WHERE l.annotator_id = %s AND l.item_id = i.id "
    "AND l.state IN ('active', 'skipped'))"
)


def _pick_sql(order: str, *, gold: bool, skip_locked: bool) -> str:
    """The next item for an annotator: first in the pool's index order that they have not
    answered, skipped or leased. Params: project, annotator, annotator."""
    where = _GOLD_SQL if gold else _POOL_SQL
    order_sql = "i.answer_count, i.id" if gold else _ORDER_SQL[order]
    lock = " FOR UPDATE OF i SKIP LOCKED" if skip_locked else ""
    return (f"SELECT i.id FROM {_T_ITEM} i WHERE i.project_id = %s AND {where} AND {_NOT_MINE_SQL} "
            f"ORDER BY {order_sql} LIMIT 1{lock}")


def _lease_cte_sql(order: str, *, gold: bool, guard: str = "", tagged: bool = False,
                   async_commit: bool = False) -> str:
    """PostgreSQL: pick, count the lease on the item and insert it, in one statement (so one
    round trip and its own transaction). Params: project, annotator, annotator, project,
    annotator, expires_at, created_at. ``guard``: a further condition of the pick (see
    :func:`_next_sql`); ``tagged``: rows as :func:`_next_sql` gives them; ``async_commit``: the
    statement's own transaction commits without waiting for the WAL flush (only when it is its
    own transaction: see ``_ASYNC_COMMIT_CTE``)."""
    pick = _pick_sql(order, gold=gold, skip_locked=True)
    if guard:
        pick = pick.replace(" ORDER BY ", f" AND {guard} ORDER BY ", 1)
    return (
        f"WITH pick AS ({pick}), "
        f"upd AS (UPDATE {_T_ITEM} t SET lease_count = t.lease_count + 1, open_slots = t.open_slots - 1, "
        "status = CASE WHEN t.status = 'open' THEN 'in_progress' ELSE t.status END "
        "FROM pick WHERE t.id = pick.id RETURNING t.id, t.data, t.is_gold), "
        f"ins AS (INSERT INTO {_T_LEASE} (project_id, item_id, annotator_id, state, is_gold, expires_at, "
        "created_at, closed_at) SELECT %s, upd.id, %s, 'active', upd.is_gold, %s, %s, NULL FROM upd "
        "RETURNING id, item_id)"
        + (f", {_ASYNC_COMMIT_CTE} " if async_commit else " ")
        + ("SELECT 'new', ins.id, upd.id, upd.data, upd.is_gold, 'in_progress', NULL::timestamptz " if tagged
           else "SELECT ins.id, upd.id, upd.data, upd.is_gold ")
        + "FROM ins JOIN upd ON upd.id = ins.item_id"
        + (" CROSS JOIN async_commit" if async_commit else "")
    )


# The caller's open leases, and one row of NULLs if any lease in the project is overdue (an
# index probe on lease_active_expiry). Params: annotator, project, now, project, now.
_HELD_SQL = (
    f"SELECT l.id, l.item_id, l.expires_at, i.data, i.is_gold, i.status FROM {_T_LEASE} l "
    f"JOIN {_T_ITEM} i ON i.id = l.item_id "
    "WHERE l.annotator_id = %s AND l.project_id = %s AND l.state = 'active' AND l.expires_at > %s "
    "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE EXISTS "
    f"(SELECT 1 FROM {_T_LEASE} d WHERE d.project_id = %s AND d.state = 'active' AND d.expires_at < %s) "
    "ORDER BY 1"
)


# PostgreSQL, next-task in one statement: the caller's open leases (``held``), whether any lease of
# the project is overdue (``due``), and a new lease only when neither gives the answer: no open
# lease outside ``exclude_leases``, fewer than MAX_OPEN_LEASES, nothing overdue (expiry runs
# first then, in Python). Rows: ('new' | 'held' | 'due', lease, item, data, is_gold, status,
# expires_at). Params: annotator, project, now, project, now, exclude_leases, then the pick's.
_HELD_CTES = (
    "held AS (SELECT l.id, l.item_id, l.expires_at, i.data, i.is_gold, i.status "
    f"FROM {_T_LEASE} l JOIN {_T_ITEM} i ON i.id = l.item_id "
    "WHERE l.annotator_id = %s AND l.project_id = %s AND l.state = 'active' AND l.expires_at > %s), "
    f"due AS (SELECT EXISTS (SELECT 1 FROM {_T_LEASE} d WHERE d.project_id = %s AND d.state = 'active' "
    "AND d.expires_at < %s) AS overdue), "
    "guard AS (SELECT NOT (SELECT overdue FROM due) AND count(*) < " + str(MAX_OPEN_LEASES) + " "
    "AND count(*) FILTER (WHERE NOT (id = ANY(%s::bigint[]))) = 0 AS ok FROM held)"
)
_GUARD_SQL = "(SELECT ok FROM guard)"


# A lease is soft state: losing the last few on a crash only means those items are leased again
# (a late answer is still taken while the item needs it). So the statement that only leases
# commits asynchronously: its commit does not wait for the WAL flush (the WAL writer does it
# within a few hundred ms, and any later synchronous commit, such as the answer on that lease,
# flushes it first). ``set_config(..., true)`` lasts until the end of the statement's own
# transaction; the CTE is joined to the new lease's row, so it runs exactly when a lease is written.
_ASYNC_COMMIT_CTE = "async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS v)"


@functools.lru_cache(maxsize=None)  # a few fixed strings, built on every next task otherwise
def _next_sql(order: str, *, gold: bool, async_commit: bool = False) -> str:
    lease = _lease_cte_sql(order, gold=gold, guard=_GUARD_SQL, tagged=True, async_commit=async_commit)
    assert lease.startswith("WITH ")
    return (
        f"WITH {_HELD_CTES}, {lease[len('WITH '):]} "
        "UNION ALL SELECT 'held', id, item_id, data, is_gold, status, expires_at FROM held "
        "UNION ALL SELECT 'due', NULL, NULL, NULL, NULL, NULL, NULL FROM due WHERE overdue"
    )


_OFFER_LEASE = ("id", "project_id", "item_id", "annotator_id", "state", "is_gold", "expires_at")
_OFFER_ITEM = ("id", "project_id", "data", "is_gold", "status")


def _offer(project: Project, annotator: Annotator, lease_id: int, item_id: int, data, is_gold, expires_at,
           status: str = ItemStatus.IN_PROGRESS) -> TaskOffer:
    """The offer's lease and item as loaded instances (the other fields deferred, as from the ORM
    with ``only()``), built without ``Model.__init__`` (``rawsql.build``)."""
    lease = rawsql.build(Lease, _OFFER_LEASE, (lease_id, project.pk, item_id, annotator.pk, LeaseState.ACTIVE,
                                               bool(is_gold), expires_at))
    item = rawsql.build(Item, _OFFER_ITEM, (item_id, project.pk, rawsql.json_value(data), bool(is_gold), status))
    return TaskOffer(lease, item)


def _lease_new(project: Project, annotator: Annotator, *, gold: bool, now) -> TaskOffer | None:
    expires = now + timedelta(seconds=project.lease_seconds)
    order = project.task_order
    if connection.vendor == "postgresql":
        sql = _lease_cte_sql(order, gold=gold, async_commit=not connection.in_atomic_block)
        row = rawsql.fetchone(sql, [
            project.pk, annotator.pk, annotator.pk, project.pk, annotator.pk, expires, now])
        if row is None:
            return None
        return _offer(project, annotator, row[0], row[1], row[2], row[3], expires)
    # SQLite (and any backend without SKIP LOCKED): the transaction holds the write lock.
    with transaction.atomic():
        row = rawsql.fetchone(_pick_sql(order, gold=gold, skip_locked=False), [project.pk, annotator.pk, annotator.pk])
        if row is None:
            return None
        item_id = row[0]
        rawsql.execute(
            f"UPDATE {_T_ITEM} SET lease_count = lease_count + 1, open_slots = open_slots - 1, "
            "status = CASE WHEN status = 'open' THEN 'in_progress' ELSE status END WHERE id = %s", [item_id])
        lease_row = rawsql.fetchone(
            f"INSERT INTO {_T_LEASE} (project_id, item_id, annotator_id, state, is_gold, expires_at, created_at, "
            f"closed_at) SELECT %s, id, %s, 'active', is_gold, %s, %s, NULL FROM {_T_ITEM} WHERE id = %s "
            "RETURNING id",
            [project.pk, annotator.pk, rawsql.time_param(expires), rawsql.time_param(now), item_id])
        data_row = rawsql.fetchone(f"SELECT data, is_gold FROM {_T_ITEM} WHERE id = %s", [item_id])
        return _offer(project, annotator, lease_row[0], item_id, data_row[0], data_row[1], expires)


@dataclass
class NextPlan:
    """Next task's one statement on PostgreSQL (:func:`_next_sql`), prepared so that a caller can
    send it in the same round trip as its own work (an answer: ``answer_submit(then=...)``);
    :func:`task_next` reads its rows."""

    sql: str
    params: list
    now: object
    gold: bool
    skip: set[int]
    expires: object


def task_plan(*, project: Project, annotator: Annotator, exclude_leases: list[int] | None = None,
              rng: random.Random | None = None) -> NextPlan | None:
    """The statement :func:`task_next` would run, or None where it runs more than one (SQLite).
    The gold roll is made here. Run it as its own transaction (it commits asynchronously when
    planned outside an atomic block, see ``_ASYNC_COMMIT_CTE``)."""
    if connection.vendor != "postgresql":
        return None
    now = timezone.now()
    at = rawsql.time_param(now)
    skip = set(exclude_leases or ())
    rng = rng or random
    gold = bool(project.gold_rate) and rng.random() < project.gold_rate
    expires = now + timedelta(seconds=project.lease_seconds)
    sql = _next_sql(project.task_order, gold=gold, async_commit=not connection.in_atomic_block)
    return NextPlan(sql, [annotator.pk, project.pk, at, project.pk, at, list(skip), project.pk, annotator.pk,
                          annotator.pk, project.pk, annotator.pk, expires, now], now, gold, skip, expires)


def task_next(*, project: Project, annotator: Annotator, exclude_leases: list[int] | None = None,
              rng: random.Random | None = None, membership: Membership | None = None,
              plan: NextPlan | None = None, rows: list | Exception | None = None) -> TaskOffer | None:
    """Lease the next item to ``annotator``, or give back a lease they already hold.

    - A lease they hold and did not list in ``exclude_leases`` comes back first (a reload shows
      the same item); otherwise a new lease, up to MAX_OPEN_LEASES at once.
    - With probability ``project.gold_rate`` a gold item they have not seen is served; gold items
      look like any other item.
    - None when there is no work left for them.

    ``membership``: the caller's membership when already loaded (the API does it in the same
    query as the project); it is checked for a pause here either way.

    On PostgreSQL one statement (:func:`_next_sql`) reads the caller's open leases, tells whether
    any lease of the project is overdue (an index probe; expiry runs only then) and, when neither
    settles the answer, picks, leases and counts. A second one only after an expiry, or when a
    gold item was due and none was left. ``plan``/``rows``: that statement as :func:`task_plan`
    made it and, when the caller already ran it, its rows (or the error it raised).
    """
    if membership is None:
        membership_for(project=project, annotator=annotator)
    else:
        _check_membership(membership)
    if connection.vendor == "postgresql":
        # One statement: the open leases, the overdue check and, when those leave it to a new
        # lease, the new lease (gold or not, as rolled in the plan).
        plan = plan or task_plan(project=project, annotator=annotator, exclude_leases=exclude_leases, rng=rng)
        if isinstance(rows, Exception):
            raise rows
        if rows is None:
            rows = rawsql.fetchall(plan.sql, plan.params)
        now, skip, gold = plan.now, plan.skip, plan.gold
        for tag, lease_id, item_id, data, is_gold, _status, _expires in rows:
            if tag == "new":
                return _offer(project, annotator, lease_id, item_id, data, is_gold, plan.expires)
        held = sorted((r[1], r[2], r[6], r[3], r[4], r[5]) for r in rows if r[0] == "held")
        overdue = any(r[0] == "due" for r in rows)
        picked = not overdue and len(held) < MAX_OPEN_LEASES and all(r[0] in skip for r in held)
    else:
        now = timezone.now()
        at = rawsql.time_param(now)
        skip = set(exclude_leases or ())
        rng = rng or random
        gold = bool(project.gold_rate) and rng.random() < project.gold_rate
        held = rawsql.fetchall(_HELD_SQL, [annotator.pk, project.pk, at, project.pk, at])
        overdue = any(row[0] is None for row in held)
        held = [row for row in held if row[0] is not None]
        picked = False
    if overdue:
        # Overdue leases elsewhere in the project go back to the pool first (none of them is
        # among the caller's open leases above, which are all unexpired).
        lease_expire_due(project=project, now=now)
    for lease_id, item_id, expires_at, data, is_gold, status in held:
        if lease_id not in skip:
            return _offer(project, annotator, lease_id, item_id, data, is_gold, rawsql.time_value(expires_at),
                          status)
    if len(held) >= MAX_OPEN_LEASES:
        raise DomainError.single(None, f"you hold {len(held)} open tasks; answer or skip one first",
                                 status=409, code="too_many_leases")
    offer = None
    if gold and not picked:
        offer = _lease_new(project, annotator, gold=True, now=now)
    if offer is None and not (picked and not gold):
        # (the statement above found no item of the pool for them: none left)
        offer = _lease_new(project, annotator, gold=False, now=now)
    return offer


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

