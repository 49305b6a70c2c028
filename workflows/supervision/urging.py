"""Urging (催办): a coordinator or the case's supervising leader presses whoever holds an open
task or 督办 item. Each urge notifies the holders through the notification log, is audited in
the same transaction, and shows on the item. At most one urge per item per working day."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.common.bounds import clean_text
from workflows.common.calendar import WorkingCalendar, local_date
from workflows.models import (
    Case,
    Department,
    ExtensionRequest,
    ExtensionStatus,
    LeaderInstruction,
    Notification,
    NotificationKind,
    OrderStatus,
    SupervisionOrder,
    Urge,
    UrgeTarget,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications.channels import rows_for_channels
from workflows.notifications.log import notification_rows

NOTE_MAX = 500


class UrgeRefused(ValidationError):
    """The item cannot be urged now (closed, or already urged this working day)."""


def _holders(target: str, obj) -> tuple[Case, list]:
    """The item's case and the people who hold it (those the urge is for)."""
    if target == UrgeTarget.TASK:
        if obj.status != WorkItemStatus.OPEN:
            raise UrgeRefused(_("This task is no longer open."))
        return obj.case, access.task_candidate_users(obj)
    case = obj.case
    lead = Department.objects.filter(pk=case.lead_department_id).first()
    department = [lead.head, *lead.staff.all()] if lead else []
    if target == UrgeTarget.EXTENSION:
        if obj.status == ExtensionStatus.PENDING_HEAD:
            return case, [lead.head] if lead else []
        if obj.status == ExtensionStatus.PENDING_LEADER:
            return case, [case.supervising_leader.holder] if case.supervising_leader else []
        raise UrgeRefused(_("This extension request is no longer waiting for a decision."))
    if target == UrgeTarget.ORDER:
        if obj.status != OrderStatus.OPEN:
            raise UrgeRefused(_("This order is no longer waiting for a response."))
        return case, department
    if obj.replied_at is not None:
        raise UrgeRefused(_("This instruction has already been answered."))
    return case, department


_MODELS = {
    UrgeTarget.TASK: WorkItem,
    UrgeTarget.EXTENSION: ExtensionRequest,
    UrgeTarget.ORDER: SupervisionOrder,
    UrgeTarget.INSTRUCTION: LeaderInstruction,
}


def item_get(*, target: str, pk: int):
    """The open-or-closed item an urge names; DoesNotExist for an unknown one."""
    if target not in _MODELS:
        raise UrgeRefused(_("Unknown kind of item."))
    return _MODELS[target].objects.select_related("case__supervising_leader").get(pk=pk)


def may_urge(user, case: Case) -> bool:
    """Coordinators of the case's federation (or above) and the case's supervising leader."""
    if access.is_auditor(user):
        return False
    # The cheap checks first: most people who open an item may not urge it at all.
    if not (
        access.can_coordinate(user, case.organisation)
        or case.supervising_leader_id in access.user_leader_role_ids(user)
    ):
        return False
    return access.can_view_case(user, case)


def last_urge(target: str, pk: int) -> Urge | None:
    """The item's latest urge, or None."""
    return (
        Urge.objects.filter(target=target, target_id=pk)
        .select_related("by")
        .order_by("-at")
        .first()
    )


def item_urge(*, user, target: str, item, note: str = "", now=None) -> Urge:
    """Urge an open item's holders: notify them, audit it; refused if urged this working day."""
    now = now or timezone.now()
    case, holders = _holders(target, item)
    if not may_urge(user, case):
        raise PermissionDenied(_("Only coordinators and the supervising leader can urge."))
    note = clean_text(note or "").strip()[:NOTE_MAX]
    calendar = WorkingCalendar.load()
    with transaction.atomic():
        # One urge per item per working day, even when two people press at once.
        list(type(item).objects.select_for_update().filter(pk=item.pk).values_list("pk"))
        previous = last_urge(target, item.pk)
        if previous is not None and _same_working_day(calendar, previous.at, now):
            raise UrgeRefused(
                _("Already urged on %(when)s by %(who)s: one urge per item per working day.")
                % {
                    "when": timezone.localtime(previous.at).strftime("%Y-%m-%d %H:%M"),
                    "who": previous.by.get_full_name() or previous.by.username,
                }
            )
        urge = Urge.objects.create(
            case=case, target=target, target_id=item.pk, by=user, note=note, at=now
        )
        audit_record(
            verb="urged",
            actor=user,
            case=case,
            work_item=item if target == UrgeTarget.TASK else None,
            reason=note,
            data={"target": target, "id": item.pk, "to": sorted(u.username for u in holders)},
        )
        _notify(urge, holders, item=item if target == UrgeTarget.TASK else None, now=now)
    return urge


def _same_working_day(calendar: WorkingCalendar, earlier: dt.datetime, now: dt.datetime) -> bool:
    """No working day began between the two moments (a Saturday urge after Friday's counts as
    the same working day)."""
    return calendar.working_days_between(local_date(earlier), local_date(now)) == 0


def _notify(urge: Urge, holders, *, item, now) -> int:
    rows = notification_rows(
        holders,
        kind=NotificationKind.URGE,
        key=f"urge:{urge.pk}",
        case=urge.case,
        item=item,
        now=now,
        payload={
            "target": urge.target,
            "id": urge.target_id,
            "by": urge.by.get_full_name() or urge.by.username,
            "note": urge.note,
        },
    )
    Notification.objects.bulk_create(rows_for_channels(rows), ignore_conflicts=True)
    return len(rows)


def case_urges_latest(case_id: int) -> dict[tuple[str, int], Urge]:
    """Each urged item's latest urge on one case, by (target, id): one query."""
    latest: dict[tuple[str, int], Urge] = {}
    for urge in Urge.objects.filter(case_id=case_id).select_related("by").order_by("at", "pk"):
        latest[(urge.target, urge.target_id)] = urge
    return latest
