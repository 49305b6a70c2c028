"""My work: one to-do list per person, from every source, at a fixed query count."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.casework import advance, open_item_of
from tests.deadline_helpers import beijing
from workflows.cases import worklist
from workflows.cases.launch import case_launch
from workflows.models import Measure
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import extensions, instructions, orders
from workflows.sweep import sweep_run

LAUNCHED = beijing(2027, 3, 1, 10)
MY_WORK = reverse("workflows:my_work")
API = "/api/v1/me/work/"


def at(moment):
    return time_machine.travel(moment, tick=False)


def kinds(user) -> list[str]:
    return sorted(e.kind for e in worklist.work_list(user))


@pytest.fixture
def case(launch):
    with at(LAUNCHED):
        return launch("2.2")


def test_each_role_sees_what_waits_for_it(client, case, demo_users, coordinator, auditor):
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    leader = demo_users("secretary_publicity_network")
    partner = demo_users("grassroots_work.staff")
    with at(LAUNCHED):
        # The drafting task sits in the lead department's queue: its staff see it.
        assert kinds(staff) == ["task"] and kinds(head) == [] and kinds(auditor) == []
        for _ in range(3):  # draft, head approval, leader approval
            advance(client, case)
    assert open_item_of(case).kind == "implement"
    with at(beijing(2027, 3, 2, 12)):
        sweep_run(now=beijing(2027, 3, 2, 12))  # opens March's feedback cycle
        orders.order_issue(case=case, by=coordinator, reason="Report the pilots.")
        instructions.instruction_issue(
            case=case, leader=leader, text="Brief me.", due_date=dt.date(2027, 3, 10)
        )
        extensions.extension_request(
            item=open_item_of(case),
            user=staff,
            reason="The data arrive late.",
            new_date=dt.date(2028, 3, 10),
            percent=10,
        )
        got = kinds(staff)
        assert sorted(set(got)) == ["cycle", "instruction", "order", "task"]
        # The head decides the staff's extension request and answers for the department too.
        assert kinds(head) == ["cycle", "extension", "instruction", "order"]
        assert kinds(partner) == ["partner_input"]
        assert kinds(leader) == [] and kinds(auditor) == [] and kinds(coordinator) == []
        entries = worklist.work_list(head)
        assert [e.due_at for e in entries] == sorted(e.due_at for e in entries)  # urgent first
        assert worklist.work_count(head) == 4
        assert all(e.days_left is not None for e in entries)
        client.force_login(head)
        page = client.get(MY_WORK).content.decode()
        assert "Extension request to decide" in page and "2.2" in page
        assert "working day" in page
        # The menu carries the count beside My work, on every page.
        assert '<span class="rf-count" title="4 items wait">4</span>' in page
        answer = client.get(API).json()
        assert answer["count"] == 4
        assert sorted(r["kind"] for r in answer["results"]) == kinds(head)
        assert {r["case"] for r in answer["results"]} == {case.pk}
        client.force_login(auditor)
        assert client.get(API).json() == {"count": 0, "results": []}


def test_a_partner_input_given_leaves_the_list(client, case, demo_users):
    partner = demo_users("grassroots_work.staff")
    with at(LAUNCHED):
        for _ in range(3):
            advance(client, case)
    with at(beijing(2027, 3, 2, 12)):
        sweep_run(now=beijing(2027, 3, 2, 12))
        (cycle,) = [e for e in worklist.work_list(partner) if e.kind == "partner_input"]
        supervision_cycles.partner_input_add(
            cycle=case.cycles.get(pk=cycle.pk), user=partner, text="Two pilots."
        )
        assert kinds(partner) == []


def test_the_api_refuses_a_bad_limit(client, demo_users):
    client.force_login(demo_users("network_work.staff"))
    for bad in ("0", "101", "x", "-1"):
        response = client.get(API, {"limit": bad})
        assert response.status_code == 400 and "limit" in response.json()["errors"]


def test_chinese_users_read_my_work_in_chinese(client, case, demo_users):
    staff = demo_users("network_work.staff")
    staff.profile.language = "zh-hans"
    staff.profile.save()
    with at(LAUNCHED):
        client.force_login(staff)
        page = client.get(MY_WORK, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的待办" in page and "起草实施方案" in page and "项待办" in page


def _queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(MY_WORK).status_code == 200
    return len(queries)


def test_my_work_costs_the_same_queries_at_two_sizes(client, demo_users, coordinator):
    staff = demo_users("network_work.staff")
    with at(LAUNCHED):
        case_launch(measure=Measure.objects.get(code="2.2"), by=coordinator)
        small = _queries(client, staff)
        for code in ("2.3", "2.4", "2.5", "3.1", "3.2", "3.3"):
            case_launch(measure=Measure.objects.get(code=code), by=coordinator)
        large = _queries(client, staff)
    assert len(worklist.work_list(staff)) >= 1
    assert large == small, (small, large)
    assert small <= 20
