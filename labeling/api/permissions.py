"""Who may read or change a project, for API views.

- A pipeline token is read-only (safe methods only) and sees one project.
- Annotators see their projects; leads (and superusers) change them, their members, items, jobs.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import exceptions, permissions

from annotators.models import Role
from annotators.selectors import pipeline_token, project_role
from labeling.models import Project


class PipelineTokensReadOnly(permissions.BasePermission):
    message = "pipeline tokens are read-only"

    def has_permission(self, request, view) -> bool:
        if pipeline_token(request.auth) is None:
            return True
        return request.method in permissions.SAFE_METHODS and getattr(view, "pipeline_readable", False)


def project_for(request, project_id, *, need: str = "member") -> Project:
    """The project, if the caller may act on it with ``need`` in ('member', 'lead', 'read').

    'read' admits pipeline tokens of that project (for data reads); 'member' any member;
    'lead' leads only. A project the caller cannot see is a 404, not a 403, so ids do not leak.
    """
    token = pipeline_token(request.auth)
    if token is not None:
        if need != "read" or str(token.project_id) != str(project_id):
            raise exceptions.NotFound("not found")
        return get_object_or_404(Project, pk=token.project_id)
    try:
        pk = int(project_id)
    except (TypeError, ValueError):
        raise exceptions.NotFound("not found") from None
    role = project_role(user=request.user, project_id=pk)
    if role is None:
        raise exceptions.NotFound("not found")
    project = get_object_or_404(Project, pk=pk)
    if need in ("lead", "read") and role != Role.LEAD:
        raise exceptions.PermissionDenied("only the project's leads may do this")
    return project
