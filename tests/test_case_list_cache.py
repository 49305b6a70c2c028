"""The dashboard's case list is rendered once per filters, sort and page and kept under the
reader's change stamp, reach key and language (workflows/web/dashboard.py, issue 20): a write
in reach retires it, a write in another federation keeps it; another federation, a person of
another reach or language never gets it; its filters are checked against reach on every
request; a warm hit reads as many queries at two data sizes."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import DEMO_PASSWORD
from tests.test_reach import launch_in
from workflows.common.reach import reach_of
from workflows.demo.accounts import demo_seed
from workflows.models import Measure

pytestmark = pytest.mark.django_db

CASES = reverse("workflows:dashboard_cases")
FRAGMENT = "workflows/_dashboard_cases_main.html"


def rendered(response) -> bool:
    """Whether the request read the list afresh (a miss) rather than from the cache."""
    assert response.status_code == 200, response.status_code
    return FRAGMENT in [t.name for t in response.templates]


def row(case) -> str:
    return f'<tr data-case="{case.pk}">'


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    return lambda username: people(username=username)


def test_a_write_in_reach_retires_the_list_and_one_elsewhere_keeps_it(client, world):
    first = launch_in(world, "1.1", "shanghai")
    client.force_login(world("shanghai.coordinator"))
    page = client.get(CASES)
    assert rendered(page) and row(first) in page.content.decode()
    assert not rendered(client.get(CASES))

    launch_in(world, "1.1", "beijing")  # another province's stamps only
    assert not rendered(client.get(CASES))

    city = launch_in(world, "2.2", "shanghai-city-1")  # within shanghai's reach
    after = client.get(CASES)
    assert rendered(after)
    assert row(city) in after.content.decode() and row(first) in after.content.decode()


def test_another_federation_reach_or_language_never_gets_the_kept_list(client, world):
    beijing_case = launch_in(world, "1.1", "beijing")
    shanghai_cases = [launch_in(world, code, "shanghai") for code in ("1.1", "2.2")]
    client.force_login(world("beijing.coordinator"))
    assert rendered(client.get(CASES))

    client.force_login(world("shanghai.coordinator"))
    shanghai = client.get(CASES)
    assert rendered(shanghai), "shanghai read beijing's kept list"
    assert row(beijing_case) not in shanghai.content.decode()
    assert all(row(case) in shanghai.content.decode() for case in shanghai_cases)

    # A staff member of shanghai who sees fewer of its cases than its coordinator.
    staff = next(
        user
        for user in (world(f"shanghai.{key}.staff") for key in ("network_work", "general_office"))
        if len(reach_of(user).cases()) < len(shanghai_cases)
    )
    client.force_login(staff)
    narrower = client.get(CASES)
    assert rendered(narrower), "the staff member read the coordinator's kept list"
    visible = set(reach_of(staff).cases().values_list("pk", flat=True))
    for case in shanghai_cases:
        assert (row(case) in narrower.content.decode()) is (case.pk in visible)

    client.force_login(world("shanghai.coordinator"))
    chinese = client.get(CASES, headers={"accept-language": "zh-hans"})
    assert rendered(chinese), "the Chinese list read the English one"
    assert Measure.objects.get(code="1.1").title_zh in chinese.content.decode()


def test_a_filter_out_of_reach_is_a_404_even_when_kept(client, world):
    launch_in(world, "1.1", "beijing")
    client.force_login(world("coordinator.office"))
    assert rendered(client.get(CASES, {"organisation": "beijing"}))
    assert not rendered(client.get(CASES, {"organisation": "beijing"}))
    client.force_login(world("shanghai.coordinator"))
    assert client.get(CASES, {"organisation": "beijing"}).status_code == 404


def test_the_list_reads_as_many_queries_at_two_sizes_fresh_and_kept(client, world):
    from django.core.cache import cache

    head = world("shanghai.network_work.head")

    def counts() -> list[tuple[int, int]]:
        found = []
        for user in (world("shanghai.coordinator"), head):
            client.force_login(user)
            client.get(CASES)  # the session and the menu's counts
            cache.clear()
            with CaptureQueriesContext(connection) as fresh:
                assert rendered(client.get(CASES))
            with CaptureQueriesContext(connection) as kept:
                assert not rendered(client.get(CASES))
            found.append((len(fresh), len(kept)))
        return found

    codes = ("1.1", "1.2", "2.2", "2.5", "3.1")
    for code in codes:
        launch_in(world, code, "shanghai")
    assert reach_of(head).cases().exists(), "the head should list some of them"
    small = counts()
    for code in codes:
        launch_in(world, code, "shanghai-city-1")
    assert counts() == small
    assert all(kept < fresh for fresh, kept in small), small
