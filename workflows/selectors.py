"""Read-side queries for pages and the API; each returns a bounded number of queries."""

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from . import access
from .models import Aspect, Case, Measure, Notification, WorkItem, WorkItemStatus

WORK_ITEM_RELATED = (
    "case__measure",
    "case__organisation",
    "step",
    "assignee",
    "department",
    "leader_role",
)


def work_item_list_inbox(user) -> QuerySet[WorkItem]:
    """Open tasks assigned to the user, oldest due first."""
    return (
        access.work_item_list_actionable(user)
        .filter(assignee=user)
        .select_related(*WORK_ITEM_RELATED)
        .order_by("due_at", "created_at")
    )


def work_item_list_queue(user) -> QuerySet[WorkItem]:
    """Unassigned open tasks in queues the user serves."""
    return (
        access.work_item_list_actionable(user)
        .filter(assignee__isnull=True)
        .select_related(*WORK_ITEM_RELATED)
        .order_by("due_at", "created_at")
    )


def work_item_list_open_for(user) -> QuerySet[WorkItem]:
    """Inbox and queue together (the API's /tasks/)."""
    return (
        access.work_item_list_actionable(user)
        .select_related(*WORK_ITEM_RELATED)
        .order_by("due_at", "created_at")
    )


def work_item_list_archive(user) -> QuerySet[WorkItem]:
    """Tasks the user completed, newest first."""
    return (
        WorkItem.objects.filter(completed_by=user)
        .exclude(status=WorkItemStatus.OPEN)
        .select_related(*WORK_ITEM_RELATED)
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


def programme_rows(user, *, organisation=None) -> list[tuple[Aspect, list[MeasureRow]]]:
    """The dashboard: aspects, then measures with the latest visible case and its open task."""
    visible = access.case_list_visible(user)
    if organisation is not None:
        visible = visible.filter(organisation=organisation)
    cases = visible.select_related("current_step", "measure", "light").order_by(
        "measure_id", "-is_open", "-created"
    )
    latest: dict[int, Case] = {}
    for case in cases:
        latest.setdefault(case.measure_id, case)
    open_items = {
        item.case_id: item
        for item in WorkItem.objects.filter(
            case__in=[c.pk for c in latest.values()], status=WorkItemStatus.OPEN
        ).select_related("assignee", "department", "leader_role", "step")
    }
    aspects = Aspect.objects.prefetch_related(
        Prefetch(
            "measures",
            queryset=Measure.objects.select_related(
                "lead_department", "supervising_leader"
            ).order_by("position"),
        )
    )
    result = []
    for aspect in aspects:
        rows = []
        for measure in aspect.measures.all():
            case = latest.get(measure.pk)
            rows.append(MeasureRow(measure, case, open_items.get(case.pk) if case else None))
        result.append((aspect, rows))
    return result


def case_get_detail(case_id: int) -> Case:
    return Case.objects.select_related(
        "measure__aspect",
        "organisation",
        "lead_department",
        "supervising_leader",
        "current_step",
        "launched_by",
    ).get(pk=case_id)


def notification_list(*, status: str | None = None) -> QuerySet[Notification]:
    """The notification log, newest first, with what each row's display needs joined in."""
    rows = Notification.objects.select_related(
        "recipient", "work_item__case__measure", "work_item__step"
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-pk")
