"""Changes that used to leave no audit event (issue 15, Deliver 11): feedback cycles opened by
the sweep, calendar imports and overrides, a failed report render, and an order replaced by a
stepped-up one. Each event is written in the transaction that made the change."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from tests.casework import advance, open_item_of
from tests.deadline_helpers import beijing
from workflows.common.calendar import due_at_for
from workflows.models import AuditEvent, CalendarDay, FeedbackCycle, Report, SupervisionOrder
from workflows.reports import generate
from workflows.reports import render as reports
from workflows.reports import services as reports_services
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

LAUNCHED = beijing(2027, 3, 1, 10)


@pytest.fixture
def case(launch):
    with time_machine.travel(LAUNCHED, tick=False):
        return launch("2.2")


def sweep(moment):
    with time_machine.travel(moment, tick=False):
        return sweep_run(now=moment)


def test_opening_feedback_cycles_is_audited_one_event_per_cycle(client, case, launch):
    with time_machine.travel(beijing(2027, 3, 2, 10), tick=False):
        other = launch("2.5")
        for c in (case, other):
            while open_item_of(c).kind != "implement":
                advance(client, c)
    sweep(beijing(2027, 3, 2, 12))
    cycles = list(FeedbackCycle.objects.order_by("case_id"))
    assert [c.case_id for c in cycles] == sorted([case.pk, other.pk])
    events = AuditEvent.objects.filter(verb="feedback_cycle_opened").order_by("case_id")
    assert [(e.case_id, e.work_item_id, e.data["cycle"]) for e in events] == [
        (c.case_id, c.work_item_id, c.pk) for c in cycles
    ]
    assert events[0].data["period_start"] == "2027-03-01"
    assert dt.datetime.fromisoformat(events[0].data["due_at"]) == due_at_for(dt.date(2027, 4, 8))
    sweep(beijing(2027, 3, 2, 12, 1))  # nothing new to open, nothing new to audit
    assert AuditEvent.objects.filter(verb="feedback_cycle_opened").count() == 2


def test_a_calendar_import_is_audited_with_the_due_dates_it_moved(tmp_path, case):
    schedule = tmp_path / "2027.csv"
    schedule.write_text("date,kind,name\n2027-03-10,holiday,Extra holiday\n")
    call_command("calendar_import", schedule, stdout=open("/dev/null", "w"))
    event = AuditEvent.objects.get(verb="calendar_imported")
    assert event.data["file"] == "2027.csv"
    assert event.data["dates"] == ["2027-03-10"]
    assert event.data["moved"] == 1
    assert event.data["days"] == [
        {"date": "2027-03-10", "kind": "holiday", "name": "Extra holiday"}
    ]
    # Recorded after the due date it moved, in the same transaction.
    recomputed = AuditEvent.objects.get(verb="due_recomputed")
    assert event.pk > recomputed.pk


def test_calendar_overrides_saved_and_deleted_in_the_admin_are_audited(client, case, demo_users):
    admin = demo_users("admin")
    client.force_login(admin)
    response = client.post(
        reverse("admin:workflows_calendarday_add"),
        {"date": "2027-03-10", "kind": "holiday", "name": "Official: extra holiday", "note": ""},
    )
    assert response.status_code == 302
    saved = AuditEvent.objects.get(verb="calendar_override_saved")
    assert saved.actor == admin
    assert saved.data["dates"] == ["2027-03-10"] and saved.data["moved"] == 1
    assert saved.data["days"] == [
        {"date": "2027-03-10", "kind": "holiday", "name": "Official: extra holiday"}
    ]
    day = CalendarDay.objects.get()
    client.post(reverse("admin:workflows_calendarday_delete", args=[day.pk]), {"post": "yes"})
    deleted = AuditEvent.objects.get(verb="calendar_override_deleted")
    assert deleted.actor == admin
    assert deleted.data["dates"] == ["2027-03-10"] and deleted.data["moved"] == 1
    assert open_item_of(case).due_at == due_at_for(dt.date(2027, 3, 22))


def test_a_failed_report_render_is_audited(demo_users, monkeypatch):
    def broken(data, **kwargs):
        raise RuntimeError("layout exploded")

    monkeypatch.setattr(reports, "report_pdf", broken)
    report = reports_services.report_request_programme(by=demo_users("coordinator.office"))
    generate.report_render(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "failed"
    event = AuditEvent.objects.get(verb="report_render_failed")
    assert event.data["report"] == report.pk and event.data["version"] == 1
    assert event.data["error"] == "RuntimeError: layout exploded"
    assert event.actor_name == "coordinator.office"
    assert not Report.objects.filter(status="ready").exists()


def test_an_order_replaced_by_a_stepped_up_one_is_audited(client, case, coordinator):
    from workflows.supervision import orders

    with time_machine.travel(beijing(2027, 3, 1, 11), tick=False):
        blue = orders.order_issue(case=case, by=coordinator, reason="No plan draft yet.")
    sweep(beijing(2027, 3, 8, 18, 1))  # 5 working days without a response
    blue.refresh_from_db()
    orange = blue.stepped_to
    event = AuditEvent.objects.get(verb="supervision_order_stepped_up")
    assert event.case == case
    assert event.data == {
        "order": blue.pk,
        "colour": "blue",
        "stepped_to": orange.pk,
        "to_colour": "orange",
        "by": "response overdue",
    }


def test_an_order_superseded_by_the_escalation_ladder_is_audited(case):
    sweep(beijing(2027, 3, 24, 18))  # rung 2: orange order
    orange = SupervisionOrder.objects.get()
    sweep(beijing(2027, 3, 29, 18))  # rung 3: a red order supersedes it
    orange.refresh_from_db()
    red = orange.stepped_to
    event = AuditEvent.objects.get(verb="supervision_order_stepped_up")
    assert event.case == case
    assert event.data == {
        "order": orange.pk,
        "colour": "orange",
        "stepped_to": red.pk,
        "to_colour": "red",
        "by": "escalation rung 3",
    }
