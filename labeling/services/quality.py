"""Annotator quality: gold answers, pausing, excluding a paused annotator's answers, review."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from annotators.models import Annotator, Membership
from annotators.services import membership_pause
from labeling.errors import DomainError
from labeling.models import AnnotatorEstimate, Answer, Item, Project
from labeling.schema import LabelSchema, answer_key, clean_answer


def gold_answer_record(*, project: Project, annotator: Annotator, item: Item, value: Any) -> bool:
    """Count a gold answer for the annotator and pause them if their gold accuracy is too low.

    Right means the same category as the gold answer (free text after the project's
    normalisation, multiple choice as a set)."""
    schema = LabelSchema.of(project)
    correct = answer_key(schema, value) == answer_key(schema, item.gold)
    estimate, _ = AnnotatorEstimate.objects.get_or_create(project=project, annotator=annotator)
    AnnotatorEstimate.objects.filter(pk=estimate.pk).update(
        gold_answers=F("gold_answers") + 1, gold_correct=F("gold_correct") + int(correct))
    estimate.refresh_from_db()
    threshold = project.pause_below_accuracy
    if threshold is not None and estimate.gold_answers >= project.pause_min_gold:
        accuracy = estimate.gold_correct / estimate.gold_answers
        if accuracy < threshold:
            membership = Membership.objects.filter(project=project, annotator=annotator, paused=False).first()
            if membership is not None:
                membership_pause(
                    membership=membership, paused=True,
                    reason=(f"your accuracy on check items is {accuracy:.0%} over {estimate.gold_answers} "
                            f"of them, below this project's {threshold:.0%}; a lead can unpause you"),
                )
    return correct


@transaction.atomic
def annotator_pause_set(*, membership: Membership, paused: bool, exclude_answers: bool = False,
                        reason: str = "", actor=None) -> dict[str, int]:
    """Pause or unpause an annotator in a project; optionally exclude (or re-include) their answers
    and re-decide every affected item. Items that now need answers go back to the pool."""
    from labeling.services.tasks import lease_release_all

    membership_pause(membership=membership, paused=paused,
                     reason=reason or ("paused by a lead" if paused else ""))
    released = lease_release_all(project=membership.project, annotator=membership.annotator) if paused else 0
    changed = 0
    if exclude_answers or not paused:
        changed = answers_exclusion_set(project=membership.project, annotator=membership.annotator,
                                        excluded=paused and exclude_answers, actor=actor)
    return {"leases_released": released, "items_redecided": changed}


def answers_exclusion_set(*, project: Project, annotator: Annotator, excluded: bool, actor=None) -> int:
    """Leave an annotator's answers out of decisions (or count them again) and re-decide the items."""
    from labeling.services.decisions import item_decide

    answers = Answer.objects.filter(item__project=project, annotator=annotator, excluded=not excluded)
    item_ids = list(answers.values_list("item_id", flat=True))
    if not item_ids:
        return 0
    answers.update(excluded=excluded)
    reason = "answers excluded" if excluded else "answers included again"
    for start in range(0, len(item_ids), 500):
        chunk = sorted(item_ids[start:start + 500])
        for item in Item.objects.select_for_update().filter(pk__in=chunk).order_by("pk"):
            if item.is_gold:
                item.answer_count = Answer.objects.filter(item=item, excluded=False).count()
                item.save(update_fields=["answer_count"])
                continue
            item_decide(item=item, project=project, reason=reason, actor=actor)
    return len(item_ids)


def review_resolve(*, project: Project, item_id: int, label: Any, user) -> Item:
    """A lead decides an item's label; it wins over the votes and records who and when."""
    from labeling.services.decisions import review_apply

    try:
        label = clean_answer(LabelSchema.of(project), label)
    except ValueError as exc:
        raise DomainError.single("label", str(exc)) from None
    with transaction.atomic():
        item = Item.objects.select_for_update().filter(project=project, pk=item_id).first()
        if item is None:
            raise DomainError.single("item", f"no item {item_id} in this project", status=404, code="not_found")
        if item.is_gold:
            raise DomainError.single("item", "gold items have a known answer; edit the gold answer instead")
        review_apply(item=item, project=project, label=label, user=user)
    return item


