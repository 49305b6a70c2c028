"""Supervision services (督查督办): progress feedback cycles and partner inputs, extension
requests, supervision orders and summons meetings, leader instructions, and the sweep's share.

Like services.py, every change checks who may make it, writes its rows and an audit event in
one transaction. Thresholds and limits are the tables below or admin-edited rows.
"""

import datetime as dt
import itertools
import logging
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Prefetch, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from . import access, deadlines, handoffs, lights
from .audit import audit_record, audit_record_many
from .bounds import check_date, clean_text
from .calendar import WorkingCalendar, due_at_for, local_date
from .channels import rows_for_channels
from .models import (
    Cadence,
    Case,
    CycleStatus,
    Department,
    Escalation,
    ExtensionDecision,
    ExtensionRequest,
    ExtensionStatus,
    FeedbackCycle,
    FeedbackPolicy,
    LeaderInstruction,
    Notification,
    NotificationKind,
    NotificationStatus,
    OrderColour,
    OrderStatus,
    PartnerInput,
    ProgressUpdate,
    StepKind,
    SummonsMeeting,
    SupervisionOrder,
    WorkItem,
    WorkItemStatus,
)

logger = logging.getLogger(__name__)

# Policy as data: each order colour's response limit and what an unanswered one becomes.
ORDER_RESPONSE_WORKING_DAYS = {OrderColour.BLUE: 5, OrderColour.ORANGE: 3, OrderColour.RED: 2}
ORDER_NEXT_COLOUR = {OrderColour.BLUE: OrderColour.ORANGE, OrderColour.ORANGE: OrderColour.RED}
ORDER_COLOUR_RANK = {OrderColour.BLUE: 0, OrderColour.ORANGE: 1, OrderColour.RED: 2}
# The escalation ladder's rungs that issue an order by themselves, and its colour.
ORDER_COLOUR_BY_RUNG = {2: OrderColour.ORANGE, 3: OrderColour.RED}
INSTRUCTION_DEFAULT_WORKING_DAYS = 10


class SupervisionError(ValidationError):
    """A supervision action that cannot be done as asked (the message says why)."""


def _text(value: str, what: str) -> str:
    value = clean_text(value).strip()
    if not value:
        raise SupervisionError(f"{what} is required.")
    return value


def _not_auditor(user) -> None:
    if not user.is_authenticated:
        raise PermissionDenied("Log in first.")
    if access.is_auditor(user):
        raise PermissionDenied("Auditors have read-only access.")


def is_lead_member(user, case: Case) -> bool:
    """Staff or head of the case's lead department."""
    headed, staffed = access.user_department_ids(user)
    return case.lead_department_id in headed | staffed


def is_lead_head(user, case: Case) -> bool:
    headed, _staffed = access.user_department_ids(user)
    return case.lead_department_id in headed


def is_supervising_leader(user, case: Case) -> bool:
    return case.supervising_leader_id in access.user_leader_role_ids(user)


def partner_departments(case: Case):
    """The measure's partner departments, resolved in the case's own organisation."""
    keys = case.measure.partner_departments.values("key")
    return Department.objects.filter(organisation=case.organisation_id, key__in=keys)


def _check_lead_member(user, case: Case) -> None:
    _not_auditor(user)
    if not is_lead_member(user, case):
        raise PermissionDenied("Only the lead department's staff and head can do this.")


def _notification_rows(users, *, kind: str, key: str, case: Case, item=None, payload=None, now):
    """One message per active user (unique key per user); digest-only users get it folded."""
    rows = []
    for user in {u.pk: u for u in users if u is not None and u.is_active}.values():
        digest_only = getattr(getattr(user, "profile", None), "notification_mode", "") == "digest"
        rows.append(
            Notification(
                dedupe_key=f"{key}:{user.pk}",
                recipient=user,
                kind=kind,
                case=case,
                work_item=item,
                due_at=item.due_at if item is not None else None,
                status=NotificationStatus.FOLDED if digest_only else NotificationStatus.PENDING,
                payload=payload or {},
                next_attempt_at=now,
            )
        )
    return rows


def _notify(users, *, kind: str, key: str, case: Case, item=None, payload=None, now):
    """Log one message per user (unique key per user); digest-only users get it folded."""
    rows = _notification_rows(
        users, kind=kind, key=key, case=case, item=item, payload=payload, now=now
    )
    Notification.objects.bulk_create(rows_for_channels(rows), ignore_conflicts=True)
    return len(rows)


def _open_item(case: Case, kind: str | None = None) -> WorkItem | None:
    items = case.work_items.filter(status=WorkItemStatus.OPEN)
    if kind:
        items = items.filter(kind=kind)
    return items.order_by("created_at", "pk").first()


# --------------------------------------------------------------------------- extension requests

EXTENSION_PENDING = (ExtensionStatus.PENDING_HEAD, ExtensionStatus.PENDING_LEADER)


def extension_request(
    *, item: WorkItem, user, reason: str, new_date: dt.date, percent: int, now=None
) -> ExtensionRequest:
    """Staff or head of the responsible department asks for a later date, before the due date.

    The lead department's head decides first, then the supervising leader; a request of the
    head's own goes straight to the leader (nobody decides on their own request).
    """
    now = now or timezone.now()
    _not_auditor(user)
    case = item.case
    headed, staffed = access.user_department_ids(user)
    departments = {item.department_id, case.lead_department_id} - {None}
    if not departments & (headed | staffed):
        raise PermissionDenied("Only the responsible department's staff and head can ask.")
    reason = _text(reason, "A reason")
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


def extension_decide(
    *, request: ExtensionRequest, user, approve: bool, date: dt.date | None = None, note=""
) -> ExtensionRequest:
    """The lead department's head, then the supervising leader, approve (setting the date) or
    refuse; the leader's approval moves the due date through deadlines.deadline_extend."""
    _not_auditor(user)
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
    _not_auditor(user)
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
    from .audit import audit_record_many

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


# --------------------------------------------------------------------------- supervision orders


def _order_create(
    *,
    case: Case,
    colour: str,
    reason: str,
    now,
    by=None,
    escalation: Escalation | None = None,
    stepped_from: SupervisionOrder | None = None,
    calendar: WorkingCalendar | None = None,
) -> SupervisionOrder:
    calendar = calendar or WorkingCalendar.load()
    days = ORDER_RESPONSE_WORKING_DAYS[colour]
    order = SupervisionOrder.objects.create(
        case=case,
        department=case.lead_department,
        colour=colour,
        reason=reason,
        issued_by=by,
        escalation=escalation,
        stepped_from=stepped_from,
        response_working_days=days,
        response_due_at=due_at_for(calendar.add_working_days(local_date(now), days)),
        issued_at=now,
    )
    head = case.lead_department.head
    if colour == OrderColour.RED:
        SummonsMeeting.objects.create(order=order, department_head=head, requested_at=now)
    _notify(
        [head, *case.lead_department.staff.filter(is_active=True)],
        kind=NotificationKind.SUPERVISION,
        key=f"supervision:{order.pk}",
        case=case,
        item=_open_item(case),
        payload={
            "order": order.pk,
            "colour": colour,
            "reason": reason,
            "response_due": order.response_due_at.isoformat(),
        },
        now=now,
    )
    audit_record(
        verb="supervision_order_issued",
        actor=by,
        case=case,
        reason=reason,
        data={
            "order": order.pk,
            "colour": colour,
            "response_due": order.response_due_at,
            "escalation": escalation.pk if escalation else None,
            "stepped_from": stepped_from.pk if stepped_from else None,
        },
    )
    return order


def order_issue(*, case: Case, by, reason: str, colour: str = OrderColour.BLUE, now=None):
    """A coordinator of the case's federation (or one above) issues a supervision order."""
    access.check_can_coordinate(by, case.organisation)
    reason = _text(reason, "A reason")
    if colour not in OrderColour.values:
        raise SupervisionError("Unknown colour.")
    if not case.is_open:
        raise SupervisionError("The case is completed; there is nothing to supervise.")
    with transaction.atomic():
        return _order_create(
            case=case, colour=colour, reason=reason, by=by, now=now or timezone.now()
        )


def _order_reason_from_escalation(escalation: Escalation) -> str:
    return (
        f"Escalation rung {escalation.rung}: “{escalation.work_item.step.title}” was due "
        f"{local_date(escalation.due_at).isoformat()} and is still open."
    )


def orders_from_escalations(*, escalations: list[Escalation], now) -> list[SupervisionOrder]:
    """The ladder's own orders for a batch of fired rungs: rung 2 orange, rung 3 red (see
    ORDER_COLOUR_BY_RUNG), in a fixed number of queries whatever the batch's size.

    Per case, the rungs are taken in the order given, as if fired one by one: a rung issues no
    order when an open order of its colour or higher stands; a lower open order is stepped up
    (superseded) by the new one, which names it in `stepped_from`.
    """
    wanted = [e for e in escalations if e.rung in ORDER_COLOUR_BY_RUNG]
    if not wanted:
        return []
    case_ids = {e.case_id for e in wanted}
    open_orders: dict[int, list[SupervisionOrder]] = {pk: [] for pk in case_ids}
    for order in SupervisionOrder.objects.select_for_update().filter(
        case__in=case_ids, status=OrderStatus.OPEN
    ):
        open_orders[order.case_id].append(order)
    calendar = WorkingCalendar.load()
    response_due = {
        colour: due_at_for(calendar.add_working_days(local_date(now), days))
        for colour, days in ORDER_RESPONSE_WORKING_DAYS.items()
    }
    # A chain per case: the new orders in issue order, each superseding the one before.
    chains: dict[int, list[SupervisionOrder]] = {}
    stepped_up: list[int] = []
    # (standing order replaced, the new order, its rung): audited once the new one has an id.
    replaced: list[tuple[SupervisionOrder, SupervisionOrder, int]] = []
    for escalation in wanted:
        colour = ORDER_COLOUR_BY_RUNG[escalation.rung]
        standing = open_orders[escalation.case_id]
        if any(ORDER_COLOUR_RANK[o.colour] >= ORDER_COLOUR_RANK[colour] for o in standing):
            continue
        lower = max(standing, key=lambda o: ORDER_COLOUR_RANK[o.colour], default=None)
        for order in standing:
            order.status = OrderStatus.STEPPED_UP
            if order.pk is not None:
                stepped_up.append(order.pk)
        case = escalation.work_item.case
        order = SupervisionOrder(
            case=case,
            department_id=case.lead_department_id,
            colour=colour,
            reason=_order_reason_from_escalation(escalation),
            escalation=escalation,
            stepped_from=lower,
            response_working_days=ORDER_RESPONSE_WORKING_DAYS[colour],
            response_due_at=response_due[colour],
            issued_at=now,
        )
        chains.setdefault(escalation.case_id, []).append(order)
        replaced += [(old, order, escalation.rung) for old in standing]
        open_orders[escalation.case_id] = [order]
    if stepped_up:
        SupervisionOrder.objects.filter(pk__in=stepped_up).update(status=OrderStatus.STEPPED_UP)
    # An order superseded in this batch must exist before the one naming it: insert by depth.
    issued: list[SupervisionOrder] = []
    depth = 0
    while wave := [chain[depth] for chain in chains.values() if len(chain) > depth]:
        SupervisionOrder.objects.bulk_create(wave)
        issued += wave
        depth += 1
    audit_record_many(
        [_stepped_up_event(old, new, by=f"escalation rung {rung}") for old, new, rung in replaced]
    )
    _orders_announce(issued, now=now)
    return issued


def _orders_announce(orders: list[SupervisionOrder], *, now) -> None:
    """Summons for the red orders, messages to each lead department, one audit event each."""
    from .audit import audit_record_many

    if not orders:
        return
    departments = {
        d.pk: d
        for d in Department.objects.filter(pk__in={o.department_id for o in orders})
        .select_related("head__profile")
        .prefetch_related(
            Prefetch(
                "staff",
                queryset=get_user_model()
                .objects.filter(is_active=True)
                .select_related("profile")
                .order_by("pk"),
            )
        )
    }
    first_open_item: dict[int, WorkItem] = {}
    for item in (
        WorkItem.objects.filter(case__in={o.case_id for o in orders}, status=WorkItemStatus.OPEN)
        .only("case", "due_at")
        .order_by("-created_at", "-pk")
    ):
        first_open_item[item.case_id] = item  # the earliest is written last
    SummonsMeeting.objects.bulk_create(
        [
            SummonsMeeting(
                order=o, department_head=departments[o.department_id].head, requested_at=now
            )
            for o in orders
            if o.colour == OrderColour.RED
        ]
    )
    rows = []
    for order in orders:
        department = departments[order.department_id]
        rows += _notification_rows(
            [department.head, *department.staff.all()],
            kind=NotificationKind.SUPERVISION,
            key=f"supervision:{order.pk}",
            case=order.case,
            item=first_open_item.get(order.case_id),
            payload={
                "order": order.pk,
                "colour": order.colour,
                "reason": order.reason,
                "response_due": order.response_due_at.isoformat(),
            },
            now=now,
        )
    Notification.objects.bulk_create(
        rows_for_channels(rows), ignore_conflicts=True, batch_size=1000
    )
    audit_record_many(
        [
            {
                "verb": "supervision_order_issued",
                "case": order.case,
                "reason": order.reason,
                "data": {
                    "order": order.pk,
                    "colour": order.colour,
                    "response_due": order.response_due_at,
                    "escalation": order.escalation_id,
                    "stepped_from": order.stepped_from_id,
                },
            }
            for order in orders
        ]
    )


def _stepped_up_event(order: SupervisionOrder, stepped_to: SupervisionOrder, *, by: str) -> dict:
    """The audit event of an order replaced by a stepped-up one (`by`: what stepped it up)."""
    return {
        "verb": "supervision_order_stepped_up",
        "case": stepped_to.case,
        "reason": stepped_to.reason,
        "data": {
            "order": order.pk,
            "colour": order.colour,
            "stepped_to": stepped_to.pk,
            "to_colour": stepped_to.colour,
            "by": by,
        },
    }


def order_respond(*, order: SupervisionOrder, user, text: str) -> SupervisionOrder:
    """The lead department answers an order (what it did, what it will do by when)."""
    _check_lead_member(user, order.case)
    text = _text(text, "A response")
    with transaction.atomic():
        order = SupervisionOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.OPEN:
            raise SupervisionError("This order is no longer waiting for a response.")
        order.status, order.response = OrderStatus.ANSWERED, text
        order.responded_by, order.responded_at = user, timezone.now()
        order.save(update_fields=["status", "response", "responded_by", "responded_at"])
        audit_record(
            verb="supervision_order_answered",
            actor=user,
            case=order.case,
            data={
                "order": order.pk,
                "colour": order.colour,
                "late": order.responded_at > order.response_due_at,
            },
        )
    return order


def orders_step_up(*, now=None, faults=None) -> int:
    """Unanswered orders past their limit step up a colour (red ones stay red and overdue);
    an order that fails is recorded in `faults` (workflows.sweep_faults) and skipped."""
    now = now or timezone.now()
    calendar = WorkingCalendar.load()
    stepped = 0
    due = SupervisionOrder.objects.filter(
        status=OrderStatus.OPEN,
        response_due_at__lt=now,
        colour__in=list(ORDER_NEXT_COLOUR),
    ).values_list("pk", flat=True)
    for pk in list(due[:500]):
        try:
            with transaction.atomic():
                # of=self: PostgreSQL cannot lock the nullable side of the head's outer join.
                order = (
                    SupervisionOrder.objects.select_for_update(of=("self",))
                    .select_related("case__lead_department__head", "case__measure")
                    .get(pk=pk)
                )
                if order.status != OrderStatus.OPEN:
                    continue
                order.status = OrderStatus.STEPPED_UP
                order.save(update_fields=["status"])
                stepped_to = _order_create(
                    case=order.case,
                    colour=ORDER_NEXT_COLOUR[order.colour],
                    reason=(
                        f"No response to the {order.colour} order of "
                        f"{local_date(order.issued_at).isoformat()} by "
                        f"{local_date(order.response_due_at).isoformat()}: {order.reason}"
                    ),
                    stepped_from=order,
                    now=now,
                    calendar=calendar,
                )
                audit_record(**_stepped_up_event(order, stepped_to, by="response overdue"))
                stepped += 1
        except IntegrityError:
            continue  # another sweep stepped it up first (stepped_from is unique)
        except Exception as exc:
            if faults is None:
                raise
            case_id = SupervisionOrder.objects.filter(pk=pk).values_list("case", flat=True)
            faults.record("orders_step_up", exc, case_id=case_id.first())
    return stepped


def summons_record(*, meeting: SummonsMeeting, by, held_on: dt.date, outcome: str):
    """A coordinator records the summons meeting with the department head and its outcome."""
    access.check_can_coordinate(by, meeting.order.case.organisation)
    outcome = _text(outcome, "The outcome")
    check_date(held_on, field="held_on")
    with transaction.atomic():
        meeting.held_on, meeting.outcome, meeting.recorded_by = held_on, outcome, by
        meeting.save(update_fields=["held_on", "outcome", "recorded_by"])
        audit_record(
            verb="summons_recorded",
            actor=by,
            case=meeting.order.case,
            reason=outcome,
            data={"order": meeting.order_id, "held_on": held_on},
        )
    return meeting


# --------------------------------------------------------------------------- leader instructions


def instruction_issue(*, case: Case, leader, text: str, due_date: dt.date | None = None, now=None):
    """A leader's instruction on a case becomes a tracked item with its own due date."""
    _not_auditor(leader)
    if not access.is_leader(leader):
        raise PermissionDenied("Only leaders can write instructions.")
    text = _text(text, "The instruction")
    now = now or timezone.now()
    if due_date is not None:
        check_date(due_date, field="due_date")
    else:
        due_date = WorkingCalendar.load().add_working_days(
            local_date(now), INSTRUCTION_DEFAULT_WORKING_DAYS
        )
    due_at = due_at_for(due_date)
    if due_at <= now:
        raise SupervisionError("The reply date must be in the future.")
    with transaction.atomic():
        instruction = LeaderInstruction.objects.create(
            case=case, leader=leader, text=text, due_at=due_at, created_at=now
        )
        _notify(
            [case.lead_department.head],
            kind=NotificationKind.SUPERVISION,
            key=f"instruction:{instruction.pk}",
            case=case,
            payload={
                "instruction": instruction.pk,
                "text": text,
                "response_due": due_at.isoformat(),
            },
            now=now,
        )
        audit_record(
            verb="instruction_issued",
            actor=leader,
            case=case,
            reason=text,
            data={"instruction": instruction.pk, "due_at": due_at},
        )
    return instruction


def instruction_reply(*, instruction: LeaderInstruction, user, text: str):
    """The lead department replies to a leader's instruction; the item is then closed."""
    _check_lead_member(user, instruction.case)
    text = _text(text, "A reply")
    with transaction.atomic():
        instruction = LeaderInstruction.objects.select_for_update().get(pk=instruction.pk)
        if instruction.replied_at is not None:
            raise SupervisionError("This instruction has already been answered.")
        instruction.reply, instruction.replied_by = text, user
        instruction.replied_at = timezone.now()
        instruction.save(update_fields=["reply", "replied_by", "replied_at"])
        audit_record(
            verb="instruction_replied",
            actor=user,
            case=instruction.case,
            reason=text,
            data={
                "instruction": instruction.pk,
                "late": instruction.replied_at > instruction.due_at,
            },
        )
    return instruction


# --------------------------------------------------------------------------- feedback cycles


@dataclass(frozen=True)
class CyclePolicy:
    cadence: str
    due_working_day: int


DEFAULT_CYCLE_POLICY = CyclePolicy(Cadence.MONTHLY, 5)


def cycle_policies() -> tuple[CyclePolicy, dict[int, CyclePolicy]]:
    """(default, by measure id) from the FeedbackPolicy rows."""
    default, by_measure = DEFAULT_CYCLE_POLICY, {}
    for row in FeedbackPolicy.objects.all():
        policy = CyclePolicy(row.cadence, max(1, row.due_working_day))
        if row.measure_id is None:
            default = policy
        else:
            by_measure[row.measure_id] = policy
    return default, by_measure


def period_bounds(cadence: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The reporting period containing `day`: ISO week, calendar month or quarter."""
    if cadence == Cadence.WEEKLY:
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    if cadence == Cadence.QUARTERLY:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = day.replace(month=first_month, day=1)
        months = 3
    else:
        start, months = day.replace(day=1), 1
    year, month = divmod(start.month - 1 + months, 12)
    return start, dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)


def cycle_due_at(policy: CyclePolicy, period_end: dt.date, calendar: WorkingCalendar):
    """Due at close of office on the n-th working day of the following period."""
    return due_at_for(calendar.add_working_days(period_end, policy.due_working_day))


def _policy_groups(default, by_measure):
    """Each distinct cycle policy with the measures it governs (None: every other measure)."""
    groups: dict[CyclePolicy, set | None] = {}
    for measure_id, policy in by_measure.items():
        if policy != default:
            groups.setdefault(policy, set()).add(measure_id)
    groups[default] = None
    return groups


# On the first of a month every implementing case needs its new cycle (60,000 at national
# scale, 7 s in one insert): each sweep opens at most this many, the next ones the rest.
CYCLES_OPENED_PER_SWEEP = 10_000


def feedback_cycles_open(*, now=None, calendar=None) -> int:
    """Make sure each case with an open implementation step has its current cycle.

    One query per distinct cycle policy finds the cases still without their current cycle
    (an anti-join on the cycle's unique (case, period_start)), one more the missed cycles they
    carry, then one insert: a quiet minute reads only what is missing.
    """
    now = now or timezone.now()
    calendar = calendar or WorkingCalendar.load()
    default, by_measure = cycle_policies()
    groups = _policy_groups(default, by_measure)
    overridden = {m for m, p in by_measure.items() if p != default}
    today = local_date(now)
    rows: list[FeedbackCycle] = []
    for policy, measures in groups.items():
        start, end = period_bounds(policy.cadence, today)
        items = WorkItem.objects.filter(status=WorkItemStatus.OPEN, kind=StepKind.IMPLEMENT)
        if measures is None:
            items = items.exclude(case__measure__in=overridden)
        else:
            items = items.filter(case__measure__in=measures)
        lacking = items.filter(
            ~Exists(FeedbackCycle.objects.filter(case=OuterRef("case"), period_start=start))
        ).order_by("case", "created_at", "pk")
        first_item: dict[int, int] = {}
        for item_id, case_id in lacking.values_list("pk", "case").iterator(chunk_size=5000):
            first_item.setdefault(case_id, item_id)
        room = CYCLES_OPENED_PER_SWEEP - len(rows)
        first_item = dict(itertools.islice(first_item.items(), max(room, 0)))
        if not first_item:
            continue
        missed: dict[int, int] = {}
        carried = FeedbackCycle.objects.filter(
            case__in=first_item, status=CycleStatus.MISSED, carried_to__isnull=True
        ).order_by("case", "-period_start")
        for cycle_id, case_id in carried.values_list("pk", "case"):
            missed.setdefault(case_id, cycle_id)
        due_at = cycle_due_at(policy, end, calendar)
        rows += [
            FeedbackCycle(
                case_id=case_id,
                work_item_id=item_id,
                cadence=policy.cadence,
                period_start=start,
                period_end=end,
                due_at=due_at,
                carried_from_id=missed.get(case_id),
            )
            for case_id, item_id in first_item.items()
        ]
    # The cycles and their audit events (one per cycle) commit together.
    with transaction.atomic():
        opened = _cycles_insert(rows)
        audit_record_many(
            [
                {
                    "verb": "feedback_cycle_opened",
                    "case_id": cycle.case_id,
                    "work_item_id": cycle.work_item_id,
                    "data": {
                        "cycle": cycle.pk,
                        "period_start": cycle.period_start,
                        "period_end": cycle.period_end,
                        "due_at": cycle.due_at,
                        "carried_from": cycle.carried_from_id,
                    },
                }
                for cycle in opened
            ]
        )
    return len(opened)


def _cycles_insert(rows: list[FeedbackCycle]) -> list[FeedbackCycle]:
    """Insert the new cycles; returns those inserted (with ids). A concurrent sweep may have
    opened some (unique per case and period): then each is tried on its own and the ones it
    lost to are skipped."""
    try:
        with transaction.atomic():
            return FeedbackCycle.objects.bulk_create(rows, batch_size=2000)
    except IntegrityError:
        inserted = []
        for row in rows:
            row.pk, row._state.adding = None, True
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                continue
            inserted.append(row)
        return inserted


# Cycles closed as missed per transaction.
CYCLE_CLOSE_BATCH = 1000


def feedback_cycles_close(*, now=None, faults=None) -> int:
    """Record each open cycle past its due date as missed and carry it to the next cycle.

    Batches of cycles are locked (SKIP LOCKED: a concurrent sweep takes the others), closed in
    one UPDATE, linked to their successors in one more and audited in one append. A cycle that
    fails is recorded in `faults` (workflows.sweep_faults) and left for the next sweep.
    """
    from .sweep_faults import SweepFaults

    now = now or timezone.now()
    faults = faults if faults is not None else SweepFaults()
    missed = 0
    failed: set[int] = set()
    while True:
        with transaction.atomic():
            cycles = list(
                FeedbackCycle.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=CycleStatus.OPEN, due_at__lt=now)
                .exclude(pk__in=failed)
                .select_related("case", "work_item")
                .order_by("case", "period_start")[:CYCLE_CLOSE_BATCH]
            )
            if not cycles:
                return missed
            closed = faults.rows(
                "cycles_close",
                cycles,
                lambda rows: _cycles_close(rows, now=now),
                case_of=lambda c: c.case_id,
                item_of=lambda c: c.work_item_id,
            )
            missed += sum(closed)
            if sum(closed) < len(cycles):
                done = set(
                    FeedbackCycle.objects.filter(
                        pk__in=[c.pk for c in cycles], status=CycleStatus.MISSED
                    ).values_list("pk", flat=True)
                )
                failed |= {c.pk for c in cycles} - done


def _cycles_close(cycles: list[FeedbackCycle], *, now) -> int:
    from .audit import audit_record_many

    FeedbackCycle.objects.filter(pk__in=[c.pk for c in cycles]).update(
        status=CycleStatus.MISSED, missed_at=now
    )
    later_by_case: dict[int, list[FeedbackCycle]] = {}
    for later in FeedbackCycle.objects.filter(
        case__in={c.case_id for c in cycles}, carried_from__isnull=True
    ).order_by("period_start"):
        later_by_case.setdefault(later.case_id, []).append(later)
    linked = []
    for cycle in cycles:  # by case and period: a chain of misses links in order
        later = next(
            (
                c
                for c in later_by_case.get(cycle.case_id, [])
                if c.period_start > cycle.period_start and c.carried_from_id is None
            ),
            None,
        )
        if later is not None:
            later.carried_from_id = cycle.pk
            linked.append(later)
    FeedbackCycle.objects.bulk_update(linked, ["carried_from"], batch_size=1000)
    audit_record_many(
        [
            {
                "verb": "feedback_missed",
                "case": cycle.case,
                "work_item": cycle.work_item,
                "data": {
                    "cycle": cycle.pk,
                    "period": cycle.period_start,
                    "due_at": cycle.due_at,
                },
            }
            for cycle in cycles
        ]
    )
    return len(cycles)


def feedback_reminders(*, now=None, calendar=None) -> int:
    """Reminders for open cycles, at the escalation policy's reminder stages (3, 1, 0 days).

    Cycles share a handful of due dates, so the stage is worked out per (due date, policy) and
    only the cycles in a stage that has no reminder yet are read.
    """
    from .escalation import PolicyBook, reminder_stage

    now = now or timezone.now()
    calendar = calendar or WorkingCalendar.load()
    book = PolicyBook.load()
    horizon = due_at_for(calendar.add_working_days(local_date(now), 30))
    upcoming = FeedbackCycle.objects.filter(
        status=CycleStatus.OPEN, due_at__gt=now, due_at__lte=horizon
    )
    due_dates = list(upcoming.values_list("due_at", flat=True).distinct().order_by("due_at"))
    policies = [(None, book.default), *book.by_measure.items()]
    recorded = 0
    for due_at in due_dates:
        for measure_id, policy in policies:
            stage = reminder_stage(policy, calendar, due_at, now)
            if stage is None:
                continue
            cycles = upcoming.filter(due_at=due_at)
            if measure_id is None:
                cycles = cycles.exclude(case__measure__in=list(book.by_measure))
            else:
                cycles = cycles.filter(case__measure=measure_id)
            recorded += _feedback_stage_notify(cycles, stage=stage, now=now)
    return recorded


def _feedback_stage_notify(cycles, *, stage: int, now) -> int:
    """The stage's reminder for each of these cycles that has none yet; returns how many rows."""
    already = Notification.objects.filter(
        work_item=OuterRef("work_item"),
        kind=NotificationKind.FEEDBACK,
        dedupe_key__startswith=Concat(
            Value("feedback:"), Cast(OuterRef("pk"), CharField()), Value(f":{stage}:")
        ),
    )
    staff = Prefetch(
        "work_item__department__staff",
        queryset=get_user_model().objects.filter(is_active=True).select_related("profile"),
    )
    pending = (
        cycles.filter(~Exists(already))
        .select_related(
            "case",
            "work_item__assignee__profile",
            "work_item__department__head__profile",
            "work_item__leader_role__holder__profile",
        )
        .prefetch_related(staff)
        .order_by("pk")
    )
    recorded = 0
    for batch in _chunks(pending.iterator(chunk_size=1000), 1000):
        rows = []
        for cycle in batch:
            rows += _notification_rows(
                access.task_candidate_users(cycle.work_item),
                kind=NotificationKind.FEEDBACK,
                key=f"feedback:{cycle.pk}:{stage}",
                case=cycle.case,
                item=cycle.work_item,
                payload={
                    "cycle": cycle.pk,
                    "period_start": cycle.period_start.isoformat(),
                    "period_end": cycle.period_end.isoformat(),
                    "due": cycle.due_at.isoformat(),
                    "stage": stage,
                },
                now=now,
            )
        Notification.objects.bulk_create(
            rows_for_channels(rows), ignore_conflicts=True, batch_size=1000
        )
        recorded += len(rows)
    return recorded


def _chunks(iterable, size: int):
    batch = []
    for row in iterable:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def feedback_prefill(cycle: FeedbackCycle) -> dict:
    """The report form's starting values: the case's last progress report."""
    last = ProgressUpdate.objects.filter(case=cycle.case_id).order_by("-created_at", "-pk").first()
    if last is None:
        return {"percent": 0, "note": ""}
    return {"percent": last.percent, "note": last.note}


def partner_input_add(*, cycle: FeedbackCycle, user, text: str) -> PartnerInput:
    """A partner department's staff or head gives (or revises) its input for the cycle."""
    _not_auditor(user)
    text = _text(text, "The input")
    headed, staffed = access.user_department_ids(user)
    mine = partner_departments(cycle.case).filter(pk__in=headed | staffed).first()
    if mine is None:
        raise PermissionDenied("Only the measure's partner departments give input here.")
    if cycle.status != CycleStatus.OPEN:
        raise SupervisionError("This cycle is closed; give your input on the current one.")
    with transaction.atomic():
        row, created = PartnerInput.objects.update_or_create(
            cycle=cycle, department=mine, defaults={"author": user, "text": text}
        )
        audit_record(
            verb="partner_input_given",
            actor=user,
            case=cycle.case,
            data={"cycle": cycle.pk, "department": mine.key, "revised": not created},
        )
    return row


def feedback_submit(
    *, cycle: FeedbackCycle, user, percent: int, note: str, inputs=(), files=()
) -> FeedbackCycle:
    """The lead department's consolidated report for the cycle (services.progress_report),
    recording which partner inputs it includes."""
    from . import services

    _check_lead_member(user, cycle.case)
    inputs = list(inputs)
    if any(i.cycle_id != cycle.pk for i in inputs):
        raise SupervisionError("Only this cycle's partner inputs can be included.")
    with transaction.atomic():
        cycle = FeedbackCycle.objects.select_for_update().get(pk=cycle.pk)
        if cycle.status != CycleStatus.OPEN:
            raise SupervisionError(
                f"This cycle is {cycle.get_status_display().lower()}; report on the current one."
            )
        item = cycle.work_item
        if item.status != WorkItemStatus.OPEN:
            item = _open_item(cycle.case, StepKind.IMPLEMENT)
            if item is None:
                raise SupervisionError("The case has no open implementation step.")
        update = services.progress_report(
            item=item, user=user, percent=percent, note=note, files=files
        )
        cycle.report, cycle.status, cycle.submitted_at = (
            update,
            CycleStatus.SUBMITTED,
            timezone.now(),
        )
        cycle.save(update_fields=["report", "status", "submitted_at"])
        cycle.included_inputs.set(inputs)
        audit_record(
            verb="feedback_submitted",
            actor=user,
            case=cycle.case,
            work_item=item,
            data={
                "cycle": cycle.pk,
                "report": update.pk,
                "inputs": sorted(i.department.key for i in inputs),
                "carried_from": cycle.carried_from_id,
            },
        )
    return cycle


# --------------------------------------------------------------------------- the sweep's share


@dataclass
class SupervisionSweep:
    cycles_opened: int = 0
    cycles_missed: int = 0
    feedback_reminders: int = 0
    orders_stepped_up: int = 0
    lights_refreshed: int = 0
    # Seconds per part, for the logs and the bench.
    seconds: dict = field(default_factory=dict)


def supervision_sweep(*, now=None, faults=None) -> SupervisionSweep:
    """Called by escalation.sweep_run: cycles, their reminders, order step-ups and lights.
    Each part runs whatever happened to the others; a failure is recorded in `faults`
    (workflows.sweep_faults) and skipped."""
    from .sweep_faults import SweepFaults

    now = now or timezone.now()
    faults = faults if faults is not None else SweepFaults()
    calendar = faults.part("calendar", WorkingCalendar.load)
    result = SupervisionSweep()

    def timed(part, run):
        started = time.perf_counter()
        value = faults.part(part, run, default=0)
        result.seconds[part] = time.perf_counter() - started
        return value

    result.cycles_missed = timed(
        "cycles_close", lambda: feedback_cycles_close(now=now, faults=faults)
    )
    result.cycles_opened = timed(
        "cycles_open", lambda: feedback_cycles_open(now=now, calendar=calendar)
    )
    result.feedback_reminders = timed(
        "feedback_reminders", lambda: feedback_reminders(now=now, calendar=calendar)
    )
    result.orders_stepped_up = timed(
        "orders_step_up", lambda: orders_step_up(now=now, faults=faults)
    )
    result.lights_refreshed = timed("lights", lambda: lights.lights_sweep(now=now, faults=faults))
    logger.info("supervision sweep: %s", result)
    return result
