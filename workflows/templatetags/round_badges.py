"""The marks on a task row: returned to you, resubmitted after a return, overdue (issue 17).

Words, not colour alone: each mark is a short text in the reader's language."""

from django import template
from django.utils.html import format_html_join

from workflows.cases.decision_context import marks

register = template.Library()


@register.simple_tag
def round_badges(item) -> str:
    found = marks(item)
    if not found:
        return ""
    return format_html_join(
        "", ' <span class="rf-mark rf-mark-{}">{}</span>', ((key, text) for key, text in found)
    )
