"""The daily digest: one message per person who chose it, listing what is open, due soon and
overdue, recorded in the notification log like any other message.
"""

from django.utils import timezone

from workflows.common import reach as access
from workflows.common.calendar import local_date
from workflows.models import Notification, NotificationKind, NotificationStatus
from workflows.notifications.compose import digest_items
from workflows.notifications.delivery import notifications_record


def digest_record_all(*, now=None, users=None) -> int:
    """Record today's digest for each user (default: all active) with something to report,
    on each channel they read; returns how many users' digests were recorded."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    day = local_date(now).isoformat()
    created = 0
    users = users if users is not None else get_user_model().objects.all()
    users = users.filter(is_active=True).exclude(email="")
    users = users.select_related("profile").prefetch_related("groups")
    rows: list[Notification] = []

    def record() -> int:
        keys = [row.dedupe_key for row in rows]
        already = set(
            Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
        )
        new = [row for row in rows if row.dedupe_key not in already]
        notifications_record(new)
        Notification.objects.filter(
            recipient__in=[row.recipient_id for row in new],
            status=NotificationStatus.FOLDED,
            digested_at__isnull=True,
        ).update(digested_at=now)
        rows.clear()
        return len(new)

    for user in users.iterator(chunk_size=500):
        if access.is_auditor(user):
            continue
        payload = digest_items(user, now)
        if not any(payload.values()):
            continue
        rows.append(
            Notification(
                dedupe_key=f"digest:{user.pk}:{day}",
                recipient=user,
                kind=NotificationKind.DIGEST,
                status=NotificationStatus.PENDING,
                next_attempt_at=now,
                payload=payload,
            )
        )
        if len(rows) >= 500:
            created += record()
    if rows:
        created += record()
    return created
