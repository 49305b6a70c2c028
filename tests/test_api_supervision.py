"""The supervision layer's API (/api/v1/...) through its real URLs: each endpoint's journey, its
refusals (separation of duties, roles, auditors), bad input naming the field, and reach (a
sibling federation's objects are a 404)."""

import datetime as dt
import io

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from docx import Document
from rest_framework.test import APIClient

from tests.casework import walk_by_services
from tests.conftest import DEMO_PASSWORD
from workflows.common.calendar import local_date
from workflows.demo.accounts import demo_seed
from workflows.models import (
    AuditEvent,
    Axis,
    Department,
    FeedbackCycle,
    Light,
    LightChange,
    Measure,
    Organisation,
    ScoreEntry,
    ScoreKind,
    SupervisionOrder,
    WorkItem,
)
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import extensions
from workflows.supervision import instructions as supervision_instructions
from workflows.supervision import orders as supervision_orders

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def as_user(user) -> APIClient:
    # A session login, so each request loads the user afresh (reach is cached per user object).
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def implementing(launch):
    """2.2 at its implementation step (claimed by network_work.staff), with an open cycle."""
    case = launch("2.2")
    item = walk_by_services(case, until_kind="implement")
    supervision_cycles.feedback_cycles_open(now=timezone.now())
    return case, item


def detail(response) -> str:
    return response.json()["detail"]


# --------------------------------------------------------------------------- feedback cycles


def test_a_cycle_is_listed_given_partner_input_consolidated_and_reported(
    implementing, demo_users, auditor
):
    case, _item = implementing
    lead, partner = demo_users("network_work.staff"), demo_users("organization_department.staff")
    cycle = FeedbackCycle.objects.get(case=case, status="open")

    # The partner department sees the cycle it contributes to, and gives its input.
    listed = as_user(partner).get(f"{V1}/cycles/", {"status": "open"})
    assert [c["id"] for c in listed.json()["results"]] == [cycle.pk]
    given = as_user(partner).post(
        f"{V1}/cycles/{cycle.pk}/inputs", {"text": "Trained 12 districts."}, format="json"
    )
    assert given.status_code == 201, given.json()
    assert given.json()["department"] == "organization_department"
    # The lead department is not a partner; an auditor never writes.
    refused = as_user(lead).post(f"{V1}/cycles/{cycle.pk}/inputs", {"text": "x"}, format="json")
    assert refused.status_code == 403 and "partner" in detail(refused)
    assert (
        as_user(auditor).post(f"{V1}/cycles/{cycle.pk}/inputs", {"text": "x"}, format="json")
    ).status_code == 403

    shown = as_user(lead).get(f"{V1}/cycles/{cycle.pk}/").json()
    assert (shown["status"], shown["measure"], shown["report"]) == ("open", "2.2", None)
    assert [i["text"] for i in shown["inputs"]] == ["Trained 12 districts."]
    outsider = as_user(demo_users("secretary_organisation"))
    assert outsider.get(f"{V1}/cycles/{cycle.pk}/").status_code == 404
    assert outsider.get(f"{V1}/cycles/").json()["count"] == 0
    draft = as_user(lead).get(f"{V1}/cycles/{cycle.pk}/consolidation").json()
    assert draft["partners"] == ["grassroots_work", "organization_department"]
    assert [i["id"] for i in draft["inputs"]] == [given.json()["id"]]
    assert draft["missing"] == ["grassroots_work"]

    # Bad input names its field; a partner may not send the lead department's report.
    bad = as_user(lead).post(
        f"{V1}/cycles/{cycle.pk}/report", {"percent": 101, "note": "x"}, format="json"
    )
    assert bad.status_code == 400 and detail(bad).startswith("percent:")
    foreign = as_user(lead).post(
        f"{V1}/cycles/{cycle.pk}/report",
        {"percent": 40, "note": "x", "inputs": [given.json()["id"] + 1000]},
        format="json",
    )
    assert foreign.status_code == 400 and detail(foreign).startswith("inputs:")
    by_partner = as_user(partner).post(
        f"{V1}/cycles/{cycle.pk}/report", {"percent": 40, "note": "x"}, format="json"
    )
    assert by_partner.status_code == 403

    reported = as_user(lead).post(
        f"{V1}/cycles/{cycle.pk}/report",
        {"percent": 45, "note": "Consolidated.", "inputs": [given.json()["id"]]},
        format="json",
    )
    assert reported.status_code == 200, reported.json()
    body = reported.json()
    assert body["status"] == "submitted" and body["report_percent"] == 45
    assert body["included_inputs"] == [given.json()["id"]]
    assert AuditEvent.objects.filter(verb="feedback_submitted", case=case).count() == 1
    again = as_user(lead).post(
        f"{V1}/cycles/{cycle.pk}/report", {"percent": 50, "note": "Again."}, format="json"
    )
    assert again.status_code == 400 and "submitted" in detail(again)
    assert as_user(lead).get(f"{V1}/cycles/", {"status": "purple"}).status_code == 400


def test_the_cycle_list_costs_the_same_queries_for_more_cycles(
    launch, demo_users, django_assert_max_num_queries
):
    coordinator = demo_users("coordinator.office")
    client = as_user(coordinator)
    walk_by_services(launch("2.2"), until_kind="implement")
    supervision_cycles.feedback_cycles_open(now=timezone.now())
    with django_assert_max_num_queries(12):
        small = client.get(f"{V1}/cycles/")
    for code in ("2.3", "2.5", "3.1"):
        walk_by_services(launch(code), until_kind="implement")
    supervision_cycles.feedback_cycles_open(now=timezone.now())
    with django_assert_max_num_queries(12):
        large = client.get(f"{V1}/cycles/")
    assert small.json()["count"] < large.json()["count"]


# --------------------------------------------------------------------------- extension requests


def test_extension_request_withdraw_decide_and_separation_of_duties(implementing, demo_users):
    case, item = implementing
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    leader = case.supervising_leader.holder
    new_date = local_date(item.due_at) + dt.timedelta(days=30)
    url = f"{V1}/cases/{case.pk}/extension-requests"
    ask = {"new_date": new_date.isoformat(), "percent": 40, "reason": "Waiting on partners."}

    far = as_user(staff).post(url, {**ask, "new_date": "2999-01-01"}, format="json")
    assert far.status_code == 400 and detail(far).startswith("new_date:")
    first = as_user(staff).post(url, ask, format="json")
    assert first.status_code == 201 and first.json()["status"] == "pending_head"
    request_id = first.json()["id"]
    # Only the person who asked withdraws.
    assert as_user(head).post(f"{V1}/extension-requests/{request_id}/withdraw").status_code == 403
    withdrawn = as_user(staff).post(f"{V1}/extension-requests/{request_id}/withdraw")
    assert withdrawn.json()["status"] == "withdrawn"

    second = as_user(staff).post(url, ask, format="json").json()
    decide = f"{V1}/extension-requests/{second['id']}/decide"
    # The asker, made head for the moment, may still not decide on their own request.
    department = Department.objects.get(pk=case.lead_department_id)
    department.head = staff
    department.save(update_fields=["head"])
    own = as_user(staff).post(decide, {"decision": "approve"}, format="json")
    assert own.status_code == 403 and "Separation of duties" in detail(own)
    department.head = head
    department.save(update_fields=["head"])
    # Refusing needs a note; the leader decides only after the head.
    no_note = as_user(head).post(decide, {"decision": "refuse"}, format="json")
    assert no_note.status_code == 400
    early = as_user(leader).post(decide, {"decision": "approve"}, format="json")
    assert early.status_code == 403
    assert as_user(head).post(decide, {"decision": "maybe"}, format="json").status_code == 400
    by_head = as_user(head).post(decide, {"decision": "approve"}, format="json")
    assert by_head.json()["status"] == "pending_leader"
    by_leader = as_user(leader).post(decide, {"decision": "approve"}, format="json")
    assert by_leader.status_code == 200 and by_leader.json()["status"] == "approved"
    assert [d["stage"] for d in by_leader.json()["decisions"]] == ["head", "leader"]
    assert local_date(WorkItem.objects.get(pk=item.pk).due_at) == new_date
    listed = as_user(staff).get(url).json()
    assert [r["status"] for r in listed] == ["withdrawn", "approved"]


# --------------------------------------------------------------------------- orders


def test_orders_are_issued_answered_and_their_step_up_history_shown(
    implementing, demo_users, coordinator, auditor
):
    case, _item = implementing
    staff = demo_users("network_work.staff")
    url = f"{V1}/cases/{case.pk}/orders"
    order = {"colour": "blue", "reason": "Two cycles without a report."}

    assert as_user(staff).post(url, order, format="json").status_code == 403
    assert as_user(auditor).post(url, order, format="json").status_code == 403
    purple = as_user(coordinator).post(url, {**order, "colour": "purple"}, format="json")
    assert purple.status_code == 400 and detail(purple).startswith("colour:")
    issued = as_user(coordinator).post(url, order, format="json")
    assert issued.status_code == 201 and issued.json()["issued_by"] == "coordinator.office"
    blue = SupervisionOrder.objects.get(pk=issued.json()["id"])

    supervision_orders.orders_step_up(now=blue.response_due_at + dt.timedelta(days=1))
    orange = SupervisionOrder.objects.get(stepped_from=blue)
    history = as_user(staff).get(f"{V1}/orders/{blue.pk}/history").json()
    assert [(o["id"], o["colour"], o["status"]) for o in history["chain"]] == [
        (blue.pk, "blue", "stepped_up"),
        (orange.pk, "orange", "open"),
    ]
    assert history["chain"][0]["stepped_to"] == orange.pk
    assert (
        as_user(staff).get(f"{V1}/orders/{orange.pk}/history").json()["chain"] == (history["chain"])
    )

    answer = f"{V1}/orders/{orange.pk}/answer"
    refused = as_user(coordinator).post(answer, {"text": "Done."}, format="json")
    assert refused.status_code == 403 and "lead department" in detail(refused)
    assert as_user(staff).post(answer, {"text": ""}, format="json").status_code == 400
    answered = as_user(staff).post(answer, {"text": "Training resumed."}, format="json")
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    twice = as_user(staff).post(answer, {"text": "Again."}, format="json")
    assert twice.status_code == 400
    assert AuditEvent.objects.filter(verb="supervision_order_answered", case=case).exists()


# --------------------------------------------------------------------------- instructions


def test_a_leader_writes_an_instruction_and_the_lead_department_replies(implementing, demo_users):
    case, _item = implementing
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    leader = case.supervising_leader.holder
    url = f"{V1}/cases/{case.pk}/instructions"

    assert as_user(staff).post(url, {"text": "Hurry."}, format="json").status_code == 403
    far = as_user(leader).post(url, {"text": "x", "due_date": "1900-01-01"}, format="json")
    assert far.status_code == 400 and detail(far).startswith("due_date:")
    written = as_user(leader).post(url, {"text": "Report by Friday."}, format="json")
    assert written.status_code == 201 and written.json()["late"] is False
    reply = f"{V1}/instructions/{written.json()['id']}/reply"
    assert as_user(leader).post(reply, {"text": "Me?"}, format="json").status_code == 403
    replied = as_user(head).post(reply, {"text": "Figures attached."}, format="json")
    assert replied.status_code == 200 and replied.json()["replied_by"] == "network_work.head"
    assert [i["reply"] for i in as_user(staff).get(url).json()] == ["Figures attached."]


# --------------------------------------------------------------------------- appraisal


def test_a_months_ranking_and_scores_each_linked_to_its_audit_event(
    implementing, demo_users, coordinator
):
    case, item = implementing
    period = local_date(timezone.now()).replace(day=1)
    event = AuditEvent.objects.filter(case=case, verb="approved").first()
    grassroots = Department.objects.get(key="grassroots_work", organisation=case.organisation)
    for department, kind, points in (
        (case.lead_department, ScoreKind.ON_TIME, 2),
        (grassroots, ScoreKind.OVERDUE, -1),
    ):
        ScoreEntry.objects.create(
            period=period,
            department=department,
            kind=kind,
            points=points,
            rule_points=points,
            case=case,
            work_item=item,
            event=event,
            note="Judged.",
        )
    month = f"{period:%Y-%m}"
    ranking = as_user(coordinator).get(f"{V1}/appraisal/", {"period": month}).json()
    assert [(r["rank"], r["department"], r["points"]) for r in ranking["ranking"]] == [
        (1, "network_work", 2),
        (2, "grassroots_work", -1),
    ]
    assert ranking["best"] == ["network_work"] and ranking["lagging"] == ["grassroots_work"]
    scores = as_user(coordinator).get(ranking["ranking"][0]["scores_url"]).json()["results"]
    assert [(s["kind"], s["event"]["id"], s["event"]["hash"]) for s in scores] == [
        ("on_time", event.pk, event.hash)
    ]
    # Someone who cannot see the case sees the points, not the case, task or note.
    outsider = demo_users("secretary_organisation")
    hidden = as_user(outsider).get(f"{V1}/appraisal/scores", {"period": month}).json()["results"]
    assert {(s["case"], s["task"], s["note"]) for s in hidden} == {(None, None, "")}
    for bad in ("2027-13", "March", "1900-01"):
        response = as_user(coordinator).get(f"{V1}/appraisal/", {"period": bad})
        assert response.status_code == 400 and detail(response).startswith("period:"), bad
    assert as_user(coordinator).get(f"{V1}/appraisal/scores", {"department": "x"}).status_code == (
        400
    )


# --------------------------------------------------------------------------- ledger and lights


def test_the_ledger_comes_as_a_workbook_and_a_document(implementing, coordinator):
    client = as_user(coordinator)
    xlsx = client.get(f"{V1}/ledger.xlsx")
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"].endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert any(row[0] == "2.2" for row in sheet.iter_rows(values_only=True))
    docx = client.get(f"{V1}/ledger.docx", {"below": "1"})
    assert docx.status_code == 200
    assert "2.2" in " ".join(
        c.text for t in Document(io.BytesIO(docx.content)).tables for c in t._cells
    )
    assert client.get(f"{V1}/ledger.xlsx", {"below": "yes"}).status_code == 400
    assert client.get(f"{V1}/ledger.xlsx", {"organisation": "nowhere"}).status_code == 404


def test_a_cases_lights_and_their_change_history(implementing, demo_users):
    case, item = implementing
    LightChange.objects.create(
        case=case,
        axis=Axis.DEADLINE,
        from_light=Light.GREEN,
        to_light=Light.YELLOW,
        at=timezone.now(),
    )
    body = as_user(demo_users("network_work.staff")).get(f"{V1}/cases/{case.pk}/lights").json()
    assert body["deadline"] in Light.values and body["open_task"]["task"] == item.pk
    assert [(c["axis"], c["from_light"], c["to_light"]) for c in body["history"]] == [
        ("deadline", "green", "yellow")
    ]
    outsider = as_user(demo_users("secretary_organisation"))
    assert outsider.get(f"{V1}/cases/{case.pk}/lights").status_code == 404


# --------------------------------------------------------------------------- reach


def test_a_sibling_federation_gets_404_for_everything_of_anothers(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2)
    users = get_user_model().objects
    beijing = Organisation.objects.get(code="beijing")
    coordinator = users.get(username="beijing.coordinator")
    from workflows.cases import launch as cases_launch

    case = cases_launch.case_launch(
        measure=Measure.objects.get(code="2.2"), by=coordinator, organisation=beijing
    )[0]
    item = walk_by_services(case, until_kind="implement")
    supervision_cycles.feedback_cycles_open(now=timezone.now())
    cycle = FeedbackCycle.objects.get(case=case)
    request = extensions.extension_request(
        item=item,
        user=item.assignee,
        reason="Waiting.",
        new_date=local_date(item.due_at) + dt.timedelta(days=30),
        percent=10,
    )
    order = supervision_orders.order_issue(case=case, by=coordinator, reason="Lagging.")
    instruction = supervision_instructions.instruction_issue(
        case=case, leader=case.supervising_leader.holder, text="Report."
    )
    reads = [
        f"{V1}/cycles/{cycle.pk}/",
        f"{V1}/cycles/{cycle.pk}/consolidation",
        f"{V1}/cases/{case.pk}/extension-requests",
        f"{V1}/cases/{case.pk}/orders",
        f"{V1}/orders/{order.pk}/history",
        f"{V1}/cases/{case.pk}/instructions",
        f"{V1}/cases/{case.pk}/lights",
        f"{V1}/appraisal/?organisation=beijing",
        f"{V1}/appraisal/scores?organisation=beijing",
        f"{V1}/ledger.xlsx?organisation=beijing",
        f"{V1}/ledger.docx?organisation=beijing",
    ]
    writes = [
        (f"{V1}/cycles/{cycle.pk}/inputs", {"text": "x"}),
        (f"{V1}/cycles/{cycle.pk}/report", {"percent": 1, "note": "x"}),
        (f"{V1}/cases/{case.pk}/extension-requests", {"new_date": "2027-01-01", "percent": 1}),
        (f"{V1}/extension-requests/{request.pk}/decide", {"decision": "approve"}),
        (f"{V1}/extension-requests/{request.pk}/withdraw", {}),
        (f"{V1}/cases/{case.pk}/orders", {"reason": "x"}),
        (f"{V1}/orders/{order.pk}/answer", {"text": "x"}),
        (f"{V1}/cases/{case.pk}/instructions", {"text": "x"}),
        (f"{V1}/instructions/{instruction.pk}/reply", {"text": "x"}),
    ]
    for name in ("shanghai.coordinator", "shanghai.network_work.staff", "shanghai.auditor"):
        user = users.filter(username=name).first()
        if user is None:
            continue
        client = as_user(user)
        for url in reads:
            assert client.get(url).status_code == 404, (name, url)
        for url, data in writes:
            assert client.post(url, data, format="json").status_code in (403, 404), (name, url)
        assert client.get(f"{V1}/cycles/").json()["count"] == 0
    sibling = as_user(users.get(username="shanghai.coordinator"))
    for url, data in writes:
        assert sibling.post(url, data, format="json").status_code == 404, url
    # The service itself refuses a sibling's leader, whatever page or route calls it.
    sibling_leader = users.get(username="shanghai.secretary_publicity_network")
    with pytest.raises(PermissionDenied):
        supervision_instructions.instruction_issue(case=case, leader=sibling_leader, text="x")
    # Beijing's own coordinator reads them all.
    own = as_user(coordinator)
    assert all(own.get(url).status_code == 200 for url in reads)


# --------------------------------------------------------------------------- the schema


def test_the_schema_lists_every_supervision_route_with_enums(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/cycles/",
        "/api/v1/cycles/{cycle_id}/",
        "/api/v1/cycles/{cycle_id}/consolidation",
        "/api/v1/cycles/{cycle_id}/inputs",
        "/api/v1/cycles/{cycle_id}/report",
        "/api/v1/cases/{case_id}/extension-requests",
        "/api/v1/extension-requests/{request_id}/decide",
        "/api/v1/extension-requests/{request_id}/withdraw",
        "/api/v1/cases/{case_id}/orders",
        "/api/v1/orders/{order_id}/answer",
        "/api/v1/orders/{order_id}/history",
        "/api/v1/cases/{case_id}/instructions",
        "/api/v1/instructions/{instruction_id}/reply",
        "/api/v1/appraisal/",
        "/api/v1/appraisal/scores",
        "/api/v1/ledger.xlsx",
        "/api/v1/ledger.docx",
        "/api/v1/cases/{case_id}/lights",
    ):
        assert path in paths, path
    components = schema["components"]["schemas"]
    assert components["OrderStatusEnum"]["enum"] == ["open", "answered", "stepped_up"]
    assert components["LightEnum"]["enum"] == ["green", "yellow", "red"]
    assert (
        "examples"
        in paths["/api/v1/cases/{case_id}/orders"]["post"]["requestBody"]["content"][
            "application/json"
        ]
    )
