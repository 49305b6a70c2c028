"""The sweep isolates faults: a poisoned row costs its own row, the other cases are swept and
their mail delivered, the fault is recorded and /healthz names the failing part.

Measures 2.2 and 2.3, launched Mon 1 Mar 2027, have drafts due Mon 22 Mar 18:00."""

import datetime as dt

import pytest
import time_machine

from tests.casework import open_item_of
from tests.deadline_helpers import beijing
from workflows.common.calendar import due_at_for
from workflows.common.health import sweep_record
from workflows.deadlines.sweep_faults import SweepFaults
from workflows.models import AuditEvent, CaseLight, Escalation, SweepFault, WorkItem
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

LAUNCHED = beijing(2027, 3, 1, 10)
AFTER_DUE = beijing(2027, 3, 23, 19)  # rung 1 is due for both drafts
# Written straight into the database: beyond the last date the calendar can hold once it is
# read in Asia/Shanghai (10000-01-01 07:00), so every date computed from it overflows.
POISON = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)


def at(moment):
    return time_machine.travel(moment, tick=False)


def health(client, **query):
    response = client.get("/healthz", query)
    return response.status_code, response.json()


@pytest.fixture
def cases(launch):
    """(poisoned case, healthy case): the poisoned one's open task has an impossible due date."""
    with at(LAUNCHED):
        poisoned, healthy = launch("2.3"), launch("2.2")
    WorkItem.objects.filter(pk=open_item_of(poisoned).pk).update(
        due_at=POISON, next_alert_at=LAUNCHED
    )
    return poisoned, healthy


@pytest.mark.without_handoffs
def test_a_poisoned_row_is_skipped_and_recorded_while_the_rest_is_swept_and_mailed(
    client, cases, mailoutbox
):
    poisoned, healthy = cases
    bad_item, good_item = open_item_of(poisoned), open_item_of(healthy)

    with at(AFTER_DUE):
        result = sweep_run(now=AFTER_DUE)
        status, report = health(client)

    # The healthy case: its rung fired, its mail went out, its lights were refreshed.
    assert Escalation.objects.filter(work_item=good_item, rung=1).exists()
    escalation_mail = [m for m in mailoutbox if m.extra_headers["X-Reformflow-Kind"] != "digest"]
    assert {m.extra_headers["X-Reformflow-Kind"] for m in escalation_mail} == {"escalation"}
    assert result.delivered == len(mailoutbox) > 0
    assert CaseLight.objects.get(case=healthy).computed_at == AFTER_DUE
    # The poisoned case: nothing recorded for it, each failure logged with the case and skipped.
    assert not Escalation.objects.filter(work_item=bad_item).exists()
    assert CaseLight.objects.get(case=poisoned).computed_at != AFTER_DUE
    assert [(f.part, f.case_id) for f in result.faults.faults] == [
        ("alerts", poisoned.pk),
        ("lights", poisoned.pk),
    ]
    assert result.faults.faults[0].work_item_id == bad_item.pk
    assert "faults skipped in alerts, lights" in str(result)
    # Recorded durably, and on the audit trail the first time.
    faults = SweepFault.objects.order_by("part")
    assert [(f.part, f.case_id, f.resolved_at) for f in faults] == [
        ("alerts", poisoned.pk, None),
        ("lights", poisoned.pk, None),
    ]
    assert "OverflowError" in faults[0].error
    events = AuditEvent.objects.filter(verb="sweep_fault").order_by("pk")
    assert [(e.case_id, e.data["part"]) for e in events] == [
        (poisoned.pk, "alerts"),
        (poisoned.pk, "lights"),
    ]
    # Health names the failing parts; mail goes out, so it still answers 200.
    assert status == 200
    assert report["status"] == "degraded"
    assert report["sweep"] == {
        "ok": False,
        "failed_parts": ["alerts", "lights"],
        "stale": False,
        "mail_stopped": False,
    }
    assert "OverflowError" not in str(report)  # no error text on the public page

    # The next sweep meets the same row: counted, not audited again.
    later = AFTER_DUE + dt.timedelta(hours=1)
    with at(later):
        sweep_run(now=later)
    assert [f.occurrences for f in SweepFault.objects.order_by("part")] == [2, 2]
    assert AuditEvent.objects.filter(verb="sweep_fault").count() == 2

    # Once the row is repaired, the next sweep handles it and resolves the faults.
    WorkItem.objects.filter(pk=bad_item.pk).update(
        due_at=due_at_for(dt.date(2027, 3, 22)), next_alert_at=LAUNCHED
    )
    repaired = later + dt.timedelta(hours=1)
    with at(repaired):
        result = sweep_run(now=repaired)
        status, report = health(client)
    assert not result.faults.faults
    assert Escalation.objects.filter(work_item=bad_item, rung=1).exists()
    assert not SweepFault.objects.filter(resolved_at__isnull=True).exists()
    assert (status, report["status"], report["sweep"]["failed_parts"]) == (200, "ok", [])


def test_a_database_error_in_one_row_rolls_back_that_row_only(launch):
    """The batch is retried in halves, each in its own savepoint, down to the failing row."""
    with at(LAUNCHED):
        items = [open_item_of(launch(code)) for code in ("2.1", "2.2", "2.3", "2.4", "2.5")]
    poisoned = items[3]
    faults = SweepFaults()

    def run(rows):
        for row in rows:
            # A CHECK constraint refuses a negative count: a real database error, mid-batch.
            days = -1 if row.pk == poisoned.pk else 99
            WorkItem.objects.filter(pk=row.pk).update(due_working_days=days)
        return len(rows)

    done = faults.rows("alerts", items, run, case_of=lambda i: i.case_id, item_of=lambda i: i.pk)

    assert sum(done) == 4
    assert [(f.part, f.work_item_id) for f in faults.faults] == [("alerts", poisoned.pk)]
    assert "IntegrityError" in faults.faults[0].error
    days = dict(
        WorkItem.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "due_working_days")
    )
    assert days.pop(poisoned.pk) != 99 and set(days.values()) == {99}


def test_a_database_outage_fails_the_part_at_once_instead_of_row_by_row():
    from django.db import OperationalError

    faults = SweepFaults()
    calls = []

    def run(rows):
        calls.append(len(rows))
        raise OperationalError("server closed the connection unexpectedly")

    assert (
        faults.part("lights", lambda: faults.rows("lights", [1, 2, 3, 4], run, case_of=id)) is None
    )
    assert calls == [4]
    assert [f.part for f in faults.faults] == ["lights"]


def test_health_answers_503_when_mail_stops_and_200_for_a_web_only_probe(client, db):
    now = dt.datetime.now(dt.UTC)
    sweep_record(now, failed_parts=["delivery"])
    status, report = health(client)
    assert status == 503 and report["sweep"]["mail_stopped"]
    assert report["sweep"]["failed_parts"] == ["delivery"] and report["status"] == "degraded"
    assert health(client, scope="web")[0] == 200

    sweep_record(now - dt.timedelta(hours=1))  # no sweep for an hour: no mail either
    status, report = health(client)
    assert status == 503 and report["sweep"]["stale"] and report["sweep"]["failed_parts"] == []

    sweep_record(now)
    status, report = health(client)
    assert (status, report["status"], report["sweep"]["ok"]) == (200, "ok", True)
