"""Long-running work as jobs: create (and queue after commit), run with progress, finish or fail.

A job row is the single source of truth for its state. The Celery task only carries its id.
``job_run`` claims a queued job atomically (a second delivery of the same message finds it no
longer queued and does nothing), runs the service registered for its kind, and records the
result, or the error and its reason, on the row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from labeling.errors import DomainError
from labeling.models import Job, JobKind, JobStatus

log = logging.getLogger(__name__)


class Progress:
    """Reports a job's progress to its row, at most every ``interval`` seconds."""

    def __init__(self, job: Job, interval: float = 0.5) -> None:
        self.job = job
        self.interval = interval
        self._last = 0.0

    def total(self, total: int | None) -> None:
        self.job.progress_total = total
        Job.objects.filter(pk=self.job.pk).update(progress_total=total)

    def __call__(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        total = self.job.progress_total
        done = min(done, total) if total is not None else done
        self.job.progress_done = done
        Job.objects.filter(pk=self.job.pk).update(progress_done=done)


def _runners() -> dict[str, Callable[[Job, Progress], dict[str, Any]]]:
    from labeling.exports.services import dataset_export_job
    from labeling.services.aggregate import project_reaggregate_job
    from labeling.services.items import item_import_job

    return {JobKind.IMPORT: item_import_job, JobKind.AGGREGATE: project_reaggregate_job,
            JobKind.EXPORT: dataset_export_job}


def job_create(*, kind: str, project=None, params: dict | None = None, created_by=None) -> Job:
    """Create a queued job and send it to the worker once the surrounding transaction commits."""
    job = Job.objects.create(kind=kind, project=project, params=params or {}, created_by=created_by)
    from labeling.tasks import run_job

    transaction.on_commit(lambda: run_job.delay(job.pk))
    return job


def job_run(*, job_id: int) -> Job | None:
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        log.info("job %s is not queued (already run or running); nothing to do", job_id)
        return None
    job = Job.objects.get(pk=job_id)
    runner = _runners().get(job.kind)
    try:
        if runner is None:
            raise DomainError.single("kind", f"no runner for jobs of kind {job.kind!r}")
        result = runner(job, Progress(job))
    except DomainError as exc:
        _fail(job, str(exc), result={"errors": [e.as_dict() for e in exc.errors]})
    except Exception as exc:  # noqa: BLE001 - the job records any failure with its reason
        log.exception("job %s failed", job_id)
        _fail(job, f"{type(exc).__name__}: {exc}")
    else:
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.SUCCEEDED,
            result=result,
            finished_at=timezone.now(),
            progress_done=job.progress_total if job.progress_total is not None else job.progress_done,
        )
    job.refresh_from_db()
    return job


def _fail(job: Job, error: str, result: dict | None = None) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error=error[:10_000], result=result, finished_at=timezone.now()
    )
