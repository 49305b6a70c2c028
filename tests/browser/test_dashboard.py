"""The dashboard at a glance in Chromium (issue 18): its tiles show what the database holds,
a click on a chart's bar lands on the matching filtered list, and on a phone neither the
dashboard, its case list, the wall view nor the case page scrolls sideways."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_page_weight import describe, first_load
from workflows.models import Case, Organisation, WorkItem

pytestmark = pytest.mark.browser

SIDEWAYS_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def programme(launch):
    cases = {code: launch(code) for code in ("1.1", "1.2", "2.2")}
    WorkItem.objects.filter(case=cases["1.1"], status="open").update(
        due_at=timezone.now() - dt.timedelta(days=2)
    )
    return cases


def test_the_tiles_match_the_database_and_a_bar_opens_its_filtered_list(
    fresh_page, signed_in, programme
):
    national = Organisation.objects.get(parent__isnull=True)
    expected = {
        "launched": Case.objects.filter(organisation=national).count(),
        "in_progress": Case.objects.filter(organisation=national, is_open=True).count(),
        "completed": Case.objects.filter(organisation=national, is_open=False).count(),
        "overdue": WorkItem.objects.filter(
            case__organisation=national, status="open", due_at__lt=timezone.now()
        ).count(),
    }
    network = programme["2.2"].lead_department
    page = fresh_page(signed_in("coordinator.office"), viewport=DESKTOP)
    page.goto("/workflows/dashboard/")
    for key, value in expected.items():
        tile = page.locator(f'[data-figure="{key}"] .rf-tile-value')
        expect(tile).to_have_text(str(value))
    # Two of the three open steps are within their due dates.
    expect(page.locator('[data-figure="on_time_rate"] .rf-tile-value')).to_have_text("67%")
    # Every chart is drawn (ECharts, from static/vendor) and labelled for assistive technology.
    for name in ("aspects", "lights", "overdue"):
        expect(page.locator(f'[data-chart="{name}"] svg')).to_be_visible()
    # Click the green bar of the lead department of 2.2 where ECharts drew it.
    row = page.evaluate(
        """title => JSON.parse(document.getElementById('rf-chart-data').textContent)
               .lights.labels.indexOf(title)""",
        str(network.title_en),
    )
    assert row >= 0
    box = page.locator('[data-chart="lights"]')
    point = box.evaluate(
        "(el, row) => echarts.getInstanceByDom(el).convertToPixel({seriesIndex: 0}, [0.5, row])",
        row,
    )
    origin = box.bounding_box()
    page.mouse.click(origin["x"] + point[0], origin["y"] + point[1])
    page.wait_for_url("**/workflows/dashboard/cases/**")
    assert f"department={network.pk}" in page.url and "light=green" in page.url
    rows = page.locator("table.rf-case-list tbody tr")
    shown = {int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.case)")}
    assert programme["2.2"].pk in shown
    assert shown == set(
        Case.objects.filter(organisation=national, lead_department=network).values_list(
            "pk", flat=True
        )
    )
    # The overdue line opens the overdue cases.
    page.goto("/workflows/dashboard/")
    page.locator('[data-figure="overdue"] a').click()
    page.wait_for_url("**overdue=1**")
    expect(page.locator("table.rf-case-list tbody tr")).to_have_count(1)
    expect(page.locator("table.rf-case-list tbody tr").first).to_contain_text("1.1")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_pictures_and_no_sideways_scroll_on_a_phone(fresh_page, signed_in, programme, language):
    """docs/screenshots/dashboard-*.tmp.png and wall-*.tmp.png, at both widths."""
    coordinator = signed_in("coordinator.office")
    case = programme["1.1"]
    for width, viewport in (("1366", DESKTOP), ("390", PHONE)):
        page = fresh_page(coordinator, viewport=viewport, language=language)
        for name, path in (
            ("dashboard", "/workflows/dashboard/"),
            ("dashboard-cases", "/workflows/dashboard/cases/?overdue=1"),
            ("wall", "/workflows/dashboard/wall/"),
            ("case", f"/workflows/cases/{case.pk}/"),
        ):
            page.goto(path, wait_until="networkidle")
            if viewport is PHONE:
                assert page.evaluate(SIDEWAYS_JS) <= 0, f"{path} scrolls sideways at 390 px"
            screenshot(page, f"{name}-{width}-{language}", shown_in_readme=False)


def test_the_dashboard_weight(fresh_page, signed_in, programme):
    total, by_url = first_load(fresh_page(signed_in("coordinator.office")), "/workflows/dashboard/")
    print(f"\ndashboard first load: {total // 1024} KB: {describe(by_url)}")
    assert total <= 1200 * 1024
    total, by_url = first_load(fresh_page(signed_in("coordinator.office")), "/workflows/inbox/")
    assert not any("echarts" in url for url in by_url), "ECharts only on the dashboard"


def test_on_a_phone_the_case_timeline_scrolls_within_itself(fresh_page, signed_in, programme):
    page = fresh_page(signed_in("coordinator.office"), viewport=PHONE)
    page.goto(f"/workflows/cases/{programme['1.1'].pk}/")
    chart = page.locator("svg.rf-timeline-chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] >= 600  # readable type, scrolled within its box
    assert page.evaluate(SIDEWAYS_JS) <= 0
    steps = page.locator("table.rf-steps tbody td[data-label]").first
    assert steps.evaluate("td => getComputedStyle(td).display") == "block"
