"""Reads about who may do what in which project."""

from __future__ import annotations

from django.db.models import QuerySet

from annotators.models import ApiToken, Membership, Role, TokenKind


def pipeline_token(auth) -> ApiToken | None:
    return auth if isinstance(auth, ApiToken) and auth.kind == TokenKind.PIPELINE else None


def project_role(*, user, project_id: int) -> str | None:
    """The user's role in the project ('lead', 'annotator') or None. Superusers act as leads."""
    if user.is_superuser:
        return Role.LEAD
    return (
        Membership.objects.filter(project_id=project_id, annotator__user=user)
        .values_list("role", flat=True)
        .first()
    )


def visible_project_ids(*, user, auth) -> QuerySet | None:
    """Ids of the projects this caller may see, or None for all (superusers)."""
    from labeling.models import Project

    token = pipeline_token(auth)
    if token is not None:
        return Project.objects.filter(pk=token.project_id).values("pk")
    if user.is_superuser:
        return None
    return Membership.objects.filter(annotator__user=user).values("project_id")
