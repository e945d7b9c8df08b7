"""/api/v1/ views for dataset versions: list, request, manifest, download, diff, settings, webhook
deliveries, Label Studio import.

Pipelines (read-only tokens scoped to one project) may use every GET marked ``pipeline_readable``;
writes are for the project's leads. Every error has the one error shape.
"""

from __future__ import annotations

import re

from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field, inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.parsers import JSONParser
from labeling.api.permissions import project_for
from labeling.api.serializers import JobSerializer
from labeling.api.views import ERRORS
from labeling.errors import DomainError, parse_id
from labeling.exports.diff import CHANGES
from labeling.exports.labelstudio import labelstudio_config, to_name_for
from labeling.exports.models import DatasetFile, DatasetVersion, DeliveryStatus, ExportSettings, WebhookDelivery
from labeling.exports.selection import DEFAULT_FORMATS
from labeling.exports.services import (
    dataset_version_diff, dataset_version_request, export_settings_for, export_settings_update, labelstudio_import,
    labelstudio_tasks_load,
)
from labeling.exports.storage import storage_for
from labeling.exports.writers import FORMATS
from labeling.models import Project

REF = OpenApiParameter("ref", OpenApiTypes.STR, OpenApiParameter.PATH,
                       description="A version number, or `latest`.")
PROJECT = OpenApiParameter("project_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def version_url(project_id: int, number: int) -> str:
    return f"/api/v1/projects/{project_id}/versions/{number}"


def version_get(project: Project, ref: str) -> DatasetVersion:
    """A version by number or ``latest`` (404 in the error shape when there is none)."""
    qs = DatasetVersion.objects.filter(project=project).select_related("created_by", "parent")
    if ref == "latest":
        version = qs.order_by("-number").first()
        if version is None:
            raise DomainError.single("version", "this project has no dataset version yet", status=404,
                                     code="not_found")
        return version
    number = parse_id(ref)
    version = qs.filter(number=number).first() if number is not None else None
    if version is None:
        raise DomainError.single("version", f"there is no version {ref} in this project", status=404, code="not_found")
    return version


# --- Serializers -----------------------------------------------------------------------------------

class SelectionSerializer(serializers.Serializer):
    accepted = serializers.BooleanField(default=True, help_text="Labels the quorum rule accepted.")
    reviewed = serializers.BooleanField(default=True, help_text="Labels a lead reviewed.")
    gold = serializers.BooleanField(default=True, help_text="Gold items, with their known answer.")
    include_weak_above = serializers.FloatField(
        min_value=0.0, max_value=1.0, allow_null=True, default=None,
        help_text="Weak labels above this confidence (reserved: weak labels are not exported yet).")


class VersionRequestSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    selection = SelectionSerializer(required=False)
    formats = serializers.ListField(child=serializers.ChoiceField(choices=FORMATS), required=False,
                                    allow_empty=False, max_length=len(FORMATS),
                                    help_text=f"Default: {', '.join(DEFAULT_FORMATS)}.")


class DatasetFileSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetFile
        fields = ["name", "split", "format", "rows", "size", "sha256", "content_type", "url"]
        read_only_fields = fields

    def get_url(self, f: DatasetFile) -> str:
        return f"{version_url(f.version.project_id, f.version.number)}/files/{f.name}"


class VersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    parent = serializers.IntegerField(source="parent.number", read_only=True, allow_null=True, default=None)
    counts = serializers.SerializerMethodField()
    diff_from_parent = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = ["number", "created_at", "created_by", "note", "parent", "row_count", "counts", "diff_from_parent",
                  "selection", "formats", "fingerprint", "storage", "url"]
        read_only_fields = fields

    def get_counts(self, v: DatasetVersion) -> dict[str, int]:
        return v.manifest.get("counts", {}).get("per_split", {})

    def get_diff_from_parent(self, v: DatasetVersion) -> dict[str, int] | None:
        return v.manifest.get("diff_from_parent")

    def get_url(self, v: DatasetVersion) -> str:
        return version_url(v.project_id, v.number)


class VersionDetailSerializer(VersionSerializer):
    files = serializers.SerializerMethodField()

    class Meta(VersionSerializer.Meta):
        fields = VersionSerializer.Meta.fields + ["manifest", "files"]
        read_only_fields = fields

    @extend_schema_field(DatasetFileSerializer(many=True))
    def get_files(self, v: DatasetVersion) -> list[dict]:
        files = list(v.files.all())
        for f in files:
            f.version = v
        return DatasetFileSerializer(files, many=True).data


class ExportSettingsSerializer(serializers.ModelSerializer):
    split_train = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    split_validation = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    split_test = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    webhook_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    webhook_secret = serializers.CharField(max_length=128, required=False, allow_blank=True, write_only=True,
                                           help_text="Write only; HMAC-SHA256 key for the webhook signature.")
    webhook_secret_set = serializers.SerializerMethodField()

    class Meta:
        model = ExportSettings
        fields = ["split_train", "split_validation", "split_test", "split_salt", "webhook_url", "webhook_secret",
                  "webhook_secret_set", "updated_at"]
        read_only_fields = ["split_salt", "updated_at"]

    def get_webhook_secret_set(self, conf: ExportSettings) -> bool:
        return bool(conf.webhook_secret)

    def validate_webhook_url(self, value: str) -> str:
        if value and not re.match(r"^https?://", value, re.IGNORECASE):
            raise serializers.ValidationError("the webhook must be an http:// or https:// URL")
        return value


class WebhookDeliverySerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True, allow_null=True, default=None)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "url", "version", "status", "attempts", "last_status_code", "last_error",
                  "next_attempt_at", "created_at", "delivered_at", "payload"]
        read_only_fields = fields


class LabelStudioImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A Label Studio JSON export (an array of tasks).")
    from_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                      help_text="The control tag to read answers from (default: the first of the "
                                                "project's kind).")


LS_RESULT = inline_serializer("LabelStudioImportResult", {
    "items": serializers.IntegerField(), "gold": serializers.IntegerField(), "answers": serializers.IntegerField(),
    "annotators": serializers.IntegerField(), "skipped": serializers.DictField(child=serializers.IntegerField()),
})
DIFF_RESULT = inline_serializer("VersionDiff", {
    "from_version": serializers.IntegerField(allow_null=True),
    "to_version": serializers.IntegerField(),
    "counts": serializers.DictField(child=serializers.IntegerField()),
    "rows": serializers.ListField(child=serializers.DictField(), required=False),
    "next_after": serializers.IntegerField(allow_null=True, required=False),
})
REQUEST_RESULT = inline_serializer("VersionRequestResult", {
    "job": JobSerializer(), "created": serializers.BooleanField(help_text="False: an identical export was already "
                                                                          "queued or running; this is that job."),
})


# --- Versions --------------------------------------------------------------------------------------

class VersionPagination(CursorPagination):
    ordering = "-number"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(parameters=[PROJECT])
class VersionListCreate(generics.ListAPIView):
    """A project's dataset versions, newest first; POST asks for a new one (an export job)."""

    serializer_class = VersionSerializer
    pagination_class = VersionPagination
    pipeline_readable = True

    def get_queryset(self):
        project = project_for(self.request, self.kwargs["project_id"], need="read")
        return DatasetVersion.objects.filter(project=project).select_related("created_by", "parent")

    @extend_schema(request=VersionRequestSerializer, responses={202: REQUEST_RESULT, 400: ERRORS, 404: ERRORS})
    def post(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        serializer = VersionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        selection = data.get("selection")
        job, created = dataset_version_request(
            project=project, selection=dict(selection) if selection is not None else None,
            formats=data.get("formats"), note=data["note"], created_by=request.user)
        return Response({"job": JobSerializer(job).data, "created": created}, status=status.HTTP_202_ACCEPTED)


class VersionDetail(APIView):
    """One version: its summary, manifest and files (with download URLs)."""

    pipeline_readable = True

    @extend_schema(parameters=[PROJECT, REF], responses={200: VersionDetailSerializer, 404: ERRORS})
    def get(self, request, project_id: int, ref: str):
        project = project_for(request, project_id, need="read")
        return Response(VersionDetailSerializer(version_get(project, ref)).data)


class VersionManifest(APIView):
    """The manifest alone: counts per split and label, agreement, rule, parent, every file's sha256."""

    pipeline_readable = True

    @extend_schema(parameters=[PROJECT, REF], responses={200: OpenApiTypes.OBJECT, 404: ERRORS})
    def get(self, request, project_id: int, ref: str):
        project = project_for(request, project_id, need="read")
        version = version_get(project, ref)
        response = Response(version.manifest)
        response["ETag"] = f'"{version.fingerprint}"'
        return response


class FirstRendererNegotiation(BaseContentNegotiation):
    """Downloads answer whatever the Accept header says (errors are JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """``(start, end)`` for one satisfiable byte range; None to serve the whole file (no header, an
    invalid one, or several ranges); False when the range cannot be satisfied (416)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return False
        return (max(size - n, 0), size - 1) if size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


@extend_schema(
    parameters=[PROJECT, REF,
                OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH,
                                 description="`<split>.<format extension>` (train.jsonl, test.parquet, "
                                             "validation.csv, train.labelstudio.json) or index.jsonl.gz."),
                OpenApiParameter("redirect", OpenApiTypes.BOOL,
                                 description="S3 storage: false streams the file through Quorum instead of a "
                                             "redirect to a presigned URL.")],
)
class VersionFile(APIView):
    """Download one file of a version. The ETag is the file's sha256 (If-None-Match gives 304);
    Range requests give 206. From S3 storage: a redirect to a presigned URL."""

    pipeline_readable = True
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(responses={
        (200, "application/octet-stream"): OpenApiTypes.BINARY,
        (206, "application/octet-stream"): OpenApiTypes.BINARY,
        302: OpenApiResponse(description="S3 storage: the presigned URL of the file."),
        304: OpenApiResponse(description="Not modified: the If-None-Match ETag is the file's sha256."),
        404: ERRORS, 416: ERRORS,
    })
    def get(self, request, project_id: int, ref: str, name: str):
        project = project_for(request, project_id, need="read")
        version = version_get(project, ref)
        f = DatasetFile.objects.filter(version=version, name=name).first()
        if f is None:
            names = ", ".join(version.files.order_by("name").values_list("name", flat=True))
            raise DomainError.single("name", f"version {version.number} has no file {name!r}; it has {names}",
                                     status=404, code="not_found")
        etag = f'"{f.sha256}"'
        headers = {"ETag": etag, "Accept-Ranges": "bytes", "X-Checksum-Sha256": f.sha256,
                   "Cache-Control": "private, max-age=31536000, immutable"}
        if _etag_matches(request.headers.get("If-None-Match"), etag):
            return _with_headers(HttpResponse(status=304), headers)
        storage = storage_for(version.storage, version.bucket)
        filename = f"project{project.pk}-v{version.number}-{f.name}"
        redirect = request.query_params.get("redirect", "true").lower() not in ("false", "0", "no")
        if storage.kind == "s3" and redirect:
            url = storage.presigned_url(f.key, filename=filename, content_type=f.content_type)
            return _with_headers(HttpResponseRedirect(url), headers)
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        if_range = request.headers.get("If-Range")
        byte_range = parse_range(request.headers.get("Range"), f.size) if not if_range or if_range == etag else None
        if byte_range is False:
            response = Response({"errors": [{"field": "Range", "message": f"the file has {f.size} bytes"}],
                                 "code": "range_not_satisfiable"}, status=416)
            response["Content-Range"] = f"bytes */{f.size}"
            return response
        start, end = byte_range if byte_range else (0, max(f.size - 1, 0))
        length = end - start + 1 if f.size else 0
        if request.method == "HEAD":
            response = HttpResponse(status=206 if byte_range else 200, content_type=f.content_type)
        elif byte_range:
            response = StreamingHttpResponse(storage.open_range(f.key, start, end), status=206,
                                             content_type=f.content_type)
        else:
            path = storage.local_path(f.key)
            if path is not None:
                response = FileResponse(open(path, "rb"), content_type=f.content_type)
            else:
                response = StreamingHttpResponse(storage.open_range(f.key), content_type=f.content_type)
        if byte_range:
            headers["Content-Range"] = f"bytes {start}-{end}/{f.size}"
        headers["Content-Length"] = str(length)
        return _with_headers(response, headers)


def _with_headers(response, headers: dict[str, str]):
    for key, value in headers.items():
        response[key] = value
    return response


class VersionDiff(APIView):
    """Items added, removed and relabelled since another version (default: the parent)."""

    pipeline_readable = True

    @extend_schema(
        parameters=[PROJECT, REF,
                    OpenApiParameter("against", OpenApiTypes.INT,
                                     description="The older version (default: the parent; none for version 1)."),
                    OpenApiParameter("rows", OpenApiTypes.BOOL, description="Also list the changed rows."),
                    OpenApiParameter("changes", OpenApiTypes.STR,
                                     description="Rows of these kinds only: added, removed, relabelled "
                                                 "(comma-separated)."),
                    OpenApiParameter("after", OpenApiTypes.INT, description="Rows with item_id above this (paging)."),
                    OpenApiParameter("limit", OpenApiTypes.INT, description="Rows per page, 1 to 10000 (1000).")],
        responses={200: DIFF_RESULT, 400: ERRORS, 404: ERRORS},
    )
    def get(self, request, project_id: int, ref: str):
        project = project_for(request, project_id, need="read")
        new = version_get(project, ref)
        params = request.query_params
        against = params.get("against")
        if against:
            if parse_id(against) is None:
                raise DomainError.single("against", "must be a version number")
            old = version_get(project, against)
        else:
            old = new.parent
        changes = tuple(c for raw in params.getlist("changes") for c in raw.split(",") if c) or CHANGES
        unknown = sorted(set(changes) - set(CHANGES))
        if unknown:
            raise DomainError.single("changes", f"unknown change {unknown[0]!r}; use {', '.join(CHANGES)}")
        want_rows = params.get("rows", "false").lower() in ("true", "1", "yes")
        after = _int_param(params, "after", None, 0, None)
        limit = _int_param(params, "limit", 1000, 1, 10_000)
        diff = dataset_version_diff(old=old, new=new, rows=want_rows, changes=changes, after=after, limit=limit)
        body = {"from_version": old.number if old else None, "to_version": new.number, "counts": diff.counts()}
        if want_rows:
            body["rows"] = diff.rows
            body["next_after"] = diff.next_after
        return Response(body)


def _int_param(params, name: str, default, low: int, high: int | None):
    raw = params.get(name)
    if raw in (None, ""):
        return default
    if parse_id(raw) is None or int(raw) < low or (high is not None and int(raw) > high):
        raise DomainError.single(name, f"must be an integer from {low}" + (f" to {high}" if high else ""))
    return int(raw)


# --- Settings and webhooks -------------------------------------------------------------------------

class ExportSettingsView(APIView):
    """The project's split shares (and salt) and webhook. Leads only."""

    @extend_schema(parameters=[PROJECT], responses={200: ExportSettingsSerializer, 404: ERRORS})
    def get(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        return Response(ExportSettingsSerializer(export_settings_for(project=project)).data)

    @extend_schema(parameters=[PROJECT], request=ExportSettingsSerializer,
                   responses={200: ExportSettingsSerializer, 400: ERRORS, 404: ERRORS})
    def patch(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        serializer = ExportSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        conf = export_settings_update(project=project, **serializer.validated_data)
        return Response(ExportSettingsSerializer(conf).data)


@extend_schema(parameters=[PROJECT, OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values)])
class WebhookDeliveryList(generics.ListAPIView):
    """Calls of the project's webhook, newest first, with attempts and the last error. Leads only."""

    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        project = project_for(self.request, self.kwargs["project_id"], need="lead")
        qs = WebhookDelivery.objects.filter(project=project).select_related("version")
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in DeliveryStatus.values:
                raise DomainError.single("status", f"use one of {', '.join(DeliveryStatus.values)}")
            qs = qs.filter(status=wanted)
        return qs

    def paginate_queryset(self, queryset):
        self.paginator.ordering = "-id"
        return super().paginate_queryset(queryset)


# --- Label Studio ----------------------------------------------------------------------------------

class LabelStudioImport(APIView):
    """Import a Label Studio JSON export (tasks with their annotations) as items and answers."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        parameters=[PROJECT],
        request={"application/json": {"type": "array", "items": {"type": "object"}},
                 "multipart/form-data": LabelStudioImportSerializer},
        responses={201: LS_RESULT, 400: ERRORS, 404: ERRORS},
    )
    def post(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        if isinstance(request.data, list):
            tasks, from_name = request.data, request.query_params.get("from_name") or None
        else:
            serializer = LabelStudioImportSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            tasks = labelstudio_tasks_load(stream=serializer.validated_data["file"])
            from_name = serializer.validated_data.get("from_name") or None
        result = labelstudio_import(project=project, tasks=tasks, from_name=from_name)
        return Response(result, status=status.HTTP_201_CREATED)


class LabelStudioConfig(APIView):
    """A Label Studio labeling config matching the project, for importing its exported versions."""

    pipeline_readable = True

    @extend_schema(parameters=[PROJECT],
                   responses={200: inline_serializer("LabelStudioConfig", {"config": serializers.CharField()}),
                              404: ERRORS})
    def get(self, request, project_id: int):
        project = project_for(request, project_id, need="read")
        latest = DatasetVersion.objects.filter(project=project).order_by("-number").first()
        to_name = to_name_for(latest.manifest.get("columns", {})) if latest else "text"
        return Response({"config": labelstudio_config(schema_kind=project.schema_kind, choices=list(project.choices),
                                                      scale_max=project.scale_max, to_name=to_name)})

