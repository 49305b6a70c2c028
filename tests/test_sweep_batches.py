"""The sweep at scale: each task's next alert time is kept, the sweep reads only the tasks whose
time has come, in batches whose query count does not grow with the number of tasks."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.deadline_helpers import beijing
from workflows.audit.trail import audit_verify
from workflows.common.calendar import at_local, due_at_for
from workflows.deadlines import escalation
from workflows.deadlines.policy import alert_floor
from workflows.models import (
    AuditEvent,
    CalendarDay,
    Escalation,
    EscalationPolicy,
    Notification,
    SupervisionOrder,
    WorkItem,
)
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

# As in test_escalation: measure 2.2's first step opened Mon 1 Mar 2027 is due Mon 22 Mar 18:00,
# reminded from Wed 17 Mar 09:00 (3 working days before).
OPENED = beijing(2027, 3, 1, 10)
DUE = due_at_for(dt.date(2027, 3, 22))
FIRST_REMINDER = at_local(dt.date(2027, 3, 17), dt.time(9))


@pytest.fixture(autouse=True)
def _change_stamp_bumped_at_once(monkeypatch):
    """Overrides conftest's stand-in: here every bump is the whole tree's. A sweep batch bumps
    once, at its commit, looking up its cases' federations in one query; the stand-in bumps at
    each write instead (these tests never commit), one lookup per write, which would count
    against the sweep's own statements."""
    from workflows.common import change_stamp

    monkeypatch.setattr(change_stamp, "_hook_once", lambda using, cases=None: change_stamp.bump())


@pytest.fixture
def item(launch, open_item):
    with time_machine.travel(OPENED, tick=False):
        case = launch("2.2")
    return open_item(case)


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return sweep_run(now=moment, deliver=False)


def next_alert(item) -> dt.datetime | None:
    return WorkItem.objects.values_list("next_alert_at", flat=True).get(pk=item.pk)


def test_a_new_task_starts_at_a_floor_before_its_first_reminder_then_gets_the_exact_time(item):
    floor = next_alert(item)
    assert floor == DUE - dt.timedelta(days=3 * 3 + 15) and floor < FIRST_REMINDER
    result = sweep_at(beijing(2027, 3, 2))  # past the floor: the sweep looks and stores the time
    assert result.tasks_evaluated == 1 and result.reminders == 0
    assert next_alert(item) == FIRST_REMINDER
    quiet = sweep_at(beijing(2027, 3, 16))  # nothing due: the task is not even read
    assert quiet.tasks_evaluated == 0
    assert sweep_at(FIRST_REMINDER).reminders == 1
    assert next_alert(item) == at_local(dt.date(2027, 3, 19), dt.time(9))  # 1 day before


def test_after_the_last_rung_nothing_is_left_to_alert(item):
    sweep_at(beijing(2027, 3, 22, 18))
    assert next_alert(item) == due_at_for(dt.date(2027, 3, 24))  # rung 2, 2 working days on
    sweep_at(beijing(2027, 4, 2))
    assert next_alert(item) is None
    assert Escalation.objects.filter(work_item=item).count() == 3
    assert sweep_at(beijing(2027, 5, 3)).tasks_evaluated == 0


def test_an_extension_puts_the_task_at_the_new_dates_floor(item, coordinator):
    from workflows.deadlines.due_dates import deadline_extend

    sweep_at(beijing(2027, 3, 2))
    with time_machine.travel(beijing(2027, 3, 3), tick=False):
        deadline_extend(item=item, by=coordinator, new_date=dt.date(2027, 4, 30), reason="Survey")
    new_due = due_at_for(dt.date(2027, 4, 30))
    assert next_alert(item) == alert_floor(new_due)
    missed_old_date = sweep_at(beijing(2027, 3, 22, 19))
    assert missed_old_date.tasks_evaluated == 0 and missed_old_date.escalations == 0
    assert sweep_at(beijing(2027, 4, 7)).tasks_evaluated == 1  # past the new floor
    assert beijing(2027, 4, 20) < next_alert(item) < new_due


def test_a_paused_task_is_not_read_and_resumes_from_its_new_floor(item, coordinator):
    from workflows.deadlines.due_dates import task_pause, task_resume

    with time_machine.travel(beijing(2027, 3, 10), tick=False):
        task_pause(item=item, by=coordinator, reason="Waiting for the State Council")
    assert sweep_at(beijing(2027, 3, 30)).tasks_evaluated == 0
    with time_machine.travel(beijing(2027, 3, 31), tick=False):
        task_resume(item=item, by=coordinator, reason="Decided")
    item.refresh_from_db()
    assert item.due_at > DUE and item.next_alert_at == alert_floor(item.due_at)
    assert sweep_at(beijing(2027, 3, 31, 11)).tasks_evaluated == 1


def test_a_calendar_override_puts_the_tasks_around_it_back_to_their_floor(item, coordinator):
    from workflows.deadlines.due_dates import deadline_extend, due_dates_recompute

    # A fixed date (not recomputed) whose reminders still count working days on the calendar.
    with time_machine.travel(beijing(2027, 3, 3), tick=False):
        deadline_extend(item=item, by=coordinator, new_date=dt.date(2027, 3, 26), reason="Survey")
    sweep_at(beijing(2027, 3, 4))
    assert next_alert(item) == at_local(dt.date(2027, 3, 23), dt.time(9))  # Tue, 3 days before
    CalendarDay.objects.create(date=dt.date(2027, 3, 24), kind="holiday", name="Local closure")
    assert due_dates_recompute(changed_dates=[dt.date(2027, 3, 24)]) == 0  # fixed: not moved
    assert next_alert(item) <= at_local(dt.date(2027, 3, 22), dt.time(9))
    # Mon 22 March is now 3 working days before the 26th: the reminder is not missed.
    assert sweep_at(beijing(2027, 3, 22, 9, 1)).reminders == 1
    assert Notification.objects.get(work_item=item, kind="reminder").rung == 3


def test_a_policy_edit_puts_the_measures_tasks_back_to_their_floor(item):
    sweep_at(beijing(2027, 3, 2))
    assert next_alert(item) == FIRST_REMINDER
    policy = EscalationPolicy.objects.create(
        measure=item.case.measure, reminder_days_before=[10], reminder_hour=9
    )
    assert next_alert(item) == DUE - dt.timedelta(days=3 * 10 + 15)
    policy.rungs.create(rung=1, working_days_after_due=0, notify=["assignee"])
    # 10 working days before Mon 22 March is Mon 8 March.
    assert sweep_at(beijing(2027, 3, 8, 9)).reminders == 1


def test_each_batch_is_its_own_transaction_and_every_task_is_done_once(
    launch, open_item, monkeypatch
):
    monkeypatch.setattr(escalation, "SWEEP_BATCH", 2)
    with time_machine.travel(OPENED, tick=False):
        items = [open_item(launch(code)) for code in ("2.2", "2.3", "3.1", "1.1", "1.2")]
    result = sweep_at(beijing(2027, 6, 1))
    assert result.tasks_evaluated == 5
    assert result.escalations == Escalation.objects.count() == 15  # 5 tasks x 3 rungs
    assert all(next_alert(i) is None for i in items)
    assert sweep_at(beijing(2027, 6, 1, 10, 1)).escalations == 0


def test_a_sweep_out_of_budget_leaves_the_rest_to_the_next_oldest_first(
    launch, open_item, monkeypatch
):
    monkeypatch.setattr(escalation, "SWEEP_BATCH", 2)
    with time_machine.travel(OPENED, tick=False):
        items = [open_item(launch(code)) for code in ("2.2", "2.3", "3.1", "1.1", "1.2")]
    moment = beijing(2027, 6, 1)

    runs = []
    while True:
        with time_machine.travel(moment, tick=False):
            # A budget of 0: exactly one batch per sweep (a sweep always moves the backlog).
            runs.append(sweep_run(now=moment, deliver=False, budget=0))
        if not runs[-1].backlog:
            break
        assert "more are due: the next sweep goes on" in str(runs[-1])

    assert [r.tasks_evaluated for r in runs] == [2, 2, 1]
    # The same rungs as one unlimited sweep, each once: 5 tasks x 3 rungs.
    assert sum(r.escalations for r in runs) == Escalation.objects.count() == 15
    assert all(next_alert(i) is None for i in items)
    assert sweep_run(now=moment, deliver=False, budget=0).tasks_evaluated == 0


# --------------------------------------------------------------------------- at scale


def statements(queries) -> list[str]:
    """The statements a sweep ran, with one bulk insert counted once: SQLite splits a long
    INSERT into several (999 parameters per statement), PostgreSQL does not."""
    shapes: list[str] = []
    for query in queries.captured_queries:
        sql = query["sql"]
        table = sql.split("(", 1)[0] if sql.startswith("INSERT") else None
        if table and shapes and shapes[-1] == table:
            continue
        shapes.append(table or sql)
    return shapes


@pytest.fixture
def overdue_tasks(demo_users):
    """90 generated cases whose open tasks wait, paused, in their lead department's queue."""
    from workflows.demo.scale import generate

    moment = beijing(2027, 3, 10)
    with time_machine.travel(moment, tick=False):
        generate(organisations=3, overdue_share=1.0, now=moment)
    items = list(
        WorkItem.objects.filter(status="open", case__organisation__code__startswith="scale-")
        .select_related("case")
        .order_by("pk")
    )
    due = moment - dt.timedelta(days=14)  # past rung 3 (5 working days)
    for item in items:
        item.department_id, item.leader_role_id = item.case.lead_department_id, None
        item.assignee_id, item.for_head = None, False
        item.due_at, item.next_alert_at, item.paused_at = due, alert_floor(due), moment
    WorkItem.objects.bulk_update(
        items,
        [
            "department",
            "leader_role",
            "assignee",
            "for_head",
            "due_at",
            "next_alert_at",
            "paused_at",
        ],
    )
    sweep_at(moment)  # warm-up: opens the feedback cycles, refreshes lights, records nothing
    return moment, [i.pk for i in items]


def test_a_sweep_over_40_overdue_tasks_issues_as_many_queries_as_over_5(overdue_tasks):
    moment, ids = overdue_tasks
    assert len(ids) >= 45

    def sweep_over(chosen) -> list[str]:
        WorkItem.objects.filter(pk__in=chosen).update(paused_at=None)
        with CaptureQueriesContext(connection) as queries:
            result = sweep_at(moment)
        assert result.tasks_evaluated == len(chosen)
        assert result.escalations == 3 * len(chosen)
        return statements(queries)

    few, many = sweep_over(ids[:5]), sweep_over(ids[5:45])
    assert len(many) == len(few), "\n".join(many)
    # Each task's case got its orange order, stepped up to red by rung 3.
    assert SupervisionOrder.objects.filter(colour="red", status="open").count() == 45
    assert SupervisionOrder.objects.filter(colour="orange", status="stepped_up").count() == 45


def test_the_audit_trail_verifies_after_a_batched_sweep(overdue_tasks, monkeypatch):
    moment, ids = overdue_tasks
    monkeypatch.setattr(escalation, "SWEEP_BATCH", 16)
    WorkItem.objects.filter(pk__in=ids).update(paused_at=None)
    result = sweep_at(moment)
    assert result.escalations == 3 * len(ids)
    assert AuditEvent.objects.filter(verb="escalated").count() == 3 * len(ids)
    assert AuditEvent.objects.filter(verb="supervision_order_issued").count() == 2 * len(ids)
    check = audit_verify()
    assert check.ok, check.problem
    assert check.count == AuditEvent.objects.count()


def test_cycles_are_opened_a_capped_number_per_sweep_until_every_case_has_its_own(
    demo_users, monkeypatch
):
    from workflows.demo.scale import generate
    from workflows.models import FeedbackCycle
    from workflows.supervision import cycles as supervision_cycles

    moment = beijing(2027, 3, 10)
    with time_machine.travel(moment, tick=False):
        generate(organisations=2, overdue_share=1.0, now=moment)
    implementing = set(
        WorkItem.objects.filter(status="open", kind="implement").values_list("case", flat=True)
    )
    assert len(implementing) > 7
    monkeypatch.setattr(supervision_cycles, "CYCLES_OPENED_PER_SWEEP", 3)

    opened = []
    while not opened or opened[-1]:
        opened.append(supervision_cycles.feedback_cycles_open(now=moment))

    assert set(opened[:-2]) == {3} and 0 < opened[-2] <= 3 and opened[-1] == 0
    assert sum(opened) == len(implementing)
    assert set(FeedbackCycle.objects.values_list("case", flat=True)) == implementing
