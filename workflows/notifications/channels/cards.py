"""The chat card every platform shows: a markdown message with the measure, the step, the due
date and a link, in the recipient's language. The e-mail's subject is its title, so one
template decides how each kind of notice is named on every channel."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from workflows.common.wording import when
from workflows.models import NotificationKind, OrderColour

_BRAND = "[Reformflow] "
# Characters that would open a link, a mention (<@userid>) or a tag in the platforms' markdown.
_NEUTRAL = str.maketrans({"<": "‹", ">": "›", "[": "［", "]": "］", "\n": " ", "\r": " "})


@dataclass(frozen=True)
class Card:
    title: str
    markdown: str


def md(text) -> str:
    """User or catalogue text made inert in markdown: one line, no links, tags or mentions."""
    return str(text).translate(_NEUTRAL).strip()


def _line(label: str, value: str) -> str:
    # Translated as a whole: Chinese puts a full-width colon after the label.
    return "> " + _("**%(label)s:** %(value)s") % {"label": label, "value": value}


def _digest_lines(context: dict) -> list[str]:
    lines = []
    for key, heading in (
        ("overdue", _("Overdue")),
        ("due_soon", _("Due soon")),
        ("approvals", _("Awaiting your approval")),
    ):
        entries = context.get(key) or []
        if not entries:
            continue
        lines.append(f"**{heading}**")
        for entry in entries:
            item = entry["item"]
            due = entry["due_day"].isoformat() if entry["due_day"] else "—"
            label = md(f"{item.case.measure.code} {item.step.title}")
            lines.append(f"- [{label}]({entry['task_url']}) {due}")
    return lines


def _kind_lines(notification, context: dict) -> list[str]:
    payload = notification.payload or {}
    if notification.kind == NotificationKind.SUPERVISION:
        if payload.get("order"):
            colour = OrderColour(payload["colour"]).label if payload.get("colour") else ""
            lines = [_line(_("Supervision order"), f"{colour}: {md(payload.get('reason', ''))}")]
        else:
            lines = [_line(_("Leader instruction"), md(payload.get("text", "")))]
        if payload.get("response_due"):
            lines.append(_line(_("Response due"), when(payload["response_due"])))
        return lines
    if notification.kind == NotificationKind.REPORT:
        organisation = context.get("organisation")
        return [_line(_("Federation"), md(organisation.title))] if organisation else []
    if notification.kind == NotificationKind.FEEDBACK and payload.get("period_start"):
        period = f"{when(payload['period_start'])} – {when(payload.get('period_end', ''))}"
        return [_line(_("Reporting period"), period)]
    if notification.kind == NotificationKind.ESCALATION and context.get("days_overdue"):
        return [_line(_("Days overdue"), str(context["days_overdue"]))]
    return []


def _link(notification, context: dict) -> str:
    from workflows.notifications.compose import absolute_url

    if notification.kind == NotificationKind.DIGEST:
        return f"[{_('Open your inbox')}]({context['inbox_url']})"
    if notification.kind == NotificationKind.REPORT and notification.payload.get("url"):
        return f"[{_('Download the report')}]({notification.payload['url']})"
    if notification.kind == NotificationKind.SUPERVISION and notification.case_id:
        url = absolute_url(reverse("workflows:supervision", args=[notification.case_id]))
        return f"[{_('Open the case')}]({url})"
    if context.get("task_url"):
        return f"[{_('Open the task')}]({context['task_url']})"
    if notification.case_id:
        url = absolute_url(reverse("workflows:case", args=[notification.case_id]))
        return f"[{_('Open the case')}]({url})"
    return f"[{_('Open Reformflow')}]({absolute_url('/')})"


def card_compose(notification, *, now) -> Card:
    """The card for a log row, in its recipient's language (a group's post: the language of
    the first person it was meant for)."""
    from workflows.notifications.compose import (
        language_of,
        notification_context,
        notification_subject,
    )

    with translation.override(language_of(notification.recipient)):
        context = notification_context(notification, now=now)
        title = md(notification_subject(notification, context).removeprefix(_BRAND))
        lines = [f"### {title}"]
        address = notification.address
        if address is not None and address.department_id is not None:
            lines.append(_line(_("For"), md(address.department.title)))
        measure = context.get("measure")
        if measure is None and notification.case_id:
            measure = notification.case.measure
        if measure is not None:
            lines.append(_line(_("Measure"), md(f"{measure.code} {measure.title}")))
        if context.get("step") is not None:
            lines.append(_line(_("Step"), md(context["step"].title)))
        item = context.get("item")
        if item is not None and item.due_at is not None:
            lines.append(_line(_("Due"), when(item.due_at)))
        lines += _kind_lines(notification, context)
        if notification.kind == NotificationKind.DIGEST:
            lines += _digest_lines(context)
        lines.append("")
        lines.append(_link(notification, context))
    return Card(title=title, markdown="\n".join(lines))
