"""Bounded input: the horizon every date a person gives must lie in, and free text cleaned of
control characters. One definition each, used by the forms, the API, the services and the
commands, so a date the app cannot count with or a character a file cannot hold never gets in.
"""

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import BadRequest, ValidationError
from django.utils import timezone
from django.utils.translation import gettext

from workflows.common.calendar import local_date


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def date_horizon(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first and last date a person may give: DATE_HORIZON_YEARS_BACK years before today
    to DATE_HORIZON_YEARS_AHEAD years after it (Asia/Shanghai)."""
    today = today or local_date(timezone.now())
    return (
        _years_later(today, -settings.DATE_HORIZON_YEARS_BACK),
        _years_later(today, settings.DATE_HORIZON_YEARS_AHEAD),
    )


def horizon_message() -> str:
    first, last = date_horizon()
    return gettext("Enter a date between %(first)s and %(last)s.") % {
        "first": first.isoformat(),
        "last": last.isoformat(),
    }


def validate_date_in_horizon(value) -> None:
    """A field validator (Django forms and DRF serializers alike): the date, or the date of a
    datetime, lies within date_horizon()."""
    if value is None:
        return
    day = value.date() if isinstance(value, dt.datetime) else value
    first, last = date_horizon()
    if not first <= day <= last:
        raise ValidationError(horizon_message(), code="out_of_horizon")


def check_date(value, *, field: str):
    """The services' own check of a date they are given: returns it, or raises a
    ValidationError naming the field (the API answers 400 with it, pages show it)."""
    try:
        validate_date_in_horizon(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None
    return value


class InputRejected(BadRequest):
    """A query parameter out of bounds: answered with a 400 page (JSON under /api/) that names
    the field (workflows.web.system.bad_request)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def check_query_date(value, *, field: str):
    """check_date for a GET parameter: InputRejected (400) instead of a ValidationError."""
    try:
        validate_date_in_horizon(value)
    except ValidationError as exc:
        raise InputRejected(field, " ".join(exc.messages)) from None
    return value


# C0 controls but tab, line feed and carriage return; DEL and the C1 controls; and the two
# non-characters XML cannot hold. Spreadsheets and Word files refuse them (a 500 on export).
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def clean_text(value: str | None) -> str:
    """Free text as stored and exported: control characters removed."""
    return _CONTROL_CHARACTERS.sub("", value or "")
