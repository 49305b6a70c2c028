"""Issue 17's browser journey, in Chromium through the real pages: staff submit a plan with an
attachment; the head decides with the text and the file (name, SHA-256, link) in front of them
and returns it with a reason; staff find the reason at the top and their text prefilled, change
it and resubmit; the head's inbox marks the task "Resubmitted".

Screenshots (1366 px, and the returned task at 390 px) go to the test's tmp dir, to look at
after a run; none is committed."""

import hashlib
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE
from workflows.models import Evidence, WorkItem

pytestmark = pytest.mark.browser

TITLE_EN_2_2 = "Build a real-name, full-coverage, securely shared trade-union database"
DRAFT = "Draft implementation plan"
APPROVAL = "Department head approves the plan"
PLAN = b"Phase 1: membership data model. Phase 2: provincial feeds.\n"
FIRST_TEXT = "First draft: one national membership database."
REASON = "Add the provincial data feeds and a timetable."
SECOND_TEXT = FIRST_TEXT + " Provincial feeds from June, timetable attached."


def _shot(page, folder, name: str, viewport=DESKTOP):
    page.set_viewport_size(viewport)
    path = folder / f"{name}-{viewport['width']}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def _row(page, step_title: str):
    """The inbox/queue row of measure 2.2's task with this step title."""
    link = page.get_by_role("link", name=step_title, exact=True)
    row = page.locator("tr", has=link)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"2.2 {TITLE_EN_2_2}")
    return row


def _open(page, section: str, step_title: str):
    page.goto(f"/workflows/{section}/")
    _row(page, step_title).get_by_role("link", name=step_title, exact=True).click()
    expect(page.locator("h1")).to_have_text(step_title)


def test_return_with_a_reason_and_resubmit_keeps_the_context_for_both_people(
    login, launch, tmp_path
):
    case = launch("2.2")

    # Staff claim the draft from the queue and submit the plan with an attachment.
    staff = login("network_work.staff")
    _open(staff, "queue", DRAFT)
    staff.get_by_role("button", name="Claim this task").click()
    expect(staff.locator(".rf-msg-success")).to_have_text("The task is yours.")
    staff.get_by_label("Text").fill(FIRST_TEXT)
    staff.get_by_label("Attachments").set_input_files(
        files=[{"name": "plan-2.2.txt", "mimeType": "text/plain", "buffer": PLAN}]
    )
    staff.get_by_role("button", name="Submit").click()
    expect(staff.locator(".rf-msg-success")).to_contain_text("Submitted to the head of the")
    expect(staff).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))
    evidence = Evidence.objects.get(case=case)
    assert evidence.sha256 == hashlib.sha256(PLAN).hexdigest()

    # The head's decision page shows what is decided: the text and the file with its hash.
    head = login("network_work.head")
    _open(head, "inbox", APPROVAL)
    decision = head.locator("section.rf-decision")
    expect(decision.locator(".rf-submitted")).to_have_text(FIRST_TEXT)
    expect(decision).to_contain_text("Submitted text (Staff Network Work Department")
    # The attachments of the work under decision (its round below lists them too).
    attachment = decision.locator("xpath=./ul[contains(@class, 'rf-files')]/li")
    attachment = attachment.filter(has_text="plan-2.2.txt")
    expect(attachment).to_have_count(1)
    link = attachment.get_by_role("link", name="plan-2.2.txt")
    expect(link).to_have_attribute("href", f"/workflows/evidence/{evidence.pk}/")
    expect(attachment.locator("code.rf-hash")).to_have_text(evidence.sha256)
    expect(attachment.locator("code.rf-hash")).to_have_attribute("title", "SHA-256")
    expect(head.locator("section.rf-returned")).to_have_count(0)  # a first round: no return
    _shot(head, tmp_path, "1-decision-page")
    # The link serves the very file that was submitted.
    download = head.request.get(f"/workflows/evidence/{evidence.pk}/")
    assert download.ok and download.body() == PLAN

    # The head returns it with a reason.
    head.set_viewport_size(DESKTOP)
    head.get_by_label("Return for rework").check()
    head.get_by_label("Comment or reason").fill(REASON)
    head.get_by_role("button", name="Record decision").click()
    expect(head).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))
    expect(head.locator(".rf-msg-success")).to_contain_text("Returned for rework")

    # Staff: the returned task is marked in the inbox, the reason is at the top, the earlier
    # text fills the box.
    staff.goto("/workflows/inbox/")
    expect(_row(staff, DRAFT).locator(".rf-mark-returned")).to_have_text("Returned to you")
    _open(staff, "inbox", DRAFT)
    returned = staff.locator("section.rf-returned")
    expect(returned).to_be_visible()
    expect(returned).to_have_attribute("role", "alert")
    expect(returned.locator("blockquote.rf-reason")).to_have_text(REASON)
    expect(returned).to_contain_text("Head Network Work Department returned this work")
    expect(returned).to_contain_text("The form below starts from the text you last submitted.")
    text_box = staff.get_by_label("Text")
    expect(text_box).to_have_value(FIRST_TEXT)
    # "At the top": above what is decided and above the form, right under the task's heading.
    top = returned.bounding_box()["y"]
    assert top < staff.locator("section.rf-decision").bounding_box()["y"]
    assert top < text_box.bounding_box()["y"]
    assert top < staff.get_by_role("button", name="Submit").bounding_box()["y"]
    _shot(staff, tmp_path, "2-returned-task")
    _shot(staff, tmp_path, "2-returned-task", PHONE)
    staff.set_viewport_size(DESKTOP)

    text_box.fill(SECOND_TEXT)
    staff.get_by_role("button", name="Submit").click()
    expect(staff.locator(".rf-msg-success")).to_contain_text("Submitted to the head of the")

    # The head's inbox marks the task as resubmitted, and its page shows the new text with
    # the earlier round and its reason.
    head.goto("/workflows/inbox/")
    row = _row(head, APPROVAL)
    expect(row.locator(".rf-mark-resubmitted")).to_have_text("Resubmitted")
    expect(row.locator(".rf-mark-returned")).to_have_count(0)
    _shot(head, tmp_path, "3-inbox-resubmitted")
    _open(head, "inbox", APPROVAL)
    decision = head.locator("section.rf-decision")
    expect(decision.locator(".rf-submitted")).to_have_text(SECOND_TEXT)
    expect(decision.locator("ol.rf-rounds li.rf-round-returned")).to_contain_text(REASON)
    _shot(head, tmp_path, "4-decision-resubmitted")

    approval = WorkItem.objects.get(case=case, status="open")
    assert approval.step.key != "draft_plan" and approval.produced_by.username == (
        "network_work.staff"
    )
