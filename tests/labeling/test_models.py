"""Database constraints hold even when code skips validation (admin, shell, a bug)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotators.models import Annotator, ApiToken, Membership
from labeling.models import Answer, Item, Project
from tests.factories import AnnotatorFactory, ItemFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def refused(**fields) -> bool:
    try:
        with transaction.atomic():
            Project.objects.create(name="p", **fields)
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    "fields",
    [
        {"schema_kind": "single", "choices": ["a", "b"], "agree_k": 4, "max_answers": 3},       # k > max
        {"schema_kind": "single", "choices": ["a", "b"], "min_answers": 5, "max_answers": 3},   # min > max
        {"schema_kind": "single", "choices": []},                                              # empty choices
        {"schema_kind": "multi", "choices": []},
        {"schema_kind": "rating", "scale_min": 5, "scale_max": 1},
        {"schema_kind": "rating"},
        {"schema_kind": "text", "rule_kind": "confidence", "confidence_target": 1.5},
        {"schema_kind": "text", "rule_kind": "confidence"},
        {"schema_kind": "text", "rule_kind": "escalate", "agree_k": 2, "max_answers": 5},       # no stages
        {"schema_kind": "text", "rule_kind": "escalate", "agree_k": 2, "escalate_after": 5, "escalate_k": 3,
         "max_answers": 5},                                                                    # no room
        {"schema_kind": "text", "gold_rate": 1.5},
        {"schema_kind": "text", "min_answers": 0},
    ],
)
def test_invalid_rules_are_refused_by_the_database(fields):
    assert refused(**fields)


def test_valid_rules_are_stored():
    assert not refused(schema_kind="text", agree_k=7, min_answers=7, max_answers=9)
    assert not refused(schema_kind="single", choices=["a"], rule_kind="escalate", agree_k=2, min_answers=2,
                       escalate_after=3, escalate_k=3, max_answers=5)
    assert not refused(schema_kind="rating", scale_min=1, scale_max=5, rule_kind="confidence",
                       confidence_target=0.99, max_answers=9)


def test_one_answer_per_item_and_annotator():
    item = ItemFactory()
    annotator = AnnotatorFactory()
    Answer.objects.create(item=item, annotator=annotator, value="pos")
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(item=item, annotator=annotator, value="neg")


def test_external_id_unique_within_project_only():
    a, b = ProjectFactory(), ProjectFactory()
    Item.objects.create(project=a, external_id="x")
    Item.objects.create(project=b, external_id="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(project=a, external_id="x")


def test_gold_item_needs_its_answer():
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(project=ProjectFactory(), external_id="g", is_gold=True)


def test_annotator_identity_constraints():
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotator.objects.create(backend="internal")  # internal needs a user
    Annotator.objects.create(backend="mturk", external_id="W1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotator.objects.create(backend="mturk", external_id="W1")


def test_membership_unique_and_pipeline_token_scoped():
    m = Membership.objects.create(project=ProjectFactory(), annotator=AnnotatorFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(project=m.project, annotator=m.annotator)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(user=m.annotator.user, kind="pipeline", key_hash="x" * 64, prefix="qrm_x")


def test_no_missing_migrations():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
