"""Celery entry points for time: the every-minute sweep (viewflow timers, reminders, rungs)."""

import logging

from celery import shared_task

from workflows.sweep import sweep_run

logger = logging.getLogger(__name__)


# expires: a sweep that waited longer than its interval is dropped, so a backlog after
# downtime becomes one catch-up sweep, not a storm of them.
@shared_task(name="tasks.timers.sweep", ignore_result=True, expires=55, soft_time_limit=240)
def sweep() -> str:
    """Run one sweep now and hand what it recorded to the notify queue; returns its summary.
    The sweep records its own faults and goes on past them; a cache that cannot take the
    heartbeat does not stop it either."""
    from tasks.notifications import deliver
    from workflows.common.health import heartbeat_record

    try:
        heartbeat_record()  # a worker that runs the sweep is alive: /healthz reports it
    except Exception:  # noqa: BLE001 - the sweep (and its mail) matters more than the note
        logger.exception("sweep: the worker heartbeat was not recorded")
    result = sweep_run(deliver=False)
    # Sending is the notify queue's work, so a slow mail server never holds the next sweep
    # back. The rows wait in the log: if this message is lost, the next sweep queues another.
    try:
        deliver.delay()
    except Exception:  # noqa: BLE001 - the broker went away since this task arrived
        logger.warning("broker unavailable: delivery left to the next sweep")
    return str(result)


@shared_task(name="tasks.timers.appraisal_monthly", ignore_result=True, soft_time_limit=600)
def appraisal_monthly() -> str:
    """On the 1st: score the month just ended, so its bulletin is ready without anyone
    opening the appraisal page (which recomputes on demand as well)."""
    from workflows.appraisal.scoring import appraisal_month_ended

    period, entries = appraisal_month_ended()
    return f"appraisal {period:%Y-%m}: {len(entries)} score entries"
