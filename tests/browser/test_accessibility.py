"""Accessibility in the browser: every control has a label, task forms work from the keyboard."""

import re

import pytest
from playwright.sync_api import expect

from workflows.cases import services
from workflows.models import WorkItem

pytestmark = pytest.mark.browser

# Controls the browser itself finds no label for (no <label for>, no wrapping label, no aria).
UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && [...el.labels].some(l => l.textContent.trim()))
                && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 160))"""

FOCUSED_JS = """() => {
  const el = document.activeElement;
  return el.id || `${el.tagName.toLowerCase()}:${el.textContent.trim()}`;
}"""


def open_item(case) -> WorkItem:
    return WorkItem.objects.select_related("task").get(case=case, status="open")


def tab_until(page, target: str, limit: int = 12) -> list[str]:
    """Press Tab until the focused element is `target`; returns what got focus on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED_JS))
        if seen[-1] == target:
            return seen
    raise AssertionError(f"Tab never reached {target!r}; focus went through {seen}")


def assert_every_control_labelled(page, path: str):
    page.goto(path)
    controls = page.locator("input:not([type=hidden]), select, textarea").count()
    assert controls, f"{path} has no form controls: the check would prove nothing"
    assert page.evaluate(UNLABELLED_JS) == [], path


def test_every_form_control_on_every_page_has_a_label(browser, site, login, launch, demo_users):
    anonymous = browser.new_page(base_url=site)
    assert_every_control_labelled(anonymous, "/accounts/login/")
    anonymous.close()

    case = launch("2.2")
    coordinator = login("coordinator.office")
    for path in ("/workflows/", "/workflows/dashboard/", "/workflows/launch/"):
        assert_every_control_labelled(coordinator, path)
    assert_every_control_labelled(coordinator, f"/workflows/cases/{case.pk}/")  # comment form
    assert_every_control_labelled(coordinator, f"/workflows/tasks/{open_item(case).pk}/")

    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    services.task_claim(item=open_item(case), user=staff)
    staff_page = login("network_work.staff")
    assert_every_control_labelled(staff_page, f"/workflows/tasks/{open_item(case).pk}/")
    services.task_submit(item=open_item(case), user=staff, note="Plan.")
    head_page = login("network_work.head")
    assert_every_control_labelled(head_page, f"/workflows/tasks/{open_item(case).pk}/")
    services.task_approve(item=open_item(case), user=head)
    services.task_approve(item=open_item(case), user=demo_users("secretary_publicity_network"))
    services.task_claim(item=open_item(case), user=staff)
    # Progress and "declare done" share a page: both narratives must keep their own label.
    assert_every_control_labelled(staff_page, f"/workflows/tasks/{open_item(case).pk}/")
    expect(staff_page.get_by_label("Progress narrative")).to_have_count(1)
    expect(staff_page.get_by_label("Closing note")).to_have_count(1)


def test_a_plan_can_be_submitted_and_returned_with_the_keyboard_alone(login, launch, demo_users):
    case = launch("2.2")
    staff_user = demo_users("network_work.staff")
    services.task_claim(item=open_item(case), user=staff_user)
    item = open_item(case)

    staff = login("network_work.staff")
    staff.goto(f"/workflows/tasks/{item.pk}/")
    staff.get_by_role("link", name=re.compile(r"^← 2\.2 ")).focus()
    assert tab_until(staff, "button:Submit") == ["id_note", "id_files", "button:Submit"]
    staff.keyboard.press("Shift+Tab")
    staff.keyboard.press("Shift+Tab")
    staff.keyboard.type("Plan typed from the keyboard.")
    tab_until(staff, "button:Submit")
    staff.keyboard.press("Enter")
    expect(staff).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))

    head = login("network_work.head")
    head.goto(f"/workflows/tasks/{open_item(case).pk}/")
    head.get_by_role("link", name=re.compile(r"^← 2\.2 ")).focus()
    # A radio group is one tab stop; arrows move within it.
    order = tab_until(head, "button:Record decision")
    assert order == ["id_decision_0", "id_comment", "button:Record decision"]
    head.keyboard.press("Shift+Tab")
    head.keyboard.press("Shift+Tab")
    head.keyboard.press("ArrowDown")
    expect(head.get_by_label("Return for rework")).to_be_checked()
    head.keyboard.press("Tab")
    head.keyboard.type("Reason typed from the keyboard.")
    head.keyboard.press("Tab")
    head.keyboard.press("Enter")

    expect(head).to_have_url(re.compile(rf"/workflows/cases/{case.pk}/$"))
    returned = WorkItem.objects.get(case=case, outcome="returned")
    assert returned.decision_note == "Reason typed from the keyboard."
    assert WorkItem.objects.get(case=case, outcome="submitted").decision_note == (
        "Plan typed from the keyboard."
    )
