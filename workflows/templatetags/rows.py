"""Table rows of the pages people open all day: the task lists and the programme dashboard.

Written with format_html (badges.format_html) rather than as template loops. At national
scale (bench/RESULTS.md) the template engine spent about 1 ms per row resolving lookups,
translating and escaping, most of the inbox's and the dashboard's CPU time under load; the
same markup built here costs a fraction of that. Every value is still escaped, and the texts
are the same translation entries the templates used.
"""

import functools

from django import template
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.text import Truncator
from django.utils.translation import gettext

from workflows.common import wording
from workflows.templatetags.badges import (
    due_badge,
    format_html,
    light_badge,
    per_language,
    rag_badge,
    safe_join,
    words,
)
from workflows.templatetags.reform_dates import local_datetime
from workflows.templatetags.round_badges import round_badges

register = template.Library()

DASH = "—"  # plain text, escaped like any value


_ID = 2_147_483_647  # a stand-in id, replaced in the reversed URL


@functools.cache
def _url_pattern(name: str) -> str:
    """The URL of `name` with a `{}` where the id goes: one reverse() per process instead of
    two per row (reverse was a tenth of an inbox's CPU). The routes never change at runtime."""
    return reverse(name, args=[_ID]).replace(str(_ID), "{}")


def _url(name: str, pk: int) -> str:
    return _url_pattern(name).format(int(pk))


def _queue_or_person(item):
    """Who holds the task: the assignee by name, else the department's queue, else a dash."""
    if item.assignee_id is not None:
        user = item.assignee
        return user.get_full_name() or user.username
    if item.department_id is not None:
        return words()["Queue: %(d)s"] % {"d": item.department.title}
    return DASH


def _labels(*columns: str) -> tuple:
    """Each column's name, escaped once, for the `data-label` of its cells: on a phone the
    table reads as one card per row, each value under its column's name (app.css,
    .rf-table-cards). The first column is the card's title and carries no label."""
    return tuple(format_html("{}", column) for column in columns)


@per_language
def _task_labels():
    return _labels(
        gettext("Step"), gettext("Assignee"), gettext("Created"), gettext("Due"), gettext("Status")
    )


@register.simple_tag(takes_context=True)
def task_rows(context, items, claim: bool = False) -> str:
    """The rows of the inbox, queue and archive tables (`claim`: a claim button on each, a
    POST to the task page's claim, i.e. services.task_claim)."""
    labels = _task_labels()
    token = str(context.get("csrf_token", "")) if claim else ""
    claim_label = gettext("Claim") if claim else ""
    rows = []
    for item in items:
        case = item.case
        status = item.get_status_display()
        if item.outcome:
            status = f"{status} · {item.get_outcome_display()}"
        status = format_html("{}{}", status, round_badges(item))  # issue 17
        rows.append(
            format_html(
                '<tr><td><a href="{}">{} {}</a></td><td data-label="{}"><a href="{}">{}</a></td>'
                '<td data-label="{}">{}</td><td data-label="{}">{}</td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td>{}</tr>',
                _url("workflows:case", item.case_id),
                case.measure.code,
                case.measure.title,
                labels[0],
                _url("workflows:task", item.pk),
                item.step.title,
                labels[1],
                _queue_or_person(item),
                labels[2],
                local_datetime(item.created_at),
                labels[3],
                due_badge(item),
                labels[4],
                status,
                format_html(
                    '<td><form method="post" action="{}"><input type="hidden"'
                    ' name="csrfmiddlewaretoken" value="{}"><button type="submit" name="action"'
                    ' value="claim">{}</button></form></td>',
                    _url("workflows:task", item.pk),
                    token,
                    claim_label,
                )
                if claim
                else "",
            )
        )
    return safe_join(rows, "\n")


def _case_status(case) -> str:
    table = words()
    if case is None:
        return table["Not launched"]
    return table["In progress"] if case.is_open else table["Completed"]


@per_language
def _programme_labels():
    return _labels(
        gettext("Organisation"),
        gettext("Status"),
        gettext("Launched"),
        gettext("Current step"),
        gettext("Assignee"),
        gettext("Due"),
        gettext("Complete"),
        gettext("RAG"),
        gettext("Lights"),
    )


@register.simple_tag
def programme_rows(rows) -> str:
    """The dashboard's rows: one per measure (or per case, filtered by level)."""
    labels = _programme_labels()
    html = []
    for row in rows:
        measure, case, item = row.measure, row.case, row.open_item
        if case is not None:
            title = format_html(
                '<a href="{}">{} {}</a>',
                _url("workflows:case", case.pk),
                measure.code,
                measure.title,
            )
            light = getattr(case, "light", None)
            cells = (
                case.organisation.title,
                format_html(
                    '<time class="rf-launched" datetime="{}">{}</time>',
                    timezone.localtime(case.created).isoformat(),
                    local_datetime(case.created, "SHORT_DATE_FORMAT"),
                ),
                f"{case.percent_complete}%",
                rag_badge(case.rag),
                format_html(
                    "{} {}",
                    light_badge("deadline", light.deadline),
                    light_badge("progress", light.progress),
                )
                if light is not None
                else DASH,
            )
        else:
            title = format_html("{} {}", measure.code, measure.title)
            cells = (DASH, DASH, DASH, DASH, DASH)
        html.append(
            format_html(
                '<tr data-measure="{}"><td>{}</td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td><td data-label="{}">{}</td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td><td data-label="{}">{}</td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td><td class="rf-lights" data-label="{}">{}</td></tr>',
                measure.code,
                title,
                labels[0],
                cells[0],
                labels[1],
                _case_status(case),
                labels[2],
                cells[1],
                labels[3],
                item.step.title if item is not None else DASH,
                labels[4],
                _queue_or_person(item) if item is not None else DASH,
                labels[5],
                due_badge(item) if item is not None else DASH,
                labels[6],
                cells[2],
                labels[7],
                cells[3],
                labels[8],
                cells[4],
            )
        )
    return safe_join(html, "\n")


@per_language
def _child_labels():
    return _labels(
        gettext("Status"),
        gettext("Current step"),
        gettext("Complete"),
        gettext("RAG"),
        gettext("Days overdue"),
    )


@register.simple_tag
def child_rows(children) -> str:
    """A cascaded case's children: organisation, status, step, percent, RAG, days overdue."""
    labels = _child_labels()
    html = []
    for child in children:
        organisation = child.organisation
        if child.is_open:
            status, state = words()["In progress"], "open"
        else:
            status, state = words()["Completed"], "done"
            if child.finished:
                status = f"{status} {local_datetime(child.finished, 'SHORT_DATE_FORMAT')}"
        html.append(
            format_html(
                '<tr data-organisation="{}" data-status="{}"><td><a href="{}">{}</a> '
                '<span class="rf-tag">{}</span></td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td><td data-label="{}">{}%</td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td></tr>',
                organisation.code,
                state,
                _url("workflows:case", child.pk),
                organisation.title,
                organisation.level.title,
                labels[0],
                status,
                labels[1],
                child.current_step.title if child.current_step_id else DASH,
                labels[2],
                child.percent_complete,
                labels[3],
                rag_badge(child.rag),
                labels[4],
                child.days_overdue or DASH,
            )
        )
    return safe_join(html, "\n")


@register.simple_tag
def options(choices, selected: str) -> str:
    """<option>s for (value, label) pairs, `selected` marked: the dashboard's organisation menu
    lists the user's organisation and every one right below it (a hundred at national level),
    which as a template loop cost a fifth of the page."""
    return safe_join(
        format_html(
            '<option value="{}"{}>{}</option>',
            value,
            format_html(" selected") if value == selected else "",
            label,
        )
        for value, label in choices
    )


@per_language
def _programme_head():
    columns = (
        gettext("Measure"),
        gettext("Organisation"),
        gettext("Status"),
        gettext("Launched"),
        gettext("Current step"),
        gettext("Assignee"),
        gettext("Due"),
        gettext("Complete"),
        gettext("RAG"),
        gettext("Lights"),
    )
    return format_html(
        "<thead><tr>{}</tr></thead>", safe_join(format_html("<th>{}</th>", c) for c in columns)
    )


@register.simple_tag
def programme_head() -> str:
    """The dashboard's table head, repeated over each of the seven aspects: built once per
    language (ten translations each time added up to a tenth of the page)."""
    return _programme_head()


@per_language
def _case_list_labels():
    return _labels(
        gettext("Organisation"),
        gettext("Lead department"),
        gettext("Progress"),
        gettext("Launched"),
        gettext("Current step"),
    )


@register.simple_tag
def case_list_rows(cases) -> str:
    """The rows of the dashboard's case list (workflows/_dashboard_cases_main.html), one a case."""
    labels = _case_list_labels()
    completed = words()["Completed"]
    html = []
    for case in cases:
        if case.is_open:
            step = case.current_step.title if case.current_step_id is not None else ""
            step = step or DASH
        else:
            step = completed
        html.append(
            format_html(
                '<tr data-case="{}"><td><a href="{}">{} {}</a></td><td data-label="{}">{}</td>'
                '<td data-label="{}">{}</td><td data-label="{}">{}%</td>'
                '<td data-label="{}">{}</td><td data-label="{}">{}</td></tr>',
                case.pk,
                _url("workflows:case", case.pk),
                case.measure.code,
                case.measure.title,
                labels[0],
                case.organisation.title,
                labels[1],
                case.lead_department.title,
                labels[2],
                case.percent_complete,
                labels[3],
                local_datetime(case.created, "SHORT_DATE_FORMAT"),
                labels[4],
                step,
            )
        )
    return safe_join(html, "\n")


@register.simple_tag
def event_rows(events) -> str:
    """A case's history, one <li> per audit event (the latest hundred on the case page): when,
    who (unless a substitute acted for someone, which the phrase says), what, the step and the
    reason. A template loop spent about a millisecond per event."""
    system = gettext("system")
    html = []
    for event in events:
        who = ""
        if not wording.on_behalf_name(event):
            actor = wording.person(event.actor) if event.actor_id else (event.actor_name or system)
            who = format_html("{} · ", actor)
        step = ""
        if event.work_item_id is not None and event.work_item is not None:
            step = format_html(" · {}", event.work_item.step.title)
        html.append(
            format_html(
                '\n  <li class="rf-event" id="event-{}" data-verb="{}"><time datetime="{}">{}'
                "</time> · {}<strong>{}</strong>{}{}</li>\n",
                event.pk,
                event.verb,
                dateformat.format(timezone.localtime(event.created_at), "c"),
                local_datetime(event.created_at),
                who,
                wording.event_sentence_by(event),
                step,
                format_html(" — {}", event.reason) if event.reason else "",
            )
        )
    return safe_join(html, "")


@register.simple_tag
def audit_rows(events) -> str:
    """The audit desk's table rows, one per event (fifty a page): number, when, who, what, the
    case, the step, the reason and the details. The template loop (with its date filter and
    the details' nested loop) was two thirds of the desk's CPU at national scale."""
    system = gettext("system")
    html = []
    for event in events:
        who = wording.person(event.actor) if event.actor_id else (event.actor_name or system)
        case = DASH
        if event.case_id:
            case = format_html(
                '<a href="{}">{} (#{})</a>',
                _url("workflows:case", event.case_id),
                event.case.measure.code,
                event.case_id,
            )
        step = DASH
        if event.work_item_id:
            step = event.work_item.step.title
        details = ""
        if event.data:
            details = format_html(
                '<dl class="rf-data">{}</dl>',
                safe_join(
                    (
                        format_html(
                            "<div><dt>{}</dt> <dd>{}</dd></div>", label, _truncate(value, 300)
                        )
                        for label, value in wording.event_details(event)
                    ),
                    "",
                ),
            )
        html.append(
            format_html(
                "\n    <tr>\n      <td>{}</td>\n"
                '      <td><time datetime="{}">{}</time></td>\n'
                "      <td>{}</td>\n      <td><strong>{}</strong></td>\n"
                "      <td>{}</td>\n      <td>{}</td>\n      <td>{}</td>\n      <td>{}</td>\n"
                "    </tr>",
                event.pk,
                dateformat.format(timezone.localtime(event.created_at), "c"),
                local_datetime(event.created_at),
                who,
                wording.event_sentence_by(event),
                case,
                step,
                event.reason or DASH,
                details,
            )
        )
    return safe_join(html, "")


def _truncate(value, length: int) -> str:
    """As the `truncatechars` filter: at most `length` characters, an ellipsis included."""
    return Truncator(value).chars(length)
