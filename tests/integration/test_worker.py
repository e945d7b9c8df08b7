"""A real Celery worker process takes a job from the configured broker (the folder broker in the
embedded run, Redis in the PostgreSQL run) and finishes it against the same database."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from labeling.models import Item, Job
from tests.integration.conftest import wait_for, worker_log_path

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_import_job_runs_in_a_real_worker(celery_worker_process, lead_client, project, settings):
    content = "\n".join(json.dumps({"external_id": f"w{i}", "text": f"t{i}"}) for i in range(500)).encode()
    r = lead_client.post(f"/api/v1/projects/{project.pk}/items/import",
                         {"file": SimpleUploadedFile("big.jsonl", content), "run_as_job": "true"}, format="multipart")
    assert r.status_code == 202, r.json()
    job_id = r.json()["id"]

    def finished():
        job = Job.objects.get(pk=job_id)
        if celery_worker_process.poll() is not None:
            log = worker_log_path().read_text()
            raise AssertionError(f"the worker exited with {celery_worker_process.returncode}:\n{log[-3000:]}")
        return job if job.status in ("succeeded", "failed") else None

    job = wait_for(finished, timeout=90, what=f"job {job_id} in the worker ({connection.vendor}, "
                                              f"broker {settings.CELERY_BROKER_URL.split(':')[0]})")
    assert job.status == "succeeded", job.error
    assert job.result == {"created": 500, "gold": 0}
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert Item.objects.filter(project=project).count() == 500
    # The worker, not this process, ran it.
    assert "run_job" in worker_log_path().read_text()
