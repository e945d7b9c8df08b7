"""Dataset version routes under /api/v1/ (see docs/exports.md)."""

from django.urls import path, re_path

from labeling.exports import api

VERSION = r"^projects/(?P<project_id>[0-9]+)/versions/(?P<ref>latest|[0-9]+)"

urlpatterns = [
    path("projects/<int:project_id>/versions", api.VersionListCreate.as_view(), name="api-versions"),
    re_path(VERSION + r"$", api.VersionDetail.as_view(), name="api-version"),
    re_path(VERSION + r"/manifest$", api.VersionManifest.as_view(), name="api-version-manifest"),
    re_path(VERSION + r"/diff$", api.VersionDiff.as_view(), name="api-version-diff"),
    re_path(VERSION + r"/files/(?P<name>[A-Za-z0-9._-]+)$", api.VersionFile.as_view(), name="api-version-file"),
    path("projects/<int:project_id>/export-settings", api.ExportSettingsView.as_view(), name="api-export-settings"),
    path("projects/<int:project_id>/webhook-deliveries", api.WebhookDeliveryList.as_view(),
         name="api-webhook-deliveries"),
    path("projects/<int:project_id>/labelstudio/import", api.LabelStudioImport.as_view(),
         name="api-labelstudio-import"),
    path("projects/<int:project_id>/labelstudio/config", api.LabelStudioConfig.as_view(),
         name="api-labelstudio-config"),
]
