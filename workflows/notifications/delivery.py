"""Composing and delivering the notification log's messages, and the daily digest.

Each message is one row per channel its recipient reads (e-mail, WeCom, DingTalk: see
workflows/channels/). Delivery is at-least-once per row and exactly-once per successful send: a
row is claimed (pending -> sending) before it is sent and marked sent right after, failures are
retried with backoff from the row itself (the every-minute sweep picks them up), so a dead
worker, an SMTP outage or a platform that is down delays a message but never drops it, and
one channel's outage never holds up another's rows.
"""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from workflows.common.calendar import SHANGHAI, at_local, local_date
from workflows.models import Notification, NotificationKind, NotificationStatus
from workflows.notifications.channels import (
    ChannelError,
    ChannelOutage,
    Transport,
    rows_for_channels,
    transport_for,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 30
# A claim older than this belongs to a worker that died mid-send: the row goes back to pending.
STALE_CLAIM = dt.timedelta(minutes=15)
BATCH_SIZE = 100
# Periodic by nature, so never folded into the digest (nor held back by the daily cap): the
# digest itself, and a scheduled report's download link (workflows.reports.schedules).
NEVER_FOLDED = (NotificationKind.DIGEST, NotificationKind.REPORT)


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4 … minutes, capped at an hour: 30 attempts span more than a day."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def notifications_record(rows: list[Notification]) -> list[Notification]:
    """Store messages once per channel their recipients read (one row per message and channel,
    see channels.routing); a (dedupe_key, channel) already stored is skipped. Returns the rows
    offered for storage."""
    rows = rows_for_channels(rows)
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return rows


def _claim_batch(now, *, skip_channels: set[str]) -> list[Notification]:
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
            .exclude(channel__in=skip_channels)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        # The status condition makes the claim safe even where SKIP LOCKED is not available.
        Notification.objects.filter(pk__in=ids, status=NotificationStatus.PENDING).update(
            status=NotificationStatus.SENDING, claimed_at=now
        )
    return list(
        Notification.objects.filter(
            pk__in=ids, status=NotificationStatus.SENDING, claimed_at=now
        ).select_related(
            "recipient__profile",
            "work_item__case__measure",
            "work_item__step",
            "work_item__case__organisation",
            "case__measure",
            "case__current_step",
            "case__current_step",
            "address__department",
        )
    )


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    folded: int = 0
    held: int = 0
    # Channels that had an outage in this run (their rows wait for their next attempt).
    down: list[str] = field(default_factory=list)


def _failed(notification: Notification, error: str, now) -> None:
    notification.attempts += 1
    notification.last_error = error[:2000]
    gave_up = notification.attempts >= MAX_ATTEMPTS
    notification.status = NotificationStatus.FAILED if gave_up else NotificationStatus.PENDING
    notification.next_attempt_at = now + retry_delay(notification.attempts)
    notification.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    logger.warning(
        "notification %s (%s) not sent (attempt %s): %s",
        notification.pk,
        notification.channel,
        notification.attempts,
        notification.last_error,
    )


def _send_one(transport: Transport, notification: Notification, now) -> tuple[bool, bool]:
    """Send one row and record the outcome on it: (sent, the channel is down)."""
    try:
        subject = transport.send(notification, now=now)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        detail = str(exc) if isinstance(exc, ChannelError) else f"{type(exc).__name__}: {exc}"
        _failed(notification, transport.redact(detail), now)
        return False, isinstance(exc, ChannelOutage)
    notification.attempts += 1
    notification.status = NotificationStatus.SENT
    notification.subject = subject[:300]
    notification.sent_at = timezone.now()
    notification.save(update_fields=["attempts", "status", "subject", "sent_at"])
    return True, False


def _wait_with(rows: list[Notification], failed: Notification) -> None:
    """Rows not tried because their channel is down go back to pending, due when the failed
    row is retried (no attempt is counted: nothing was sent)."""
    Notification.objects.filter(
        pk__in=[n.pk for n in rows], status=NotificationStatus.SENDING
    ).update(status=NotificationStatus.PENDING, next_attempt_at=failed.next_attempt_at)


def _deliver_channel(name: str, rows: list[Notification], now, result: DeliveryResult) -> bool:
    """Send one batch's rows of one channel; returns False when the channel is down."""
    with transport_for(name) as transport:
        for index, notification in enumerate(rows):
            sent, down = _send_one(transport, notification, now)
            if sent:
                result.sent += 1
            elif notification.status == NotificationStatus.FAILED:
                result.failed += 1
            else:
                result.retrying += 1
            if down:
                _wait_with(rows[index + 1 :], notification)
                return False
    return True


def quiet_hours_end(now) -> dt.datetime | None:
    """When quiet hours (NOTIFICATION_QUIET_HOURS, Asia/Shanghai) end, if `now` is inside them."""
    spec = (settings.NOTIFICATION_QUIET_HOURS or "").strip()
    if not spec:
        return None
    start_text, end_text = spec.split("-")
    start, end = dt.time.fromisoformat(start_text.strip()), dt.time.fromisoformat(end_text.strip())
    local = now.astimezone(SHANGHAI)
    clock, today = local.time(), local.date()
    if start > end:  # spans midnight, e.g. 22:00-07:00
        if clock >= start:
            return at_local(today + dt.timedelta(days=1), end)
        if clock < end:
            return at_local(today, end)
        return None
    return at_local(today, end) if start <= clock < end else None


def _personal(notification: Notification) -> bool:
    """A message to one person (not a post into a department's or the default group chat):
    the person's digest choice and daily cap apply to it."""
    return notification.address_id is None or notification.address.user_id is not None


def _sent_today(recipient_ids, now) -> dict[tuple[int, str], int]:
    """Personal messages sent since local midnight, per (recipient, channel)."""
    midnight = at_local(local_date(now), dt.time.min)
    rows = (
        Notification.objects.filter(
            recipient__in=recipient_ids, status=NotificationStatus.SENT, sent_at__gte=midnight
        )
        .filter(Q(address__isnull=True) | Q(address__user__isnull=False))
        .exclude(kind=NotificationKind.DIGEST)
        .values("recipient", "channel")
        .annotate(n=Count("pk"))
    )
    return {(row["recipient"], row["channel"]): row["n"] for row in rows}


def _fold(notification: Notification) -> None:
    notification.status = NotificationStatus.FOLDED
    notification.save(update_fields=["status"])


def notifications_deliver_due(*, now=None, max_batches: int = 1000) -> DeliveryResult:
    """Send every pending message whose time has come, each channel over one connection or
    client per batch; a channel that is down waits for its next attempt without holding up
    the others.

    Manners: nothing is sent in quiet hours (due rows wait until they end); a digest-only
    user's messages, and a user's messages beyond the daily cap (per channel), fold into the
    digest. Posts into a group chat are not one person's messages and are never folded.
    """
    now = now or timezone.now()
    result = DeliveryResult()
    Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - STALE_CLAIM
    ).update(status=NotificationStatus.PENDING)
    held_until = quiet_hours_end(now)
    if held_until is not None:
        result.held = Notification.objects.filter(
            status=NotificationStatus.PENDING, next_attempt_at__lt=held_until
        ).update(next_attempt_at=held_until)
        return result
    cap = settings.NOTIFICATION_DAILY_CAP
    down: set[str] = set()
    for _ in range(max_batches):
        batch = _claim_batch(now, skip_channels=down)
        if not batch:
            break
        sent_today = _sent_today({n.recipient_id for n in batch}, now)
        by_channel: dict[str, list[Notification]] = defaultdict(list)
        for notification in batch:
            if notification.kind not in NEVER_FOLDED and _personal(notification):
                profile = getattr(notification.recipient, "profile", None)
                counted = (notification.recipient_id, notification.channel)
                if getattr(profile, "notification_mode", "") == "digest":
                    _fold(notification)
                    result.folded += 1
                    continue
                if sent_today.get(counted, 0) >= cap:
                    _fold(notification)
                    result.folded += 1
                    continue
                # Counted when claimed, so a batch cannot overshoot the cap.
                sent_today[counted] = sent_today.get(counted, 0) + 1
            by_channel[notification.channel].append(notification)
        for name, rows in by_channel.items():
            if not _deliver_channel(name, rows, now, result):
                down.add(name)
    result.down = sorted(down)
    return result
