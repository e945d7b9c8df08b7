"""The lead's page of dataset versions: each version with its manifest, its diff from the parent and
download links (the API's file URLs, which accept the browser session).

Routes for the site's pages (not under /api/v1/): included from the site's URLs with
``path("", include("labeling.exports.pages"))``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from annotators.models import Role
from annotators.selectors import project_role
from labeling.exports.models import DatasetVersion, WebhookDelivery
from labeling.exports.services import export_settings_for
from labeling.models import Job, JobKind, Project


@login_required
def versions_page(request: HttpRequest, project_id: int) -> HttpResponse:
    if project_role(user=request.user, project_id=project_id) != Role.LEAD:
        raise Http404("no such project")
    project = get_object_or_404(Project, pk=project_id)
    versions = list(DatasetVersion.objects.filter(project=project).select_related("created_by", "parent")
                    .prefetch_related("files").order_by("-number")[:50])
    for version in versions:
        counts = version.manifest.get("counts", {})
        version.per_split = counts.get("per_split", {})
        version.per_label = counts.get("per_label", {})
        version.agreement = version.manifest.get("agreement", {})
        version.diff = version.manifest.get("diff_from_parent")
        version.data_files = [f for f in version.files.all() if f.format != "index"]
    jobs = Job.objects.filter(project=project, kind=JobKind.EXPORT).order_by("-id")[:5]
    deliveries = WebhookDelivery.objects.filter(project=project).select_related("version").order_by("-id")[:10]
    return render(request, "exports/versions.html", {
        # project/role/tab give the page the lead's tab bar of frontend/base.html.
        "proj": project, "project": project, "role": Role.LEAD, "tab": "versions", "versions": versions, "jobs": jobs, "deliveries": deliveries,
        "conf": export_settings_for(project=project), "api": f"/api/v1/projects/{project.pk}",
    })


urlpatterns = [
    path("projects/<int:project_id>/versions/", versions_page, name="project-versions"),
]
