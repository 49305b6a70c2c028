"""Supervision (督查督办): feedback cycles, partner inputs, traffic lights, extension requests,
supervision orders, summons meetings, leader instructions and the appraisal's score entries."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.catalogue import Measure
from workflows.models.organisation import Department

# --------------------------------------------------------------------------- feedback cycles


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


class FeedbackPolicy(models.Model):
    """How often a measure's lead department reports progress; the row without a measure is
    the default (monthly, due by the 5th working day of the following period)."""

    measure = models.OneToOneField(
        Measure,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="feedback_policy",
        help_text=_("Empty for the default policy; set it to override one measure."),
    )
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY)
    due_working_day = models.PositiveSmallIntegerField(
        default=5, help_text=_("The report is due on this working day of the following period.")
    )

    class Meta:
        verbose_name = _("feedback policy")
        verbose_name_plural = _("feedback policies")
        constraints = [
            models.UniqueConstraint(
                fields=["measure"],
                condition=models.Q(measure__isnull=True),
                name="one_default_feedback_policy",
            )
        ]

    def __str__(self) -> str:
        scope = self.measure.code if self.measure_id else "default"
        return f"{scope}: {self.cadence}"


class CycleStatus(models.TextChoices):
    OPEN = "open", _("Open")
    SUBMITTED = "submitted", _("Submitted")
    MISSED = "missed", _("Missed")


class FeedbackCycle(models.Model):
    """One reporting period of one case in implementation: the report it owes and its fate."""

    case = models.ForeignKey("workflows.Case", on_delete=models.CASCADE, related_name="cycles")
    work_item = models.ForeignKey(
        "workflows.WorkItem", on_delete=models.CASCADE, related_name="feedback_cycles"
    )
    cadence = models.CharField(max_length=10, choices=Cadence.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=CycleStatus.choices, default=CycleStatus.OPEN)
    # The consolidated report that went up (a ProgressUpdate made by services.progress_report).
    report = models.OneToOneField(
        "workflows.ProgressUpdate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="feedback_cycle",
    )
    included_inputs = models.ManyToManyField(
        "workflows.PartnerInput", blank=True, related_name="included_in"
    )
    # A missed cycle is carried forward: the next cycle names it and the case shows both.
    carried_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="carried_to"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["case", "period_start"], name="one_cycle_per_period")
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"case {self.case_id} {self.period_start}..{self.period_end} ({self.status})"


class PartnerInput(models.Model):
    """A partner department's contribution to the lead department's report for one cycle."""

    cycle = models.ForeignKey(FeedbackCycle, on_delete=models.CASCADE, related_name="inputs")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "department"], name="one_input_per_partner_per_cycle"
            )
        ]

    def __str__(self) -> str:
        return f"input of {self.department_id} on cycle {self.cycle_id}"


# --------------------------------------------------------------------------- traffic lights


class Light(models.TextChoices):
    GREEN = "green", _("Green")
    YELLOW = "yellow", _("Yellow")
    RED = "red", _("Red")


class Axis(models.TextChoices):
    DEADLINE = "deadline", _("Deadline")
    PROGRESS = "progress", _("Progress against time")


class LightRule(models.Model):
    """One threshold. Deadline axis: the light applies when the working days left are at or
    below `threshold` (overdue counts as negative). Progress axis: when the case is at least
    `threshold` points behind its expected percent. The worst matching light wins."""

    axis = models.CharField(max_length=10, choices=Axis.choices)
    light = models.CharField(
        max_length=10, choices=[(Light.YELLOW, _("Yellow")), (Light.RED, _("Red"))]
    )
    threshold = models.SmallIntegerField()

    class Meta:
        ordering = ["axis", "light"]
        constraints = [
            models.UniqueConstraint(fields=["axis", "light"], name="one_light_rule_per_axis_light")
        ]

    def __str__(self) -> str:
        return f"{self.axis} {self.light} at {self.threshold}"


class CaseLight(models.Model):
    """A case's current lights on both axes, with the figures they came from."""

    case = models.OneToOneField("workflows.Case", on_delete=models.CASCADE, related_name="light")
    deadline = models.CharField(max_length=10, choices=Light.choices, default=Light.GREEN)
    progress = models.CharField(max_length=10, choices=Light.choices, default=Light.GREEN)
    # Counted, not bounded by input: a due date years ahead is tens of thousands of days.
    working_days_left = models.IntegerField(null=True, blank=True)
    expected_percent = models.PositiveSmallIntegerField(default=0)
    actual_percent = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"case {self.case_id}: {self.deadline}/{self.progress}"


class LightChange(models.Model):
    """A lapse stays visible: every change of a case's light on one axis."""

    case = models.ForeignKey(
        "workflows.Case", on_delete=models.CASCADE, related_name="light_changes"
    )
    axis = models.CharField(max_length=10, choices=Axis.choices)
    from_light = models.CharField(max_length=10, choices=Light.choices)
    to_light = models.CharField(max_length=10, choices=Light.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"case {self.case_id} {self.axis}: {self.from_light} -> {self.to_light}"


# --------------------------------------------------------------------------- extension requests


class ExtensionStatus(models.TextChoices):
    PENDING_HEAD = "pending_head", _("Waiting for the department head")
    PENDING_LEADER = "pending_leader", _("Waiting for the supervising leader")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    # Its task ended (done or returned) before anyone decided.
    LAPSED = "lapsed", _("Lapsed (its task ended)")


class ExtensionRequest(models.Model):
    """A request to move a task's due date: head, then supervising leader, decide."""

    case = models.ForeignKey(
        "workflows.Case", on_delete=models.CASCADE, related_name="extension_requests"
    )
    work_item = models.ForeignKey(
        "workflows.WorkItem", on_delete=models.CASCADE, related_name="extension_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    requested_date = models.DateField()
    progress_percent = models.PositiveSmallIntegerField()
    # The due date when asked: what the task is judged against if the request is refused.
    due_at_when_requested = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING_HEAD
    )
    approved_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"extension request {self.pk} on task {self.work_item_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in (ExtensionStatus.PENDING_HEAD, ExtensionStatus.PENDING_LEADER)


class ExtensionDecision(models.Model):
    """Each approver's decision on a request, kept in full."""

    request = models.ForeignKey(
        ExtensionRequest, on_delete=models.CASCADE, related_name="decisions"
    )
    stage = models.CharField(max_length=10, choices=[("head", _("Head")), ("leader", _("Leader"))])
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField()
    date = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.stage} {'approved' if self.approved else 'refused'} #{self.request_id}"


# --------------------------------------------------------------------------- supervision orders


class OrderColour(models.TextChoices):
    BLUE = "blue", _("Blue")
    ORANGE = "orange", _("Orange")
    RED = "red", _("Red")


class OrderStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the response")
    ANSWERED = "answered", _("Answered")
    STEPPED_UP = "stepped_up", _("Unanswered, stepped up")


class SupervisionOrder(models.Model):
    """A 督办单 on a lagging case; unanswered within its limit it steps up a colour."""

    case = models.ForeignKey(
        "workflows.Case", on_delete=models.CASCADE, related_name="supervision_orders"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    colour = models.CharField(max_length=10, choices=OrderColour.choices)
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    reason = models.TextField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set when the escalation ladder issued it: unique, so a rung issues one order at most.
    escalation = models.OneToOneField(
        "workflows.Escalation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="supervision_order",
    )
    stepped_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="stepped_to"
    )
    response_working_days = models.PositiveSmallIntegerField()
    response_due_at = models.DateTimeField()
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["issued_at", "pk"]
        indexes = [models.Index(fields=["status", "response_due_at"])]

    def __str__(self) -> str:
        return f"{self.colour} order {self.pk} on case {self.case_id}"

    @property
    def is_open(self) -> bool:
        return self.status == OrderStatus.OPEN


class SummonsMeeting(models.Model):
    """The 约谈 a red order asks for: with the department head, and what came of it."""

    order = models.OneToOneField(SupervisionOrder, on_delete=models.CASCADE, related_name="summons")
    department_head = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    held_on = models.DateField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"summons for order {self.order_id}"


# --------------------------------------------------------------------------- leader instructions


class LeaderInstruction(models.Model):
    """A leader's 批示 on a case: tracked to its reply against its own due date."""

    case = models.ForeignKey(
        "workflows.Case", on_delete=models.CASCADE, related_name="instructions"
    )
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    reply = models.TextField(blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"instruction {self.pk} on case {self.case_id}"

    @property
    def is_open(self) -> bool:
        return self.replied_at is None


# --------------------------------------------------------------------------- appraisal


class ScoreKind(models.TextChoices):
    ON_TIME = "on_time", _("Step done on time")
    OVERDUE = "overdue", _("Step overdue")
    RETURNED = "returned", _("Report returned as inadequate")


class ScoringRule(models.Model):
    """Points per event of a kind, and the most a department can gain or lose from it in a
    month (empty: no cap). Admin-editable; the migration creates the defaults."""

    kind = models.CharField(max_length=10, choices=ScoreKind.choices, unique=True)
    points = models.SmallIntegerField()
    cap_per_period = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.points:+d}"


class ScoreEntry(models.Model):
    """One point (or penalty) for one department, traced to the task and event that caused it."""

    period = models.DateField(help_text=_("First day of the month the entry counts in"))
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=ScoreKind.choices)
    points = models.SmallIntegerField()
    # The rule's points before the cap; `points` is what counted after it.
    rule_points = models.SmallIntegerField()
    case = models.ForeignKey("workflows.Case", on_delete=models.CASCADE, related_name="+")
    work_item = models.ForeignKey(
        "workflows.WorkItem", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event = models.ForeignKey(
        "workflows.AuditEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    extension = models.ForeignKey(
        ExtensionRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["period", "department", "pk"]
        indexes = [
            models.Index(fields=["period", "department"]),
            # A federation's latest scored month: each department's newest entry.
            models.Index(fields=["department", "period"], name="scoreentry_department_period"),
        ]
        verbose_name = _("score entry")
        verbose_name_plural = _("score entries")

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} for {self.department_id} in {self.period}"
