"""Cascading at scale (issue 20): children made in batches are the same rows as one launched
through viewflow's start, the queries do not grow with the number of children, and a cascade to
many federations runs as a background job whose progress the case's readers follow."""

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from viewflow.workflow.models import Task

from tests.casework import walk_by_services
from tests.conftest import DEMO_PASSWORD
from tests.test_cascade import T0, api_as, national_case
from workflows.cases import cascade, cascade_jobs, cascade_run, launch, launch_many
from workflows.cases.cascade import cascade_deadline_cap
from workflows.demo.accounts import demo_seed
from workflows.models import (
    AuditEvent,
    CascadeJob,
    Case,
    CaseLight,
    Notification,
    Organisation,
    OrganisationLevel,
    WorkItem,
)
from workflows.organisations.services import organisation_create

pytestmark = pytest.mark.django_db

PROVINCES = ["beijing", "guangdong", "shanghai"]


@pytest.fixture
def world(catalogue):
    """Three provincial federations with a city each, with accounts (as tests/test_cascade.py)."""
    demo_seed(password=DEMO_PASSWORD, provinces=3, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _rows(case: Case) -> dict:
    """What a launch wrote for a case, without ids, times and the organisation's own rows."""
    tasks = list(Task.objects.filter(process=case).order_by("pk"))
    position = {t.pk: i for i, t in enumerate(tasks)}
    item = WorkItem.objects.get(case=case)
    skip = {"task", "case", "department", "leader_role", "assignee"}
    return {
        "case": (
            case.status,
            str(case.flow_class),
            case.parent_case_id,
            case.deadline_cap,
            case.current_step_id,
            case.is_open,
            case.launched_by_id,
            case.percent_complete,
        ),
        "tasks": [
            (
                t.flow_task.name,
                t.flow_task_type,
                t.status,
                str(t.token),
                t.data,
                t.owner is not None,
                t.finished is not None,
                t.started is not None,
                [position[p.pk] for p in t.previous.all()],
            )
            for t in tasks
        ],
        "item": {
            k: v
            for k, v in item.__dict__.items()
            if k.removesuffix("_id") not in skip and not k.startswith("_")
        },
        "item_routes": (
            item.department.key,
            item.leader_role_id is not None,
            item.for_head,
            item.assignee_id is not None,
        ),
        "audit": [
            (e.verb, e.actor_id, {k: v for k, v in e.data.items() if k not in ("organisation",)})
            for e in AuditEvent.objects.filter(case=case).order_by("pk")
        ],
        "light": list(
            CaseLight.objects.filter(case=case).values(
                "deadline", "progress", "working_days_left", "expected_percent", "actual_percent"
            )
        ),
        "notices": sorted(
            (n.kind, n.status, n.channel, n.payload["event"], n.dedupe_key.split(":")[1])
            for n in Notification.objects.filter(case=case)
        ),
    }


def test_a_batch_writes_the_rows_viewflow_start_writes_and_the_case_runs_to_its_end(world, frozen):
    national = national_case(world)
    by = world("coordinator.office")
    cap = cascade_deadline_cap(national)
    one, created = launch.case_launch(
        measure=national.measure,
        by=by,
        organisation=Organisation.objects.get(code="beijing"),
        parent_case=national,
        deadline_cap=cap,
    )
    assert created
    [batched] = launch_many.cases_launch_many(
        measure=national.measure,
        by=by,
        organisations=[Organisation.objects.get(code="shanghai")],
        parent_case=national,
        deadline_cap=cap,
    )
    batched = Case.objects.get(pk=batched.pk)
    assert _rows(batched) == _rows(one)
    # A real MeasureFlow process: its tasks are done through the services to the end.
    assert walk_by_services(batched) is None
    batched.refresh_from_db()
    assert not batched.is_open
    assert not WorkItem.objects.filter(case=batched, status="open").exists()


def _provinces(count: int) -> list[str]:
    national, level = Organisation.national(), OrganisationLevel.objects.get(key="provincial")
    return [
        organisation_create(
            code=f"p{n:02}", title_en=f"Province {n}", level=level, parent=national
        ).code
        for n in range(count)
    ]


def test_queries_per_child_are_bounded(world, frozen):
    codes = _provinces(15)
    by = world("coordinator.office")

    def queries(targets) -> int:
        case = national_case(world, code="3.1")
        with CaptureQueriesContext(connection) as captured:
            result = cascade.case_cascade(case=case, by=by, organisations=targets)
        assert len(result.created) == len(targets)
        Case.objects.filter(parent_case=case).update(is_open=False)
        Case.objects.filter(pk=case.pk).update(is_open=False)
        return len(captured)

    five, ten = queries(codes[:5]), queries(codes[5:15])
    # Batched: a constant number of queries, not some forty per child as one by one.
    print(f"queries: 5 children {five}, 10 children {ten}")
    assert (ten - five) / 5 <= 1, (five, ten)


def test_a_level_cascade_runs_as_a_job_with_progress_and_a_retry_adds_no_child(
    world, frozen, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(cascade_jobs, "CASCADE_INLINE_MAX", 2)
    monkeypatch.setattr(cascade, "CASCADE_BATCH", 2)
    national = national_case(world)
    by = world("coordinator.office")
    with django_capture_on_commit_callbacks(execute=True):
        job = cascade_jobs.cascade_request(case=national, by=by, level="provincial")
    assert isinstance(job, CascadeJob)
    job.refresh_from_db()
    assert (job.state, job.total, job.done, job.failed) == ("done", 3, 3, 0)
    assert job.finished_at is not None
    children = Case.objects.filter(parent_case=national)
    assert sorted(children.values_list("organisation__code", flat=True)) == PROVINCES
    verbs = list(AuditEvent.objects.filter(case=national).values_list("verb", flat=True))
    assert verbs.count("cascade_job_started") == verbs.count("cascade_job_finished") == 1
    # Batches of two: two case_cascaded events, one per batch.
    assert verbs.count("case_cascaded") == 2

    # A retry (the worker died after the children were made): nothing is made twice.
    CascadeJob.objects.filter(pk=job.pk).update(state="running", done=0, finished_at=None)
    again = cascade_run.cascade_job_run(job_id=job.pk)
    assert (again.state, again.done) == ("done", 3)
    assert children.count() == 3
    assert AuditEvent.objects.filter(case=national, verb="case_cascaded").count() == 2
    # A finished job is not run again.
    assert cascade_run.cascade_job_run(job_id=job.pk) is None


def test_pages_and_api_answer_at_once_and_show_progress_to_the_case_readers(
    world, frozen, client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(cascade_jobs, "CASCADE_INLINE_MAX", 2)
    national = national_case(world)
    client.force_login(world("coordinator.office"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("workflows:cascade", args=[national.pk]), {"level": "provincial"}
        )
    job = CascadeJob.objects.get(case=national)
    assert response.status_code == 302
    assert response.url == reverse("workflows:cascade_job", args=[job.pk])
    page = client.get(response.url)
    assert page.status_code == 200
    assert "3 of 3 federations have their case." in page.content.decode()
    # The level by its title, never its key; the parent federation by name.
    level_title = OrganisationLevel.objects.get(key="provincial").title_en
    assert f"Level: {level_title}" in page.content.decode()
    assert "Level: provincial" not in page.content.decode()
    assert 'http-equiv="refresh"' not in page.content.decode()  # finished: no more refreshing

    second = national_case(world, code="2.2")
    api = api_as(world("coordinator.office"))
    # Queued but not run (no commit in this test's transaction): the progress shows 0 of 3.
    answer = api.post(
        reverse("api:case-cascade", args=[second.pk]), {"level": "provincial"}, format="json"
    )
    assert answer.status_code == 202
    location = answer.headers["Location"]
    body = api.get(location).json()
    assert (body["state"], body["total"], body["done"]) == ("queued", 3, 0)
    waiting = client.get(reverse("workflows:cascade_job", args=[body["id"]]))
    assert 'http-equiv="refresh"' in waiting.content.decode()

    # A province's coordinator does not see the national case, nor its jobs.
    outsider = world("beijing.coordinator")
    assert api_as(outsider).get(location).status_code == 404
    client.force_login(outsider)
    assert client.get(reverse("workflows:cascade_job", args=[job.pk])).status_code == 404
