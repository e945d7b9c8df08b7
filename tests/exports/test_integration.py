"""Exports against real processes: a real Celery worker killed mid-export, and concurrent requests
from several threads (several database connections). Run on SQLite and, in CI's second pass, on
PostgreSQL with Redis."""

from __future__ import annotations

import json
import signal
import threading

import pytest
from django.db import connections

from labeling.exports.models import DatasetVersion, ExportRun
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create, export_sweep
from labeling.exports.storage import exports_root, work_root
from labeling.models import Job, JobStatus
from tests.conftest import client_for
from tests.exports.conftest import add_items
from tests.integration.conftest import celery_worker_process, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_worker(monkeypatch, request):
    """A worker that reads small pages, so that an export of a mid-sized project takes seconds."""
    monkeypatch.setenv("QUORUM_EXPORT_CHUNK_SIZE", "40")
    monkeypatch.setenv("QUORUM_EXPORT_HEARTBEAT_SECONDS", "1")
    return request.getfixturevalue("celery_worker_process")


def _forget_unacked_message(job_id: int, settings) -> None:
    """The killed worker's message stays 'unacked' in Redis; remove it so no later worker gets it."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        return
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for tag, payload in client.hgetall("unacked").items():
        try:
            headers = json.loads(payload)[0]["headers"]
        except (ValueError, KeyError, IndexError, TypeError):
            continue
        if headers.get("task") == "labeling.tasks.run_job" and headers.get("argsrepr") == f"({job_id},)":
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def test_a_killed_export_worker_leaves_no_version_and_the_job_says_why(slow_worker, lead, project, settings):
    add_items(project, 12_000)
    lead_client = client_for(lead)
    r = lead_client.post(f"/api/v1/projects/{project.pk}/versions", {"formats": ["jsonl", "csv", "parquet"]},
                         format="json")
    assert r.status_code == 202, r.json()
    job_id = r.json()["job"]["id"]

    def running():
        if slow_worker.poll() is not None:
            raise AssertionError("the worker exited before the test killed it")
        job = Job.objects.get(pk=job_id)
        run = ExportRun.objects.filter(job_id=job_id).first()
        return run if job.status == JobStatus.RUNNING and job.progress_done > 0 and run else None

    run = wait_for(running, timeout=90, what="the export to be under way in the worker")
    assert run.pid == slow_worker.pid
    slow_worker.send_signal(signal.SIGKILL)
    slow_worker.wait(timeout=10)
    job = Job.objects.get(pk=job_id)
    assert job.status == JobStatus.RUNNING, f"the export finished before the kill ({job.status}); make it bigger"

    assert export_sweep() == [job_id]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped before it finished" in job.error and "nothing was published" in job.error
    assert f"process {slow_worker.pid}" in job.error
    assert not DatasetVersion.objects.exists() and not ExportRun.objects.exists()
    assert list(work_root().iterdir()) == []
    assert not (exports_root() / "projects").exists() or not any((exports_root() / "projects").rglob("*.*"))
    shown = lead_client.get(f"/api/v1/jobs/{job_id}").json()
    assert shown["status"] == "failed" and "stopped before it finished" in shown["error"]
    _forget_unacked_message(job_id, settings)


def _in_threads(n: int, target) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_two_concurrent_requests_for_a_version_create_one(lead, project, exports_settings):
    add_items(project, 300)
    clients = [client_for(lead), client_for(lead)]

    def ask(i: int):
        r = clients[i].post(f"/api/v1/projects/{project.pk}/versions", {"formats": ["jsonl", "parquet"]},
                            format="json")
        return r.status_code, r.json()

    results = _in_threads(2, ask)
    assert [status for status, _ in results] == [202, 202], results
    assert DatasetVersion.objects.filter(project=project).count() == 1
    version = DatasetVersion.objects.get(project=project)
    jobs = Job.objects.filter(pk__in={body["job"]["id"] for _, body in results})
    for job in jobs:
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert job.result["version"] == version.number == 1
    assert sum(job.result["created"] for job in jobs) == 1 or len(jobs) == 1


def test_concurrent_exports_of_the_same_decisions_publish_one_version(project, exports_settings):
    add_items(project, 200)

    def export(i: int):
        result = dataset_version_create(project=project, selection=Selection(), formats=["jsonl"])
        return result.version.pk, result.created

    results = _in_threads(3, export)
    assert len({pk for pk, _ in results}) == 1 and sum(created for _, created in results) == 1
    assert DatasetVersion.objects.filter(project=project).count() == 1
    # The losers removed what they had uploaded: one folder of files under the project.
    folders = list((exports_root() / "projects" / str(project.pk)).iterdir())
    assert len(folders) == 1, folders
