"""Reports that come by themselves: a schedule runs on its period's first working day, a missed
run is caught up once (never twice), racing beats or workers make one run, and the recipients
are told through the notification log once the version is ready."""

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.test import Client

from tests.deadline_helpers import beijing
from workflows.common.calendar import WorkingCalendar
from workflows.models import (
    AuditEvent,
    Notification,
    Organisation,
    Profile,
    Report,
    ReportSchedule,
    ReportScheduleRun,
)
from workflows.notifications.delivery import notifications_deliver_due
from workflows.reports import generate
from workflows.reports import schedules as report_schedules
from workflows.reports.schedules import report_schedules_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(demo_users):
    """The national programme, monthly on the first working day from 08:00 (the defaults)."""
    return ReportSchedule.objects.create(organisation=Organisation.national())


def run_at(moment) -> report_schedules.SchedulesResult:
    with time_machine.travel(moment, tick=False):
        return report_schedules_run(now=moment)


def periods(schedule) -> list[dt.date]:
    return sorted(
        ReportScheduleRun.objects.filter(schedule=schedule).values_list("period", flat=True)
    )


def test_a_schedule_runs_on_the_first_working_day_of_the_month(schedule):
    calendar = WorkingCalendar.load()
    assert not calendar.is_working(dt.date(2027, 8, 1))  # a Sunday
    assert calendar.is_working(dt.date(2027, 8, 2))

    assert run_at(beijing(2027, 8, 1, 10)).queued == 0
    assert run_at(beijing(2027, 8, 2, 7, 59)).queued == 0  # before its hour
    assert run_at(beijing(2027, 8, 2, 8, 0)).queued == 1
    assert run_at(beijing(2027, 8, 2, 8, 10)).queued == 0

    run = ReportScheduleRun.objects.get(schedule=schedule)
    assert run.period == dt.date(2027, 8, 1)
    assert (run.report.kind, run.report.scope, run.report.status) == (
        "programme",
        "programme",
        "queued",
    )
    event = AuditEvent.objects.get(verb="report_scheduled")
    assert event.data["report"] == run.report_id and event.data["period"] == "2027-08-01"


def test_a_quarterly_schedule_on_its_third_working_day(schedule):
    schedule.frequency, schedule.working_day = "quarterly", 3
    schedule.save()
    # Q4 2027 starts on Fri 1 Oct: the National Day holidays push the third working day on.
    third = WorkingCalendar.load().add_working_days(dt.date(2027, 9, 30), 3)
    assert third > dt.date(2027, 10, 5)
    assert run_at(beijing(2027, 10, 5, 12)).queued == 0
    assert run_at(beijing(third.year, third.month, third.day, 9)).queued == 1
    assert periods(schedule) == [dt.date(2027, 10, 1)]


def test_a_missed_run_is_caught_up_once_never_twice(schedule):
    assert run_at(beijing(2027, 3, 1, 9)).queued == 1
    # The workers were down for the whole of April: May's first pass makes one run, not two.
    assert run_at(beijing(2027, 5, 10, 10)).queued == 1
    assert run_at(beijing(2027, 5, 10, 10, 10)).queued == 0
    assert run_at(beijing(2027, 5, 20, 10)).queued == 0
    # Down on June's first working day (Tue 1 June), back on the 15th: caught up then, once.
    assert run_at(beijing(2027, 6, 15, 10)).queued == 1
    assert run_at(beijing(2027, 6, 16, 10)).queued == 0

    assert periods(schedule) == [dt.date(2027, 3, 1), dt.date(2027, 5, 1), dt.date(2027, 6, 1)]
    assert Report.objects.filter(kind="programme").count() == 3
    assert list(
        Report.objects.filter(kind="programme")
        .order_by("version")
        .values_list("version", flat=True)
    ) == [1, 2, 3]


def test_two_beats_reading_the_same_schedule_make_one_run(schedule):
    moment = beijing(2027, 3, 1, 9)
    calendar = WorkingCalendar.load()
    # Both read the schedule before either claims it: both see March's run as due.
    first, second = (ReportSchedule.objects.get(pk=schedule.pk) for _ in range(2))
    due = [
        report_schedules.schedule_due_period(s, now=moment, calendar=calendar)
        for s in (first, second)
    ]
    assert due == [dt.date(2027, 3, 1)] * 2

    won = report_schedules.schedule_run(schedule_id=first.pk, period=due[0], now=moment)
    lost = report_schedules.schedule_run(schedule_id=second.pk, period=due[1], now=moment)

    assert won is not None and lost is None
    assert Report.objects.count() == 1 and periods(schedule) == [dt.date(2027, 3, 1)]


def test_the_database_refuses_a_second_run_of_a_period_even_if_the_claim_is_reset(schedule):
    run_at(beijing(2027, 3, 1, 9))
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_period=None)

    assert run_at(beijing(2027, 3, 2, 9)).queued == 0

    assert Report.objects.count() == 1 and periods(schedule) == [dt.date(2027, 3, 1)]
    assert AuditEvent.objects.filter(verb="report_scheduled").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_postgresql_make_one_run(demo_users):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks (set DATABASE_URL to a PostgreSQL database)")
    schedule = ReportSchedule.objects.create(organisation=Organisation.national())
    moment = beijing(2027, 3, 1, 9)
    barrier = threading.Barrier(4, timeout=20)
    results: list[object] = []

    def beat() -> None:
        try:
            barrier.wait()
            results.append(report_schedules_run(now=moment).queued)
        except Exception as exc:  # noqa: BLE001 - asserted on below
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == [0, 0, 0, 1], results
    assert ReportScheduleRun.objects.filter(schedule=schedule).count() == 1
    assert Report.objects.count() == 1


def test_recipients_are_told_once_the_version_is_ready_with_its_download_link(
    schedule, demo_users, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run_at(beijing(2027, 3, 1, 9))
    run = ReportScheduleRun.objects.get()
    # Nobody is told while the report is still queued.
    assert run_at(beijing(2027, 3, 1, 9, 10)).notified == 0
    with time_machine.travel(beijing(2027, 3, 1, 9, 12), tick=False):
        assert generate.report_render(report_id=run.report_id).status == "ready"

    told = run_at(beijing(2027, 3, 1, 9, 20)).notified
    assert run_at(beijing(2027, 3, 1, 9, 30)).notified == 0  # once

    rows = Notification.objects.filter(kind="report")
    usernames = set(rows.values_list("recipient__username", flat=True))
    assert told == len(usernames) > 0
    assert {"coordinator.office", "auditor"} <= usernames
    assert "network_work.staff" not in usernames and "network_work.head" not in usernames
    leader = demo_users("secretary_publicity_network")
    assert leader.username in usernames
    url = rows.first().payload["url"]
    assert url.endswith(f"/workflows/reports/{run.report_id}/download/")

    with time_machine.travel(beijing(2027, 3, 1, 9, 21), tick=False):
        notifications_deliver_due(now=beijing(2027, 3, 1, 9, 21))
    to_coordinator = [m for m in mail.outbox if demo_users("coordinator.office").email in m.to]
    assert len(to_coordinator) == 1 and url in to_coordinator[0].body
    # The link opens the report for a recipient.
    client = Client()
    client.force_login(demo_users("coordinator.office"))
    path = url.split("://", 1)[-1].split("/", 1)[1]
    download = client.get(f"/{path}")
    assert download.status_code == 200
    run.refresh_from_db()
    assert run.recipients == told and run.notified_at is not None


def test_an_inactive_schedule_never_runs(schedule):
    schedule.active = False
    schedule.save()
    assert run_at(beijing(2027, 3, 1, 9)).queued == 0
    assert not ReportScheduleRun.objects.exists()


def test_the_admin_edits_a_schedule(demo_users):
    client = Client()
    client.force_login(demo_users("admin"))
    response = client.post(
        "/admin/workflows/reportschedule/add/",
        {
            "title": "Monthly programme",
            "organisation": Organisation.national().pk,
            "aspect": "",
            "active": "on",
            "frequency": "monthly",
            "working_day": "1",
            "hour": "8",
            "to_leaders": "on",
            "to_coordinators": "on",
            "runs-TOTAL_FORMS": "0",
            "runs-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = ReportSchedule.objects.get(title="Monthly programme")
    assert (schedule.to_auditors, schedule.working_day) == (False, 1)
    bad = client.post(
        "/admin/workflows/reportschedule/add/",
        {
            "organisation": Organisation.national().pk,
            "frequency": "monthly",
            "working_day": "0",
            "hour": "25",
            "runs-TOTAL_FORMS": "0",
            "runs-INITIAL_FORMS": "0",
        },
    )
    assert bad.status_code == 200 and ReportSchedule.objects.count() == 1


def test_the_chat_card_of_a_scheduled_report_links_the_download(schedule, demo_users):
    from django.utils import timezone

    from workflows.notifications.channels.cards import card_compose

    coordinator = demo_users("coordinator.office")
    notification = Notification(
        dedupe_key="report-schedule:1:1",
        recipient=coordinator,
        kind="report",
        payload={
            "report": 7,
            "version": 3,
            "period": "2027-03-01",
            "organisation": "acftu",
            "aspect": "",
            "url": "https://reformflow.example.org/workflows/reports/7/download/",
        },
    )
    card = card_compose(notification, now=timezone.now())
    # The period and the federation in words, never the ISO date or the code.
    assert card.title == "Programme progress report for March 2027"
    assert "All-China Federation of Trade Unions" in card.markdown and "acftu" not in card.markdown
    coordinator.profile.language = "zh-hans"
    card = card_compose(notification, now=timezone.now())
    assert card.title == "2027年3月 改革方案进展报告"
    assert "(https://reformflow.example.org/workflows/reports/7/download/)" in card.markdown


def test_a_digest_only_recipient_still_gets_the_scheduled_report(
    schedule, demo_users, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    coordinator = demo_users("coordinator.office")
    Profile.objects.update_or_create(user=coordinator, defaults={"notification_mode": "digest"})
    run_at(beijing(2027, 3, 1, 9))
    run = ReportScheduleRun.objects.get()
    with time_machine.travel(beijing(2027, 3, 1, 9, 12), tick=False):
        generate.report_render(report_id=run.report_id)
    run_at(beijing(2027, 3, 1, 9, 20))
    with time_machine.travel(beijing(2027, 3, 1, 9, 21), tick=False):
        notifications_deliver_due(now=beijing(2027, 3, 1, 9, 21))

    row = Notification.objects.get(kind="report", recipient=coordinator)
    assert row.status == "sent"
    assert any(coordinator.email in m.to and row.payload["url"] in m.body for m in mail.outbox)
