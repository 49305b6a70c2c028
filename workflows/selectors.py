"""Read-side queries for pages and the API; each returns a bounded number of queries."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from . import access
from .models import (
    Aspect,
    AuditEvent,
    AuditVerification,
    Case,
    Measure,
    Notification,
    Report,
    WorkItem,
    WorkItemStatus,
)

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
    cases = visible.select_related("current_step", "measure", "organisation", "light").order_by(
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


def audit_event_list(
    *,
    verb: str = "",
    actor: str = "",
    case_id: int | None = None,
    measure_code: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events matching every given filter, newest first, with case and step joined.

    `actor` is a username ("system" for events without one); `until` is exclusive.
    """
    events = AuditEvent.objects.select_related("case__measure", "work_item__step")
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
    """Every verb recorded so far, for the desk's filter."""
    return list(AuditEvent.objects.order_by("verb").values_list("verb", flat=True).distinct())


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
