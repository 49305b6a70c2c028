"""Append-only, hash-chained record of every state change (the case timeline reads it too)."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One recorded action. Rows are only ever inserted; `hash` chains each to the one before."""

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
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["case", "id"])]

    def __str__(self) -> str:
        return f"{self.verb} #{self.pk}"
