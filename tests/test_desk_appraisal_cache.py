"""The audit desk and the appraisal page keep their main part rendered (issue 20): the desk is
retired by any new event in the trail (a sign-in too, which moves no other page), the
appraisal by scoring a month; neither is served to another federation or language, and a warm
hit reads as many queries on a bigger world."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import DEMO_PASSWORD
from tests.test_reach import launch_in
from workflows.appraisal.scoring import appraisal_compute
from workflows.audit.trail import audit_record
from workflows.common import change_stamp
from workflows.demo.accounts import demo_seed
from workflows.models import Case, Department, Measure, ScoreEntry

AUDIT = reverse("workflows:audit")
APPRAISAL = reverse("workflows:appraisal")
DESK_MAIN = "workflows/desk/_audit_trail_main.html"
APPRAISAL_MAIN = "workflows/supervision/_appraisal_main.html"
PERIOD = dt.date(2027, 3, 1)


def event_ids(response) -> list[int]:
    """The event numbers of the desk's rows, newest first."""
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", response.content.decode())]


def rendered(response, template: str) -> bool:
    """Whether the request rendered the main part (a miss) rather than reading it cached."""
    return template in [t.name for t in response.templates]


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    find = lambda username: people(username=username)  # noqa: E731
    launch_in(find, "1.1", "beijing")
    launch_in(find, "1.2", "shanghai")
    return find


def test_a_new_event_retires_the_cached_desk_even_a_sign_in(client, auditor, launch):
    launch("1.1")
    client.force_login(auditor)
    first = client.get(AUDIT)
    assert rendered(first, DESK_MAIN)
    again = client.get(AUDIT)
    assert not rendered(again, DESK_MAIN) and event_ids(again) == event_ids(first)

    # A sign-in moves no other page's stamp (READ_ONLY_VERBS), but the desk shows it.
    event = audit_record(verb="logged_in", data={"username": "someone"})
    assert "logged_in" in change_stamp.READ_ONLY_VERBS
    after = client.get(AUDIT)
    assert rendered(after, DESK_MAIN)
    assert event_ids(after) == [event.pk, *event_ids(first)][:50]


@pytest.mark.django_db(transaction=True)
def test_the_trail_stamp_moves_when_the_append_commits_not_before(demo_users):
    stamp = change_stamp.trail_current()
    with transaction.atomic():
        audit_record(verb="logged_in")
        audit_record(verb="report_downloaded")
        # Not before the commit: a reader meanwhile caches the old page under the old stamp.
        assert change_stamp.trail_current() == stamp
    assert change_stamp.trail_current() != stamp


def test_the_desk_is_never_served_to_another_federation_or_language(client, world):
    beijing_case = Case.objects.get(organisation__code="beijing")
    shanghai_case = Case.objects.get(organisation__code="shanghai")
    client.force_login(world("beijing.coordinator"))
    beijing = client.get(AUDIT)
    assert rendered(beijing, DESK_MAIN)
    assert f"(#{beijing_case.pk})" in beijing.content.decode()
    assert not rendered(client.get(AUDIT), DESK_MAIN)

    client.force_login(world("shanghai.coordinator"))
    shanghai = client.get(AUDIT)
    assert rendered(shanghai, DESK_MAIN), "a sibling federation read beijing's cached desk"
    text = shanghai.content.decode()
    assert f"(#{shanghai_case.pk})" in text and f"(#{beijing_case.pk})" not in text
    # The national desk (the chain's verification, every federation's events) is its own.
    client.force_login(world("auditor"))
    national = client.get(AUDIT)
    assert rendered(national, DESK_MAIN) and "Verify the chain now" in national.content.decode()

    client.force_login(world("beijing.coordinator"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"  # no switch: no event, no bump
    chinese = client.get(AUDIT)
    assert rendered(chinese, DESK_MAIN), "the English page was served in Chinese"
    assert "审计" in chinese.content.decode()


def _score(department: Department, points: int) -> ScoreEntry:
    """An entry written by hand; the stamp moved as scoring moves it (appraisal_compute)."""
    case = Case.objects.filter(organisation=department.organisation).first()
    entry = ScoreEntry.objects.create(
        period=PERIOD,
        department=department,
        kind="on_time",
        points=points,
        rule_points=points,
        case=case,
    )
    change_stamp.bump([department.organisation.path])
    return entry


def test_scoring_a_month_retires_the_cached_appraisal_of_that_federation(client, world):
    beijing = Department.objects.filter(organisation__code="beijing").order_by("pk").first()
    _score(beijing, 7)
    query = {"organisation": "beijing", "period": f"{PERIOD:%Y-%m}"}
    client.force_login(world("beijing.coordinator"))
    first = client.get(APPRAISAL, query)
    assert rendered(first, APPRAISAL_MAIN) and beijing.title in first.content.decode()
    assert not rendered(client.get(APPRAISAL, query), APPRAISAL_MAIN)

    # A rebuild from the tasks and the trail: nothing in the month scores, the entry goes.
    appraisal_compute(period=PERIOD, organisation=beijing.organisation)
    assert not ScoreEntry.objects.filter(department=beijing).exists()
    after = client.get(APPRAISAL, query)
    assert rendered(after, APPRAISAL_MAIN)
    assert beijing.title not in after.content.decode()
    assert "No score entries for this month." in after.content.decode()


def test_the_appraisal_is_never_served_to_another_federation_or_language(client, world):
    for code in ("beijing", "shanghai"):
        _score(Department.objects.filter(organisation__code=code).order_by("pk").first(), 3)
    period = {"period": f"{PERIOD:%Y-%m}"}
    client.force_login(world("beijing.coordinator"))
    beijing = client.get(APPRAISAL, period)
    assert rendered(beijing, APPRAISAL_MAIN)
    assert "beijing" in beijing.context["organisation"].code
    assert not rendered(client.get(APPRAISAL, period), APPRAISAL_MAIN)

    client.force_login(world("shanghai.coordinator"))
    shanghai = client.get(APPRAISAL, period)
    assert rendered(shanghai, APPRAISAL_MAIN), "a sibling federation read beijing's appraisal"
    assert shanghai.context["organisation"].code == "shanghai"
    # Asking for the sibling by name is refused before any cache is read.
    assert client.get(APPRAISAL, {**period, "organisation": "beijing"}).status_code == 404

    client.force_login(world("beijing.coordinator"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = client.get(APPRAISAL, period)
    assert rendered(chinese, APPRAISAL_MAIN), "the English page was served in Chinese"
    assert "考核" in chinese.content.decode()


def _warm_queries(client, url, query=None) -> int:
    client.get(url, query)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, query)
    assert response.status_code == 200
    assert not rendered(response, DESK_MAIN) and not rendered(response, APPRAISAL_MAIN)
    return len(queries)


def test_a_warm_hit_reads_as_many_queries_on_a_bigger_world(client, world):
    coordinator = world("beijing.coordinator")
    period = {"period": f"{PERIOD:%Y-%m}"}
    client.force_login(coordinator)
    few = (_warm_queries(client, AUDIT), _warm_queries(client, APPRAISAL, period))
    for code in Measure.objects.exclude(code="1.1").values_list("code", flat=True)[:6]:
        launch_in(world, code, "beijing")
    for department in Department.objects.filter(organisation__code="beijing"):
        _score(department, 2)
    many = (_warm_queries(client, AUDIT), _warm_queries(client, APPRAISAL, period))
    ranking = client.get(APPRAISAL, period).content.decode()
    assert ranking.count("/appraisal/departments/") > 1  # the bigger world is what is shown
    assert many == few and few[0] <= 6 and few[1] <= 6, (few, many)


@pytest.mark.django_db(transaction=True)
def test_scoring_moves_the_federations_stamp_when_it_commits_not_before(demo_users):
    from workflows.models import Organisation

    national = Organisation.objects.get(parent__isnull=True)
    stamp = change_stamp.current(national.path)
    with transaction.atomic():
        appraisal_compute(period=PERIOD, organisation=national)
        assert change_stamp.current(national.path) == stamp
    assert change_stamp.current(national.path) != stamp
