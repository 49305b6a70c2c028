"""A year of history for the benchmark data set (`generate_scale --history`, issue 20): the
feedback cycles of each implementing case, the audit trail (well over a million events,
chained with the real hash), notifications and the scored appraisal months.

As workflows/demo/scale.py, this writes rows in bulk, bypassing the services on purpose: the
rows are those the services would have written over the year (a decision event for every task
finished, a `task_created` for every task opened, the cycles' openings, reports and misses,
escalations, and the day-to-day reading and urging of a national programme), so pages, the
audit desk and the appraisal see a realistic trail. The appraisal months are then scored by
the real scoring (workflows/appraisal/scoring.py) from that trail.
"""

import datetime as dt
import random
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from workflows.appraisal.scoring import appraisal_compute, month_start
from workflows.common.calendar import SHANGHAI, WorkingCalendar, local_date
from workflows.demo.scale_audit import HistoryEvent, audit_append_bulk
from workflows.models import (
    Case,
    CycleStatus,
    FeedbackCycle,
    Notification,
    NotificationKind,
    NotificationStatus,
    ScoreEntry,
    StepKind,
    WorkItem,
    WorkItemStatus,
)
from workflows.supervision.cycles import DEFAULT_CYCLE_POLICY, cycle_due_at, period_bounds

# Share of the past cycles whose report never came (closed as missed and carried forward).
MISSED_SHARE = 0.15
# The day-to-day events (reading, downloading, urging, logging in) that fill the trail up to
# the requested size, with their relative weights.
DAILY_VERBS = (
    ("logged_in", 30),
    ("evidence_downloaded", 12),
    ("report_downloaded", 8),
    ("progress_reported", 10),
    ("urged", 3),
    ("task_claimed", 8),
    ("logged_out", 10),
)


@dataclass
class HistoryResult:
    cycles: int = 0
    events: int = 0
    notifications: int = 0
    score_entries: int = 0
    months_scored: int = 0
    seconds: dict = field(default_factory=dict)


def _months_back(now: dt.datetime, months: int) -> list[dt.date]:
    """The first days of the `months` months before the current one, oldest first."""
    first = month_start(local_date(now))
    periods = []
    for _ in range(months):
        first = month_start(first - dt.timedelta(days=1))
        periods.append(first)
    return periods[::-1]


def _window(period: dt.date) -> tuple[dt.datetime, dt.datetime]:
    end = month_start(period + dt.timedelta(days=32))
    return (
        dt.datetime.combine(period, dt.time.min, tzinfo=SHANGHAI).astimezone(dt.UTC),
        dt.datetime.combine(end, dt.time.min, tzinfo=SHANGHAI).astimezone(dt.UTC),
    )


@contextmanager
def _historic_created_at(model):
    """Let bulk_create keep the created_at given (it is auto_now_add) for backdated rows."""
    created = model._meta.get_field("created_at")
    created.auto_now_add = False
    try:
        yield
    finally:
        created.auto_now_add = True


def generate_history(
    *, months: int = 12, events: int = 1_100_000, seed: int = 2018, now=None, stdout=None
) -> HistoryResult:
    """Add `months` months of history (at least `events` audit events in all) to the cases
    already generated; returns what was written, with the seconds each part took."""
    rng = random.Random(seed)  # nosec B311: a reproducible fixture, no secret
    now = now or timezone.now()
    result = HistoryResult()
    periods = _months_back(now, months)

    def lap(name: str, started: float) -> None:
        result.seconds[name] = round(time.perf_counter() - started, 1)
        if stdout is not None:
            stdout.write(f"  history: {name} in {result.seconds[name]} s")

    started = time.perf_counter()
    cycles = _cycles(rng, periods, now, result)
    lap(f"{result.cycles} feedback cycles", started)
    started = time.perf_counter()
    _events(rng, periods, now, cycles, events, result, stdout)
    lap(f"{result.events} audit events", started)
    started = time.perf_counter()
    _notifications(rng, periods, now, cycles, result)
    lap(f"{result.notifications} notifications", started)
    started = time.perf_counter()
    for period in periods:
        result.score_entries += len(appraisal_compute(period=period, now=now))
        result.months_scored += 1
    lap(f"{result.score_entries} score entries over {result.months_scored} months", started)
    return result


# --------------------------------------------------------------------------- feedback cycles


@dataclass(slots=True)
class _Cycle:
    pk: int
    case_id: int
    work_item_id: int
    period_start: dt.date
    due_at: dt.datetime
    status: str
    closed: dt.datetime | None
    recipient: int | None


def _cycles(rng, periods, now, result) -> list[_Cycle]:
    """Monthly cycles for every case at its implementation step, one per past month since the
    step opened: most reported on time, some missed and carried to the next month."""
    calendar = WorkingCalendar.load()
    policy = DEFAULT_CYCLE_POLICY
    items = list(
        WorkItem.objects.filter(status=WorkItemStatus.OPEN, kind=StepKind.IMPLEMENT)
        .exclude(case__cycles__isnull=False)
        .values_list("pk", "case_id", "task__created", "department__head_id")
        .order_by("case_id")
    )
    cycles: list[_Cycle] = []
    previous_missed: dict[int, int] = {}
    for period in periods:
        start, end = period_bounds(policy.cadence, period)
        due_at = cycle_due_at(policy, end, calendar)
        rows, metas = [], []
        for item_id, case_id, opened, head_id in items:
            if opened is not None and opened > _window(period)[1]:
                continue  # the step opened after this month
            missed = rng.random() < MISSED_SHARE
            closed = due_at if missed else due_at - dt.timedelta(hours=rng.randint(2, 200))
            status = CycleStatus.MISSED if missed else CycleStatus.SUBMITTED
            if due_at > now:  # the last month's cycle may still be open
                status, closed = CycleStatus.OPEN, None
            rows.append(
                FeedbackCycle(
                    case_id=case_id,
                    work_item_id=item_id,
                    cadence=policy.cadence,
                    period_start=start,
                    period_end=end,
                    due_at=due_at,
                    status=status,
                    carried_from_id=previous_missed.get(case_id),
                    submitted_at=closed if status == CycleStatus.SUBMITTED else None,
                    missed_at=closed if status == CycleStatus.MISSED else None,
                )
            )
            metas.append((status, closed, head_id))
        FeedbackCycle.objects.bulk_create(rows, batch_size=5000)
        previous_missed = {}
        for row, (status, closed, head_id) in zip(rows, metas, strict=True):
            if status == CycleStatus.MISSED:
                previous_missed[row.case_id] = row.pk
            cycles.append(
                _Cycle(
                    row.pk,
                    row.case_id,
                    row.work_item_id,
                    start,
                    due_at,
                    status,
                    closed,
                    head_id,
                )
            )
    result.cycles = len(cycles)
    return cycles


# --------------------------------------------------------------------------- the audit trail


def _people():
    """(user id, username) of every person, and those of each federation."""
    User = get_user_model()
    everyone = list(User.objects.order_by("pk").values_list("pk", "username"))
    by_org: dict[int, list] = defaultdict(list)
    for pk, name, org in User.objects.filter(profile__isnull=False).values_list(
        "pk", "username", "profile__organisation_id"
    ):
        by_org[org].append((pk, name))
    return everyone, by_org


def _events(rng, periods, now, cycles, target, result, stdout) -> None:
    """Month by month, oldest first: that month's events sorted by time, chained, written."""
    everyone, by_org = _people()
    names = dict(everyone)
    cases = list(Case.objects.values_list("pk", "organisation_id"))
    verbs = [v for v, _w in DAILY_VERBS]
    weights = [w for _v, w in DAILY_VERBS]
    first = _window(periods[0])[0]
    cycles_by_month: dict[dt.date, list[_Cycle]] = defaultdict(list)
    for cycle in cycles:
        cycles_by_month[cycle.period_start].append(cycle)
    previous, written = None, 0
    for period in periods + [month_start(local_date(now))]:
        start, end = _window(period)
        end = min(end, now)
        month: list[HistoryEvent] = []
        # Each task opened and each decision taken in the month, as the services record them.
        opened = WorkItem.objects.filter(task__created__gte=start, task__created__lt=end)
        for item_id, case_id, created, step in opened.values_list(
            "pk", "case_id", "task__created", "step_id"
        ).iterator(chunk_size=10_000):
            month.append(
                HistoryEvent(
                    created,
                    "task_created",
                    case_id=case_id,
                    work_item_id=item_id,
                    data={"step": step},
                )
            )
        decided = WorkItem.objects.filter(
            finished_at__gte=start, finished_at__lt=end, completed_by__isnull=False
        ).exclude(outcome="")
        for item_id, case_id, finished, outcome, actor in decided.values_list(
            "pk", "case_id", "finished_at", "outcome", "completed_by_id"
        ).iterator(chunk_size=10_000):
            month.append(
                HistoryEvent(finished, outcome, actor, names.get(actor, ""), case_id, item_id)
            )
        for cycle in cycles_by_month.get(period, []):
            month.append(_cycle_event(cycle, "feedback_cycle_opened", start))
        # A cycle is reported or missed in its own month or early in the next.
        for cycle in cycles_by_month.get(period, []) + cycles_by_month.get(previous, []):
            if cycle.closed is None or not start <= cycle.closed < end:
                continue
            if cycle.status == CycleStatus.SUBMITTED:
                event = _cycle_event(cycle, "feedback_submitted", cycle.closed)
                event.actor_id, event.actor_name = cycle.recipient, names.get(cycle.recipient, "")
                month.append(event)
            else:
                month.append(_cycle_event(cycle, "feedback_missed", cycle.closed))
        # The everyday reading, downloading and urging, to the trail's requested size: rounded
        # on the running total, so the months add up to `target` exactly.
        daily = max(0, round(target * (end - first) / (now - first)) - written - len(month))
        span = (end - start).total_seconds()
        for verb in rng.choices(verbs, weights, k=daily):
            moment = start + dt.timedelta(seconds=rng.random() * span)
            if verb in ("logged_in", "logged_out"):
                actor, name = everyone[rng.randrange(len(everyone))]
                month.append(HistoryEvent(moment, verb, actor, name, data={"ip": "10.0.0.1"}))
                continue
            case_id, org = cases[rng.randrange(len(cases))]
            people = by_org.get(org) or everyone
            actor, name = people[rng.randrange(len(people))]
            month.append(HistoryEvent(moment, verb, actor, name, case_id))
        month = [e for e in month if e.created_at is not None and e.created_at < end]
        month.sort(key=lambda e: e.created_at)
        for offset in range(0, len(month), 50_000):
            result.events += audit_append_bulk(month[offset : offset + 50_000])
        written += len(month)
        if stdout is not None:
            stdout.write(f"  history: {period:%Y-%m} {len(month)} events")
        previous = period


def _cycle_event(cycle: _Cycle, verb: str, moment) -> HistoryEvent:
    return HistoryEvent(
        moment,
        verb,
        case_id=cycle.case_id,
        work_item_id=cycle.work_item_id,
        data={"cycle": cycle.pk, "period_start": cycle.period_start.isoformat()},
    )


# --------------------------------------------------------------------------- notifications


def _notifications(rng, periods, now, cycles, result) -> None:
    """The messages of the year: each cycle's reminder, a hand-off for every task finished,
    an escalation for every task that fell overdue."""
    start = _window(periods[0])[0]
    rows = []
    for cycle in cycles:
        if cycle.recipient is None:
            continue
        rows.append(
            Notification(
                dedupe_key=f"feedback:{cycle.pk}:1",
                recipient_id=cycle.recipient,
                kind=NotificationKind.FEEDBACK,
                case_id=cycle.case_id,
                work_item_id=cycle.work_item_id,
                rung=1,
                due_at=cycle.due_at,
                status=NotificationStatus.SENT,
                attempts=1,
                created_at=cycle.due_at - dt.timedelta(days=3),
                sent_at=cycle.due_at - dt.timedelta(days=3),
            )
        )
    finished = WorkItem.objects.filter(finished_at__gte=start, completed_by__isnull=False)
    for item_id, case_id, moment, who in finished.values_list(
        "pk", "case_id", "finished_at", "completed_by_id"
    ).iterator(chunk_size=10_000):
        rows.append(
            Notification(
                dedupe_key=f"handoff:{item_id}:history",
                recipient_id=who,
                kind=NotificationKind.HANDOFF,
                case_id=case_id,
                work_item_id=item_id,
                status=NotificationStatus.SENT,
                attempts=1,
                created_at=moment,
                sent_at=moment,
            )
        )
    overdue = WorkItem.objects.filter(
        finished_at__gt=F("due_at"), finished_at__gte=start, department__isnull=False
    ).values_list("pk", "case_id", "due_at", "department__head_id")
    for item_id, case_id, due, head in overdue.iterator(chunk_size=10_000):
        if head is None:
            continue
        rows.append(
            Notification(
                dedupe_key=f"escalation:{item_id}:1:history",
                recipient_id=head,
                kind=NotificationKind.ESCALATION,
                case_id=case_id,
                work_item_id=item_id,
                rung=1,
                due_at=due,
                status=NotificationStatus.SENT,
                attempts=1,
                created_at=due + dt.timedelta(hours=rng.randint(1, 48)),
                sent_at=due + dt.timedelta(hours=rng.randint(1, 48)),
            )
        )
    with _historic_created_at(Notification):
        Notification.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    result.notifications = len(rows)


def history_counts() -> dict[str, int]:
    """What the data set holds of each kind of history (bench.py prints it)."""
    from workflows.models import AuditEvent

    return {
        "audit events": AuditEvent.objects.count(),
        "feedback cycles": FeedbackCycle.objects.count(),
        "notifications": Notification.objects.count(),
        "score entries": ScoreEntry.objects.count(),
    }
