"""Append-only, hash-chained record of every state change (the case timeline reads it too)."""

from django.conf import settings
from django.db import models


class AuditTrailIsAppendOnly(Exception):
    """Raised when code tries to change or remove an audit event; events are only appended."""


_REFUSAL = "The audit trail is append-only: events are never updated or deleted."


class AuditEventQuerySet(models.QuerySet):
    # bulk_update and update_or_create end in update() or save(), so they are refused too.
    def update(self, **kwargs):
        raise AuditTrailIsAppendOnly(_REFUSAL)

    def delete(self):
        raise AuditTrailIsAppendOnly(_REFUSAL)


class AuditEvent(models.Model):
    """One recorded action. Rows are inserted unsealed; the sealer (workflows.audit.sealer)
    then gives each its place `seq` in the chain and its `hash`, which covers the one before.

    The app refuses updates and deletes here; on PostgreSQL a trigger (migrations 0004, 0024)
    refuses them for any SQL client too, sealing an unsealed row once excepted, and
    `verify_audit` finds a row changed behind both.
    """

    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    verb = models.CharField(max_length=40, db_index=True)
    case = models.ForeignKey(
        "workflows.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    work_item = models.ForeignKey(
        "workflows.WorkItem", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Empty until sealed: appends take no lock, the sealer chains committed events in order.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, unique=True, null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["case", "id"]),
            # The sealer's queue: small, since events leave it within moments of their commit.
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(seq__isnull=True),
                name="auditevent_unsealed",
            ),
            # A period of the trail (the CSV export's bounds): its first and last seq.
            models.Index(fields=["created_at", "seq"], name="auditevent_created_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.verb} #{self.pk}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditTrailIsAppendOnly(_REFUSAL)
        kwargs["force_insert"] = True
        kwargs.pop("force_update", None)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsAppendOnly(_REFUSAL)


class AuditVerification(models.Model):
    """The result of one walk of the hash chain (`verify_audit` or the audit desk's button)."""

    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    count = models.PositiveIntegerField(help_text="Events checked")
    # A plain id, not a foreign key: the broken event may be the one that was removed.
    broken_event_id = models.PositiveBigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)
    # The newest event this run found intact. The next run checks it is still there with the
    # same hash, which catches a trail cut at its end or rewritten with recomputed hashes.
    head_event_id = models.PositiveBigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, blank=True)
    # Events not yet sealed into the chain at the run (none older than the grace period if ok).
    pending = models.PositiveIntegerField(default=0)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when run from the command line",
    )

    class Meta:
        ordering = ["-checked_at", "-pk"]
        get_latest_by = ["checked_at", "pk"]

    def __str__(self) -> str:
        state = "OK" if self.ok else f"BROKEN at event {self.broken_event_id}"
        return f"{state}: {self.count} events ({self.checked_at:%Y-%m-%d %H:%M})"
