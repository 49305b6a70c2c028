from django.core.management.base import BaseCommand, CommandError

from workflows.audit.trail import audit_verification_run
from workflows.models import AuditEvent, AuditVerification


def describe_break(result: AuditVerification) -> str:
    """One line naming the first broken event: id, verb, time and what is wrong."""
    event = AuditEvent.objects.filter(pk=result.broken_event_id).first()
    if event is None:
        where = f"event {result.broken_event_id} (no longer in the trail)"
    else:
        where = f"event {event.pk} ({event.verb}, {event.created_at.isoformat()})"
    return f"BROKEN at {where}: {result.problem}; {result.count} events checked"


class Command(BaseCommand):
    help = (
        "Seal the committed events waiting for their seal, walk the audit trail's hash chain in "
        "seq order and check that no older event is left unsealed; print OK with the count, or "
        "the first broken event and exit non-zero. "
        "Each run is stored for the audit desk and audited."
    )

    def handle(self, *args, **options):
        result = audit_verification_run(by=None)
        if not result.ok:
            # CommandError: manage.py prints it on stderr and exits with status 1.
            raise CommandError(describe_break(result))
        waiting = f", {result.pending} newer waiting for their seal" if result.pending else ""
        self.stdout.write(f"OK: {result.count} events{waiting}")
