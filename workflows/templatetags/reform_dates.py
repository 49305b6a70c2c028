"""Dates as people read them: in the user's time zone, and deadlines as "due in 3 days"."""

import datetime
import functools

from django import template
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext, ngettext

register = template.Library()


def _local_date(value: datetime.date | datetime.datetime) -> datetime.date:
    # A bare date is already a calendar day; an aware datetime is read in the active time zone
    # (Asia/Shanghai unless a view activates another), so a deadline at 00:30 Beijing time
    # counts as that day, not the previous UTC day.
    if isinstance(value, datetime.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return timezone.localtime(value).date()
    return value


@register.filter(expects_localtime=False)
def due_relative(value: datetime.date | datetime.datetime | None) -> str:
    """'due in 3 days', 'due today' or '5 days overdue', in whole local calendar days from now."""
    if value is None or value == "":
        return ""
    days = (_local_date(value) - timezone.localdate()).days
    if days == 0:
        return gettext("due today")
    if days > 0:
        return ngettext("due in %(count)d day", "due in %(count)d days", days) % {"count": days}
    overdue = -days
    return ngettext("%(count)d day overdue", "%(count)d days overdue", overdue) % {"count": overdue}


@functools.lru_cache(maxsize=8192)
def _formatted(value, time_zone, language: str | None, fmt: str) -> str:
    # Keyed by the time zone and language too: the same instant reads differently in each.
    if isinstance(value, datetime.datetime):
        value = value.astimezone(time_zone)
    return formats.date_format(value, fmt)


@register.filter(expects_localtime=False)
def local_datetime(value: datetime.datetime | None, fmt: str = "SHORT_DATETIME_FORMAT") -> str:
    """The datetime in the active time zone, formatted for the active language ('' for None).

    Memoised: Django's date formatter cost a tenth of an inbox's CPU, and table rows repeat
    the same dates (every task due on a day is due at 18:00) from request to request.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return _formatted(value, timezone.get_current_timezone(), get_language(), fmt)
