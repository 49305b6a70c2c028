"""The alerts sweep: reminders and escalation rungs due by now, recorded batch by batch.

The sweep is idempotent: every reminder and rung it records has a unique key (Notification
.dedupe_key, Escalation(work_item, rung, due_at)), so overlapping sweeps, a worker dying half
way, or a catch-up after downtime never record the same message twice.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q

from workflows.audit.trail import audit_record_many
from workflows.common.calendar import WorkingCalendar
from workflows.common.db import insert_skipping_conflicts
from workflows.deadlines.policy import PolicyBook, Rung, next_alert_time, reminder_stage, rung_time
from workflows.deadlines.recipients import Recipients
from workflows.deadlines.sweep_faults import SweepFaults
from workflows.models import (
    Case,
    Department,
    Escalation,
    LeaderRole,
    Notification,
    NotificationKind,
    Rag,
    Recipient,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications.channels import rows_for_channels
from workflows.notifications.log import notification_rows, stand_ins_load

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    now: dt.datetime
    timers_fired: int = 0
    reminders: int = 0
    escalations: int = 0
    delivered: int = 0
    failed: int = 0
    reports_resent: int = 0
    tasks_evaluated: int = 0
    # True when the budget ran out with tasks still due: the next sweep goes on with them.
    backlog: bool = False
    supervision: object = None
    # Seconds per part (alerts, supervision, delivery), for the logs and the bench.
    seconds: dict = field(default_factory=dict)
    # What failed and was skipped (workflows.deadlines.sweep_faults); the rest of the sweep went on.
    faults: SweepFaults = field(default_factory=SweepFaults)

    def __str__(self) -> str:
        return (
            f"sweep at {self.now.isoformat()}: {self.reminders} reminders and "
            f"{self.escalations} escalations recorded, {self.delivered} messages sent, "
            f"{self.failed} failed, {self.timers_fired} viewflow timers fired"
            + (f", {self.reports_resent} reports re-sent" if self.reports_resent else "")
            + ("; more are due: the next sweep goes on" if self.backlog else "")
            + (
                f"; {len(self.faults.faults)} faults skipped in {', '.join(self.faults.parts)}"
                if self.faults.faults
                else ""
            )
        )


def alert_key(kind: str, item_id: int, rung: int, due_at) -> str:
    """A reminder's or rung's key before the recipient's id (notifications.log adds it)."""
    return f"{kind}:{item_id}:{rung}:{due_at.isoformat()}"


def _notification_rows(item, users, *, kind, rung, now, digest_only: set[int], stand_ins):
    """A reminder's or rung's rows: keyed by task, rung and due date, so a moved due date
    alerts again and the same one never twice."""
    return notification_rows(
        users,
        kind=kind,
        key=alert_key(kind, item.pk, rung, item.due_at),
        case=item.case,
        item=item,
        rung=rung,
        now=now,
        digest_only=digest_only,
        stand_ins=stand_ins,
    )


def _escalations_insert(rows: list[Escalation]) -> list[Escalation]:
    """Insert the batch's escalations; returns those inserted (with ids).

    The batch's tasks are locked, so a conflict means a writer outside the sweep's locking got
    there first: then each row is tried on its own and the unique one it lost to is skipped.
    """
    return insert_skipping_conflicts(Escalation, rows)


@dataclass
class _BatchOutcome:
    reminders: int = 0
    escalations: int = 0


def _sweep_batch(items: list[WorkItem], *, calendar, book: PolicyBook, now) -> _BatchOutcome:
    """Record what is due for one locked batch of tasks and store each task's next alert time."""
    outcome = _BatchOutcome()
    ids = [i.pk for i in items]
    fired = set(
        Escalation.objects.filter(work_item__in=ids).values_list("work_item", "rung", "due_at")
    )
    sent_stages = set(
        Notification.objects.filter(work_item__in=ids, kind=NotificationKind.REMINDER).values_list(
            "work_item", "rung", "due_at"
        )
    )
    reminders: list[WorkItem] = []  # with their stage in `stage_of`
    stage_of: dict[int, int] = {}
    firing: list[tuple[WorkItem, Rung]] = []
    for item in items:
        policy = book.for_measure(item.case.measure_id)
        if item.due_at is None:  # nothing to time (a floor is only set with a due date)
            item.next_alert_at = None
            continue
        if now < item.due_at:
            stage = reminder_stage(policy, calendar, item.due_at, now)
            if stage is not None and (item.pk, stage, item.due_at) not in sent_stages:
                reminders.append(item)
                stage_of[item.pk] = stage
        else:
            firing += [
                (item, rung)
                for rung in policy.rungs
                if (item.pk, rung.rung, item.due_at) not in fired
                and rung_time(calendar, item.due_at, rung) <= now
            ]
        item.next_alert_at = next_alert_time(policy, calendar, item.due_at, now)

    keys: set[str] = {Recipient.ASSIGNEE} if reminders else set()
    keys |= {key for _item, rung in firing for key in rung.notify}
    recipients = Recipients.load(
        items, keys, upward=any(rung.turns_case_red for _item, rung in firing)
    )
    reminder_users = {i.pk: recipients.named(i, Recipient.ASSIGNEE) for i in reminders}
    escalation_users = []
    for item, rung in firing:
        users = [u for key in rung.notify for u in recipients.named(item, key)]
        # A child case turning red is the parent federation's business too: its coordinators
        # hear of it (each still gets one message: the dedupe key names the user).
        upward = recipients.parent_coordinators(item) if rung.turns_case_red else []
        escalation_users.append((users + upward, upward))
    told = [u for users in reminder_users.values() for u in users] + [
        u for users, _upward in escalation_users for u in users
    ]
    recipients.load_digest_modes(told)
    # Substitutes of the people told (one query for the batch; notifications.log adds them).
    stand_ins = stand_ins_load(told) if told else {}

    if reminders:
        rows = [
            row
            for item in reminders
            for row in _notification_rows(
                item,
                reminder_users[item.pk],
                kind=NotificationKind.REMINDER,
                rung=stage_of[item.pk],
                now=now,
                digest_only=recipients.digest_only,
                stand_ins=stand_ins,
            )
        ]
        # Count only this batch's keys (a unique index), not the whole log.
        rows = rows_for_channels(rows)
        keys_written = [row.dedupe_key for row in rows]
        before = Notification.objects.filter(dedupe_key__in=keys_written).count()
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        after = Notification.objects.filter(dedupe_key__in=keys_written).count()
        outcome.reminders = after - before

    if firing:
        outcome.escalations = _escalations_record(
            firing,
            escalation_users,
            now=now,
            digest_only=recipients.digest_only,
            stand_ins=stand_ins,
        )
    _next_alerts_store(items)
    return outcome


def _next_alerts_store(items: list[WorkItem]) -> None:
    """Write the batch's next alert times in one statement."""
    if connection.vendor != "postgresql":
        WorkItem.objects.bulk_update(items, ["next_alert_at"], batch_size=1000)
        return
    # bulk_update's CASE with a branch per row costs PostgreSQL ~0.5 s per 1000; a join on
    # two arrays costs a few milliseconds.
    # WorkItem's table and key, spelled out: the statement is a constant (PostgreSQL only).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE workflows_workitem AS w SET next_alert_at = v.at "
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) WHERE w.task_id = v.id",
            [[i.pk for i in items], [i.next_alert_at for i in items]],
        )


def _escalations_record(
    firing, escalation_users, *, now, digest_only: set[int], stand_ins: dict
) -> int:
    """The rungs of one batch: escalations, their messages, RAG, audit events, orders."""
    from workflows.supervision.orders import orders_from_escalations

    rows = [
        Escalation(case=item.case, work_item=item, rung=rung.rung, due_at=item.due_at, fired_at=now)
        for item, rung in firing
    ]
    inserted = {id(row) for row in _escalations_insert(rows)}
    # One RAG per case, moved in ladder order as the rungs fire (several tasks may share a case).
    rag_of: dict[int, str] = {}
    notifications, events, escalations = [], [], []
    for row, (item, rung), (users, upward) in zip(rows, firing, escalation_users, strict=True):
        if id(row) not in inserted:
            continue
        escalations.append(row)
        case = item.case
        notifications += _notification_rows(
            item,
            users,
            kind=NotificationKind.ESCALATION,
            rung=rung.rung,
            now=now,
            digest_only=digest_only,
            stand_ins=stand_ins,
        )
        rag = rag_of.get(case.pk, case.rag)
        if rung.turns_case_red:
            rag = Rag.RED
        elif rag == Rag.GREEN:
            rag = Rag.AMBER
        rag_of[case.pk] = rag
        events.append(
            {
                "verb": "escalated",
                "case": case,
                "work_item": item,
                "data": {
                    "rung": rung.rung,
                    "due_at": item.due_at,
                    "notified": sorted({u.get_username() for u in users}),
                    **(
                        {"parent_notified": sorted(u.get_username() for u in upward)}
                        if upward
                        else {}
                    ),
                    "rag": rag,
                },
            }
        )
    Notification.objects.bulk_create(
        rows_for_channels(notifications), ignore_conflicts=True, batch_size=1000
    )
    changed = defaultdict(list)
    for row in escalations:
        case = row.work_item.case
        if rag_of[case.pk] != case.rag:
            changed[rag_of[case.pk]].append(case.pk)
    for rag, case_ids in changed.items():
        Case.objects.filter(pk__in=case_ids).update(rag=rag)
    for row in escalations:
        row.work_item.case.rag = rag_of[row.work_item.case.pk]
    audit_record_many(events)
    orders_from_escalations(escalations=escalations, now=now)
    return len(escalations)


# The sweep locks and handles this many tasks per transaction: about 1.5 s of work at
# national scale, small enough that a sweep stops close to its budget.
SWEEP_BATCH = 250


def _alerts_due(now: dt.datetime):
    """Open, unpaused tasks whose next alert time has come (partial index workitem_alert_due)."""
    return WorkItem.objects.filter(
        status=WorkItemStatus.OPEN, paused_at__isnull=True, next_alert_at__lte=now
    )


# What the sweep reads of a task and of the people around it: a batch of 1000 tasks shares a
# few hundred cases, departments and roles, so each is loaded once rather than joined per row.
_ITEM_FIELDS: tuple[str, ...] = (
    "case",
    "step",
    "department",
    "leader_role",
    "for_head",
    "assignee",
    "due_at",
)
_ITEM_FIELDS += ("next_alert_at",)
_CASE_FIELDS = (
    "measure",
    "organisation",
    "parent_case",
    "lead_department",
    "supervising_leader",
    "rag",
)
_USER_FIELDS = ("username", "is_active")


def _due_after(now: dt.datetime, after: tuple | None):
    items = _alerts_due(now)
    if after is not None:
        at, pk = after
        items = items.filter(Q(next_alert_at__gt=at) | Q(next_alert_at=at, pk__gt=pk))
    return items


def _still_due(now: dt.datetime, after: tuple | None) -> bool:
    """Whether tasks are still due past `after` (the budget stopped the sweep before them)."""
    return _due_after(now, after).exists()


def _locked_batch(now: dt.datetime, after: tuple | None) -> list[WorkItem]:
    items = _due_after(now, after)
    # SKIP LOCKED: tasks another sweep holds are its to do.
    batch = list(
        items.select_for_update(skip_locked=True)
        .only(*_ITEM_FIELDS)
        .order_by("next_alert_at", "pk")[:SWEEP_BATCH]
    )
    _attach_relations(batch)
    return batch


def _attach_relations(items: list[WorkItem]) -> None:
    """Load each case, department, leader role, assignee and step of the batch once (five
    queries) and attach them, so recipients and orders read them without a query per task."""
    if not items:
        return
    users = get_user_model().objects.only(*_USER_FIELDS)
    cases = Case.objects.only(*_CASE_FIELDS).in_bulk({i.case_id for i in items})
    department_ids = {i.department_id for i in items} | {
        c.lead_department_id for c in cases.values()
    }
    head = [f"head__{name}" for name in _USER_FIELDS]
    departments = (
        Department.objects.select_related("head")
        .only("head", *head)
        .in_bulk(department_ids - {None})
    )
    role_ids = {i.leader_role_id for i in items} | {c.supervising_leader_id for c in cases.values()}
    holder = [f"holder__{name}" for name in _USER_FIELDS]
    leader_roles = (
        LeaderRole.objects.select_related("holder")
        .only("organisation", "key", "holder", *holder)
        .in_bulk(role_ids - {None})
    )
    assignees = users.in_bulk({i.assignee_id for i in items} - {None})
    steps = StepTemplate.objects.in_bulk({i.step_id for i in items})
    for case in cases.values():
        case.lead_department = departments[case.lead_department_id]
        case.supervising_leader = leader_roles[case.supervising_leader_id]
    for item in items:
        item.case, item.step = cases[item.case_id], steps[item.step_id]
        if item.department_id is not None:
            item.department = departments[item.department_id]
        if item.leader_role_id is not None:
            item.leader_role = leader_roles[item.leader_role_id]
        if item.assignee_id in assignees:
            item.assignee = assignees[item.assignee_id]


def alerts_sweep(
    *,
    now: dt.datetime,
    result: SweepResult,
    budget: float | None = None,
    faults: SweepFaults | None = None,
) -> None:
    """Record every reminder and rung due by `now`, batch by batch, each in one transaction,
    oldest first; with a `budget` (seconds), stop before a batch that would likely overrun it
    and leave the rest (still due, so first in line) to the next sweep. A task that fails is
    recorded in `faults` and skipped; the rest of its batch is recorded."""
    faults = faults if faults is not None else result.faults
    calendar, book = WorkingCalendar.load(), PolicyBook.load()
    after = None
    started = time.perf_counter()
    last_batch = 0.0
    while True:
        # At least one batch per sweep, so that the backlog always moves.
        if (
            budget is not None
            and last_batch
            and time.perf_counter() - started + last_batch > budget
        ):
            result.backlog = _still_due(now, after)
            return
        batch_started = time.perf_counter()
        with transaction.atomic():
            items = _locked_batch(now, after)
            if not items:
                return
            after = (items[-1].next_alert_at, items[-1].pk)

            def run(rows, items=items):
                if rows is not items:  # a retry after a failure: reload what it changed
                    _attach_relations(rows)
                return _sweep_batch(rows, calendar=calendar, book=book, now=now)

            outcomes = faults.rows(
                "alerts", items, run, case_of=lambda i: i.case_id, item_of=lambda i: i.pk
            )
        last_batch = time.perf_counter() - batch_started
        result.tasks_evaluated += len(items)
        result.reminders += sum(outcome.reminders for outcome in outcomes)
        result.escalations += sum(outcome.escalations for outcome in outcomes)
