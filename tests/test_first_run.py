"""A first run that explains itself: next steps by role, empty states, errors beside fields."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.casework import claim, decide, open_item_of, submit, task_url


def page_of(client, user, name: str, *args) -> str:
    client.force_login(user)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("username", "shown", "hidden"),
    [
        ("network_work.staff", ["rf-next-staff"], ["rf-next-head", "rf-next-leader"]),
        ("network_work.head", ["rf-next-head"], ["rf-next-staff", "rf-next-leader"]),
        ("secretary_publicity_network", ["rf-next-leader"], ["rf-next-staff", "rf-next-head"]),
        ("coordinator.office", ["rf-next-coordinator"], ["rf-next-none", "rf-next-admin"]),
        ("admin", ["rf-next-admin", "rf-next-coordinator"], ["rf-next-none"]),
        ("auditor", ["read-only access"], ["rf-next-coordinator", "rf-next-none"]),
    ],
)
def test_home_says_what_to_do_next_for_each_role(client, demo_users, username, shown, hidden):
    page = page_of(client, demo_users(username), "workflows:index")

    for marker in shown:
        assert marker in page, marker
    for marker in hidden:
        assert marker not in page, marker


def test_home_tells_a_user_without_a_role_whom_to_ask(client, demo_users):
    newcomer = get_user_model().objects.create_user("newcomer", password="x-123456789")

    page = page_of(client, newcomer, "workflows:index")

    assert "rf-next-none" in page and "ask an administrator" in page


def test_empty_lists_say_what_will_appear_there(client, demo_users):
    staff = demo_users("network_work.staff")

    assert "Tasks assigned to you will appear here." in page_of(client, staff, "workflows:inbox")
    assert "appear here until one of you claims them" in page_of(client, staff, "workflows:queue")
    assert "will be listed here" in page_of(client, staff, "workflows:archive")
    dashboard = page_of(client, staff, "workflows:dashboard")
    assert "No measure is launched yet. When a coordinator launches one" in dashboard
    coordinator_dashboard = page_of(client, demo_users("coordinator.office"), "workflows:dashboard")
    assert "No measure is launched yet. Launch one" in coordinator_dashboard


def test_the_dashboard_without_a_catalogue_says_how_to_load_one(client, db):
    user = get_user_model().objects.create_user("early", password="x-123456789")

    page = page_of(client, user, "workflows:dashboard")

    assert "The catalogue is empty" in page and "load_catalogue" in page


def test_a_new_case_page_says_what_each_empty_section_will_hold(client, coordinator, launch):
    case = launch("2.2")

    page = page_of(client, coordinator, "workflows:case", case.pk)

    assert "rf-empty-progress" in page and "progress reports" in page
    assert "rf-empty-evidence" in page and "Files attached to plans" in page
    assert "rf-empty-comments" in page and "Questions and notes" in page
    assert 'data-verb="case_launched"' in page


def test_a_refused_decision_shows_the_error_beside_its_field(client, demo_users, launch):
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    item = open_item_of(case)
    claim(client, staff, item)
    submit(client, staff, item, "Plan.")
    review = open_item_of(case)

    response = decide(client, demo_users("network_work.head"), review, "return", "")

    assert response.status_code == 200
    page = response.content.decode()
    field = page[page.index('<fieldset class="rf-field') : page.index('<button class="rf-button"')]
    comment = field[field.index('<div class="rf-field rf-field-error">') :]
    assert '<div class="rf-error" id="id_comment_error" role="alert">' in comment
    assert "Give the reason for returning the work." in comment
    assert 'aria-invalid="true"' in comment
    assert 'aria-describedby="id_comment_helptext id_comment_error"' in comment
    # The radio group is a fieldset with a legend, so its label names the whole group.
    assert "<legend>Decision" in field
    assert client.get(task_url(review)).status_code == 200
