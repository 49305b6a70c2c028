"""Cascading a measure down the federation tree, the roll-up on the parent, the completion
guard, reporting up, escalation across levels and who sees which federation's cases."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from tests.casework import (
    advance,
    case_url,
    claim,
    decide,
    declare_done,
    open_item_of,
    report_progress,
    routed_user,
    submit,
    task_url,
    walk_to_end,
)
from tests.conftest import DEMO_PASSWORD
from tests.deadline_helpers import beijing
from workflows.cases import cascade, launch, selectors, services
from workflows.common.calendar import due_at_for
from workflows.demo.accounts import demo_seed
from workflows.models import (
    AuditEvent,
    Case,
    Measure,
    Notification,
    Organisation,
    OrganisationLevel,
    Rag,
    WorkItem,
)
from workflows.organisations.services import organisation_create
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

# Measure 3.1: draft 15, head 5, leader 5, implementation 180, review 10, sign-off 5 working
# days (220 in all). A draft opened Mon 1 Mar 2027 is due Mon 22 Mar 18:00; the case's overall
# deadline is 205 working days after that, Fri 14 Jan 2028 (tests/test_cascade_caps.py).
T0 = beijing(2027, 3, 1, 10)
DRAFT_DUE = due_at_for(dt.date(2027, 3, 22))
OVERALL = due_at_for(dt.date(2028, 1, 14))
PROVINCES = ["beijing", "guangdong", "shanghai"]


@pytest.fixture
def world(catalogue):
    """Three provincial federations (beijing, shanghai, guangdong), one city under each, with
    accounts; returns a username lookup."""
    demo_seed(password=DEMO_PASSWORD, provinces=3, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def national_case(world, code="3.1") -> Case:
    case, _ = launch.case_launch(
        measure=Measure.objects.get(code=code), by=world("coordinator.office")
    )
    return case


def child_of(parent: Case, organisation: str) -> Case:
    return Case.objects.get(parent_case=parent, organisation__code=organisation)


def to_implementation(client, case: Case) -> WorkItem:
    """Do the case's plan steps (draft, head, leader) through the pages; returns the open item."""
    while open_item_of(case).kind != "implement":
        advance(client, case)
    return open_item_of(case)


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


# --------------------------------------------------------------------------- cascading


def test_cascading_two_levels_deep_is_idempotent_and_bounded_by_the_parent_deadline(
    world, frozen, client
):
    national = national_case(world)
    client.force_login(world("coordinator.office"))
    response = client.post(
        reverse("workflows:cascade", args=[national.pk]), {"level": "provincial"}
    )
    assert response.status_code == 302

    children = Case.objects.filter(parent_case=national).order_by("organisation__code")
    assert [c.organisation.code for c in children] == PROVINCES
    # The parent's overall deadline, not the due date of the draft it is on.
    assert {c.deadline_cap for c in children} == {OVERALL}
    for child in children:
        item = open_item_of(child)
        # Routed in the child's own federation: its own grassroots department's queue.
        assert item.department.organisation == child.organisation
        assert item.department.key == "grassroots_work"
        assert child.supervising_leader.organisation == child.organisation
        assert item.due_at == DRAFT_DUE

    # Idempotent: the page and the API both find the three cases already there.
    client.post(reverse("workflows:cascade", args=[national.pk]), {"level": "provincial"})
    again = api_as(world("coordinator.office")).post(
        f"/api/v1/cases/{national.pk}/cascade", {"organisations": PROVINCES}, format="json"
    )
    assert again.status_code == 200, again.json()
    assert again.json()["created"] == []
    assert sorted(c["organisation"] for c in again.json()["existing"]) == PROVINCES
    assert Case.objects.filter(parent_case=national).count() == 3
    assert AuditEvent.objects.filter(case=national, verb="case_cascaded").count() == 1

    # A week later Beijing cascades to its city: the city's draft is due 29 Mar, its own 15
    # working days, well inside Beijing's overall deadline (its cap, 14 Jan 2028).
    frozen.move_to(beijing(2027, 3, 8, 10))
    province = child_of(national, "beijing")
    response = api_as(world("beijing.coordinator")).post(
        f"/api/v1/cases/{province.pk}/cascade", {"level": "prefecture"}, format="json"
    )
    assert response.status_code == 201, response.json()
    (city,) = response.json()["created"]
    assert city["organisation"] == "beijing-city-1"
    assert city["parent_case"] == province.pk
    city_case = Case.objects.get(pk=city["id"])
    assert city_case.deadline_cap == OVERALL
    city_item = open_item_of(city_case)
    assert city_item.due_at == due_at_for(dt.date(2027, 3, 29))
    assert city_item.department.organisation.code == "beijing-city-1"
    created = AuditEvent.objects.get(work_item=city_item, verb="task_created")
    assert "deadline_cap" not in created.data
    # The provinces' drafts were not cut short (their own 15 days end on the same day).
    assert (
        "deadline_cap"
        not in AuditEvent.objects.get(work_item=open_item_of(province), verb="task_created").data
    )


def test_cascade_refusals_say_why(world, frozen):
    national = national_case(world)
    office = api_as(world("coordinator.office"))
    url = f"/api/v1/cases/{national.pk}/cascade"

    # 3.1 does not apply to national industrial unions.
    response = office.post(url, {"level": "national_industrial"}, format="json")
    assert response.status_code == 400
    assert "does not apply to National industrial unions" in response.json()["detail"]
    # Level by level: a city is not directly below the national federation.
    response = office.post(url, {"organisations": ["beijing-city-1"]}, format="json")
    assert response.status_code == 400
    assert "Cascade level by level" in response.json()["detail"]
    response = office.post(url, {}, format="json")
    assert response.status_code == 400
    assert "Choose either organisations or one level" in response.json()["detail"]
    assert not Case.objects.filter(parent_case=national).exists()

    # A provincial coordinator cannot cascade the national case, nor a sibling's.
    assert office.post(url, {"level": "provincial"}, format="json").status_code == 201
    beijing_coordinator = api_as(world("beijing.coordinator"))
    assert beijing_coordinator.post(url, {"level": "provincial"}, format="json").status_code == 404
    shanghai = child_of(national, "shanghai")
    response = beijing_coordinator.post(
        f"/api/v1/cases/{shanghai.pk}/cascade", {"level": "prefecture"}, format="json"
    )
    assert response.status_code == 404
    with pytest.raises(services.PermissionDenied):
        cascade.case_cascade(case=shanghai, by=world("beijing.coordinator"), level="prefecture")
    # Department staff are not coordinators.
    staff = api_as(world("beijing.grassroots_work.staff"))
    beijing_case = child_of(national, "beijing")
    response = staff.post(
        f"/api/v1/cases/{beijing_case.pk}/cascade", {"level": "prefecture"}, format="json"
    )
    assert response.status_code == 403


def test_the_measure_must_apply_to_the_level(world, frozen):
    # 1.1 applies to national, provincial and prefecture: not to counties.
    county = OrganisationLevel.objects.get(key="county")
    organisation_create(
        code="beijing-county-1",
        title_en="A county",
        level=county,
        parent=Organisation.objects.get(code="beijing-city-1"),
    )
    national = national_case(world, "1.1")
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    province = child_of(national, "beijing")
    cascade.case_cascade(case=province, by=world("beijing.coordinator"), level="prefecture")
    city = child_of(province, "beijing-city-1")
    with pytest.raises(services.ValidationError) as refused:
        cascade.case_cascade(case=city, by=world("coordinator.office"), level="county")
    refusal = refused.value.messages[0]
    assert "Measure 1.1 does not apply to County / district federations" in refusal
    with translation.override("zh-hans"), pytest.raises(services.ValidationError) as refused:
        cascade.case_cascade(case=city, by=world("coordinator.office"), level="county")
    assert "举措 1.1 不适用于县（区）级总工会" in refused.value.messages[0]
    assert not Case.objects.filter(organisation__code="beijing-county-1").exists()


# --------------------------------------------------------------------------- roll-up and guard


def test_rollup_figures_worked_out_by_hand_and_the_completion_guard(world, frozen, client):
    national = national_case(world)
    national_implementation = to_implementation(client, national)
    # The implementation is due Thu 18 Nov 2027; review and sign-off make it Thu 9 Dec.
    assert national_implementation.due_at == due_at_for(dt.date(2027, 11, 18))
    cap = due_at_for(dt.date(2027, 12, 9))
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    assert {c.deadline_cap for c in Case.objects.filter(parent_case=national)} == {cap}

    # Beijing finishes everything: 100 %, green, done.
    walk_to_end(client, child_of(national, "beijing"))
    # Shanghai's plan is returned once (amber), then approved (green again: RAG follows the
    # facts, workflows/rag.py); half its implementation done:
    # (15 + 5 + 5 + 180 * 50 %) / 220 working days = 115 / 220 = 52 %.
    shanghai = child_of(national, "shanghai")
    draft = open_item_of(shanghai)
    staff = routed_user(draft)
    claim(client, staff, draft)
    submit(client, staff, draft, "First plan.")
    approval = open_item_of(shanghai)
    decide(client, routed_user(approval), approval, "return", "Add the industrial parks.")
    implementation = to_implementation(client, shanghai)
    user = routed_user(implementation)
    claim(client, user, implementation)
    report_progress(client, user, implementation, 50, "Half the parks organised.")
    # Guangdong has not started: 0 %, its draft due 22 Mar.

    frozen.move_to(beijing(2027, 3, 25, 10))
    rollup = selectors.case_rollup(national)
    assert (rollup.children, rollup.open, rollup.done) == (3, 2, 1)
    assert rollup.by_rag == {Rag.GREEN: 3, Rag.AMBER: 0, Rag.RED: 0}
    # Mean of 100, 52 and 0, each province weighing the same: 50.67 -> 51 %.
    assert rollup.percent_complete == 51
    # Guangdong's draft was due Mon 22 Mar 18:00; at Thu 25 Mar 10:00 that is 2 days 16 hours,
    # counted as 3 days (any part of a day counts).
    assert rollup.most_overdue.organisation.code == "guangdong"
    assert rollup.most_overdue.days_overdue == 3

    detail = api_as(world("coordinator.office")).get(f"/api/v1/cases/{national.pk}/").json()
    assert detail["rollup"]["percent_complete"] == 51
    assert detail["rollup"]["most_overdue"] == {
        "case": child_of(national, "guangdong").pk,
        "organisation": "guangdong",
        "days_overdue": 3,
    }
    assert {c["organisation"]: c["status"] for c in detail["rollup"]["cases"]} == {
        "beijing": "done",
        "guangdong": "open",
        "shanghai": "open",
    }
    # Reported up: the parent's trail records Beijing's completion.
    reported = AuditEvent.objects.get(case=national, verb="child_completed")
    assert reported.data == {
        "child_case": child_of(national, "beijing").pk,
        "organisation": "beijing",
    }

    # The guard: national staff cannot declare the implementation done with 2 children open.
    national_staff = routed_user(open_item_of(national))
    claim(client, national_staff, national_implementation)
    response = declare_done(client, national_staff, national_implementation)
    assert response.status_code == 200
    assert "while 2 child cases are still open" in response.content.decode()
    national_implementation.refresh_from_db()
    assert national_implementation.status == "open"
    api_response = api_as(national_staff).post(
        task_url_api(national_implementation, "complete"), {}, format="json"
    )
    assert api_response.status_code == 400
    assert "2 child cases are still open" in api_response.json()["detail"]

    # Only a coordinator may override, and only with a reason.
    staff_override = api_as(national_staff).post(
        task_url_api(national_implementation, "override-guard"), {"reason": "x"}, format="json"
    )
    assert staff_override.status_code == 403
    office = api_as(world("coordinator.office"))
    no_reason = office.post(task_url_api(national_implementation, "override-guard"), {})
    assert no_reason.status_code == 400
    assert "reason is required" in no_reason.json()["detail"]
    client.force_login(world("coordinator.office"))
    response = client.post(
        reverse("workflows:guard_override", args=[national_implementation.pk]),
        {"reason": "Guangdong and Shanghai report directly to the Secretariat."},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="completion_guard_overridden")
    assert event.reason == "Guangdong and Shanghai report directly to the Secretariat."
    assert event.data == {"open_children": 2, "organisations": ["guangdong", "shanghai"]}
    assert event.actor_name == "coordinator.office"

    response = declare_done(client, national_staff, national_implementation)
    assert response.status_code == 302
    national_implementation.refresh_from_db()
    assert national_implementation.status == "done"


def task_url_api(item: WorkItem, action: str) -> str:
    return f"/api/v1/tasks/{item.pk}/{action}"


def test_done_when_one_province_completes_the_national_case_shows_it(world, frozen, client):
    """A coordinator cascades 3.1 to every provincial federation; one province completes its
    part; the national case shows that province done, the rest in progress, and 33 %."""
    national = national_case(world)
    to_implementation(client, national)
    client.force_login(world("coordinator.office"))
    page = client.get(case_url(national)).content.decode()
    assert "Cascade to these federations" in page
    response = client.post(
        reverse("workflows:cascade", args=[national.pk]), {"level": "provincial"}
    )
    assert response.status_code == 302

    walk_to_end(client, child_of(national, "guangdong"))

    client.force_login(world("coordinator.office"))
    page = client.get(case_url(national)).content.decode()
    assert 'data-organisation="guangdong" data-status="done"' in page
    assert 'data-organisation="beijing" data-status="open"' in page
    assert 'data-organisation="shanghai" data-status="open"' in page
    # (100 + 0 + 0) / 3 = 33.3 -> 33 %.
    assert '<strong class="rf-rollup-percent">33%</strong>' in page
    assert "3 child cases: 2 in progress, 1 completed" in page


def test_case_page_and_api_detail_query_counts_do_not_grow_with_children(world, frozen, client):
    national = national_case(world)
    cascade.case_cascade(case=national, by=world("coordinator.office"), organisations=["beijing"])
    client.force_login(world("coordinator.office"))

    def counts():
        # A fresh user object per API call, as for a real request (access caches per object).
        office = api_as(world("coordinator.office"))
        with CaptureQueriesContext(connection) as page:
            assert client.get(case_url(national)).status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert office.get(f"/api/v1/cases/{national.pk}/").status_code == 200
        return len(page), len(api)

    one = counts()
    provincial = OrganisationLevel.objects.get(key="provincial")
    root = Organisation.national()
    for n in range(9):
        organisation_create(
            code=f"extra-{n}", title_en=f"Province {n}", level=provincial, parent=root
        )
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    assert Case.objects.filter(parent_case=national).count() == 12
    assert counts() == one


def test_child_rows_are_paged_most_overdue_first_and_the_form_offers_only_the_rest(
    world, frozen, client, monkeypatch
):
    national = national_case(world)
    office = world("coordinator.office")
    cascade.case_cascade(case=national, by=office, organisations=["beijing", "shanghai"])
    # Shanghai's draft gets a day longer, so Beijing's falls due first (most overdue later).
    shanghai_draft = open_item_of(child_of(national, "shanghai"))
    WorkItem.objects.filter(pk=shanghai_draft.pk).update(
        due_at=shanghai_draft.due_at + dt.timedelta(days=1)
    )
    monkeypatch.setattr(selectors, "CHILDREN_PER_PAGE", 1)
    frozen.move_to(beijing(2027, 3, 25, 10))
    client.force_login(office)

    first = client.get(case_url(national)).content.decode()
    second = client.get(case_url(national) + "?children=2").content.decode()

    assert 'data-organisation="beijing"' in first and 'data-organisation="shanghai"' not in first
    assert 'data-organisation="shanghai"' in second and 'data-organisation="beijing"' not in second
    assert '1 / 2 <a href="?children=2#children">Next</a>' in first
    # The roll-up still covers every child, whichever page is shown.
    for page in (first, second):
        assert "2 child cases: 2 in progress, 0 completed" in page
        assert "Most overdue: Beijing" in page
    # Only Guangdong is still to be cascaded: the form offers it alone.
    assert 'value="guangdong"' in first
    assert 'value="beijing"' not in first and 'value="shanghai"' not in first
    # Ticking an organisation already cascaded is still accepted, and answered "already there".
    response = client.post(
        reverse("workflows:cascade", args=[national.pk]), {"organisations": ["beijing"]}
    )
    assert response.status_code == 302
    assert Case.objects.filter(parent_case=national).count() == 2
    page = client.get(case_url(national)).content.decode()
    assert "0 child cases launched, 1 already there." in page


def test_a_level_view_pages_its_cases_on_the_dashboard_and_in_the_api(
    world, frozen, client, monkeypatch
):
    national = national_case(world)
    office = world("coordinator.office")
    cascade.case_cascade(case=national, by=office, level="provincial")
    monkeypatch.setattr(selectors, "LEVEL_ROWS_PER_PAGE", 2)
    client.force_login(office)

    def dashboard_organisations(page):
        html = client.get(f"/workflows/dashboard/?level=provincial&page={page}").content.decode()
        return re.findall(
            r'<tr data-measure="3.1">.*?</td><td data-label="[^"]*">([^<]+)</td>', html
        ), html

    first, html = dashboard_organisations(1)
    second, _ = dashboard_organisations(2)
    assert [o.split()[0] for o in first] == ["Beijing", "Guangdong"]
    assert [o.split()[0] for o in second] == ["Shanghai"]
    assert "1 / 2 · 3 cases" in html
    # Only measures with a case at this level have rows: no "not launched" filler.
    assert 'data-measure="2.2"' not in html

    api = api_as(office)
    response = api.get("/api/v1/measures/?level=provincial&page=2")
    assert [r["organisation"] for r in response.json()] == ["shanghai"]
    assert (response["X-Total-Count"], response["X-Page-Count"]) == ("3", "2")


# --------------------------------------------------------------------------- escalation


def test_rung_3_on_a_child_case_also_notifies_the_parent_organisations_coordinators(world):
    with time_machine.travel(T0, tick=False):
        national = national_case(world)
        cascade.case_cascade(
            case=national, by=world("coordinator.office"), organisations=["beijing"]
        )
    child_item = open_item_of(child_of(national, "beijing"))
    assert child_item.due_at == DRAFT_DUE

    def sweep(moment):
        before = len(mail.outbox)
        with time_machine.travel(moment, tick=False):
            sweep_run(now=moment)
        return sorted(a for m in mail.outbox[before:] for a in m.to)

    sweep(beijing(2027, 3, 22, 18, 0))  # rung 1
    sweep(beijing(2027, 3, 24, 18, 0))  # rung 2
    assert not Notification.objects.filter(
        work_item=child_item, recipient__username="coordinator.office"
    ).exists()
    rung_3 = sweep(beijing(2027, 3, 29, 18, 30))
    child_rung_3 = set(
        Notification.objects.filter(work_item=child_item, rung=3).values_list(
            "recipient__username", flat=True
        )
    )
    assert child_rung_3 == {
        "beijing.chairman",
        "beijing.first_secretary",
        "coordinator.office",
        "coordinator.secretariat",
    }
    # The national case's own rung 3 goes to the national leaders only: it has no parent.
    national_rung_3 = set(
        Notification.objects.filter(work_item=open_item_of(national), rung=3).values_list(
            "recipient__username", flat=True
        )
    )
    assert national_rung_3 == {"chairman", "first_secretary"}
    assert rung_3.count("coordinator.office@example.org") == 1
    assert child_of(national, "beijing").rag == Rag.RED
    event = AuditEvent.objects.get(work_item=child_item, verb="escalated", data__rung=3)
    assert event.data["parent_notified"] == ["coordinator.office", "coordinator.secretariat"]
    # Nothing twice, however often the sweep runs.
    assert sweep(beijing(2027, 4, 30)) == []


# --------------------------------------------------------------------------- visibility


def test_a_provincial_head_never_sees_a_sibling_province(world, frozen, client):
    national = national_case(world)
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    own = child_of(national, "beijing")
    cascade.case_cascade(case=own, by=world("beijing.coordinator"), level="prefecture")
    city = child_of(own, "beijing-city-1")
    sibling = child_of(national, "shanghai")
    head = world("beijing.grassroots_work.head")

    client.force_login(head)
    assert client.get(case_url(own)).status_code == 200
    assert client.get(case_url(city)).status_code == 200  # below: visible
    assert client.get(case_url(sibling)).status_code == 404
    assert client.get(case_url(national)).status_code == 404  # above: not theirs
    assert client.get(task_url(open_item_of(sibling))).status_code == 404

    api = api_as(head)
    listed = {c["organisation"] for c in api.get("/api/v1/cases/").json()["results"]}
    assert listed == {"beijing", "beijing-city-1"}
    assert api.get(f"/api/v1/cases/{sibling.pk}/").status_code == 404
    assert api.get(f"/api/v1/tasks/{open_item_of(sibling).pk}/").status_code == 404
    assert api.get("/api/v1/cases/?organisation=shanghai").json()["results"] == []
    level = api.get("/api/v1/cases/?level=prefecture").json()["results"]
    assert [c["organisation"] for c in level] == ["beijing-city-1"]
    assert api.get("/api/v1/cases/?level=nowhere").status_code == 400
    # The dashboard starts at the head's own federation; a sibling's is out of reach.
    page = client.get(reverse("workflows:dashboard")).content.decode()
    assert case_url(own) in page and case_url(sibling) not in page
    assert client.get(reverse("workflows:dashboard") + "?organisation=shanghai").status_code == 404

    # Another department's head in the same province does not see a grassroots case.
    client.force_login(world("beijing.network_work.head"))
    assert client.get(case_url(own)).status_code == 404
    # A provincial coordinator sees its subtree; national coordinators and auditors see all.
    coordinator = api_as(world("beijing.coordinator"))
    listed = {c["organisation"] for c in coordinator.get("/api/v1/cases/").json()["results"]}
    assert listed == {"beijing", "beijing-city-1"}
    for username in ("coordinator.office", "auditor"):
        listed = {
            c["organisation"]
            for c in api_as(world(username)).get("/api/v1/cases/").json()["results"]
        }
        assert listed == {"acftu", "beijing", "beijing-city-1", "guangdong", "shanghai"}
    # The national grassroots head sees the department's cases in every federation below.
    national_head = api_as(world("grassroots_work.head"))
    assert national_head.get(f"/api/v1/cases/{sibling.pk}/").status_code == 200


def test_filters_by_organisation_and_level_on_cases_tasks_and_measures(world, frozen):
    national = national_case(world)
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    office = api_as(world("coordinator.office"))

    cases = office.get("/api/v1/cases/?organisation=shanghai").json()["results"]
    assert [(c["organisation"], c["parent_case"]) for c in cases] == [("shanghai", national.pk)]
    cases = office.get("/api/v1/cases/?level=provincial").json()["results"]
    assert sorted(c["organisation"] for c in cases) == PROVINCES
    assert office.get("/api/v1/cases/?organisation=atlantis").status_code == 400

    rows = office.get("/api/v1/measures/").json()
    assert {r["organisation"] for r in rows if r["case"]} == {"acftu"}
    rows = office.get("/api/v1/measures/?level=provincial").json()
    assert sorted(r["organisation"] for r in rows if r["code"] == "3.1") == PROVINCES
    rows = office.get("/api/v1/measures/?organisation=beijing").json()
    (row,) = [r for r in rows if r["code"] == "3.1"]
    assert row["organisation"] == "beijing" and row["status"] == "open"

    staff = api_as(world("shanghai.grassroots_work.staff"))
    tasks = staff.get("/api/v1/tasks/?organisation=shanghai").json()["results"]
    assert [t["case"] for t in tasks] == [child_of(national, "shanghai").pk]
    assert staff.get("/api/v1/tasks/?level=national").json()["results"] == []


def test_dashboard_query_count_is_the_same_for_1_and_10_child_organisations(world, frozen, client):
    national = national_case(world)
    cascade.case_cascade(case=national, by=world("coordinator.office"), organisations=["beijing"])
    client.force_login(world("coordinator.office"))
    url = reverse("workflows:dashboard") + "?level=provincial"

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response.content.decode()

    one, page = count()
    assert page.count(case_url(child_of(national, "beijing"))) == 1
    provincial = OrganisationLevel.objects.get(key="provincial")
    for n in range(7):
        organisation_create(
            code=f"extra-{n}",
            title_en=f"Province {n}",
            level=provincial,
            parent=Organisation.national(),
        )
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    assert Case.objects.filter(parent_case=national).count() == 10
    ten, page = count()
    assert page.count(case_url(child_of(national, "extra-6"))) == 1
    assert ten == one
