"""/api/v1/ views. Explicit views for domain verbs, generic list views for reads.

Every view resolves its project through ``project_for`` (404 for projects the caller cannot see)
and calls one service for writes.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotators.models import ApiToken, Membership, Role, TokenKind
from annotators.selectors import pipeline_token, visible_project_ids
from annotators.services import (
    annotator_for_user, membership_remove, membership_set, token_create, token_revoke,
)
from labeling.api import serializers as s
from labeling.api.parsers import JSONParser
from labeling.api.permissions import project_for
from labeling.errors import DomainError, parse_id
from labeling.imports import guess_format
from labeling.models import Answer, Item, ItemStatus, Job, Project
from labeling.services.items import TooManyForRequest, item_import, item_import_file_enqueue, item_import_objects
from labeling.services.projects import project_create, project_update

User = get_user_model()

ERRORS = OpenApiResponse(
    inline_serializer("ErrorList", {"errors": serializers.ListField(child=inline_serializer(
        "Error", {"field": serializers.CharField(allow_null=True), "message": serializers.CharField(),
                  "line": serializers.IntegerField(required=False)})),
        "code": serializers.CharField(required=False)}),
    description="Every error has this shape: the field (or null) and the problem.",
)


def _validated(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Projects -------------------------------------------------------------------------------------

class ProjectListCreate(generics.ListAPIView):
    serializer_class = s.ProjectSerializer
    pipeline_readable = True

    def get_queryset(self):
        qs = Project.objects.all()
        ids = visible_project_ids(user=self.request.user, auth=self.request.auth)
        return qs if ids is None else qs.filter(pk__in=ids)

    @extend_schema(request=s.ProjectSerializer, responses={201: s.ProjectSerializer, 400: ERRORS})
    def post(self, request):
        data = _validated(s.ProjectSerializer, request.data)
        project = project_create(created_by=request.user, **data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    pipeline_readable = True

    @extend_schema(responses={200: s.ProjectSerializer, 404: ERRORS})
    def get(self, request, project_id: int):
        need = "read" if pipeline_token(request.auth) else "member"
        return Response(s.ProjectSerializer(project_for(request, project_id, need=need)).data)

    @extend_schema(request=s.ProjectSerializer, responses={200: s.ProjectSerializer, 400: ERRORS})
    def patch(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        data = _validated(s.ProjectSerializer, request.data, partial=True)
        project = project_update(project=project, **data)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=s.ProjectSerializer, responses={200: s.ProjectSerializer, 400: ERRORS})
    def put(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        data = _validated(s.ProjectSerializer, request.data)
        project = project_update(project=project, **data)
        return Response(s.ProjectSerializer(project).data)


class ProjectStats(APIView):
    pipeline_readable = True

    @extend_schema(responses={200: s.ProjectStatsSerializer})
    def get(self, request, project_id: int):
        project = project_for(request, project_id, need="read")
        per_status = dict(
            Item.objects.filter(project=project).values_list("status").annotate(n=Count("id")).order_by()
        )
        items = {value: per_status.get(value, 0) for value in ItemStatus.values}
        answers = Answer.objects.filter(item__project=project).count()
        return Response({"items": items, "answers": answers})


# --- Members ---------------------------------------------------------------------------------------

class MemberListCreate(generics.ListAPIView):
    serializer_class = s.MemberSerializer

    def get_queryset(self):
        project = project_for(self.request, self.kwargs["project_id"], need="member")
        return Membership.objects.filter(project=project).select_related("annotator__user")

    @extend_schema(request=s.MemberInputSerializer, responses={201: s.MemberSerializer, 400: ERRORS})
    def post(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        data = _validated(s.MemberInputSerializer, request.data)
        user = User.objects.filter(username=data["username"]).first()
        if user is None:
            raise DomainError.single("username", f"no user named {data['username']!r}")
        membership = membership_set(project=project, user=user, role=data["role"])
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetail(APIView):
    def _get(self, request, project_id, member_id) -> Membership:
        project = project_for(request, project_id, need="lead")
        return get_object_or_404(Membership.objects.select_related("annotator__user"), project=project, pk=member_id)

    @extend_schema(request=s.MemberUpdateSerializer, responses={200: s.MemberSerializer, 400: ERRORS})
    def patch(self, request, project_id: int, member_id: int):
        membership = self._get(request, project_id, member_id)
        data = _validated(s.MemberUpdateSerializer, request.data)
        if membership.annotator.user is None:
            raise DomainError.single("role", "crowd workers cannot be given a role")
        membership = membership_set(project=membership.project, user=membership.annotator.user, role=data["role"])
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None, 400: ERRORS})
    def delete(self, request, project_id: int, member_id: int):
        membership_remove(membership=self._get(request, project_id, member_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Items -----------------------------------------------------------------------------------------

@extend_schema(parameters=[
    OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=ItemStatus.values,
                     description="Only items with these statuses (repeat or comma-separate)."),
    OpenApiParameter("is_gold", OpenApiTypes.BOOL),
    OpenApiParameter("external_id", OpenApiTypes.STR),
])
class ItemList(generics.ListAPIView):
    serializer_class = s.ItemSerializer
    pipeline_readable = True

    def get_queryset(self):
        project = project_for(self.request, self.kwargs["project_id"], need="read")
        qs = Item.objects.filter(project=project).select_related("consensus__reviewed_by")
        params = self.request.query_params
        statuses = [v for raw in params.getlist("status") for v in raw.split(",") if v]
        if statuses:
            unknown = sorted(set(statuses) - set(ItemStatus.values))
            if unknown:
                raise DomainError.single("status", f"unknown status {unknown[0]!r}; use {', '.join(ItemStatus.values)}")
            qs = qs.filter(status__in=statuses)
        if "is_gold" in params:
            value = params["is_gold"].lower()
            if value not in ("true", "false", "1", "0"):
                raise DomainError.single("is_gold", "must be true or false")
            qs = qs.filter(is_gold=value in ("true", "1"))
        if params.get("external_id"):
            qs = qs.filter(external_id=params["external_id"])
        return qs


class ItemDetail(generics.RetrieveAPIView):
    serializer_class = s.ItemSerializer
    pipeline_readable = True

    def get_object(self):
        project = project_for(self.request, self.kwargs["project_id"], need="read")
        return get_object_or_404(Item.objects.select_related("consensus__reviewed_by"), project=project,
                                 pk=self.kwargs["item_id"])


class ItemImport(APIView):
    """Import items: a JSON array body (up to 100,000 items), or a file upload (JSONL, JSON, CSV).

    All or nothing: any bad line gives a 400 listing every bad line, and nothing is stored. A file
    with more items than one request takes (or ``run_as_job``) is imported by a job: 202 and the job.
    """

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "object"}},
                 "multipart/form-data": s.ImportFileSerializer},
        responses={201: s.ImportResultSerializer, 202: s.JobSerializer, 400: ERRORS},
    )
    def post(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        if isinstance(request.data, list):
            result = item_import_objects(project=project, objects=request.data)
            return Response(result.as_dict(), status=status.HTTP_201_CREATED)
        if "file" not in request.FILES:
            if isinstance(request.data, dict) and "items" in request.data:
                items = request.data["items"]
                if not isinstance(items, list):
                    raise DomainError.single("items", "must be a JSON array of item objects")
                result = item_import_objects(project=project, objects=items)
                return Response(result.as_dict(), status=status.HTTP_201_CREATED)
            raise DomainError.single("file", "send a JSON array of items, or a file in the 'file' field")
        data = _validated(s.ImportFileSerializer, request.data)
        upload = data["file"]
        fmt = data.get("format") or guess_format(upload.name, upload.content_type)
        if fmt is None:
            raise DomainError.single("format", f"cannot tell the format of {upload.name!r}; "
                                               "name it .jsonl, .json or .csv, or send format")
        if data["run_as_job"]:
            job = item_import_file_enqueue(project=project, upload=upload, fmt=fmt,
                                           allow_formulas=data["allow_formulas"], created_by=request.user)
            return Response(s.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        try:
            result = item_import(project=project, stream=upload, fmt=fmt, allow_formulas=data["allow_formulas"],
                                 limit=settings.QUORUM["SYNC_IMPORT_MAX_ITEMS"])
        except TooManyForRequest:
            job = item_import_file_enqueue(project=project, upload=upload, fmt=fmt,
                                           allow_formulas=data["allow_formulas"], created_by=request.user)
            return Response(s.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


# --- Answers ---------------------------------------------------------------------------------------

@extend_schema(parameters=[OpenApiParameter("item", OpenApiTypes.INT), OpenApiParameter("annotator", OpenApiTypes.INT)])
class AnswerList(generics.ListAPIView):
    serializer_class = s.AnswerSerializer
    pipeline_readable = True

    def get_queryset(self):
        project = project_for(self.request, self.kwargs["project_id"], need="read")
        qs = Answer.objects.filter(item__project=project).select_related("item", "annotator__user")
        for name in ("item", "annotator"):
            raw = self.request.query_params.get(name)
            if raw:
                if parse_id(raw) is None:
                    raise DomainError.single(name, "must be an integer id")
                qs = qs.filter(**{f"{name}_id": parse_id(raw)})
        return qs


# --- Jobs ------------------------------------------------------------------------------------------

def _jobs_for(request):
    qs = Job.objects.all()
    token = pipeline_token(request.auth)
    if token is not None:
        return qs.filter(project_id=token.project_id)
    if request.user.is_superuser:
        return qs
    lead_projects = Membership.objects.filter(annotator__user=request.user, role=Role.LEAD).values("project_id")
    from django.db.models import Q

    return qs.filter(Q(project_id__in=lead_projects) | Q(created_by=request.user))


@extend_schema(parameters=[OpenApiParameter("project", OpenApiTypes.INT), OpenApiParameter("kind", OpenApiTypes.STR)])
class JobList(generics.ListAPIView):
    serializer_class = s.JobSerializer
    pipeline_readable = True

    def get_queryset(self):
        qs = _jobs_for(self.request)
        project = self.request.query_params.get("project")
        if project:
            if parse_id(project) is None:
                raise DomainError.single("project", "must be an integer id")
            qs = qs.filter(project_id=parse_id(project))
        if self.request.query_params.get("kind"):
            qs = qs.filter(kind=self.request.query_params["kind"])
        return qs

    def paginate_queryset(self, queryset):
        self.paginator.ordering = "-id"
        return super().paginate_queryset(queryset)


class JobDetail(generics.RetrieveAPIView):
    serializer_class = s.JobSerializer
    pipeline_readable = True

    def get_object(self):
        return get_object_or_404(_jobs_for(self.request), pk=self.kwargs["job_id"])


# --- Tokens and me ---------------------------------------------------------------------------------

class TokenListCreate(generics.ListAPIView):
    serializer_class = s.TokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.TokenCreatedSerializer, 400: ERRORS})
    def post(self, request):
        data = _validated(s.TokenCreateSerializer, request.data)
        project = None
        if data["project"] is not None:
            project = project_for(request, data["project"], need="lead")
        token, key = token_create(user=request.user, name=data["name"], kind=data["kind"], project=project)
        out = s.TokenSerializer(token).data
        out["key"] = key
        return Response(out, status=status.HTTP_201_CREATED)


class TokenDetail(APIView):
    @extend_schema(responses={204: None, 404: ERRORS})
    def delete(self, request, token_id: int):
        token_revoke(token=get_object_or_404(ApiToken, user=request.user, pk=token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class Me(APIView):
    pipeline_readable = True

    @extend_schema(responses={200: s.MeSerializer})
    def get(self, request):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return Response({
            "username": request.user.get_username(),
            "annotator_id": annotator_for_user(user=request.user).pk,
            "is_superuser": request.user.is_superuser,
            "token_kind": token.kind if token else None,
            "token_project": token.project_id if token and token.kind == TokenKind.PIPELINE else None,
        })

