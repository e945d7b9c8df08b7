"""A database or broker URL that is set but unreachable stops the process at start, saying which
and where. Nothing falls back to the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    full.update(env)
    return subprocess.run(args, cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1//"])
def test_unreachable_broker_stops_the_web_process(url):
    result = run([sys.executable, "manage.py", "check"], CELERY_BROKER_URL=url)
    assert result.returncode != 0
    scheme = url.split(":")[0]
    assert f"CELERY_BROKER_URL is set to {scheme}://127.0.0.1:1 but the broker cannot be reached" in result.stderr


def test_unreachable_broker_stops_the_worker():
    result = run([CELERY, "-A", "config", "worker", "--pool=solo"], CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "quorum worker: CELERY_BROKER_URL is set to redis://127.0.0.1:1 but the broker cannot be reached" in out


def test_unreachable_database_stops_the_web_process():
    result = run([sys.executable, "manage.py", "check"], DATABASE_URL="postgres://quorum@127.0.0.1:1/quorum")
    assert result.returncode != 0
    assert "DATABASE_URL is set to postgres://127.0.0.1:1 but the database cannot be reached" in result.stderr


def test_wsgi_refuses_to_start_with_an_unreachable_broker():
    code = "import config.wsgi"
    result = run([sys.executable, "-c", code], CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    assert result.returncode != 0
    assert "CELERY_BROKER_URL is set to redis://127.0.0.1:1" in result.stderr


def test_embedded_default_starts():
    result = run([sys.executable, "manage.py", "check"])
    assert result.returncode == 0, result.stderr
