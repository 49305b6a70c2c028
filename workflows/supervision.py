"""Supervision services (督查督办): progress feedback cycles and partner inputs, extension
requests, supervision orders and summons meetings, leader instructions, and the sweep's share.

Like services.py, every change checks who may make it, writes its rows and an audit event in
one transaction. Thresholds and limits are the tables below or admin-edited rows.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import access, deadlines, lights, roles
from .audit import audit_record
from .calendar import WorkingCalendar, due_at_for, local_date
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
    value = (value or "").strip()
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


def is_leader(user) -> bool:
    """Holds a leader role or belongs to the leaders group."""
    return bool(access.user_leader_role_ids(user)) or access._in_group(user, roles.LEADERS)


def partner_departments(case: Case):
    """The measure's partner departments, resolved in the case's own organisation."""
    keys = case.measure.partner_departments.values("key")
    return Department.objects.filter(organisation=case.organisation_id, key__in=keys)


def _check_lead_member(user, case: Case) -> None:
    _not_auditor(user)
    if not is_lead_member(user, case):
        raise PermissionDenied("Only the lead department's staff and head can do this.")


def _notify(users, *, kind: str, key: str, case: Case, item=None, payload=None, now):
    """Log one message per user (unique key per user); digest-only users get it folded."""
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
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _open_item(case: Case, kind: str | None = None) -> WorkItem | None:
    items = case.work_items.filter(status=WorkItemStatus.OPEN)
    if kind:
        items = items.filter(kind=kind)
    return items.order_by("created_at", "pk").first()


# --------------------------------------------------------------------------- extension requests


def extension_request(
    *, item: WorkItem, user, reason: str, new_date: dt.date, percent: int, now=None
) -> ExtensionRequest:
    """Staff or head of the responsible department asks for a later date, before the due date."""
    now = now or timezone.now()
    _not_auditor(user)
    case = item.case
    headed, staffed = access.user_department_ids(user)
    departments = {item.department_id, case.lead_department_id} - {None}
    if not departments & (headed | staffed):
        raise PermissionDenied("Only the responsible department's staff and head can ask.")
    reason = _text(reason, "A reason")
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
        if item.extension_requests.filter(
            status__in=(ExtensionStatus.PENDING_HEAD, ExtensionStatus.PENDING_LEADER)
        ).exists():
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
        )
        audit_record(
            verb="extension_requested",
            actor=user,
            case=case,
            work_item=item,
            reason=reason,
            data={"request": request.pk, "date": new_date, "percent": percent, "due": item.due_at},
        )
    return request


def extension_decide(
    *, request: ExtensionRequest, user, approve: bool, date: dt.date | None = None, note=""
) -> ExtensionRequest:
    """The lead department's head, then the supervising leader, approve (setting the date) or
    refuse; the leader's approval moves the due date through deadlines.deadline_extend."""
    _not_auditor(user)
    note = (note or "").strip()
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
            raise SupervisionError("This request has already been decided.")
        if request.requested_by_id == user.pk:
            raise PermissionDenied("Separation of duties: someone else decides on your request.")
        previous = request.decisions.filter(approved=True).order_by("-at", "-pk").first()
        date = date or (previous.date if previous else None) or request.requested_date
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
        if request.status == ExtensionStatus.APPROVED:
            lights.case_lights_refresh(case=case, now=now)
    return request


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
    """A coordinator issues a supervision order on a lagging case."""
    access.check_can_coordinate(by)
    reason = _text(reason, "A reason")
    if colour not in OrderColour.values:
        raise SupervisionError("Unknown colour.")
    if not case.is_open:
        raise SupervisionError("The case is completed; there is nothing to supervise.")
    with transaction.atomic():
        return _order_create(
            case=case, colour=colour, reason=reason, by=by, now=now or timezone.now()
        )


def order_from_escalation(*, escalation: Escalation, rung: int, now) -> SupervisionOrder | None:
    """The ladder's own order: rung 2 orange, rung 3 red (see ORDER_COLOUR_BY_RUNG).

    Not issued when an open order of that colour or higher already stands on the case; a
    lower open order is superseded (stepped up) by the new one.
    """
    colour = ORDER_COLOUR_BY_RUNG.get(rung)
    if colour is None:
        return None
    case = escalation.case
    open_orders = list(
        SupervisionOrder.objects.select_for_update().filter(case=case, status=OrderStatus.OPEN)
    )
    if any(ORDER_COLOUR_RANK[o.colour] >= ORDER_COLOUR_RANK[colour] for o in open_orders):
        return None
    lower = max(open_orders, key=lambda o: ORDER_COLOUR_RANK[o.colour], default=None)
    for order in open_orders:
        order.status = OrderStatus.STEPPED_UP
        order.save(update_fields=["status"])
    item = escalation.work_item
    return _order_create(
        case=case,
        colour=colour,
        reason=(
            f"Escalation rung {rung}: “{item.step.title}” was due "
            f"{local_date(escalation.due_at).isoformat()} and is still open."
        ),
        escalation=escalation,
        stepped_from=lower,
        now=now,
    )


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


def orders_step_up(*, now=None) -> int:
    """Unanswered orders past their limit step up a colour (red ones stay red and overdue)."""
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
                _order_create(
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
                stepped += 1
        except IntegrityError:
            continue  # another sweep stepped it up first (stepped_from is unique)
    return stepped


def summons_record(*, meeting: SummonsMeeting, by, held_on: dt.date, outcome: str):
    """A coordinator records the summons meeting with the department head and its outcome."""
    access.check_can_coordinate(by)
    outcome = _text(outcome, "The outcome")
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
    if not is_leader(leader):
        raise PermissionDenied("Only leaders can write instructions.")
    text = _text(text, "The instruction")
    now = now or timezone.now()
    if due_date is None:
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


def feedback_cycles_open(*, now=None, calendar=None) -> int:
    """Make sure each case with an open implementation step has its current cycle."""
    now = now or timezone.now()
    calendar = calendar or WorkingCalendar.load()
    default, by_measure = cycle_policies()
    items = WorkItem.objects.filter(
        status=WorkItemStatus.OPEN, kind=StepKind.IMPLEMENT
    ).select_related("case")
    today = local_date(now)
    created = 0
    for item in items.iterator(chunk_size=500):
        policy = by_measure.get(item.case.measure_id, default)
        start, end = period_bounds(policy.cadence, today)
        if FeedbackCycle.objects.filter(case=item.case_id, period_start=start).exists():
            continue
        missed = (
            FeedbackCycle.objects.filter(
                case=item.case_id, status=CycleStatus.MISSED, carried_to__isnull=True
            )
            .order_by("-period_start")
            .first()
        )
        try:
            with transaction.atomic():
                FeedbackCycle.objects.create(
                    case=item.case,
                    work_item=item,
                    cadence=policy.cadence,
                    period_start=start,
                    period_end=end,
                    due_at=cycle_due_at(policy, end, calendar),
                    carried_from=missed,
                )
        except IntegrityError:
            continue  # a concurrent sweep opened it
        created += 1
    return created


def feedback_cycles_close(*, now=None) -> int:
    """Record each open cycle past its due date as missed and carry it to the next cycle."""
    now = now or timezone.now()
    missed = 0
    for cycle in FeedbackCycle.objects.filter(status=CycleStatus.OPEN, due_at__lt=now)[:1000]:
        with transaction.atomic():
            updated = FeedbackCycle.objects.filter(pk=cycle.pk, status=CycleStatus.OPEN).update(
                status=CycleStatus.MISSED, missed_at=now
            )
            if not updated:
                continue
            later = (
                FeedbackCycle.objects.filter(
                    case=cycle.case_id, period_start__gt=cycle.period_start, carried_from=None
                )
                .order_by("period_start")
                .first()
            )
            if later is not None:
                later.carried_from = cycle
                later.save(update_fields=["carried_from"])
            audit_record(
                verb="feedback_missed",
                case=cycle.case,
                work_item=cycle.work_item,
                data={"cycle": cycle.pk, "period": cycle.period_start, "due_at": cycle.due_at},
            )
            missed += 1
    return missed


def feedback_reminders(*, now=None, calendar=None) -> int:
    """Reminders for open cycles, at the escalation policy's reminder stages (3, 1, 0 days)."""
    from .escalation import PolicyBook, reminder_stage

    now = now or timezone.now()
    calendar = calendar or WorkingCalendar.load()
    book = PolicyBook.load()
    horizon = due_at_for(calendar.add_working_days(local_date(now), 30))
    recorded = 0
    cycles = FeedbackCycle.objects.filter(
        status=CycleStatus.OPEN, due_at__gt=now, due_at__lte=horizon
    ).select_related("case", "work_item__assignee", "work_item__department")
    for cycle in cycles:
        stage = reminder_stage(book.for_measure(cycle.case.measure_id), calendar, cycle.due_at, now)
        if stage is None:
            continue
        recorded += _notify(
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
    return recorded


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


def supervision_sweep(*, now=None) -> SupervisionSweep:
    """Called by escalation.sweep_run: cycles, their reminders, order step-ups and lights."""
    now = now or timezone.now()
    calendar = WorkingCalendar.load()
    result = SupervisionSweep()
    result.cycles_missed = feedback_cycles_close(now=now)
    result.cycles_opened = feedback_cycles_open(now=now, calendar=calendar)
    result.feedback_reminders = feedback_reminders(now=now, calendar=calendar)
    result.orders_stepped_up = orders_step_up(now=now)
    result.lights_refreshed = lights.lights_sweep(now=now)
    logger.info("supervision sweep: %s", result)
    return result
