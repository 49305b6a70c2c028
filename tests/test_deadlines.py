"""Due dates: set at creation from the step template, extended, paused and resumed."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tests.deadline_helpers import beijing
from workflows.common.calendar import WorkingCalendar, due_at_for
from workflows.deadlines.due_dates import DeadlineError, deadline_extend, task_pause, task_resume
from workflows.models import AuditEvent, DeadlineChange, StepTemplate

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def item(launch, open_item):
    with time_machine.travel(beijing(2027, 3, 1, 10), tick=False):
        return open_item(launch("2.2"))


def test_each_task_is_due_its_steps_working_days_after_it_opens(item, demo_users):
    assert (item.due_start, item.due_working_days) == (D(2027, 3, 1), 15)
    assert item.due_at == item.original_due_at == due_at_for(D(2027, 3, 22))
    created = AuditEvent.objects.get(verb="task_created", work_item=item)
    assert dt.datetime.fromisoformat(created.data["due_at"]) == item.due_at


def test_an_admin_changes_a_steps_working_days_per_measure(item, launch, open_item, client):
    step = StepTemplate.objects.get(measure__code="2.3", key="draft_plan")
    step.working_days = 2
    step.save()
    with time_machine.travel(beijing(2027, 3, 5, 10), tick=False):  # Friday
        other = open_item(launch("2.3"))
    assert other.due_at == due_at_for(D(2027, 3, 9))  # Mon, Tue
    # The other measure's template is untouched.
    assert item.due_working_days == 15


def test_the_next_step_gets_its_own_due_date_when_it_opens(item, demo_users):
    from workflows.cases.services import task_complete

    staff = demo_users("network_work.staff")
    with time_machine.travel(beijing(2027, 3, 5, 16), tick=False):
        task_complete(item=item, user=staff, note="plan v1")
    approval = item.case.work_items.get(status="open")
    assert approval.due_at == due_at_for(WorkingCalendar().add_working_days(D(2027, 3, 5), 5))


def test_a_coordinator_extends_a_deadline_with_a_reason_on_the_task_page(item, client, coordinator):
    url = reverse("workflows:deadline", args=[item.pk])
    with time_machine.travel(beijing(2027, 3, 10), tick=False):
        client.force_login(coordinator)  # sessions expire: log in at the travelled-to time
        no_reason = client.post(url, {"action": "extend", "new_date": "2027-04-15", "reason": ""})
        assert no_reason.status_code == 302
        item.refresh_from_db()
        assert item.due_at == due_at_for(D(2027, 3, 22))
        client.post(url, {"action": "extend", "new_date": "2027-04-15", "reason": "Survey late"})
    item.refresh_from_db()
    assert (item.due_at, item.due_fixed) == (due_at_for(D(2027, 4, 15)), True)
    assert item.original_due_at == due_at_for(D(2027, 3, 22))
    change = DeadlineChange.objects.get(work_item=item, kind="extended")
    assert (change.reason, change.by) == ("Survey late", coordinator)
    event = AuditEvent.objects.get(verb="deadline_extended")
    assert event.reason == "Survey late" and event.data["to"].startswith("2027-04-15T18:00")
    with time_machine.travel(beijing(2027, 3, 10, 11), tick=False):
        page = client.get(reverse("workflows:task", args=[item.pk])).content.decode()
    assert "Survey late" in page and "Deadline history" in page


def test_extension_rules(item, coordinator, demo_users):
    with pytest.raises(DeadlineError, match="later than the current due date"):
        deadline_extend(item=item, by=coordinator, new_date=D(2027, 3, 19), reason="x")
    with pytest.raises(DeadlineError, match="reason is required"):
        deadline_extend(item=item, by=coordinator, new_date=D(2027, 4, 1), reason=" ")
    from django.core.exceptions import PermissionDenied

    for username in ("network_work.head", "network_work.staff", "auditor"):
        with pytest.raises(PermissionDenied):
            deadline_extend(item=item, by=demo_users(username), new_date=D(2027, 4, 1), reason="x")


def test_pause_stops_the_clock_and_resume_moves_the_due_date(item, demo_users):
    head = demo_users("network_work.head")  # the lead department's head may pause
    with time_machine.travel(beijing(2027, 3, 10, 9), tick=False):  # Wednesday
        task_pause(item=item, by=head, reason="Waiting for the finance ministry")
    item.refresh_from_db()
    assert item.paused_at is not None
    with pytest.raises(DeadlineError, match="already paused"):
        task_pause(item=item, by=head, reason="again")
    with time_machine.travel(beijing(2027, 3, 15, 9), tick=False):  # next Monday
        task_resume(item=item, by=head)
    item.refresh_from_db()
    # Paused Wed..Mon: Thu, Fri, Mon are 3 working days; due Mon 22 -> Thu 25 Mar.
    assert item.paused_at is None
    assert item.due_at == due_at_for(D(2027, 3, 25))
    kinds = list(DeadlineChange.objects.filter(work_item=item).values_list("kind", flat=True))
    assert kinds == ["paused", "resumed"]
    resumed = AuditEvent.objects.get(verb="task_resumed")
    assert resumed.data["paused_working_days"] == 3


def test_only_coordinators_and_the_lead_head_pause(item, demo_users):
    from django.core.exceptions import PermissionDenied

    for username in ("network_work.staff", "general_office.head", "auditor"):
        with pytest.raises(PermissionDenied):
            task_pause(item=item, by=demo_users(username), reason="x")


def test_deadline_actions_over_the_api(item, coordinator):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(coordinator)
    base = f"/api/v1/tasks/{item.pk}"
    with time_machine.travel(beijing(2027, 3, 10), tick=False):
        refused = api.post(f"{base}/extend", {"new_date": "2027-04-01"}, format="json")
        assert refused.status_code == 400 and "reason" in refused.json()["detail"]
        extended = api.post(
            f"{base}/extend", {"new_date": "2027-04-01", "reason": "late data"}, format="json"
        )
        assert extended.status_code == 200
        assert extended.json()["due_at"].startswith("2027-04-01T18:00:00+08:00")
        assert extended.json()["original_due_at"].startswith("2027-03-22T18:00:00+08:00")
        paused = api.post(f"{base}/pause", {"reason": "outside decision"}, format="json")
        assert paused.status_code == 200 and paused.json()["paused_at"]
    with time_machine.travel(beijing(2027, 3, 12), tick=False):
        resumed = api.post(f"{base}/resume", {}, format="json")
    assert resumed.status_code == 200 and resumed.json()["paused_at"] is None
    # Paused Wed 10 .. Fri 12: 2 working days; a fixed (extended) date moves by those too.
    assert resumed.json()["due_at"].startswith("2027-04-05") is False
    assert resumed.json()["due_at"].startswith("2027-04-06T18:00")
