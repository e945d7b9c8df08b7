"""Creating and changing projects."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotators.models import Role
from annotators.services import membership_set
from labeling.errors import DomainError, FieldError
from labeling.models import Project
from labeling.schema import validate_project_settings

RULE_FIELDS = (
    "schema_kind", "choices", "scale_min", "scale_max", "text_normalization", "rule_kind", "agree_k",
    "min_answers", "max_answers", "escalate_after", "escalate_k", "confidence_target", "gold_rate",
)
EDITABLE_FIELDS = RULE_FIELDS + (
    "name", "instructions", "consensus_method", "task_order", "lease_seconds", "workforce",
    "pause_below_accuracy", "pause_min_gold", "archived",
)
# Once answers exist, changing what an answer means would silently re-interpret them.
FROZEN_ONCE_ANSWERED = ("schema_kind", "choices", "scale_min", "scale_max")


def _check(values: dict[str, Any]) -> None:
    problems = validate_project_settings(values)
    if problems:
        raise DomainError([FieldError(field, message) for field, message in problems])


@transaction.atomic
def project_create(*, created_by, **fields: Any) -> Project:
    """Create a project; its creator becomes its lead."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise DomainError.single(unknown[0], "unknown project field")
    project = Project(created_by=created_by, **fields)
    _check({f: getattr(project, f) for f in RULE_FIELDS})
    project.save()
    if created_by is not None:
        membership_set(project=project, user=created_by, role=Role.LEAD)
    return project


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise DomainError.single(unknown[0], "unknown project field")
    project = Project.objects.select_for_update().get(pk=project.pk)
    from labeling.models import Answer

    if any(f in changes and changes[f] != getattr(project, f) for f in FROZEN_ONCE_ANSWERED):
        if Answer.objects.filter(item__project=project).exists():
            field = next(f for f in FROZEN_ONCE_ANSWERED if f in changes and changes[f] != getattr(project, f))
            raise DomainError.single(
                field, "the label schema cannot change once answers exist; create a new project instead"
            )
    for name, value in changes.items():
        setattr(project, name, value)
    _check({f: getattr(project, f) for f in RULE_FIELDS})
    project.save()
    return project
