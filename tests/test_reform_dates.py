"""reform_dates: deadlines in whole local calendar days, datetimes in the user's time zone."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.template import Context, Template
from django.utils import timezone, translation

from workflows.templatetags.reform_dates import due_relative, local_datetime

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = datetime.UTC


def shanghai(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def render(source: str, **context) -> str:
    return Template("{% load reform_dates %}" + source).render(Context(context))


@pytest.fixture
def morning():
    """Tuesday 24 November 2026, 10:00 in Beijing (02:00 UTC)."""
    with time_machine.travel(shanghai(2026, 11, 24, 10, 0), tick=False):
        yield


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (shanghai(2026, 11, 27, 9, 0), "due in 3 days"),  # under 72 hours, still 3 days
        (shanghai(2026, 11, 25, 23, 0), "due in 1 day"),
        (shanghai(2026, 11, 24, 23, 59), "due today"),
        (shanghai(2026, 11, 24, 8, 0), "due today"),  # passed this morning: still today
        (shanghai(2026, 11, 23, 18, 0), "1 day overdue"),
        (shanghai(2026, 11, 19, 12, 0), "5 days overdue"),
        (datetime.date(2026, 12, 4), "due in 10 days"),
    ],
)
def test_due_relative_counts_whole_local_calendar_days(morning, due, expected):
    assert due_relative(due) == expected
    assert render("{{ due|due_relative }}", due=due) == expected


def test_due_relative_reads_the_deadline_in_shanghai_not_utc(morning):
    # 00:30 on the 25th in Beijing is still the 24th in UTC: the user sees tomorrow.
    due = datetime.datetime(2026, 11, 24, 16, 30, tzinfo=UTC)

    assert due_relative(due) == "due in 1 day"
    with timezone.override(UTC):
        assert due_relative(due) == "due today"


def test_due_relative_turns_over_at_local_midnight():
    due = shanghai(2026, 11, 25, 0, 10)
    with time_machine.travel(shanghai(2026, 11, 24, 23, 50), tick=False) as traveller:
        assert due_relative(due) == "due in 1 day"
        traveller.move_to(shanghai(2026, 11, 25, 0, 5))
        assert due_relative(due) == "due today"
        traveller.move_to(shanghai(2026, 11, 26, 0, 5))
        assert due_relative(due) == "1 day overdue"
        traveller.move_to(shanghai(2026, 11, 28, 12, 0))
        assert due_relative(due) == "3 days overdue"


def test_due_relative_is_empty_without_a_deadline(morning):
    assert due_relative(None) == ""
    assert render("[{{ due|due_relative }}]", due=None) == "[]"


def test_local_datetime_shows_the_user_time_zone_in_the_language_format():
    moment = datetime.datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 00:30 on the 25th in Beijing

    assert local_datetime(moment) == "25 Nov 2026, 00:30"
    with translation.override("zh-hans"):
        assert local_datetime(moment) == "2026年11月25日 00:30"
        assert local_datetime(moment, "DATE_FORMAT") == "2026年11月25日"
        assert render("{{ m|local_datetime:'DATE_FORMAT' }}", m=moment) == "2026年11月25日"
    with timezone.override(zoneinfo.ZoneInfo("Europe/London")):
        assert local_datetime(moment, "Y-m-d H:i") == "2026-11-24 16:30"
    assert local_datetime(None) == ""
    assert render("[{{ m|local_datetime }}]", m=None) == "[]"
