"""Reminders and the escalation ladder, driven by the sweep with time moved forward."""

import datetime as dt
import io

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from tests.deadline_helpers import beijing
from workflows.common.calendar import due_at_for
from workflows.models import AuditEvent, Escalation, Notification, Profile, Rag, WorkItem
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

# Measure 2.2's first step (15 working days) opened Mon 1 Mar 2027 is due Mon 22 Mar 18:00.
OPENED = beijing(2027, 3, 1, 10)
DUE = due_at_for(dt.date(2027, 3, 22))


@pytest.fixture
def item(launch, open_item):
    with time_machine.travel(OPENED, tick=False):
        case = launch("2.2")
    item = open_item(case)
    assert item.due_at == DUE
    return item


def recipients(messages) -> list[str]:
    return sorted(address for message in messages for address in message.to)


def sweep_at(moment) -> list:
    """Run one sweep at `moment`; returns the mails it sent."""
    before = len(mail.outbox)
    with time_machine.travel(moment, tick=False):
        sweep_run(now=moment)
    # Rungs 2 and 3 also issue supervision orders to the lead department (tests/test_supervision
    # covers those mails); these tests are about the ladder's own messages.
    return [
        m for m in mail.outbox[before:] if m.extra_headers["X-Reformflow-Kind"] != "supervision"
    ]


@pytest.mark.without_handoffs
def test_reminders_3_and_1_working_days_before_and_on_the_due_day(item):
    staff = ["network_work.staff@example.org"]  # the queue's candidates: nobody claimed it
    assert sweep_at(beijing(2027, 3, 17, 8, 59)) == []  # one minute early: nothing
    first = sweep_at(beijing(2027, 3, 17, 9, 0))
    assert recipients(first) == staff
    assert "2.2" in first[0].subject and "3 working days" in first[0].subject
    assert sweep_at(beijing(2027, 3, 18, 12)) == []  # already reminded for this stage
    second = sweep_at(beijing(2027, 3, 19, 9, 5))
    assert recipients(second) == staff and "1 working day" in second[0].subject
    due_day = sweep_at(beijing(2027, 3, 22, 9, 0))
    assert recipients(due_day) == staff and "due today" in due_day[0].subject
    assert sweep_at(beijing(2027, 3, 22, 17, 59)) == []  # not yet breached
    reminders = Notification.objects.filter(kind="reminder", work_item=item)
    assert sorted(reminders.values_list("rung", flat=True)) == [0, 1, 3]
    assert set(reminders.values_list("status", flat=True)) == {"sent"}


@pytest.mark.without_handoffs
def test_a_claimed_task_reminds_its_assignee_only(item, demo_users):
    from workflows.cases.services import task_claim

    task_claim(item=item, user=demo_users("network_work.staff"))
    sent = sweep_at(beijing(2027, 3, 19, 10))
    assert recipients(sent) == ["network_work.staff@example.org"]


@pytest.mark.without_handoffs
def test_every_rung_of_the_ladder_fires_once_to_the_right_people(item):
    breach = sweep_at(beijing(2027, 3, 22, 18, 0))
    assert recipients(breach) == [
        "network_work.head@example.org",
        "network_work.staff@example.org",
    ]
    assert all("Escalation (rung 1)" in m.subject for m in breach)
    item.case.refresh_from_db()
    assert item.case.rag == Rag.AMBER

    assert sweep_at(beijing(2027, 3, 24, 17, 59)) == []  # rung 2 is 2 working days later
    rung_2 = sweep_at(beijing(2027, 3, 24, 18, 0))
    assert recipients(rung_2) == ["secretary_publicity_network@example.org"]

    assert sweep_at(beijing(2027, 3, 29, 17, 0)) == []  # rung 3 is 5 working days later
    rung_3 = sweep_at(beijing(2027, 3, 29, 18, 30))
    assert recipients(rung_3) == ["chairman@example.org", "first_secretary@example.org"]
    item.case.refresh_from_db()
    assert item.case.rag == Rag.RED

    assert sweep_at(beijing(2027, 4, 30)) == []  # nothing is ever sent twice
    assert list(Escalation.objects.filter(work_item=item).values_list("rung", flat=True)) == [
        1,
        2,
        3,
    ]
    events = AuditEvent.objects.filter(verb="escalated", work_item=item).order_by("pk")
    assert [e.data["rung"] for e in events] == [1, 2, 3]
    assert events[2].data["notified"] == ["chairman", "first_secretary"]
    assert events[2].data["rag"] == "red"


@pytest.mark.without_handoffs
def test_after_downtime_the_sweep_catches_up_with_one_message_per_rung(item):
    # The system was down from before the first reminder until after rung 3.
    sent = sweep_at(beijing(2027, 4, 2, 10))
    kinds = sorted(
        (n.kind, n.rung)
        for n in Notification.objects.filter(work_item=item).exclude(kind="supervision")
    )
    # No reminders after the breach; each rung once, to its own people.
    assert kinds == [
        ("escalation", 1),
        ("escalation", 1),
        ("escalation", 2),
        ("escalation", 3),
        ("escalation", 3),
    ]
    assert len(sent) == 5
    assert sweep_at(beijing(2027, 4, 2, 10, 1)) == []


@pytest.mark.without_handoffs
def test_downtime_before_the_due_day_gives_one_reminder_not_three(item):
    sent = sweep_at(beijing(2027, 3, 22, 11))
    assert len(sent) == 1 and "due today" in sent[0].subject


@pytest.mark.without_handoffs
def test_two_sweeps_at_the_same_moment_send_nothing_twice(item):
    moment = beijing(2027, 3, 25, 9)
    first = sweep_at(moment)
    second = sweep_at(moment)
    assert len(first) == 3 and second == []  # rung 1 (2 people) and rung 2 (1 person)


@pytest.mark.without_handoffs
def test_a_paused_task_is_neither_reminded_nor_escalated(item, coordinator):
    from workflows.deadlines.due_dates import task_pause

    with time_machine.travel(beijing(2027, 3, 10), tick=False):
        task_pause(item=item, by=coordinator, reason="Waiting for the State Council's decision")
    assert sweep_at(beijing(2027, 4, 30)) == []
    assert not Escalation.objects.exists()


def test_a_digest_only_user_gets_nothing_immediately_but_it_is_logged(item, demo_users):
    Profile.objects.filter(user=demo_users("network_work.staff")).update(notification_mode="digest")
    assert sweep_at(beijing(2027, 3, 19, 10)) == []
    logged = Notification.objects.get(work_item=item, kind="reminder")
    assert logged.status == "folded"


@pytest.mark.without_handoffs
def test_sweep_command_a_day_after_the_due_date_sends_rung_1_once(item):
    out = io.StringIO()
    with time_machine.travel(beijing(2027, 3, 23, 18, 30), tick=False):
        call_command("sweep", "--now", "2027-03-23T18:30", stdout=out)
    assert "1 escalations recorded, 2 messages sent" in out.getvalue()
    assert recipients(mail.outbox) == [
        "network_work.head@example.org",
        "network_work.staff@example.org",
    ]
    again = io.StringIO()
    call_command("sweep", "--now", "2027-03-23T18:31", stdout=again)
    assert "0 reminders and 0 escalations recorded, 0 messages sent" in again.getvalue()
    assert len(mail.outbox) == 2


def test_sweep_command_rejects_a_bad_moment():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not an ISO date-time"):
        call_command("sweep", "--now", "next tuesday")


@pytest.mark.without_handoffs
def test_a_per_measure_policy_overrides_the_default(item):
    from workflows.models import EscalationPolicy, EscalationRung

    policy = EscalationPolicy.objects.create(
        measure=item.case.measure, reminder_days_before=[5], reminder_hour=8
    )
    EscalationRung.objects.create(
        policy=policy, rung=1, working_days_after_due=1, notify=["supervising_leader"]
    )
    early = sweep_at(beijing(2027, 3, 15, 8))  # 5 working days before, at 08:00
    assert recipients(early) == ["network_work.staff@example.org"]
    assert sweep_at(beijing(2027, 3, 22, 19)) == []  # no default reminders, no rung at breach
    late = sweep_at(beijing(2027, 3, 23, 18))
    assert recipients(late) == ["secretary_publicity_network@example.org"]
    assert WorkItem.objects.get(pk=item.pk).case.rag == Rag.AMBER


@pytest.mark.django_db(transaction=True)
def test_two_truly_concurrent_sweeps_on_postgresql_record_and_send_each_message_once(
    launch, open_item
):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (set DATABASE_URL to a PostgreSQL database)")
    with time_machine.travel(OPENED, tick=False):
        cases = [launch(code) for code in ("2.2", "2.3", "3.1")]
    moment = beijing(2027, 3, 25, 9)  # each draft: rung 1 (staff + head) and rung 2 (leader)
    barrier = threading.Barrier(2, timeout=10)
    errors: list[Exception] = []

    def sweep() -> None:
        try:
            barrier.wait()
            sweep_run(now=moment)
        except Exception as exc:  # noqa: BLE001 - asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    with time_machine.travel(moment, tick=False):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    escalations = Escalation.objects.filter(case__in=cases)
    assert escalations.count() == 6  # 3 tasks x rungs 1 and 2, each once
    sent = Notification.objects.filter(case__in=cases)
    assert set(sent.values_list("status", flat=True)) == {"sent"}
    keys = [(m.to[0], m.extra_headers["X-Reformflow-Notification"]) for m in mail.outbox]
    assert len(keys) == len(set(keys)) == sent.count()
