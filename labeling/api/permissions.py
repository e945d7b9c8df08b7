"""Who may read or change a project, for API views.

- A pipeline token is read-only (safe methods only) and sees one project.
- Annotators see their projects; leads (and superusers) change them, their members, items, jobs.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import exceptions, permissions

from annotators.models import Annotator, Membership, Role
from annotators.selectors import pipeline_token, project_role
from labeling import rawsql
from labeling.errors import DomainError
from labeling.models import Project


class PipelineTokensReadOnly(permissions.BasePermission):
    message = "pipeline tokens are read-only"

    def has_permission(self, request, view) -> bool:
        if pipeline_token(request.auth) is None:
            return True
        return request.method in permissions.SAFE_METHODS and getattr(view, "pipeline_readable", False)


def _project_pk(project_id) -> int:
    """A project id from the URL, or 404 (not a number, or beyond any id a database holds)."""
    try:
        pk = int(project_id)
    except (TypeError, ValueError):
        raise exceptions.NotFound("not found") from None
    if not 0 < pk < 2**63:
        raise exceptions.NotFound("not found")
    return pk


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
    pk = _project_pk(project_id)
    role = project_role(user=request.user, project_id=pk)
    if role is None:
        raise exceptions.NotFound("not found")
    project = get_object_or_404(Project, pk=pk)
    if need in ("lead", "read") and role != Role.LEAD:
        raise exceptions.PermissionDenied("only the project's leads may do this")
    return project


_MEMBER = rawsql.Loader(Membership, "m")
_ANNOTATOR = rawsql.Loader(Annotator, "a")
_PROJECT = rawsql.Loader(Project, "p")
_MEMBER_SQL = (
    f"SELECT {_MEMBER.columns}, {_ANNOTATOR.columns}, {_PROJECT.columns} FROM annotators_membership m "
    "JOIN annotators_annotator a ON a.id = m.annotator_id JOIN labeling_project p ON p.id = m.project_id "
    "WHERE m.project_id = %s AND a.user_id = %s"
)


def membership_of_caller(request, project_id) -> Membership:
    """For the annotation workflow (next task, submit): the caller's membership in the project,
    with ``.annotator`` and ``.project`` loaded, in one query (none at all when the view sets
    ``prefetch_membership``: the token authentication read it with the token). Callers that are not members get
    what ``project_for`` says (404 for a project they cannot see), then a 403 "not a member"
    (superusers see every project but label only where they are members)."""
    pk = _project_pk(project_id)
    prefetched = getattr(request, "_quorum_membership", None)  # by the token authentication
    if prefetched is not None and prefetched[0] == pk and prefetched[1] is not None \
            and pipeline_token(request.auth) is None:
        return prefetched[1]
    if pipeline_token(request.auth) is None and request.user.is_authenticated:
        row = rawsql.fetchone(_MEMBER_SQL, [pk, request.user.pk])
        if row is not None:
            membership = _MEMBER.load(row)
            rawsql.set_related(membership, "annotator", _ANNOTATOR.load(row, _MEMBER.width))
            rawsql.set_related(membership, "project", _PROJECT.load(row, _MEMBER.width + _ANNOTATOR.width))
            return membership
    project_for(request, pk, need="member")
    raise DomainError.single(None, "you are not a member of this project", status=403, code="not_member")
