"""A notice at every hand-off: one function per hand-off, each recording rows in the
notification log (workflows.notifications), so dedupe, quiet hours, the daily cap, the digest,
retries and the chat channels apply as to any reminder.

Each row is kind `handoff` with the event in its payload; the mail is composed in the
recipient's language from emails/handoff.{subject.txt,txt,html}. The dedupe key names the
event, the thing handed over and the recipient, so the same hand-off recorded twice (a retry,
a double click) is one notice.
"""

from collections import defaultdict

from django.conf import settings
from django.utils import timezone

from workflows.models import (
    Department,
    ExtensionRequest,
    Notification,
    NotificationKind,
    NotificationStatus,
    Outcome,
    StepKind,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications.delivery import notifications_record

ASSIGNED = "assigned"
QUEUED = "queued"
RETURNED = "returned"
AWAITING_DECISION = "awaiting_decision"
DECIDED = "decided"
EXTENSION_AWAITING = "extension_awaiting"
EXTENSION_DECIDED = "extension_decided"
EVENTS = (
    ASSIGNED,
    QUEUED,
    RETURNED,
    AWAITING_DECISION,
    DECIDED,
    EXTENSION_AWAITING,
    EXTENSION_DECIDED,
)
_DECISION_KINDS = (StepKind.APPROVE, StepKind.REVIEW, StepKind.SIGN_OFF)


def _record(users, *, event: str, key: str, case, item=None, payload=None) -> int:
    """One row per active recipient; returns how many were offered (0 when switched off)."""
    if not settings.NOTIFICATION_HANDOFFS:
        return 0
    rows = _rows(users, event=event, key=key, case=case, item=item, payload=payload)
    notifications_record(rows)
    return len(rows)


def _rows(users, *, event: str, key: str, case, item=None, payload=None, now=None):
    now = now or timezone.now()
    return [
        Notification(
            dedupe_key=f"handoff:{event}:{key}:{user.pk}",
            recipient=user,
            kind=NotificationKind.HANDOFF,
            case=case,
            work_item=item,
            due_at=item.due_at if item is not None else None,
            status=NotificationStatus.PENDING,
            payload={"event": event, **(payload or {})},
            next_attempt_at=now,
        )
        for user in {u.pk: u for u in users if u is not None and u.is_active}.values()
    ]


def _last_return(item: WorkItem) -> WorkItem | None:
    """The decision that sent this task's work back, if the task was opened by a return."""
    last = (
        WorkItem.objects.filter(case_id=item.case_id, status=WorkItemStatus.DONE)
        .exclude(pk=item.pk)
        .order_by("-finished_at", "-pk")
        .select_related("completed_by")
        .first()
    )
    return last if last is not None and last.outcome == Outcome.RETURNED else None


def task_opened(*, item: WorkItem) -> int:
    """A new task: waiting for the decider's decision, returned to its producer, or assigned
    to a person / new in a queue (then every member of the queue is told)."""
    if item.assignee_id is not None:
        holders = [item.assignee]
    elif item.leader_role_id is not None:
        holders = [item.leader_role.holder]
    elif item.for_head:
        holders = [item.department.head]
    else:
        holders = list(item.department.staff.filter(is_active=True))
    payload = {}
    if item.kind in _DECISION_KINDS:
        event = AWAITING_DECISION
        if item.produced_by_id:
            payload["by"] = item.produced_by.get_full_name() or item.produced_by.get_username()
    elif (returned := _last_return(item)) is not None:
        event = RETURNED
        payload["reason"] = returned.decision_note
        payload["by"] = _name(returned.completed_by)
    else:
        event = ASSIGNED if item.assignee_id is not None else QUEUED
    return _record(
        holders, event=event, key=str(item.pk), case=item.case, item=item, payload=payload
    )


def first_tasks_opened(*, items: list[WorkItem]) -> int:
    """task_opened for the first tasks of newly launched cases, in one query for the queues'
    members and one insert whatever their number (a first task was never returned, and no
    work was produced before it). Items carry their department (with head) and leader role
    (with holder)."""
    if not settings.NOTIFICATION_HANDOFFS or not items:
        return 0
    queues = {
        i.department_id
        for i in items
        if i.assignee_id is None and i.leader_role_id is None and not i.for_head
    }
    members: dict[int, list] = defaultdict(list)
    through = Department.staff.through
    for link in through.objects.filter(
        department_id__in=queues, user__is_active=True
    ).select_related("user"):
        members[link.department_id].append(link.user)
    now, rows = timezone.now(), []
    for item in items:
        if item.assignee_id is not None:
            holders, event = [item.assignee], ASSIGNED
        elif item.leader_role_id is not None:
            holders, event = [item.leader_role.holder], QUEUED
        elif item.for_head:
            holders, event = [item.department.head], QUEUED
        else:
            holders, event = members[item.department_id], QUEUED
        if item.kind in _DECISION_KINDS:
            event = AWAITING_DECISION
        rows += _rows(holders, event=event, key=str(item.pk), case=item.case, item=item, now=now)
    notifications_record(rows)
    return len(rows)


def task_reassigned(*, item: WorkItem) -> int:
    """A coordinator handed an open task to someone: they are told it is theirs."""
    if item.assignee_id is None:
        return 0
    return _record([item.assignee], event=ASSIGNED, key=str(item.pk), case=item.case, item=item)


def work_decided(*, item: WorkItem) -> int:
    """The producer of the work under review is told it was approved (a return reaches them
    as the returned task's own notice)."""
    if item.produced_by_id is None or item.outcome != Outcome.APPROVED:
        return 0
    return _record(
        [item.produced_by],
        event=DECIDED,
        key=str(item.pk),
        case=item.case,
        item=item,
        payload={
            "outcome": item.outcome,
            "note": item.decision_note,
            "by": _name(item.completed_by),
        },
    )


def extension_awaiting(*, request: ExtensionRequest) -> int:
    """An extension request waits for the head's, then the leader's, decision."""
    case = request.case
    if request.status == "pending_head":
        deciders = [case.lead_department.head]
    elif request.status == "pending_leader":
        deciders = [case.supervising_leader.holder]
    else:
        return 0
    return _record(
        deciders,
        event=EXTENSION_AWAITING,
        key=f"{request.pk}:{request.status}",
        case=case,
        item=request.work_item,
        payload={
            "reason": request.reason,
            "date": request.requested_date.isoformat(),
            "by": _name(request.requested_by),
        },
    )


def extension_decided(*, request: ExtensionRequest, stage: str, approved: bool, note: str) -> int:
    """The person who asked is told each decision on their request (head's, leader's)."""
    return _record(
        [request.requested_by],
        event=EXTENSION_DECIDED,
        key=f"{request.pk}:{stage}",
        case=request.case,
        item=request.work_item,
        payload={
            "approved": approved,
            "stage": stage,
            "note": note,
            "date": request.approved_date.isoformat() if request.approved_date else "",
            "final": request.status in ("approved", "refused"),
        },
    )


def _name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()
