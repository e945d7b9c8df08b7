"""Writes to the workforce: annotator identities, memberships and API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotators.models import TOKEN_PREFIX, ApiToken, Annotator, Backend, Membership, Role, TokenKind, hash_token
from labeling.errors import DomainError

User = get_user_model()


def annotator_for_user(*, user) -> Annotator:
    """The internal annotator identity of a Django user, created on first use."""
    annotator = Annotator.objects.filter(user=user).first()
    if annotator is not None:
        return annotator
    try:
        with transaction.atomic():
            return Annotator.objects.create(user=user, backend=Backend.INTERNAL, display_name=user.get_username())
    except IntegrityError:
        return Annotator.objects.get(user=user)


def annotator_for_worker(*, backend: str, worker_id: str) -> Annotator:
    annotator, _ = Annotator.objects.get_or_create(
        backend=backend, external_id=worker_id, defaults={"display_name": f"{backend}:{worker_id}"}
    )
    return annotator


@transaction.atomic
def membership_set(*, project, user, role: str = Role.ANNOTATOR) -> Membership:
    """Add a user to a project with a role, or change their role."""
    if role not in Role.values:
        raise DomainError.single("role", f"must be one of {', '.join(Role.values)}")
    annotator = annotator_for_user(user=user)
    membership, created = Membership.objects.select_for_update().get_or_create(
        project=project, annotator=annotator, defaults={"role": role}
    )
    if not created and membership.role != role:
        if membership.role == Role.LEAD and role != Role.LEAD:
            _ensure_another_lead(project=project, membership=membership)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def _ensure_another_lead(*, project, membership: Membership) -> None:
    others = Membership.objects.filter(project=project, role=Role.LEAD).exclude(pk=membership.pk)
    if not others.exists():
        raise DomainError.single("role", "a project needs at least one lead; make someone else lead first")


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if membership.role == Role.LEAD:
        _ensure_another_lead(project=membership.project, membership=membership)
    membership.delete()


@transaction.atomic
def membership_pause(*, membership: Membership, paused: bool, reason: str = "") -> Membership:
    membership.paused = paused
    membership.paused_reason = reason if paused else ""
    membership.paused_at = timezone.now() if paused else None
    membership.save(update_fields=["paused", "paused_reason", "paused_at"])
    return membership


def token_create(*, user, name: str = "", kind: str = TokenKind.PERSONAL, project=None) -> tuple[ApiToken, str]:
    """Create a token and return it with its key. The key is not stored and cannot be shown again."""
    if kind == TokenKind.PIPELINE and project is None:
        raise DomainError.single("project", "a pipeline token is scoped to one project; name it")
    if kind == TokenKind.PERSONAL and project is not None:
        raise DomainError.single("project", "a personal token acts for its user in every project; "
                                            "use kind=pipeline for a token scoped to one project")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], kind=kind, project=project, key_hash=hash_token(key), prefix=key[:12]
    )
    return token, key


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute per token (no write per request)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
