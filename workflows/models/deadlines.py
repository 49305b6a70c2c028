"""Deadlines as data: the working-day calendar's overrides, reminder and escalation policy,
and the record of every due-date change and escalation."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.catalogue import Measure


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Public holiday (no work)")
    WORKDAY = "workday", _("Make-up working day")


class CalendarDay(models.Model):
    """An admin's entry from the official schedule; it overrides every computed source."""

    date = models.DateField(unique=True)
    kind = models.CharField(max_length=10, choices=CalendarDayKind.choices)
    name = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar override")

    def __str__(self) -> str:
        return f"{self.date} {self.kind} {self.name}".strip()


# Who an escalation rung or reminder can name; resolved per task by workflows.deadlines.escalation.
class Recipient(models.TextChoices):
    ASSIGNEE = "assignee", _("Assignee, or the candidates when unassigned")
    DEPARTMENT_HEAD = "department_head", _("Head of the task's department")
    SUPERVISING_LEADER = "supervising_leader", _("The case's supervising leader")
    FIRST_SECRETARY = "first_secretary", _("First Secretary")
    CHAIRMAN = "chairman", _("Chairman")
    COORDINATORS = "coordinators", _("The organisation's coordinators")


def _validate_offsets(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, int) and 0 <= v <= 60 for v in value):
        raise ValidationError(
            _("Give a list of whole working days between 0 and 60, e.g. [3, 1, 0].")
        )


def _validate_recipients(value) -> None:
    allowed = set(Recipient.values)
    if not isinstance(value, list) or not value or not set(value) <= allowed:
        raise ValidationError(_("Give a non-empty list from: %s") % ", ".join(sorted(allowed)))


class EscalationPolicy(models.Model):
    """Reminder offsets and escalation rungs; the row without a measure is the default."""

    measure = models.OneToOneField(
        Measure,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="escalation_policy",
        help_text=_("Empty for the default policy; set it to override one measure."),
    )
    reminder_days_before = models.JSONField(
        default=list,
        validators=[_validate_offsets],
        help_text=_("Working days before the due date; 0 is the due day itself."),
    )
    # Reminders go out at this hour (Asia/Shanghai) on their day, not at midnight.
    reminder_hour = models.PositiveSmallIntegerField(default=9)

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.UniqueConstraint(
                fields=["measure"],
                condition=models.Q(measure__isnull=True),
                name="one_default_escalation_policy",
            )
        ]

    def __str__(self) -> str:
        return f"policy for {self.measure.code}" if self.measure_id else "default policy"


class EscalationRung(models.Model):
    """One step up the ladder: when after the breach, who is told, whether the case turns red."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="rungs")
    rung = models.PositiveSmallIntegerField()
    working_days_after_due = models.PositiveSmallIntegerField()
    notify = models.JSONField(default=list, validators=[_validate_recipients])
    turns_case_red = models.BooleanField(default=False)

    class Meta:
        ordering = ["policy", "rung"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "rung"], name="one_row_per_policy_rung")
        ]

    def __str__(self) -> str:
        return f"rung {self.rung} (+{self.working_days_after_due} working days)"


class DeadlineChangeKind(models.TextChoices):
    EXTENDED = "extended", _("Extended")
    PAUSED = "paused", _("Paused")
    RESUMED = "resumed", _("Resumed")
    RECOMPUTED = "recomputed", _("Recomputed after a calendar change")
    # A cascaded case's cap followed its parent's overall deadline (the task's date if capped).
    CAP_MOVED = "cap_moved", _("Parent's deadline moved")


class DeadlineChange(models.Model):
    """Every move of a task's due date after it was set, with who, why and from what."""

    work_item = models.ForeignKey(
        "workflows.WorkItem", on_delete=models.CASCADE, related_name="deadline_changes"
    )
    kind = models.CharField(max_length=12, choices=DeadlineChangeKind.choices)
    old_due_at = models.DateTimeField(null=True, blank=True)
    new_due_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.old_due_at} -> {self.new_due_at}"


class Escalation(models.Model):
    """A rung fired for one task and one due date; the unique row is the sweep's claim."""

    case = models.ForeignKey("workflows.Case", on_delete=models.CASCADE, related_name="escalations")
    work_item = models.ForeignKey(
        "workflows.WorkItem", on_delete=models.CASCADE, related_name="escalations"
    )
    rung = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["fired_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["work_item", "rung", "due_at"], name="one_escalation_per_task_rung_due"
            )
        ]

    def __str__(self) -> str:
        return f"rung {self.rung} on task {self.work_item_id}"


class SweepFault(models.Model):
    """A part of the sweep, or one of its rows, that failed and was skipped so the rest went
    on. One open row per (part, case, task), counted while it keeps failing; resolved by the
    first sweep that no longer meets it."""

    part = models.CharField(max_length=30)
    case = models.ForeignKey(
        "workflows.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    work_item = models.ForeignKey(
        "workflows.WorkItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_at", "-pk"]
        verbose_name = _("sweep fault")

    def __str__(self) -> str:
        where = f" case {self.case_id}" if self.case_id else ""
        where += f" task {self.work_item_id}" if self.work_item_id else ""
        return f"{self.part}{where}: {self.error[:80]}"
