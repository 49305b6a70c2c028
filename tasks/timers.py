"""Celery entry points for time: the every-minute sweep (viewflow timers, reminders, rungs)."""

from celery import shared_task

from workflows.escalation import sweep_run


# expires: a sweep that waited longer than its interval is dropped, so a backlog after
# downtime becomes one catch-up sweep, not a storm of them.
@shared_task(name="tasks.timers.sweep", ignore_result=True, expires=55, soft_time_limit=240)
def sweep() -> str:
    """Run one sweep now; returns its one-line summary."""
    from workflows.health import heartbeat_record

    heartbeat_record()  # a worker that runs the sweep is alive: /healthz reports it
    return str(sweep_run())
