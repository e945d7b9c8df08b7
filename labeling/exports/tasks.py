"""Celery tasks of the exports: thin, take ids, call one service.

Registered by an import at the end of ``labeling/tasks.py`` (Celery autodiscovers that module).
Export jobs themselves run through ``labeling.tasks.run_job`` like every job.
"""

from __future__ import annotations

from celery import shared_task

from labeling.exports.services import export_sweep, webhook_redeliver_due
from labeling.exports.webhooks import webhook_attempt


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt of a webhook delivery; schedules the next one with backoff if it failed."""
    wait = webhook_attempt(delivery_id=delivery_id)
    if wait is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=wait)


@shared_task(ignore_result=True)
def sweep_exports() -> None:
    """Periodic (Celery beat): fail export jobs whose worker died, remove their files, and resend
    webhook deliveries whose retry message was lost."""
    export_sweep()
    for delivery_id in webhook_redeliver_due():
        deliver_webhook.delay(delivery_id)
