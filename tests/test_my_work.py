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
from workflows.models import Case, Measure
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
        assert client.get(API).json() == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }


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
    for bad in ("x", "-1", "1.5", str(2**63)):
        response = client.get(API, {"offset": bad})
        assert response.status_code == 400 and "offset" in response.json()["errors"]


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


def fresh(user):
    """The user read again (reach and the work count are kept on the user object)."""
    return type(user).objects.get(pk=user.pk)


def _launch_all(coordinator, codes):
    for code in codes:
        case_launch(measure=Measure.objects.get(code=code), by=coordinator)


def _page_queries(client, url, params) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries), response


def test_my_work_pages_most_urgent_first_across_kinds_at_a_fixed_query_count(
    client, demo_users, coordinator, monkeypatch
):
    """Every page (page, API) is in urgency order across kinds, together they are the whole
    list once, and page 2 costs what page 1 costs at two data sizes."""
    from workflows.web import work as work_page

    staff = demo_users("network_work.staff")
    codes = list(
        Measure.objects.filter(lead_department__key="network_work")
        .order_by("code")
        .values_list("code", flat=True)
    )
    assert len(codes) >= 4, codes
    monkeypatch.setattr(work_page, "WORK_SHOWN", 1)  # one item a page: even few have pages
    counts = {}
    with at(LAUNCHED):
        client.force_login(staff)
        _launch_all(coordinator, codes[:2])
        sizes = {"small": worklist.work_count(fresh(staff))}
        counts["small"] = [_page_queries(client, MY_WORK, {"page": n})[0] for n in (1, 2)] + [
            _page_queries(client, API, {"limit": 1, "offset": n})[0] for n in (0, 1)
        ]
        _launch_all(coordinator, codes[2:])
        # Two kinds to merge: orders to answer beside the tasks.
        for case in Case.objects.filter(measure__code__in=codes[2:4]):
            orders.order_issue(case=case, by=coordinator, reason="Report the pilots.")
        sizes["large"] = worklist.work_count(fresh(staff))
        # Pages deep in the list that hold a task (as every small page does) cost the same.
        ranks = [
            n
            for n, e in enumerate(worklist.work_list(fresh(staff), limit=100), start=1)
            if e.kind == "task"
        ][-2:]
        counts["large"] = [_page_queries(client, MY_WORK, {"page": n})[0] for n in ranks] + [
            _page_queries(client, API, {"limit": 1, "offset": n - 1})[0] for n in ranks
        ]
        # A page of an order needs no task's joins: never more than a task's page.
        first_order = next(
            n
            for n, e in enumerate(worklist.work_list(fresh(staff), limit=100), start=1)
            if e.kind == "order"
        )
        assert _page_queries(client, MY_WORK, {"page": first_order})[0] <= counts["small"][0]
        text = client.get(MY_WORK, {"page": 2}).content.decode()
        assert f"Page 2 of {sizes['large']}" in text
        assert 'rel="prev" href="?page=1"' in text and 'rel="next" href="?page=3"' in text
        zh = client.get(MY_WORK, {"page": 2}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert f"第 2 页，共 {sizes['large']} 页" in zh and "当前显示第 2 至 2 项" in zh
        assert sizes["large"] > sizes["small"] >= 2, sizes
        assert counts["large"] == counts["small"], counts

        whole = worklist.work_list(fresh(staff), limit=100)
        assert len(whole) == sizes["large"]
        assert {e.kind for e in whole} == {"task", "order"}
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        order = [(e.due_at or far, e.kind, e.pk) for e in whole]
        assert order == sorted(order)
        # The API's pages, followed by their next links, are the whole list in order, once.
        seen, url, params = [], API, {"limit": 2}
        while url:
            answer = client.get(url, params).json()
            assert answer["count"] == sizes["large"]
            seen += [(r["kind"], r["id"]) for r in answer["results"]]
            url, params = answer["next"], None
            if url:
                assert url.startswith("http://testserver/api/v1/me/work/?")
        assert seen == [(e.kind, e.pk) for e in whole]
        last = client.get(API, {"limit": 2, "offset": 2}).json()
        assert last["previous"].endswith("limit=2&offset=0")


def test_a_my_work_page_is_kept_per_person_and_language_until_a_write(
    client, case, demo_users, coordinator
):
    """The page's items are kept in the shared cache under the person's reach, the language
    and the change stamp: a second read asks only what reach needs and the calendar; another
    person, another language or any write reads afresh; the days left follow the clock."""
    from django.contrib.auth import get_user_model
    from django.utils import translation

    def fresh_list(user):
        return worklist.work_list(get_user_model().objects.get(pk=user.pk))

    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    with at(LAUNCHED):
        first = fresh_list(staff)
        assert [e.kind for e in first] == ["task"] and first[0].days_left is not None
        with CaptureQueriesContext(connection) as queries:
            assert fresh_list(staff) == first
        tables = " ".join(q["sql"] for q in queries.captured_queries)
        assert len(queries) == 3, tables  # the user, reach's one query, the calendar
        assert "workflows_workitem" not in tables
        assert fresh_list(head) == []  # the staff queue's task is not the head's to do
        with translation.override("zh-hans"):
            assert fresh_list(staff)[0].what != first[0].what
    with at(LAUNCHED + dt.timedelta(days=7)):
        later = fresh_list(staff)
        assert [e.pk for e in later] == [e.pk for e in first]
        assert later[0].days_left < first[0].days_left
    with at(LAUNCHED):
        advance(client, case)  # the staff member submits the plan: the stamp moves
        assert first[0].pk not in [e.pk for e in fresh_list(staff)]


def test_home_counts_are_kept_until_a_hand_off_moves_them(client, case, demo_users):
    """Home's inbox and queue counts come from the shared cache, under the person's own reach
    and the change stamp: a claim retires them, and another person never gets them."""
    from workflows.cases import services

    staff, other = demo_users("network_work.staff"), demo_users("grassroots_work.staff")
    home = reverse("workflows:index")
    client.force_login(staff)
    page = client.get(home).content.decode()
    assert "0 tasks in your inbox" in page and "1 unclaimed task in your queues" in page
    with CaptureQueriesContext(connection) as warm:
        client.get(home)
    assert not any("COUNT(" in q["sql"].upper() for q in warm.captured_queries)
    client.force_login(other)
    assert "0 unclaimed tasks in your queues" in client.get(home).content.decode()
    with at(LAUNCHED):
        services.task_claim(item=open_item_of(case), user=staff)
    client.force_login(staff)
    page = client.get(home).content.decode()
    assert "1 task in your inbox" in page and "0 unclaimed tasks in your queues" in page
