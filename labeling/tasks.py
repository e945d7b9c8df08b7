"""Celery tasks: thin, take ids, call one service."""

from celery import shared_task

from labeling.services.jobs import job_run


@shared_task(acks_late=True, ignore_result=True)
def run_job(job_id: int) -> None:
    job_run(job_id=job_id)


@shared_task(ignore_result=True)
def reaggregate_due() -> int:
    """Periodic: queue a re-aggregation job for each project with new answers since its last one."""
    from labeling.services.aggregate import reaggregation_due_enqueue

    return reaggregation_due_enqueue()


@shared_task(ignore_result=True)
def expire_leases() -> int:
    """Periodic: return overdue leases to the pool in every project (next-task also does this)."""
    from labeling.services.tasks import lease_expire_all

    return lease_expire_all()


import labeling.exports.tasks  # noqa: E402,F401 - registers the dataset export tasks
