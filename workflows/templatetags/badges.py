"""Badges drawn once per table row: a task's due date, a RAG status, a traffic light.

They were `{% include %}` partials. At national scale a dashboard draws about 100 of them and a
case page several hundred, and an include costs a template lookup, a context push and a nested
render each time: about half of the dashboard's rendering time in the profile (bench/RESULTS.md).
Built here with format_html they cost a few microseconds and produce the same markup.
"""

from django import template
from django.utils import formats, timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from .reform_dates import due_relative

register = template.Library()

_RAG_SHAPES = {"red": "■", "amber": "▲", "green": "●"}


@register.simple_tag
def due_badge(item) -> str:
    """The due date, "due in N days" or "N days overdue" while open, and a paused mark."""
    due_at = getattr(item, "due_at", None)
    if not due_at:
        return "—"
    local = timezone.localtime(due_at)
    relative = ""
    if item.is_open and not item.paused_at:
        relative = " · " + due_relative(due_at)
    html = format_html(
        '<span class="due-date{}" data-due="{}">{}{}</span>',
        " rf-overdue" if item.is_overdue else "",
        date_format(local, "c"),
        formats.date_format(local, "SHORT_DATE_FORMAT"),
        relative,
    )
    if item.paused_at:
        html += format_html(' <span class="rf-paused">{}</span>', gettext("paused"))
    return html


@register.simple_tag
def rag_badge(rag) -> str:
    """Colour is never the only signal: each badge carries a word and a shape."""
    if not rag:
        return ""
    words = {"red": gettext("Red"), "amber": gettext("Amber")}
    return format_html(
        '<span class="rf-rag rf-rag-{}"><span aria-hidden="true">{} </span>'
        '<span class="rf-visually-hidden">{} </span>{}</span>',
        rag,
        _RAG_SHAPES.get(rag, _RAG_SHAPES["green"]),
        gettext("RAG status:"),
        words.get(rag, gettext("Green")),
    )


@register.simple_tag
def light_badge(axis: str, light) -> str:
    """One axis of a case's two traffic lights (deadline or progress), with its word."""
    words = {"red": gettext("red"), "yellow": gettext("yellow"), "green": gettext("green")}
    return format_html(
        '<span class="rf-light rf-light-{}" data-axis="{}" data-light="{}">'
        '<span class="rf-light-axis">{}</span> {}</span>',
        light or "none",
        axis,
        light or "",
        gettext("Deadline") if axis == "deadline" else gettext("Progress"),
        words.get(light, mark_safe("—")),  # noqa: S308 - a constant
    )
