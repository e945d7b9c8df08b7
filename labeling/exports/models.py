"""Dataset versions: immutable releases of a project's labels, their files, and what goes with them.

- ``ExportSettings`` (one per project): split ratios and salt, the webhook called when a version
  is ready.
- ``DatasetVersion``: number (1, 2, 3 ... per project), who and when, note, selection, manifest,
  parent, fingerprint. Created once, never updated (``save`` refuses).
- ``DatasetFile``: one published file of a version (a split in a format), with sha256 and size.
- ``ExportRun``: the heartbeat of an export job while it runs, so a sweep can tell a job whose
  worker died from one still working (see ``services.export_sweep``).
- ``WebhookDelivery``: each call of a project's webhook, its attempts and outcome.

These models live in the ``labeling`` app (``labeling/models.py`` imports this module).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from labeling.exports.splits import new_salt

__all__ = [
    "DatasetFile", "DatasetVersion", "DeliveryStatus", "ExportRun", "ExportSettings", "VersionStorage",
    "WebhookDelivery",
]


class ExportSettings(models.Model):
    """A project's export settings. Created with defaults the first time they are read."""

    project = models.OneToOneField("labeling.Project", on_delete=models.CASCADE, related_name="export_settings")
    split_train = models.FloatField(default=0.8)
    split_validation = models.FloatField(default=0.1)
    split_test = models.FloatField(default=0.1)
    split_salt = models.CharField(
        max_length=64, default=new_salt, help_text="Hashed with each external id to pick its split; never changes."
    )
    webhook_url = models.URLField(max_length=500, blank=True, help_text="Called with a signed POST per new version.")
    webhook_secret = models.CharField(max_length=128, blank=True, help_text="HMAC-SHA256 key of the webhook body.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "labeling"
        verbose_name_plural = "export settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(split_train__gte=0, split_train__lte=1, split_validation__gte=0,
                            split_validation__lte=1, split_test__gte=0, split_test__lte=1),
                name="export_split_share_range",
            ),
            models.CheckConstraint(
                condition=Q(split_train__gte=0.999999 - F("split_validation") - F("split_test"),
                            split_train__lte=1.000001 - F("split_validation") - F("split_test")),
                name="export_split_shares_sum_to_one",
            ),
            models.CheckConstraint(condition=~Q(split_salt=""), name="export_split_salt_not_empty"),
        ]


class VersionStorage(models.TextChoices):
    DISK = "disk", "Local disk"
    S3 = "s3", "S3"


class DatasetVersion(models.Model):
    """An immutable release of a project's labels. Visible once this row exists: its files are
    written and uploaded first, then the row is created in one transaction (see ``services``)."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="dataset_versions")
    number = models.PositiveIntegerField()
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey("labeling.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    selection = models.JSONField(help_text="Which decisions the version holds.")
    formats = models.JSONField(help_text="File formats written.")
    fingerprint = models.CharField(
        max_length=64, help_text="sha256 over the selection, split settings, rule and every file's sha256."
    )
    manifest = models.JSONField()
    row_count = models.PositiveBigIntegerField(default=0)
    storage = models.CharField(max_length=8, choices=VersionStorage.choices)
    bucket = models.CharField(max_length=255, blank=True, help_text="S3 bucket (S3 storage only).")
    location = models.CharField(max_length=500, help_text="Key prefix of the version's files in its storage.")

    class Meta:
        app_label = "labeling"
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="dataset_version_number_unique"),
            models.UniqueConstraint(fields=["project", "fingerprint"], name="dataset_version_fingerprint_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="dataset_version_number_positive"),
        ]

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("a dataset version never changes once published")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"project {self.project_id} v{self.number}"


class DatasetFile(models.Model):
    """One file of a version: a split in a format (or the version's label index)."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=100, help_text="train.jsonl, test.parquet, index.jsonl.gz ...")
    split = models.CharField(max_length=16)
    format = models.CharField(max_length=16)
    key = models.CharField(max_length=600, help_text="Where the storage keeps it.")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    rows = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)

    class Meta:
        app_label = "labeling"
        ordering = ["version", "name"]
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="dataset_file_name_unique")]


class ExportRun(models.Model):
    """An export job's heartbeat while it runs: which process, and when it last reported."""

    job = models.OneToOneField("labeling.Job", on_delete=models.CASCADE, related_name="export_run")
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    workdir = models.CharField(max_length=1000, help_text="Temporary folder of the files being written.")
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    class Meta:
        app_label = "labeling"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to a project's webhook URL."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="webhook_deliveries")
    version = models.ForeignKey(DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=64)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "labeling"
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "-id"], name="webhook_delivery_project")]
