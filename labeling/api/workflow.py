"""/api/v1/ views for the annotation workflow: next task, answers, skip, review, quality, agreement,
progress, re-aggregation and the quorum planner."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotators.models import Membership
from annotators.services import annotator_for_user
from labeling.api import serializers as s
from labeling.api.lean import LeanPost
from labeling.api.permissions import membership_of_caller, project_for
from labeling.api.views import ERRORS, AnswerList, _validated
from labeling.errors import DomainError, parse_id
from labeling.models import Item, JobKind, Lease
from labeling.selectors_stats import agreement_report, annotator_me, progress_report, review_queue_page
from labeling.services.answers import answer_submit
from labeling.services.jobs import job_create
from labeling.services.quality import annotator_pause_set, review_resolve
from labeling.services.tasks import lease_skip, task_next, task_plan


class NextTaskInput(serializers.Serializer):
    exclude_leases = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                           help_text="Leases the client already shows or holds (prefetch).")


class TaskOut(serializers.Serializer):
    state = serializers.ChoiceField(choices=["task", "no_work", "paused", "too_many_leases"],
                                    help_text="'paused'/'too_many_leases' only under an answer's `next`.")
    lease = inline_serializer("LeaseOut", {"id": serializers.IntegerField(), "expires_at": serializers.DateTimeField()},
                              required=False, allow_null=True)
    item = inline_serializer("TaskItem", {"id": serializers.IntegerField(), "data": serializers.JSONField()},
                             required=False, allow_null=True)
    message = serializers.CharField(required=False)


class NextTask(LeanPost, APIView):
    """Lease the next item to the caller (or give back one they hold)."""

    prefetch_membership = True  # see annotators.authentication

    @extend_schema(request=NextTaskInput, responses={200: TaskOut, 403: ERRORS, 409: ERRORS})
    def post(self, request, project_id: int):
        membership = membership_of_caller(request, project_id)
        body, code = self.handle(membership, request.data)
        return Response(body, status=code)

    @staticmethod
    def handle(membership, payload) -> tuple[dict, int]:
        body = payload if isinstance(payload, dict) else {}
        data = _plain_next_task(body) or _validated(NextTaskInput, body)
        offer = task_next(project=membership.project, annotator=membership.annotator, membership=membership,
                          exclude_leases=data["exclude_leases"])
        return _task_body(offer), 200


def _task_body(offer) -> dict:
    if offer is None:
        return {"state": "no_work", "message": "There is nothing left for you to label here."}
    return {
        "state": "task",
        "lease": {"id": offer.lease.pk, "expires_at": offer.lease.expires_at},
        "item": {"id": offer.item.pk, "data": offer.item.data},
    }


class AnswerInput(serializers.Serializer):
    item = serializers.IntegerField()
    lease = serializers.IntegerField(required=False, allow_null=True)
    value = serializers.JSONField(help_text="A choice, a list of choices, a rating or text, per the schema.")
    seconds = s.FiniteFloatField(required=False, allow_null=True, min_value=0)
    client_request_id = serializers.CharField(required=False, allow_null=True, max_length=64,
                                              help_text="Send the same id on retries: one answer is stored.")
    next = serializers.BooleanField(required=False, default=False,
                                    help_text="Also lease the next task and return it under `next` "
                                              "(as POST next-task would), saving a round trip.")
    exclude_leases = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                           help_text="With `next`: leases the client already shows or holds.")


class SubmissionOut(serializers.Serializer):
    answer = serializers.IntegerField()
    item = serializers.IntegerField()
    status = serializers.CharField()
    decision = serializers.JSONField()
    next = TaskOut(required=False, help_text="With `next: true`: the next task, as POST next-task returns it.")


class AnswerListSubmit(LeanPost, AnswerList):
    """GET: the project's answers (leads, pipelines). POST: submit an answer; the item is decided
    at once under its row lock."""

    prefetch_membership = True  # see annotators.authentication

    @extend_schema(request=AnswerInput, responses={201: SubmissionOut, 200: SubmissionOut, 400: ERRORS,
                                                   409: ERRORS})
    def post(self, request, project_id: int):
        membership = membership_of_caller(request, project_id)
        body, code = self.handle(membership, request.data)
        return Response(body, status=code)

    @staticmethod
    def handle(membership, payload) -> tuple[dict, int]:
        data = _plain_answer(payload) or _validated(AnswerInput, payload)
        # With `next`, the next task's statement is planned first: on PostgreSQL it goes to the
        # server with the answer's writes and commit, in one round trip (answer_submit(then=)).
        plan = task_plan(project=membership.project, annotator=membership.annotator,
                         exclude_leases=data["exclude_leases"]) if data["next"] else None
        result = answer_submit(project=membership.project, annotator=membership.annotator, membership=membership,
                               item_id=data["item"], value=data["value"], seconds=data.get("seconds"),
                               lease_id=data.get("lease"), client_request_id=data.get("client_request_id"),
                               then=(plan.sql, plan.params) if plan is not None else None)
        body = dict(result.body)
        if data["next"]:
            # The answer is stored whatever happens here: a pause (a failed check item) or too
            # many open tasks is told in `next`, not as an error of this submission.
            try:
                body["next"] = _task_body(task_next(
                    project=membership.project, annotator=membership.annotator,
                    membership=None if result.membership_stale else membership,
                    exclude_leases=data["exclude_leases"], plan=plan, rows=result.then_rows))
            except DomainError as exc:
                body["next"] = {"state": exc.code if exc.code in ("paused", "too_many_leases") else "no_work",
                                "message": str(exc)}
        return body, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK


# The two hottest request bodies are checked here first, in their plain form (the form every
# client sends: JSON numbers, strings, booleans, lists of numbers). Instantiating a DRF
# serializer deep-copies its fields, which cost more than the rest of the request's Python.
# Anything else (a missing or null field, a string for a number, whitespace to trim, an
# error) goes to the serializer, so errors and coercions are exactly DRF's.

def _is_int(value) -> bool:
    return type(value) is int and 0 < value < 2**63


def _is_id_list(value) -> bool:
    return type(value) is list and all(type(v) is int for v in value)


def _plain_next_task(data: dict) -> dict | None:
    leases = data.get("exclude_leases", [])
    if not _is_id_list(leases):
        return None
    return {"exclude_leases": leases}


def _plain_answer(data) -> dict | None:
    if type(data) is not dict or not _is_int(data.get("item")) or data.get("value") is None:
        return None
    lease, seconds, request_id = data.get("lease"), data.get("seconds"), data.get("client_request_id")
    next_, leases = data.get("next", False), data.get("exclude_leases", [])
    if lease is not None and not _is_int(lease):
        return None
    if seconds is not None and not (type(seconds) in (int, float) and 0 <= seconds <= 10**9):
        return None
    if request_id is not None and not (type(request_id) is str and 0 < len(request_id) <= 64
                                       and request_id == request_id.strip() and "\x00" not in request_id):
        return None
    if type(next_) is not bool or not _is_id_list(leases):
        return None
    return {"item": data["item"], "lease": lease, "value": data["value"],
            "seconds": None if seconds is None else float(seconds), "client_request_id": request_id,
            "next": next_, "exclude_leases": leases}


class LeaseSkip(APIView):
    @extend_schema(request=None, responses={200: inline_serializer("Skipped", {"state": serializers.CharField()}),
                                            404: ERRORS, 409: ERRORS})
    def post(self, request, lease_id: int):
        lease = get_object_or_404(Lease, pk=lease_id, annotator__user=request.user)
        lease_skip(lease=lease, annotator=lease.annotator)
        return Response({"state": "skipped"})


class MyProgress(APIView):
    """The caller's counters in a project."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, project_id: int):
        project = project_for(request, project_id, need="member")
        return Response(annotator_me(project=project, annotator=annotator_for_user(user=request.user)))


class ReviewQueue(APIView):
    @extend_schema(parameters=[OpenApiParameter("cursor", OpenApiTypes.INT),
                               OpenApiParameter("page_size", OpenApiTypes.INT)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        cursor = request.query_params.get("cursor") or "0"
        size = request.query_params.get("page_size") or "20"
        if parse_id(cursor) is None or parse_id(size) is None or not 1 <= int(size) <= 200:
            raise DomainError.single("cursor", "cursor must be an item id and page_size 1..200")
        page = review_queue_page(project=project, after_id=int(cursor), size=int(size))
        if page["next_cursor"] is not None:
            page["next"] = request.build_absolute_uri(
                f"{request.path}?cursor={page['next_cursor']}&page_size={size}")
        else:
            page["next"] = None
        return Response(page)


class ReviewInput(serializers.Serializer):
    label = serializers.JSONField()


class ItemReview(APIView):
    @extend_schema(request=ReviewInput, responses={200: s.ItemSerializer, 400: ERRORS, 404: ERRORS})
    def post(self, request, project_id: int, item_id: int):
        project = project_for(request, project_id, need="lead")
        data = _validated(ReviewInput, request.data)
        item = review_resolve(project=project, item_id=item_id, label=data["label"], user=request.user)
        item.refresh_from_db()
        out = s.ItemSerializer(item).data
        out["consensus"] = {"label": item.consensus.label, "reviewed_by": request.user.get_username(),
                            "reviewed_at": item.consensus.reviewed_at}
        return Response(out)


class DecisionEventSerializer(serializers.Serializer):
    status = serializers.CharField()
    previous_status = serializers.CharField()
    label = serializers.JSONField()
    confidence = serializers.FloatField(allow_null=True)
    reason = serializers.CharField()
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class ItemHistory(generics.ListAPIView):
    serializer_class = DecisionEventSerializer
    pipeline_readable = True

    def get_queryset(self):
        project = project_for(self.request, self.kwargs["project_id"], need="read")
        item = get_object_or_404(Item, project=project, pk=self.kwargs["item_id"])
        return item.history.select_related("actor")


class Agreement(APIView):
    pipeline_readable = True

    @extend_schema(parameters=[OpenApiParameter("level", OpenApiTypes.STR,
                                                enum=["nominal", "ordinal", "interval", "ratio"])],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, project_id: int):
        project = project_for(request, project_id, need="read")
        level = request.query_params.get("level") or ("ordinal" if project.schema_kind == "rating" else "nominal")
        if level not in ("nominal", "ordinal", "interval", "ratio"):
            raise DomainError.single("level", "must be nominal, ordinal, interval or ratio")
        return Response(agreement_report(project=project, level=level))


class Progress(APIView):
    pipeline_readable = True

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, project_id: int):
        return Response(progress_report(project=project_for(request, project_id, need="read")))


class PauseInput(serializers.Serializer):
    paused = serializers.BooleanField()
    exclude_answers = serializers.BooleanField(default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class MemberPause(APIView):
    @extend_schema(request=PauseInput, responses={200: s.MemberSerializer, 400: ERRORS})
    def post(self, request, project_id: int, member_id: int):
        project = project_for(request, project_id, need="lead")
        membership = get_object_or_404(Membership.objects.select_related("annotator__user", "project"),
                                       project=project, pk=member_id)
        data = _validated(PauseInput, request.data)
        annotator_pause_set(membership=membership, paused=data["paused"], exclude_answers=data["exclude_answers"],
                            reason=data["reason"], actor=request.user)
        membership.refresh_from_db()
        return Response(s.MemberSerializer(membership).data)


class Reaggregate(APIView):
    @extend_schema(request=None, responses={202: s.JobSerializer})
    def post(self, request, project_id: int):
        project = project_for(request, project_id, need="lead")
        job = job_create(kind=JobKind.AGGREGATE, project=project, created_by=request.user)
        return Response(s.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class Plan(APIView):
    """The quorum planner: exact acceptance, accuracy and cost of a rule."""

    pipeline_readable = True

    @extend_schema(parameters=[
        OpenApiParameter("accuracy", OpenApiTypes.FLOAT, required=True),
        OpenApiParameter("classes", OpenApiTypes.STR, required=True, description="An integer, or 'open'."),
        OpenApiParameter("rule", OpenApiTypes.STR, required=True,
                         description="K/N, adaptive:K/N or escalate:K/N->K/N"),
    ], responses={200: OpenApiTypes.OBJECT, 400: ERRORS})
    def get(self, request):
        from labeling.aggregation import parse_rule, plan

        params = request.query_params
        missing = [p for p in ("accuracy", "classes", "rule") if not params.get(p)]
        if missing:
            raise DomainError.single(missing[0], "required")
        try:
            accuracy = float(params["accuracy"])
        except ValueError:
            raise DomainError.single("accuracy", "must be a number between 0 and 1") from None
        classes = params["classes"]
        try:
            classes_arg = classes if classes == "open" else int(classes)
        except ValueError:
            raise DomainError.single("classes", "must be an integer of at least 2, or 'open'") from None
        try:
            rule = parse_rule(params["rule"])
        except ValueError as exc:
            raise DomainError.single("rule", str(exc)) from None
        try:
            result = plan(rule, accuracy, classes_arg)
        except ValueError as exc:
            field = "accuracy" if "accuracy" in str(exc) else "classes" if "class" in str(exc) else "rule"
            raise DomainError.single(field, str(exc)) from None
        return Response(result.as_dict())


