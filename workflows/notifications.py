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
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from . import access
from .calendar import SHANGHAI, WorkingCalendar, at_local, due_at_for, local_date
from .channels import ChannelError, ChannelOutage, Transport, rows_for_channels, transport_for
from .models import (
    Notification,
    NotificationKind,
    NotificationStatus,
    OrderColour,
    StepKind,
    WorkItem,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 30
# A claim older than this belongs to a worker that died mid-send: the row goes back to pending.
STALE_CLAIM = dt.timedelta(minutes=15)
BATCH_SIZE = 100
# Periodic by nature, so never folded into the digest (nor held back by the daily cap): the
# digest itself, and a scheduled report's download link (workflows.report_schedules).
NEVER_FOLDED = (NotificationKind.DIGEST, NotificationKind.REPORT)


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4 … minutes, capped at an hour: 30 attempts span more than a day."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def absolute_url(path: str) -> str:
    """The path as a link that works outside the site (SITE_URL in front)."""
    return settings.SITE_URL.rstrip("/") + path


def language_of(user) -> str:
    """The user's language for messages (their profile's, else the site's)."""
    profile = getattr(user, "profile", None)
    return getattr(profile, "language", None) or settings.LANGUAGE_CODE


def _item_context(item: WorkItem, now) -> dict:
    calendar = WorkingCalendar.load()
    due_day = local_date(item.due_at) if item.due_at else None
    today = local_date(now)
    return {
        "item": item,
        "case": item.case,
        "measure": item.case.measure,
        "step": item.step,
        "due_day": due_day,
        "working_days_left": calendar.working_days_between(today, due_day)
        if due_day and due_day > today
        else 0,
        "days_overdue": (today - due_day).days if due_day and today > due_day else 0,
        "task_url": absolute_url(reverse("workflows:task", args=[item.pk])),
        "case_url": absolute_url(reverse("workflows:case", args=[item.case_id])),
    }


def notification_context(notification: Notification, *, now) -> dict:
    """What every channel's message shows: the task, its measure, step, due day and links (or
    the digest's lists). Call it under the recipient's language."""
    user = notification.recipient
    context = {"user": user, "notification": notification, "site_url": settings.SITE_URL}
    if notification.work_item_id:
        context.update(_item_context(notification.work_item, now))
    elif notification.case_id:
        # A notice about a case as a whole (an instruction) still names its measure and step.
        case = notification.case
        context.update(case=case, measure=case.measure, step=case.current_step)
    if notification.kind == NotificationKind.DIGEST:
        context.update(_digest_context(notification, now))
    colour = (notification.payload or {}).get("colour")
    if colour in OrderColour.values:
        context["colour_label"] = OrderColour(colour).label  # "橙", not "orange", in Chinese
    return context


def notification_subject(notification: Notification, context: dict) -> str:
    """The message's one-line subject (the e-mail's, and each chat card's title)."""
    template = f"emails/{notification.kind}.subject.txt"
    return " ".join(render_to_string(template, context).split())


def notification_compose(notification: Notification, *, now=None) -> EmailMultiAlternatives:
    """The e-mail for a log row: subject, plain text and HTML, in the recipient's language."""
    now = now or timezone.now()
    user = notification.recipient
    template = f"emails/{notification.kind}"
    with translation.override(language_of(user)):
        context = notification_context(notification, now=now)
        subject = notification_subject(notification, context)
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "Auto-Submitted": "auto-generated",
            "X-Reformflow-Notification": str(notification.pk),
            "X-Reformflow-Kind": notification.kind,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


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


# --------------------------------------------------------------------------- digest

DIGEST_DUE_SOON_WORKING_DAYS = 3


def _digest_items(user, now) -> dict[str, list[int]]:
    calendar = WorkingCalendar.load()
    soon = due_at_for(calendar.add_working_days(local_date(now), DIGEST_DUE_SOON_WORKING_DAYS))
    actionable = access.work_item_list_actionable(user).values_list("pk", "kind", "due_at")
    overdue, due_soon, approvals = [], [], []
    for pk, kind, due_at in actionable:
        if due_at is not None and due_at < now:
            overdue.append(pk)
        elif due_at is not None and due_at <= soon:
            due_soon.append(pk)
        if kind in (StepKind.APPROVE, StepKind.REVIEW, StepKind.SIGN_OFF):
            approvals.append(pk)
    return {"overdue": overdue, "due_soon": due_soon, "approvals": approvals}


def _digest_context(notification: Notification, now) -> dict:
    payload = notification.payload or {}
    ids = {pk for pks in payload.values() for pk in pks}
    related = WorkItem.objects.filter(pk__in=ids).select_related("case__measure", "step")
    items = {i.pk: i for i in related}

    def lines(key):
        return [
            {
                "item": items[pk],
                "task_url": absolute_url(reverse("workflows:task", args=[pk])),
                "due_day": local_date(items[pk].due_at) if items[pk].due_at else None,
            }
            for pk in payload.get(key, [])
            if pk in items
        ]

    return {
        "overdue": lines("overdue"),
        "due_soon": lines("due_soon"),
        "approvals": lines("approvals"),
        "inbox_url": absolute_url(reverse("workflows:inbox")),
    }


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
        payload = _digest_items(user, now)
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
