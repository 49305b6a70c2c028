"""Inbox and queue filters, sort and paging, and the queue's claim button (issue 17, item 6),
through workflows.cases.listing; query counts stay fixed at two data sizes."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from tests.casework import open_item_of, routed_user
from tests.conftest import DEMO_PASSWORD
from workflows.cases import launch as cases_launch
from workflows.cases import services
from workflows.common import change_stamp
from workflows.demo.accounts import demo_seed
from workflows.models import Case, Measure, Organisation, StepKind, WorkItem

pytestmark = pytest.mark.django_db

INBOX, QUEUE = reverse("workflows:inbox"), reverse("workflows:queue")
STAFF = "beijing.network_work.staff"


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


def launch(world, code: str, organisation: str = "beijing") -> Case:
    case, _created = cases_launch.case_launch(
        measure=Measure.objects.get(code=code),
        by=world(f"{organisation}.coordinator"),
        organisation=Organisation.objects.get(code=organisation),
    )
    return case


def staff_measures(count: int) -> list[str]:
    """Codes of measures the network work department leads (its staff's queue)."""
    codes = list(
        Measure.objects.filter(lead_department__key="network_work")
        .order_by("code")
        .values_list("code", flat=True)
    )
    return codes[:count]


_TASK_LINK = re.compile(r'<td data-label="[^"]*"><a href="/workflows/tasks/(\d+)/">')


def listed(client, url: str, **params) -> list[int]:
    """The ids of the tasks the page lists, in order (read from the page: its rows may come
    from the cache, web/cases.py)."""
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in _TASK_LINK.findall(response.content.decode())]


def test_the_queue_filters_sorts_and_claims(world, client):
    codes = staff_measures(2)
    assert codes == ["2.1", "2.2"]
    cases = [launch(world, code) for code in codes]
    items = [open_item_of(case) for case in cases]
    staff = world(STAFF)
    client.force_login(staff)
    assert set(listed(client, QUEUE)) >= {item.pk for item in items}

    # By measure code, by step kind, overdue only.
    assert listed(client, QUEUE, measure=codes[0]) == [items[0].pk]
    assert set(listed(client, QUEUE, kind=StepKind.SUBMIT)) >= {item.pk for item in items}
    assert listed(client, QUEUE, kind=StepKind.APPROVE) == []
    WorkItem.objects.filter(pk=items[-1].pk).update(due_at=timezone.now() - dt.timedelta(days=2))
    change_stamp.bump()  # a write by hand, outside the services: nothing else moves the stamp
    assert listed(client, QUEUE, overdue="1") == [items[-1].pk]
    # Sort: newest first puts the last launched first.
    assert listed(client, QUEUE, sort="-created")[0] == items[-1].pk
    assert listed(client, QUEUE, sort="due")[0] == items[-1].pk

    # The claim button posts to the task page's claim (services.task_claim).
    page = client.get(QUEUE).content.decode()
    task_url = reverse("workflows:task", args=[items[0].pk])
    assert f'action="{task_url}"' in page and 'value="claim"' in page
    response = client.post(task_url, {"action": "claim"})
    assert response.status_code == 302
    assert WorkItem.objects.get(pk=items[0].pk).assignee_id == staff.pk
    assert items[0].pk not in listed(client, QUEUE)
    assert items[0].pk in listed(client, INBOX)
    # The inbox has the filters, no claim button.
    assert 'value="claim"' not in client.get(INBOX).content.decode()
    assert listed(client, INBOX, measure=codes[-1]) == []
    assert listed(client, INBOX, measure=codes[0]) == [items[0].pk]
    # An aspect's code lists every measure of it.
    aspect = Measure.objects.get(code=codes[0]).aspect.code
    assert items[0].pk in listed(client, INBOX, measure=aspect)


def test_returned_work_is_found_by_the_returned_filter(world, client):
    case = launch(world, "2.2")
    draft = open_item_of(case)
    staff = world(STAFF)
    draft = services.task_claim(item=draft, user=staff)
    services.task_complete(item=draft, user=staff, note="The plan.")
    approval = open_item_of(case)
    head = routed_user(approval)
    if approval.assignee_id is None:
        approval = services.task_claim(item=approval, user=head)
    services.task_return(item=approval, user=head, reason="Add the budget.")
    redo = open_item_of(case)
    other = launch(world, "2.1")
    client.force_login(staff)
    everything = listed(client, INBOX) + listed(client, QUEUE)
    assert redo.pk in everything
    returned = listed(client, INBOX, returned="1") + listed(client, QUEUE, returned="1")
    assert returned == [redo.pk]
    assert open_item_of(other).pk in everything
    assert open_item_of(other).pk not in returned


@pytest.mark.parametrize(
    "params, field",
    [
        ({"kind": "delete"}, "kind"),
        ({"overdue": "yes"}, "overdue"),
        ({"returned": "2"}, "returned"),
        ({"sort": "password"}, "sort"),
        ({"measure": "x" * 21}, "measure"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_field(world, client, params, field):
    client.force_login(world(STAFF))
    for url in (INBOX, QUEUE):
        response = client.get(url, params)
        assert response.status_code == 400
        assert field in response.content.decode()


def test_the_pager_keeps_the_filters(world, client, monkeypatch):
    monkeypatch.setattr("workflows.web.cases.PAGE_SIZE", 1)
    for code in staff_measures(2):
        launch(world, code)
    client.force_login(world(STAFF))
    page = client.get(QUEUE, {"sort": "-created", "kind": "submit"}).content.decode()
    assert "rf-pager" in page
    assert "?kind=submit&amp;sort=-created&amp;page=2" in page


def test_the_query_count_stays_fixed_at_two_data_sizes(
    world, client, django_assert_max_num_queries
):
    staff = world(STAFF)
    client.force_login(staff)
    # Both lists hold a row at the small size: one task claimed (inbox), one not (queue).
    services.task_claim(item=open_item_of(launch(world, "2.2")), user=staff)
    launch(world, "2.1")
    params = {"overdue": "", "sort": "measure", "kind": "submit"}
    for url in (QUEUE, INBOX):
        client.get(url, params)
    with django_assert_max_num_queries(40) as small_queue:
        client.get(QUEUE, params)
    small_queue_count = len(small_queue.captured_queries)  # a request empties the query log
    with django_assert_max_num_queries(40) as small_inbox:
        client.get(INBOX, params)
    small_inbox_count = len(small_inbox.captured_queries)
    for code in ("2.3", "2.4"):
        launch(world, code)
    for organisation in ("beijing-city-1",):
        launch(world, "2.2", organisation)
    for item in WorkItem.objects.filter(status="open", assignee__isnull=True)[:2]:
        services.task_claim(item=item, user=routed_user(item))
    assert WorkItem.objects.filter(status="open").count() >= 5
    # Warm again, as at the small size: the claims moved the change stamp, and the menu's
    # My work count is read once per stamp (workflows/cases/worklist.work_count).
    for url in (QUEUE, INBOX):
        client.get(url, params)
    with django_assert_max_num_queries(small_queue_count):
        client.get(QUEUE, params)
    with django_assert_max_num_queries(small_inbox_count):
        client.get(INBOX, params)
