"""People's journeys through the real pages in a real browser, with screenshots for the docs."""

import re

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from workflows.models import AuditEvent, Case, WorkItem

pytestmark = pytest.mark.browser

TITLE_EN_2_2 = "Build a real-name, full-coverage, securely shared trade-union database"
TITLE_ZH_2_2 = "建设动态实名、全面覆盖、安全共享的工会大数据库"
PLAN = b"Phase 1: membership data model. Phase 2: provincial feeds.\n"


def dashboard_row(page, code: str):
    return page.locator(f"tr[data-measure='{code}']")


def test_coordinator_launches_a_measure_and_finds_it_on_the_dashboard(login):
    page = login("coordinator.office")
    expect(page.locator(".rf-next-coordinator")).to_contain_text("Launch measures")

    page.get_by_role("link", name="Launch measures").first.click()
    page.get_by_label("Measure", exact=True).select_option("2.2")
    page.get_by_role("button", name="Launch").click()

    expect(page).to_have_url(re.compile(r"/workflows/dashboard/$"))
    expect(page.locator(".rf-msg-success")).to_have_text("1 case launched.")
    row = dashboard_row(page, "2.2")
    expect(row).to_contain_text(f"2.2 {TITLE_EN_2_2}")
    expect(row).to_contain_text("In progress")
    expect(row).to_contain_text("Draft implementation plan")
    expect(row).to_contain_text("Queue: Network Work Department")
    # The first step's due date: 15 working days from today, shown with how long is left.
    item = WorkItem.objects.get(case__measure__code="2.2", status="open")
    due = row.locator(".due-date")
    expect(due).to_have_attribute("data-due", timezone.localtime(item.due_at).isoformat())
    expect(due).to_contain_text(date_format(timezone.localtime(item.due_at), "SHORT_DATE_FORMAT"))
    expect(due).to_contain_text(re.compile(r"due in \d+ days"))
    expect(dashboard_row(page, "2.3")).to_contain_text("Not launched")
    case = Case.objects.get(measure__code="2.2")
    assert WorkItem.objects.get(case=case, status="open").step.key == "draft_plan"
    page.reload()  # without the launch message and its toast over the rows
    expect(dashboard_row(page, "2.2")).to_contain_text("In progress")
    screenshot(page, "dashboard")


def open_task(page, section: str, step_title: str):
    """From the inbox or queue, open the task of measure 2.2 with this step title."""
    page.goto(f"/workflows/{section}/")
    row = page.locator("tr", has=page.get_by_role("link", name=step_title, exact=True))
    expect(row).to_contain_text(f"2.2 {TITLE_EN_2_2}")
    row.get_by_role("link", name=step_title, exact=True).click()
    expect(page.locator("h1")).to_have_text(step_title)


def submit_plan(page, note: str, *, attachment: bool):
    page.get_by_label("Text").fill(note)
    if attachment:
        page.get_by_label("Attachments").set_input_files(
            files=[{"name": "plan-2.2.txt", "mimeType": "text/plain", "buffer": PLAN}]
        )
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".rf-msg-success")).to_contain_text("Submitted to the head of the")


def decide(page, decision: str, comment: str):
    page.get_by_label(decision).check()
    page.get_by_label("Comment or reason").fill(comment)
    page.get_by_role("button", name="Record decision").click()


def test_a_plan_is_returned_resubmitted_and_approved_twice_and_the_case_page_tells_it_all(
    login, launch
):
    case = launch("2.2")

    staff = login("network_work.staff")
    expect(staff.locator(".rf-next-staff")).to_be_visible()
    expect(staff.get_by_text("1 unclaimed task in your queues")).to_be_visible()
    open_task(staff, "queue", "Draft implementation plan")
    staff.get_by_role("button", name="Claim this task").click()
    expect(staff.locator(".rf-msg-success")).to_have_text("The task is yours.")
    submit_plan(staff, "First draft: one national database.", attachment=True)
    expect(staff).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))

    head = login("network_work.head")
    head.goto("/workflows/inbox/")
    screenshot(head, "inbox")
    open_task(head, "inbox", "Department head approves the plan")
    expect(head.get_by_text("Work submitted by Staff Network Work Department.")).to_be_visible()
    # A return without a reason is refused, and the error sits next to the reason field.
    decide(head, "Return for rework", "")
    comment_field = head.locator(".rf-field", has=head.get_by_label("Comment or reason"))
    expect(comment_field.locator(".rf-error")).to_have_text(
        "Give the reason for returning the work."
    )
    expect(head.get_by_label("Comment or reason")).to_have_attribute("aria-invalid", "true")
    screenshot(head, "task-form")
    reason = "Add the provincial data feeds and a timetable."
    decide(head, "Return for rework", reason)
    expect(head).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))

    # Reworked plans go straight back to the person who drafted them: their inbox, not the queue.
    open_task(staff, "inbox", "Draft implementation plan")
    expect(staff.locator("p.rf-meta").first).to_contain_text(
        "Assignee: Staff Network Work Department"
    )
    submit_plan(staff, "Second draft: national database fed by provincial feeds.", attachment=False)

    open_task(head, "inbox", "Department head approves the plan")
    decide(head, "Approve", "Approved for the leader.")

    leader = login("secretary_publicity_network")
    expect(leader.locator(".rf-next-leader")).to_be_visible()
    open_task(leader, "inbox", "Supervising leader approves the plan")
    decide(leader, "Approve", "Go ahead.")
    expect(leader).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))

    # The case page, as the coordinator watching the programme, shows the whole story in order.
    page = login("coordinator.office")
    page.goto(f"/workflows/cases/{case.pk}/")
    verbs = page.locator(".rf-timeline li.rf-event").evaluate_all(
        "items => items.map(li => li.dataset.verb)"
    )
    assert verbs == list(
        AuditEvent.objects.filter(case=case).order_by("pk").values_list("verb", flat=True)
    )
    decisions = [v for v in verbs if v in {"submitted", "returned", "approved"}]
    assert decisions == ["submitted", "returned", "submitted", "approved", "approved"]
    assert verbs[0] == "case_launched" or verbs[1] == "case_launched"
    returned = page.locator(".rf-timeline li[data-verb=returned]")
    expect(returned).to_contain_text("Head Network Work Department")
    expect(returned).to_contain_text(f"Department head approves the plan — {reason}")
    steps = page.locator("table.rf-table").first.locator("tbody tr")
    expect(steps).to_have_count(6)  # draft, head (returned), draft, head, leader, implementation
    expect(steps.nth(1)).to_contain_text("Returned for rework")
    expect(steps.nth(1)).to_contain_text(reason)
    expect(steps.nth(4)).to_contain_text("Go ahead.")
    expect(steps.nth(5)).to_contain_text("Implement with progress updates")
    expect(page.get_by_role("link", name="plan-2.2.txt")).to_be_visible()
    expect(page.locator(".rf-empty-progress")).to_contain_text("progress reports")
    expect(page.locator(".rf-empty-comments")).to_contain_text("No comments yet.")
    screenshot(page, "case")


def test_the_dashboard_in_simplified_chinese_shows_chinese_titles_and_dates(login, launch):
    case = launch("2.2")
    page = login("coordinator.office")
    page.goto("/workflows/dashboard/")
    expect(dashboard_row(page, "2.2")).to_contain_text(TITLE_EN_2_2)

    page.get_by_label("Language").select_option("zh-hans")

    expect(page.locator("h1")).to_have_text("改革举措总览")
    row = dashboard_row(page, "2.2")
    expect(row).to_contain_text(f"2.2 {TITLE_ZH_2_2}")
    expect(row).to_contain_text("起草实施方案")
    launched = timezone.localtime(case.created).date()
    expect(row.locator(".rf-launched")).to_have_text(
        f"{launched.year}年{launched.month}月{launched.day}日"
    )
    # The choice sticks: the next page is Chinese too.
    page.goto("/workflows/inbox/")
    expect(page.get_by_label("语言")).to_have_value("zh-hans")
