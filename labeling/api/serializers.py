"""Input and output serializers for /api/v1/. Input serializers check shapes and types; the
services check the domain rules (one place, shared with the admin and the commands)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotators.models import ApiToken, Membership, Role, TokenKind
from labeling.models import (
    Answer, ConsensusMethod, Item, Job, Project, RuleKind, SchemaKind, TaskOrder, Workforce,
)
from labeling.schema import NORMALIZERS


class FiniteFloatField(serializers.FloatField):
    """A FloatField that answers a number too large for a float (10**400 in JSON) with its usual
    "A valid number is required." instead of an OverflowError, and refuses inf/nan."""

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
        except OverflowError:
            self.fail("invalid")
        if value != value or value in (float("inf"), float("-inf")):
            self.fail("invalid")
        return value


class ProjectSerializer(serializers.ModelSerializer):
    """A project, its label schema and its quorum rule."""

    choices = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=500)
    text_normalization = serializers.ListField(
        child=serializers.ChoiceField(choices=NORMALIZERS), required=False, max_length=len(NORMALIZERS)
    )
    schema_kind = serializers.ChoiceField(choices=SchemaKind.choices, required=False)
    rule_kind = serializers.ChoiceField(choices=RuleKind.choices, required=False)
    consensus_method = serializers.ChoiceField(choices=ConsensusMethod.choices, required=False)
    task_order = serializers.ChoiceField(choices=TaskOrder.choices, required=False)
    workforce = serializers.ChoiceField(choices=Workforce.choices, required=False)
    agree_k = serializers.IntegerField(min_value=1, max_value=100, required=False)
    min_answers = serializers.IntegerField(min_value=1, max_value=100, required=False)
    max_answers = serializers.IntegerField(min_value=1, max_value=100, required=False)
    escalate_after = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    escalate_k = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    confidence_target = FiniteFloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True)
    gold_rate = FiniteFloatField(min_value=0.0, max_value=1.0, required=False)
    lease_seconds = serializers.IntegerField(min_value=10, max_value=7 * 24 * 3600, required=False)
    pause_below_accuracy = FiniteFloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True)
    pause_min_gold = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    scale_min = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000, required=False, allow_null=True)
    scale_max = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000, required=False, allow_null=True)

    class Meta:
        model = Project
        fields = [
            "id", "name", "instructions", "schema_kind", "choices", "scale_min", "scale_max",
            "text_normalization", "rule_kind", "agree_k", "min_answers", "max_answers", "escalate_after",
            "escalate_k", "confidence_target", "consensus_method", "gold_rate", "task_order", "lease_seconds",
            "workforce", "pause_below_accuracy", "pause_min_gold", "archived", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ProjectStatsSerializer(serializers.Serializer):
    items = serializers.DictField(child=serializers.IntegerField(), help_text="Items per status.")
    answers = serializers.IntegerField()


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="annotator.user.username", read_only=True, allow_null=True)
    annotator_id = serializers.IntegerField(source="annotator.id", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "annotator_id", "username", "role", "paused", "paused_reason", "paused_at", "created_at"]
        read_only_fields = fields


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ConsensusSerializer(serializers.Serializer):
    label = serializers.JSONField(allow_null=True)
    confidence = serializers.FloatField()
    method = serializers.CharField()
    status = serializers.CharField()
    tied = serializers.BooleanField()
    votes = serializers.JSONField()
    reviewed_by = serializers.CharField(source="reviewed_by.username", allow_null=True, default=None)
    reviewed_at = serializers.DateTimeField(allow_null=True)


class ItemSerializer(serializers.ModelSerializer):
    consensus = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = ["id", "external_id", "data", "gold", "is_gold", "status", "answer_count", "confidence",
                  "consensus", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(ConsensusSerializer(allow_null=True))
    def get_consensus(self, item: Item) -> dict | None:
        # Views select_related("consensus__reviewed_by"): no query per row.
        try:
            consensus = item.consensus
        except Item.consensus.RelatedObjectDoesNotExist:
            return None
        return ConsensusSerializer(consensus).data


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    gold = serializers.IntegerField()


class ImportFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL, a JSON array, or CSV (UTF-8).")
    format = serializers.ChoiceField(choices=["jsonl", "json", "csv"], required=False,
                                     help_text="Taken from the file name when left out.")
    allow_formulas = serializers.BooleanField(default=False)
    run_as_job = serializers.BooleanField(default=False, help_text="Import in the worker even if small.")


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "project", "params", "progress", "progress_done", "progress_total",
                  "result", "error", "created_at", "started_at", "finished_at", "url"]
        read_only_fields = fields

    def get_url(self, job: Job) -> str:
        return f"/api/v1/jobs/{job.pk}"


class AnswerSerializer(serializers.ModelSerializer):
    item_external_id = serializers.CharField(source="item.external_id", read_only=True)
    annotator_name = serializers.CharField(source="annotator.__str__", read_only=True)

    class Meta:
        model = Answer
        fields = ["id", "item", "item_external_id", "annotator", "annotator_name", "value", "seconds", "source",
                  "excluded", "created_at"]
        read_only_fields = fields


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "kind", "project", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=TokenKind.choices, default=TokenKind.PERSONAL)
    project = serializers.IntegerField(required=False, allow_null=True, default=None)


class TokenCreatedSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(TokenSerializer.Meta):
        fields = TokenSerializer.Meta.fields + ["key"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    annotator_id = serializers.IntegerField()
    is_superuser = serializers.BooleanField()
    token_kind = serializers.CharField(allow_null=True)
    token_project = serializers.IntegerField(allow_null=True)
