"""The shell on a phone (390 × 844) and on a desktop (1366 wide), in both languages: the side
menu folds away behind its button on a phone and stays open beside the page on a desktop, the
toolbar keeps the language switch in view, tables read as cards, nothing scrolls sideways."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from workflows.cases import services
from workflows.models import WorkItem

pytestmark = pytest.mark.browser

SIDEWAYS_JS = "() => document.documentElement.scrollWidth - window.innerWidth"
# The link's accessible name starts with its icon's ligature; exact, so "我的待办" does not match.
INBOX = {"en": "inbox Inbox", "zh-hans": "inbox 待办"}


def claimed_task(launch, demo_users) -> WorkItem:
    case = launch("2.2")
    item = WorkItem.objects.get(case=case, status="open")
    services.task_claim(item=item, user=demo_users("network_work.staff"))
    return item


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_on_a_phone_the_menu_folds_away_and_no_page_scrolls_sideways(
    fresh_page, signed_in, launch, demo_users, language
):
    item = claimed_task(launch, demo_users)
    page = fresh_page(signed_in("network_work.staff"), viewport=PHONE, language=language)

    for path in ("/workflows/", "/workflows/inbox/", f"/workflows/tasks/{item.pk}/"):
        page.goto(path)
        assert page.evaluate(SIDEWAYS_JS) <= 0, f"{path} scrolls sideways at 390 px"
        switch = page.locator("#rf-language").bounding_box()
        assert switch and switch["x"] + switch["width"] <= PHONE["width"], path

    page.goto("/workflows/inbox/")
    # The inbox's rows are cards: each cell on its own line under its column's name.
    cell = page.locator("table.rf-table-cards tbody td[data-label]").first
    expect(cell).to_be_visible()
    assert cell.evaluate("td => getComputedStyle(td).display") == "block"
    assert cell.evaluate("td => getComputedStyle(td, '::before').content") != "none"

    inbox_link = page.locator("aside.vf-page__menu").get_by_role(
        "link", name=INBOX[language], exact=True
    )
    expect(inbox_link).to_be_hidden()
    page.locator("button.vf-page__menu-toggle").click()
    expect(inbox_link).to_be_visible()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_on_a_desktop_the_menu_stays_open_and_tables_stay_tables(
    fresh_page, signed_in, launch, demo_users, language
):
    claimed_task(launch, demo_users)
    page = fresh_page(signed_in("network_work.staff"), viewport=DESKTOP, language=language)

    page.goto("/workflows/inbox/")

    expect(
        page.locator("aside.vf-page__menu").get_by_role("link", name=INBOX[language], exact=True)
    ).to_be_visible()
    cell = page.locator("table.rf-table-cards tbody td[data-label]").first
    assert cell.evaluate("td => getComputedStyle(td).display") == "table-cell"
    assert page.evaluate(SIDEWAYS_JS) <= 0


def test_the_shell_pictures_in_both_languages_at_both_widths(
    fresh_page, signed_in, launch, demo_users
):
    """docs/screenshots/shell-*.tmp.png, to look at after a run (not shown in the README)."""
    claimed_task(launch, demo_users)
    staff = signed_in("network_work.staff")
    for language in ("en", "zh-hans"):
        for width, viewport in (("1366", DESKTOP), ("390", PHONE)):
            page = fresh_page(viewport=viewport, language=language)
            page.goto("/accounts/login/")
            screenshot(page, f"shell-login-{width}-{language}", shown_in_readme=False)
            page = fresh_page(staff, viewport=viewport, language=language)
            for name, path in (("home", "/workflows/"), ("inbox", "/workflows/inbox/")):
                page.goto(path)
                screenshot(page, f"shell-{name}-{width}-{language}", shown_in_readme=False)
