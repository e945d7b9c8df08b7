"""The per-project webhook: a signed POST when a version is ready, retried with backoff.

Each call is a ``WebhookDelivery`` row (visible to the project's leads), created in the same
transaction as the version and sent by the ``deliver_webhook`` task after commit. The body is JSON;
the signature is ``X-Quorum-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the
project's webhook secret>`` (verify with ``verify_signature``). A 2xx answer delivers it; anything
else (or no answer) is retried after ``WEBHOOK_BACKOFF_SECONDS * 2**(attempt-1)`` seconds (±20 %
jitter, at most an hour) until ``WEBHOOK_MAX_ATTEMPTS`` attempts, then the delivery is failed.
Every attempt is recorded (status code or error), so a lead can see why a pipeline was not told.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from datetime import timedelta
from typing import Any

import requests
from django.db import transaction
from django.utils import timezone

from labeling.exports.models import DatasetVersion, DeliveryStatus, ExportSettings, WebhookDelivery
from labeling.exports.storage import export_settings

log = logging.getLogger(__name__)

EVENT_VERSION_READY = "dataset_version.ready"
SIGNATURE_HEADER = "X-Quorum-Signature-256"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str) -> bool:
    """For receivers: does the signature header match the body?"""
    return hmac.compare_digest(sign(body, secret), header or "")


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def version_payload(version: DatasetVersion) -> dict[str, Any]:
    base = export_settings()["PUBLIC_URL"].rstrip("/")
    path = f"/api/v1/projects/{version.project_id}/versions/{version.number}"
    manifest = version.manifest
    return {
        "event": EVENT_VERSION_READY,
        "project": version.project_id,
        "version": version.number,
        "fingerprint": version.fingerprint,
        "rows": version.row_count,
        "counts": manifest.get("counts", {}).get("per_split"),
        "created_at": version.created_at.isoformat(),
        "url": f"{base}{path}" if base else path,
        "manifest_url": f"{base}{path}/manifest" if base else f"{path}/manifest",
    }


def webhook_enqueue_version_ready(*, version: DatasetVersion) -> WebhookDelivery | None:
    """Record a delivery for a new version (inside the publishing transaction) and send it after
    commit. Does nothing when the project has no webhook URL."""
    conf = ExportSettings.objects.filter(project_id=version.project_id).first()
    if conf is None or not conf.webhook_url:
        return None
    delivery = WebhookDelivery.objects.create(
        project_id=version.project_id, version=version, event=EVENT_VERSION_READY, url=conf.webhook_url,
        payload=version_payload(version),
    )
    from labeling.exports.tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.delay(delivery.pk))
    return delivery


def backoff_seconds(attempt: int) -> float:
    base = float(export_settings()["WEBHOOK_BACKOFF_SECONDS"])
    return min(3600.0, base * 2 ** max(attempt - 1, 0)) * random.uniform(0.8, 1.2)


def webhook_attempt(*, delivery_id: int) -> float | None:
    """Send one attempt of a delivery. Returns the seconds to wait before the next attempt, or None
    when there is nothing more to do (delivered, failed for good, or not pending)."""
    conf = export_settings()
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update()
                    .filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]).first())
        if delivery is None:
            return None
        attempt = delivery.attempts + 1
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=attempt)
    settings_row = ExportSettings.objects.filter(project_id=delivery.project_id).first()
    secret = settings_row.webhook_secret if settings_row else ""
    body = encode_body({**delivery.payload, "delivery": delivery.pk})
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Quorum-Webhook/1",
        "X-Quorum-Event": delivery.event,
        "X-Quorum-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(body, secret),
    }
    status_code: int | None = None
    error = ""
    try:
        response = requests.post(delivery.url, data=body, headers=headers,
                                 timeout=float(conf["WEBHOOK_TIMEOUT_SECONDS"]), allow_redirects=False)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:300]}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
    now = timezone.now()
    if not error:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED, last_status_code=status_code, last_error="", delivered_at=now,
            next_attempt_at=None)
        return None
    if attempt >= int(conf["WEBHOOK_MAX_ATTEMPTS"]):
        log.warning("webhook delivery %s failed for good after %s attempts: %s", delivery.pk, attempt, error)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, last_status_code=status_code, last_error=error, next_attempt_at=None)
        return None
    wait = backoff_seconds(attempt)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.RETRYING, last_status_code=status_code, last_error=error,
        next_attempt_at=now + timedelta(seconds=wait))
    return wait
