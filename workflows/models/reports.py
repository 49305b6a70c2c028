"""Generated PDF reports: a case's completion report and on-demand programme reports."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.cases import Case
from workflows.models.catalogue import Aspect
from workflows.models.organisation import Organisation


class ReportKind(models.TextChoices):
    COMPLETION = "completion", _("Completion report")
    PROGRAMME = "programme", _("Programme progress report")


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RENDERING = "rendering", _("Rendering")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class Report(models.Model):
    """One version of one report. Rows are never re-rendered: generating again adds version N+1.

    `scope` ("programme", "aspect:<code>" or "case:<id>") is the versioning key, so that
    the unique constraint holds on every database (NULL foreign keys never collide).
    """

    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    scope = models.CharField(max_length=60)
    # Whose report it is: a completion report's case's organisation, or the federation whose
    # programme a programme report covers (access: its coordinators, auditors and leaders,
    # and those of the federations above it).
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    aspect = models.ForeignKey(
        Aspect, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The moment the data was read: the report shows the programme as of then.
    as_of = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Stored under its SHA-256 (see services.report_render); never overwritten.
    file = models.FileField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "scope", "version"], name="report_version_per_kind_and_scope"
            )
        ]
        indexes = [
            models.Index(fields=["kind", "status"]),
            models.Index(fields=["case", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope} v{self.version}"

    @property
    def is_ready(self) -> bool:
        return self.status == ReportStatus.READY

    @property
    def is_pending(self) -> bool:
        return self.status in (ReportStatus.QUEUED, ReportStatus.RENDERING)

    @property
    def download_name(self) -> str:
        if self.kind == ReportKind.COMPLETION and self.case_id:
            return f"reformflow-{self.case.measure.code}-completion-v{self.version}.pdf"
        if self.aspect_id:
            return f"reformflow-aspect-{self.aspect.code}-programme-v{self.version}.pdf"
        return f"reformflow-programme-v{self.version}.pdf"
