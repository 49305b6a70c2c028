"""A person's private calendar feed: the address of an `.ics` of their due dates.

Only the SHA-256 of the secret token is kept; the address itself is shown once, when made.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CalendarFeed(models.Model):
    """One secret feed address of `user`'s due dates; live until `revoked_at` is set."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    # hex SHA-256 of the token in the address; the token is never stored.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # When a read was last written to the audit trail (reads are audited at most hourly).
    last_audited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_live"
            )
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"calendar feed {self.pk} of {self.user_id} ({state})"
