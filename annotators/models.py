"""The workforce: who answers (internal users and crowd workers), their roles, and API tokens."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q


class Backend(models.TextChoices):
    INTERNAL = "internal", "Internal"
    MTURK = "mturk", "Mechanical Turk"


class Annotator(models.Model):
    """Someone who gives answers: a Django user (internal) or an external worker id (crowd)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="annotator"
    )
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.INTERNAL)
    external_id = models.CharField(max_length=255, null=True, blank=True, help_text="Crowd worker id.")
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "external_id"],
                condition=Q(external_id__isnull=False),
                name="annotator_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(external_id__isnull=False),
                name="annotator_has_identity",
            ),
            models.CheckConstraint(
                condition=~Q(backend=Backend.INTERNAL) | Q(user__isnull=False),
                name="annotator_internal_has_user",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or (self.user.get_username() if self.user_id else f"{self.backend}:{self.external_id}")


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    ANNOTATOR = "annotator", "Annotator"


class Membership(models.Model):
    """An annotator's role in a project, and whether they are paused there."""

    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="memberships")
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="membership_unique"),
        ]
        indexes = [models.Index(fields=["annotator", "project"], name="membership_annotator")]

    def __str__(self) -> str:
        return f"{self.annotator} in {self.project_id} ({self.role})"


class TokenKind(models.TextChoices):
    PERSONAL = "personal", "Personal (acts as its user)"
    PIPELINE = "pipeline", "Pipeline (read-only, one project)"


TOKEN_PREFIX = "qrm_"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token. Only its sha256 is stored; the key is shown once, when it is created.

    A pipeline token is read-only and scoped to one project (database-enforced)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16, choices=TokenKind.choices, default=TokenKind.PERSONAL)
    project = models.ForeignKey(
        "labeling.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=TokenKind.PIPELINE) | Q(project__isnull=False),
                name="token_pipeline_has_project",
            ),
        ]

    @property
    def read_only(self) -> bool:
        return self.kind == TokenKind.PIPELINE

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.kind}, {self.user})"
