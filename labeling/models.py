"""The labeling domain: projects, items, answers, consensus, decision history and jobs.

Writes go through ``labeling.services``; reads that feed the math go through
``labeling.selectors``. Invariants that the database can hold are constraints here, so that no
code path (admin, shell, a bug) can break them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class SchemaKind(models.TextChoices):
    SINGLE = "single", "Single choice"
    MULTI = "multi", "Multiple choice"
    RATING = "rating", "Rating scale"
    TEXT = "text", "Free text"


class RuleKind(models.TextChoices):
    K_OF_N = "k_of_n", "k of n agreeing answers"
    ESCALATE = "escalate", "k of n, escalating"
    CONFIDENCE = "confidence", "Posterior confidence target"


class ConsensusMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    WEIGHTED = "weighted", "Weighted majority"
    DAWID_SKENE = "dawid_skene", "Dawid-Skene"
    ONE_COIN = "one_coin", "One-coin Dawid-Skene"


class TaskOrder(models.TextChoices):
    DEPTH_FIRST = "depth_first", "Closest to a decision first"
    BREADTH_FIRST = "breadth_first", "Fewest answers first"
    LEAST_CERTAIN = "least_certain", "Least certain first"


class Workforce(models.TextChoices):
    INTERNAL = "internal", "Internal annotators"
    MTURK = "mturk", "Mechanical Turk"
    BOTH = "both", "Both"


TEXT_NORMALIZERS = ("trim", "lowercase", "strip_at", "collapse_whitespace")


class Project(models.Model):
    """A labeling project: what to ask (schema), how many must agree (rule), who answers."""

    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Markdown shown to annotators.")

    # Label schema.
    schema_kind = models.CharField(max_length=16, choices=SchemaKind.choices, default=SchemaKind.SINGLE)
    choices = models.JSONField(default=list, blank=True, help_text="Choice values for single/multi.")
    scale_min = models.IntegerField(null=True, blank=True)
    scale_max = models.IntegerField(null=True, blank=True)
    text_normalization = models.JSONField(
        default=list, blank=True, help_text=f"Free-text normalisation steps, in order: {', '.join(TEXT_NORMALIZERS)}."
    )

    # Quorum rule.
    rule_kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.K_OF_N)
    agree_k = models.PositiveSmallIntegerField(default=2, help_text="Agreeing answers needed to accept.")
    min_answers = models.PositiveSmallIntegerField(default=1)
    max_answers = models.PositiveSmallIntegerField(default=3)
    escalate_after = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Escalation: answers in the first stage (agree_k of escalate_after)."
    )
    escalate_k = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Escalation: agreeing answers needed once escalated (of max_answers)."
    )
    confidence_target = models.FloatField(null=True, blank=True, help_text="Posterior probability to accept.")
    consensus_method = models.CharField(
        max_length=16, choices=ConsensusMethod.choices, default=ConsensusMethod.MAJORITY
    )
    gold_rate = models.FloatField(default=0.0, help_text="Share of tasks served from gold items.")

    # Work distribution and quality.
    task_order = models.CharField(max_length=16, choices=TaskOrder.choices, default=TaskOrder.DEPTH_FIRST)
    lease_seconds = models.PositiveIntegerField(default=600)
    workforce = models.CharField(max_length=16, choices=Workforce.choices, default=Workforce.INTERNAL)
    pause_below_accuracy = models.FloatField(
        null=True, blank=True, help_text="Pause an annotator whose gold accuracy falls below this."
    )
    pause_min_gold = models.PositiveSmallIntegerField(default=10)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(min_answers__gte=1), name="project_min_answers_positive"),
            models.CheckConstraint(condition=Q(min_answers__lte=F("max_answers")), name="project_min_le_max"),
            models.CheckConstraint(condition=Q(agree_k__gte=1), name="project_k_positive"),
            models.CheckConstraint(condition=Q(agree_k__lte=F("max_answers")), name="project_k_le_max"),
            models.CheckConstraint(
                condition=~Q(rule_kind=RuleKind.ESCALATE)
                | (
                    Q(escalate_after__isnull=False, escalate_k__isnull=False)
                    & Q(agree_k__lte=F("escalate_after"))
                    & Q(escalate_after__lt=F("max_answers"))
                    & Q(escalate_k__lte=F("max_answers"))
                    & Q(escalate_k__gte=1)
                ),
                name="project_escalation_valid",
            ),
            models.CheckConstraint(
                condition=~Q(rule_kind=RuleKind.CONFIDENCE)
                | Q(confidence_target__isnull=False, confidence_target__gt=0, confidence_target__lt=1),
                name="project_confidence_target_valid",
            ),
            models.CheckConstraint(condition=Q(gold_rate__gte=0, gold_rate__lte=1), name="project_gold_rate_range"),
            models.CheckConstraint(
                condition=~Q(schema_kind__in=[SchemaKind.SINGLE, SchemaKind.MULTI]) | ~Q(choices=[]),
                name="project_choices_not_empty",
            ),
            models.CheckConstraint(
                condition=~Q(schema_kind=SchemaKind.RATING)
                | Q(scale_min__isnull=False, scale_max__isnull=False, scale_min__lt=F("scale_max")),
                name="project_scale_valid",
            ),
            models.CheckConstraint(condition=Q(lease_seconds__gte=10), name="project_lease_min"),
        ]

    def __str__(self) -> str:
        return self.name


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    ACCEPTED = "accepted", "Accepted"
    NO_CONSENSUS = "no_consensus", "No consensus"
    REVIEWED = "reviewed", "Reviewed"


# Statuses in which an item still takes answers.
ACTIVE_STATUSES = (ItemStatus.OPEN, ItemStatus.IN_PROGRESS)


class Item(models.Model):
    """One thing to label. ``answer_count`` and ``lease_count`` are kept by the services under
    the item's row lock, so the task picker reads them from an index instead of counting."""

    # No index of its own: item_external_id_unique (project, external_id) serves the lookups by
    # project, and every index less is one write less on each of an item's updates.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items", db_index=False)
    external_id = models.CharField(max_length=255)
    data = models.JSONField(default=dict)
    gold = models.JSONField(null=True, blank=True, help_text="Known answer, for gold items.")
    is_gold = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    answer_count = models.PositiveIntegerField(default=0, help_text="Answers that count (not excluded).")
    lease_count = models.PositiveIntegerField(default=0, help_text="Open leases.")
    needed = models.PositiveIntegerField(
        default=1, help_text="Further answers needed before the rule can possibly decide."
    )
    open_slots = models.IntegerField(
        default=1, help_text="needed - lease_count: leases the picker may still hand out."
    )
    confidence = models.FloatField(null=True, blank=True, help_text="Current confidence in the leading label.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_external_id_unique"),
            models.CheckConstraint(condition=~Q(external_id=""), name="item_external_id_not_empty"),
            models.CheckConstraint(
                condition=Q(is_gold=False) | Q(gold__isnull=False), name="item_gold_has_answer"
            ),
            models.CheckConstraint(condition=Q(open_slots=F("needed") - F("lease_count")),
                                   name="item_open_slots_consistent"),
        ]
        indexes = [
            # Status filters and per-status counts.
            models.Index(fields=["project", "status", "id"], name="item_project_status"),
            # The task picker: only items that can take a lease are in these partial indexes, in
            # the order each task_order setting serves them (see labeling/services/tasks.py).
            models.Index(
                fields=["project", "-answer_count", "id"],
                name="item_pick_depth",
                condition=Q(status__in=["open", "in_progress"], open_slots__gt=0, is_gold=False),
            ),
            models.Index(
                fields=["project", "answer_count", "id"],
                name="item_pick_breadth",
                condition=Q(status__in=["open", "in_progress"], open_slots__gt=0, is_gold=False),
            ),
            models.Index(
                fields=["project", "confidence", "id"],
                name="item_pick_uncertain",
                condition=Q(status__in=["open", "in_progress"], open_slots__gt=0, is_gold=False),
            ),
            models.Index(fields=["project", "answer_count", "id"], name="item_pick_gold",
                         condition=Q(is_gold=True)),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.external_id}"


class AnswerSource(models.TextChoices):
    INTERNAL = "internal", "Internal annotator"
    MTURK = "mturk", "Mechanical Turk"
    IMPORT = "import", "Imported"


class Answer(models.Model):
    # Indexed by answer_one_per_item_annotator (item, annotator) and answer_annotator_time
    # (annotator, created_at), not each on its own as well.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="answers", db_index=False)
    annotator = models.ForeignKey("annotators.Annotator", on_delete=models.PROTECT, related_name="answers",
                                  db_index=False)
    value = models.JSONField()
    seconds = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=AnswerSource.choices, default=AnswerSource.INTERNAL)
    client_request_id = models.CharField(max_length=64, null=True, blank=True)
    excluded = models.BooleanField(default=False, help_text="Left out of decisions (paused annotator).")
    result = models.JSONField(null=True, blank=True, help_text="What the submission returned (for retries).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="answer_one_per_item_annotator"),
            models.UniqueConstraint(
                fields=["annotator", "client_request_id"],
                condition=Q(client_request_id__isnull=False),
                name="answer_request_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(seconds__isnull=True) | Q(seconds__gte=0), name="answer_seconds_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "created_at"], name="answer_annotator_time"),
        ]


class LeaseState(models.TextChoices):
    ACTIVE = "active", "Active"
    ANSWERED = "answered", "Answered"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"
    RELEASED = "released", "Released"


class Lease(models.Model):
    """An item handed to one annotator until ``expires_at``. A skipped lease keeps the item away
    from that annotator for good. Open leases are counted on the item (``lease_count``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    # Indexed by lease_annotator_item (annotator, item).
    annotator = models.ForeignKey("annotators.Annotator", on_delete=models.CASCADE, related_name="leases",
                                  db_index=False)
    state = models.CharField(max_length=16, choices=LeaseState.choices, default=LeaseState.ACTIVE)
    is_gold = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], condition=Q(state="active"),
                                    name="lease_one_active_per_item_annotator"),
            models.UniqueConstraint(fields=["item", "annotator"], condition=Q(state="skipped"),
                                    name="lease_one_skip_per_item_annotator"),
        ]
        indexes = [
            models.Index(fields=["project", "expires_at"], name="lease_active_expiry",
                         condition=Q(state="active")),
            models.Index(fields=["annotator", "item"], name="lease_annotator_item"),
            # The open and skipped leases only: an answered or expired lease leaves it, so closing
            # a lease writes no entry here (the state change is not a HOT update).
            models.Index(fields=["annotator", "project", "state"], name="lease_annotator_open",
                         condition=Q(state__in=["active", "skipped"])),
        ]


class AnnotatorEstimate(models.Model):
    """What the last aggregation run (and the gold items) say about one annotator in one project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="estimates")
    annotator = models.ForeignKey("annotators.Annotator", on_delete=models.CASCADE, related_name="estimates")
    accuracy = models.FloatField(null=True, blank=True, help_text="Estimated probability of a right answer.")
    confusion = models.JSONField(null=True, blank=True, help_text="Rows: true label; columns: given label.")
    labels = models.JSONField(default=list, blank=True, help_text="Label order of the confusion matrix.")
    answers = models.PositiveIntegerField(default=0)
    gold_answers = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="estimate_unique"),
            models.CheckConstraint(condition=Q(gold_correct__lte=F("gold_answers")), name="estimate_gold_le"),
        ]


class Consensus(models.Model):
    """The current decision on an item. A reviewed label (``reviewed_by``) wins over the votes."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="consensus")
    label = models.JSONField(null=True)
    confidence = models.FloatField(default=0.0)
    method = models.CharField(max_length=16, choices=ConsensusMethod.choices + [("review", "Review")])
    votes = models.JSONField(default=dict, help_text="Votes per label value.")
    status = models.CharField(max_length=16, choices=ItemStatus.choices)
    tied = models.BooleanField(default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "consensus"
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0, confidence__lte=1), name="consensus_confidence_range"
            ),
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True) | Q(reviewed_at__isnull=False),
                name="consensus_review_has_time",
            ),
        ]


class DecisionEvent(models.Model):
    """Every change of an item's decision: what, when, why, and who (for reviews)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="history", db_index=False)  # decision_event_item
    status = models.CharField(max_length=16, choices=ItemStatus.choices)
    previous_status = models.CharField(max_length=16, choices=ItemStatus.choices)
    label = models.JSONField(null=True)
    confidence = models.FloatField(null=True)
    reason = models.CharField(max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["item", "id"], name="decision_event_item")]


class JobKind(models.TextChoices):
    IMPORT = "import", "Item import"
    AGGREGATE = "aggregate", "Aggregation run"
    EXPORT = "export", "Dataset export"
    WEAK_LABEL = "weak_label", "Weak-labeling run"
    CROWD_SYNC = "crowd_sync", "Crowd sync"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """Any long-running work. The API hands back its id; ``/api/v1/jobs/{id}`` shows progress."""

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "kind", "status"], name="job_project_kind_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_total__isnull=True) | Q(progress_done__lte=F("progress_total")),
                name="job_progress_le_total",
            )
        ]

    @property
    def progress(self) -> float | None:
        if not self.progress_total:
            return 1.0 if self.status == JobStatus.SUCCEEDED else None
        return self.progress_done / self.progress_total

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"


from labeling.exports.models import *  # noqa: E402,F401,F403 - dataset versions (labeling/exports/models.py)
