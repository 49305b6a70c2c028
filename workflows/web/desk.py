"""The audit desk (auditors and coordinators): the audit trail with filters, its CSV export,
the chain verification, and the programme table as CSV and XLSX."""

from dataclasses import replace
from datetime import datetime, time, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.audit.trail import audit_verification_run
from workflows.cases import selectors
from workflows.common import change_stamp, wording
from workflows.common import reach as access
from workflows.common.bounds import InputRejected
from workflows.common.db_router import replica_view
from workflows.common.keyset import keyset_bound, keyset_page
from workflows.reports import exports
from workflows.web.forms import AuditFilterForm
from workflows.web.fragments import fragment_cached
from workflows.web.middleware import auditors_may_post

PAGE_SIZE = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def desk_view(view):
    """Logged in, and an auditor or a coordinator (each reads their own federation and those
    below it); anyone else gets 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.reads_logs(request.user):
            raise PermissionDenied(_("The audit desk is for auditors and coordinators."))
        return view(request, *args, **kwargs)

    return wrapper


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filtered_events(request, *, paged: bool = False):
    """(form, events) for the filters in the query string; invalid filters match nothing
    (the page answers 400 with the errors beside the fields, the CSV a 400 naming them).
    `paged`: for reading a page at a time (the desk), not the whole list (the CSV)."""
    form = AuditFilterForm(request.GET or None, verbs=selectors.audit_verb_list())
    if not form.is_bound:
        return form, selectors.audit_event_list(request.user, paged=paged)
    if not form.is_valid():
        return form, selectors.audit_event_list(request.user).none()
    data = form.cleaned_data
    case = data["case"].strip()
    events = selectors.audit_event_list(
        request.user,
        verb=data["verb"],
        actor=data["actor"].strip(),
        case_id=int(case) if case.isdigit() else None,
        measure_code="" if case.isdigit() else case,
        since=_start_of(data["since"]) if data["since"] else None,
        until=_start_of(data["until"] + timedelta(days=1)) if data["until"] else None,
        paged=paged,
    )
    return form, events


def _audit_trail_main(request) -> tuple[str, dict]:
    form, events = _filtered_events(request, paged=True)
    # By id, newest first: no COUNT(*) over the trail, and the 1,000th page costs the first's.
    page = keyset_page(
        events,
        size=PAGE_SIZE,
        before=keyset_bound(request.GET.get("before"), field="before"),
        after=keyset_bound(request.GET.get("after"), field="after"),
    )
    page = replace(page, rows=wording.events_primed(page.rows))
    query = request.GET.copy()
    for key in ("before", "after", "page"):
        query.pop(key, None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        # The chain is one for the whole tree: its verification is the national desk's.
        "verification": selectors.audit_verification_latest()
        if access.sees_everything(request.user)
        else None,
        "can_verify": access.sees_everything(request.user),
        "extra": {"status": 400 if form.is_bound and form.errors else 200},
    }
    return "workflows/desk/_audit_trail_main.html", context


@desk_view
@replica_view
def audit_trail(request):
    # Reach is checked above (desk_view) on every request; the page's main part is kept for
    # those of equal reach under the change stamp (names on the rows), the trail's own stamp
    # (every appended event moves it, a sign-in too: the desk shows them, and the verification
    # run appends one), the language and time zone, the filters and the page cursor.
    desk, extra = fragment_cached(
        request,
        name="audit_desk",
        parts=(change_stamp.trail_current(),),
        build=lambda: _audit_trail_main(request),
        personal=False,
    )
    return render(
        request, "workflows/desk/audit_trail.html", {"desk": desk}, status=extra["status"]
    )


@desk_view
@replica_view
def audit_csv(request):
    form, events = _filtered_events(request)
    if form.is_bound and form.errors:
        field, errors = next(iter(form.errors.items()))
        raise InputRejected(field if field in form.fields else "filters", " ".join(errors))
    # A bounded period (by default the last 31 days), read in chain order (seq), so a reader
    # can re-check prev_hash -> hash down the file; events not sealed yet come last.
    data = form.cleaned_data if form.is_bound else {}
    since, until = exports.audit_csv_period(data.get("since"), data.get("until"))
    rows = exports.audit_events_in_chain_order(
        events, since=_start_of(since), until=_start_of(until + timedelta(days=1))
    )
    response = StreamingHttpResponse(
        exports.audit_csv_lines(rows, language=translation.get_language()),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


@auditors_may_post
@require_POST
@desk_view
def audit_verify(request):
    if not access.sees_everything(request.user):
        raise PermissionDenied(_("The whole chain is verified from the national desk."))
    # Reads the trail and appends a record of the run; changes no case data, so auditors may.
    result = audit_verification_run(by=request.user)
    if result.ok:
        messages.success(
            request, _("The audit trail is intact: %(count)d events.") % {"count": result.count}
        )
    else:
        messages.error(
            request,
            _("The audit trail is broken at event %(event)s: %(problem)s")
            % {"event": result.broken_event_id, "problem": result.problem},
        )
    return redirect("workflows:audit")


def _attachment(response, name: str, suffix: str):
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{suffix}"'
    return response


@desk_view
@replica_view
def programme_csv(request):
    response = HttpResponse(exports.programme_csv(request.user), content_type="text/csv")
    return _attachment(response, "programme", "csv")


@desk_view
@replica_view
def programme_xlsx(request):
    response = HttpResponse(exports.programme_xlsx(request.user), content_type=XLSX_TYPE)
    return _attachment(response, "programme", "xlsx")
