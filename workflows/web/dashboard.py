"""The dashboard at a glance: its figures and charts, the filtered case list the charts open,
and the leader's wall view. Every figure comes from reports/figures.py, as the PDF's do; every
case comes through the user's reach (common/reach.py)."""

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.cases import listing, selectors
from workflows.common import change_stamp, page_cache
from workflows.common import reach as access
from workflows.common.db_router import replica_view
from workflows.models import (
    Aspect,
    Case,
    Department,
    Measure,
    Organisation,
    WorkItem,
    WorkItemStatus,
)
from workflows.reports import figures

LIST_PAGE_SIZE = 50
# Seconds between the wall view's refreshes.
WALL_REFRESH = 60
# Seconds a rendered programme is kept. The change stamp retires it at the next write; this
# bounds what time alone changes (a step falling overdue, the overdue chart's weeks) to the
# sweep's minute.
PROGRAMME_CACHE_SECONDS = 60

SORTS = {
    "measure": ("measure__aspect__position", "measure__position", "organisation__code", "pk"),
    "organisation": ("organisation__code", "measure__aspect__position", "measure__position", "pk"),
    "percent": ("percent_complete", "measure__aspect__position", "measure__position", "pk"),
    "launched": ("created", "pk"),
    "department": ("lead_department__key", "measure__position", "pk"),
}
# What a listed case shows besides itself (loaded for the page's rows only): joined, and
# read alone (one small query each: planning one join of eight tables took PostgreSQL longer
# than running it, 20-40 ms under load at national scale).
LIST_JOINED = ("organisation", "lead_department", "light")
LIST_PREFETCHED = ("current_step",)
LIGHT_WORDS = {
    "green": gettext_lazy("Green"),
    "yellow": gettext_lazy("Yellow"),
    "red": gettext_lazy("Red"),
}


@functools.cache
def _list_path() -> str:
    """The case list's path: reversed once per process (the charts link it 300 times for the
    national federation's hundred below; the routes never change at runtime)."""
    return reverse("workflows:dashboard_cases")


def _list_url(**params) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return _list_path() + ("?" + query if query else "")


def _chart_data(figs: figures.Figures, code: str) -> dict:
    """What dashboard.js draws; every bar carries the URL of its filtered list."""
    return {
        "aspects": {
            "labels": [f"{b.aspect.code}. {b.aspect.title}" for b in figs.aspect_bars],
            "values": [b.percent for b in figs.aspect_bars],
            "urls": [_list_url(organisation=code, aspect=b.aspect.code) for b in figs.aspect_bars],
            "name": _("Percent complete"),
        },
        "lights": {
            "labels": [d.title for d in figs.departments],
            "series": [
                {
                    "key": light,
                    "name": str(LIGHT_WORDS[light]),
                    "values": [getattr(d, light) for d in figs.departments],
                    "urls": [
                        _list_url(organisation=code, department=d.department_id, light=light)
                        for d in figs.departments
                    ],
                }
                for light in figures.LIGHTS
            ],
        },
        "overdue": {
            "labels": [timezone.localtime(p.at).strftime("%m-%d") for p in figs.overdue_weeks],
            "values": [p.count for p in figs.overdue_weeks],
            "url": _list_url(organisation=code, overdue=1),
            "name": _("Overdue steps"),
        },
        "rollup": {
            "labels": [r.title for r in figs.rollup],
            "series": [
                {
                    "name": _("In progress"),
                    "values": [r.in_progress for r in figs.rollup],
                    "urls": [_list_url(organisation=r.code, status="open") for r in figs.rollup],
                },
                {
                    "name": _("Completed"),
                    "values": [r.completed for r in figs.rollup],
                    "urls": [
                        _list_url(organisation=r.code, status="completed") for r in figs.rollup
                    ],
                },
                {
                    "name": _("Overdue"),
                    "values": [r.overdue for r in figs.rollup],
                    "urls": [_list_url(organisation=r.code, overdue=1) for r in figs.rollup],
                },
            ],
        },
    }


def dashboard_context(user, organisation: Organisation | None) -> dict:
    """The figures block of the dashboard (and the wall): nothing before the catalogue loads."""
    shown = organisation or access.organisation_default(user)
    if shown is None:
        return {}
    figs = figures.programme_figures(user, shown)
    code = shown.code
    return {
        "figures": figs,
        "figures_organisation": shown,
        "chart_data": _chart_data(figs, code),
        "tile_urls": {
            "launched": _list_url(organisation=code),
            "in_progress": _list_url(organisation=code, status="open"),
            "overdue": _list_url(organisation=code, overdue=1),
            "completed": _list_url(organisation=code, status="completed"),
        },
    }


def _render_cached(request, key: str, template: str, build: Callable[[], dict]):
    """(`template` rendered from `build()`'s context, whether it has figures, the context or
    None when read from the cache); kept while the change stamp holds."""
    cached = cache.get(key)
    if cached is not None:
        return (*cached, None)
    context = build()
    # A rendered template (autoescaped) kept as is: marking it safe escapes nothing twice.
    html = SafeString(render_to_string(template, context, request))  # nosec B703 B308
    result = (html, bool(context.get("figures")))
    cache.set(key, result, change_stamp.keep_seconds(PROGRAMME_CACHE_SECONDS))
    return (*result, context)


def programme_cached(
    request, *, organisation: Organisation | None, level: str | None, build: Callable[[], dict]
) -> tuple[SafeString, bool]:
    """The dashboard's programme rendered (workflows/_dashboard_main.html from `build()`'s
    context) and whether it has charts; from the cache while the change stamp holds.

    The key holds everything the fragment depends on (`common/page_cache.cache_key`, with the
    home federation and role) and the filters.
    """
    key = page_cache.cache_key(
        "programme",
        request.user,
        access.user_organisation_id(request.user),  # with the role: the tiles are the home's
        access.is_coordinator(request.user),
        organisation.pk if organisation else None,
        level or "",
        request.GET.get("page", "") if level else "",
    )
    html, charts, _context = _render_cached(request, key, "workflows/_dashboard_main.html", build)
    return html, charts


def _organisation_param(user, params, name) -> Organisation | None:
    code = params.get(name) or ""
    return selectors.organisation_get_visible(user, code) if code else None


def case_list_filtered(user, params) -> tuple:
    """The visible cases the dashboard's filters select, and the sort asked for; unknown
    values: 404."""
    cases = access.case_list_visible(user)
    chosen = {}
    organisation = _organisation_param(user, params, "organisation")
    if organisation is not None:
        cases = cases.filter(organisation=organisation)
        chosen["organisation"] = organisation
    within = _organisation_param(user, params, "within")
    if within is not None:
        cases = cases.filter(organisation__path__startswith=within.path)
        chosen["within"] = within
    if params.get("aspect"):
        aspect = Aspect.objects.filter(code=params["aspect"]).first()
        if aspect is None:
            raise Http404
        cases = cases.filter(measure__aspect=aspect)
        chosen["aspect"] = aspect
    status = params.get("status") or ""
    if status == "open":
        cases = cases.filter(is_open=True)
    elif status == "completed":
        cases = cases.filter(is_open=False)
    elif status:
        raise Http404
    light = params.get("light") or ""
    if light:
        if light not in figures.LIGHTS:
            raise Http404
        # A case not lit yet counts as green, as the chart counts it.
        if light == "green":
            cases = cases.exclude(light__deadline__in=["yellow", "red"])
        else:
            cases = cases.filter(light__deadline=light)
        chosen["light"] = LIGHT_WORDS[light]
    if params.get("department"):
        try:
            department = Department.objects.get(pk=int(params["department"]))
        except (ValueError, Department.DoesNotExist) as exc:
            raise Http404 from exc
        cases = cases.filter(lead_department=department)
        chosen["department"] = department
    open_items = WorkItem.objects.filter(case=OuterRef("pk"), status=WorkItemStatus.OPEN)
    if params.get("overdue"):
        cases = cases.filter(
            Exists(open_items.filter(due_at__lt=timezone.now(), paused_at__isnull=True))
        )
        chosen["overdue"] = True
    if params.get("assignee"):
        cases = cases.filter(Exists(open_items.filter(assignee__username=params["assignee"])))
        chosen["assignee"] = params["assignee"]
    sort = params.get("sort") or "measure"
    if sort.lstrip("-") not in SORTS:
        raise Http404
    return cases, chosen, sort


def _case_order(sort: str) -> tuple[str, ...]:
    order = SORTS[sort.lstrip("-")]
    return ("-" + order[0], *order[1:]) if sort.startswith("-") else order


def case_page(cases, sort: str, asked) -> listing.CappedPaginator:
    """The list's pager: the count stops past the page asked for (listing.COUNT_CEILING), and
    a page's ids are picked alone, then its 50 rows loaded with their relations."""
    order = _case_order(sort)

    def rows(offset: int, limit: int, capped: bool) -> list:
        # The catalogue's 30 measures, read once: their order and each row's measure.
        measures = Measure.objects.using(cases.db).select_related("aspect").in_bulk()
        ids = None
        # Measure by measure only when the cases are many: a list narrowed by its filters or
        # by a person's reach (a few hundred cases) sorts faster at once than 30 times over.
        if capped and sort.lstrip("-") == "measure":
            ids = listing.case_ids_by_measure(
                cases,
                measures=measures.values(),
                descending=sort.startswith("-"),
                offset=offset,
                limit=limit,
            )
        if ids is None:
            ids = list(cases.order_by(*order).values_list("pk", flat=True)[offset : offset + limit])
        loaded = (
            Case.objects.using(cases.db)
            .select_related(*LIST_JOINED)
            .prefetch_related(*LIST_PREFETCHED)
            .order_by()
            .in_bulk(ids)
        )
        page = [loaded[pk] for pk in ids if pk in loaded]
        for case in page:
            case.measure = measures[case.measure_id]
        return page

    return listing.CappedPaginator(cases, LIST_PAGE_SIZE, asked=asked, rows=rows)


@login_required
@replica_view
def dashboard_cases(request):
    """The cases the dashboard's filters select, a page of them. The filters are checked
    against the reader's reach on every request (an organisation out of reach: 404); the
    list itself (capped count, page, rows) is rendered once per filters, sort and page and
    kept under the reader's change stamp, reach key and language (common/page_cache), as
    the programme: heads and staff no longer run their reach's UNION twice per request."""
    cases, chosen, sort = case_list_filtered(request.user, request.GET)
    key = page_cache.cache_key(
        "dashboard-cases",
        request.user,
        # Every parameter: the header and pager links carry the others along.
        tuple(sorted(request.GET.lists())),
    )
    html = page_cache.kept(
        key,
        lambda: render_to_string(
            "workflows/_dashboard_cases_main.html",
            _case_list_context(request, cases, chosen, sort),
            request,
        ),
        PROGRAMME_CACHE_SECONDS,
    )
    # A rendered (autoescaped) template kept as is: marking it safe escapes nothing twice.
    main = SafeString(html)  # nosec B703 B308
    return render(request, "workflows/dashboard_cases.html", {"main": main})


def _case_list_context(request, cases, chosen: dict, sort: str) -> dict:
    page = case_page(cases, sort, request.GET.get("page")).get_page(request.GET.get("page"))
    kept = {k: v for k, v in request.GET.items() if k not in ("page", "sort") and v}
    columns = [
        ("measure", _("Measure")),
        ("organisation", _("Organisation")),
        ("department", _("Lead department")),
        ("percent", _("Progress")),
        ("launched", _("Launched")),
    ]
    headers = [
        (
            label,
            "?" + urlencode({**kept, "sort": ("-" + key) if sort == key else key}),
            "ascending" if sort == key else "descending" if sort == "-" + key else "none",
        )
        for key, label in columns
    ]
    return {
        "page": page,
        "chosen": chosen,
        "headers": headers,
        "page_query": urlencode({**kept, "sort": sort}),
    }


@login_required
@replica_view
def dashboard_wall(request):
    organisation = _organisation_param(request.user, request.GET, "organisation")
    # The figures as the dashboard's, rendered once per change stamp (as its programme).
    key = page_cache.cache_key(
        "wall",
        request.user,
        access.user_organisation_id(request.user),
        access.is_coordinator(request.user),
        organisation.pk if organisation else None,
    )
    html, charts, context = _render_cached(
        request,
        key,
        "workflows/_figures.html",
        lambda: dashboard_context(request.user, organisation),
    )
    shown = organisation or access.organisation_default(request.user)
    context = {
        **(context or {}),
        "figures_html": html,
        "charts": charts,
        "figures_organisation": shown if charts else None,
        "refresh": WALL_REFRESH,
        "now": timezone.now(),
    }
    return render(request, "workflows/dashboard_wall.html", context)
