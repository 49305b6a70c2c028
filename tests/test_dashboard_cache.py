"""The dashboard's programme is rendered once per change stamp (issue 20): an approval and a
lights refresh retire it when they commit, never before; a federation never gets another's
cached page; a warm hit reads a small, fixed number of queries."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.casework import advance, open_item_of
from tests.conftest import DEMO_PASSWORD
from tests.test_reach import launch_in
from workflows.common import change_stamp
from workflows.demo.accounts import demo_seed
from workflows.models import Measure, WorkItem
from workflows.supervision.lights import lights_sweep

FRAGMENT = "workflows/_dashboard_main.html"
DASHBOARD = reverse("workflows:dashboard")


def rendered(response) -> bool:
    """Whether the request rendered the programme (a miss) rather than reading it cached."""
    return FRAGMENT in [t.name for t in response.templates]


@pytest.mark.django_db(transaction=True)
def test_an_approval_retires_the_cached_dashboard_when_it_commits(client, coordinator, launch):
    case = launch("1.1")
    client.force_login(coordinator)
    first = client.get(DASHBOARD)
    assert rendered(first)
    again = client.get(DASHBOARD)
    assert not rendered(again) and again.context["main"] == first.context["main"]

    advance(client, case)  # the plan is submitted
    stamp = change_stamp.current()
    with transaction.atomic():
        approved = advance(client, case)  # and approved
        # Not before the commit: a reader meanwhile caches the old view under the old stamp.
        assert change_stamp.current() == stamp
    assert approved.outcome == "approved"
    assert change_stamp.current() != stamp

    client.force_login(coordinator)
    after = client.get(DASHBOARD)
    assert rendered(after)
    assert open_item_of(case).step.title in after.content.decode()
    assert after.context["main"] != first.context["main"]


@pytest.mark.django_db(transaction=True)
def test_a_lights_refresh_retires_the_cached_dashboard(client, coordinator, launch):
    case = launch("1.1")
    client.force_login(coordinator)
    assert 'data-axis="deadline" data-light="red"' not in client.get(DASHBOARD).content.decode()
    # A write that bumps nothing (the sweep's lights refresh does, below) is not seen.
    WorkItem.objects.filter(case=case, status="open").update(
        due_at=timezone.now() - dt.timedelta(days=20)
    )
    cached = client.get(DASHBOARD)
    assert not rendered(cached)
    assert 'data-axis="deadline" data-light="red"' not in cached.content.decode()

    assert lights_sweep() >= 1
    refreshed = client.get(DASHBOARD)
    assert rendered(refreshed)
    assert 'data-axis="deadline" data-light="red"' in refreshed.content.decode()
    lights = refreshed.context["figures"].departments
    assert sum(d.red for d in lights) == 1


def test_a_sibling_federation_never_gets_another_federations_cached_page(client, catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    world = lambda username: people(username=username)  # noqa: E731
    launch_in(world, "1.1", "beijing")
    launch_in(world, "1.2", "shanghai")
    launch_in(world, "2.2", "shanghai")

    client.force_login(world("beijing.coordinator"))
    beijing = client.get(DASHBOARD)
    assert rendered(beijing) and beijing.context["figures"].organisation.code == "beijing"
    assert not rendered(client.get(DASHBOARD))

    client.force_login(world("shanghai.coordinator"))
    shanghai = client.get(DASHBOARD)
    assert rendered(shanghai), "a sibling federation read beijing's cached page"
    figures = shanghai.context["figures"]
    assert (figures.organisation.code, figures.launched) == ("shanghai", 2)
    assert "Beijing" not in shanghai.context["figures_organisation"].title_en
    # Nor does the national auditor get the national coordinator's page (no launch button).
    for username, launches in (("coordinator.office", True), ("auditor", False)):
        client.force_login(world(username))
        page = client.get(DASHBOARD)
        assert rendered(page), username
        assert (reverse("workflows:launch") in page.content.decode()) is launches
    # The beijing coordinator's own page is still cached, and still beijing's.
    client.force_login(world("beijing.coordinator"))
    again = client.get(DASHBOARD)
    assert not rendered(again) and again.context["main"] == beijing.context["main"]


def test_a_warm_hit_reads_a_small_fixed_number_of_queries(client, coordinator, launch):
    launch("1.1")
    client.force_login(coordinator)

    def warm_queries() -> int:
        client.get(DASHBOARD)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(DASHBOARD)
        assert response.status_code == 200 and not rendered(response)
        return len(queries)

    few = warm_queries()
    for code in Measure.objects.exclude(code="1.1").values_list("code", flat=True)[:12]:
        launch(code)
    assert warm_queries() == few <= 8


def test_my_work_count_is_kept_per_person_until_a_write(client, coordinator, auditor, launch):
    from tests.casework import routed_user
    from workflows.cases import worklist

    def count(user) -> int:
        # A fresh user object: reach and the count are kept on it for one request only.
        return worklist.work_count(get_user_model().objects.get(pk=user.pk))

    case = launch("1.1")
    staff = routed_user(open_item_of(case))
    waiting = count(staff)
    assert waiting >= 1
    assert count(auditor) == 0
    assert count(staff) == waiting
    advance(client, case)  # the staff member submits the plan: it leaves their list
    still_theirs = int(routed_user(open_item_of(case)) == staff)
    assert count(staff) == waiting - 1 + still_theirs


MEASURES = "/api/v1/measures/"


def _measures(client, **params) -> tuple[dict, int]:
    """The API's measures by code, and the queries the request read."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(MEASURES, params)
    assert response.status_code == 200
    return {row["code"]: row for row in response.json()}, len(queries)


@pytest.mark.django_db(transaction=True)
def test_the_api_measures_are_kept_until_a_write_commits(client, coordinator, launch):
    case = launch("1.1")
    client.force_login(coordinator)
    first, missed = _measures(client)
    again, hit = _measures(client)
    assert again == first and hit < missed
    assert first["1.1"]["current_step"] == open_item_of(case).step.key

    advance(client, case)  # the plan is submitted: a new step, a new stamp
    client.force_login(coordinator)
    after, _ = _measures(client)
    assert (
        after["1.1"]["current_step"] == open_item_of(case).step.key != first["1.1"]["current_step"]
    )
    # The language is part of the key: the Chinese titles are never served as the English.
    chinese = client.get(MEASURES, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert {r["title"] for r in chinese} != {r["title"] for r in after.values()}


def test_a_sibling_federation_never_gets_another_federations_cached_measures(client, catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    world = lambda username: people(username=username)  # noqa: E731
    launch_in(world, "1.1", "beijing")
    launch_in(world, "1.2", "shanghai")

    client.force_login(world("beijing.coordinator"))
    beijing, _ = _measures(client)
    client.force_login(world("shanghai.coordinator"))
    shanghai, _ = _measures(client)
    assert beijing["1.1"]["organisation"] == "beijing" and beijing["1.2"]["case"] is None
    assert shanghai["1.2"]["organisation"] == "shanghai" and shanghai["1.1"]["case"] is None
    # By level: the national coordinator's page of provincial cases is not beijing's.
    client.force_login(world("coordinator.office"))
    national, _ = _measures(client, level="provincial")
    assert {row["organisation"] for row in national.values()} == {"beijing", "shanghai"}
    client.force_login(world("beijing.coordinator"))
    provincial, _ = _measures(client, level="provincial")
    assert {row["organisation"] for row in provincial.values()} == {"beijing"}


def _cases(client, **params) -> tuple[dict, int]:
    """The API's case list (its body), and the queries the request read."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/cases/", params)
    assert response.status_code == 200
    return response.json(), len(queries)


@pytest.mark.django_db(transaction=True)
def test_the_api_case_list_is_kept_until_a_write_commits(client, coordinator, launch):
    first_case = launch("1.1")
    client.force_login(coordinator)
    first, missed = _cases(client, limit=1)
    again, hit = _cases(client, limit=1)
    assert again == first and hit < missed
    assert (first["count"], first["next"]) == (1, None)
    # Another page of the same list is its own entry, its links this request's.
    other, _ = _cases(client, limit=1, offset=1)
    assert other["results"] == [] and other["previous"].endswith("limit=1")

    second_case = launch("1.2")  # audited: the stamp moves when it commits
    after, _ = _cases(client, limit=1)
    assert [row["id"] for row in after["results"]] == [second_case.pk]
    assert after["count"] == 2 and after["next"].endswith("limit=1&offset=1")
    assert first["results"][0]["id"] == first_case.pk


def test_a_sibling_federation_never_gets_another_federations_cached_cases(client, catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    world = lambda username: people(username=username)  # noqa: E731
    launch_in(world, "1.1", "beijing")
    launch_in(world, "1.2", "shanghai")

    seen = {}
    for username in ("beijing.coordinator", "shanghai.coordinator", "beijing.coordinator"):
        client.force_login(world(username))
        body, _ = _cases(client)
        seen.setdefault(username, []).append({row["organisation"] for row in body["results"]})
    assert seen["beijing.coordinator"] == [{"beijing"}, {"beijing"}]
    assert seen["shanghai.coordinator"] == [{"shanghai"}]
    # The filters are part of the key: the national coordinator's whole list, then one province.
    client.force_login(world("coordinator.office"))
    everything, _ = _cases(client)
    shanghai, _ = _cases(client, organisation="shanghai")
    assert {row["organisation"] for row in everything["results"]} == {"beijing", "shanghai"}
    assert {row["organisation"] for row in shanghai["results"]} == {"shanghai"}


def test_the_wall_view_keeps_its_figures_until_a_write(client, coordinator, launch):
    wall = reverse("workflows:dashboard_wall")
    figures_fragment = "workflows/_figures.html"
    launch("1.1")
    client.force_login(coordinator)
    first = client.get(wall)
    assert figures_fragment in [t.name for t in first.templates]
    again = client.get(wall)
    assert figures_fragment not in [t.name for t in again.templates]
    assert 'id="rf-chart-data"' in again.content.decode()
    launch("1.2")  # audited: the stamp moves on
    after = client.get(wall)
    assert figures_fragment in [t.name for t in after.templates]
    assert after.context["figures"].launched == 2


def test_a_write_retires_the_pages_of_its_federation_and_those_above_only(client, catalogue):
    """Stamps per federation (issue 20): a write on a case in shanghai keeps beijing's cached
    page and retires shanghai's and the national one; a write on a national case, or one that
    names no case, retires every page below too."""
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    world = lambda username: people(username=username)  # noqa: E731
    launch_in(world, "1.1", "beijing")
    readers = ("beijing.coordinator", "shanghai.coordinator", "coordinator.office")

    def rendered_for() -> dict[str, bool]:
        seen = {}
        for username in readers:
            client.force_login(world(username))
            seen[username] = rendered(client.get(DASHBOARD))
        return seen

    rendered_for()
    assert not any(rendered_for().values())
    launch_in(world, "1.2", "shanghai")
    assert rendered_for() == {
        "beijing.coordinator": False,
        "shanghai.coordinator": True,
        "coordinator.office": True,
    }
    launch_in(world, "2.2", "acftu")  # the national federation's own case
    assert all(rendered_for().values())
    change_stamp.bump_on_commit()  # a write that names no case
    assert all(rendered_for().values())


@pytest.mark.django_db(transaction=True)
def test_one_bump_per_transaction_takes_the_widest_scope_of_its_writes():
    from django.core.cache import cache

    stamp, tree = cache.get(change_stamp.KEY), change_stamp.current("/1/2/")
    with transaction.atomic():
        change_stamp.bump_on_commit(cases=[10**9])  # a case: its federation's stamps
        change_stamp.bump_on_commit("approved")  # no case: every page
        assert change_stamp.current("/1/2/") == tree
    assert cache.get(change_stamp.KEY) not in (None, stamp)
    assert change_stamp.current("/1/2/") != tree
