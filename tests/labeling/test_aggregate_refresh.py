"""The re-aggregation job's annotator estimates (``estimates_refresh``): posterior means with an
empirical-Bayes prior, gold answers counted, free text coded per item."""

from __future__ import annotations

import time

import numpy as np
import pytest

from annotators.models import Annotator, Backend
from labeling.models import Answer, AnnotatorEstimate, Item, Project
from labeling.services.aggregate import estimates_refresh
from labeling.services.projects import project_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _project(**fields) -> Project:
    base = {"name": "p", "rule_kind": "confidence", "confidence_target": 0.95, "agree_k": 1, "min_answers": 1,
            "max_answers": 9, "consensus_method": "dawid_skene"}
    base.update(fields)
    return project_create(created_by=UserFactory(username="boss"), **base)


def _fill(project: Project, truth: list, answers: list[tuple[int, int, object]], gold: int = 0) -> list[Annotator]:
    """Items with ``truth`` (the first ``gold`` of them gold items) and (item, annotator, value) answers."""
    items = Item.objects.bulk_create([
        Item(project=project, external_id=f"i{i}", data={"text": str(i)}, is_gold=i < gold,
             gold=t if i < gold else None)
        for i, t in enumerate(truth)
    ])
    n_ann = max(a for _, a, _ in answers) + 1
    people = Annotator.objects.bulk_create([Annotator(backend=Backend.MTURK, external_id=f"w{a}") for a in range(n_ann)])
    Answer.objects.bulk_create([Answer(item=items[i], annotator=people[a], value=v) for i, a, v in answers])
    return people


def _crowd(rng, n_items, acc, per_item, draw_wrong, truth):
    out = []
    for i in range(n_items):
        for a in rng.choice(len(acc), per_item, replace=False):
            out.append((i, int(a), truth[i] if rng.random() < acc[a] else draw_wrong(i)))
    return out


def test_dawid_skene_estimates_are_shrunk_posterior_means_with_gold() -> None:
    rng = np.random.default_rng(0)
    choices = ["a", "b", "c"]
    project = _project(schema_kind="single", choices=choices)
    acc = np.r_[np.full(10, 0.8), 0.34]  # ten decent annotators and one at chance
    truth = [choices[t] for t in rng.integers(0, 3, 300)]
    answers = _crowd(rng, 300, acc[:10], 4, lambda i: rng.choice([c for c in choices if c != truth[i]]), truth)
    # annotator 10: 8 answers, all right, and 60 random answers
    answers += [(i, 10, truth[i]) for i in range(8)]
    answers += [(i, 10, choices[rng.integers(0, 3)]) for i in range(100, 160)]
    people = _fill(project, truth, answers, gold=30)
    result = estimates_refresh(project=project)
    assert result["method"] == "dawid_skene" and result["annotators"] == 11
    prior = result["accuracy_prior"]
    a, b = prior["alpha"], prior["beta"]
    est = {e.annotator_id: e for e in AnnotatorEstimate.objects.filter(project=project)}
    for person in people[:10]:
        e = est[person.pk]
        m = np.asarray(e.confusion)
        assert e.labels == choices and m.shape == (3, 3) and np.allclose(m.sum(axis=1), 1.0)
        assert 0.7 < e.accuracy < 0.9
    spam = est[people[10].pk]
    assert spam.answers == 68 and spam.accuracy < 0.55
    assert a / (a + b) > 0.7 > spam.accuracy


def test_free_text_estimates_use_item_local_codes_and_are_fast() -> None:
    rng = np.random.default_rng(1)
    project = _project(schema_kind="text", consensus_method="dawid_skene")
    n_items, pool = 1000, 40
    acc = 0.5 + 0.45 * rng.random(pool)
    truth = [f"answer {i}" for i in range(n_items)]
    counter = iter(range(10**9))
    answers = _crowd(rng, n_items, acc, 5, lambda i: f"typo {next(counter)}", truth)
    _fill(project, truth, answers, gold=50)
    started = time.perf_counter()
    result = estimates_refresh(project=project)
    elapsed = time.perf_counter() - started
    assert result["method"] == "one_coin"
    assert elapsed < 10.0  # was 16 s of CPU for 1,000 items with project-wide codes (~4,000 texts)
    est = AnnotatorEstimate.objects.filter(project=project).order_by("annotator__external_id")
    got = {e.annotator.external_id: e for e in est}
    assert all(e.confusion is None and e.labels == [] for e in got.values())
    estimated = np.array([got[f"w{a}"].accuracy for a in range(pool)])
    assert np.corrcoef(estimated, acc)[0, 1] > 0.9
    assert np.abs(estimated - acc).mean() < 0.06
