"""The README's pictures (issues 17 and 18): the dashboard, the wall view, My work, a decision
page and a case timeline, each at 1366 and 390 px, in English and Chinese. Each page is also
checked for what the picture is meant to show, so a picture never shows a broken page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.casework import claim, decide, open_item_of, submit
from workflows.models import Profile

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n" + b"evidence of the reform " * 20 + b"\n%%EOF\n"
SIDEWAYS_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def programme(launch, demo_users):
    """Four launched measures; 2.2's plan submitted with an attachment, returned with a reason
    and resubmitted, so the head has a decision with an earlier round waiting."""
    cases = {code: launch(code) for code in ("1.1", "1.2", "2.2", "3.1")}
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    client = Client()
    case = cases["2.2"]
    claim(client, staff, open_item_of(case))
    plan = SimpleUploadedFile("pilot-plan.pdf", PDF, "application/pdf")
    submit(
        client, staff, open_item_of(case), "Pilot the online union card in two provinces.", [plan]
    )
    decide(client, head, open_item_of(case), "return", "Add the budget and the timetable.")
    submit(
        client,
        staff,
        open_item_of(case),
        "Pilot the online union card in two provinces; budget 1.2 million yuan, by June.",
    )
    return cases


def _pages(head_item, case):
    return {
        "dashboard": ("coordinator.office", "/workflows/dashboard/", ".rf-tiles"),
        "wall": ("coordinator.office", "/workflows/dashboard/wall/", ".rf-tiles"),
        "my-work": ("network_work.head", "/workflows/my-work/", "table.rf-work"),
        "decision": ("network_work.head", f"/workflows/tasks/{head_item.pk}/", "form.rf-form"),
        "timeline": ("coordinator.office", f"/workflows/cases/{case.pk}/", ".rf-timeline-figure"),
    }


# Pages the README does not show, looked at after a run (docs/screenshots/*.tmp.png only).
def _other_pages(head_item):
    return {
        "search": ("coordinator.office", "/workflows/search/?q=2.2", "main h1"),
        "queue": ("network_work.staff", "/workflows/queue/", "main h1"),
        "substitute": ("network_work.head", "/workflows/me/substitute/", "main form"),
        "urge": ("coordinator.office", f"/workflows/tasks/{head_item.pk}/", ".rf-urge"),
    }


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_readme_pictures(fresh_page, signed_in, programme, language):
    case = programme["2.2"]
    head_item = open_item_of(case)
    assert head_item.kind == "approve"
    Profile.objects.filter(user__username__in=["coordinator.office", "network_work.head"]).update(
        language=language
    )
    sessions = {}
    for name, (username, url, shown) in _pages(head_item, case).items():
        if username not in sessions:
            sessions[username] = signed_in(username)
        for width, viewport in (("1366", DESKTOP), ("390", PHONE)):
            page = fresh_page(sessions[username], viewport=viewport, language=language)
            page.goto(url)
            expect(page.locator(shown).first).to_be_visible()
            if name == "decision":
                # What the head decides: the resubmitted text, the attachment, the earlier
                # round's return reason.
                expect(page.locator("body")).to_contain_text("budget 1.2 million yuan")
                expect(page.locator("body")).to_contain_text("pilot-plan.pdf")
                expect(page.locator("body")).to_contain_text("Add the budget and the timetable.")
            if name == "timeline":
                page.locator(".rf-timeline-figure").scroll_into_view_if_needed()
            if name != "wall" and width == "390":
                assert page.evaluate(SIDEWAYS_JS) <= 1, f"{name} scrolls sideways at 390 px"
            screenshot(page, f"readme-{name}-{width}-{language}")
    for name, (username, url, shown) in _other_pages(head_item).items():
        if username not in sessions:
            sessions[username] = signed_in(username)
        for width, viewport in (("1366", DESKTOP), ("390", PHONE)):
            page = fresh_page(sessions[username], viewport=viewport, language=language)
            page.goto(url)
            expect(page.locator(shown).first).to_be_visible()
            if width == "390":
                assert page.evaluate(SIDEWAYS_JS) <= 1, f"{name} scrolls sideways at 390 px"
            screenshot(page, f"page-{name}-{width}-{language}", shown_in_readme=False)
