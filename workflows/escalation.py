"""Reminder and escalation policy (data), who each rung reaches, and the sweep that applies it.

The sweep is idempotent: every reminder and rung it records has a unique key (Notification
.dedupe_key, Escalation(work_item, rung, due_at)), so overlapping sweeps, a worker dying half
way, or a catch-up after downtime never record the same message twice.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import access, roles
from .audit import audit_record
from .calendar import WorkingCalendar, at_local, due_at_for, local_date
from .models import (
    Escalation,
    EscalationPolicy,
    LeaderRole,
    Notification,
    NotificationKind,
    NotificationStatus,
    Rag,
    Recipient,
    WorkItem,
    WorkItemStatus,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rung:
    rung: int
    working_days_after_due: int
    notify: tuple[str, ...]
    turns_case_red: bool = False


@dataclass(frozen=True)
class Policy:
    reminder_days_before: tuple[int, ...]
    reminder_hour: int
    rungs: tuple[Rung, ...]


# Used when the database holds no default policy row (the migration creates one from this).
DEFAULT_POLICY = Policy(
    reminder_days_before=(3, 1, 0),
    reminder_hour=9,
    rungs=(
        Rung(1, 0, (Recipient.ASSIGNEE, Recipient.DEPARTMENT_HEAD)),
        Rung(2, 2, (Recipient.SUPERVISING_LEADER,)),
        Rung(3, 5, (Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN), turns_case_red=True),
    ),
)


def _policy_from_row(row: EscalationPolicy) -> Policy:
    return Policy(
        reminder_days_before=tuple(sorted(set(row.reminder_days_before or ()), reverse=True)),
        reminder_hour=row.reminder_hour,
        rungs=tuple(
            Rung(r.rung, r.working_days_after_due, tuple(r.notify), r.turns_case_red)
            for r in sorted(row.rungs.all(), key=lambda r: r.rung)
        ),
    )


@dataclass
class PolicyBook:
    """All policies, loaded once per sweep: the default plus per-measure overrides."""

    default: Policy
    by_measure: dict[int, Policy] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "PolicyBook":
        default, by_measure = DEFAULT_POLICY, {}
        for row in EscalationPolicy.objects.prefetch_related("rungs"):
            if row.measure_id is None:
                default = _policy_from_row(row)
            else:
                by_measure[row.measure_id] = _policy_from_row(row)
        return cls(default, by_measure)

    def for_measure(self, measure_id: int) -> Policy:
        return self.by_measure.get(measure_id, self.default)


def policy_for_measure(measure) -> Policy:
    """The policy that applies to a measure: its override, else the default."""
    return PolicyBook.load().for_measure(measure.pk)


# --------------------------------------------------------------------------- recipients


def coordinators_of(organisation_id: int) -> list:
    """The active coordinators whose home organisation is this one."""
    return list(
        get_user_model().objects.filter(
            groups__name=roles.COORDINATORS, is_active=True, profile__organisation=organisation_id
        )
    )


def parent_coordinators(case) -> list:
    """For a cascaded case, the coordinators of the parent case's organisation; else []."""
    if case.parent_case_id is None:
        return []
    parent_organisation = (
        type(case).objects.filter(pk=case.parent_case_id).values_list("organisation", flat=True)
    )
    return coordinators_of(parent_organisation[0])


def recipients_for(item: WorkItem, key: str) -> list:
    """The active users a policy recipient key names for this task."""
    case = item.case
    if key == Recipient.ASSIGNEE:
        users = access.task_candidate_users(item)
    elif key == Recipient.DEPARTMENT_HEAD:
        department = item.department or case.lead_department
        users = [department.head] if department.head_id else []
    elif key == Recipient.SUPERVISING_LEADER:
        holder = case.supervising_leader.holder
        users = [holder] if holder else []
    elif key in (Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN):
        role = (
            LeaderRole.objects.filter(organisation=case.organisation_id, key=key)
            .select_related("holder")
            .first()
        )
        users = [role.holder] if role and role.holder_id else []
    elif key == Recipient.COORDINATORS:
        users = coordinators_of(case.organisation_id)
    else:
        raise ValueError(f"unknown recipient {key!r}")
    return [u for u in users if u is not None and u.is_active]


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    now: dt.datetime
    timers_fired: int = 0
    reminders: int = 0
    escalations: int = 0
    delivered: int = 0
    failed: int = 0
    reports_resent: int = 0
    supervision: object = None

    def __str__(self) -> str:
        return (
            f"sweep at {self.now.isoformat()}: {self.reminders} reminders and "
            f"{self.escalations} escalations recorded, {self.delivered} messages sent, "
            f"{self.failed} failed, {self.timers_fired} viewflow timers fired"
            + (f", {self.reports_resent} reports re-sent" if self.reports_resent else "")
        )


def reminder_stage(policy: Policy, calendar: WorkingCalendar, due_at, now) -> int | None:
    """The reminder whose time has come (fewest days before due), or None.

    Only the latest passed stage counts: after downtime the user gets one reminder, not three.
    """
    if now >= due_at:
        return None
    due_day = local_date(due_at)
    stage = None
    for days_before in policy.reminder_days_before:  # largest first
        send_at = at_local(
            calendar.subtract_working_days(due_day, days_before), dt.time(policy.reminder_hour)
        )
        if send_at <= now:
            stage = days_before
    return stage


def rung_time(calendar: WorkingCalendar, due_at, rung: Rung) -> dt.datetime:
    """When a rung fires: its working days after the due day, at the due time of day."""
    if rung.working_days_after_due == 0:
        return due_at
    day = calendar.add_working_days(local_date(due_at), rung.working_days_after_due)
    return due_at_for(day)


def notification_key(kind: str, item_id: int, rung: int, due_at, user_id: int) -> str:
    return f"{kind}:{item_id}:{rung}:{due_at.isoformat()}:{user_id}"


def _notification_rows(item, users, *, kind, rung, now) -> list[Notification]:
    rows = []
    for user in {u.pk: u for u in users}.values():
        digest_only = getattr(getattr(user, "profile", None), "notification_mode", "") == "digest"
        rows.append(
            Notification(
                dedupe_key=notification_key(kind, item.pk, rung, item.due_at, user.pk),
                recipient=user,
                kind=kind,
                case=item.case,
                work_item=item,
                rung=rung,
                due_at=item.due_at,
                status=NotificationStatus.FOLDED if digest_only else NotificationStatus.PENDING,
                next_attempt_at=now,
            )
        )
    return rows


def escalation_fire(*, item: WorkItem, rung: Rung, now) -> Escalation | None:
    """Record one rung for one task: the escalation, its messages, the audit event, the RAG.

    Returns None when another sweep already fired it (the unique row is the claim).
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(
                    case=item.case, work_item=item, rung=rung.rung, due_at=item.due_at, fired_at=now
                )
        except IntegrityError:
            return None
        users = [u for key in rung.notify for u in recipients_for(item, key)]
        # A child case turning red is the parent federation's business too: its coordinators
        # hear of it (each still gets one message: the dedupe key names the user).
        upward = parent_coordinators(item.case) if rung.turns_case_red else []
        users += upward
        rows = _notification_rows(
            item, users, kind=NotificationKind.ESCALATION, rung=rung.rung, now=now
        )
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        case = item.case
        new_rag = Rag.RED if rung.turns_case_red else (Rag.AMBER if case.rag == Rag.GREEN else None)
        if new_rag and case.rag != new_rag:
            case.rag = new_rag
            case.save(update_fields=["rag"])
        audit_record(
            verb="escalated",
            case=case,
            work_item=item,
            data={
                "rung": rung.rung,
                "due_at": item.due_at,
                "notified": sorted({u.get_username() for u in users}),
                **({"parent_notified": sorted(u.get_username() for u in upward)} if upward else {}),
                "rag": case.rag,
            },
        )
        from .supervision import order_from_escalation

        order_from_escalation(escalation=escalation, rung=rung.rung, now=now)
    return escalation


def _open_timed_items(horizon: dt.datetime):
    return (
        WorkItem.objects.filter(
            status=WorkItemStatus.OPEN, paused_at__isnull=True, due_at__lte=horizon
        )
        .select_related(
            "case__supervising_leader__holder",
            "case__lead_department__head",
            "assignee__profile",
            "department__head",
            "leader_role__holder",
        )
        .order_by("due_at", "pk")
    )


def sweep_run(*, now: dt.datetime | None = None, deliver: bool = True) -> SweepResult:
    """One sweep as if at `now`: fire viewflow timers, record due reminders and rungs, send."""
    from viewflow.workflow.timers import fire_due_timers

    from .notifications import notifications_deliver_due

    now = now or timezone.now()
    result = SweepResult(now=now)
    result.timers_fired = fire_due_timers()
    from .services import report_list_recover

    result.reports_resent = report_list_recover()
    calendar, book = WorkingCalendar.load(), PolicyBook.load()
    longest_notice = max(
        [max(p.reminder_days_before, default=0) for p in [book.default, *book.by_measure.values()]]
    )
    # Reminders can be due for tasks due up to `longest_notice` working days ahead, no further.
    horizon = due_at_for(calendar.add_working_days(local_date(now), longest_notice + 1))
    items = list(_open_timed_items(horizon))
    item_ids = [i.pk for i in items]
    fired = set()
    sent_stages = set()
    for chunk_start in range(0, len(item_ids), 5000):
        chunk = item_ids[chunk_start : chunk_start + 5000]
        fired.update(
            Escalation.objects.filter(work_item__in=chunk).values_list(
                "work_item", "rung", "due_at"
            )
        )
        sent_stages.update(
            Notification.objects.filter(
                work_item__in=chunk, kind=NotificationKind.REMINDER
            ).values_list("work_item", "rung", "due_at")
        )
    reminder_rows = []
    for item in items:
        policy = book.for_measure(item.case.measure_id)
        if now < item.due_at:
            stage = reminder_stage(policy, calendar, item.due_at, now)
            if stage is not None and (item.pk, stage, item.due_at) not in sent_stages:
                reminder_rows += _notification_rows(
                    item,
                    recipients_for(item, Recipient.ASSIGNEE),
                    kind=NotificationKind.REMINDER,
                    rung=stage,
                    now=now,
                )
            continue
        for rung in policy.rungs:
            if (item.pk, rung.rung, item.due_at) in fired or rung_time(
                calendar, item.due_at, rung
            ) > now:
                continue
            if escalation_fire(item=item, rung=rung, now=now) is not None:
                result.escalations += 1
    if reminder_rows:
        # Count only this sweep's keys (a unique index), not the whole log, which holds every
        # reminder ever sent; a concurrent sweep may have recorded some of them first.
        keys = [row.dedupe_key for row in reminder_rows]
        before = Notification.objects.filter(dedupe_key__in=keys).count()
        Notification.objects.bulk_create(reminder_rows, ignore_conflicts=True, batch_size=1000)
        result.reminders = Notification.objects.filter(dedupe_key__in=keys).count() - before
    from .supervision import supervision_sweep

    result.supervision = supervision_sweep(now=now)
    if deliver:
        delivery = notifications_deliver_due(now=now)
        result.delivered, result.failed = delivery.sent, delivery.failed
    from .health import sweep_record

    sweep_record(timezone.now())
    logger.info("%s", result)
    return result
