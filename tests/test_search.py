"""The search box (issue 17, item 6): measures, cases and people within the user's reach,
grouped by kind and paged, at a fixed query count; bad parameters are a 400."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.conftest import DEMO_PASSWORD
from workflows.cases import launch
from workflows.common.reach import reach_of
from workflows.demo.accounts import demo_seed
from workflows.models import Case, Measure, Organisation

pytestmark = pytest.mark.django_db

SEARCH = reverse("workflows:search")
API = reverse("api:search")


@pytest.fixture
def world(catalogue):
    """acftu, provinces beijing and shanghai, a city under each (as tests/test_reach.py)."""
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


def launch_in(world, code: str, organisation: str) -> Case:
    by = world("coordinator.office" if organisation == "acftu" else f"{organisation}.coordinator")
    case, _created = launch.case_launch(
        measure=Measure.objects.get(code=code),
        by=by,
        organisation=Organisation.objects.get(code=organisation),
    )
    return case


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def hits(user, q: str, kind: str = "") -> dict[str, list[dict]]:
    params = {"q": q, **({"kind": kind} if kind else {})}
    response = api_as(user).get(API, params)
    assert response.status_code == 200, response.content
    return {group["kind"]: group["results"] for group in response.json()["groups"]}


def test_a_sibling_federations_case_and_people_are_never_found(world):
    beijing_case = launch_in(world, "2.2", "beijing")
    shanghai_case = launch_in(world, "2.2", "shanghai")
    for username in ("shanghai.coordinator", "shanghai.network_work.head"):
        user = world(username)
        found = hits(user, "2.2")
        case_ids = {hit["id"] for hit in found["cases"]}
        assert beijing_case.pk not in case_ids, username
        people = hits(user, "beijing")["people"]
        assert people == [], (username, people)
        # By name of a beijing person's department: only shanghai's own people.
        for hit in hits(user, "network_work", kind="people")["people"]:
            assert hit["organisation"].startswith("shanghai"), hit
    coordinator = world("shanghai.coordinator")
    assert {hit["id"] for hit in hits(coordinator, "2.2")["cases"]} == {shanghai_case.pk}
    # The page, too, shows shanghai's case and never beijing's.
    client = api_as(coordinator)
    client.force_login(coordinator)
    page = client.get(SEARCH, {"q": "2.2"}).content.decode()
    assert reverse("workflows:case", args=[shanghai_case.pk]) in page
    assert reverse("workflows:case", args=[beijing_case.pk]) not in page
    assert "beijing." not in page


def test_the_national_coordinator_finds_every_federations_case_and_people(world):
    beijing_case = launch_in(world, "2.2", "beijing")
    shanghai_case = launch_in(world, "2.2", "shanghai")
    national = world("coordinator.office")
    found = {hit["id"] for hit in hits(national, "2.2", kind="cases")["cases"]}
    assert {beijing_case.pk, shanghai_case.pk} <= found
    people = {hit["code"] for hit in hits(national, "network_work head", kind="people")["people"]}
    assert "beijing.network_work.head" in people and "shanghai.network_work.head" in people


def test_measures_are_found_by_code_and_by_title_in_either_language(world):
    measure = Measure.objects.get(code="2.2")
    user = world("shanghai.coordinator")
    assert measure.pk in {hit["id"] for hit in hits(user, "2.2", kind="measures")["measures"]}
    first_word = max(measure.title_en.split(), key=len)
    by_title = hits(user, first_word, kind="measures")["measures"]
    assert measure.pk in {hit["id"] for hit in by_title}
    if measure.title_zh:
        by_zh = hits(user, measure.title_zh[:4], kind="measures")["measures"]
        assert measure.pk in {hit["id"] for hit in by_zh}


def test_a_staff_member_sees_only_cases_within_their_reach(world):
    launch_in(world, "2.2", "shanghai")
    other = launch_in(world, "1.1", "shanghai")
    staff = world("shanghai.network_work.staff")
    found = {hit["id"] for hit in hits(staff, "shanghai", kind="cases")["cases"]}
    visible = set(reach_of(staff).cases().values_list("pk", flat=True))
    assert found <= visible
    if other.pk not in visible:
        assert other.pk not in found


@pytest.mark.parametrize(
    "params, field",
    [
        ({"q": "x" * 101}, "q"),
        ({"q": "2.2", "kind": "secrets"}, "kind"),
        ({"q": "2.2", "kind": "cases", "page": "0"}, "page"),
        ({"q": "2.2", "kind": "cases", "page": "abc"}, "page"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(world, client, params, field):
    user = world("shanghai.coordinator")
    response = api_as(user).get(API, params)
    assert response.status_code == 400
    assert field in response.json()["detail"]
    client.force_login(user)
    page = client.get(SEARCH, params)
    assert page.status_code == 400
    assert field in page.content.decode()


def test_control_characters_are_stripped(world):
    user = world("shanghai.coordinator")
    response = api_as(user).get(API, {"q": "2.\x072\x1b\x7f"})
    assert response.status_code == 200
    assert response.json()["q"] == "2.2"
    assert any(hit["code"] == "2.2" for hit in hits(user, "2\x9b.2")["measures"])
    # A NUL byte is refused outright, before any view (the project's input middleware).
    assert api_as(user).get(API, {"q": "2\x00.2"}).status_code == 400


def test_the_header_carries_the_search_box(world, client):
    client.force_login(world("shanghai.network_work.staff"))
    page = client.get(reverse("workflows:inbox")).content.decode()
    assert f'action="{SEARCH}"' in page and 'name="q"' in page


def test_the_search_is_in_the_openapi_schema(world):
    schema = api_as(world("shanghai.coordinator")).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/search/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"q", "kind", "page"}


def test_the_query_count_stays_fixed_at_two_data_sizes(world, client):
    """A search read afresh (the cache emptied) and one read from the cache each ask as many
    queries with one case as with seven, on the page and in the API."""
    coordinator = world("coordinator.office")
    client.force_login(coordinator)
    api = api_as(coordinator)
    asked = [
        (client, SEARCH, {"q": "2"}),
        (client, SEARCH, {"q": "2", "kind": "cases"}),
        (client, SEARCH, {"q": "network_work", "kind": "people"}),
        (api, API, {"q": "2"}),
        (api, API, {"q": "2", "kind": "cases"}),
    ]

    def counts() -> list[tuple[int, int]]:
        found = []
        for browser, url, params in asked:
            browser.get(url, params)  # the session and the menu's counts
            cache.clear()
            with CaptureQueriesContext(connection) as fresh:
                assert browser.get(url, params).status_code == 200
            with CaptureQueriesContext(connection) as kept:
                assert browser.get(url, params).status_code == 200
            found.append((len(fresh), len(kept)))
        return found

    launch_in(world, "2.2", "beijing")
    small = counts()
    for code in ("2.2", "2.5", "1.1"):
        for organisation in ("acftu", "shanghai"):
            launch_in(world, code, organisation)
    assert Case.objects.count() >= 7
    assert counts() == small
    assert all(kept < fresh for fresh, kept in small), small


@pytest.mark.parametrize("inline", [200, 0])
def test_every_word_must_name_the_cases_measure_or_its_organisation(world, monkeypatch, inline):
    from workflows.cases import search as finder

    # Organisations named by a word go to the cases' query as ids, or (past the limit) as
    # the organisations' own query: the same cases either way.
    monkeypatch.setattr(finder, "INLINE_ORGANISATIONS", inline)
    shanghai_case = launch_in(world, "2.2", "shanghai")
    beijing_case = launch_in(world, "2.2", "beijing")
    other = launch_in(world, "1.1", "shanghai")
    national = world("coordinator.office")
    # One word names the measure, the other the organisation: only their case.
    found = {hit["id"] for hit in hits(national, "2.2 shanghai", kind="cases")["cases"]}
    assert shanghai_case.pk in found
    assert beijing_case.pk not in found and other.pk not in found
    # A word naming nothing finds no case, whatever the other words name.
    assert hits(national, "2.2 zzzqqq", kind="cases")["cases"] == []
    # Organisations are matched by title too, and cases keep their order (measure code).
    title_word = Organisation.objects.get(code="shanghai").title_en.split()[0]
    by_title = [hit["id"] for hit in hits(national, title_word, kind="cases")["cases"]]
    assert {shanghai_case.pk, other.pk} <= set(by_title)
    assert by_title.index(other.pk) < by_title.index(shanghai_case.pk)  # 1.1 before 2.2


def test_counts_stop_at_the_ceiling_and_say_so(world, client, monkeypatch):
    from workflows.cases import listing

    for organisation in ("acftu", "beijing", "shanghai"):
        launch_in(world, "2.2", organisation)
    national = world("coordinator.office")
    response = api_as(national).get(API, {"q": "2.2", "kind": "cases"})
    group = response.json()["groups"][0]
    assert (group["count"], group["capped"]) == (3, False)
    monkeypatch.setattr(listing, "COUNT_CEILING", 2)
    cache.clear()  # the results above are kept (api/search.py); the ceiling is not in the key
    response = api_as(national).get(API, {"q": "2.2", "kind": "cases"})
    group = response.json()["groups"][0]
    assert (group["count"], group["capped"]) == (2, True)
    assert len(group["results"]) == 2
    client.force_login(national)
    page = client.get(SEARCH, {"q": "2.2"}).content.decode()
    assert "(2+)" in page
