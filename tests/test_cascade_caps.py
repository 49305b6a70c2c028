"""A cascaded case's cap follows its parent's overall deadline (issue 15, Deliver 5).

Measure 3.1: draft 15, head 5, leader 5, implementation 180, review 10, sign-off 5 working
days (220 in all). Launched Mon 1 Mar 2027, the national draft is due Mon 22 Mar 18:00, and
the case's overall deadline is 205 working days later on the 2027/2028 calendar: Fri 14 Jan
2028 (Qingming, Labour Day, Dragon Boat, Mid-Autumn, National Day and New Year skipped).
"""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.casework import advance, open_item_of
from tests.conftest import DEMO_PASSWORD
from tests.deadline_helpers import beijing
from workflows.cases import cascade, launch
from workflows.common.calendar import due_at_for
from workflows.deadlines import due_dates as deadlines
from workflows.demo.accounts import demo_seed
from workflows.models import (
    AuditEvent,
    CalendarDay,
    Case,
    DeadlineChange,
    Measure,
    Organisation,
    OrganisationLevel,
)
from workflows.organisations.services import organisation_create

pytestmark = pytest.mark.django_db

T0 = beijing(2027, 3, 1, 10)
DRAFT_DUE = due_at_for(dt.date(2027, 3, 22))
OVERALL = due_at_for(dt.date(2028, 1, 14))


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=3, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def national_case(world) -> Case:
    case, _ = launch.case_launch(
        measure=Measure.objects.get(code="3.1"), by=world("coordinator.office")
    )
    return case


def child_of(parent: Case, organisation: str) -> Case:
    return Case.objects.get(parent_case=parent, organisation__code=organisation)


def to_implementation(client, case: Case):
    while open_item_of(case).kind != "implement":
        advance(client, case)
    return open_item_of(case)


def test_a_child_cap_is_the_parents_overall_deadline_not_its_current_step(world, frozen, client):
    national = national_case(world)
    cascade.case_cascade(case=national, by=world("coordinator.office"), level="provincial")
    children = Case.objects.filter(parent_case=national)
    # Not the national draft's 22 March: the whole national programme's last day.
    assert {c.deadline_cap for c in children} == {OVERALL}
    assert deadlines.case_overall_deadline(national) == OVERALL

    # So a province's 180-working-day implementation keeps its own 180 working days.
    province = child_of(national, "beijing")
    implementation = to_implementation(client, province)
    assert implementation.due_at == due_at_for(dt.date(2027, 11, 18))
    created = AuditEvent.objects.get(work_item=implementation, verb="task_created")
    assert "capped_from" not in created.data


def test_extending_the_parent_moves_the_caps_two_levels_down_and_the_capped_due_dates(
    world, frozen, client
):
    national = national_case(world)
    # National implementation due Thu 18 Nov 2027; review and sign-off: overall Thu 9 Dec.
    implementation = to_implementation(client, national)
    assert implementation.due_at == due_at_for(dt.date(2027, 11, 18))
    # Beijing joins late, ten working days before the national deadline: its draft (15 working
    # days, Thu 16 Dec) is cut to 9 Dec, and so is its city's.
    frozen.move_to(beijing(2027, 11, 25, 10))
    cascade.case_cascade(case=national, by=world("coordinator.office"), organisations=["beijing"])
    province = child_of(national, "beijing")
    cascade.case_cascade(case=province, by=world("beijing.coordinator"), level="prefecture")
    city = child_of(province, "beijing-city-1")
    old_cap = due_at_for(dt.date(2027, 12, 9))
    assert province.deadline_cap == city.deadline_cap == old_cap
    assert open_item_of(province).due_at == open_item_of(city).due_at == old_cap

    # The national implementation is extended to Fri 31 Dec: the overall deadline moves to
    # Mon 24 Jan 2028, and both levels below follow, in the same transaction.
    deadlines.deadline_extend(
        item=implementation,
        by=world("coordinator.office"),
        new_date=dt.date(2027, 12, 31),
        reason="The State Council's guidance arrives in December.",
    )
    new_cap = due_at_for(dt.date(2028, 1, 24))
    own_draft_due = due_at_for(dt.date(2027, 12, 16))
    for child in (province, city):
        child.refresh_from_db()
        assert child.deadline_cap == new_cap
        item = open_item_of(child)
        # No longer squeezed: the draft gets its own 15 working days back.
        assert item.due_at == own_draft_due
        change = DeadlineChange.objects.get(work_item=item)
        assert (change.kind, change.old_due_at, change.new_due_at) == (
            "cap_moved",
            old_cap,
            own_draft_due,
        )
        assert change.by == world("coordinator.office")
        moved = AuditEvent.objects.get(case=child, verb="deadline_cap_moved")
        assert dt.datetime.fromisoformat(moved.data["from"]) == old_cap
        assert dt.datetime.fromisoformat(moved.data["to"]) == new_cap
        assert moved.data["parent_case"] == child.parent_case_id
        assert moved.actor_name == "coordinator.office"
    # The siblings that were never cascaded have nothing to move.
    assert AuditEvent.objects.filter(verb="deadline_cap_moved").count() == 2


def test_resuming_the_paused_parent_moves_the_caps(world, frozen):
    national = national_case(world)
    office = world("coordinator.office")
    cascade.case_cascade(case=national, by=office, level="provincial")
    draft = open_item_of(national)
    frozen.move_to(beijing(2027, 3, 2, 10))
    deadlines.task_pause(item=draft, by=office, reason="Waiting for the Secretariat.")
    frozen.move_to(beijing(2027, 3, 9, 10))
    # Paused Tue 2 to Tue 9 March: 5 working days, so the draft is due Mon 29 March.
    deadlines.task_resume(item=draft, by=office)
    assert open_item_of(national).due_at == due_at_for(dt.date(2027, 3, 29))
    expected = due_at_for(dt.date(2028, 1, 21))
    caps = Case.objects.filter(parent_case=national).values_list("deadline_cap", flat=True)
    assert set(caps) == {expected}
    assert deadlines.case_overall_deadline(national) == expected
    assert AuditEvent.objects.filter(verb="deadline_cap_moved").count() == 3
    assert DeadlineChange.objects.filter(kind="cap_moved").count() == 3


def test_moving_the_caps_of_many_children_takes_a_fixed_number_of_queries(world, frozen):
    national = national_case(world)
    office = world("coordinator.office")
    cascade.case_cascade(case=national, by=office, organisations=["beijing"])

    def extend_to(day: dt.date) -> int:
        # Fresh objects, as for a real request (access caches per user object).
        by, draft = world("coordinator.office"), open_item_of(national)
        with CaptureQueriesContext(connection) as queries:
            deadlines.deadline_extend(item=draft, by=by, new_date=day, reason="More time.")
        return len(queries)

    one = extend_to(dt.date(2027, 3, 24))
    provincial = OrganisationLevel.objects.get(key="provincial")
    for n in range(9):
        organisation_create(
            code=f"extra-{n}",
            title_en=f"Province {n}",
            level=provincial,
            parent=Organisation.national(),
        )
    cascade.case_cascade(case=national, by=office, level="provincial")
    assert Case.objects.filter(parent_case=national).count() == 12
    twelve = extend_to(dt.date(2027, 3, 26))
    assert twelve == one
    caps = Case.objects.filter(parent_case=national).values_list("deadline_cap", flat=True)
    assert set(caps) == {due_at_for(dt.date(2028, 1, 20))}  # 26 Mar + 205 working days


def test_a_calendar_change_moves_the_caps_with_the_parents_projection(world, frozen):
    national = national_case(world)
    cascade.case_cascade(case=national, by=world("coordinator.office"), organisations=["beijing"])
    frozen.move_to(beijing(2027, 3, 8, 10))
    province = child_of(national, "beijing")
    cascade.case_cascade(case=province, by=world("beijing.coordinator"), level="prefecture")
    city = child_of(province, "beijing-city-1")
    assert province.deadline_cap == city.deadline_cap == OVERALL

    # A new holiday on Wed 10 Mar pushes every count across it by a working day: the national
    # draft to Tue 23 Mar, its overall deadline to Mon 17 Jan 2028, and the caps below with it.
    CalendarDay.objects.create(date=dt.date(2027, 3, 10), kind="holiday", name="Drill")
    deadlines.due_dates_recompute(changed_dates=[dt.date(2027, 3, 10)])
    assert open_item_of(national).due_at == due_at_for(dt.date(2027, 3, 23))
    expected = due_at_for(dt.date(2028, 1, 17))
    for child in (province, city):
        child.refresh_from_db()
        assert child.deadline_cap == expected
        moved = AuditEvent.objects.get(case=child, verb="deadline_cap_moved")
        assert moved.reason.startswith("calendar: 2027-03-10")
    # The city's own draft (from 8 Mar) moves by the holiday, never past its cap.
    assert open_item_of(city).due_at == due_at_for(dt.date(2027, 3, 30))
