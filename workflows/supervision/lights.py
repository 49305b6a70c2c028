"""Two-axis traffic lights (红黄绿灯): deadline closeness, and progress against time elapsed
(序时进度). The thresholds are LightRule rows; every change of a case's light is recorded so a
lapse stays visible after the case recovers."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from workflows.common import change_stamp
from workflows.common.calendar import WorkingCalendar, local_date
from workflows.models import (
    Axis,
    Case,
    CaseLight,
    Light,
    LightChange,
    LightRule,
    StepKind,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)

# Used for any (axis, light) the table lacks; the migration creates these rows.
DEFAULT_THRESHOLDS: dict[tuple[str, str], int] = {
    (Axis.DEADLINE, Light.YELLOW): 3,  # due in 3 working days or less
    (Axis.DEADLINE, Light.RED): -1,  # overdue
    (Axis.PROGRESS, Light.YELLOW): 10,  # 10-30 points behind the expected percent
    (Axis.PROGRESS, Light.RED): 31,  # more than 30 points behind
}
_RANK: dict[str, int] = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}
# The sweep refreshes at most this many cases per run, least recently computed first.
SWEEP_BATCH = 500


@dataclass(frozen=True)
class LightRules:
    thresholds: dict

    @classmethod
    def load(cls) -> "LightRules":
        """The admin's rule rows over the defaults (one small query)."""
        thresholds = dict(DEFAULT_THRESHOLDS)
        for axis, light, threshold in LightRule.objects.values_list("axis", "light", "threshold"):
            thresholds[(axis, light)] = threshold
        return cls(thresholds)

    def deadline_light(self, working_days_left: int | None) -> str:
        if working_days_left is None:
            return Light.GREEN
        if working_days_left <= self.thresholds[(Axis.DEADLINE, Light.RED)]:
            return Light.RED
        if working_days_left <= self.thresholds[(Axis.DEADLINE, Light.YELLOW)]:
            return Light.YELLOW
        return Light.GREEN

    def progress_light(self, points_behind: int | None) -> str:
        if points_behind is None:
            return Light.GREEN
        if points_behind >= self.thresholds[(Axis.PROGRESS, Light.RED)]:
            return Light.RED
        if points_behind >= self.thresholds[(Axis.PROGRESS, Light.YELLOW)]:
            return Light.YELLOW
        return Light.GREEN


def working_days_left(item: WorkItem, calendar: WorkingCalendar, now: dt.datetime) -> int | None:
    """Working days until the task is due (0 on the due day); negative once overdue."""
    if item.due_at is None or item.paused_at is not None:
        return None
    today, due_day = local_date(now), local_date(item.due_at)
    if item.due_at < now:
        return -max(1, calendar.working_days_between(due_day, today))
    return calendar.working_days_between(today, due_day)


@dataclass(frozen=True)
class TaskLights:
    deadline: str
    progress: str | None


def task_lights(item: WorkItem, *, rules=None, calendar=None, now=None) -> TaskLights:
    """A task's lights: deadline closeness; progress only for implementation steps."""
    rules, calendar = rules or LightRules.load(), calendar or WorkingCalendar.load()
    now = now or timezone.now()
    if item.status != WorkItemStatus.OPEN:
        return TaskLights(Light.GREEN, None)
    deadline = rules.deadline_light(working_days_left(item, calendar, now))
    progress = None
    if item.kind == StepKind.IMPLEMENT and item.due_start and item.due_working_days:
        elapsed = calendar.working_days_between(item.due_start, local_date(now))
        expected = min(100, round(100 * elapsed / item.due_working_days))
        progress = rules.progress_light(expected - item.percent)
    return TaskLights(deadline, progress)


def _worst(*lights: str) -> str:
    return max(lights, key=_RANK.__getitem__)


def case_lights_refresh(*, case: Case, now=None, rules=None, calendar=None) -> CaseLight:
    """Recompute a case's two lights, store them and record every change (LightChange)."""
    return cases_lights_refresh(cases=[case], now=now, rules=rules, calendar=calendar)[0]


class _ElapsedDays:
    """Working days from a date up to today, memoised: many cases share a launch date."""

    def __init__(self, calendar: WorkingCalendar, today: dt.date):
        self.calendar, self.today = calendar, today
        self.known: dict[dt.date, int] = {}

    def since(self, day: dt.date) -> int:
        if day not in self.known:
            self.known[day] = self.calendar.working_days_between(day, self.today)
        return self.known[day]


def cases_lights_refresh(*, cases: list[Case], now=None, rules=None, calendar=None):
    """case_lights_refresh for many cases in a fixed number of queries; returns their lights."""
    now = now or timezone.now()
    rules, calendar = rules or LightRules.load(), calendar or WorkingCalendar.load()
    if not cases:
        return []
    case_ids = [c.pk for c in cases]
    open_items: dict[int, list[WorkItem]] = {pk: [] for pk in case_ids}
    for item in WorkItem.objects.filter(case__in=case_ids, status=WorkItemStatus.OPEN):
        open_items[item.case_id].append(item)
    plan_days = dict(
        StepTemplate.objects.filter(measure__in={c.measure_id for c in cases})
        .values("measure")
        .annotate(days=Sum("working_days"))
        .values_list("measure", "days")
    )
    elapsed = _ElapsedDays(calendar, local_date(now))
    with transaction.atomic():
        stored = {
            light.case_id: light
            for light in CaseLight.objects.select_for_update().filter(case__in=case_ids)
        }
        lights, new, changes = [], [], []
        for case in cases:
            days_left = [
                d
                for i in open_items[case.pk]
                if (d := working_days_left(i, calendar, now)) is not None
            ]
            left = min(days_left) if days_left else None
            total = plan_days.get(case.measure_id) or 0
            # 序时进度: working days elapsed since launch over the working days the plan allows.
            if not case.is_open or total <= 0:
                expected = 100
            else:
                expected = min(100, round(100 * elapsed.since(local_date(case.created)) / total))
            actual = 100 if not case.is_open else case.percent_complete
            deadline = rules.deadline_light(left) if case.is_open else Light.GREEN
            progress = rules.progress_light(expected - actual) if case.is_open else Light.GREEN
            light = stored.get(case.pk)
            previous = (light.deadline, light.progress) if light else (Light.GREEN, Light.GREEN)
            if light is None:
                light = CaseLight(case=case)
                new.append(light)
            light.deadline, light.progress = deadline, progress
            light.working_days_left, light.expected_percent = left, expected
            light.actual_percent, light.computed_at = actual, now
            lights.append(light)
            changes += [
                LightChange(case=case, axis=axis, from_light=old, to_light=new_light, at=now)
                for axis, old, new_light in (
                    (Axis.DEADLINE, previous[0], deadline),
                    (Axis.PROGRESS, previous[1], progress),
                )
                if old != new_light
            ]
        CaseLight.objects.bulk_create(new)
        CaseLight.objects.bulk_update(
            [light for light in lights if light.case_id in stored],
            [
                "deadline",
                "progress",
                "working_days_left",
                "expected_percent",
                "actual_percent",
                "computed_at",
            ],
            batch_size=500,
        )
        LightChange.objects.bulk_create(changes)
        if changes or new:
            # Not audited, yet the dashboard shows lights: cached pages go stale on commit.
            # Only the federations of the cases whose lights changed (issue 20).
            changed = {change.case_id for change in changes} | {light.case_id for light in new}
            change_stamp.bump_on_commit(cases=changed)
    return lights


def lights_sweep(*, now=None, limit: int = SWEEP_BATCH, faults=None) -> int:
    """Refresh the open cases whose lights are oldest (at most `limit`); returns how many.
    A case that fails is recorded in `faults` (workflows.deadlines.sweep_faults) and skipped."""
    from workflows.deadlines.sweep_faults import SweepFaults

    now = now or timezone.now()
    faults = faults if faults is not None else SweepFaults()
    rules, calendar = LightRules.load(), WorkingCalendar.load()
    cases = list(
        Case.objects.filter(is_open=True).order_by(
            F("light__computed_at").asc(nulls_first=True), "pk"
        )[:limit]
    )
    refreshed = faults.rows(
        "lights",
        cases,
        lambda rows: cases_lights_refresh(cases=rows, now=now, rules=rules, calendar=calendar),
        case_of=lambda case: case.pk,
    )
    return sum(len(lights) for lights in refreshed)


def light_history(case: Case) -> list[LightChange]:
    """The case's light changes, oldest first (what the case page shows as its lapses)."""
    return list(case.light_changes.order_by("at", "pk"))
