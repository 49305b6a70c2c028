"""Composing a logged message: its context (the task, the case, links that work outside a
request), its subject and body from templates/emails/, in the recipient's language.
"""

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from workflows.common import reach as access
from workflows.common.calendar import WorkingCalendar, due_at_for, local_date
from workflows.models import (
    Notification,
    NotificationKind,
    OrderColour,
    Organisation,
    Report,
    StepKind,
    WorkItem,
)


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
    if notification.kind == NotificationKind.REPORT:
        context.update(_report_context(notification.payload or {}))
    colour = (notification.payload or {}).get("colour")
    if colour in OrderColour.values:
        context["colour_label"] = OrderColour(colour).label  # "橙", not "orange", in Chinese
    return context


def _report_context(payload: dict) -> dict:
    # The report and the federation by name, never their ids or codes.
    organisation = Organisation.objects.filter(code=payload.get("organisation") or "").first()
    report = Report.objects.filter(pk=payload.get("report")).first()
    period = payload.get("period")
    return {
        "report": report,
        "organisation": organisation,
        "period": dt.date.fromisoformat(period) if period else None,
    }


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


DIGEST_DUE_SOON_WORKING_DAYS = 3


def digest_items(user, now) -> dict[str, list[int]]:
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
