"""The notification log: every message the system meant to send, its state and its attempts."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.channels import Channel


class NotificationKind(models.TextChoices):
    REMINDER = "reminder", _("Reminder")
    ESCALATION = "escalation", _("Escalation")
    DIGEST = "digest", _("Daily digest")
    FEEDBACK = "feedback", _("Progress report reminder")
    SUPERVISION = "supervision", _("Supervision order")
    REPORT = "report", _("Scheduled report")
    URGE = "urge", _("Urging")
    # Work handed to someone: assigned, queued, returned, waiting for a decision, decided.
    HANDOFF = "handoff", _("Hand-off")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    # Recorded for a digest-only user: it reaches them in the next digest, not on its own.
    FOLDED = "folded", _("Folded into the digest")
    FAILED = "failed", _("Failed (gave up)")


class Notification(models.Model):
    """One message to one person on one channel. (`dedupe_key`, `channel`) is unique: the same
    reminder, rung or digest can be recorded only once per channel, however many sweeps run at
    the same time."""

    dedupe_key = models.CharField(max_length=200)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    # Where a WeCom or DingTalk message goes (read when it is sent, so a rotated key is used);
    # e-mail goes to the recipient's address.
    address = models.ForeignKey(
        "workflows.ChannelSettings",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    case = models.ForeignKey(
        "workflows.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    work_item = models.ForeignKey(
        "workflows.WorkItem",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    # Escalation rung (1..n), or for reminders the working days before the due date.
    rung = models.SmallIntegerField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    subject = models.CharField(max_length=300, blank=True)
    # A digest's content, fixed when it is recorded: {"overdue": [task ids], ...}.
    payload = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key", "channel"], name="notification_once_per_channel"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["recipient", "status"]),
            models.Index(fields=["work_item", "kind"]),
            # Reach: the cases a person was sent a message about (workflows.common.reach).
            models.Index(fields=["recipient", "case"], name="notification_recipient_case"),
            # The log filtered by status, newest first by id (keyset paging).
            models.Index(fields=["status", "id"], name="notification_status_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient_id} ({self.status})"
