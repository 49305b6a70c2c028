"""The programme's figures: one set of selectors for the dashboard, the wall view and the PDF.

The programme PDF (workflows.reports.data) and the dashboard both cover an organisation's
latest case of each measure (an open case first, else the newest) and count them with the
functions below, so the web and the PDF always agree. Everything here reads a fixed number
of queries, however many cases there are.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Q
from django.utils import timezone

from workflows.common import reach as access
from workflows.models import Aspect, Case, Measure, Organisation, WorkItem, WorkItemStatus
from workflows.models.organisation import bilingual

# How many weeks the "overdue over time" chart looks back.
OVERDUE_WEEKS = 8
LIGHTS = ("green", "yellow", "red")


@dataclass
class AspectBar:
    aspect: Aspect
    percent: int
    launched: int
    measures: int


@dataclass
class DepartmentLights:
    department_id: int
    title: str
    green: int = 0
    yellow: int = 0
    red: int = 0

    @property
    def total(self) -> int:
        return self.green + self.yellow + self.red

    @property
    def counts(self) -> list[tuple[str, int]]:
        return [(light, getattr(self, light)) for light in LIGHTS]


@dataclass
class OverduePoint:
    at: datetime
    count: int


@dataclass
class RollupRow:
    code: str
    title: str
    launched: int
    in_progress: int
    completed: int
    percent: int
    overdue: int = 0


@dataclass
class StepCounts:
    """Open steps of the cases covered: on time, overdue, paused, without a deadline."""

    on_time: int = 0
    overdue: int = 0
    no_deadline: int = 0
    paused: int = 0


@dataclass
class Figures:
    as_of: datetime
    measures: int
    launched: int
    in_progress: int
    completed: int
    steps: StepCounts
    aspect_bars: list[AspectBar] = field(default_factory=list)
    departments: list[DepartmentLights] = field(default_factory=list)
    overdue_weeks: list[OverduePoint] = field(default_factory=list)
    rollup: list[RollupRow] = field(default_factory=list)
    organisation: Organisation | None = None

    @property
    def overdue(self) -> int:
        return self.steps.overdue

    @property
    def on_time_rate(self) -> int | None:
        """Percent of open steps with a running deadline that are not past it; None if none."""
        counted = self.steps.on_time + self.steps.overdue
        return round(100 * self.steps.on_time / counted) if counted else None


# --------------------------------------------------------------------------- pure counts


def is_overdue(item: WorkItem | None, as_of: datetime) -> bool:
    """An open step past its due date; a paused clock is never overdue."""
    return bool(
        item is not None
        and item.status == WorkItemStatus.OPEN
        and item.due_at
        and not item.paused_at
        and item.due_at < as_of
    )


def step_counts(open_items: list[WorkItem], as_of: datetime) -> StepCounts:
    counts = StepCounts()
    for item in open_items:
        if item.paused_at:
            counts.paused += 1
        elif item.due_at is None:
            counts.no_deadline += 1
        elif item.due_at < as_of:
            counts.overdue += 1
        else:
            counts.on_time += 1
    return counts


def aspect_bars(pairs: list[tuple[Measure, Case | None]]) -> list[AspectBar]:
    """Mean percent complete of each aspect's measures; a measure not launched counts as 0 %."""
    grouped: dict[int, list[Case | None]] = defaultdict(list)
    aspects: dict[int, Aspect] = {}
    for measure, case in pairs:
        grouped[measure.aspect_id].append(case)
        aspects[measure.aspect_id] = measure.aspect
    return [
        AspectBar(
            aspect=aspects[aspect_id],
            percent=round(sum(c.percent_complete if c else 0 for c in cases) / len(cases)),
            launched=sum(1 for c in cases if c),
            measures=len(cases),
        )
        for aspect_id, cases in grouped.items()
    ]


def department_lights(cases: list[Case]) -> list[DepartmentLights]:
    """Each lead department's cases by deadline light (a case not yet lit counts as green)."""
    rows: dict[int, DepartmentLights] = {}
    for case in cases:
        row = rows.get(case.lead_department_id)
        if row is None:
            row = rows[case.lead_department_id] = DepartmentLights(
                department_id=case.lead_department_id, title=str(case.lead_department.title)
            )
        try:
            light = case.light.deadline
        except Case.light.RelatedObjectDoesNotExist:
            light = "green"
        key = light if light in LIGHTS else "green"
        setattr(row, key, getattr(row, key) + 1)
    return sorted(rows.values(), key=lambda r: (-r.red, -r.yellow, r.title))


def overdue_over_time(items: list[WorkItem], as_of: datetime) -> list[OverduePoint]:
    """At the end of each of the last OVERDUE_WEEKS weeks: steps open and past their due date.

    A step paused now is left out of every week (its past pauses are not replayed).
    """
    points = []
    for weeks_ago in range(OVERDUE_WEEKS - 1, -1, -1):
        at = as_of - timedelta(weeks=weeks_ago)
        count = sum(
            1
            for item in items
            if item.due_at
            and item.due_at < at
            and item.created_at <= at
            and (item.finished_at is None or item.finished_at > at)
            and not (item.paused_at and item.status == WorkItemStatus.OPEN)
        )
        points.append(OverduePoint(at=at, count=count))
    return points


# --------------------------------------------------------------------------- selectors


def latest_cases(cases) -> dict[int, Case]:
    """Each measure's case among `cases`: the open one first, else the newest."""
    latest: dict[int, Case] = {}
    for case in cases.order_by("measure_id", "-is_open", "-created", "-pk"):
        latest.setdefault(case.measure_id, case)
    return latest


def measures_in_order(aspect_id: int | None = None) -> list[Measure]:
    measures = Measure.objects.select_related(
        "aspect", "lead_department", "supervising_leader"
    ).order_by("aspect__position", "position", "code")
    if aspect_id:
        measures = measures.filter(aspect_id=aspect_id)
    return list(measures)


def rollup(user, parent: Organisation, as_of: datetime) -> list[RollupRow]:
    """The federations right below `parent`: their visible cases, counted (two queries)."""
    visible = access.case_list_visible(user).filter(organisation__parent=parent)
    rows = {
        row["organisation__code"]: RollupRow(
            code=row["organisation__code"],
            title=bilingual(row["organisation__title_en"], row["organisation__title_zh"]),
            launched=row["launched"],
            in_progress=row["in_progress"],
            completed=row["launched"] - row["in_progress"],
            percent=round(row["percent"] or 0),
        )
        for row in visible.order_by()
        .values("organisation__code", "organisation__title_en", "organisation__title_zh")
        .annotate(
            launched=Count("pk"),
            in_progress=Count("pk", filter=Q(is_open=True)),
            percent=Avg("percent_complete"),
        )
    }
    late = (
        WorkItem.objects.filter(
            case__in=visible,
            status=WorkItemStatus.OPEN,
            due_at__lt=as_of,
            paused_at__isnull=True,
        )
        .order_by()
        .values("case__organisation__code")
        .annotate(n=Count("pk"))
    )
    for row in late:
        if row["case__organisation__code"] in rows:
            rows[row["case__organisation__code"]].overdue = row["n"]
    return sorted(rows.values(), key=lambda r: r.code)


def figures_for(
    pairs: list[tuple[Measure, Case | None]],
    items: list[WorkItem],
    *,
    as_of: datetime,
) -> Figures:
    """The figures of the given (measure, case) rows and all their cases' work items."""
    cases = [case for _measure, case in pairs if case is not None]
    # Each case's latest open step, as the PDF's sections count them.
    open_by_case: dict[int, WorkItem] = {}
    for item in sorted(items, key=lambda i: (i.created_at, i.pk)):
        if item.status == WorkItemStatus.OPEN:
            open_by_case[item.case_id] = item
    open_items = list(open_by_case.values())
    return Figures(
        as_of=as_of,
        measures=len(pairs),
        launched=len(cases),
        in_progress=sum(1 for c in cases if c.is_open),
        completed=sum(1 for c in cases if not c.is_open),
        steps=step_counts(open_items, as_of),
        aspect_bars=aspect_bars(pairs),
        departments=department_lights(cases),
        overdue_weeks=overdue_over_time(items, as_of),
    )


def programme_figures(
    user, organisation: Organisation, *, as_of: datetime | None = None
) -> Figures:
    """The dashboard's figures for `organisation` (in the user's reach): a fixed query count."""
    as_of = as_of or timezone.now()
    measures = measures_in_order()
    latest = latest_cases(
        access.case_list_visible(user)
        .filter(organisation=organisation)
        .select_related("lead_department", "light")
    )
    pairs = [(m, latest.get(m.pk)) for m in measures]
    items = list(
        WorkItem.objects.filter(case_id__in=[c.pk for c in latest.values()]).only(
            "pk", "case_id", "status", "due_at", "paused_at", "created_at", "finished_at"
        )
    )
    figures = figures_for(pairs, items, as_of=as_of)
    figures.organisation = organisation
    if Organisation.objects.filter(parent=organisation).exists():
        figures.rollup = rollup(user, organisation, as_of)
    return figures
