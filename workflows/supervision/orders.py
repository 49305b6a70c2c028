"""Supervision orders (督办单): issued by hand or by the escalation ladder, answered by the lead
department, stepped up blue -> orange -> red when unanswered; and summons meetings.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from workflows.audit.trail import audit_record, audit_record_many
from workflows.common import reach as access
from workflows.common.bounds import check_date
from workflows.common.calendar import WorkingCalendar, due_at_for, local_date
from workflows.models import (
    Case,
    Department,
    Escalation,
    Notification,
    NotificationKind,
    OrderColour,
    OrderStatus,
    SummonsMeeting,
    SupervisionOrder,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications.channels import rows_for_channels
from workflows.notifications.log import notification_rows, stand_ins_load
from workflows.supervision.base import (
    SupervisionError,
    case_open_item,
    check_lead_member,
    notify_users,
    required_text,
)

# Policy as data: each order colour's response limit and what an unanswered one becomes.
ORDER_RESPONSE_WORKING_DAYS: dict[str, int] = {
    OrderColour.BLUE: 5,
    OrderColour.ORANGE: 3,
    OrderColour.RED: 2,
}


ORDER_NEXT_COLOUR: dict[str, str] = {
    OrderColour.BLUE: OrderColour.ORANGE,
    OrderColour.ORANGE: OrderColour.RED,
}


ORDER_COLOUR_RANK: dict[str, int] = {OrderColour.BLUE: 0, OrderColour.ORANGE: 1, OrderColour.RED: 2}


# The escalation ladder's rungs that issue an order by themselves, and its colour.
ORDER_COLOUR_BY_RUNG: dict[int, str] = {2: OrderColour.ORANGE, 3: OrderColour.RED}


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
    notify_users(
        [head, *case.lead_department.staff.filter(is_active=True)],
        kind=NotificationKind.SUPERVISION,
        key=f"supervision:{order.pk}",
        case=case,
        item=case_open_item(case),
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
    reason = required_text(reason, "A reason")
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
    from workflows.audit.trail import audit_record_many

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
    told = {
        order.pk: [departments[order.department_id].head]
        + list(departments[order.department_id].staff.all())
        for order in orders
    }
    stand_ins = stand_ins_load([u for users in told.values() for u in users])
    for order in orders:
        rows += notification_rows(
            told[order.pk],
            stand_ins=stand_ins,
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
    check_lead_member(user, order.case)
    text = required_text(text, "A response")
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
    an order that fails is recorded in `faults` (workflows.deadlines.sweep_faults) and skipped."""
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
    outcome = required_text(outcome, "The outcome")
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
