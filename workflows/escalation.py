"""Reminder and escalation policy (data), who each rung reaches, and the sweep that applies it.

The sweep is idempotent: every reminder and rung it records has a unique key (Notification
.dedupe_key, Escalation(work_item, rung, due_at)), so overlapping sweeps, a worker dying half
way, or a catch-up after downtime never record the same message twice.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Prefetch, Q, prefetch_related_objects
from django.utils import timezone

from workflows import access, roles
from workflows.audit import audit_record_many
from workflows.calendar import WorkingCalendar, at_local, due_at_for, local_date
from workflows.channels import rows_for_channels
from workflows.models import (
    Case,
    Department,
    Escalation,
    EscalationPolicy,
    LeaderRole,
    Notification,
    NotificationKind,
    NotificationStatus,
    Profile,
    Rag,
    Recipient,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)
from workflows.sweep_faults import SweepFaults, sweep_faults_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rung:
    rung: int
    working_days_after_due: int
    notify: tuple[str, ...]
    turns_case_red: bool = False


@dataclass(frozen=True)
class Policy:
    reminder_days_before: tuple[int, ...]
    reminder_hour: int
    rungs: tuple[Rung, ...]


# Used when the database holds no default policy row (the migration creates one from this).
DEFAULT_POLICY = Policy(
    reminder_days_before=(3, 1, 0),
    reminder_hour=9,
    rungs=(
        Rung(1, 0, (Recipient.ASSIGNEE, Recipient.DEPARTMENT_HEAD)),
        Rung(2, 2, (Recipient.SUPERVISING_LEADER,)),
        Rung(3, 5, (Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN), turns_case_red=True),
    ),
)


def _policy_from_row(row: EscalationPolicy) -> Policy:
    return Policy(
        reminder_days_before=tuple(sorted(set(row.reminder_days_before or ()), reverse=True)),
        reminder_hour=row.reminder_hour,
        rungs=tuple(
            Rung(r.rung, r.working_days_after_due, tuple(r.notify), r.turns_case_red)
            for r in sorted(row.rungs.all(), key=lambda r: r.rung)
        ),
    )


@dataclass
class PolicyBook:
    """All policies, loaded once per sweep: the default plus per-measure overrides."""

    default: Policy
    by_measure: dict[int, Policy] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "PolicyBook":
        default, by_measure = DEFAULT_POLICY, {}
        for row in EscalationPolicy.objects.prefetch_related("rungs"):
            if row.measure_id is None:
                default = _policy_from_row(row)
            else:
                by_measure[row.measure_id] = _policy_from_row(row)
        return cls(default, by_measure)

    def for_measure(self, measure_id: int) -> Policy:
        return self.by_measure.get(measure_id, self.default)

    def all(self) -> list[Policy]:
        return [self.default, *self.by_measure.values()]

    def longest_notice(self) -> int:
        """The most working days before a due date at which any policy reminds."""
        return max(max(p.reminder_days_before, default=0) for p in self.all())


# --------------------------------------------------------------------------- next_alert_at

# Until the sweep has looked at a task, next_alert_at is a floor that must never be later than
# its first reminder: due_at minus 3N + 15 calendar days, N being the longest reminder notice in
# working days. Counting N working days back from a due day takes at most 3 calendar days per
# working day in an ordinary week (Monday back to Friday), and a statutory closure (Spring
# Festival, National Day: at most ~9 days between two working days) adds at most ~7 more; the
# 15 covers two such closures in the window plus a reminder hour earlier than the due hour, and
# for a longer notice 3 per day overstates the 7-per-5 of real weeks by more than any closures
# add. Rungs fire at or after due_at, so never before the floor.
ALERT_FLOOR_DAYS_PER_NOTICE_DAY = 3
ALERT_FLOOR_SLACK_DAYS = 15


def longest_reminder_notice() -> int:
    """The longest reminder notice in working days over every policy (one small query)."""
    rows = EscalationPolicy.objects.values_list("measure_id", "reminder_days_before")
    notices = {measure: max(days or [0]) for measure, days in rows}
    if None not in notices:
        notices[None] = max(DEFAULT_POLICY.reminder_days_before, default=0)
    return max(notices.values())


def alert_floor_delta(notice: int) -> dt.timedelta:
    return dt.timedelta(days=ALERT_FLOOR_DAYS_PER_NOTICE_DAY * notice + ALERT_FLOOR_SLACK_DAYS)


def alert_floor(due_at: dt.datetime | None, notice: int | None = None) -> dt.datetime | None:
    """A moment never later than the task's first reminder or rung (None without a due date)."""
    if due_at is None:
        return None
    return due_at - alert_floor_delta(longest_reminder_notice() if notice is None else notice)


def alerts_reset(
    *,
    measure_id: int | None = None,
    due_from: dt.datetime | None = None,
    due_to: dt.datetime | None = None,
) -> int:
    """After the policy or the calendar changed: put the affected open tasks back to their floor
    (one UPDATE), so the next sweeps re-evaluate them under the new rules. Returns how many."""
    items = WorkItem.objects.filter(status=WorkItemStatus.OPEN, due_at__isnull=False)
    if measure_id is not None:
        items = items.filter(case__measure=measure_id)
    if due_from is not None:
        items = items.filter(due_at__gte=due_from)
    if due_to is not None:
        items = items.filter(due_at__lte=due_to)
    floor = F("due_at") - alert_floor_delta(longest_reminder_notice())
    # Tasks already at (or before) their floor need no write: a repeated reset only reads.
    return items.exclude(next_alert_at__lte=floor).update(next_alert_at=floor)


def next_alert_time(policy: Policy, calendar: WorkingCalendar, due_at, now) -> dt.datetime | None:
    """The next moment after `now` at which a reminder stage or a rung falls due; None after the
    last rung. Everything due up to `now` is the current sweep's to record."""
    times = [rung_time(calendar, due_at, rung) for rung in policy.rungs]
    if now < due_at:
        for days_before in policy.reminder_days_before:
            send_at = reminder_time(policy, calendar, due_at, days_before)
            if send_at < due_at:
                times.append(send_at)
    return min((t for t in times if t > now), default=None)


# --------------------------------------------------------------------------- recipients


class Recipients:
    """Who each policy recipient key names, for a batch of tasks, in a fixed number of queries.

    `load` reads everything the batch's keys need at once: the queues' staff, the leader roles
    per (organisation, key), the coordinators per organisation, the parent cases'
    organisations and the users who take their messages in the digest.
    """

    def __init__(self, items: list[WorkItem]):
        self.items = items
        self.leader_holders: dict[tuple[int, str], object] = {}
        self.coordinators: dict[int, list] = defaultdict(list)
        self.parent_organisation: dict[int, int] = {}
        self.digest_only: set[int] = set()

    @classmethod
    def load(cls, items: list[WorkItem], keys: set[str], *, upward: bool) -> "Recipients":
        found = cls(items)
        queue_items = [
            i for i in items if i.assignee_id is None and i.leader_role_id is None and i.department
        ]
        if queue_items:
            # Only the staff list is read per task (access.task_candidate_users); one query.
            staff = Prefetch(
                "staff", queryset=get_user_model().objects.filter(is_active=True).order_by("pk")
            )
            prefetch_related_objects([i.department for i in queue_items], staff)
        organisations = {i.case.organisation_id for i in items}
        leader_keys = keys & {Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN}
        if leader_keys:
            roles_found = LeaderRole.objects.filter(
                organisation__in=organisations, key__in=leader_keys, holder__isnull=False
            ).select_related("holder")
            found.leader_holders = {(r.organisation_id, r.key): r.holder for r in roles_found}
        if upward:
            parents = {i.case.parent_case_id for i in items} - {None}
            found.parent_organisation = dict(
                Case.objects.filter(pk__in=parents).values_list("pk", "organisation")
            )
        coordinator_orgs = (organisations if Recipient.COORDINATORS in keys else set()) | set(
            found.parent_organisation.values()
        )
        if coordinator_orgs:
            users = get_user_model().objects.filter(
                groups__name=roles.COORDINATORS,
                is_active=True,
                profile__organisation__in=coordinator_orgs,
            )
            for user in users.select_related("profile").order_by("pk"):
                found.coordinators[user.profile.organisation_id].append(user)
        return found

    def named(self, item: WorkItem, key: str) -> list:
        """The active users a policy recipient key names for this task."""
        case = item.case
        if key == Recipient.ASSIGNEE:
            users = access.task_candidate_users(item)
        elif key == Recipient.DEPARTMENT_HEAD:
            department = item.department or case.lead_department
            users = [department.head] if department.head_id else []
        elif key == Recipient.SUPERVISING_LEADER:
            users = [case.supervising_leader.holder]
        elif key in (Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN):
            users = [self.leader_holders.get((case.organisation_id, key))]
        elif key == Recipient.COORDINATORS:
            users = self.coordinators[case.organisation_id]
        else:
            raise ValueError(f"unknown recipient {key!r}")
        return [u for u in users if u is not None and u.is_active]

    def parent_coordinators(self, item: WorkItem) -> list:
        """For a cascaded case, the coordinators of the parent case's organisation; else []."""
        parent = self.parent_organisation.get(item.case.parent_case_id)
        return list(self.coordinators[parent]) if parent is not None else []

    def load_digest_modes(self, users) -> None:
        """Which of these users read their messages in the daily digest only (one query)."""
        ids = {u.pk for u in users}
        if ids:
            self.digest_only = set(
                Profile.objects.filter(user__in=ids, notification_mode="digest").values_list(
                    "user_id", flat=True
                )
            )


# --------------------------------------------------------------------------- the sweep


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
    # What failed and was skipped (workflows.sweep_faults); the rest of the sweep went on.
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


def reminder_stage(policy: Policy, calendar: WorkingCalendar, due_at, now) -> int | None:
    """The reminder whose time has come (fewest days before due), or None.

    Only the latest passed stage counts: after downtime the user gets one reminder, not three.
    """
    if now >= due_at:
        return None
    stage = None
    for days_before in policy.reminder_days_before:  # largest first
        if reminder_time(policy, calendar, due_at, days_before) <= now:
            stage = days_before
    return stage


def reminder_time(policy: Policy, calendar: WorkingCalendar, due_at, days_before: int):
    """When the reminder `days_before` working days ahead of the due day is sent."""
    day = calendar.subtract_working_days(local_date(due_at), days_before)
    return at_local(day, dt.time(policy.reminder_hour))


def rung_time(calendar: WorkingCalendar, due_at, rung: Rung) -> dt.datetime:
    """When a rung fires: its working days after the due day, at the due time of day."""
    if rung.working_days_after_due == 0:
        return due_at
    day = calendar.add_working_days(local_date(due_at), rung.working_days_after_due)
    return due_at_for(day)


def notification_key(kind: str, item_id: int, rung: int, due_at, user_id: int) -> str:
    return f"{kind}:{item_id}:{rung}:{due_at.isoformat()}:{user_id}"


def _notification_rows(item, users, *, kind, rung, now, digest_only: set[int]):
    rows = []
    for user in {u.pk: u for u in users}.values():
        rows.append(
            Notification(
                dedupe_key=notification_key(kind, item.pk, rung, item.due_at, user.pk),
                recipient=user,
                kind=kind,
                case=item.case,
                work_item=item,
                rung=rung,
                due_at=item.due_at,
                status=(
                    NotificationStatus.FOLDED
                    if user.pk in digest_only
                    else NotificationStatus.PENDING
                ),
                next_attempt_at=now,
            )
        )
    return rows


def _escalations_insert(rows: list[Escalation]) -> list[Escalation]:
    """Insert the batch's escalations; returns those inserted (with ids).

    The batch's tasks are locked, so a conflict means a writer outside the sweep's locking got
    there first: then each row is tried on its own and the unique one it lost to is skipped.
    """
    try:
        with transaction.atomic():
            return Escalation.objects.bulk_create(rows)
    except IntegrityError:
        inserted = []
        for row in rows:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                continue
            inserted.append(row)
        return inserted


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

    keys = {Recipient.ASSIGNEE} if reminders else set()
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
    recipients.load_digest_modes(
        [u for users in reminder_users.values() for u in users]
        + [u for users, _upward in escalation_users for u in users]
    )

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
            firing, escalation_users, now=now, digest_only=recipients.digest_only
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


def _escalations_record(firing, escalation_users, *, now, digest_only: set[int]) -> int:
    """The rungs of one batch: escalations, their messages, RAG, audit events, orders."""
    from workflows.supervision import orders_from_escalations

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
_ITEM_FIELDS = ("case", "step", "department", "leader_role", "for_head", "assignee", "due_at")
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


_NO_BUDGET = object()


def sweep_run(
    *, now: dt.datetime | None = None, deliver: bool = True, budget=_NO_BUDGET
) -> SweepResult:
    """One sweep as if at `now`: fire viewflow timers, record due reminders and rungs, send.

    `budget`: seconds of reminder and rung work (settings.SWEEP_ALERT_BUDGET_SECONDS unless
    given; None for no limit); whatever is left is the next sweep's, first in line.

    Each part runs whatever happened to the parts before it, and a failing row costs only its
    own row (workflows.sweep_faults): what failed is logged, recorded and skipped, and mail
    is delivered in any case.
    """
    from viewflow.workflow.timers import fire_due_timers

    from workflows.health import sweep_record
    from workflows.notifications import notifications_deliver_due
    from workflows.services import report_list_recover
    from workflows.supervision import supervision_sweep

    now = now or timezone.now()
    if budget is _NO_BUDGET:
        budget = settings.SWEEP_ALERT_BUDGET_SECONDS
    result = SweepResult(now=now)
    faults = result.faults
    try:
        result.timers_fired = faults.part("timers", fire_due_timers, default=0)
        result.reports_resent = faults.part("reports", report_list_recover, default=0)
        started = time.perf_counter()
        faults.part(
            "alerts", lambda: alerts_sweep(now=now, result=result, budget=budget, faults=faults)
        )
        result.seconds["alerts"] = time.perf_counter() - started
        started = time.perf_counter()
        result.supervision = supervision_sweep(now=now, faults=faults)
        result.seconds["supervision"] = time.perf_counter() - started
    finally:
        # Mail never waits behind another part: it goes out whatever happened above.
        if deliver:
            started = time.perf_counter()
            delivery = faults.part("delivery", lambda: notifications_deliver_due(now=now))
            if delivery is not None:
                result.delivered, result.failed = delivery.sent, delivery.failed
            result.seconds["delivery"] = time.perf_counter() - started
        faults.part("faults", lambda: sweep_faults_store(faults, now=now))
        faults.part("health", lambda: sweep_record(timezone.now(), failed_parts=faults.parts))
    logger.log(logging.WARNING if faults.faults else logging.INFO, "%s", result)
    return result
