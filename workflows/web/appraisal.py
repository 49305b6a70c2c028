"""Appraisal and ledger pages: the monthly scores per department, one department's entries,
the bulletin PDF, and the programme ledger (台账) as XLSX or DOCX.
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from workflows.appraisal import scoring as appraisal
from workflows.cases import selectors
from workflows.common import bounds
from workflows.common import reach as access
from workflows.common.calendar import local_date
from workflows.common.db_router import replica_view
from workflows.models import (
    Department,
    ScoreEntry,
)
from workflows.reports import ledger
from workflows.web.fragments import fragment_cached

ENTRIES_PAGE_SIZE = 50


def _organisation(request):
    """The federation a supervision page is about: `?organisation=<code>` within the user's
    reach, else the user's own (national if none); out of reach: 404."""
    code = request.GET.get("organisation") or request.POST.get("organisation") or ""
    return selectors.organisation_get_visible(request.user, code[:60])


def _period(request, organisation=None) -> dt.date:
    """?period=YYYY-MM (GET or POST); without one, the federation's latest scored month, else
    last month. Outside the date horizon: a 400 naming the field (bounds.InputRejected)."""
    text = request.GET.get("period") or request.POST.get("period") or ""
    try:
        year, month = (int(part) for part in text.split("-")[:2])
    except ValueError:
        return appraisal.period_default(organisation)
    try:
        period = dt.date(year, month, 1)
    except ValueError:
        raise bounds.InputRejected("period", _("Give a month as YYYY-MM.")) from None
    return bounds.check_query_date(period, field="period")


def _organisation_choices(user, organisation) -> list:
    """The appraisal's federation menu: the user's own and the ones right below it, and the
    one shown; any other within reach works by its code in the URL."""
    home = access.organisation_default(user)
    choices = selectors.organisation_list_visible(user).filter(
        Q(pk=organisation.pk) | Q(pk=home.pk) | Q(parent=home)
    )
    return list(choices.only("code", "title_en", "title_zh", "level"))


@login_required
@replica_view
def appraisal_page(request):
    """A federation's month: its departments ranked among themselves. Its coordinators (and
    those above) rebuild it from the audit trail."""
    organisation = _organisation(request)
    if request.method == "POST":
        period = _period(request, organisation)
        appraisal.appraisal_rebuild(period=period, organisation=organisation, by=request.user)
        messages.success(request, _("The appraisal is recomputed."))
        query = urlencode({"period": f"{period:%Y-%m}", "organisation": organisation.code})
        return redirect(reverse("workflows:appraisal") + f"?{query}")
    # The federation asked for is checked against reach above, on every request; the rest is
    # kept for those of equal reach (and home: the federation menu) while the stamp holds
    # (appraisal_compute moves it): the period, page and language are in the key.
    home = access.organisation_default(request.user)
    main, _extra = fragment_cached(
        request,
        name="appraisal",
        parts=(home.pk if home else None, organisation.pk),
        build=lambda: _appraisal_main(request, organisation),
        personal=False,
    )
    return render(request, "workflows/supervision/appraisal.html", {"main": main})


def _appraisal_main(request, organisation) -> tuple[str, dict]:
    period = _period(request, organisation)
    ranking, page = appraisal.department_ranking_page(
        period=period, organisation=organisation, page=request.GET.get("page")
    )
    context = {
        "ranking": ranking,
        "page": page,
        "page_query": urlencode({"period": f"{period:%Y-%m}", "organisation": organisation.code}),
        "period": period,
        "organisation": organisation,
        "organisations": _organisation_choices(request.user, organisation),
        "can_rebuild": access.can_coordinate(request.user, organisation),
        "extra": {},
    }
    return "workflows/supervision/_appraisal_main.html", context


@login_required
@replica_view
def appraisal_department(request, department_id):
    """A department's points in the month, each linked to the task and event behind it; a
    department of a federation out of reach is a 404. Notes and links show only for the cases
    the user may see."""
    departments = Department.objects.filter(
        organisation__in=selectors.organisation_list_visible(request.user)
    ).select_related("organisation")
    department = get_object_or_404(departments, pk=department_id)
    period = _period(request, department.organisation)
    month = ScoreEntry.objects.filter(period=period, department=department)
    # A page of entries, read with their relations; the total is summed in SQL.
    page = Paginator(
        month.select_related("case__measure", "work_item__step", "event", "extension").order_by(
            "pk"
        ),
        ENTRIES_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    entries = list(page.object_list)
    visible = set(
        access.case_list_visible(request.user)
        .filter(pk__in={e.case_id for e in entries})
        .values_list("pk", flat=True)
    )
    return render(
        request,
        "workflows/supervision/appraisal_department.html",
        {
            "department": department,
            "period": period,
            "entries": entries,
            "page": page,
            "page_query": urlencode({"period": f"{period:%Y-%m}"}),
            "total": month.aggregate(total=Coalesce(Sum("points"), 0))["total"],
            "visible": visible,
        },
    )


@login_required
@replica_view
def bulletin_pdf(request):
    """A federation's monthly bulletin (情况通报) as a PDF download."""
    organisation = _organisation(request)
    period = _period(request, organisation)
    pdf = appraisal.bulletin_pdf(
        period=period, organisation=organisation, language=request.LANGUAGE_CODE
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"bulletin-{organisation.code}-{period:%Y-%m}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


_LEDGER_TYPES = {
    "xlsx": (
        ledger.ledger_xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "docx": (
        ledger.ledger_docx,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}


@login_required
@replica_view
def ledger_export(request, fmt):
    """A federation's programme ledger (台账) as XLSX or DOCX: its own cases, one row per
    measure (`?organisation=<code>`, by default the user's own); with `?below=1`, the same
    for it and the federations below it, LEDGER_FEDERATIONS_PER_FILE of them to a file
    (`&page=2`...), with a note naming them. Every row names its federation."""
    if fmt not in _LEDGER_TYPES:
        raise Http404
    render_file, content_type = _LEDGER_TYPES[fmt]
    organisation = _organisation(request)
    below = request.GET.get("below") == "1"
    today = local_date(timezone.now())
    title = _("Reform programme ledger of %(federation)s, %(date)s") % {
        "federation": organisation.title,
        "date": today.isoformat(),
    }
    page = request.GET.get("page")
    sheet = ledger.ledger_page(request.user, organisation=organisation, below=below, page=page)
    content = render_file(sheet.rows, title=title, note=sheet.note)
    response = HttpResponse(content, content_type=content_type)
    part = f"-p{page}" if sheet.note and page else ""
    name = f"ledger-{organisation.code}{'-below' if below else ''}{part}-{today}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
