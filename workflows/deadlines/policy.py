"""Reminder and escalation policy as data: the rungs and reminder offsets an admin edits
(EscalationPolicy rows, per step template or the default), and the times they give for a
task's due date, including the floor below which a task needs no alert check.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import F

from workflows.common.calendar import WorkingCalendar, at_local, due_at_for, local_date
from workflows.models import (
    EscalationPolicy,
    Recipient,
    WorkItem,
    WorkItemStatus,
)


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

    def all(self) -> list[Policy]:
        return [self.default, *self.by_measure.values()]

    def longest_notice(self) -> int:
        """The most working days before a due date at which any policy reminds."""
        return max(max(p.reminder_days_before, default=0) for p in self.all())


# Until the sweep has looked at a task, next_alert_at is a floor that must never be later than
# its first reminder: due_at minus 3N + 15 calendar days, N being the longest reminder notice in
# working days. Counting N working days back from a due day takes at most 3 calendar days per
# working day in an ordinary week (Monday back to Friday), and a statutory closure (Spring
# Festival, National Day: at most ~9 days between two working days) adds at most ~7 more; the
# 15 covers two such closures in the window plus a reminder hour earlier than the due hour, and
# for a longer notice 3 per day overstates the 7-per-5 of real weeks by more than any closures
# add. Rungs fire at or after due_at, so never before the floor.
ALERT_FLOOR_DAYS_PER_NOTICE_DAY = 3


ALERT_FLOOR_SLACK_DAYS = 15


def longest_reminder_notice() -> int:
    """The longest reminder notice in working days over every policy (one small query)."""
    rows = EscalationPolicy.objects.values_list("measure_id", "reminder_days_before")
    notices = {measure: max(days or [0]) for measure, days in rows}
    if None not in notices:
        notices[None] = max(DEFAULT_POLICY.reminder_days_before, default=0)
    return max(notices.values())


def alert_floor_delta(notice: int) -> dt.timedelta:
    return dt.timedelta(days=ALERT_FLOOR_DAYS_PER_NOTICE_DAY * notice + ALERT_FLOOR_SLACK_DAYS)


def alert_floor(due_at: dt.datetime | None, notice: int | None = None) -> dt.datetime | None:
    """A moment never later than the task's first reminder or rung (None without a due date)."""
    if due_at is None:
        return None
    return due_at - alert_floor_delta(longest_reminder_notice() if notice is None else notice)


def alerts_reset(
    *,
    measure_id: int | None = None,
    due_from: dt.datetime | None = None,
    due_to: dt.datetime | None = None,
) -> int:
    """After the policy or the calendar changed: put the affected open tasks back to their floor
    (one UPDATE), so the next sweeps re-evaluate them under the new rules. Returns how many."""
    items = WorkItem.objects.filter(status=WorkItemStatus.OPEN, due_at__isnull=False)
    if measure_id is not None:
        items = items.filter(case__measure=measure_id)
    if due_from is not None:
        items = items.filter(due_at__gte=due_from)
    if due_to is not None:
        items = items.filter(due_at__lte=due_to)
    floor = F("due_at") - alert_floor_delta(longest_reminder_notice())
    # Tasks already at (or before) their floor need no write: a repeated reset only reads.
    return items.exclude(next_alert_at__lte=floor).update(next_alert_at=floor)


def next_alert_time(policy: Policy, calendar: WorkingCalendar, due_at, now) -> dt.datetime | None:
    """The next moment after `now` at which a reminder stage or a rung falls due; None after the
    last rung. Everything due up to `now` is the current sweep's to record."""
    times = [rung_time(calendar, due_at, rung) for rung in policy.rungs]
    if now < due_at:
        for days_before in policy.reminder_days_before:
            send_at = reminder_time(policy, calendar, due_at, days_before)
            if send_at < due_at:
                times.append(send_at)
    return min((t for t in times if t > now), default=None)


def reminder_stage(policy: Policy, calendar: WorkingCalendar, due_at, now) -> int | None:
    """The reminder whose time has come (fewest days before due), or None.

    Only the latest passed stage counts: after downtime the user gets one reminder, not three.
    """
    if now >= due_at:
        return None
    stage = None
    for days_before in policy.reminder_days_before:  # largest first
        if reminder_time(policy, calendar, due_at, days_before) <= now:
            stage = days_before
    return stage


def reminder_time(policy: Policy, calendar: WorkingCalendar, due_at, days_before: int):
    """When the reminder `days_before` working days ahead of the due day is sent."""
    day = calendar.subtract_working_days(local_date(due_at), days_before)
    return at_local(day, dt.time(policy.reminder_hour))


def rung_time(calendar: WorkingCalendar, due_at, rung: Rung) -> dt.datetime:
    """When a rung fires: its working days after the due day, at the due time of day."""
    if rung.working_days_after_due == 0:
        return due_at
    day = calendar.add_working_days(local_date(due_at), rung.working_days_after_due)
    return due_at_for(day)
