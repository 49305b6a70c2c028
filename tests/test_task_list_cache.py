"""The inbox's and the queue's rows and `/api/v1/tasks/` are kept per change stamp, person,
language, filters and page (web/cases.py, api/tasks.py; issue 20): every write that changes a
person's lists retires them (a claim, a completion that assigns the next step, a return, a
reassignment, a stand-in named or ended, a department membership); another person or language
never gets them; the claim buttons carry the request's own CSRF token."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from tests.casework import open_item_of
from workflows.cases import services
from workflows.common import roles
from workflows.common.calendar import local_date
from workflows.models import Department, Organisation, Profile, Substitution
from workflows.organisations import substitutes

pytestmark = pytest.mark.django_db

INBOX, QUEUE, TASKS = reverse("workflows:inbox"), reverse("workflows:queue"), "/api/v1/tasks/"
FRAGMENT = "workflows/_task_list_main.html"
_TASK_LINK = re.compile(r'<td data-label="[^"]*"><a href="/workflows/tasks/(\d+)/">')


def rendered(response) -> bool:
    """Whether the request rendered the list (a miss) rather than reading it from the cache."""
    return FRAGMENT in [t.name for t in response.templates]


def rows(client, url: str, **params) -> list[int]:
    response = client.get(url, params)
    assert response.status_code == 200
    return [int(pk) for pk in _TASK_LINK.findall(response.content.decode())]


def cached(client, url: str) -> list[int]:
    """The list's task ids, after making sure the list is in the cache (a second request
    is a hit)."""
    first = rows(client, url)
    again = client.get(url)
    assert not rendered(again), f"{url} was not kept"
    return first


def api_tasks(user) -> list[int]:
    client = APIClient()
    client.force_authenticate(user=get_user_model().objects.get(pk=user.pk))
    return [task["id"] for task in client.get(TASKS).json()["results"]]


def api_cached(user) -> list[int]:
    """The API list's ids, and the next request is a hit (it reads no task)."""
    first = api_tasks(user)
    client = APIClient()
    client.force_authenticate(user=get_user_model().objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as hit:
        assert [task["id"] for task in client.get(TASKS).json()["results"]] == first
    assert not [q for q in hit if "workflows_workitem" in q["sql"]], "the API list was not kept"
    return first


def _today() -> dt.date:
    from django.utils import timezone

    return local_date(timezone.now())


def test_a_claim_retires_the_cached_queue_inbox_and_api_list(client, demo_users, launch):
    item = open_item_of(launch("2.2"))
    staff = demo_users("network_work.staff")
    client.force_login(staff)
    assert item.pk in cached(client, QUEUE)
    assert item.pk not in cached(client, INBOX)
    assert api_cached(staff) == [item.pk]

    services.task_claim(item=item, user=staff)
    assert item.pk not in rows(client, QUEUE)
    assert item.pk in rows(client, INBOX)
    assert api_tasks(staff) == [item.pk]  # still theirs, now assigned
    assert 'value="claim"' not in client.get(INBOX).content.decode()


def test_a_completion_and_a_return_retire_both_peoples_inboxes(client, demo_users, launch):
    case = launch("2.2")
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    client.force_login(head)
    assert cached(client, INBOX) == []
    assert api_cached(head) == []
    client.force_login(staff)
    assert cached(client, INBOX) == [draft.pk]

    # Completing assigns the next step to the head: the staff's inbox loses it, theirs gains it.
    services.task_complete(item=draft, user=staff, note="The plan.")
    approval = open_item_of(case)
    assert approval.assignee_id == head.pk
    assert rows(client, INBOX) == []
    client.force_login(head)
    assert cached(client, INBOX) == [approval.pk]
    assert api_cached(head) == [approval.pk]

    # A return sends the redo back to the staff member who drafted it.
    client.force_login(staff)
    assert cached(client, INBOX) == []
    services.task_return(item=approval, user=head, reason="Add the budget.")
    redo = open_item_of(case)
    assert rows(client, INBOX) == [redo.pk]
    assert api_tasks(head) == []
    client.force_login(head)
    assert rows(client, INBOX) == []


def test_a_reassignment_retires_both_inboxes(client, coordinator, demo_users, launch):
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    draft = services.task_claim(item=open_item_of(launch("2.2")), user=staff)
    client.force_login(head)
    assert cached(client, INBOX) == []
    client.force_login(staff)
    assert cached(client, INBOX) == [draft.pk]

    services.task_reassign(item=draft, by=coordinator, to_user=head, reason="Staff away.")
    assert rows(client, INBOX) == []
    assert api_tasks(staff) == []
    client.force_login(head)
    assert rows(client, INBOX) == [draft.pk]
    assert api_tasks(head) == [draft.pk]


def test_a_stand_in_named_or_ended_retires_the_substitutes_queue(client, demo_users, launch):
    item = open_item_of(launch("2.2"))
    person, substitute = demo_users("network_work.staff"), demo_users("grassroots_work.staff")
    client.force_login(substitute)
    assert item.pk not in cached(client, QUEUE)
    assert item.pk not in api_cached(substitute)

    row = substitutes.substitution_set(
        person=person,
        substitute=substitute,
        starts_on=_today(),
        ends_on=_today() + dt.timedelta(days=7),
        by=person,
    )
    assert item.pk in cached(client, QUEUE)
    assert item.pk in api_cached(substitute)

    substitutes.substitution_end(row=row, by=person)
    assert item.pk not in rows(client, QUEUE)
    assert item.pk not in api_tasks(substitute)


def test_a_stand_in_running_out_retires_the_substitutes_queue_without_a_write(
    client, demo_users, launch
):
    """No write marks the day a substitution ends; the key holds whom the reader stands in
    for today (common/reach.reach_key), so the list is read again the day after."""
    item = open_item_of(launch("2.2"))
    person, substitute = demo_users("network_work.staff"), demo_users("grassroots_work.staff")
    Substitution.objects.create(
        person=person,
        substitute=substitute,
        starts_on=_today() - dt.timedelta(days=7),
        ends_on=_today(),
        set_by=person,
    )
    client.force_login(substitute)
    assert item.pk in cached(client, QUEUE)
    assert item.pk in api_cached(substitute)
    # By hand, as the calendar would: no audit event, no bump.
    Substitution.objects.update(ends_on=_today() - dt.timedelta(days=1))
    assert item.pk not in rows(client, QUEUE)
    assert item.pk not in api_tasks(substitute)


def test_a_department_membership_retires_the_members_queue(client, demo_users, launch):
    """Even one made by hand (no audit event, no bump): the key holds the reader's
    departments."""
    item = open_item_of(launch("2.2"))
    member = demo_users("grassroots_work.staff")
    department = Department.objects.get(pk=item.department_id)
    client.force_login(member)
    assert item.pk not in cached(client, QUEUE)
    assert item.pk not in api_cached(member)

    department.staff.add(member)
    assert item.pk in cached(client, QUEUE)
    assert item.pk in api_cached(member)
    department.staff.remove(member)
    assert item.pk not in rows(client, QUEUE)
    assert item.pk not in api_tasks(member)


def _second_coordinator(coordinator):
    """Another national coordinator: the same role and federation as `coordinator`, so
    everything about their reach is equal but who they are."""
    other = get_user_model().objects.create_user(username="coordinator.second")
    other.groups.add(Group.objects.get(name=roles.COORDINATORS))
    Profile.objects.create(user=other, organisation=Organisation.objects.get(parent__isnull=True))
    return other


def test_another_person_never_gets_the_cached_lists(client, coordinator, launch):
    """Two national coordinators share their reach key for the dashboard; their task lists are
    their own: one serves a department queue and holds a task, the other neither."""
    item = open_item_of(launch("2.2"))
    other = _second_coordinator(coordinator)
    Department.objects.get(pk=item.department_id).staff.add(coordinator)
    coordinator = get_user_model().objects.get(pk=coordinator.pk)  # reach read afresh
    mine = services.task_claim(item=item, user=coordinator)
    launch("2.1")  # another task in the queue the first coordinator now serves
    client.force_login(coordinator)
    assert cached(client, INBOX) == [mine.pk]
    queue = cached(client, QUEUE)
    assert queue
    assert api_cached(coordinator)

    client.force_login(other)
    inbox = client.get(INBOX)
    assert rendered(inbox), "the second coordinator read the first one's cached inbox"
    assert rows(client, INBOX) == []
    assert rendered(client.get(QUEUE, {"sort": "-due"})) and rows(client, QUEUE) == []
    assert api_tasks(other) == []


def test_another_language_never_gets_the_cached_list(client, demo_users, launch):
    launch("2.2")
    client.force_login(demo_users("network_work.staff"))
    english = client.get(QUEUE)
    assert rendered(english) and not rendered(client.get(QUEUE))
    chinese = client.get(QUEUE, headers={"accept-language": "zh-hans"})
    assert rendered(chinese)
    with translation.override("zh-hans"):
        heading = translation.gettext("Queue")
    assert f"<h1>{heading}</h1>" in chinese.content.decode()
    assert f"<h1>{heading}</h1>" not in client.get(QUEUE).content.decode()


def test_filters_sort_and_page_each_have_their_own_entry(client, demo_users, launch):
    for code in ("2.1", "2.2"):
        launch(code)
    client.force_login(demo_users("network_work.staff"))
    everything = cached(client, QUEUE)
    assert len(everything) == 2
    one = client.get(QUEUE, {"measure": "2.1"})
    assert rendered(one)
    assert len(_TASK_LINK.findall(one.content.decode())) == 1
    assert rendered(client.get(QUEUE, {"sort": "-created"}))
    assert rendered(client.get(QUEUE, {"page": "2"}))
    # An unread parameter reads the same entry.
    assert not rendered(client.get(QUEUE, {"utm": "mail"}))


def test_the_cached_claim_buttons_carry_each_sessions_own_csrf_token(demo_users, launch):
    items = [open_item_of(launch(code)) for code in ("2.1", "2.2")]
    staff = demo_users("network_work.staff")
    sessions = []
    for at in range(2):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(staff)
        page = browser.get(QUEUE)
        assert rendered(page) == (at == 0)  # the second session reads the first one's rows
        sessions.append((browser, page.content.decode()))
    tokens = []
    for (browser, page), item in zip(sessions, items, strict=True):
        form = f'action="/workflows/tasks/{item.pk}/"><input type="hidden" '
        token = re.search(
            re.escape(form) + r'name="csrfmiddlewaretoken" value="([^"]+)"', page
        ).group(1)
        tokens.append(token)
        answer = browser.post(
            reverse("workflows:task", args=[item.pk]),
            {"action": "claim", "csrfmiddlewaretoken": token},
        )
        assert answer.status_code == 302, answer.status_code
        assert open_item_of(item.case).assignee_id == staff.pk
    assert tokens[0] != tokens[1]
