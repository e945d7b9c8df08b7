"""Integration tests: real database connections, a real broker, a real `celery worker` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def worker_log_path() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "worker.log"


def worker_env() -> dict[str, str]:
    """The environment of a worker that sees the test database and the test run's broker."""
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["QUORUM_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{s['NAME']}"
    else:
        user = s.get("USER") or ""
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        env["DATABASE_URL"] = f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"
    return env


@pytest.fixture
def celery_worker_process():
    """Start `celery -A config worker` as its own process; stop it after the test."""
    from config.celery import app

    app.conf.task_always_eager = False
    log = open(worker_log_path(), "w")
    proc = subprocess.Popen(
        [CELERY, "-A", "config", "worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=worker_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
