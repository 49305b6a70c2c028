"""Celery entry point for the audit trail: seal what the last commits appended."""

from celery import shared_task

from workflows.audit.sealer import audit_seal_pending


# expires: a backlog of seal requests is one seal's work; the sweep catches up in any case.
@shared_task(name="workflows.audit.seal", ignore_result=True, expires=60, soft_time_limit=120)
def seal() -> int:
    """Seal every committed unsealed audit event into the chain; returns how many."""
    return audit_seal_pending()
