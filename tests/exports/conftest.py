"""Fixtures for the export tests: projects with decisions made directly (Consensus rows), so these
tests do not depend on the live decision workflow."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from django.utils import timezone

from labeling.models import Consensus, Item, ItemStatus

LABELS = ("pos", "neg", "neu")


def add_items(project, n: int, *, start: int = 0, prefix: str = "it", status: str = ItemStatus.ACCEPTED,
              labels: Sequence[str] = LABELS, reviewed_by=None, gold_every: int = 0, data=None,
              votes_total: int = 3) -> list[Item]:
    """Create ``n`` items with a decision each (bulk, two queries). Item ``i`` is labelled
    ``labels[i % len(labels)]``; every ``gold_every``-th item is a gold item instead."""
    items = []
    for i in range(start, start + n):
        is_gold = bool(gold_every) and i % gold_every == 0
        label = labels[i % len(labels)]
        items.append(Item(project=project, external_id=f"{prefix}-{i}",
                          data=data(i) if data else {"text": f"text number {i}", "n": i},
                          is_gold=is_gold, gold=label if is_gold else None, status=status,
                          answer_count=votes_total, needed=0, open_slots=0))
    Item.objects.bulk_create(items, batch_size=2000)
    created = list(Item.objects.filter(project=project, external_id__in=[it.external_id for it in items]))
    by_ext = {it.external_id: it for it in created}
    cons = []
    for i in range(start, start + n):
        item = by_ext[f"{prefix}-{i}"]
        label = labels[i % len(labels)]
        top = votes_total if i % 2 == 0 else votes_total - 1
        votes = {label: top}
        if top < votes_total:
            other = next(lab for lab in itertools.cycle(labels) if lab != label)
            votes[other] = votes_total - top
        cons.append(Consensus(item=item, label=label, confidence=round(top / votes_total, 4), method="majority",
                              votes=votes, status=status, reviewed_by=reviewed_by,
                              reviewed_at=timezone.now() if reviewed_by else None))
    Consensus.objects.bulk_create(cons, batch_size=2000)
    return sorted(created, key=lambda it: it.pk)


def relabel(item: Item, label: str) -> None:
    Consensus.objects.filter(item=item).update(label=label, votes={label: 3}, confidence=1.0)


@pytest.fixture
def exports_settings(settings):
    """Small pages and row groups, so that paging and row-group code runs on small projects."""
    settings.QUORUM_EXPORTS = {**settings.QUORUM_EXPORTS, "STORAGE": "disk", "CHUNK_SIZE": 7,
                               "PARQUET_ROW_GROUP": 5}
    return settings.QUORUM_EXPORTS
