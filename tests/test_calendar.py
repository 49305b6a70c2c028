"""The working-day calendar: official data to 2026, provisional holidays after, admin overrides."""

import datetime as dt
import logging

import pytest
import time_machine
from django.urls import reverse

from tests.deadline_helpers import beijing
from workflows.common.calendar import OFFICIAL, OVERRIDE, PROVISIONAL, WorkingCalendar, due_at_for
from workflows.models import AuditEvent, CalendarDay, DeadlineChange

D = dt.date


def test_national_day_week_2026_is_not_worked_and_the_makeup_saturday_is():
    calendar = WorkingCalendar()
    for day in range(1, 8):
        info = calendar.day(D(2026, 10, day))
        assert (info.is_working, info.source) == (False, OFFICIAL), info
    make_up = calendar.day(D(2026, 10, 10))  # a Saturday
    assert make_up.date.weekday() == 5
    assert make_up.is_working and make_up.source == OFFICIAL
    assert "make-up" in make_up.name
    # Opened on Wed 30 Sep, 3 working days: the holiday week is skipped, the Saturday counts.
    assert calendar.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert calendar.subtract_working_days(D(2026, 10, 10), 3) == D(2026, 9, 30)


def test_2027_comes_from_the_provisional_source_with_lunar_festivals(caplog, monkeypatch):
    from workflows.common import calendar as calendar_module

    monkeypatch.setattr(calendar_module, "_logged_sources", set())  # log as a fresh process
    calendar = WorkingCalendar()
    with caplog.at_level(logging.INFO, logger="workflows.common.calendar"):
        spring_festival = calendar.day(D(2027, 2, 8))
    assert (spring_festival.is_working, spring_festival.source) == (False, PROVISIONAL)
    assert "Spring Festival" in spring_festival.name
    assert spring_festival.provisional
    national_day = calendar.day(D(2027, 10, 1))
    assert (national_day.is_working, national_day.source) == (False, PROVISIONAL)
    ordinary = calendar.day(D(2027, 3, 9))  # a Tuesday
    assert (ordinary.is_working, ordinary.source) == (True, PROVISIONAL)
    assert not calendar.is_working(D(2027, 3, 13))  # Saturday
    assert "2027 uses holidays (provisional)" in caplog.text


def test_the_calendar_answers_for_any_date_and_never_raises():
    calendar = WorkingCalendar()
    for day in (D(1, 1, 1), D(1900, 1, 1), D(2099, 12, 31), D(9999, 12, 31)):
        info = calendar.day(day)
        assert info.is_working in (True, False)
        assert info.source


def test_an_override_beats_every_computed_source():
    calendar = WorkingCalendar({D(2027, 10, 9): (True, "make-up day for National Day")})
    info = calendar.day(D(2027, 10, 9))  # Saturday
    assert (info.is_working, info.source) == (True, OVERRIDE)


@pytest.mark.django_db
def test_entering_an_official_holiday_moves_an_open_task_and_records_it(
    client, launch, open_item, demo_users
):
    with time_machine.travel(beijing(2027, 3, 1), tick=False):  # Monday
        case = launch("2.2")
    item = open_item(case)
    # 15 working days from Mon 1 Mar 2027, Qingming (5 Apr) is well after: due Mon 22 Mar.
    assert item.due_at == due_at_for(D(2027, 3, 22))

    admin = demo_users("admin")
    client.force_login(admin)
    response = client.post(
        reverse("admin:workflows_calendarday_add"),
        {"date": "2027-03-10", "kind": "holiday", "name": "Official: extra holiday", "note": ""},
    )
    assert response.status_code == 302, response.content[:500]

    item.refresh_from_db()
    assert item.due_at == due_at_for(D(2027, 3, 23))
    change = DeadlineChange.objects.get(work_item=item)
    assert (change.kind, change.old_due_at, change.new_due_at) == (
        "recomputed",
        due_at_for(D(2027, 3, 22)),
        due_at_for(D(2027, 3, 23)),
    )
    assert change.by == admin
    event = AuditEvent.objects.get(verb="due_recomputed", work_item=item)
    assert "2027-03-10" in event.reason

    # Deleting the row moves it back, and that is recorded too.
    client.post(
        reverse("admin:workflows_calendarday_delete", args=[CalendarDay.objects.get().pk]),
        {"post": "yes"},
    )
    item.refresh_from_db()
    assert item.due_at == due_at_for(D(2027, 3, 22))
    assert DeadlineChange.objects.filter(work_item=item).count() == 2


@pytest.mark.django_db
def test_calendar_import_loads_a_schedule_and_names_a_bad_line(tmp_path, launch, open_item):
    from django.core.management import CommandError, call_command

    with time_machine.travel(beijing(2027, 3, 1), tick=False):
        item = open_item(launch("2.2"))
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,name\n2027-03-10,holiday,x\n2027-13-01,holiday,y\n")
    with pytest.raises(CommandError, match=r"bad.csv line 3: date: '2027-13-01'"):
        call_command("calendar_import", bad)
    assert not CalendarDay.objects.exists()

    good = tmp_path / "2027.csv"
    good.write_text("date,kind,name\n2027-03-10,holiday,extra\n2027-03-13,workday,make-up\n")
    call_command("calendar_import", good)
    assert CalendarDay.objects.count() == 2
    item.refresh_from_db()
    # One holiday added and one Saturday made a working day: the due date is unchanged.
    assert item.due_at == due_at_for(D(2027, 3, 22))
