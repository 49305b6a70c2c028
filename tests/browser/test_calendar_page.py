"""The calendar page as a person uses it, on a phone in both languages: the button makes the
address, the address is shown once in a field that fits the screen, and a calendar with no
session reads the feed from it."""

import pytest
from icalendar import Calendar

from tests.browser.conftest import PHONE, screenshot

pytestmark = pytest.mark.browser

SIDEWAYS_JS = "() => document.documentElement.scrollWidth - window.innerWidth"
MAKE = {"en": "Make my calendar address", "zh-hans": "生成我的日历地址"}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_address_is_made_shown_once_and_read_by_a_calendar(
    fresh_page, signed_in, launch, browser, site, language
):
    launch("2.2")
    page = fresh_page(signed_in("network_work.staff"), viewport=PHONE, language=language)
    page.goto("/workflows/me/calendar/")
    page.get_by_role("button", name=MAKE[language]).click()
    field = page.locator("#rf-calendar-address")
    address = field.input_value()
    assert "/calendar/" in address and address.endswith(".ics")
    box = field.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate(SIDEWAYS_JS) <= 0
    screenshot(page, f"calendar-390-{language}", shown_in_readme=False)
    # A calendar: its own context, no session, the address alone.
    calendar = browser.new_context()
    answer = calendar.request.get(site + "/calendar/" + address.split("/calendar/", 1)[1])
    status, kind, body = answer.status, answer.headers["content-type"], answer.body()
    calendar.close()
    assert status == 200 and kind.startswith("text/calendar")
    (event,) = Calendar.from_ical(body).walk("VEVENT")
    assert str(event["summary"]).startswith("2.2 ")
    # Back on the page: not shown again.
    page.goto("/workflows/me/calendar/")
    assert page.locator("#rf-calendar-address").count() == 0
