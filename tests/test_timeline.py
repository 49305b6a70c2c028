"""The case timeline (issue 18): steps against their due dates with returns, extensions and
pauses marked, from one selector, on the case page and in the completion PDF."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.casework import decide, open_item_of, walk_to_end
from tests.test_flow import _submitted_draft
from tests.test_reports import needs_pdftotext, pdf_text
from workflows.cases.timeline import case_timeline, timeline_svg
from workflows.common.calendar import local_date
from workflows.deadlines import due_dates as deadlines
from workflows.models import Report


@pytest.fixture
def eventful_case(client, demo_users, launch, coordinator):
    """2.2: a plan returned once; its rework paused, resumed and extended."""
    case, _staff, approval = _submitted_draft(client, demo_users, launch)
    decide(client, demo_users("network_work.head"), approval, "return", "Add a budget.")
    rework = open_item_of(case)
    deadlines.task_pause(item=rework, by=coordinator, reason="Waiting for the budget office.")
    rework.refresh_from_db()
    deadlines.task_resume(item=rework, by=coordinator, reason="Budget office answered.")
    rework.refresh_from_db()
    new_date = local_date(rework.due_at) + dt.timedelta(days=10)
    deadlines.deadline_extend(item=rework, by=coordinator, new_date=new_date, reason="Budget.")
    return case


def test_the_selector_marks_returns_pauses_and_extensions(eventful_case):
    timeline = case_timeline(eventful_case)
    assert [s.title for s in timeline.steps][:3] == [
        "Draft implementation plan",
        "Department head approves the plan",
        "Draft implementation plan",
    ]
    first, approval, rework = timeline.steps[:3]
    assert approval.returned and not first.returned
    assert rework.extended and rework.original_due and rework.due > rework.original_due
    assert len(rework.pauses) == 1 and rework.pauses[0].end is not None
    assert rework.ended is None and timeline.start <= first.opened
    svg = str(timeline_svg(timeline))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert svg.count('data-returned="1"') == 1
    assert svg.count('data-extended="1"') == 1 and svg.count('data-paused="1"') == 1
    assert 'class="rf-tl-pause"' in svg and 'class="rf-tl-original-due"' in svg
    assert "returned for rework" in svg and "extended from" in svg  # the text alternative


def test_the_case_page_shows_the_timeline_in_a_fixed_number_of_queries(
    client, coordinator, eventful_case, django_assert_max_num_queries
):
    client.force_login(coordinator)
    url = reverse("workflows:case", args=[eventful_case.pk])
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        page = client.get(url).content.decode()
    before_count = len(before)  # the next request empties the query log
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="rf-timeline-chart"' in page
    assert "Steps against their due dates" in page
    rework = open_item_of(eventful_case)
    for _ in range(3):
        deadlines.task_pause(item=rework, by=coordinator, reason="Again.")
        rework.refresh_from_db()
        deadlines.task_resume(item=rework, by=coordinator, reason="Back.")
        rework.refresh_from_db()
    client.get(url)  # warm again: the pauses moved the change stamp (the menu's count)
    with django_assert_max_num_queries(before_count):
        page = client.get(url).content.decode()
    assert page.count('class="rf-tl-pause"') == 4


@needs_pdftotext
def test_the_completion_pdf_has_the_timeline_and_the_case_page_links_it(
    client, coordinator, launch, django_capture_on_commit_callbacks
):
    case = launch("2.2")
    with django_capture_on_commit_callbacks(execute=True):
        walk_to_end(client, case)
    report = Report.objects.get(case=case, kind="completion")
    text = pdf_text(report)
    assert "Steps against their due dates" in text
    assert "finished" in text and "due date" in text  # the timeline's legend
    client.force_login(coordinator)
    page = client.get(reverse("workflows:case", args=[case.pk])).content.decode()
    assert reverse("workflows:report_download", args=[report.pk]) in page
    assert timezone.now()
