"""The JSON API driven through its real URLs: journeys, error codes, auth, schema, query counts."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from workflows.common.calendar import WorkingCalendar, due_at_for, local_date
from workflows.models import Department, Measure, WorkItem

TASKS = "/api/v1/tasks/"
CASES = "/api/v1/cases/"


@pytest.fixture
def api(demo_users):
    """A client logged in as a demo user: api("network_work.staff").get(...)."""

    def as_user(username: str) -> APIClient:
        client = APIClient()
        # A fresh user object each time, so access's per-user caches never go stale.
        client.force_authenticate(user=demo_users(username))
        return client

    return as_user


def task_url(task_id: int, action: str = "") -> str:
    return f"{TASKS}{task_id}/{action}"


def open_task(client: APIClient, case_id: int) -> dict:
    """The caller's one open task on the case, as /tasks/ lists it."""
    response = client.get(TASKS)
    assert response.status_code == 200, response.json()
    tasks = [task for task in response.json()["results"] if task["case"] == case_id]
    assert len(tasks) == 1, tasks
    return tasks[0]


def act(api, username: str, case_id: int, step: str, action: str, **payload) -> dict:
    """Find the user's open task on the case, check its step, post the action; returns the body."""
    client = api(username)
    task = open_task(client, case_id)
    assert task["step"] == step
    response = client.post(task_url(task["id"], action), payload, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def launch_over_api(api, code: str) -> int:
    response = api("coordinator.office").post(CASES, {"measure": code}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def drive(api, case_id: int, steps) -> None:
    for username, step, action, payload in steps:
        act(api, username, case_id, step, action, **payload)


def approve(username: str, step: str):
    return (username, step, "approve", {"comment": "Agreed."})


def complete(username: str, step: str):
    return (username, step, "complete", {"note": f"{step} done."})


STEPS_2_2_TO_IMPLEMENTATION = [
    complete("network_work.staff", "draft_plan"),
    approve("network_work.head", "head_approval"),
    approve("secretary_publicity_network", "leader_approval"),
]


# --------------------------------------------------------------------------- journeys


def test_measure_2_2_runs_from_draft_to_sign_off_over_the_api(api):
    coordinator = api("coordinator.office")
    launched = coordinator.post(CASES, {"measure": "2.2"}, format="json")
    assert launched.status_code == 201
    case_id = launched.json()["id"]
    assert launched.json()["status"] == "open"
    assert launched.json()["current_step"] == "draft_plan"
    again = coordinator.post(CASES, {"measure": "2.2"}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, case_id)

    staff = api("network_work.staff")
    draft = open_task(staff, case_id)
    assert draft["measure"] == "2.2"
    assert draft["kind"] == "submit"
    assert draft["assignee"] is None
    assert draft["candidates"] == ["network_work.staff"]
    step = Measure.objects.get(code="2.2").steps.get(key="draft_plan")
    expected_due = WorkItem.objects.get(pk=draft["id"]).due_at
    assert expected_due == due_at_for(
        WorkingCalendar.load().add_working_days(local_date(timezone.now()), step.working_days)
    )
    assert dt.datetime.fromisoformat(draft["due_at"]) == expected_due
    claimed = staff.post(task_url(draft["id"], "claim"))
    assert claimed.status_code == 200
    assert claimed.json()["assignee"] == "network_work.staff"
    submitted = staff.post(task_url(draft["id"], "complete"), {"note": "v1"}, format="json")
    assert submitted.status_code == 200
    assert (submitted.json()["status"], submitted.json()["outcome"]) == ("done", "submitted")

    head_task = open_task(api("network_work.head"), case_id)
    assert head_task["candidates"] == ["network_work.head"]
    returned = act(
        api, "network_work.head", case_id, "head_approval", "return", reason="Add a budget."
    )
    assert returned["outcome"] == "returned"

    # The rework goes straight back to the person who drafted it.
    redo = open_task(api("network_work.staff"), case_id)
    assert (redo["step"], redo["assignee"]) == ("draft_plan", "network_work.staff")
    act(api, "network_work.staff", case_id, "draft_plan", "complete", note="v2 with budget")
    act(api, "network_work.head", case_id, "head_approval", "approve", comment="Good.")
    act(api, "secretary_publicity_network", case_id, "leader_approval", "approve")

    implementation = open_task(api("network_work.staff"), case_id)
    assert implementation["step"] == "implementation"
    progress = api("network_work.staff").post(
        task_url(implementation["id"], "progress"),
        {"percent": 40, "note": "Pilot sites chosen."},
        format="json",
    )
    assert progress.status_code == 200, progress.json()
    assert progress.json()["percent"] == 40
    assert progress.json()["step"] == "implementation"
    assert progress.json()["author"] == "network_work.staff"
    midway = coordinator.get(f"{CASES}{case_id}/").json()
    assert 0 < midway["percent_complete"] < 100
    act(api, "network_work.staff", case_id, "implementation", "complete", note="Rolled out.")
    act(api, "research_office.head", case_id, "acceptance_review", "approve")
    act(api, "secretariat.head", case_id, "sign_off", "approve", comment="Closed.")

    detail = coordinator.get(f"{CASES}{case_id}/")
    assert detail.status_code == 200
    case = detail.json()
    assert (case["status"], case["current_step"], case["percent_complete"]) == ("done", None, 100)
    assert [(t["step"], t["status"], t["outcome"], t["completed_by"]) for t in case["tasks"]] == [
        ("draft_plan", "done", "submitted", "network_work.staff"),
        ("head_approval", "done", "returned", "network_work.head"),
        ("draft_plan", "done", "submitted", "network_work.staff"),
        ("head_approval", "done", "approved", "network_work.head"),
        ("leader_approval", "done", "approved", "secretary_publicity_network"),
        ("implementation", "done", "completed", "network_work.staff"),
        ("acceptance_review", "done", "approved", "research_office.head"),
        ("sign_off", "done", "approved", "secretariat.head"),
    ]
    assert case["tasks"][1]["decision_note"] == "Add a budget."
    assert all(task["finished_at"] for task in case["tasks"])
    assert [(p["step"], p["percent"], p["note"]) for p in case["progress"]] == [
        ("implementation", 40, "Pilot sites chosen.")
    ]
    for username in ("network_work.staff", "network_work.head", "secretariat.head"):
        listed = api(username).get(TASKS).json()["results"]
        assert [task for task in listed if task["case"] == case_id] == []


@pytest.mark.parametrize(
    ("code", "steps"),
    [
        pytest.param(
            "2.1",
            [
                *STEPS_2_2_TO_IMPLEMENTATION,
                complete("network_work.staff", "implementation_phase_1"),
                # A review may be completed as well as approved.
                complete("research_office.head", "midterm_review"),
                complete("network_work.staff", "implementation_phase_2"),
                approve("research_office.head", "acceptance_review"),
                approve("secretariat.head", "sign_off"),
            ],
            id="2.1-two-phases-and-midterm-review",
        ),
        pytest.param(
            "3.7",
            [
                complete("organization_department.staff", "draft_plan"),
                approve("organization_department.head", "head_approval"),
                complete("organization_department.staff", "fund_review_committee_review"),
                approve("secretary_organisation", "leader_approval"),
                complete("organization_department.staff", "implementation"),
                approve("research_office.head", "acceptance_review"),
                approve("secretariat.head", "sign_off"),
            ],
            id="3.7-fund-review-committee",
        ),
    ],
)
def test_variant_measures_run_end_to_end_over_the_api(api, code, steps):
    case_id = launch_over_api(api, code)
    drive(api, case_id, steps)

    case = api("auditor").get(f"{CASES}{case_id}/").json()
    assert case["status"] == "done"
    assert [task["step"] for task in case["tasks"]] == [step for _user, step, _a, _p in steps]
    assert {task["status"] for task in case["tasks"]} == {"done"}
    assert [task["completed_by"] for task in case["tasks"]] == [user for user, *_ in steps]


# --------------------------------------------------------------------------- error codes


def test_approving_an_already_approved_task_is_a_conflict(api):
    case_id = launch_over_api(api, "2.2")
    act(api, "network_work.staff", case_id, "draft_plan", "complete")
    approved = act(api, "network_work.head", case_id, "head_approval", "approve")

    again = api("network_work.head").post(task_url(approved["id"], "approve"), format="json")

    assert again.status_code == 409
    assert again.json() == {
        "detail": "This task is already done by network_work.head; nothing was changed."
    }


def test_returning_without_a_reason_is_a_bad_request(api):
    case_id = launch_over_api(api, "2.2")
    act(api, "network_work.staff", case_id, "draft_plan", "complete")
    head = api("network_work.head")
    task = open_task(head, case_id)

    for payload in ({}, {"reason": "   "}):
        response = head.post(task_url(task["id"], "return"), payload, format="json")
        assert response.status_code == 400
        assert response.json() == {"detail": "A reason is required to return work for rework."}
    assert head.get(task_url(task["id"])).json()["status"] == "open"


def test_progress_with_a_bad_percent_is_a_bad_request(api):
    case_id = launch_over_api(api, "2.2")
    drive(api, case_id, STEPS_2_2_TO_IMPLEMENTATION)
    staff = api("network_work.staff")
    url = task_url(open_task(staff, case_id)["id"], "progress")

    too_big = staff.post(url, {"percent": 150, "note": "Hm."}, format="json")
    not_a_number = staff.post(url, {"percent": "lots", "note": "Hm."}, format="json")

    assert too_big.status_code == 400
    # The range is in the schema now, so the serializer refuses it before the service would.
    assert too_big.json()["detail"] == "percent: Ensure this value is less than or equal to 100."
    assert not_a_number.status_code == 400
    assert not_a_number.json()["detail"] == "percent: A valid integer is required."
    assert "percent" in not_a_number.json()["errors"]


def test_complete_is_refused_on_approval_and_sign_off_steps(api):
    case_id = launch_over_api(api, "2.2")
    act(api, "network_work.staff", case_id, "draft_plan", "complete")
    head = api("network_work.head")
    task = open_task(head, case_id)

    response = head.post(task_url(task["id"], "complete"), format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Steps of kind 'approve' are approved or returned, not completed."
    }


def test_auditor_sees_the_task_but_cannot_approve_it(api):
    case_id = launch_over_api(api, "2.2")
    act(api, "network_work.staff", case_id, "draft_plan", "complete")
    task = open_task(api("network_work.head"), case_id)
    auditor = api("auditor")

    assert auditor.get(task_url(task["id"])).status_code == 200
    response = auditor.post(task_url(task["id"], "approve"), format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "Auditors have read-only access."}
    assert auditor.get(TASKS).json()["results"] == []


def test_other_department_gets_404_on_a_hidden_case_and_403_on_a_visible_task(api):
    case_id = launch_over_api(api, "2.2")
    act(api, "network_work.staff", case_id, "draft_plan", "complete")
    task = open_task(api("network_work.head"), case_id)

    # research_office has no part in the case yet: it cannot even see it.
    outsider = api("research_office.head")
    assert outsider.get(f"{CASES}{case_id}/").status_code == 404
    assert outsider.get(task_url(task["id"])).status_code == 404
    hidden = outsider.post(task_url(task["id"], "approve"), format="json")
    assert hidden.status_code == 404
    assert hidden.json() == {"detail": "Not found."}

    # The lead department's staff see the case, but the head's approval is not theirs.
    not_yours = api("network_work.staff").post(task_url(task["id"], "approve"), format="json")
    assert not_yours.status_code == 403
    assert not_yours.json() == {
        "detail": "This task is not assigned to you or to a queue you serve."
    }

    # Once research_office has reviewed, it sees the case; the sign-off is still not its own.
    drive(
        api,
        case_id,
        [
            approve("network_work.head", "head_approval"),
            approve("secretary_publicity_network", "leader_approval"),
            complete("network_work.staff", "implementation"),
            approve("research_office.head", "acceptance_review"),
        ],
    )
    sign_off = open_task(api("secretariat.head"), case_id)
    refused = api("research_office.head").post(task_url(sign_off["id"], "approve"), format="json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "This task is not assigned to you or to a queue you serve."}


def test_separation_of_duties_stops_a_head_approving_their_own_draft(api, demo_users):
    head = demo_users("network_work.head")
    Department.objects.get(key="network_work", organisation__parent__isnull=True).staff.add(head)
    case_id = launch_over_api(api, "2.2")
    act(api, "network_work.head", case_id, "draft_plan", "complete", note="Drafted it myself.")
    client = api("network_work.head")
    task = open_task(client, case_id)
    assert task["step"] == "head_approval"

    response = client.post(task_url(task["id"], "approve"), format="json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Separation of duties: you submitted this work, "
        "so someone else must decide on it."
    }
    assert client.get(task_url(task["id"])).json()["status"] == "open"


def test_claim_and_reassign(api):
    case_id = launch_over_api(api, "2.2")
    draft = open_task(api("network_work.staff"), case_id)
    coordinator = api("coordinator.office")
    url = task_url(draft["id"], "reassign")

    no_reason = coordinator.post(url, {"to": "network_work.head"}, format="json")
    by_staff = api("network_work.staff").post(
        url, {"to": "network_work.staff", "reason": "Mine."}, format="json"
    )
    nobody = coordinator.post(url, {"to": "nobody", "reason": "Typo."}, format="json")
    reassigned = coordinator.post(
        url, {"to": "network_work.head", "reason": "Staff on leave."}, format="json"
    )

    assert no_reason.status_code == 400
    assert no_reason.json() == {"detail": "A reason is required to reassign a task."}
    assert by_staff.status_code == 403
    assert by_staff.json() == {"detail": "Only coordinators can do this."}
    assert nobody.status_code == 400
    assert nobody.json() == {"detail": "No active user named 'nobody'."}
    assert reassigned.status_code == 200
    assert reassigned.json()["assignee"] == "network_work.head"
    assert reassigned.json()["candidates"] == ["network_work.head"]
    taken = api("network_work.staff").post(task_url(draft["id"], "claim"))
    assert taken.status_code == 409
    assert taken.json() == {"detail": "Already taken by network_work.head."}
    back = coordinator.post(url, {"to": None, "reason": "Back to the queue."}, format="json")
    assert (back.status_code, back.json()["assignee"]) == (200, None)
    assert back.json()["candidates"] == ["network_work.staff"]


def test_launching_needs_a_coordinator_and_a_known_measure(api):
    refused = api("network_work.head").post(CASES, {"measure": "2.2"}, format="json")
    unknown = api("coordinator.office").post(CASES, {"measure": "9.9"}, format="json")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only coordinators can do this."}
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "measure: Object with code=9.9 does not exist."


# --------------------------------------------------------------------------- reads


def test_case_list_is_paginated_and_shows_only_visible_cases(api):
    case_2_2 = launch_over_api(api, "2.2")
    case_3_7 = launch_over_api(api, "3.7")

    everything = api("coordinator.office").get(CASES, {"limit": 1})
    mine = api("network_work.staff").get(CASES)

    assert everything.json()["count"] == 2
    assert len(everything.json()["results"]) == 1
    assert [case["id"] for case in mine.json()["results"]] == [case_2_2]
    row = mine.json()["results"][0]
    assert (row["measure"], row["lead_department"], row["supervising_leader"]) == (
        "2.2",
        "network_work",
        "secretary_publicity_network",
    )
    assert api("network_work.staff").get(f"{CASES}{case_3_7}/").status_code == 404


def test_case_list_rows_are_what_the_case_serializer_gives(api, demo_users):
    """The list builds its rows from plain values; they must stay CaseSerializer's, field for
    field, for open and finished cases, with and without a parent, deadline and launcher."""
    from workflows.api.serializers import CaseSerializer
    from workflows.models import Case

    open_id = launch_over_api(api, "2.2")
    done_id = launch_over_api(api, "3.7")
    child_id = launch_over_api(api, "2.1")
    moment = timezone.now().replace(microsecond=123456)
    Case.objects.filter(pk=done_id).update(is_open=False, current_step=None, launched_by=None)
    Case.objects.filter(pk=done_id).update(finished=moment, rag="red", percent_complete=100)
    Case.objects.filter(pk=child_id).update(parent_case=open_id, deadline_cap=moment)

    listed = api("coordinator.office").get(CASES).json()["results"]
    cases = Case.objects.in_bulk([row["id"] for row in listed])
    expected = CaseSerializer([cases[row["id"]] for row in listed], many=True).data

    assert {row["id"] for row in listed} == {open_id, done_id, child_id}
    assert [list(row.items()) for row in listed] == [list(row.items()) for row in expected]


def test_task_list_rows_are_what_the_task_serializer_gives(api, demo_users, launch):
    """The task list builds its rows from plain values; they must stay TaskSerializer's, field
    for field: a queue with an inactive and a second member, a claimed, a head's, a leader's,
    a paused and a finished task."""
    from django.contrib.auth import get_user_model

    from workflows.api.serializers import TaskSerializer, task_list_data, with_candidates
    from workflows.cases import selectors, services
    from workflows.cases.task_rows import task_list_rows

    items = [
        WorkItem.objects.get(case=launch(code), status="open")
        for code in ("2.1", "2.2", "2.3", "2.4", "2.5", "3.1")
    ]
    queue, claimed, headed, led, paused, done = items
    department = Department.objects.get(pk=queue.department_id)
    users = get_user_model().objects
    department.staff.add(users.create_user(username="aa.second", is_active=True))
    department.staff.add(users.create_user(username="ab.away", is_active=False))
    services.task_claim(item=claimed, user=demo_users("network_work.staff"))
    WorkItem.objects.filter(pk=headed.pk).update(for_head=True)
    WorkItem.objects.filter(pk=led.pk).update(
        department=None, leader_role=led.case.supervising_leader_id
    )
    moment = timezone.now().replace(microsecond=123456)
    WorkItem.objects.filter(pk=paused.pk).update(
        paused_at=moment, pause_reason="Waiting.", original_due_at=moment
    )
    WorkItem.objects.filter(pk=done.pk).update(status="done", outcome="approved")
    ids = [item.pk for item in reversed(items)]

    fresh = with_candidates(selectors.work_item_rows(WorkItem.objects.all())).in_bulk(ids)
    expected = TaskSerializer([fresh[pk] for pk in ids], many=True).data
    listed = task_list_data(task_list_rows(ids))

    assert [row["id"] for row in listed] == ids
    staff = listed[-1]["candidates"]  # the queue's, active members only, by username
    assert "aa.second" in staff and "ab.away" not in staff and staff == sorted(staff)
    assert [list(row.items()) for row in listed] == [list(row.items()) for row in expected]
    assert task_list_rows([]) == []


def test_measures_lists_the_programme_in_the_request_language(api):
    case_id = launch_over_api(api, "2.2")
    coordinator = api("coordinator.office")

    rows = {row["code"]: row for row in coordinator.get("/api/v1/measures/").json()}
    chinese = coordinator.get("/api/v1/measures/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert len(rows) == Measure.objects.count()
    assert rows["2.2"] | {"title": None, "title_en": None, "title_zh": None} == {
        "code": "2.2",
        "aspect": Measure.objects.get(code="2.2").aspect.code,
        "title": None,
        "title_en": None,
        "title_zh": None,
        "provenance": Measure.objects.get(code="2.2").provenance,
        "lead_department": "network_work",
        "supervising_leader": "secretary_publicity_network",
        "case": case_id,
        "organisation": "acftu",
        "status": "open",
        "current_step": "draft_plan",
        "assignee": None,
        "percent_complete": 0,
        "rag": "green",
        "due_at": timezone.localtime(
            WorkItem.objects.get(case=case_id, status="open").due_at
        ).isoformat(),
    }
    assert rows["2.2"]["title"] == rows["2.2"]["title_en"]
    zh_row = next(row for row in chinese if row["code"] == "2.2")
    assert zh_row["title_zh"]
    assert zh_row["title"] == zh_row["title_zh"]
    assert rows["3.7"]["status"] == "none"
    assert rows["3.7"]["case"] is None


@pytest.mark.parametrize("params", [{}, {"level": "national"}])
def test_measure_rows_are_what_the_measure_row_serializer_gives(api, demo_users, params):
    """The measures list builds its rows without DRF fields; they must stay
    MeasureRowSerializer's, field for field: a case with an assignee, one without, none."""
    from workflows.api.serializers import MeasureRowSerializer
    from workflows.cases import selectors
    from workflows.models import LeaderRole

    claimed = launch_over_api(api, "2.2")
    launch_over_api(api, "3.7")
    staff = api("network_work.staff")
    assert staff.post(task_url(open_task(staff, claimed)["id"], "claim")).status_code == 200

    listed = api("coordinator.office").get("/api/v1/measures/", params).json()
    programme = selectors.programme_rows(
        demo_users("coordinator.office"), level=params.get("level")
    )
    rows = [row for _aspect, rows in programme for row in rows]
    keys = dict(LeaderRole.objects.values_list("pk", "key"))
    expected = MeasureRowSerializer(rows, many=True, context={"leader_keys": keys}).data

    assert any(row["assignee"] == "network_work.staff" for row in listed)
    assert [list(row.items()) for row in listed] == [list(row.items()) for row in expected]


def count_queries(client: APIClient, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.json()


def test_task_list_query_count_does_not_grow_with_the_number_of_tasks(api, demo_users, launch):
    # Staff of every department, so each launched case's first task is in one of its queues.
    user = demo_users("network_work.staff")
    for department in Department.objects.all():
        department.staff.add(user)
    codes = list(Measure.objects.values_list("code", flat=True)[:10])
    client = APIClient()
    # Token auth loads the user afresh on every request, so no cache carries between them.
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    launch(codes[0])
    one_count, one = count_queries(client, TASKS)
    for code in codes[1:]:
        launch(code)
    ten_count, ten = count_queries(client, TASKS)

    assert len(one["results"]) == 1
    assert len(ten["results"]) == 10
    assert all("network_work.staff" in task["candidates"] for task in ten["results"])
    assert ten_count == one_count


def test_measures_query_count_does_not_grow_with_the_number_of_cases(api, launch):
    launch("2.2")
    one_count, _ = count_queries(api("coordinator.office"), "/api/v1/measures/")
    for code in ("2.1", "3.7", "1.4", "1.5"):
        launch(code)
    five_count, five = count_queries(api("coordinator.office"), "/api/v1/measures/")

    assert five_count == one_count
    assert sum(row["status"] == "open" for row in five) == 5


# --------------------------------------------------------------------------- auth and schema


def test_token_authentication_works(demo_users, launch):
    case = launch("2.2")
    token = Token.objects.create(user=demo_users("network_work.staff"))
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(TASKS)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    bad = client.get(TASKS)

    assert response.status_code == 200
    assert [task["case"] for task in response.json()["results"]] == [case.pk]
    # 403, not 401: session authentication comes first in settings (DRF's rule).
    assert bad.status_code in (401, 403)
    assert bad.json() == {"detail": "Invalid token."}


def test_session_login_works(demo_users, launch):
    from tests.conftest import DEMO_PASSWORD

    launch("2.2")
    client = APIClient()
    # The real login page, as a browser would (django-axes needs the request to count failures).
    response = client.post(
        "/accounts/login/", {"username": "network_work.staff", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302

    assert client.get(TASKS).status_code == 200


@pytest.mark.parametrize("url", [TASKS, CASES, "/api/v1/measures/", f"{TASKS}1/approve"])
def test_anonymous_requests_are_refused(db, url):
    response = APIClient().get(url) if not url.endswith("approve") else APIClient().post(url)

    # Session authentication comes first in settings, so DRF answers 403 rather than 401.
    assert response.status_code in (401, 403)
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_schema_describes_every_endpoint(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Reformflow API"
    paths = schema["paths"]
    for path in (
        "/api/v1/measures/",
        "/api/v1/cases/",
        "/api/v1/cases/{id}/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/",
        *(
            f"/api/v1/tasks/{{id}}/{action}"
            for action in ("approve", "return", "complete", "progress", "claim", "reassign")
        ),
    ):
        assert path in paths, path
    assert "409" in paths["/api/v1/tasks/{id}/approve"]["post"]["responses"]
    assert paths["/api/v1/cases/"]["post"]["operationId"] == "case_launch"
