"""Browser pages. They use the same services and selectors as the API and hold no logic of their own."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotators.selectors import visible_project_ids
from labeling.api.errors import json_not_found, json_server_error
from labeling.models import Project


@login_required
def home(request: HttpRequest) -> HttpResponse:
    ids = visible_project_ids(user=request.user, auth=None)
    projects = Project.objects.all() if ids is None else Project.objects.filter(pk__in=ids)
    return render(request, "frontend/home.html", {"projects": projects.filter(archived=False)})


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
