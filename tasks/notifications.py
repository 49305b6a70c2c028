"""Celery entry points for mail: deliver the pending log rows, record the daily digests."""

from celery import shared_task

from workflows.common.health import delivery_record
from workflows.notifications.delivery import notifications_deliver_due
from workflows.notifications.digest import digest_record_all


@shared_task(name="tasks.notifications.deliver", ignore_result=True, expires=300)
def deliver() -> int:
    """Send what is pending now; failures stay in the log with their next attempt time, and
    a run that fails as a whole shows on /healthz as mail stopped until one succeeds."""
    try:
        sent = notifications_deliver_due().sent
    except Exception:
        delivery_record(failed=True)
        raise
    delivery_record(failed=False)
    return sent


@shared_task(name="tasks.notifications.daily_digest", ignore_result=True, soft_time_limit=1800)
def daily_digest() -> int:
    """Record today's digest for every user with something due, then send them; the pending
    mail goes out even if recording the digests failed."""
    try:
        return digest_record_all()
    finally:
        notifications_deliver_due()
