"""Producing a queued report (the worker's side): collect its data, render the PDF, store it
with its digest, finish the case's flow for a completion report, and mail the requester.
"""

import hashlib
import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from workflows.audit.files import stored_file_matches
from workflows.audit.trail import audit_record
from workflows.common.db_router import replica_reads
from workflows.models import (
    Case,
    NotificationKind,
    Report,
    ReportKind,
    ReportStatus,
)
from workflows.notifications.compose import absolute_url
from workflows.notifications.delivery import notifications_record
from workflows.notifications.log import notification_rows

logger = logging.getLogger(__name__)


def _report_progress(report_id: int, percent: int) -> None:
    # Outside any transaction (the renderer holds none), so the desk's polling sees it at once.
    Report.objects.filter(pk=report_id, status=ReportStatus.RENDERING).update(progress=percent)


def _report_language(report: Report) -> str:
    profile = getattr(report.requested_by, "profile", None) if report.requested_by_id else None
    return getattr(profile, "language", "") or settings.LANGUAGE_CODE


def _rendered(report: Report, **outcome) -> dict:
    """The audit data of a render's outcome: which report, then what came of it."""
    return {
        "report": report.pk,
        "kind": report.kind,
        "scope": report.scope,
        "version": report.version,
        **outcome,
    }


def report_render(*, report_id: int) -> Report | None:
    """Render a queued report, store the PDF under its SHA-256 and mark it ready (or failed).

    Returns None when the report is not queued (already rendered, or taken by another worker).
    A completion report then finishes the case's flow (its `completion_report` node).
    """
    from workflows.reports.data import report_data_collect
    from workflows.reports.render import report_pdf

    as_of = timezone.now()
    # A redelivered message (its worker died) may reclaim a render that has gone stale.
    stale = as_of - timezone.timedelta(seconds=settings.REPORT_RENDER_STALE_SECONDS)
    claimed = (
        Report.objects.filter(pk=report_id)
        .filter(Q(status=ReportStatus.QUEUED) | Q(status=ReportStatus.RENDERING, as_of__lt=stale))
        .update(status=ReportStatus.RENDERING, progress=5, as_of=as_of)
    )
    if not claimed:
        return None
    report = Report.objects.select_related(
        "case", "aspect", "organisation", "requested_by__profile"
    ).get(pk=report_id)
    try:
        with translation.override(_report_language(report)):
            # The report's data from the replica once it has replayed every commit so far.
            with replica_reads(caught_up=True):
                data = report_data_collect(
                    report, as_of=as_of, on_progress=lambda p: _report_progress(report_id, p)
                )
            pdf = report_pdf(data, on_progress=lambda p: _report_progress(report_id, p))
        with transaction.atomic():
            _report_store(report, pdf)
            _report_ready_notice(report)
            if report.kind == ReportKind.COMPLETION:
                _completion_flow_finish(report.case)
    except Exception as exc:
        logger.exception("report %s failed to render", report_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with transaction.atomic():
            Report.objects.filter(pk=report_id).update(status=ReportStatus.FAILED, error=error)
            audit_record(
                verb="report_render_failed",
                actor=report.requested_by,
                case=report.case,
                data=_rendered(report, error=error),
            )
        report.refresh_from_db()
        return report
    return report


def _report_store(report: Report, pdf: bytes) -> None:
    digest = hashlib.sha256(pdf).hexdigest()
    name = f"reports/{digest[:2]}/{digest}.pdf"
    # Content-addressed: an existing file of this name holds these very bytes, so it is
    # reused as is, and a stored report file is never written over.
    if default_storage.exists(name) and not stored_file_matches(name, digest):
        # A worker killed mid-write left a partial file under this name: it is not a report.
        default_storage.delete(name)
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(pdf))
    report.file.name = name
    report.sha256 = digest
    report.size = len(pdf)
    report.status = ReportStatus.READY
    report.progress = 100
    report.finished_at = timezone.now()
    report.error = ""
    report.save(
        update_fields=["file", "sha256", "size", "status", "progress", "finished_at", "error"]
    )
    audit_record(
        verb="report_generated",
        actor=report.requested_by,
        case=report.case,
        data=_rendered(report, sha256=digest, size=len(pdf)),
    )


def _completion_flow_finish(case: Case) -> None:
    """Run the case's waiting `completion_report` node, so the flow reaches its end."""
    # The case names its own flow (MeasureFlow): reports need not import the flow module,
    # whose nodes call the case services that queue this very report.
    node = case.flow_class.completion_report
    task = Task.objects.filter(process=case, flow_task=node, status=STATUS.NEW).first()
    if task is not None:  # a later version finds the flow already finished
        node.run(task)


def _report_ready_notice(report: Report) -> None:
    """Tell the person who asked that the report is ready, through the notification log (so
    its quiet hours, cap, retries and the recipient's language apply), once per version."""
    user = report.requested_by
    if user is None:
        return
    now = timezone.now()
    payload = {
        "report": report.pk,
        "version": report.version,
        "url": absolute_url(reverse("workflows:report_download", args=[report.pk])),
    }
    notifications_record(
        notification_rows(
            [user],
            kind=NotificationKind.REPORT,
            key=f"report-ready:{report.pk}",
            case=report.case,
            now=now,
            payload=payload,
        )
    )
