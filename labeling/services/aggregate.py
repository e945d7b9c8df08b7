"""Re-aggregation of a whole project: a job that re-estimates annotators and re-decides items.

It runs beside live annotation. The engine works on a snapshot of the answers (no lock held
while it computes); then items are re-decided in chunks, each chunk under its rows' locks, from
the answers stored at that moment, with the new estimates. An item answered meanwhile is simply
decided from its newer answers, exactly as the live path would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction

from labeling.aggregation import accuracies_from_gold
from labeling.aggregation.dawid_skene import estimate_annotators
from labeling.models import AnnotatorEstimate, ConsensusMethod, Item, ItemStatus, Job, Project
from labeling.selectors import OPEN_MIN_CLASSES, project_answers

CHUNK = 500
# A full confusion matrix per annotator is estimated for closed label sets up to this size;
# larger or open sets (free text) use the one-coin model.
MAX_CONFUSION_CLASSES = 12


def estimates_refresh(*, project: Project) -> dict[str, Any]:
    """Estimate every annotator of the project and store the estimates the live decisions use.

    Dawid-Skene and one-coin projects: :func:`labeling.aggregation.dawid_skene.estimate_annotators`,
    i.e. EM with an empirical-Bayes prior fitted to the crowd, so each stored matrix/accuracy is a
    posterior mean that accounts for how many answers it rests on (an annotator with 50 answers
    stays closer to the crowd's mean than one with 5,000). Gold items are clamped to their known
    label, so gold answers measure annotators. Free text and multiple-choice sets are coded per
    item (a value means nothing on another item) and get one-coin accuracies only.
    """
    data = project_answers(project)
    n_items, n_ann = len(data.item_ids), len(data.annotator_ids)
    if not len(data.labels):
        return {"annotators": 0, "method": project.consensus_method}
    k = data.space.n_classes
    gold = data.gold if (data.gold >= 0).any() else None
    method = project.consensus_method
    confusions = None
    if method in (ConsensusMethod.DAWID_SKENE, ConsensusMethod.ONE_COIN):
        full = method == ConsensusMethod.DAWID_SKENE and data.space.fixed and k <= MAX_CONFUSION_CLASSES
        if not full:
            method = ConsensusMethod.ONE_COIN
        result = estimate_annotators(
            data.items, data.annotators, data.labels, n_items=n_items, n_annotators=n_ann, n_classes=k,
            gold=gold, model="confusion" if full else "one_coin", item_local=not data.space.fixed,
            min_classes=OPEN_MIN_CLASSES,
        )
        accuracy = result.accuracies
        confusions = result.confusions if full else None
        prior = result.accuracy_prior
        extra = {"n_iter": result.n_iter,
                 "accuracy_prior": {"alpha": prior.alpha, "beta": prior.beta, "chance_share": prior.chance_share},
                 "row_strength": result.row_strength if full else None}
    elif method == ConsensusMethod.WEIGHTED and gold is not None:
        accuracy = accuracies_from_gold(data.items, data.annotators, data.labels, gold, n_ann)
        extra = {}
    else:
        return {"annotators": 0, "method": method, "note": "majority vote keeps no annotator estimates"}
    answers = np.bincount(data.annotators, minlength=n_ann)
    existing = {e.annotator_id: e for e in AnnotatorEstimate.objects.filter(project=project)}
    new, changed = [], []
    for code, annotator_id in enumerate(data.annotator_ids.tolist()):
        est = existing.get(annotator_id) or AnnotatorEstimate(project=project, annotator_id=annotator_id)
        est.accuracy = float(accuracy[code])
        est.confusion = confusions[code].tolist() if confusions is not None else None
        est.labels = list(data.space.keys) if confusions is not None else []
        est.answers = int(answers[code])
        (changed if est.pk else new).append(est)
    AnnotatorEstimate.objects.bulk_create(new, batch_size=1000)
    AnnotatorEstimate.objects.bulk_update(changed, ["accuracy", "confusion", "labels", "answers"], batch_size=1000)
    return {"annotators": n_ann, "method": method, **extra}


def project_redecide(*, project: Project, progress=None) -> dict[str, int]:
    """Re-decide every undecided or vote-decided item with the current estimates."""
    from labeling.services.decisions import item_decide

    ids = list(Item.objects.filter(project=project, is_gold=False, answer_count__gt=0)
               .exclude(status=ItemStatus.REVIEWED).order_by("pk").values_list("pk", flat=True))
    if progress is not None:
        progress.total(len(ids))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic():
            for item in Item.objects.select_for_update().filter(pk__in=ids[start:start + CHUNK]).order_by("pk"):
                before = (item.status, item.confidence)
                item_decide(item=item, project=project, reason="re-aggregation")
                changed += (item.status, item.confidence) != before
        if progress is not None:
            progress(min(start + CHUNK, len(ids)))
    return {"items": len(ids), "changed": changed}


def reaggregation_due_enqueue() -> int:
    """Queue a re-aggregation job for every project whose method keeps annotator estimates and
    that has answers newer than its last finished job; never a second one while one is pending."""
    from django.db.models import Max

    from labeling.models import Answer, JobKind, JobStatus
    from labeling.services.jobs import job_create

    queued = 0
    methods = [ConsensusMethod.DAWID_SKENE, ConsensusMethod.ONE_COIN, ConsensusMethod.WEIGHTED]
    for project in Project.objects.filter(archived=False, consensus_method__in=methods):
        jobs = Job.objects.filter(project=project, kind=JobKind.AGGREGATE)
        if jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
            continue
        last = jobs.filter(status=JobStatus.SUCCEEDED).aggregate(t=Max("started_at"))["t"]
        answers = Answer.objects.filter(item__project=project)
        if not (answers.filter(created_at__gt=last) if last else answers).exists():
            continue
        with transaction.atomic():
            job_create(kind=JobKind.AGGREGATE, project=project, params={"trigger": "periodic"})
        queued += 1
    return queued


def project_reaggregate_job(job: Job, progress) -> dict[str, Any]:
    estimates = estimates_refresh(project=job.project)
    decisions = project_redecide(project=job.project, progress=progress)
    return {"estimates": estimates, "decisions": decisions}
