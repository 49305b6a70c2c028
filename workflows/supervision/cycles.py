"""Progress feedback cycles (督查督办): each cycle's policy and period, opening and closing
them, reminding the lead department, partner inputs and the consolidated report.
"""

import datetime as dt
import itertools
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Prefetch, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from workflows.audit.trail import audit_record, audit_record_many
from workflows.common import reach as access
from workflows.common.calendar import WorkingCalendar, due_at_for, local_date
from workflows.common.db import insert_skipping_conflicts
from workflows.models import (
    Cadence,
    CycleStatus,
    FeedbackCycle,
    FeedbackPolicy,
    Notification,
    NotificationKind,
    PartnerInput,
    ProgressUpdate,
    StepKind,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications.channels import rows_for_channels
from workflows.notifications.log import notification_rows, stand_ins_load
from workflows.supervision.base import (
    SupervisionError,
    case_open_item,
    check_lead_member,
    check_not_auditor,
    chunks_of,
    required_text,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CyclePolicy:
    cadence: str
    due_working_day: int


DEFAULT_CYCLE_POLICY = CyclePolicy(Cadence.MONTHLY, 5)


def cycle_policies() -> tuple[CyclePolicy, dict[int, CyclePolicy]]:
    """(default, by measure id) from the FeedbackPolicy rows."""
    default, by_measure = DEFAULT_CYCLE_POLICY, {}
    for row in FeedbackPolicy.objects.all():
        policy = CyclePolicy(row.cadence, max(1, row.due_working_day))
        if row.measure_id is None:
            default = policy
        else:
            by_measure[row.measure_id] = policy
    return default, by_measure


def period_bounds(cadence: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The reporting period containing `day`: ISO week, calendar month or quarter."""
    if cadence == Cadence.WEEKLY:
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    if cadence == Cadence.QUARTERLY:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = day.replace(month=first_month, day=1)
        months = 3
    else:
        start, months = day.replace(day=1), 1
    year, month = divmod(start.month - 1 + months, 12)
    return start, dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)


def cycle_due_at(policy: CyclePolicy, period_end: dt.date, calendar: WorkingCalendar):
    """Due at close of office on the n-th working day of the following period."""
    return due_at_for(calendar.add_working_days(period_end, policy.due_working_day))


def _policy_groups(default, by_measure):
    """Each distinct cycle policy with the measures it governs (None: every other measure)."""
    groups: dict[CyclePolicy, set | None] = {}
    for measure_id, policy in by_measure.items():
        if policy != default:
            groups.setdefault(policy, set()).add(measure_id)
    groups[default] = None
    return groups


# On the first of a month every implementing case needs its new cycle (60,000 at national
# scale, 7 s in one insert): each sweep opens at most this many, the next ones the rest.
CYCLES_OPENED_PER_SWEEP = 10_000


def feedback_cycles_open(*, now=None, calendar=None) -> int:
    """Make sure each case with an open implementation step has its current cycle.

    One query per distinct cycle policy finds the cases still without their current cycle
    (an anti-join on the cycle's unique (case, period_start)), one more the missed cycles they
    carry, then one insert: a quiet minute reads only what is missing.
    """
    now = now or timezone.now()
    calendar = calendar or WorkingCalendar.load()
    default, by_measure = cycle_policies()
    groups = _policy_groups(default, by_measure)
    overridden = {m for m, p in by_measure.items() if p != default}
    today = local_date(now)
    rows: list[FeedbackCycle] = []
    for policy, measures in groups.items():
        start, end = period_bounds(policy.cadence, today)
        items = WorkItem.objects.filter(status=WorkItemStatus.OPEN, kind=StepKind.IMPLEMENT)
        if measures is None:
            items = items.exclude(case__measure__in=overridden)
        else:
            items = items.filter(case__measure__in=measures)
        lacking = items.filter(
            ~Exists(FeedbackCycle.objects.filter(case=OuterRef("case"), period_start=start))
        ).order_by("case", "created_at", "pk")
        first_item: dict[int, int] = {}
        for item_id, case_id in lacking.values_list("pk", "case").iterator(chunk_size=5000):
            first_item.setdefault(case_id, item_id)
        room = CYCLES_OPENED_PER_SWEEP - len(rows)
        first_item = dict(itertools.islice(first_item.items(), max(room, 0)))
        if not first_item:
            continue
        missed: dict[int, int] = {}
        carried = FeedbackCycle.objects.filter(
            case__in=first_item, status=CycleStatus.MISSED, carried_to__isnull=True
        ).order_by("case", "-period_start")
        for cycle_id, case_id in carried.values_list("pk", "case"):
            missed.setdefault(case_id, cycle_id)
        due_at = cycle_due_at(policy, end, calendar)
        rows += [
            FeedbackCycle(
                case_id=case_id,
                work_item_id=item_id,
                cadence=policy.cadence,
                period_start=start,
                period_end=end,
                due_at=due_at,
                carried_from_id=missed.get(case_id),
            )
            for case_id, item_id in first_item.items()
        ]
    # The cycles and their audit events (one per cycle) commit together.
    with transaction.atomic():
        opened = _cycles_insert(rows)
        audit_record_many(
            [
                {
                    "verb": "feedback_cycle_opened",
                    "case_id": cycle.case_id,
                    "work_item_id": cycle.work_item_id,
                    "data": {
                        "cycle": cycle.pk,
                        "period_start": cycle.period_start,
                        "period_end": cycle.period_end,
                        "due_at": cycle.due_at,
                        "carried_from": cycle.carried_from_id,
                    },
                }
                for cycle in opened
            ]
        )
    return len(opened)


def _cycles_insert(rows: list[FeedbackCycle]) -> list[FeedbackCycle]:
    """Insert the new cycles; returns those inserted (with ids). A concurrent sweep may have
    opened some (unique per case and period): then each is tried on its own and the ones it
    lost to are skipped."""
    return insert_skipping_conflicts(FeedbackCycle, rows, batch_size=2000)


# Cycles closed as missed per transaction.
CYCLE_CLOSE_BATCH = 1000


def feedback_cycles_close(*, now=None, faults=None) -> int:
    """Record each open cycle past its due date as missed and carry it to the next cycle.

    Batches of cycles are locked (SKIP LOCKED: a concurrent sweep takes the others), closed in
    one UPDATE, linked to their successors in one more and audited in one append. A cycle that
    fails is recorded in `faults` (workflows.deadlines.sweep_faults) and left for the next sweep.
    """
    from workflows.deadlines.sweep_faults import SweepFaults

    now = now or timezone.now()
    faults = faults if faults is not None else SweepFaults()
    missed = 0
    failed: set[int] = set()
    while True:
        with transaction.atomic():
            cycles = list(
                FeedbackCycle.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=CycleStatus.OPEN, due_at__lt=now)
                .exclude(pk__in=failed)
                .select_related("case", "work_item")
                .order_by("case", "period_start")[:CYCLE_CLOSE_BATCH]
            )
            if not cycles:
                return missed
            closed = faults.rows(
                "cycles_close",
                cycles,
                lambda rows: _cycles_close(rows, now=now),
                case_of=lambda c: c.case_id,
                item_of=lambda c: c.work_item_id,
            )
            missed += sum(closed)
            if sum(closed) < len(cycles):
                done = set(
                    FeedbackCycle.objects.filter(
                        pk__in=[c.pk for c in cycles], status=CycleStatus.MISSED
                    ).values_list("pk", flat=True)
                )
                failed |= {c.pk for c in cycles} - done


def _cycles_close(cycles: list[FeedbackCycle], *, now) -> int:
    from workflows.audit.trail import audit_record_many

    FeedbackCycle.objects.filter(pk__in=[c.pk for c in cycles]).update(
        status=CycleStatus.MISSED, missed_at=now
    )
    later_by_case: dict[int, list[FeedbackCycle]] = {}
    for later in FeedbackCycle.objects.filter(
        case__in={c.case_id for c in cycles}, carried_from__isnull=True
    ).order_by("period_start"):
        later_by_case.setdefault(later.case_id, []).append(later)
    linked = []
    for cycle in cycles:  # by case and period: a chain of misses links in order
        later = next(
            (
                c
                for c in later_by_case.get(cycle.case_id, [])
                if c.period_start > cycle.period_start and c.carried_from_id is None
            ),
            None,
        )
        if later is not None:
            later.carried_from_id = cycle.pk
            linked.append(later)
    FeedbackCycle.objects.bulk_update(linked, ["carried_from"], batch_size=1000)
    audit_record_many(
        [
            {
                "verb": "feedback_missed",
                "case": cycle.case,
                "work_item": cycle.work_item,
                "data": {
                    "cycle": cycle.pk,
                    "period": cycle.period_start,
                    "due_at": cycle.due_at,
                },
            }
            for cycle in cycles
        ]
    )
    return len(cycles)


def feedback_reminders(*, now=None, calendar=None) -> int:
    """Reminders for open cycles, at the escalation policy's reminder stages (3, 1, 0 days).

    Cycles share a handful of due dates, so the stage is worked out per (due date, policy) and
    only the cycles in a stage that has no reminder yet are read.
    """
    from workflows.deadlines.policy import PolicyBook, reminder_stage

    now = now or timezone.now()
    calendar = calendar or WorkingCalendar.load()
    book = PolicyBook.load()
    horizon = due_at_for(calendar.add_working_days(local_date(now), 30))
    upcoming = FeedbackCycle.objects.filter(
        status=CycleStatus.OPEN, due_at__gt=now, due_at__lte=horizon
    )
    due_dates = list(upcoming.values_list("due_at", flat=True).distinct().order_by("due_at"))
    policies = [(None, book.default), *book.by_measure.items()]
    recorded = 0
    for due_at in due_dates:
        for measure_id, policy in policies:
            stage = reminder_stage(policy, calendar, due_at, now)
            if stage is None:
                continue
            cycles = upcoming.filter(due_at=due_at)
            if measure_id is None:
                cycles = cycles.exclude(case__measure__in=list(book.by_measure))
            else:
                cycles = cycles.filter(case__measure=measure_id)
            recorded += _feedback_stage_notify(cycles, stage=stage, now=now)
    return recorded


def _feedback_stage_notify(cycles, *, stage: int, now) -> int:
    """The stage's reminder for each of these cycles that has none yet; returns how many rows."""
    already = Notification.objects.filter(
        work_item=OuterRef("work_item"),
        kind=NotificationKind.FEEDBACK,
        dedupe_key__startswith=Concat(
            Value("feedback:"), Cast(OuterRef("pk"), CharField()), Value(f":{stage}:")
        ),
    )
    staff = Prefetch(
        "work_item__department__staff",
        queryset=get_user_model().objects.filter(is_active=True).select_related("profile"),
    )
    pending = (
        cycles.filter(~Exists(already))
        .select_related(
            "case",
            "work_item__assignee__profile",
            "work_item__department__head__profile",
            "work_item__leader_role__holder__profile",
        )
        .prefetch_related(staff)
        .order_by("pk")
    )
    recorded = 0
    for batch in chunks_of(pending.iterator(chunk_size=1000), 1000):
        rows = []
        told = {cycle.pk: access.task_candidate_users(cycle.work_item) for cycle in batch}
        stand_ins = stand_ins_load([u for users in told.values() for u in users])
        for cycle in batch:
            rows += notification_rows(
                told[cycle.pk],
                stand_ins=stand_ins,
                kind=NotificationKind.FEEDBACK,
                key=f"feedback:{cycle.pk}:{stage}",
                case=cycle.case,
                item=cycle.work_item,
                payload={
                    "cycle": cycle.pk,
                    "period_start": cycle.period_start.isoformat(),
                    "period_end": cycle.period_end.isoformat(),
                    "due": cycle.due_at.isoformat(),
                    "stage": stage,
                },
                now=now,
            )
        Notification.objects.bulk_create(
            rows_for_channels(rows), ignore_conflicts=True, batch_size=1000
        )
        recorded += len(rows)
    return recorded


def feedback_prefill(cycle: FeedbackCycle) -> dict:
    """The report form's starting values: the case's last progress report."""
    last = ProgressUpdate.objects.filter(case=cycle.case_id).order_by("-created_at", "-pk").first()
    if last is None:
        return {"percent": 0, "note": ""}
    return {"percent": last.percent, "note": last.note}


def partner_input_add(*, cycle: FeedbackCycle, user, text: str) -> PartnerInput:
    """A partner department's staff or head gives (or revises) its input for the cycle."""
    check_not_auditor(user)
    text = required_text(text, "The input")
    mine = access.cycle_partner_department(user, cycle)
    if mine is None:
        raise PermissionDenied("Only the measure's partner departments give input here.")
    if cycle.status != CycleStatus.OPEN:
        raise SupervisionError("This cycle is closed; give your input on the current one.")
    with transaction.atomic():
        row, created = PartnerInput.objects.update_or_create(
            cycle=cycle, department=mine, defaults={"author": user, "text": text}
        )
        audit_record(
            verb="partner_input_given",
            actor=user,
            case=cycle.case,
            data={"cycle": cycle.pk, "department": mine.key, "revised": not created},
        )
    return row


def feedback_submit(
    *, cycle: FeedbackCycle, user, percent: int, note: str, inputs=(), files=()
) -> FeedbackCycle:
    """The lead department's consolidated report for the cycle (services.progress_report),
    recording which partner inputs it includes."""
    from workflows.cases import services

    check_lead_member(user, cycle.case)
    inputs = list(inputs)
    if any(i.cycle_id != cycle.pk for i in inputs):
        raise SupervisionError("Only this cycle's partner inputs can be included.")
    with transaction.atomic():
        cycle = FeedbackCycle.objects.select_for_update().get(pk=cycle.pk)
        if cycle.status != CycleStatus.OPEN:
            raise SupervisionError(
                f"This cycle is {cycle.get_status_display().lower()}; report on the current one."
            )
        item = cycle.work_item
        if item.status != WorkItemStatus.OPEN:
            item = case_open_item(cycle.case, StepKind.IMPLEMENT)
            if item is None:
                raise SupervisionError("The case has no open implementation step.")
        update = services.progress_report(
            item=item, user=user, percent=percent, note=note, files=files
        )
        cycle.report, cycle.status, cycle.submitted_at = (
            update,
            CycleStatus.SUBMITTED,
            timezone.now(),
        )
        cycle.save(update_fields=["report", "status", "submitted_at"])
        cycle.included_inputs.set(inputs)
        audit_record(
            verb="feedback_submitted",
            actor=user,
            case=cycle.case,
            work_item=item,
            data={
                "cycle": cycle.pk,
                "report": update.pk,
                "inputs": sorted(i.department.key for i in inputs),
                "carried_from": cycle.carried_from_id,
            },
        )
    return cycle
