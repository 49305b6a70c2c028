"""One rule of reach, one test per defect reproduced in issue 15: reports, appraisal,
reassignment, escalation reach, the ledger's rows and the case resource's candidates.

The world: the national federation (acftu), provinces beijing and shanghai, a city under each,
with every account `make seed` creates (seed_demo --provinces 2 --prefectures 1).
"""

import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.casework import advance, case_url, open_item_of, task_url, walk_by_services
from tests.conftest import DEMO_PASSWORD
from tests.deadline_helpers import beijing as shanghai_time
from workflows.cases import cascade, launch, services
from workflows.demo.accounts import demo_seed
from workflows.models import AuditEvent, Case, Measure, Organisation, Report, ScoreEntry
from workflows.reports import generate
from workflows.reports import services as reports_services
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

LAUNCHED = shanghai_time(2027, 3, 1, 10)


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


def at(moment):
    return time_machine.travel(moment, tick=False)


def launch_in(world, code: str, organisation: str) -> Case:
    """Launch a measure's case in a federation, as that federation's coordinator."""
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


def rendered(report: Report) -> Report:
    report = generate.report_render(report_id=report.pk)
    assert report is not None and report.status == "ready", report and report.error
    return report


# --------------------------------------------------------------------------- reports


def test_a_provincial_leader_reads_no_other_provinces_report_nor_the_national_one(
    world, client, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    case = launch_in(world, "2.2", "beijing")
    walk_by_services(case)
    completion = rendered(Report.objects.get(case=case, kind="completion"))
    national = rendered(reports_services.report_request_programme(by=world("coordinator.office")))
    chairman = world("shanghai.chairman")  # a leader: in the leaders group, of another province

    listed = {row["id"] for row in api_as(chairman).get("/api/v1/reports/").json()["results"]}
    assert completion.pk not in listed and national.pk not in listed
    client.force_login(chairman)
    for report in (completion, national):
        download = reverse("workflows:report_download", args=[report.pk])
        assert client.get(download).status_code == 404
        assert api_as(chairman).get(f"/api/v1/reports/{report.pk}/").status_code == 404
    # The province's own programme report is its leaders' to read; the national one is not.
    own = rendered(reports_services.report_request_programme(by=world("shanghai.coordinator")))
    assert own.organisation.code == "shanghai"
    listed = {row["id"] for row in api_as(chairman).get("/api/v1/reports/").json()["results"]}
    assert listed == {own.pk}
    # A national leader reads the national report and, below it, the provinces' reports.
    national_chairman = api_as(world("chairman"))
    listed = {row["id"] for row in national_chairman.get("/api/v1/reports/").json()["results"]}
    assert {national.pk, own.pk} <= listed


# --------------------------------------------------------------------------- appraisal


def test_appraisal_scores_rankings_and_rebuilds_are_per_federation(world, client):
    with at(LAUNCHED):
        national_case = launch_in(world, "2.2", "acftu")
        province_case = launch_in(world, "2.2", "beijing")
    with at(shanghai_time(2027, 3, 10, 10)):
        advance(client, national_case)  # both drafts on time: one point each
        advance(client, province_case)
    national_dept = national_case.lead_department
    province_dept = province_case.lead_department
    appraisal = reverse("workflows:appraisal")
    with at(shanghai_time(2027, 4, 1, 10)):
        # Another province's coordinator rebuilds neither the national month nor beijing's.
        client.force_login(world("shanghai.coordinator"))
        for code in ("acftu", "beijing"):
            refused = client.post(appraisal, {"period": "2027-03", "organisation": code})
            assert refused.status_code in (403, 404)
        assert not ScoreEntry.objects.exists()
        client.force_login(world("beijing.coordinator"))
        done = client.post(appraisal, {"period": "2027-03", "organisation": "beijing"})
        assert done.status_code == 302
        assert set(ScoreEntry.objects.values_list("department", flat=True)) == {province_dept.pk}
        client.force_login(world("coordinator.office"))
        client.post(appraisal, {"period": "2027-03"})
    rebuilt = AuditEvent.objects.filter(verb="appraisal_rebuilt").order_by("pk")
    assert [(e.actor_name, e.data["organisation"]) for e in rebuilt] == [
        ("beijing.coordinator", "beijing"),
        ("coordinator.office", "acftu"),
    ]
    assert set(ScoreEntry.objects.values_list("department", flat=True)) == {
        national_dept.pk,
        province_dept.pk,
    }

    def ranked(page) -> list[str]:
        rows = page.content.decode().split("<tbody>")[1].split("</tbody>")[0]
        return [
            pk
            for pk in (national_dept.pk, province_dept.pk)
            if reverse("workflows:appraisal_department", args=[pk]) in rows
        ]

    # Departments are ranked within their own federation; the parent may look below.
    client.force_login(world("coordinator.office"))
    assert ranked(client.get(appraisal, {"period": "2027-03"})) == [national_dept.pk]
    below = client.get(appraisal, {"period": "2027-03", "organisation": "beijing"})
    assert ranked(below) == [province_dept.pk]
    client.force_login(world("beijing.network_work.staff"))
    assert ranked(client.get(appraisal, {"period": "2027-03"})) == [province_dept.pk]
    # A sibling province's staff opens neither beijing's ranking nor its department's page.
    client.force_login(world("shanghai.network_work.staff"))
    assert (
        client.get(appraisal, {"period": "2027-03", "organisation": "beijing"}).status_code == 404
    )
    department_page = reverse("workflows:appraisal_department", args=[province_dept.pk])
    assert client.get(department_page, {"period": "2027-03"}).status_code == 404
    bulletin = client.get(reverse("workflows:bulletin"), {"organisation": "beijing"})
    assert bulletin.status_code == 404


# --------------------------------------------------------------------------- reassignment


def test_a_task_is_reassigned_only_to_people_who_could_act_on_it_in_its_federation(world, client):
    case = launch_in(world, "2.2", "beijing")
    draft = open_item_of(case)
    api = api_as(world("coordinator.office"))  # national: beijing is in its subtree
    url = f"/api/v1/tasks/{draft.pk}/reassign"
    for outsider in ("shanghai.network_work.staff", "network_work.staff", "auditor", "admin"):
        response = api.post(url, {"to": outsider, "reason": "Cover."}, format="json")
        assert response.status_code == 400, (outsider, response.json())
    draft.refresh_from_db()
    assert draft.assignee_id is None
    sibling = world("shanghai.network_work.staff")
    client.force_login(sibling)
    assert client.get(case_url(case)).status_code == 404
    assert client.post(task_url(draft), {"action": "claim"}).status_code == 404

    # The picker lists only the people of that step, in the case's federation, and searches.
    picker = api.get(f"/api/v1/tasks/{draft.pk}/assignees").json()
    assert [row["username"] for row in picker["results"]] == [
        "beijing.network_work.head",
        "beijing.network_work.staff",
    ]
    searched = api.get(f"/api/v1/tasks/{draft.pk}/assignees", {"q": "staff"}).json()
    assert [row["username"] for row in searched["results"]] == ["beijing.network_work.staff"]
    client.force_login(world("beijing.coordinator"))
    page = client.get(reverse("workflows:reassign", args=[draft.pk]), {"q": "head"})
    assert page.status_code == 200
    listed = [user.username for user in page.context["candidates"]]
    assert listed == ["beijing.network_work.head"]

    staff = world("beijing.network_work.staff")
    ok = api.post(url, {"to": staff.username, "reason": "Cover."}, format="json")
    assert ok.status_code == 200 and ok.json()["assignee"] == staff.username

    # An approval handed to the person who produced the work is refused at once, with why.
    services.task_complete(item=open_item_of(case), user=staff, note="The plan.")
    approval = open_item_of(case)
    assert approval.produced_by_id == staff.pk
    response = api.post(
        f"/api/v1/tasks/{approval.pk}/reassign",
        {"to": staff.username, "reason": "Cover."},
        format="json",
    )
    assert response.status_code == 400
    assert "Separation of duties" in response.json()["detail"]
    form = client.post(
        reverse("workflows:reassign", args=[approval.pk]),
        {"to": staff.username, "reason": "Cover."},
    )
    assert form.status_code == 200
    assert "Separation of duties" in " ".join(form.context["form"].errors["to"])
    approval.refresh_from_db()
    assert approval.assignee.username == "beijing.network_work.head"


# --------------------------------------------------------------------------- escalation


def test_rung_3_recipients_open_the_case_its_task_and_its_supervision_page(world, client):
    with at(LAUNCHED):
        case = launch_in(world, "2.2", "beijing")
    moment = shanghai_time(2027, 4, 2, 10)  # every rung has fired by then
    with at(moment):
        sweep_run(now=moment)
    item = open_item_of(case)
    pages = [
        case_url(case),
        task_url(item),
        reverse("workflows:supervision", args=[case.pk]),
    ]
    with at(moment):
        for username in ("beijing.chairman", "beijing.first_secretary"):
            user = world(username)
            assert item.notifications.filter(recipient=user, rung=3).exists()
            client.force_login(user)
            assert [client.get(url).status_code for url in pages] == [200, 200, 200]
            # Read-only: they may not act on the draft.
            client.post(task_url(item), {"action": "claim"})
            assert open_item_of(case).assignee_id is None
        client.force_login(world("shanghai.chairman"))
        assert [client.get(url).status_code for url in pages] == [404, 404, 404]


# --------------------------------------------------------------------------- the ledger


def test_each_federations_ledger_shows_its_own_case_and_a_wider_one_names_the_federation(
    world, client
):
    import openpyxl

    national = launch_in(world, "3.1", "acftu")
    cascade.case_cascade(case=national, by=world("coordinator.office"), organisations=["beijing"])
    child = Case.objects.get(parent_case=national)
    walk_by_services(child, until_kind="implement")  # the newest case, and further on
    national_step = open_item_of(national).step.title
    child_step = open_item_of(child).step.title
    assert national_step != child_step

    def rows_for(code, **params):
        client.force_login(world("coordinator.office"))
        response = client.get(reverse("workflows:ledger", args=["xlsx"]), params)
        assert response.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        header = [cell.value for cell in sheet[2]]
        rows = [
            dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=3, values_only=True)
        ]
        return [row for row in rows if row["No."] == code]

    [row] = rows_for("3.1")
    assert row["Next steps"].startswith(national_step)
    assert row["Federation"] == Organisation.national().title_en
    [row] = rows_for("3.1", organisation="beijing")
    assert row["Next steps"].startswith(child_step)
    assert row["Federation"] == child.organisation.title_en
    spanning = rows_for("3.1", below="1")
    assert sorted((r["Federation"], r["Next steps"].split(" (")[0]) for r in spanning) == sorted(
        [
            (Organisation.national().title_en, national_step),
            (child.organisation.title_en, child_step),
        ]
    )


# --------------------------------------------------------------------------- the case resource


def test_the_case_resources_tasks_name_their_candidates_without_a_query_per_task(world):
    api = api_as(world("coordinator.office"))
    short = launch_in(world, "2.2", "beijing")
    long = launch_in(world, "2.3", "beijing")
    reworked = launch_in(world, "2.4", "beijing")

    def detail(case):
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/v1/cases/{case.pk}/")
        assert response.status_code == 200
        return len(queries), response.json()["tasks"]

    _count, [draft] = detail(short)
    assert draft["candidates"] == ["beijing.network_work.staff"]  # the queue's staff
    walk_by_services(long, until_kind="implement")
    # The same steps, with the plan returned once: two tasks more, not a query more.
    approval = walk_by_services(reworked, until_kind="approve")
    services.task_return(item=approval, user=approval.assignee, reason="Add a budget.")
    walk_by_services(reworked, until_kind="implement")
    count, tasks = detail(long)
    more_count, more_tasks = detail(reworked)
    assert (len(tasks), len(more_tasks)) == (4, 6)
    assert [t["candidates"] for t in tasks[:3]] == [[], [], []]  # done: nobody to act
    assert tasks[3]["candidates"] == [open_item_of(long).assignee.username]
    assert more_count == count
