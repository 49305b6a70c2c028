"""Due dates: set when a task opens, extended, paused and resumed, recomputed when the calendar
changes. Every move is a DeadlineChange row plus an audit event."""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from workflows.audit.trail import audit_record, audit_record_many
from workflows.common import reach as access
from workflows.common.bounds import check_date, clean_text
from workflows.common.calendar import WorkingCalendar, at_local, due_at_for, local_date
from workflows.deadlines.policy import (
    PolicyBook,
    alert_floor,
    alert_floor_delta,
    alerts_reset,
    longest_reminder_notice,
)
from workflows.models import (
    Case,
    DeadlineChange,
    DeadlineChangeKind,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)

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


def _lockedcase_open_item(item: WorkItem) -> WorkItem:
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
        item = _lockedcase_open_item(item)
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
        deadline_caps_follow(cases=[item.case_id], by=by, reason="parent case's deadline extended")
    return item


def task_pause(*, item: WorkItem, by, reason: str) -> WorkItem:
    """Stop the task's clock (e.g. waiting on an outside decision) until it is resumed."""
    check_can_manage_deadline(by, item)
    reason = _require_reason(reason, "pause a task")
    with transaction.atomic():
        item = _lockedcase_open_item(item)
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
        item = _lockedcase_open_item(item)
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
        deadline_caps_follow(cases=[item.case_id], by=by, reason="parent case's task resumed")
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
        # A parent's overall deadline counts its remaining steps on the calendar too, so every
        # parent's children may move, whether its own open task did or not.
        parents = Case.objects.filter(is_open=True, child_cases__is_open=True).distinct()
        deadline_caps_follow(
            cases=parents.values_list("pk", flat=True),
            by=by,
            reason="calendar: " + ", ".join(d.isoformat() for d in changed),
            calendar=calendar,
        )
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


def calendar_days_changed(
    *, verb: str, days: list[dict], by=None, data=None, also: Iterable[dt.date] = ()
) -> int:
    """After calendar overrides were saved, imported or deleted (`days`: their date, kind and
    name; `also`: other dates they changed, e.g. an override's previous date): move the open
    due dates they shift and audit the change with how many moved, in the caller's
    transaction. Returns how many due dates moved."""
    dates = sorted({day["date"] for day in days} | set(also))
    with transaction.atomic():
        moved = due_dates_recompute(changed_dates=dates, by=by)
        audit_record(
            verb=verb,
            actor=by,
            data={
                **(data or {}),
                "dates": dates,
                "days": [
                    {"date": d["date"], "kind": d["kind"], "name": d.get("name", "")}
                    for d in sorted(days, key=lambda d: d["date"])
                ],
                "moved": moved,
            },
        )
    return moved


# --------------------------------------------------------------------------- cascade caps


def overall_deadlines(case_ids: Iterable[int], *, calendar=None) -> dict[int, dt.datetime]:
    """The overall deadline (case_overall_deadline) of each of these cases that has an open,
    dated task, in three queries whatever their number."""
    latest: dict[int, tuple] = {}
    open_items = WorkItem.objects.filter(
        case__in=list(case_ids), status=WorkItemStatus.OPEN, due_at__isnull=False
    ).values_list("case_id", "due_at", "step__position", "case__measure_id", "case__deadline_cap")
    for case_id, due_at, position, measure_id, cap in open_items:
        if case_id not in latest or due_at > latest[case_id][0]:
            latest[case_id] = (due_at, position, measure_id, cap)
    if not latest:
        return {}
    steps: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for measure_id, position, days in StepTemplate.objects.filter(
        measure__in={row[2] for row in latest.values()}
    ).values_list("measure_id", "position", "working_days"):
        steps[measure_id].append((position, days))
    calendar = calendar or WorkingCalendar.load()
    projected: dict[tuple[dt.date, int], dt.datetime] = {}
    deadlines = {}
    for case_id, (due_at, position, measure_id, cap) in latest.items():
        remaining = sum(days for later, days in steps[measure_id] if later > position)
        last = due_at
        if remaining:
            key = (local_date(due_at), remaining)
            if key not in projected:
                projected[key] = due_at_for(calendar.add_working_days(*key))
            last = projected[key]
        deadlines[case_id] = _capped(last, cap)
    return deadlines


def case_overall_deadline(case, *, calendar=None) -> dt.datetime | None:
    """The case's overall deadline: the projected due date of its last step, that is its open
    step's due date plus the remaining steps' working days on the working calendar, never
    after the case's own cap. None without an open, dated task. Cascaded children are capped
    by it (workflows.cases.cascade)."""
    return overall_deadlines([case.pk], calendar=calendar).get(case.pk)


# Levels walked at most by one move: national, provincial, prefecture, county and below.
_CASCADE_DEPTH_LIMIT = 10


def deadline_caps_follow(*, cases: Iterable[int], by=None, reason: str, calendar=None) -> int:
    """After these cases' deadlines may have moved: move their open children's caps to their
    overall deadline, and so on down the tree, each child's capped open tasks with it.

    Runs in the caller's transaction; each move is a `cap_moved` DeadlineChange per open task
    and a `deadline_cap_moved` event per child. Set-based: a fixed number of queries per
    level of the tree, whatever the number of children. Returns how many caps moved.
    """
    pending = set(cases)
    # Whether `pending` may hold a case and its own parent (only the cases given may).
    mixed = len(pending) > 1
    moved = 0
    for _level in range(_CASCADE_DEPTH_LIMIT):
        if not pending:
            break
        waiting: set[int] = set()
        if mixed:
            # Top-down: a case whose parent is pending too waits until its own cap has moved.
            below = Case.objects.filter(pk__in=pending, parent_case__in=pending)
            waiting = set(below.values_list("pk", flat=True))
            mixed = bool(waiting)
        level = pending - waiting
        children = list(
            Case.objects.filter(parent_case__in=level, is_open=True)
            .only("deadline_cap", "parent_case")
            .order_by("pk")
        )
        moves: list[tuple[Case, dt.datetime]] = []
        if children:
            calendar = calendar or WorkingCalendar.load()
            overall = overall_deadlines({c.parent_case_id for c in children}, calendar=calendar)
            for child in children:
                new = overall.get(child.parent_case_id)
                if new is not None and new != child.deadline_cap:
                    moves.append((child, new))
        if moves:
            _caps_move(moves, by=by, reason=reason, calendar=calendar)
            moved += len(moves)
        pending = waiting | {child.pk for child, _new in moves}
    return moved


def _caps_move(moves: list[tuple[Case, dt.datetime]], *, by, reason: str, calendar) -> None:
    """Store the new caps, move the open tasks they bound, record it all (set-based)."""
    new_cap = {child.pk: new for child, new in moves}
    by_cap: dict[dt.datetime, list[int]] = defaultdict(list)
    for child, new in moves:
        by_cap[new].append(child.pk)
    for new, ids in by_cap.items():
        Case.objects.filter(pk__in=ids).update(deadline_cap=new)
    items = list(
        WorkItem.objects.filter(case__in=list(new_cap), status=WorkItemStatus.OPEN)
        .only("case", "due_at", "due_start", "due_working_days", "due_fixed")
        .order_by("case_id", "created_at", "task_id")
    )
    old_cap = {child.pk: child.deadline_cap for child, _new in moves}
    computed: dict[tuple[dt.date, int], dt.datetime] = {}
    due_moves: dict[dt.datetime, list[int]] = defaultdict(list)
    new_due: dict[int, dt.datetime | None] = {}
    for item in items:
        due = item.due_at
        cap = new_cap[item.case_id]
        # Extended (fixed) dates are a coordinator's decision and stay.
        if due is not None and not item.due_fixed:
            if due == old_cap[item.case_id] and item.due_start is not None:
                # Cut short by the old cap: its own count, bounded by the new one.
                key = (item.due_start, item.due_working_days)
                if key not in computed:
                    computed[key] = due_at_for(calendar.add_working_days(*key))
                due = min(computed[key], cap)
            elif due > cap:
                due = cap
        new_due[item.pk] = due
        if due != item.due_at:
            due_moves[due].append(item.pk)
    if due_moves:
        notice = longest_reminder_notice()
        for due, ids in due_moves.items():
            WorkItem.objects.filter(pk__in=ids).update(
                due_at=due, next_alert_at=alert_floor(due, notice)
            )
    DeadlineChange.objects.bulk_create(
        [
            DeadlineChange(
                work_item=item,
                kind=DeadlineChangeKind.CAP_MOVED,
                old_due_at=item.due_at,
                new_due_at=new_due[item.pk],
                reason=reason,
                by=by,
            )
            for item in items
        ],
        batch_size=1000,
    )
    first_item: dict[int, WorkItem] = {}
    tasks_moved: dict[int, list[dict]] = defaultdict(list)
    for item in items:
        first_item.setdefault(item.case_id, item)
        if new_due[item.pk] != item.due_at:
            tasks_moved[item.case_id].append(
                {"task": item.pk, "from": item.due_at, "to": new_due[item.pk]}
            )
    audit_record_many(
        [
            {
                "verb": "deadline_cap_moved",
                "actor": by,
                "case": child,
                "work_item": first_item.get(child.pk),
                "reason": reason,
                "data": {
                    "from": child.deadline_cap,
                    "to": new,
                    "parent_case": child.parent_case_id,
                    **({"tasks": tasks_moved[child.pk]} if tasks_moved[child.pk] else {}),
                },
            }
            for child, new in moves
        ]
    )
