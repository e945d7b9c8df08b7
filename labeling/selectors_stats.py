"""Reports for leads, annotators and pipelines: agreement, quality, progress, the review queue.

Each report fetches what it needs in a few queries (``values_list``, aggregates) and hands arrays
to the engine; the browser pages draw the same numbers the API serves.
"""

from __future__ import annotations

import math
from datetime import timedelta
from statistics import median
from typing import Any

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from annotators.models import Annotator, Membership
from annotators.quality import wilson_interval
from labeling.aggregation import (
    annotator_agreement, cohen_kappa_matrix, fleiss_kappa, item_agreement, krippendorff_alpha, label_confusion,
    vote_counts,
)
from labeling.models import AnnotatorEstimate, Answer, Consensus, Item, ItemStatus, Lease, LeaseState, Project
from labeling.selectors import project_answers

HISTOGRAM_BINS = [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001]


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _names(annotator_ids: list[int]) -> dict[int, str]:
    return {a.pk: str(a) for a in Annotator.objects.filter(pk__in=annotator_ids).select_related("user")}


def agreement_report(*, project: Project, level: str = "nominal", n_boot: int = 500) -> dict[str, Any]:
    """Krippendorff's alpha (with a bootstrap 95% interval), Fleiss' kappa, per-item agreement
    histogram, pairwise Cohen's kappa, label confusion and the per-annotator quality table."""
    data = project_answers(project)
    n_items, n_annotators = len(data.item_ids), len(data.annotator_ids)
    k = data.space.n_classes
    out: dict[str, Any] = {"level": level, "items": n_items, "answers": int(len(data.labels)), "alpha": None,
                           "alpha_ci": None, "fleiss_kappa": None,
                           "histogram": {"bins": HISTOGRAM_BINS[:-1] + [1.0], "counts": [0] * (len(HISTOGRAM_BINS) - 1)},
                           "pairwise": {"annotators": [], "matrix": []},
                           "confusion": {"labels": list(data.space.keys), "matrix": []}, "annotators": []}
    names = _names(data.annotator_ids.tolist())
    if len(data.labels):
        values = data.labels.astype(float)
        if level != "nominal" and project.schema_kind == "rating":
            values = values + project.scale_min
        if n_annotators >= 2:
            try:
                alpha = krippendorff_alpha(data.items, values if level != "nominal" else data.labels,
                                           n_items=n_items, level=level, n_boot=n_boot, seed=0)
            except ValueError as exc:  # e.g. every answer the same value: alpha is undefined
                out["alpha_note"] = str(exc)
            else:
                out["alpha"] = _num(alpha.alpha)
                if not math.isnan(alpha.ci_low):
                    out["alpha_ci"] = [alpha.ci_low, alpha.ci_high]
        counts = vote_counts(data.items, data.labels, n_items, k)
        out["fleiss_kappa"] = _num(fleiss_kappa(counts))
        shares = item_agreement(counts)
        multi = counts.sum(axis=1) >= 2
        hist, _ = np.histogram(shares[multi & ~np.isnan(shares)], bins=HISTOGRAM_BINS)
        out["histogram"]["counts"] = hist.astype(int).tolist()
        kappas = cohen_kappa_matrix(data.items, data.annotators, data.labels, n_items=n_items,
                                    n_annotators=n_annotators, n_classes=k)
        out["pairwise"] = {"annotators": [names[a] for a in data.annotator_ids.tolist()],
                           "matrix": [[_num(v) for v in row] for row in kappas.tolist()]}
        used = len(data.space.keys)
        conf = label_confusion(data.items, data.annotators, data.labels, n_items=n_items,
                               n_annotators=n_annotators, n_classes=k)
        out["confusion"]["matrix"] = conf[:used, :used].astype(int).tolist()
        consensus = _consensus_codes(project, data)
        agree, compared = annotator_agreement(data.items, data.annotators, data.labels, consensus, n_annotators)
    else:
        agree, compared = np.array([]), np.array([])
    out["annotators"] = quality_table(project=project, agreement={
        int(a): (_num(agree[i]), int(compared[i])) for i, a in enumerate(data.annotator_ids.tolist())})
    return out


def _consensus_codes(project: Project, data) -> np.ndarray:
    """Current decision per item code (-1 where undecided), in the report's label space."""
    from labeling.schema import LabelSchema, answer_key

    schema = LabelSchema.of(project)
    index = {key: c for c, key in enumerate(data.space.keys)}
    codes = np.full(len(data.item_ids), -1, dtype=np.int64)
    position = {pk: i for i, pk in enumerate(data.item_ids.tolist())}
    rows = Consensus.objects.filter(item__project=project, status__in=[ItemStatus.ACCEPTED, ItemStatus.REVIEWED])
    for item_id, label in rows.values_list("item_id", "label").iterator(chunk_size=5000):
        if item_id in position and label is not None:
            codes[position[item_id]] = index.get(answer_key(schema, label), -1)
    gold = data.gold >= 0
    codes[gold] = data.gold[gold]
    return codes


def quality_table(*, project: Project, agreement: dict[int, tuple[float | None, int]] | None = None) -> list[dict]:
    """Per-annotator quality in a project: answers, gold accuracy with a Wilson 95% interval,
    agreement with the consensus, answers per hour, median seconds, paused or not."""
    agreement = agreement or {}
    members = {m.annotator_id: m for m in Membership.objects.filter(project=project).select_related("annotator__user")}
    estimates = {e.annotator_id: e for e in AnnotatorEstimate.objects.filter(project=project)}
    stats = dict.fromkeys(set(members) | set(agreement) | set(estimates))
    seconds: dict[int, list[float]] = {}
    spans: dict[int, list] = {}
    rows = (Answer.objects.filter(item__project=project)
            .values_list("annotator_id", "seconds", "created_at").order_by("annotator_id", "created_at"))
    for annotator_id, secs, created in rows.iterator(chunk_size=5000):
        stats.setdefault(annotator_id, None)
        if secs is not None:
            seconds.setdefault(annotator_id, []).append(secs)
        span = spans.setdefault(annotator_id, [created, created, 0])
        span[1] = created
        span[2] += 1
    names = _names(list(stats))
    table = []
    for annotator_id in sorted(stats, key=lambda a: names.get(a, "")):
        member = members.get(annotator_id)
        est = estimates.get(annotator_id)
        span = spans.get(annotator_id)
        n = span[2] if span else 0
        hours = (span[1] - span[0]).total_seconds() / 3600 if span else 0
        gold_n = est.gold_answers if est else 0
        gold_ok = est.gold_correct if est else 0
        ci = wilson_interval(gold_ok, gold_n)
        agree = agreement.get(annotator_id, (None, 0))
        table.append({
            "id": annotator_id,
            "member_id": member.pk if member else None,
            "name": names.get(annotator_id, str(annotator_id)),
            "role": member.role if member else None,
            "answers": n,
            "gold_answers": gold_n,
            "gold_accuracy": gold_ok / gold_n if gold_n else None,
            "gold_ci": list(ci) if ci else None,
            "agreement_with_consensus": agree[0],
            "estimated_accuracy": est.accuracy if est else None,
            "answers_per_hour": round(n / hours, 1) if hours >= 0.05 and n > 1 else None,
            "median_seconds": median(seconds[annotator_id]) if seconds.get(annotator_id) else None,
            "paused": bool(member and member.paused),
            "paused_reason": member.paused_reason if member else "",
        })
    return table


def annotator_me(*, project: Project, annotator: Annotator) -> dict[str, Any]:
    """An annotator's own counters in a project."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    mine = Answer.objects.filter(item__project=project, annotator=annotator)
    counts = mine.aggregate(total=Count("id"), today=Count("id", filter=Q(created_at__gte=today)))
    est = AnnotatorEstimate.objects.filter(project=project, annotator=annotator).first()
    member = Membership.objects.filter(project=project, annotator=annotator).first()
    # What is left for this annotator: undecided items they have neither answered nor skipped.
    remaining = (Item.objects.filter(project=project, status__in=[ItemStatus.OPEN, ItemStatus.IN_PROGRESS],
                                     is_gold=False)
                 .exclude(Exists(Answer.objects.filter(item=OuterRef("pk"), annotator=annotator)))
                 .exclude(Exists(Lease.objects.filter(item=OuterRef("pk"), annotator=annotator,
                                                      state=LeaseState.SKIPPED)))
                 .count())
    show_gold = project.gold_rate > 0
    return {
        "answered_today": counts["today"],
        "answered_total": counts["total"],
        "remaining": remaining,
        "gold_answers": est.gold_answers if est and show_gold else 0,
        "gold_accuracy": (est.gold_correct / est.gold_answers) if est and est.gold_answers and show_gold else None,
        "paused": bool(member and member.paused),
        "paused_reason": member.paused_reason if member else "",
    }


def progress_report(*, project: Project, days: int = 30) -> dict[str, Any]:
    per_status = dict(Item.objects.filter(project=project).values_list("status").annotate(n=Count("id")).order_by())
    since = timezone.now() - timedelta(days=days)
    per_day = (Answer.objects.filter(item__project=project, created_at__gte=since)
               .annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).order_by("day"))
    table = quality_table(project=project)
    return {
        "items": {s: per_status.get(s, 0) for s in ItemStatus.values},
        "answers_per_day": [{"day": row["day"].isoformat(), "answers": row["n"]} for row in per_day],
        "throughput": [{"annotator": r["name"], "answers": r["answers"], "answers_per_hour": r["answers_per_hour"],
                        "median_seconds": r["median_seconds"]} for r in table if r["answers"]],
        # Cost comes with a paid workforce backend (Mechanical Turk); internal work costs nothing here.
        "cost": None,
    }


def review_queue_page(*, project: Project, after_id: int = 0, size: int = 20) -> dict[str, Any]:
    """Items waiting for a lead (no consensus), each with every answer side by side."""
    items = list(Item.objects.filter(project=project, status=ItemStatus.NO_CONSENSUS, pk__gt=after_id)
                 .order_by("pk")[: size + 1])
    more = len(items) > size
    items = items[:size]
    answers: dict[int, list[tuple[int, Any, float | None]]] = {i.pk: [] for i in items}
    rows = (Answer.objects.filter(item__in=items, excluded=False).order_by("id")
            .values_list("item_id", "annotator_id", "value", "seconds"))
    for item_id, annotator_id, value, secs in rows:
        answers[item_id].append((annotator_id, value, secs))
    consensus = {c.item_id: c for c in Consensus.objects.filter(item__in=items)}
    names = _names(sorted({a for ans in answers.values() for a, _, _ in ans}))
    results = []
    for item in items:
        c = consensus.get(item.pk)
        results.append({
            "item": {"id": item.pk, "external_id": item.external_id, "data": item.data},
            "answers": [{"annotator": names.get(a, str(a)), "value": v, "seconds": secs}
                        for a, v, secs in answers[item.pk]],
            "votes": c.votes if c else {},
            "suggested": c.label if c else None,
            "confidence": c.confidence if c else None,
        })
    return {"results": results, "next_cursor": items[-1].pk if more and items else None,
            "count": Item.objects.filter(project=project, status=ItemStatus.NO_CONSENSUS).count()}
