"""Appraisal (考核评价): score entries per department and month, derived from the tasks and the
audit trail, each traced to the event that caused it; the ranking and the monthly bulletin.

Everything is per federation: each federation's departments are ranked among themselves (a
province's network_work is never ranked against the national one), and a month is rebuilt
one federation at a time (`appraisal_rebuild`, audited) by its coordinators or those above.

Rules (ScoringRule rows, admin-editable): a department-routed step judged in the month scores
`on_time` or `overdue`; a report returned as inadequate scores `returned` for the lead
department. A step is judged against its original due date unless an extension request was
approved, then against the approved date. Each rule's points per department and month are
capped; entries past the cap are kept with the points they would have had (`rule_points`).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, FloatField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Cast, Coalesce, NullIf
from django.template.loader import render_to_string
from django.utils import timezone, translation

from workflows.audit.trail import audit_record
from workflows.common import change_stamp
from workflows.common import reach as access
from workflows.common.calendar import SHANGHAI, local_date
from workflows.models import (
    AuditEvent,
    Department,
    ExtensionRequest,
    ExtensionStatus,
    Organisation,
    Outcome,
    ScoreEntry,
    ScoreKind,
    ScoringRule,
    WorkItem,
    WorkItemStatus,
)
from workflows.supervision.extensions import appraisal_due_at

DEFAULT_RULES = {
    ScoreKind.ON_TIME: (1, 10),
    ScoreKind.OVERDUE: (-1, 10),
    ScoreKind.RETURNED: (-2, 10),
}
_DECISION_VERBS = [o.value for o in Outcome if o.value]


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(period: dt.date) -> dt.date:
    return (period + dt.timedelta(days=32)).replace(day=1)


def _window(period: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(period, dt.time.min, tzinfo=SHANGHAI)
    return start, dt.datetime.combine(_next_month(period), dt.time.min, tzinfo=SHANGHAI)


def scoring_rules() -> dict[str, tuple[int, int | None]]:
    """{kind: (points, cap per period)} from the rule rows over the defaults."""
    rules = dict(DEFAULT_RULES)
    for kind, points, cap in ScoringRule.objects.values_list("kind", "points", "cap_per_period"):
        rules[kind] = (points, cap)
    return rules


@dataclass
class _Draft:
    sort_key: tuple
    entry: ScoreEntry


def _judged_items(period: dt.date, now: dt.datetime, organisation: Organisation | None = None):
    """Department-routed tasks whose judging date falls in the period, with their extension
    (only the organisation's departments' when one is given)."""
    start, end = _window(period)
    requests = ExtensionRequest.objects.filter(status=ExtensionStatus.APPROVED)
    items = WorkItem.objects.filter(department__isnull=False)
    if organisation is not None:
        requests = requests.filter(work_item__department__organisation=organisation)
        items = items.filter(department__organisation=organisation)
    approved = {r.work_item_id: r for r in requests.order_by("decided_at", "pk")}
    items = (
        items.exclude(status=WorkItemStatus.CANCELED)
        .filter(Q(original_due_at__gte=start, original_due_at__lt=end) | Q(pk__in=list(approved)))
        # Only what judging needs: the entries name the case and department by id, so a
        # national month (28,000 tasks) builds no case, step or department objects.
        .only("task", "case", "department", "status", "finished_at", "original_due_at", "due_at")
        .order_by()
    )
    for item in items:
        extension = approved.get(item.pk)
        due = appraisal_due_at(item, extension)
        if due is None or not start <= due < end:
            continue
        yield item, due, extension


def appraisal_compute(
    *, period: dt.date, organisation: Organisation | None = None, now=None
) -> list[ScoreEntry]:
    """Rebuild the month's score entries from the tasks and audit trail (idempotent): one
    federation's departments, or every federation's when no organisation is given."""
    period = month_start(period)
    now = now or timezone.now()
    start, end = _window(period)
    rules = scoring_rules()
    drafts: list[_Draft] = []
    judged = list(_judged_items(period, now, organisation))
    decision_events = {}
    escalation_events = {}
    for event_id, verb, work_item_id in (
        AuditEvent.objects.filter(
            work_item__in=[i.pk for i, _d, _e in judged],
            verb__in=[*_DECISION_VERBS, "escalated"],
        )
        .order_by("pk")
        .values_list("pk", "verb", "work_item_id")
    ):
        if verb == "escalated":
            escalation_events.setdefault(work_item_id, event_id)
        else:
            decision_events[work_item_id] = event_id  # the last decision is the finish
    for item, due, extension in judged:
        if item.status == WorkItemStatus.DONE and item.finished_at is not None:
            kind = ScoreKind.ON_TIME if item.finished_at <= due else ScoreKind.OVERDUE
            event = decision_events.get(item.pk)
        elif now > due:
            kind, event = ScoreKind.OVERDUE, escalation_events.get(item.pk)
        else:
            continue  # still open and not yet due: judged later
        note = f"due {local_date(due).isoformat()}"
        if extension is not None:
            note += f" (extension request {extension.pk} approved)"
        drafts.append(
            _Draft(
                (due, item.pk),
                ScoreEntry(
                    period=period,
                    department_id=item.department_id,
                    kind=kind,
                    points=0,
                    rule_points=rules[kind][0],
                    case_id=item.case_id,
                    work_item_id=item.pk,
                    event_id=event,
                    extension=extension,
                    note=note,
                ),
            )
        )
    returned = AuditEvent.objects.filter(
        verb=Outcome.RETURNED, created_at__gte=start, created_at__lt=end
    )
    if organisation is not None:
        returned = returned.filter(case__organisation=organisation)
    for event_id, created_at, case_id, lead_id, work_item_id, reason in returned.order_by(
        "pk"
    ).values_list(
        "pk", "created_at", "case_id", "case__lead_department_id", "work_item_id", "reason"
    ):
        drafts.append(
            _Draft(
                (created_at, event_id),
                ScoreEntry(
                    period=period,
                    department_id=lead_id,
                    kind=ScoreKind.RETURNED,
                    points=0,
                    rule_points=rules[ScoreKind.RETURNED][0],
                    case_id=case_id,
                    work_item_id=work_item_id,
                    event_id=event_id,
                    note=f"returned: {reason[:200]}",
                ),
            )
        )
    used: dict[tuple[int, str], int] = defaultdict(int)
    entries = []
    for draft in sorted(drafts, key=lambda d: d.sort_key):
        entry = draft.entry
        cap = rules[entry.kind][1]
        key = (entry.department_id, entry.kind)
        allowed = entry.rule_points
        if cap is not None:
            room = max(0, cap - used[key])
            allowed = max(-room, min(room, entry.rule_points))
            if allowed != entry.rule_points:
                entry.note += " · cap reached"
        used[key] += abs(allowed)
        entry.points = allowed
        entries.append(entry)
    stale = ScoreEntry.objects.filter(period=period)
    if organisation is not None:
        stale = stale.filter(department__organisation=organisation)
    with transaction.atomic():
        stale.delete()
        ScoreEntry.objects.bulk_create(entries, batch_size=2000)
        # The appraisal pages cached under the stamp go stale once the scores commit: the
        # federation's (and those above it), or every page for a national month.
        change_stamp.bump_paths_on_commit(None if organisation is None else [organisation.path])
    return entries


def appraisal_rebuild(*, period: dt.date, organisation: Organisation, by) -> list[ScoreEntry]:
    """A coordinator of the federation (or of one above it) rebuilds its month's scores from
    the audit trail; the rebuild is audited (`appraisal_rebuilt`) in the same transaction."""
    access.check_can_coordinate(by, organisation)
    period = month_start(period)
    with transaction.atomic():
        entries = appraisal_compute(period=period, organisation=organisation)
        audit_record(
            verb="appraisal_rebuilt",
            actor=by,
            data={
                "period": period,
                "organisation": organisation.code,
                "entries": len(entries),
                "points": sum(e.points for e in entries),
            },
        )
    return entries


@dataclass
class DepartmentScore:
    department: Department
    points: int = 0
    on_time: int = 0
    overdue: int = 0
    returned: int = 0
    extended: int = 0
    on_time_unextended: int = 0

    @property
    def due(self) -> int:
        return self.on_time + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        """On time / (due − approved extensions); tasks judged on an extension stay out."""
        denominator = self.due - self.extended
        return round(100 * self.on_time_unextended / denominator, 1) if denominator else None


def appraisal_month_ended(*, now=None) -> tuple[dt.date, list[ScoreEntry]]:
    """Score the month that ended before today (Beijing time); beat runs it on the 1st."""
    now = now or timezone.now()
    period = month_start(local_date(now) - dt.timedelta(days=1))
    return period, appraisal_compute(period=period, now=now)


def _ranking_rows(period: dt.date, organisation: Organisation | None):
    """One row per department with entries in the month, its figures summed in SQL and in
    ranking order: points, then on-time rate (none counts as 0), then key."""
    entries = ScoreEntry.objects.filter(period=month_start(period))
    if organisation is not None:
        entries = entries.filter(department__organisation=organisation)
    judged = ~Q(kind=ScoreKind.RETURNED)
    rows = (
        entries.order_by()
        .values("department_id")
        .annotate(
            total=Sum("points"),
            n_on_time=Count("pk", filter=Q(kind=ScoreKind.ON_TIME)),
            n_overdue=Count("pk", filter=Q(kind=ScoreKind.OVERDUE)),
            n_returned=Count("pk", filter=Q(kind=ScoreKind.RETURNED)),
            n_extended=Count("pk", filter=judged & Q(extension__isnull=False)),
            n_unextended=Count("pk", filter=Q(kind=ScoreKind.ON_TIME, extension__isnull=True)),
        )
    )
    denominator = F("n_on_time") + F("n_overdue") - F("n_extended")
    # None (nothing due but extended) ranks as 0, as `on_time_rate or 0` would.
    rate = Coalesce(
        Cast("n_unextended", FloatField()) * 100.0 / NullIf(Cast(denominator, FloatField()), 0.0),
        0.0,
    )
    # Ties (every federation's, no organisation given) in the departments' own order.
    return rows.annotate(rate=rate).order_by(
        "-total",
        "-rate",
        "department__key",
        "department__organisation__level__rank",
        "department__organisation__code",
    )


def _scores(rows) -> list[DepartmentScore]:
    rows = list(rows)
    departments = Department.objects.in_bulk([r["department_id"] for r in rows])
    return [
        DepartmentScore(
            departments[r["department_id"]],
            points=r["total"],
            on_time=r["n_on_time"],
            overdue=r["n_overdue"],
            returned=r["n_returned"],
            extended=r["n_extended"],
            on_time_unextended=r["n_unextended"],
        )
        for r in rows
    ]


def department_ranking(
    *, period: dt.date, organisation: Organisation | None = None
) -> list[DepartmentScore]:
    """The organisation's departments with entries in the month, best first (points, then
    on-time rate); every federation's only when no organisation is given. Summed in SQL:
    one row per department is read, not one per entry."""
    return _scores(_ranking_rows(period, organisation))


RANKING_PAGE_SIZE = 50


def department_ranking_page(*, period: dt.date, organisation: Organisation | None, page=1):
    """One page of the ranking (RANKING_PAGE_SIZE departments) and its Paginator page: a
    count and a page, however many departments there are."""
    paged = Paginator(_ranking_rows(period, organisation), RANKING_PAGE_SIZE).get_page(page)
    return _scores(paged.object_list), paged


@dataclass
class Bulletin:
    period: dt.date
    ranking: list[DepartmentScore]
    organisation: Organisation | None = None

    @property
    def best(self) -> list[DepartmentScore]:
        if not self.ranking:
            return []
        top = self.ranking[0].points
        return [s for s in self.ranking if s.points == top and top > 0]

    @property
    def lagging(self) -> list[DepartmentScore]:
        """Departments that lost points overall, or the bottom one if it scored below the top."""
        negative = [s for s in self.ranking if s.points < 0]
        if negative:
            return negative
        if len(self.ranking) > 1 and self.ranking[-1].points < self.ranking[0].points:
            bottom = self.ranking[-1].points
            return [s for s in self.ranking if s.points == bottom]
        return []


def bulletin_get(*, period: dt.date, organisation: Organisation | None = None) -> Bulletin:
    """The organisation's bulletin for the month, from the stored score entries."""
    ranking = department_ranking(period=period, organisation=organisation)
    return Bulletin(month_start(period), ranking, organisation)


def latest_period(organisation: Organisation | None = None) -> dt.date | None:
    """The latest month with score entries (of the organisation's departments, if given)."""
    entries = ScoreEntry.objects.all()
    if organisation is None:
        return entries.order_by("-period").values_list("period", flat=True).first()
    # Each department's latest month (one backward step in the (department, period) index),
    # then the latest of those: a federation with no entries costs as little as one with
    # many, where scanning every month's entries for its departments read them all.
    latest = entries.filter(department=OuterRef("pk")).order_by("-period").values("period")[:1]
    return Department.objects.filter(organisation=organisation).aggregate(
        latest=Max(Subquery(latest))
    )["latest"]


def period_default(organisation: Organisation | None = None, *, now=None) -> dt.date:
    """The month an appraisal opens on: the federation's latest scored month, else last month."""
    latest = latest_period(organisation)
    if latest:
        return latest
    today = local_date(now or timezone.now())
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def bulletin_latest(organisation: Organisation | None = None) -> Bulletin | None:
    """The organisation's bulletin of its latest month with score entries (the dashboard's)."""
    latest = latest_period(organisation)
    return bulletin_get(period=latest, organisation=organisation) if latest else None


def _refuse_fetch(url, *args, **kwargs):
    raise ValueError(f"the bulletin fetches nothing from outside ({url})")


def bulletin_pdf(
    *, period: dt.date, organisation: Organisation | None = None, language: str = "zh-hans"
) -> bytes:
    """A federation's monthly bulletin (情况通报) as PDF: WeasyPrint, CJK font, no network."""
    from weasyprint import HTML

    bulletin = bulletin_get(period=period, organisation=organisation)
    with translation.override(language):
        html = render_to_string(
            "workflows/supervision/bulletin_print.html",
            {"bulletin": bulletin, "generated_at": timezone.now()},
        )
    return HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
