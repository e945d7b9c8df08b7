"""Start-up checks: a configured database or broker that cannot be reached stops the process.

Called by the WSGI/ASGI entry points, by the Celery worker (``worker_init``) and as a Django
system check (so ``runserver`` and ``manage.py check`` refuse to start too). The message names the
setting and the address, and the exception's own words; there is never a silent fallback.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks


class ServiceUnreachable(RuntimeError):
    pass


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


def verify_database() -> None:
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable" here
        where = _where(settings.DATABASE_URL) if settings.DATABASE_URL else settings.DATABASES["default"]["NAME"]
        raise ServiceUnreachable(
            f"DATABASE_URL is set to {where} but the database cannot be reached: {str(exc).strip()}"
        ) from exc


def verify_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        return
    from kombu import Connection

    conn = Connection(url, connect_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    try:
        conn.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        raise ServiceUnreachable(
            f"CELERY_BROKER_URL is set to {_where(url)} but the broker cannot be reached: "
            f"{str(exc).strip() or type(exc).__name__}"
        ) from exc
    finally:
        conn.release()


def verify_services() -> None:
    verify_database()
    verify_broker()


@checks.register("quorum_services")
def services_reachable(app_configs=None, **kwargs):
    errors = []
    for verify, hint in (
        (verify_database, "Start the database or unset DATABASE_URL to use the embedded SQLite file."),
        (verify_broker, "Start the broker or unset CELERY_BROKER_URL to use the embedded folder broker."),
    ):
        try:
            verify()
        except ServiceUnreachable as exc:
            errors.append(checks.Error(str(exc), hint=hint, id="quorum.E001"))
    return errors
