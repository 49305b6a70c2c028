"""The dashboard at a glance (issue 18): its tiles and charts count what the programme PDF
counts, its charts open filtered case lists within the user's reach, the wall view shows the
same figures, and every page reads a fixed number of queries."""

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import DEMO_PASSWORD
from workflows.demo.accounts import demo_seed
from workflows.models import Case, Measure, Organisation, Report, ReportKind, WorkItem
from workflows.reports import figures
from workflows.reports.data import report_data_collect

CODES = ["1.1", "1.2", "2.2", "3.1"]


@pytest.fixture
def programme(launch):
    """Four national cases: one overdue, one paused, one completed, one on time."""
    cases = {code: launch(code) for code in CODES}
    past = timezone.now() - dt.timedelta(days=3)
    WorkItem.objects.filter(case=cases["1.1"], status="open").update(due_at=past)
    WorkItem.objects.filter(case=cases["1.2"], status="open").update(
        due_at=past, paused_at=timezone.now()
    )
    Case.objects.filter(pk=cases["3.1"].pk).update(is_open=False, percent_complete=100)
    WorkItem.objects.filter(case=cases["3.1"]).update(status="done", finished_at=timezone.now())
    WorkItem.objects.filter(case=cases["2.2"], status="open").update(
        due_at=timezone.now() + dt.timedelta(days=5)
    )
    return cases


def test_the_tiles_count_the_database_and_agree_with_the_programme_pdf(
    client, coordinator, programme
):
    client.force_login(coordinator)
    response = client.get(reverse("workflows:dashboard"))
    assert response.status_code == 200
    figs = response.context["figures"]
    national = Organisation.objects.get(parent__isnull=True)
    assert (figs.launched, figs.in_progress, figs.completed) == (
        Case.objects.filter(organisation=national).count(),
        Case.objects.filter(organisation=national, is_open=True).count(),
        Case.objects.filter(organisation=national, is_open=False).count(),
    )
    assert (figs.launched, figs.in_progress, figs.completed, figs.overdue) == (4, 3, 1, 1)
    assert (figs.steps.on_time, figs.steps.paused) == (1, 1)
    assert figs.on_time_rate == 50
    page = response.content.decode()
    assert 'data-figure="overdue"><a href="/workflows/dashboard/cases/?organisation=' in page
    assert 'src="/static/vendor/echarts.min.js' in page or "vendor/echarts.min" in page

    report = Report.objects.create(
        kind=ReportKind.PROGRAMME, scope="programme", organisation=national, version=1
    )
    pdf = report_data_collect(report, as_of=figs.as_of)
    assert (pdf.on_time, pdf.overdue, pdf.paused, pdf.no_deadline) == (
        figs.steps.on_time,
        figs.steps.overdue,
        figs.steps.paused,
        figs.steps.no_deadline,
    )
    assert [(b.aspect.code, b.percent, b.launched) for b in pdf.aspect_bars] == [
        (b.aspect.code, b.percent, b.launched) for b in figs.aspect_bars
    ]
    aspect_3 = next(b for b in figs.aspect_bars if b.aspect.code == "3")
    assert aspect_3.launched == 1 and aspect_3.percent == round(
        100 / Measure.objects.filter(aspect__code="3").count()
    )


def test_each_chart_carries_the_links_of_its_filtered_lists(client, coordinator, programme):
    client.force_login(coordinator)
    response = client.get(reverse("workflows:dashboard"))
    data = response.context["chart_data"]
    assert json.dumps(data)  # what json_script writes
    assert data["aspects"]["values"][0] == response.context["figures"].aspect_bars[0].percent
    network = programme["2.2"].lead_department
    lights = data["lights"]
    row = lights["labels"].index(str(network.title))
    green = lights["series"][0]
    assert green["key"] == "green" and green["values"][row] >= 1
    listed = client.get(green["urls"][row])
    assert listed.status_code == 200
    assert programme["2.2"] in listed.context["page"].object_list
    assert all(c.lead_department_id == network.pk for c in listed.context["page"].object_list)
    overdue = client.get(data["overdue"]["url"])
    assert [c.pk for c in overdue.context["page"].object_list] == [programme["1.1"].pk]
    assert data["overdue"]["values"][-1] == 1


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ({"aspect": "1"}, ["1.1", "1.2"]),
        ({"status": "completed"}, ["3.1"]),
        ({"status": "open"}, ["1.1", "1.2", "2.2"]),
        ({"overdue": "1"}, ["1.1"]),
        ({"light": "red"}, []),
        ({"light": "green"}, CODES),
    ],
)
def test_the_case_list_filters(client, coordinator, programme, query, codes):
    client.force_login(coordinator)
    response = client.get(reverse("workflows:dashboard_cases"), query)
    assert response.status_code == 200
    assert sorted(c.measure.code for c in response.context["page"].object_list) == codes


def test_the_case_list_sorts_and_refuses_unknown_filters(client, coordinator, programme):
    client.force_login(coordinator)
    url = reverse("workflows:dashboard_cases")
    ascending = list(client.get(url, {"sort": "percent"}).context["page"].object_list)
    descending = client.get(url, {"sort": "-percent"}).context["page"].object_list
    assert ascending[-1].measure.code == "3.1" and descending[0].measure.code == "3.1"
    for bad in ({"sort": "password"}, {"light": "blue"}, {"status": "x"}, {"aspect": "99"}):
        assert client.get(url, bad).status_code == 404, bad
    assert client.get(url, {"department": "x"}).status_code == 404


def test_the_case_list_and_figures_keep_to_the_users_reach(client, catalogue):
    from tests.test_reach import launch_in

    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    world = get_user_model().objects.get
    launch_in(lambda u: world(username=u), "2.2", "acftu")
    launch_in(lambda u: world(username=u), "1.1", "beijing")
    launch_in(lambda u: world(username=u), "1.2", "shanghai")
    client.force_login(world(username="beijing.coordinator"))
    listed = client.get(reverse("workflows:dashboard_cases")).context["page"].object_list
    assert {c.organisation.code for c in listed} == {"beijing"}
    for outside in ("acftu", "shanghai"):
        response = client.get(reverse("workflows:dashboard_cases"), {"organisation": outside})
        assert response.status_code == 404
    figs = client.get(reverse("workflows:dashboard")).context["figures"]
    assert figs.organisation.code == "beijing" and figs.launched == 1
    # The national coordinator sees the provinces rolled up below the national federation.
    client.force_login(world(username="coordinator.office"))
    rollup = client.get(reverse("workflows:dashboard")).context["figures"].rollup
    assert {(r.code, r.launched) for r in rollup} >= {("beijing", 1), ("shanghai", 1)}


@pytest.mark.parametrize("sort", ["measure", "-measure", "organisation", "-launched"])
def test_the_case_list_pages_in_order_past_its_count_ceiling(client, catalogue, monkeypatch, sort):
    """Page after page, the list shows the cases in the sort's order (on PostgreSQL the measure
    order is read measure by measure); past the ceiling the count is a floor that links on."""
    from tests.test_reach import launch_in
    from workflows.cases import listing
    from workflows.web import dashboard

    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    world = get_user_model().objects.get
    for code in ("1.1", "2.2", "1.2", "3.1"):
        for organisation in ("shanghai", "acftu", "beijing"):
            launch_in(lambda u: world(username=u), code, organisation)
    monkeypatch.setattr(dashboard, "LIST_PAGE_SIZE", 2)
    monkeypatch.setattr(listing, "COUNT_CEILING", 3)
    client.force_login(world(username="coordinator.office"))
    url = reverse("workflows:dashboard_cases")
    shown, number = [], 1
    while True:
        response = client.get(url, {"sort": sort, "page": number})
        page = response.context["page"]
        shown += [case.pk for case in page.object_list]
        content = response.content.decode()
        for case in page.object_list:  # each row: its case, organisation and current step
            assert (
                f'<tr data-case="{case.pk}"><td><a href="/workflows/cases/{case.pk}/">' in content
            )
            assert f'data-label="Organisation">{case.organisation.title}</td>' in content
            assert f'data-label="Current step">{case.current_step.title}</td>' in content
        if number == 1:
            assert page.paginator.capped and page.paginator.count == 3
            assert "More than 3 cases" in response.content.decode()
        if not page.has_next():
            break
        number += 1
    order = dashboard._case_order(sort)
    assert shown == list(Case.objects.order_by(*order).values_list("pk", flat=True))
    assert len(shown) == 12 and not page.paginator.capped


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_dashboard_list_and_wall_queries_stay_fixed(client, coordinator, launch, demo_users):
    client.force_login(coordinator)
    launch("1.1")
    pages = [
        reverse("workflows:dashboard"),
        reverse("workflows:dashboard_cases"),
        reverse("workflows:dashboard_cases") + "?overdue=1&light=green&sort=-percent",
        reverse("workflows:dashboard_wall"),
    ]
    small = [_count(client, url) for url in pages]
    for code in Measure.objects.exclude(code="1.1").values_list("code", flat=True)[:12]:
        launch(code)
    large = [_count(client, url) for url in pages]
    assert large == small


def test_the_wall_view_refreshes_itself_with_the_same_figures(client, coordinator, programme):
    client.force_login(coordinator)
    response = client.get(reverse("workflows:dashboard_wall"))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="60">' in page
    assert 'class="rf-wall"' in page
    figs = response.context["figures"]
    assert (figs.launched, figs.overdue, figs.completed) == (4, 1, 1)
    assert figures.programme_figures(coordinator, figs.organisation).launched == 4
