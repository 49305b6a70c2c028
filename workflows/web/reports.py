"""Report pages: the list, requesting and regenerating a report, its status for the page's
poller, and the download (by session or API token).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from workflows.audit import files as audit_files
from workflows.cases import selectors
from workflows.common import reach as access
from workflows.models import (
    Report,
)
from workflows.reports import services as reports_services
from workflows.reports.filters import ReportFilterForm
from workflows.web import forms
from workflows.web.cases import file_gone, paginate
from workflows.web.flash import error_text
from workflows.web.middleware import auditors_may_post


def _visible_report(user, report_id) -> Report:
    return selectors.report_get_visible(user, report_id)


def report_status_payload(report: Report) -> dict:
    """What the desk's polling and the API need to follow one report."""
    return {
        "id": report.pk,
        "status": report.status,
        "status_display": str(report.get_status_display()),
        "progress": report.progress,
        "download_url": reverse("workflows:report_download", args=[report.pk])
        if report.is_ready
        else None,
        "name": report.download_name,
    }


@login_required
def reports(request):
    user = request.user
    filters = ReportFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    page = paginate(
        request, selectors.report_list(user, **{k: v for k, v in criteria.items() if v})
    )
    can_request = access.reads_programme_reports(user)
    return render(
        request,
        "workflows/reports.html",
        {
            "page": page,
            "filters": filters,
            "request_form": forms.ReportRequestForm() if can_request else None,
            "is_coordinator": access.is_coordinator(user),
            "has_pending": any(report.is_pending for report in page.object_list),
        },
    )


@login_required
@require_POST
@auditors_may_post
def report_request(request):
    if not access.reads_programme_reports(request.user):
        raise PermissionDenied
    form = forms.ReportRequestForm(request.POST)
    if form.is_valid():
        report = reports_services.report_request_programme(
            by=request.user, aspect=form.cleaned_data["aspect"]
        )
        messages.success(
            request,
            _("Programme report version %(version)d is queued; this page shows its progress.")
            % {"version": report.version},
        )
    else:
        messages.error(request, _("Choose the whole programme or one aspect."))
    return redirect("workflows:reports")


@login_required
@require_POST
def report_regenerate(request, report_id):
    report = _visible_report(request.user, report_id)
    if report.case is None:
        raise Http404
    try:
        new = reports_services.report_request_completion(case=report.case, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("Completion report version %(version)d is queued.") % {"version": new.version},
        )
    return redirect("workflows:reports")


@login_required
def report_status(request, report_id):
    return JsonResponse(report_status_payload(_visible_report(request.user, report_id)))


def _user_or_api_token(request):
    """The session's user, else the user of a valid `Authorization: Token ...` header."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


@require_GET
def report_download(request, report_id):
    # The API's download_url points here too, so API clients may use their token.
    user = _user_or_api_token(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    report = _visible_report(user, report_id)
    try:
        handle = reports_services.report_open_for_download(report=report, user=user)
    except ValidationError as exc:
        raise Http404(error_text(exc)) from exc
    except audit_files.FileGone:
        return file_gone(request, report.download_name)
    return FileResponse(
        handle, as_attachment=True, filename=report.download_name, content_type="application/pdf"
    )
