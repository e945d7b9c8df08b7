"""The Celery app. Tasks live in each app's ``tasks.py``; they take ids, call one service."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("quorum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _refuse_unreachable_services(**_kwargs) -> None:
    """A worker whose broker or database is set but unreachable stops at start, saying which."""
    from config.checks import ServiceUnreachable, verify_services

    try:
        verify_services()
    except ServiceUnreachable as exc:
        raise SystemExit(f"quorum worker: {exc}") from None
