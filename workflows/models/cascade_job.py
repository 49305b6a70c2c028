"""A cascade run in the background: the request records the job, a Celery task creates the
children in batches and counts its progress here (workflows.cases.cascade_jobs)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.cases import Case


class CascadeJobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class CascadeJob(models.Model):
    """One request to cascade a case to many federations; `done` counts the targets that have
    their child case (made by this job or found there), `failed` those that could not get one."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="cascade_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The level's key when a whole level was chosen; else the chosen organisations' codes.
    level = models.CharField(max_length=40, blank=True)
    targets = models.JSONField(default=list, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    state = models.CharField(
        max_length=10, choices=CascadeJobState.choices, default=CascadeJobState.QUEUED
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("cascade job")

    def __str__(self):
        return f"cascade job {self.pk} of case {self.case_id}"

    @property
    def is_finished(self) -> bool:
        return self.state in (CascadeJobState.DONE, CascadeJobState.FAILED)

    @property
    def percent(self) -> int:
        return (
            100 if not self.total else min(100, round(100 * (self.done + self.failed) / self.total))
        )
