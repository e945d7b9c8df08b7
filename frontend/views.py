"""Browser pages. They use the same services and selectors as the API and hold no logic of their own.

Each page is a server-rendered shell: who may open it is decided here (with the same selectors the
API uses: ``project_role``, ``visible_project_ids``), and the page's script reads and writes
through ``/api/v1/`` with the session cookie. The few numbers rendered on the server (items per
status, recent decisions) are plain reads of the same rows the API serves.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotators.models import Membership, Role
from annotators.selectors import project_role, visible_project_ids
from labeling.api.errors import json_not_found, json_server_error
from labeling.api.serializers import ProjectSerializer
from labeling.models import (
    ConsensusMethod, Consensus, Item, ItemStatus, Project, RuleKind, SchemaKind, TaskOrder, Workforce,
)
from labeling.schema import NORMALIZERS


def _project_page(request: HttpRequest, project_id: int, *, lead: bool) -> tuple[Project, str]:
    """The project and the caller's role; 404 for non-members (ids do not leak), 403 for
    annotators on lead pages."""
    role = project_role(user=request.user, project_id=project_id)
    if role is None:
        raise Http404("not a member")
    project = get_object_or_404(Project, pk=project_id)
    if lead and role != Role.LEAD:
        raise PermissionDenied("leads only")
    return project, role


def _status_counts(project_ids) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    rows = (Item.objects.filter(project_id__in=project_ids).values_list("project_id", "status")
            .annotate(n=Count("id")).order_by())
    for project_id, status, n in rows:
        out.setdefault(project_id, {s: 0 for s in ItemStatus.values})[status] = n
    return out


def _page_config(project: Project, role: str, **extra) -> dict:
    return {
        "project": {
            "id": project.pk, "name": project.name, "schema_kind": project.schema_kind,
            "choices": list(project.choices or []), "scale_min": project.scale_min, "scale_max": project.scale_max,
        },
        "role": role,
        **extra,
    }


def _lead_context(project: Project, tab: str, **extra) -> dict:
    review_count = Item.objects.filter(project=project, status=ItemStatus.NO_CONSENSUS).count()
    return {"project": project, "role": Role.LEAD, "tab": tab, "review_count": review_count, **extra}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    ids = visible_project_ids(user=request.user, auth=None)
    projects = Project.objects.filter(archived=False)
    if ids is not None:
        projects = projects.filter(pk__in=ids)
    projects = list(projects)
    roles = dict(Membership.objects.filter(annotator__user=request.user, project__in=projects)
                 .values_list("project_id", "role"))
    counts = _status_counts([p.pk for p in projects])
    rows = []
    for p in projects:
        role = Role.LEAD if request.user.is_superuser else roles.get(p.pk, Role.ANNOTATOR)
        per_status = counts.get(p.pk, {s: 0 for s in ItemStatus.values})
        total = sum(per_status.values())
        done = per_status[ItemStatus.ACCEPTED] + per_status[ItemStatus.REVIEWED]
        rows.append({"project": p, "role": role, "counts": per_status, "total": total, "done": done,
                     "done_pct": round(100 * done / total) if total else 0})
    return render(request, "frontend/home.html", {"rows": rows})


@login_required
def annotate(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_page(request, project_id, lead=False)
    return render(request, "frontend/annotate.html", {
        "project": project, "role": role,
        "config": _page_config(project, role, lease_seconds=project.lease_seconds),
    })


def _form_options() -> dict:
    return {
        "schema_kinds": SchemaKind.choices, "rule_kinds": RuleKind.choices,
        "consensus_methods": ConsensusMethod.choices, "task_orders": TaskOrder.choices,
        "workforces": Workforce.choices, "normalizers": NORMALIZERS,
    }


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    defaults = ProjectSerializer(Project(name="", schema_kind=SchemaKind.SINGLE, choices=[],
                                         agree_k=2, min_answers=2, max_answers=3)).data
    return render(request, "frontend/project_form.html", {
        "creating": True, "config": {"project": defaults, "creating": True}, **_form_options(),
    })


@login_required
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_page(request, project_id, lead=True)
    has_answers = project.items.filter(answer_count__gt=0).exists()
    return render(request, "frontend/project_form.html", _lead_context(
        project, "settings", creating=False, has_answers=has_answers,
        config={"project": ProjectSerializer(project).data, "creating": False, "schema_frozen": has_answers},
        **_form_options(),
    ))


@login_required
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_page(request, project_id, lead=True)
    recent = (Consensus.objects.filter(item__project=project)
              .exclude(status__in=[ItemStatus.OPEN, ItemStatus.IN_PROGRESS])
              .select_related("item").order_by("-updated_at", "-id")[:12])
    return render(request, "frontend/dashboard.html", _lead_context(
        project, "dashboard", recent=recent, counts=_status_counts([project.pk]).get(project.pk, {}),
        config=_page_config(project, role),
    ))


@login_required
def agreement(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_page(request, project_id, lead=True)
    return render(request, "frontend/agreement.html", _lead_context(project, "agreement", config=_page_config(project, role)))


@login_required
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_page(request, project_id, lead=True)
    return render(request, "frontend/review.html", _lead_context(project, "review", config=_page_config(project, role)))


@login_required
def members(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_page(request, project_id, lead=True)
    return render(request, "frontend/members.html", _lead_context(
        project, "members", config=_page_config(project, role, me=request.user.get_username())))


@login_required
def import_items(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_page(request, project_id, lead=True)
    return render(request, "frontend/import.html", _lead_context(
        project, "import", item_count=project.items.count(), config=_page_config(project, role)))


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return render(request, "frontend/error.html", {"title": "Not found", "message": "There is no page here."},
                  status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return render(request, "frontend/error.html",
                  {"title": "Something went wrong", "message": "The error has been logged."}, status=500)
