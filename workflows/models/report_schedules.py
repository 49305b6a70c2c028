"""Reports that come by themselves: a schedule an admin edits, and one run per period."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.catalogue import Aspect
from workflows.models.organisation import Organisation
from workflows.models.reports import Report
from workflows.models.supervision import Cadence


class ReportSchedule(models.Model):
    """Which programme report (a federation's whole programme or one aspect, covering its
    subtree), how often (monthly by default, on the first working day of the period, at
    `hour` Beijing time), and to whom (the federation's leaders, auditors, coordinators)."""

    title = models.CharField(_("title"), max_length=200, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("federation"),
        help_text=_("The federation whose programme (with the federations below it) is reported."),
    )
    aspect = models.ForeignKey(
        Aspect,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("aspect"),
        help_text=_("Empty: the whole programme."),
    )
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY
    )
    working_day = models.PositiveSmallIntegerField(
        _("working day"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Sent on this working day of each period (1: the first)."),
    )
    hour = models.PositiveSmallIntegerField(
        _("hour"),
        default=8,
        validators=[MaxValueValidator(23)],
        help_text=_("From this hour (Beijing time) on that day."),
    )
    to_leaders = models.BooleanField(_("to the leaders"), default=True)
    to_auditors = models.BooleanField(_("to the auditors"), default=True)
    to_coordinators = models.BooleanField(_("to the coordinators"), default=True)
    active = models.BooleanField(_("active"), default=True)
    # The start of the last period a run was claimed for: a run is claimed by moving it
    # forward with a conditional update, so two beats or workers never run a period twice.
    last_period = models.DateField(_("last period run"), null=True, blank=True, editable=False)
    last_run_at = models.DateTimeField(_("last run at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["organisation", "pk"]
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(working_day__gte=1, working_day__lte=60, hour__lte=23),
                name="report_schedule_day_and_hour_in_range",
            )
        ]

    def __str__(self) -> str:
        scope = f"aspect {self.aspect.code}" if self.aspect_id else "programme"
        return self.title or f"{scope} of {self.organisation.code}, {self.frequency}"


class ReportScheduleRun(models.Model):
    """One period's run of a schedule: the report version it queued and when its recipients
    were told. Unique per (schedule, period): the database refuses a second run."""

    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="runs")
    period = models.DateField(help_text=_("First day of the period"))
    report = models.OneToOneField(Report, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-period", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "period"], name="one_run_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.schedule} {self.period}"
