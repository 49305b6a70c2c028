"""Celery entry point for cascading in the background: the job's id in, the service runs it."""

from celery import shared_task
from django.db import DatabaseError


# A database hiccup retries the run, which skips the federations that already have their
# child; when the retries are spent the job is marked failed with the error.
@shared_task(
    name="tasks.cascades.run_cascade_job",
    bind=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=True,
    soft_time_limit=1800,
    time_limit=1900,
    ignore_result=True,
)
def run_cascade_job(self, job_id: int) -> None:
    """Create the cascade job's children in batches, counting its progress."""
    from workflows.cases.cascade_run import cascade_job_fail, cascade_job_run

    try:
        cascade_job_run(job_id=job_id)
    except Exception as exc:
        if not isinstance(exc, DatabaseError) or self.request.retries >= self.max_retries:
            cascade_job_fail(job_id=job_id, error=str(exc) or type(exc).__name__)
        raise
