"""Badges drawn once per table row: a task's due date, a RAG status, a traffic light.

They were `{% include %}` partials. At national scale a dashboard draws about 100 of them and a
case page several hundred, and an include costs a template lookup, a context push and a nested
render each time: about half of the dashboard's rendering time in the profile (bench/RESULTS.md).
Built here with format_html they cost a few microseconds and produce the same markup.
"""

import functools
import html

from django import template
from django.utils import timezone
from django.utils.safestring import SafeData, SafeString
from django.utils.translation import get_language, gettext

from workflows.cases.rag import RAG_RULE_HELP
from workflows.templatetags.reform_dates import due_relative, local_datetime

register = template.Library()


def format_html(template_string: str, *args) -> SafeString:
    """django.utils.html.format_html without its lazy-string machinery, which was most of a
    row's cost: each argument is escaped unless already safe, then formatted in. The template
    string is the caller's literal markup, never data."""
    # Every argument is escaped or already safe (bandit: B703 reviewed).
    return SafeString(  # nosec B703
        template_string.format(
            *(a if isinstance(a, SafeData) else html.escape(str(a), quote=True) for a in args)
        )
    )


def safe_join(parts, separator: str = "") -> SafeString:
    """Join markup that is already safe (format_html's output); anything else is refused
    rather than trusted, so a raw string can never slip into a page through a join."""
    parts = list(parts)
    for part in parts:
        if not isinstance(part, SafeData):
            raise TypeError(f"safe_join takes safe markup only, not {type(part).__name__}")
    # Each part was checked safe just above (bandit: B703 reviewed).
    return SafeString(separator.join(parts))  # nosec B703


_RAG_SHAPES = {"red": "■", "amber": "▲", "green": "●"}


def per_language(build):
    """`build()` run once per language and process, its result kept: gettext costs about
    10 µs a call, and a dashboard row asked for fourteen fixed words."""
    built: dict[str | None, object] = {}

    @functools.wraps(build)
    def get():
        language = get_language()
        if language not in built:
            built[language] = build()
        return built[language]

    return get


@per_language
def words() -> dict[str, str]:
    """The badges' (and rows') fixed words in the active language."""
    return {
        "paused": gettext("paused"),
        "rag:red": gettext("Red"),
        "rag:amber": gettext("Amber"),
        "rag:green": gettext("Green"),
        "RAG status:": gettext("RAG status:"),
        "light:red": gettext("red"),
        "light:yellow": gettext("yellow"),
        "light:green": gettext("green"),
        "Deadline": gettext("Deadline"),
        "Progress": gettext("Progress"),
        "Not launched": gettext("Not launched"),
        "In progress": gettext("In progress"),
        "Completed": gettext("Completed"),
        "Queue: %(d)s": gettext("Queue: %(d)s"),
    }


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
    badge = format_html(
        '<span class="due-date{}" data-due="{}">{}{}</span>',
        " rf-overdue" if item.is_overdue else "",
        local.isoformat(),  # the "c" date format
        local_datetime(due_at, "SHORT_DATE_FORMAT"),
        relative,
    )
    if item.paused_at:
        badge += format_html(' <span class="rf-paused">{}</span>', words()["paused"])
    return badge


@register.simple_tag
def rag_badge(rag) -> str:
    """Colour is never the only signal: each badge carries a word and a shape."""
    if not rag:
        return ""
    table = words()
    return format_html(
        '<span class="rf-rag rf-rag-{}" title="{}"><span aria-hidden="true">{} </span>'
        '<span class="rf-visually-hidden">{} </span>{}</span>',
        rag,
        str(RAG_RULE_HELP),  # issue 17: the rule, as the badge's help text
        _RAG_SHAPES.get(rag, _RAG_SHAPES["green"]),
        table["RAG status:"],
        table.get(f"rag:{rag}", table["rag:green"]),
    )


@register.simple_tag
def light_badge(axis: str, light) -> str:
    """One axis of a case's two traffic lights (deadline or progress), with its word."""
    table = words()
    return format_html(
        '<span class="rf-light rf-light-{}" data-axis="{}" data-light="{}">'
        '<span class="rf-light-axis">{}</span> {}</span>',
        light or "none",
        axis,
        light or "",
        table["Deadline"] if axis == "deadline" else table["Progress"],
        table.get(f"light:{light}", "—"),
    )
