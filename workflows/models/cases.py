"""A measure's case (a viewflow process) and the work items, submissions and evidence around it."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Process, Task

from workflows.models.catalogue import Measure, StepTemplate
from workflows.models.organisation import Department, LeaderRole, Organisation


class Rag(models.TextChoices):
    GREEN = "green", _("Green")
    AMBER = "amber", _("Amber")
    RED = "red", _("Red")


class Case(Process):
    """One organisation's run of one measure; at most one open case per measure and organisation."""

    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="cases")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="cases")
    parent_case = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="child_cases"
    )
    # Resolved in the case's own organisation at launch, so subordinate federations' cases
    # route to their own departments and leaders.
    lead_department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    supervising_leader = models.ForeignKey(LeaderRole, on_delete=models.PROTECT, related_name="+")
    # The step whose work item is open now; None once the last step is done.
    current_step = models.ForeignKey(
        StepTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A cascaded case's tasks are never due after this (the parent's deadline when cascaded).
    deadline_cap = models.DateTimeField(null=True, blank=True)
    percent_complete = models.PositiveSmallIntegerField(default=0)
    rag = models.CharField(max_length=10, choices=Rag.choices, default=Rag.GREEN)
    is_open = models.BooleanField(default=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("case")
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "organisation"],
                condition=models.Q(is_open=True),
                name="one_open_case_per_measure_and_organisation",
            )
        ]
        indexes = [models.Index(fields=["organisation", "is_open"])]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.measure.code})"


class WorkItemStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELED = "canceled", _("Canceled")


class Outcome(models.TextChoices):
    NONE = "", _("—")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned for rework")
    COMPLETED = "completed", _("Completed")


class WorkItem(models.Model):
    """Our indexed mirror of a human viewflow task: step, who may act, status and outcome.

    Inbox, queue and API read this table instead of viewflow's, so they filter on indexed
    columns (assignee, department, leader role) rather than on permission strings.
    """

    task = models.OneToOneField(
        Task, primary_key=True, on_delete=models.CASCADE, related_name="work_item"
    )
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="work_items")
    step = models.ForeignKey(StepTemplate, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20)
    # Exactly one of these says who may act: a department's staff queue, its head, a leader.
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    leader_role = models.ForeignKey(
        LeaderRole, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    for_head = models.BooleanField(default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=WorkItemStatus.choices, default=WorkItemStatus.OPEN
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True, default="")
    decision_note = models.TextField(blank=True)
    # For an approval: who produced the work under review (separation of duties).
    produced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    percent = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The deadline: `due_at` is recomputed from `due_start` + `due_working_days` whenever the
    # calendar changes, unless a coordinator fixed it by extension (`due_fixed`).
    due_at = models.DateTimeField(null=True, blank=True)
    original_due_at = models.DateTimeField(null=True, blank=True)
    due_start = models.DateField(null=True, blank=True)
    # The step's days plus every paused spell: grows with time, so wider than the step's.
    due_working_days = models.PositiveIntegerField(default=0)
    due_fixed = models.BooleanField(default=False)
    # Set while the clock is stopped; no reminder or escalation fires for a paused task.
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.TextField(blank=True)
    # The earliest moment the sweep may have a reminder or rung to record for this task; NULL
    # once every rung has fired. The sweep reads only open, unpaused tasks whose time has come
    # (workflows.deadlines.escalation), so a quiet minute reads almost nothing.
    next_alert_at = models.DateTimeField(null=True, blank=True)
    # A coordinator let this implementation step close while child cases are still open
    # (the reason is in the `completion_guard_overridden` audit event).
    guard_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["department", "status"]),
            models.Index(fields=["leader_role", "status"]),
            models.Index(fields=["case", "status"]),
            models.Index(
                fields=["next_alert_at", "task"],
                condition=models.Q(status="open", paused_at__isnull=True),
                name="workitem_alert_due",
            ),
            # The sweep's feedback cycles look for open implementation steps every minute.
            models.Index(
                fields=["case"],
                condition=models.Q(status="open", kind="implement"),
                name="workitem_open_implement",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.measure.code}/{self.step.key} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == WorkItemStatus.OPEN

    @property
    def is_overdue(self) -> bool:
        return (
            self.is_open
            and self.paused_at is None
            and self.due_at is not None
            and self.due_at < timezone.now()
        )


class ProgressUpdate(models.Model):
    """A progress report on an implementation step: percent, narrative, evidence."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="progress_updates")
    work_item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="progress")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    percent = models.PositiveSmallIntegerField()
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.percent}% on case {self.case_id}"


def evidence_upload_to(instance: "Evidence", filename: str) -> str:
    # Stored under the hash, not the user's name, so names never reach the filesystem.
    return f"evidence/{instance.case_id}/{instance.sha256[:2]}/{instance.sha256}"


class Evidence(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    work_item = models.ForeignKey(
        WorkItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="evidence"
    )
    file = models.FileField(upload_to=evidence_upload_to, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Comment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"comment {self.pk} on case {self.case_id}"
