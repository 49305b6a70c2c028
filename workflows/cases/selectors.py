"""Read-side queries for pages and the API; each returns a bounded number of queries."""

import datetime as dt
import math
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Avg, Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from workflows.common import reach as access
from workflows.common import wording
from workflows.models import (
    Aspect,
    AuditEvent,
    AuditVerification,
    Case,
    Department,
    Evidence,
    LeaderRole,
    Measure,
    Notification,
    Organisation,
    OrganisationLevel,
    Rag,
    Report,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)

# A task row's own relations are joined; the catalogue-sized ones (measure, step) are
# prefetched by id. At national scale the nine-way join cost PostgreSQL 15-23 ms per inbox,
# almost all of it planning, even on a warm connection; these few joins and prefetches cost
# 3-4 ms (bench/RESULTS.md). The prefetches drop the models' default ordering, which would
# join the aspect only to sort a handful of rows looked up by id.
WORK_ITEM_JOINED = ("case", "assignee", "department")


def work_item_rows(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    """Tasks with everything a list row shows (workflows/templatetags/rows.py), in a fixed
    number of queries."""
    return items.select_related(*WORK_ITEM_JOINED).prefetch_related(
        Prefetch("case__measure", queryset=Measure.objects.order_by()),
        Prefetch("step", queryset=StepTemplate.objects.order_by()),
    )


def work_item_list_inbox(user) -> QuerySet[WorkItem]:
    """Open tasks assigned to the user, oldest due first: the actionable filter with the user
    as assignee, bounded as it is (a cached inbox goes stale only with writes in the reader's
    federation), without reading the queues they serve (three lookups)."""
    reach = access.reach_of(user)
    if not reach.authenticated or reach.auditor:
        return WorkItem.objects.none()
    mine = reach.bounded(
        WorkItem.objects.filter(status="open", assignee=user), "case__organisation"
    )
    return work_item_rows(mine).order_by("due_at", "created_at")


def work_item_list_queue(user) -> QuerySet[WorkItem]:
    """Unassigned open tasks in queues the user serves."""
    return (
        work_item_rows(access.work_item_list_actionable(user))
        .filter(assignee__isnull=True)
        .order_by("due_at", "created_at")
    )


def work_item_list_open_for(user, *, rows: bool = True) -> QuerySet[WorkItem]:
    """Inbox and queue together (the API's /tasks/); `rows`: with what a list row shows."""
    items = access.work_item_list_actionable(user)
    return (work_item_rows(items) if rows else items).order_by("due_at", "created_at")


def work_item_list_archive(user) -> QuerySet[WorkItem]:
    """Tasks the user completed, newest first."""
    return (
        work_item_rows(WorkItem.objects.filter(completed_by=user))
        .exclude(status=WorkItemStatus.OPEN)
        .order_by("-finished_at")
    )


def work_item_list_for_case(case: Case) -> QuerySet[WorkItem]:
    """The case's tasks in the order they were opened."""
    return case.work_items.select_related("step", "assignee", "completed_by").order_by(
        "created_at", "pk"
    )


@dataclass
class MeasureRow:
    measure: Measure
    case: Case | None
    open_item: WorkItem | None


def organisation_list_visible(user) -> QuerySet[Organisation]:
    """Organisations whose cases the user may filter by: their federation and those below."""
    return access.organisation_list_visible(user)


def organisation_get_visible(user, code: str | None) -> Organisation:
    """The organisation with this code within the user's reach, else the user's own (national
    if none) when no code is given; an unknown code or one out of reach is a 404."""
    if not code:
        organisation = access.organisation_default(user)
        if organisation is None:
            raise Http404
        return organisation
    organisation = organisation_list_visible(user).filter(code=code).first()
    if organisation is None:
        raise Http404
    return organisation


LEVEL_ROWS_PER_PAGE = 50


@dataclass
class Programme:
    """The dashboard's rows by aspect; with a level filter, one page of cases (`page`)."""

    aspects: list[tuple[Aspect, list[MeasureRow]]]
    page: object = None  # a Paginator page, only with `level`

    def __iter__(self):
        return iter(self.aspects)


def programme_rows(
    user,
    *,
    organisation: Organisation | None = None,
    level: str | None = None,
    page: int | str | None = 1,
) -> Programme:
    """The dashboard: aspects, then measures with the visible case(s) and open task.

    Without `level`: the latest case of each measure in `organisation`, by default the user's
    home organisation (national if none), so child federations' cases never stand in for the
    user's own; every measure has its row, launched or not (30 rows).
    With `level`: one row per visible case at that level (within `organisation`'s subtree if
    given), LEVEL_ROWS_PER_PAGE to a page in measure and organisation order, since a level
    can hold tens of thousands of cases.
    A fixed number of queries, however many organisations there are.
    """
    visible = access.case_list_visible(user)
    paged = None
    if level is not None:
        visible = visible.filter(organisation__level__key=level)
        if organisation is not None:
            visible = visible.filter(organisation__path__startswith=organisation.path)
        # Every case at the level, a relaunched measure's completed case included: filtering
        # those out cost 0.7 s at 78,000 county cases (a NOT EXISTS per row before the sort),
        # against 66 ms for this plain sort of the page.
        order = ("measure__aspect__position", "measure__position", "organisation__code", "pk")
        # The page's ids are sorted alone, then its 50 rows fetched with their relations:
        # sorting the 78,000 county cases with those columns took twice as long (257 ms).
        paged = Paginator(visible.order_by(*order).only("pk"), LEVEL_ROWS_PER_PAGE).get_page(page)
        shown_cases = list(
            Case.objects.filter(pk__in=[c.pk for c in paged.object_list])
            .select_related("current_step", "organisation", "light")
            .order_by(*order)
        )
    else:
        home = (
            organisation
            or access.user_organisation(user)
            or Organisation.objects.filter(parent__isnull=True).first()
        )
        # One organisation holds a few cases per measure at most: the open one, else the
        # latest, picked here rather than by the subqueries the level view needs.
        shown_cases, seen = [], set()
        for case in (
            visible.filter(organisation=home)
            .select_related("current_step", "organisation", "light")
            .order_by("measure_id", "-is_open", "-created", "-pk")
        ):
            if case.measure_id not in seen:
                seen.add(case.measure_id)
                shown_cases.append(case)
    # Rows take their measure from the aspects below, not from a join per case.
    shown: dict[int, list[Case]] = {}
    for case in shown_cases:
        shown.setdefault(case.measure_id, []).append(case)
    open_items = {
        item.case_id: item
        for item in WorkItem.objects.filter(
            case__in=[c.pk for c in shown_cases], status=WorkItemStatus.OPEN
        ).select_related("assignee", "department", "step")
    }
    aspects = Aspect.objects.prefetch_related(
        Prefetch(
            "measures",
            # The lead department's key is in the API's rows; the leader's comes by id there.
            queryset=Measure.objects.select_related("lead_department").order_by("position"),
        )
    )
    result = []
    for aspect in aspects:
        rows = []
        for measure in aspect.measures.all():
            # By level, only the measures with cases on this page; otherwise every measure.
            measure_cases: list[Case | None] = list(shown.get(measure.pk, []))
            if not measure_cases and level is None:
                measure_cases = [None]
            for row_case in measure_cases:
                item = open_items.get(row_case.pk) if row_case else None
                rows.append(MeasureRow(measure, row_case, item))
        if rows or level is None:
            result.append((aspect, rows))
    return Programme(result, paged)


@dataclass(frozen=True)
class OverdueChild:
    case_id: int
    organisation: Organisation
    days_overdue: int


@dataclass
class Rollup:
    """The children of a cascaded case at a glance.

    `percent_complete` is the mean of the children's own percent complete, each child
    weighing the same (a completed child counts 100); None without children.
    """

    children: int = 0
    open: int = 0
    done: int = 0
    by_rag: dict[str, int] = field(default_factory=dict)
    percent_complete: int | None = None
    most_overdue: OverdueChild | None = None
    rows: list[Case] = field(default_factory=list)
    # The page of `rows` (Paginator page), None without children.
    page: object = None


def days_overdue(due_at: dt.datetime | None, now: dt.datetime) -> int:
    """Whole days past due, any part of a day counting as one; 0 when not overdue."""
    if due_at is None or due_at >= now:
        return 0
    return math.ceil((now - due_at).total_seconds() / 86400)


CHILDREN_PER_PAGE = 50


def case_rollup(
    case: Case, *, now: dt.datetime | None = None, page: int | str | None = 1
) -> Rollup:
    """Counts by status and RAG, mean percent and the most overdue open child, aggregated in
    SQL, plus one page of child rows, most overdue first: three queries whatever the number of
    children (one when there are none), and a page no longer with 3,000 children than with 30.
    """
    now = now or timezone.now()
    children = Case.objects.filter(parent_case=case)
    figures = children.aggregate(
        total=Count("pk"),
        open=Count("pk", filter=Q(is_open=True)),
        percent=Avg("percent_complete"),
        **{f"rag_{rag}": Count("pk", filter=Q(rag=rag)) for rag in Rag.values},
    )
    if not figures["total"]:
        return Rollup()
    open_due = WorkItem.objects.filter(
        case=OuterRef("pk"), status=WorkItemStatus.OPEN, paused_at__isnull=True
    ).order_by("due_at")
    ordered = (
        children.select_related("organisation__level", "current_step")
        .annotate(open_due_at=Subquery(open_due.values("due_at")[:1]))
        # Open children by their oldest due date first: the most overdue heads the first page.
        .order_by(F("open_due_at").asc(nulls_last=True), "organisation__code")
    )
    paginator = Paginator(ordered, CHILDREN_PER_PAGE)
    paginator.count = figures["total"]  # already counted above: saves a second COUNT
    rows_page = paginator.get_page(page)
    rows = list(rows_page.object_list)
    for row in rows:
        row.days_overdue = days_overdue(row.open_due_at, now) if row.is_open else 0
    first = rows[0] if rows_page.number == 1 and rows else None
    if first is None:
        first = ordered.filter(is_open=True).first()
        if first is not None:
            first.days_overdue = days_overdue(first.open_due_at, now)
    worst = first if first is not None and first.is_open and first.days_overdue else None
    return Rollup(
        children=figures["total"],
        open=figures["open"],
        done=figures["total"] - figures["open"],
        by_rag={rag: figures[f"rag_{rag}"] for rag in Rag.values},
        percent_complete=math.floor(figures["percent"] + 0.5),
        most_overdue=OverdueChild(worst.pk, worst.organisation, worst.days_overdue)
        if worst
        else None,
        rows=rows,
        page=rows_page,
    )


def column_of(model, field: str, key: str) -> Subquery:
    """`model`'s `field` for the row whose pk is the outer row's `key` (one index probe)."""
    return Subquery(model.objects.filter(pk=OuterRef(key)).order_by().values(field))


# The API case list's JSON names, each with the column or annotation case_list_rows reads.
CASE_LIST_COLUMNS = {
    "id": "pk",
    "measure": "measure_code",
    "organisation": "organisation__code",
    "level": "level_key",
    "parent_case": "parent_case_id",
    "deadline_cap": "deadline_cap",
    "lead_department": "department_key",
    "supervising_leader": "leader_key",
    "is_open": "is_open",
    "current_step": "step_key",
    "percent_complete": "percent_complete",
    "rag": "rag",
    "created": "created",
    "finished": "finished",
    "launched_by": "launched_by_name",
}


def case_list_rows(ids: list[int]) -> list[dict]:
    """The API case list's columns as plain values (no model instance per row), named as its
    JSON names them, in the order of `ids`; one query.

    The relations are scalar subqueries rather than joins: joining all eight (two of them
    outer) cost PostgreSQL 12 ms of planning for a page of 50 on the national data set, the
    subqueries 0.5 ms planning and 1.6 ms to run (EXPLAIN ANALYZE, issue 20).
    """
    rows = (
        Case.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            measure_code=column_of(Measure, "code", "measure_id"),
            level_key=column_of(OrganisationLevel, "key", "organisation__level_id"),
            department_key=column_of(Department, "key", "lead_department_id"),
            leader_key=column_of(LeaderRole, "key", "supervising_leader_id"),
            step_key=column_of(StepTemplate, "key", "current_step_id"),
            launched_by_name=column_of(get_user_model(), "username", "launched_by_id"),
        )
        .values(*CASE_LIST_COLUMNS.values())
    )
    by_id = {
        row["pk"]: {name: row[column] for name, column in CASE_LIST_COLUMNS.items()} for row in rows
    }
    return [by_id[pk] for pk in ids if pk in by_id]


def case_check_visible(user, case_id: int) -> None:
    """Nothing if the user may see the case; else Http404 (one query)."""
    if not access.case_list_visible(user).filter(pk=case_id).exists():
        raise Http404


def case_get_visible(user, case_id: int) -> Case:
    """The case with everything its pages show, if the user may see it; else Http404."""
    case_check_visible(user, case_id)
    return case_get_detail(case_id)


def work_item_get_visible(user, task_id: int, *related: str) -> WorkItem:
    """The task (with `related` joined), if the user may see its case; else Http404."""
    item = access.work_item_list_visible(user).select_related(*related).filter(pk=task_id).first()
    if item is None:
        raise Http404
    return item


def evidence_get_visible(user, evidence_id: int) -> Evidence:
    """An evidence file's row, if the user may see its case; else Http404."""
    evidence = (
        Evidence.objects.filter(pk=evidence_id, case__in=access.case_list_visible(user))
        .select_related("case")
        .first()
    )
    if evidence is None:
        raise Http404
    return evidence


def report_get_visible(user, report_id: int) -> Report:
    """A report the user may see and download; else Http404."""
    report = (
        access.report_list_visible(user)
        .select_related("case__measure", "aspect", "organisation")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise Http404
    return report


def case_get_detail(case_id: int) -> Case:
    # Joining all twelve relations cost PostgreSQL about 11 ms of planning for one row (EXPLAIN
    # on the national data set); the small ones come by id instead (see WORK_ITEM_JOINED).
    return (
        Case.objects.select_related("measure__aspect", "organisation")
        .prefetch_related(
            "parent_case__organisation",
            "lead_department",
            "supervising_leader",
            "current_step",
            "launched_by",
        )
        .get(pk=case_id)
    )


def notification_list(user, *, status: str | None = None) -> QuerySet[Notification]:
    """The notification log within the user's reach, newest first, with what each row's
    display needs joined in."""
    rows = access.notification_list_visible(user).select_related(
        "recipient", "work_item__case__measure", "work_item__step"
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-pk")


# What a row of the audit desk shows: the event, who (their name), the case's measure code and
# the step's title.
_DESK_ROW_FIELDS = (
    "created_at",
    "actor_name",
    "verb",
    "reason",
    "data",
    "actor__username",
    "actor__first_name",
    "actor__last_name",
    "case__measure",
    "case__measure__code",
    "work_item__step",
    "work_item__step__title_en",
    "work_item__step__title_zh",
)


def audit_event_list(
    user,
    *,
    verb: str = "",
    actor: str = "",
    case_id: int | None = None,
    measure_code: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    paged: bool = False,
) -> QuerySet[AuditEvent]:
    """Audit events within the user's reach matching every given filter, newest first, with
    case and step joined. `actor` is a username ("system" for events without one); `until` is
    exclusive. `paged`: read a page at a time (common/reach.audit_event_list_visible), for the
    desk, with only what its rows show (templatetags/rows.audit_rows)."""
    events = access.audit_event_list_visible(user, paged=paged).select_related(
        "case__measure", "work_item__step", "actor"
    )
    if paged:
        # A fifth of the desk's work on a miss was building the joined rows' other columns.
        events = events.only(*_DESK_ROW_FIELDS)
    if verb:
        events = events.filter(verb=verb)
    if actor:
        events = events.filter(actor_name="" if actor == "system" else actor)
    if case_id is not None:
        events = events.filter(case_id=case_id)
    if measure_code:
        events = events.filter(case__measure__code=measure_code)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events.order_by("-pk")


def audit_verb_list() -> list[str]:
    """Every verb the code records, for the desk's filter (a constant: no scan of the trail)."""
    return sorted(wording.AUDIT_VERBS)


def audit_verification_latest() -> AuditVerification | None:
    """The most recent verify_audit result, or None if the chain was never verified."""
    return AuditVerification.objects.select_related("run_by").first()


def report_list(
    user,
    *,
    kind: str = "",
    measure: Measure | None = None,
    aspect: Aspect | None = None,
    status: str = "",
) -> QuerySet[Report]:
    """Reports the user may see, filtered, newest first, with what the desk and API show."""
    reports = access.report_list_visible(user).select_related(
        "case__measure", "aspect", "requested_by"
    )
    if kind:
        reports = reports.filter(kind=kind)
    if measure is not None:
        reports = reports.filter(case__measure=measure)
    if aspect is not None:
        # A programme report of one aspect, or a completion report of one of its measures.
        reports = reports.filter(Q(aspect=aspect) | Q(case__measure__aspect=aspect))
    if status:
        reports = reports.filter(status=status)
    return reports.order_by("-created_at", "-pk")
