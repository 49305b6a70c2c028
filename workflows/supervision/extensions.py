"""Extension requests (延期申请): asked by the lead department, decided by its head and then
the supervising leader, withdrawn, or lapsing when their task ends.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.common.bounds import check_date, clean_text
from workflows.common.calendar import due_at_for, local_date
from workflows.deadlines import due_dates as deadlines
from workflows.models import (
    Case,
    ExtensionDecision,
    ExtensionRequest,
    ExtensionStatus,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications import handoffs
from workflows.supervision import lights
from workflows.supervision.base import (
    SupervisionError,
    case_open_item,
    check_not_auditor,
    is_lead_head,
    is_supervising_leader,
    required_text,
)

EXTENSION_PENDING = (ExtensionStatus.PENDING_HEAD, ExtensionStatus.PENDING_LEADER)


def extension_request(
    *, item: WorkItem, user, reason: str, new_date: dt.date, percent: int, now=None
) -> ExtensionRequest:
    """Staff or head of the responsible department asks for a later date, before the due date.

    The lead department's head decides first, then the supervising leader; a request of the
    head's own goes straight to the leader (nobody decides on their own request).
    """
    now = now or timezone.now()
    check_not_auditor(user)
    case = item.case
    headed, staffed = access.user_department_ids(user)
    departments = {item.department_id, case.lead_department_id} - {None}
    if not departments & (headed | staffed):
        raise PermissionDenied("Only the responsible department's staff and head can ask.")
    reason = required_text(reason, "A reason")
    check_date(new_date, field="new_date")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise SupervisionError("Current progress must be a whole percent between 0 and 100.")
    with transaction.atomic():
        item = WorkItem.objects.select_for_update().select_related("case").get(pk=item.pk)
        if item.status != WorkItemStatus.OPEN or item.due_at is None:
            raise SupervisionError("This task is not open with a due date; nothing to extend.")
        if now >= item.due_at:
            raise SupervisionError(
                f"The due date ({local_date(item.due_at).isoformat()}) has passed: an extension "
                "can only be requested before it. Ask a coordinator about the overdue task."
            )
        if new_date <= local_date(item.due_at):
            raise SupervisionError(
                f"The new date must be later than the current due date "
                f"({local_date(item.due_at).isoformat()})."
            )
        if item.extension_requests.filter(status__in=EXTENSION_PENDING).exists():
            raise SupervisionError("An extension request for this task is already pending.")
        request = ExtensionRequest.objects.create(
            case=case,
            work_item=item,
            requested_by=user,
            reason=reason,
            requested_date=new_date,
            progress_percent=percent,
            due_at_when_requested=item.due_at,
            created_at=now,
            status=(
                ExtensionStatus.PENDING_LEADER
                if is_lead_head(user, case)
                else ExtensionStatus.PENDING_HEAD
            ),
        )
        audit_record(
            verb="extension_requested",
            actor=user,
            case=case,
            work_item=item,
            reason=reason,
            data={
                "request": request.pk,
                "date": new_date,
                "percent": percent,
                "due": item.due_at,
                "status": request.status,
            },
        )
        handoffs.extension_awaiting(request=request)
    return request


def extension_request_for_case(
    *, case: Case, user, reason: str, new_date: dt.date, percent: int, now=None
) -> ExtensionRequest:
    """An extension request on the case's first open task (the one its due date is on)."""
    item = case_open_item(case)
    if item is None:
        raise SupervisionError(gettext("The case has no open task."))
    return extension_request(
        item=item, user=user, reason=reason, new_date=new_date, percent=percent, now=now
    )


def extension_decide(
    *, request: ExtensionRequest, user, approve: bool, date: dt.date | None = None, note=""
) -> ExtensionRequest:
    """The lead department's head, then the supervising leader, approve (setting the date) or
    refuse; the leader's approval moves the due date through deadlines.deadline_extend."""
    check_not_auditor(user)
    note = clean_text(note).strip()
    if not approve and not note:
        raise SupervisionError("Give the reason for refusing the request.")
    now = timezone.now()
    with transaction.atomic():
        request = (
            ExtensionRequest.objects.select_for_update()
            .select_related("case", "work_item__case")
            .get(pk=request.pk)
        )
        case = request.case
        if request.status == ExtensionStatus.PENDING_HEAD:
            stage = "head"
            if not is_lead_head(user, case):
                raise PermissionDenied("The lead department's head decides first.")
        elif request.status == ExtensionStatus.PENDING_LEADER:
            stage = "leader"
            if not is_supervising_leader(user, case):
                raise PermissionDenied("The supervising leader decides after the head.")
        else:
            raise SupervisionError(
                f"This request is {request.get_status_display().lower()}; "
                "there is nothing to decide."
            )
        if request.requested_by_id == user.pk:
            raise PermissionDenied("Separation of duties: someone else decides on your request.")
        previous = request.decisions.filter(approved=True).order_by("-at", "-pk").first()
        date = date or (previous.date if previous else None) or request.requested_date
        if approve:
            check_date(date, field="date")
        ExtensionDecision.objects.create(
            request=request,
            stage=stage,
            by=user,
            approved=approve,
            date=date if approve else None,
            note=note,
            at=now,
        )
        if not approve:
            request.status, request.decided_at = ExtensionStatus.REFUSED, now
        elif stage == "head":
            request.status = ExtensionStatus.PENDING_LEADER
        else:
            deadlines.deadline_extend(
                item=request.work_item,
                by=user,
                new_date=date,
                reason=f"extension request {request.pk}: {request.reason}",
                by_request=request,
            )
            request.status, request.approved_date, request.decided_at = (
                ExtensionStatus.APPROVED,
                date,
                now,
            )
        request.save(update_fields=["status", "approved_date", "decided_at"])
        audit_record(
            verb="extension_decided",
            actor=user,
            case=case,
            work_item=request.work_item,
            reason=note,
            data={"request": request.pk, "stage": stage, "approved": approve, "date": date},
        )
        handoffs.extension_decided(request=request, stage=stage, approved=approve, note=note)
        handoffs.extension_awaiting(request=request)  # the leader's turn after the head's
        if request.status == ExtensionStatus.APPROVED:
            lights.case_lights_refresh(case=case, now=now)
    return request


def extension_withdraw(*, request: ExtensionRequest, user, now=None) -> ExtensionRequest:
    """The person who asked withdraws a request nobody has finished deciding."""
    check_not_auditor(user)
    now = now or timezone.now()
    with transaction.atomic():
        request = (
            ExtensionRequest.objects.select_for_update(of=("self",))
            .select_related("case", "work_item")
            .get(pk=request.pk)
        )
        if request.requested_by_id != user.pk:
            raise PermissionDenied("Only the person who asked can withdraw the request.")
        if request.status not in EXTENSION_PENDING:
            raise SupervisionError(
                f"This request is {request.get_status_display().lower()}; "
                "there is nothing to withdraw."
            )
        stage = request.status
        request.status, request.decided_at = ExtensionStatus.WITHDRAWN, now
        request.save(update_fields=["status", "decided_at"])
        audit_record(
            verb="extension_withdrawn",
            actor=user,
            case=request.case,
            work_item=request.work_item,
            data={"request": request.pk, "was": stage},
        )
    return request


def extension_requests_lapse(*, item: WorkItem, by, now) -> int:
    """A task ended (services._finish): its pending requests end with it, each audited in the
    same transaction. Returns how many lapsed."""
    from workflows.audit.trail import audit_record_many

    pending = list(
        ExtensionRequest.objects.select_for_update()
        .filter(work_item=item, status__in=EXTENSION_PENDING)
        .order_by("pk")
    )
    if not pending:
        return 0
    ExtensionRequest.objects.filter(pk__in=[r.pk for r in pending]).update(
        status=ExtensionStatus.LAPSED, decided_at=now
    )
    audit_record_many(
        [
            {
                "verb": "extension_lapsed",
                "actor": by,
                "case": item.case,
                "work_item": item,
                "data": {"request": r.pk, "was": r.status, "task_outcome": item.outcome},
            }
            for r in pending
        ]
    )
    return len(pending)


def appraisal_due_at(item: WorkItem, approved: ExtensionRequest | None = None) -> dt.datetime:
    """The date a task is judged against: the original, unless an extension was approved."""
    if approved is not None and approved.approved_date:
        return due_at_for(approved.approved_date)
    return item.original_due_at or item.due_at
