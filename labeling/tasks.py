"""Celery tasks: thin, take ids, call one service."""

from celery import shared_task

from labeling.services.jobs import job_run


@shared_task(acks_late=True, ignore_result=True)
def run_job(job_id: int) -> None:
    job_run(job_id=job_id)
