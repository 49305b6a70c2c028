"""The search's results are kept once per query, kind and page under the reader's change
stamp, reach key, language and time zone (workflows/web/search.py, api/search.py; issue 20):
a write in the reader's reach retires them, a write in another federation keeps them, and
another federation, a person of another reach or another language never gets them."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import DEMO_PASSWORD
from tests.test_search import API, SEARCH, api_as, launch_in
from workflows.common.reach import reach_of
from workflows.demo.accounts import demo_seed
from workflows.models import Measure

pytestmark = pytest.mark.django_db

RESULTS = "workflows/_search_results.html"


@pytest.fixture
def world(catalogue):
    """acftu, provinces beijing and shanghai, a city under each (as tests/test_search.py)."""
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


def rendered(response) -> bool:
    """Whether the request looked the results up (a miss) rather than reading them kept."""
    return RESULTS in [t.name for t in response.templates]


def case_link(case) -> str:
    return reverse("workflows:case", args=[case.pk])


def api_case_ids(user, q: str) -> set[int]:
    groups = api_as(user).get(API, {"q": q, "kind": "cases"}).json()["groups"]
    return {hit["id"] for hit in groups[0]["results"]}


def test_a_write_in_reach_retires_the_kept_results_and_one_elsewhere_keeps_them(world, client):
    first = launch_in(world, "2.2", "shanghai")
    coordinator = world("shanghai.coordinator")
    client.force_login(coordinator)
    page = client.get(SEARCH, {"q": "2.2"})
    assert rendered(page) and case_link(first) in page.content.decode()
    assert not rendered(client.get(SEARCH, {"q": "2.2"}))
    assert api_case_ids(coordinator, "2.2") == {first.pk}

    # A launch in another province moves none of shanghai's stamps: still kept.
    launch_in(world, "2.2", "beijing")
    assert not rendered(client.get(SEARCH, {"q": "2.2"}))

    # A launch in shanghai's city (within the coordinator's reach): looked up again.
    city = launch_in(world, "2.2", "shanghai-city-1")
    after = client.get(SEARCH, {"q": "2.2"})
    assert rendered(after)
    assert case_link(city) in after.content.decode()
    assert api_case_ids(coordinator, "2.2") == {first.pk, city.pk}


def test_another_federation_never_gets_the_kept_results(world, client):
    beijing_case = launch_in(world, "2.2", "beijing")
    shanghai_case = launch_in(world, "2.2", "shanghai")
    beijing = world("beijing.coordinator")
    client.force_login(beijing)
    assert rendered(client.get(SEARCH, {"q": "2.2"}))
    assert api_case_ids(beijing, "2.2") == {beijing_case.pk}
    api_as(beijing).get(API, {"q": "coordinator", "kind": "people"})  # kept for beijing

    shanghai = world("shanghai.coordinator")
    client.force_login(shanghai)
    page = client.get(SEARCH, {"q": "2.2"})
    assert rendered(page), "shanghai read beijing's kept results"
    assert case_link(shanghai_case) in page.content.decode()
    assert case_link(beijing_case) not in page.content.decode()
    assert api_case_ids(shanghai, "2.2") == {shanghai_case.pk}
    # People too: the province's own.
    people = api_as(shanghai).get(API, {"q": "coordinator", "kind": "people"}).json()
    assert all(hit["organisation"].startswith("shanghai") for hit in people["groups"][0]["results"])


def test_a_person_of_another_reach_never_gets_the_kept_results(world, client):
    launch_in(world, "2.2", "shanghai")
    launch_in(world, "1.1", "shanghai")
    coordinator = world("shanghai.coordinator")
    everything = api_case_ids(coordinator, "shanghai")
    # A staff member of the same federation who sees fewer of its cases.
    staff = next(
        user
        for user in (world(f"shanghai.{key}.staff") for key in ("network_work", "general_office"))
        if set(reach_of(user).cases().values_list("pk", flat=True)) != everything
    )
    visible = set(reach_of(staff).cases().values_list("pk", flat=True))
    assert api_case_ids(staff, "shanghai") == visible & everything
    client.force_login(coordinator)
    assert rendered(client.get(SEARCH, {"q": "shanghai"}))
    client.force_login(staff)
    page = client.get(SEARCH, {"q": "shanghai"})
    assert rendered(page), "the staff member read the coordinator's kept results"
    for hidden in everything - visible:
        assert reverse("workflows:case", args=[hidden]) not in page.content.decode()


def test_another_language_never_gets_the_kept_results(world, client):
    launch_in(world, "2.2", "shanghai")
    measure = Measure.objects.get(code="2.2")
    coordinator = world("shanghai.coordinator")
    client.force_login(coordinator)
    english = client.get(SEARCH, {"q": "2.2"})
    assert rendered(english) and measure.title_en in english.content.decode()
    chinese = client.get(SEARCH, {"q": "2.2"}, headers={"accept-language": "zh-hans"})
    assert rendered(chinese), "the Chinese page read the English results"
    assert measure.title_zh in chinese.content.decode()
    api = api_as(coordinator)
    titles = {
        language: api.get(API, {"q": "2.2", "kind": "measures"}, headers=headers).json()
        for language, headers in (("en", {}), ("zh", {"accept-language": "zh-hans"}))
    }
    assert titles["en"]["groups"][0]["results"][0]["title"] == measure.title_en
    assert titles["zh"]["groups"][0]["results"][0]["title"] == measure.title_zh
