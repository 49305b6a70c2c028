"""Asking for reports: a case's completion report and programme reports, each a versioned
row queued for a worker after commit (and re-sent by the sweep when the broker was down);
opening a ready one for download.
"""

import datetime as dt
import logging
from typing import cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from workflows.audit.files import stored_file_open
from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.common.errors import TaskConflict
from workflows.models import (
    Aspect,
    Case,
    Organisation,
    Report,
    ReportKind,
    ReportStatus,
)

logger = logging.getLogger(__name__)


def _report_scope(
    *, kind: str, organisation: Organisation, case: Case | None = None, aspect=None
) -> str:
    if kind == ReportKind.COMPLETION:
        if case is None:
            raise ValueError("a completion report is of one case")
        return f"case:{case.pk}"
    scope = f"aspect:{aspect.code}" if aspect is not None else "programme"
    # Each federation numbers its own programme reports; the national one's keep their name.
    return scope if organisation.parent_id is None else f"{scope}@{organisation.pk}"


def _report_create(
    *, kind: str, organisation: Organisation, case=None, aspect=None, by=None
) -> Report:
    """A queued report row numbered one above the scope's latest version (race-safe)."""
    scope = _report_scope(kind=kind, organisation=organisation, case=case, aspect=aspect)
    for _attempt in range(5):
        latest = Report.objects.filter(kind=kind, scope=scope).aggregate(v=Max("version"))["v"]
        try:
            with transaction.atomic():
                return Report.objects.create(
                    kind=kind,
                    scope=scope,
                    organisation=organisation,
                    case=case,
                    aspect=aspect,
                    version=(latest or 0) + 1,
                    requested_by=by if by is not None and by.is_authenticated else None,
                )
        except IntegrityError:
            continue  # a concurrent request took this version number; take the next one
    raise TaskConflict("Too many concurrent report requests; try again.")


def _report_enqueue(report_id: int) -> bool:
    """Hand the render to a worker; if the broker is down, the sweep re-sends it later."""
    from tasks.reports import render_report

    try:
        render_report.delay(report_id)
    except Exception:  # noqa: BLE001 - the row stays queued: report_list_recover finds it
        logger.warning("broker unavailable: report %s stays queued for the sweep", report_id)
        return False
    return True


def _report_queue(report: Report) -> None:
    report_id = report.pk
    # After commit, and never failing the request: the approval that completed the case is
    # saved whatever the broker's state.
    transaction.on_commit(lambda: _report_enqueue(report_id))


def report_list_recover(*, now=None) -> int:
    """Re-send reports a broker outage or a dead worker left behind; returns how many.

    Queued reports older than a minute were never picked up (the broker was down, or the
    message was lost). A report still "rendering" after the hard time limit belongs to a
    worker that died: it goes back to queued, and no partial file is ever marked ready.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.REPORT_RENDER_STALE_SECONDS)
    Report.objects.filter(status=ReportStatus.RENDERING, as_of__lt=stale).update(
        status=ReportStatus.QUEUED, progress=0
    )
    waiting = Report.objects.filter(
        status=ReportStatus.QUEUED, created_at__lt=now - dt.timedelta(minutes=1)
    ).values_list("pk", flat=True)
    sent = 0
    for report_id in waiting:
        sent += _report_enqueue(report_id)
    return sent


def report_queue_completion(*, case: Case, by=None) -> Report:
    """Queue the next version of a completed case's completion report; renders after commit."""
    if case.is_open:
        raise ValidationError("A completion report is made once the case is complete.")
    with transaction.atomic():
        report = _report_create(
            kind=ReportKind.COMPLETION, organisation=case.organisation, case=case, by=by
        )
        _report_queue(report)
    return report


def report_request_completion(*, case: Case, by) -> Report:
    """A coordinator asks for a new version of a completed case's completion report."""
    access.check_can_coordinate(by, case.organisation)
    with transaction.atomic():
        report = report_queue_completion(case=case, by=by)
        audit_record(
            verb="report_requested",
            actor=by,
            case=case,
            data={"report": report.pk, "kind": report.kind, "version": report.version},
        )
    return report


def report_request_programme(*, by, aspect: Aspect | None = None) -> Report:
    """Queue a programme progress report (whole programme or one aspect) of the requester's own
    federation, as of rendering time."""
    access.check_can_request_programme_report(by)
    # The check above leaves only people with a home federation.
    organisation = cast(Organisation, access.organisation_default(by))
    with transaction.atomic():
        report = _report_create(
            kind=ReportKind.PROGRAMME, organisation=organisation, aspect=aspect, by=by
        )
        audit_record(
            verb="report_requested",
            actor=by,
            data={
                "report": report.pk,
                "kind": report.kind,
                "scope": report.scope,
                "organisation": organisation.code,
                "version": report.version,
            },
        )
        _report_queue(report)
    return report


def report_open_for_download(*, report: Report, user):
    """Open a ready report's file for the user and audit the download; PermissionDenied if not."""
    if not access.can_view_report(user, report):
        raise PermissionDenied("You cannot see this report.")
    if report.status != ReportStatus.READY or not report.file:
        raise ValidationError("This report is not ready yet.")
    handle = stored_file_open(
        report.file,
        user=user,
        case=report.case,
        data={"report": report.pk, "kind": report.kind, "sha256": report.sha256},
    )
    audit_record(
        verb="report_downloaded",
        actor=user,
        case=report.case,
        data={"report": report.pk, "kind": report.kind, "version": report.version},
    )
    return handle
