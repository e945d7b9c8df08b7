"""Deciding items after each answer, on review, and when answers are excluded.

``item_decide`` is the one function that writes an item's decision. It expects the caller to
hold the item's row lock (``Item.objects.select_for_update()`` inside ``transaction.atomic``): the
answers it reads and the counters it writes must not change under it. The decision itself is the
engine's ``decide_item`` (plain Python, the batch ``decide_items`` on one item) over the item's
counted answers and the annotators' current estimates, so recomputing from scratch over the stored answers gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils import timezone

from labeling.aggregation import QuorumRule
from labeling.aggregation.quorum import decide_item, log_table
from labeling.models import (
    ACTIVE_STATUSES, Consensus, ConsensusMethod, DecisionEvent, Item, ItemStatus, Project, RuleKind,
)
from labeling import rawsql
from labeling.selectors import Estimate, ItemAnswers, confusions_for, item_answers, label_space

DEFAULT_ACCURACY = 0.7


def quorum_rule(project: Project) -> QuorumRule:
    return QuorumRule(
        kind=project.rule_kind,
        k=project.agree_k,
        max_answers=project.max_answers,
        min_answers=project.min_answers,
        escalate_after=project.escalate_after if project.rule_kind == RuleKind.ESCALATE else None,
        escalate_k=project.escalate_k if project.rule_kind == RuleKind.ESCALATE else None,
        confidence=project.confidence_target if project.rule_kind == RuleKind.CONFIDENCE else None,
    )


def initial_needed(project: Project) -> int:
    """Answers a fresh item needs before its rule can possibly decide."""
    return needed_after(project, top_votes=0, answers=0)


def needed_after(project: Project, *, top_votes: int, answers: int) -> int:
    """Further answers needed before the rule could decide an undecided item, given the votes so
    far: never more than the answers it may still take, at least 1 while it may take any. The
    task picker hands out at most this many leases at a time, so items are not over-answered."""
    cap = project.max_answers - answers
    if cap <= 0:
        return 0
    at_least_min = project.min_answers - answers
    if project.rule_kind == RuleKind.CONFIDENCE:
        return max(1, min(cap, at_least_min))
    k = project.agree_k
    if project.rule_kind == RuleKind.ESCALATE:
        stage_one = answers <= project.escalate_after and top_votes + (project.escalate_after - answers) >= k
        if stage_one and answers < project.escalate_after:
            cap = min(cap, project.escalate_after - answers)
        else:
            k = project.escalate_k
    return max(1, min(cap, max(k - top_votes, at_least_min)))


@dataclass
class Outcome:
    status: str
    label: Any
    confidence: float
    tied: bool
    votes: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "label": self.label, "confidence": self.confidence, "tied": self.tied,
                "votes": self.votes}


def evaluate(project: Project, answers: ItemAnswers, estimates: dict[int, Estimate] | None = None) -> Outcome:
    """The decision the rule gives for these answers (no writes). ``estimates``: the annotators'
    stored estimates when the caller already read them (else they are read here)."""
    if not answers.values:
        return Outcome(ItemStatus.OPEN, None, 0.0, False, {})
    space, codes = label_space(project, answers.values)
    order = list(dict.fromkeys(answers.annotator_ids))
    confusions = confusions_for(project, order, space, estimates=estimates)
    rows = {a: i for i, a in enumerate(order)}
    if confusions is not None:
        known = ~np.isnan(confusions).any(axis=(1, 2))
        annotator_codes = [rows[a] if known[rows[a]] else -1 for a in answers.annotator_ids]
        confusions = np.nan_to_num(confusions, nan=1.0 / space.n_classes)
    else:
        annotator_codes = [-1] * len(answers.annotator_ids)
    decision = decide_item(codes, annotator_codes, n_classes=space.n_classes, rule=quorum_rule(project),
                           table=log_table(confusions, space.n_classes, DEFAULT_ACCURACY))
    votes = {space.keys[c]: n for c, n in enumerate(decision.counts[:len(space.keys)]) if n}
    label = space.values[decision.label] if decision.label is not None and decision.label < len(space.keys) else None
    status = {"accepted": ItemStatus.ACCEPTED, "no_consensus": ItemStatus.NO_CONSENSUS}.get(
        decision.status, ItemStatus.IN_PROGRESS)
    return Outcome(status, label, round(float(decision.confidence), 12), decision.tied, votes)


_NO_LABEL = object()


def item_decide(*, item: Item, project: Project, reason: str, actor=None, answers: ItemAnswers | None = None,
                estimates: dict[int, Estimate] | None = None, previous_label: Any = _NO_LABEL,
                writes: rawsql.Writes | None = None) -> Outcome:
    """Re-decide ``item`` from its counted answers and write the result. Caller holds the row lock.

    ``item`` must carry the current ``status``, ``lease_count`` and ``is_gold``; it is updated in
    place. ``answers``/``estimates``/``previous_label`` (the current consensus label) may be
    passed when the caller already read them under the lock; otherwise they are read here.
    ``writes``: collect the writes there instead of running them (the caller runs them with its
    own, in one statement on PostgreSQL).

    Reviewed items keep the reviewer's label (a review wins). Gold items are not decided by
    votes: their answer is known; their answers measure annotators.
    """
    if item.status == ItemStatus.REVIEWED or item.is_gold:
        return Outcome(item.status, None, item.confidence or 0.0, False, {})
    if answers is None:
        answers = item_answers(item.pk)
    outcome = evaluate(project, answers, estimates)
    n = len(answers.values)
    if outcome.status in ACTIVE_STATUSES:
        # Undecided: "open" while nobody has answered or holds it, "in progress" otherwise.
        outcome.status = ItemStatus.IN_PROGRESS if n or item.lease_count else ItemStatus.OPEN
        needed = needed_after(project, top_votes=max(outcome.votes.values(), default=0), answers=n)
    else:
        needed = 0
    if previous_label is _NO_LABEL:
        previous_label = Consensus.objects.filter(item=item).values_list("label", flat=True).first()
    previous = item.status
    now = timezone.now()
    item.status = outcome.status
    item.answer_count = n
    item.needed = needed
    item.open_slots = needed - item.lease_count
    item.confidence = outcome.confidence if n else None
    own = writes is None
    writes = rawsql.Writes() if own else writes
    writes.add(_ITEM_UPDATE_SQL, [item.status, n, item.lease_count, needed, item.open_slots, item.confidence,
                                  rawsql.time_param(now), item.pk])
    _write_consensus(item, project, outcome, n, now, writes)
    decided = item.status not in ACTIVE_STATUSES
    if previous != item.status or (decided and previous_label != outcome.label):
        writes.add(_EVENT_INSERT_SQL, [item.pk, item.status, previous, _json_or_null(outcome.label),
                                       outcome.confidence if n else None, reason[:200], getattr(actor, "pk", None),
                                       rawsql.time_param(now)])
    if own:
        writes.run()
    return outcome


_ITEM_UPDATE_SQL = ("UPDATE labeling_item SET status = %s, answer_count = %s, lease_count = %s, needed = %s, "
                    "open_slots = %s, confidence = %s, updated_at = %s WHERE id = %s")
_CONSENSUS_UPSERT_SQL = (
    "INSERT INTO labeling_consensus (item_id, label, confidence, method, votes, status, tied, reviewed_by_id, "
    "reviewed_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, NULL, %s) "
    "ON CONFLICT (item_id) DO UPDATE SET label = excluded.label, confidence = excluded.confidence, "
    "method = excluded.method, votes = excluded.votes, status = excluded.status, tied = excluded.tied, "
    "reviewed_by_id = NULL, reviewed_at = NULL, updated_at = excluded.updated_at"
)
_EVENT_INSERT_SQL = (
    "INSERT INTO labeling_decisionevent (item_id, status, previous_status, label, confidence, reason, actor_id, "
    "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def _json_or_null(value: Any) -> Any:
    return None if value is None else rawsql.json_param(value)


def _write_consensus(item: Item, project: Project, outcome: Outcome, n: int, now, writes: rawsql.Writes) -> None:
    if n == 0:
        writes.add("DELETE FROM labeling_consensus WHERE item_id = %s", [item.pk])
        return
    method = project.consensus_method if project.consensus_method in ConsensusMethod.values else "majority"
    writes.add(_CONSENSUS_UPSERT_SQL, [
        item.pk, _json_or_null(outcome.label), min(max(outcome.confidence, 0.0), 1.0), method,
        rawsql.json_param(outcome.votes), outcome.status, outcome.tied, rawsql.time_param(now)])


def review_apply(*, item: Item, project: Project, label: Any, user) -> None:
    """Write a lead's label. Caller holds the row lock and has validated ``label``."""
    previous = item.status
    now = timezone.now()
    answers = item_answers(item.pk)
    votes = evaluate(project, answers).votes if answers.values else {}
    Consensus.objects.update_or_create(item=item, defaults={
        "label": label, "confidence": 1.0, "method": "review", "votes": votes, "status": ItemStatus.REVIEWED,
        "tied": False, "reviewed_by": user, "reviewed_at": now,
    })
    item.status = ItemStatus.REVIEWED
    item.needed = 0
    item.open_slots = -item.lease_count
    item.confidence = 1.0
    item.save(update_fields=["status", "needed", "open_slots", "confidence", "updated_at"])
    DecisionEvent.objects.create(item=item, status=ItemStatus.REVIEWED, previous_status=previous, label=label,
                                 confidence=1.0, reason="review", actor=user)
