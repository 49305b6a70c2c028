"""Reports that come by themselves (issue 19): each active ReportSchedule renders its programme
report once per period, on its working day, as a new version like any other report, and tells
its recipients where to download it through their channels.

Once per period, never twice: a run is claimed by a conditional update of the schedule's
`last_period` (only one of two racing beats or workers moves it), and the run row is unique per
(schedule, period). A run missed while the workers were down is made by the first beat after
they return, once; periods missed in full are not replayed (a programme report shows the
programme as of rendering, so a replay would repeat the same report).

Rendering is the reports queue's ordinary work (reports.services._report_queue); recipients are told
by a later pass, once the version is ready, so the link they get always opens a report.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from workflows.audit.trail import audit_record
from workflows.common import roles
from workflows.common.calendar import WorkingCalendar, at_local, local_date
from workflows.models import (
    Notification,
    NotificationKind,
    NotificationStatus,
    ReportKind,
    ReportSchedule,
    ReportScheduleRun,
    ReportStatus,
)
from workflows.notifications.compose import absolute_url
from workflows.notifications.delivery import notifications_record
from workflows.reports import services as reports_services
from workflows.supervision.cycles import period_bounds

logger = logging.getLogger(__name__)


def schedule_due_at(
    schedule: ReportSchedule, period_start: dt.date, calendar: WorkingCalendar
) -> dt.datetime:
    """When the period's run falls due: its Nth working day (1: the first), at `hour`."""
    day = calendar.add_working_days(period_start - dt.timedelta(days=1), schedule.working_day)
    return at_local(day, dt.time(schedule.hour))


def schedule_due_period(
    schedule: ReportSchedule, *, now: dt.datetime, calendar: WorkingCalendar
) -> dt.date | None:
    """The start of the period whose run is due now and not yet claimed, else None."""
    start, _end = period_bounds(schedule.frequency, local_date(now))
    if schedule.last_period is not None and schedule.last_period >= start:
        return None
    return start if now >= schedule_due_at(schedule, start, calendar) else None


def schedule_recipients(schedule: ReportSchedule) -> list:
    """The federation's active leaders, auditors and coordinators the schedule names (people
    at home there; at the national federation also accounts with no home)."""
    wanted = Q(pk__in=[])
    if schedule.to_leaders:
        wanted |= Q(groups__name=roles.LEADERS) | Q(
            leader_roles__organisation=schedule.organisation_id
        )
    if schedule.to_auditors:
        wanted |= Q(groups__name=roles.AUDITORS)
    if schedule.to_coordinators:
        wanted |= Q(groups__name=roles.COORDINATORS)
    home = Q(profile__organisation=schedule.organisation_id)
    if schedule.organisation.parent_id is None:
        home |= Q(profile__isnull=True) | Q(profile__organisation__isnull=True)
    users = get_user_model().objects.filter(wanted, home, is_active=True)
    return list(users.select_related("profile").distinct().order_by("pk"))


def schedule_run(
    *, schedule_id: int, period: dt.date, now: dt.datetime
) -> ReportScheduleRun | None:
    """Claim the period's run and queue its report version; None if another beat or worker
    claimed it first (or the schedule was switched off meanwhile)."""
    with transaction.atomic():
        claimed = (
            ReportSchedule.objects.filter(pk=schedule_id, active=True)
            .filter(Q(last_period__isnull=True) | Q(last_period__lt=period))
            .update(last_period=period, last_run_at=now)
        )
        if claimed != 1:
            return None
        schedule = ReportSchedule.objects.select_related("organisation", "aspect").get(
            pk=schedule_id
        )
        report = reports_services._report_create(
            kind=ReportKind.PROGRAMME, organisation=schedule.organisation, aspect=schedule.aspect
        )
        try:
            with transaction.atomic():
                run = ReportScheduleRun.objects.create(
                    schedule=schedule, period=period, report=report, created_at=now
                )
        except IntegrityError:
            # The database's own guard: this period already has a run (a row restored by hand).
            transaction.set_rollback(True)
            return None
        audit_record(
            verb="report_scheduled",
            data={
                "schedule": schedule.pk,
                "period": period,
                "report": report.pk,
                "scope": report.scope,
                "organisation": schedule.organisation.code,
                "version": report.version,
            },
        )
        reports_services._report_queue(report)
    return run


def run_notify(*, run_id: int, now: dt.datetime) -> int:
    """Tell a run's recipients that its report is ready, once (a conditional update claims the
    run); returns how many people were told."""
    with transaction.atomic():
        claimed = ReportScheduleRun.objects.filter(
            pk=run_id, notified_at__isnull=True, report__status=ReportStatus.READY
        ).update(notified_at=now)
        if claimed != 1:
            return 0
        run = ReportScheduleRun.objects.select_related(
            "schedule__organisation", "schedule__aspect", "report"
        ).get(pk=run_id)
        report, schedule = run.report, run.schedule
        recipients = schedule_recipients(schedule)
        payload = {
            "report": report.pk,
            "version": report.version,
            "period": run.period.isoformat(),
            "organisation": schedule.organisation.code,
            "aspect": schedule.aspect.code if schedule.aspect_id else "",
            "url": absolute_url(reverse("workflows:report_download", args=[report.pk])),
        }
        rows = [
            Notification(
                dedupe_key=f"report-schedule:{run.pk}:{user.pk}",
                recipient=user,
                kind=NotificationKind.REPORT,
                status=NotificationStatus.PENDING,
                payload=payload,
                next_attempt_at=now,
            )
            for user in recipients
        ]
        notifications_record(rows)
        run.recipients = len(recipients)
        run.save(update_fields=["recipients"])
        audit_record(
            verb="scheduled_report_sent",
            data={"schedule": schedule.pk, "report": report.pk, "recipients": len(recipients)},
        )
    return len(recipients)


@dataclass
class SchedulesResult:
    queued: int = 0
    notified: int = 0

    def __str__(self) -> str:
        return f"report schedules: {self.queued} queued, {self.notified} people told"


def report_schedules_run(*, now=None) -> SchedulesResult:
    """Beat's pass: queue each active schedule's due run, then tell the recipients of every run
    whose report has become ready."""
    now = now or timezone.now()
    calendar = WorkingCalendar.load()
    result = SchedulesResult()
    for schedule in ReportSchedule.objects.filter(active=True).order_by("pk"):
        period = schedule_due_period(schedule, now=now, calendar=calendar)
        if period is None:
            continue
        try:
            if schedule_run(schedule_id=schedule.pk, period=period, now=now) is not None:
                result.queued += 1
        except Exception:  # one broken schedule never holds back the others
            logger.exception("report schedule %s: the run for %s failed", schedule.pk, period)
    ready = ReportScheduleRun.objects.filter(
        notified_at__isnull=True, report__status=ReportStatus.READY
    ).values_list("pk", flat=True)
    for run_id in list(ready[:500]):
        result.notified += run_notify(run_id=run_id, now=now)
    return result
