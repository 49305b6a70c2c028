"""Due dates: set when a task opens, extended, paused and resumed, recomputed when the calendar
changes. Every move is a DeadlineChange row plus an audit event."""

import datetime as dt
import logging
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from . import access
from .audit import audit_record
from .bounds import check_date, clean_text
from .calendar import WorkingCalendar, at_local, due_at_for, local_date
from .escalation import PolicyBook, alert_floor, alert_floor_delta, alerts_reset
from .models import DeadlineChange, DeadlineChangeKind, WorkItem, WorkItemStatus

logger = logging.getLogger(__name__)


class DeadlineError(ValidationError):
    """A deadline change that cannot be made as asked (the message says why)."""


def _capped(due: dt.datetime, cap: dt.datetime | None) -> dt.datetime:
    return due if cap is None else min(due, cap)


def due_fields_for_new_task(
    *, step, opened_at: dt.datetime, calendar=None, cap: dt.datetime | None = None
) -> dict:
    """The due-date fields of a task opened now: the step's working days from the next one on,
    but never later than `cap` (a cascaded case's parent deadline).

    When the cap cut the date short, "capped_from" holds the date it would have had (not a
    model field: the caller pops it for the audit trail).
    """
    calendar = calendar or WorkingCalendar.load()
    start = local_date(opened_at)
    computed = due_at_for(calendar.add_working_days(start, step.working_days))
    due = _capped(computed, cap)
    fields = {
        "due_start": start,
        "due_working_days": step.working_days,
        "due_at": due,
        "original_due_at": due,
        "due_fixed": False,
        "next_alert_at": alert_floor(due),
    }
    if due != computed:
        fields["capped_from"] = computed
    return fields


def _record(item, *, kind, old, new, reason="", by=None, verb, extra=None) -> None:
    DeadlineChange.objects.create(
        work_item=item, kind=kind, old_due_at=old, new_due_at=new, reason=reason, by=by
    )
    audit_record(
        verb=verb,
        actor=by,
        case=item.case,
        work_item=item,
        reason=reason,
        data={"from": old, "to": new, **(extra or {})},
    )


def _locked_open_item(item: WorkItem) -> WorkItem:
    locked = WorkItem.objects.select_for_update().select_related("case").get(pk=item.pk)
    if locked.status != WorkItemStatus.OPEN:
        raise DeadlineError("This task is no longer open; its deadline cannot change.")
    return locked


def _require_reason(reason: str, action: str) -> str:
    reason = clean_text(reason).strip()
    if not reason:
        raise DeadlineError(f"A reason is required to {action}.")
    return reason


def check_can_manage_deadline(user, item: WorkItem) -> None:
    """Coordinators, and the head of the case's lead department, may pause and resume."""
    if access.can_coordinate(user, item.case.organisation):
        return
    if access.is_auditor(user) or not user.is_authenticated:
        raise PermissionDenied("Only coordinators and the lead department's head can do this.")
    headed, _staffed = access.user_department_ids(user)
    if item.case.lead_department_id not in headed:
        raise PermissionDenied("Only coordinators and the lead department's head can do this.")


def deadline_extend(
    *, item: WorkItem, by, new_date: dt.date, reason: str, by_request=None
) -> WorkItem:
    """A coordinator moves the due date to a later day; the date then stays fixed.

    `by_request`: an ExtensionRequest its approvers approved (supervision.extension_decide);
    the approval stands in for the coordinator and the request id is audited.
    """
    if by_request is None:
        access.check_can_coordinate(by, item.case.organisation)
    reason = _require_reason(reason, "extend a deadline")
    check_date(new_date, field="new_date")
    with transaction.atomic():
        item = _locked_open_item(item)
        new_due = due_at_for(new_date)
        if item.due_at is not None and new_due <= item.due_at:
            raise DeadlineError(
                f"The new date must be later than the current due date "
                f"({local_date(item.due_at).isoformat()})."
            )
        if new_due <= timezone.now():
            raise DeadlineError("The new due date is already in the past.")
        old = item.due_at
        item.due_at, item.due_fixed = new_due, True
        item.next_alert_at = alert_floor(new_due)
        item.save(update_fields=["due_at", "due_fixed", "next_alert_at"])
        _record(
            item,
            kind=DeadlineChangeKind.EXTENDED,
            old=old,
            new=new_due,
            reason=reason,
            by=by,
            verb="deadline_extended",
            extra={"extension_request": by_request.pk} if by_request is not None else None,
        )
    return item


def task_pause(*, item: WorkItem, by, reason: str) -> WorkItem:
    """Stop the task's clock (e.g. waiting on an outside decision) until it is resumed."""
    check_can_manage_deadline(by, item)
    reason = _require_reason(reason, "pause a task")
    with transaction.atomic():
        item = _locked_open_item(item)
        if item.paused_at is not None:
            raise DeadlineError("This task is already paused.")
        item.paused_at, item.pause_reason = timezone.now(), reason
        item.save(update_fields=["paused_at", "pause_reason"])
        _record(
            item,
            kind=DeadlineChangeKind.PAUSED,
            old=item.due_at,
            new=item.due_at,
            reason=reason,
            by=by,
            verb="task_paused",
        )
    return item


def task_resume(*, item: WorkItem, by, reason: str = "") -> WorkItem:
    """Restart the clock: the due date moves by the working days the task spent paused."""
    check_can_manage_deadline(by, item)
    with transaction.atomic():
        item = _locked_open_item(item)
        if item.paused_at is None:
            raise DeadlineError("This task is not paused.")
        calendar = WorkingCalendar.load()
        now = timezone.now()
        paused_days = calendar.working_days_between(local_date(item.paused_at), local_date(now))
        old = item.due_at
        if item.due_at is not None and paused_days:
            if item.due_fixed:
                new_day = calendar.add_working_days(local_date(item.due_at), paused_days)
                item.due_at = due_at_for(new_day)
            else:
                item.due_working_days += paused_days
                item.due_at = _computed_due(item, calendar)
        item.paused_at, item.pause_reason = None, ""
        # The sweep skipped the task while paused: it looks again from the floor of the new date.
        item.next_alert_at = alert_floor(item.due_at)
        item.save(
            update_fields=[
                "due_at",
                "due_working_days",
                "paused_at",
                "pause_reason",
                "next_alert_at",
            ]
        )
        _record(
            item,
            kind=DeadlineChangeKind.RESUMED,
            old=old,
            new=item.due_at,
            reason=clean_text(reason).strip(),
            by=by,
            verb="task_resumed",
            extra={"paused_working_days": paused_days},
        )
    return item


def _computed_due(item: WorkItem, calendar: WorkingCalendar) -> dt.datetime:
    # A recomputed or resumed date still respects the parent's deadline on a cascaded case.
    due = due_at_for(calendar.add_working_days(item.due_start, item.due_working_days))
    return _capped(due, item.case.deadline_cap)


def due_dates_recompute(*, changed_dates: Iterable[dt.date], by=None) -> int:
    """After calendar overrides change, move the open tasks whose due date they shift.

    Only tasks whose counting window (start .. due day) contains a changed day can move;
    extended (fixed) dates are the coordinator's decision and stay. Returns how many moved.
    """
    changed = sorted(set(changed_dates))
    if not changed:
        return 0
    calendar = WorkingCalendar.load()
    candidates = WorkItem.objects.filter(
        status=WorkItemStatus.OPEN,
        due_fixed=False,
        due_start__isnull=False,
        due_start__lte=changed[-1],
        due_at__gte=at_local(changed[0], dt.time.min),
    ).select_related("case")
    book = PolicyBook.load()
    notice = book.longest_notice()
    moved = 0
    with transaction.atomic():
        for item in candidates.select_for_update(of=("self",)):
            new_due = _computed_due(item, calendar)
            if new_due == item.due_at:
                continue
            old, item.due_at = item.due_at, new_due
            item.next_alert_at = alert_floor(new_due, notice)
            item.save(update_fields=["due_at", "next_alert_at"])
            _record(
                item,
                kind=DeadlineChangeKind.RECOMPUTED,
                old=old,
                new=new_due,
                reason="calendar: " + ", ".join(d.isoformat() for d in changed),
                by=by,
                verb="due_recomputed",
            )
            moved += 1
        # Reminder days before a due date and rung days after it are counted on the calendar
        # too, so the tasks due near a changed day (moved or not) are evaluated afresh.
        rung_days = max((r.working_days_after_due for p in book.all() for r in p.rungs), default=0)
        alerts_reset(
            due_from=at_local(changed[0], dt.time.min) - alert_floor_delta(rung_days),
            due_to=at_local(changed[-1], dt.time.max) + alert_floor_delta(notice),
        )
    if moved:
        logger.info("calendar change moved %s open due dates", moved)
    return moved
