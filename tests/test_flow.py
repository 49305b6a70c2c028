"""Measure cases run end to end through the real task pages: every template variant, rework,
reassignment and launching."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from tests.casework import (
    advance,
    case_url,
    claim,
    decide,
    login_as,
    open_item_of,
    submit,
    task_url,
    walk_to_end,
)
from workflows.cases.flow import MeasureFlow
from workflows.models import AuditEvent, Case, Measure, Profile, ProgressUpdate, WorkItem

OUTCOME_OF_KIND = {
    "submit": "submitted",
    "approve": "approved",
    "implement": "completed",
    "review": "approved",
    "sign_off": "approved",
}

STANDARD = [
    "draft_plan",
    "head_approval",
    "leader_approval",
    "implementation",
    "acceptance_review",
    "sign_off",
]


def _last_message(response) -> str:
    """The newest flash message (earlier ones may wait from other users' requests)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("code", "expected_steps"),
    [
        pytest.param("2.2", STANDARD, id="2.2-standard"),
        pytest.param(
            "1.4",
            STANDARD[:3] + ["secretariat_approval"] + STANDARD[3:],
            id="1.4-secretariat-approval",
        ),
        pytest.param(
            "2.1",
            STANDARD[:3]
            + ["implementation_phase_1", "midterm_review", "implementation_phase_2"]
            + STANDARD[4:],
            id="2.1-two-phases",
        ),
        pytest.param(
            "3.7",
            STANDARD[:2] + ["fund_review_committee_review"] + STANDARD[2:],
            id="3.7-fund-review-before-leader",
        ),
        pytest.param(
            "1.5",
            STANDARD[:4] + ["fund_review_committee_review"] + STANDARD[4:],
            id="1.5-fund-review-after-implementation",
        ),
    ],
)
def test_each_template_variant_runs_to_the_end_through_the_pages(
    client, demo_users, launch, code, expected_steps
):
    case = launch(code)
    template = list(case.measure.steps.order_by("position"))
    assert [step.key for step in template] == expected_steps

    done = walk_to_end(client, case)

    case.refresh_from_db()
    assert not case.is_open
    assert case.percent_complete == 100
    assert case.current_step is None
    items = list(WorkItem.objects.filter(case=case).order_by("created_at", "pk"))
    assert [item.pk for item in items] == [item.pk for item in done]
    assert [item.step.key for item in items] == expected_steps
    assert [item.status for item in items] == ["done"] * len(template)
    assert [item.outcome for item in items] == [OUTCOME_OF_KIND[s.kind] for s in template]
    assert all(item.completed_by_id and item.finished_at for item in items)
    # Each implementation phase got one progress report, then was declared done at 100 %.
    implementations = [item for item in items if item.kind == "implement"]
    assert ProgressUpdate.objects.filter(case=case).count() == len(implementations)
    assert all(item.percent == 100 for item in implementations)
    # By design the flow waits in completion_report until the reports work renders one.
    pending = Task.objects.filter(process=case).exclude(status=STATUS.DONE)
    assert [(task.flow_task, task.status) for task in pending] == [
        (MeasureFlow.completion_report, STATUS.NEW)
    ]
    assert AuditEvent.objects.filter(case=case, verb="case_completed").count() == 1

    client.force_login(demo_users("coordinator.office"))
    page = client.get(case_url(case)).content.decode()
    assert "Completed" in page and "100%" in page


def test_a_step_routed_to_a_queue_waits_unassigned_until_a_staff_member_claims_it(
    client, demo_users, launch
):
    case = launch("2.2")
    item = open_item_of(case)
    staff = demo_users("network_work.staff")
    assert item.step.key == "draft_plan" and item.assignee is None

    client.force_login(staff)
    assert task_url(item) in client.get(reverse("workflows:queue")).content.decode()
    assert task_url(item) not in client.get(reverse("workflows:inbox")).content.decode()

    response = claim(client, staff, item)

    assert response.url == task_url(item)
    item.refresh_from_db()
    assert item.assignee == staff and item.task.owner == staff
    assert task_url(item) in client.get(reverse("workflows:inbox")).content.decode()
    assert AuditEvent.objects.filter(work_item=item, verb="task_claimed").count() == 1


def test_progress_moves_the_case_percentage_but_only_completion_reaches_the_next_step(
    client, demo_users, launch
):
    case = launch("2.2")
    for _ in range(3):  # draft, head approval, leader approval
        advance(client, case)
    item = open_item_of(case)
    staff = demo_users("network_work.staff")
    claim(client, staff, item)
    case.refresh_from_db()
    before = case.percent_complete

    response = client.post(
        task_url(item), {"action": "progress", "percent": 40, "note": "Pilot running."}
    )

    assert response.status_code == 302 and response.url == task_url(item)
    case.refresh_from_db()
    item.refresh_from_db()
    assert item.is_open and item.percent == 40
    assert before < case.percent_complete < 100
    assert case.current_step.key == "implementation"
    page = client.get(case_url(case)).content.decode()
    assert "Pilot running." in page and "40%" in page


# --------------------------------------------------------------------------- rework


def _submitted_draft(client, demo_users, launch, note="Plan v1: build the database."):
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    draft = open_item_of(case)
    claim(client, staff, draft)
    submit(client, staff, draft, note)
    return case, staff, open_item_of(case)


def test_a_return_with_reason_sends_a_new_draft_to_the_original_submitter(
    client, demo_users, launch
):
    case, staff, approval = _submitted_draft(client, demo_users, launch)
    head = demo_users("network_work.head")
    assert approval.step.key == "head_approval" and approval.assignee == head

    response = decide(client, head, approval, "return", "Add a budget and a timetable.")

    assert response.status_code == 302 and response.url == case_url(case)
    approval.refresh_from_db()
    assert (approval.status, approval.outcome) == ("done", "returned")
    assert approval.decision_note == "Add a budget and a timetable."
    rework = open_item_of(case)
    assert rework.step.key == "draft_plan" and rework.assignee == staff
    case.refresh_from_db()
    assert case.current_step.key == "draft_plan" and case.rag == "amber"
    event = AuditEvent.objects.get(work_item=approval, verb="returned")
    assert event.reason == "Add a budget and a timetable." and event.actor == head

    client.force_login(staff)
    inbox = client.get(reverse("workflows:inbox")).content.decode()
    assert task_url(rework) in inbox

    response = submit(client, staff, rework, "Plan v2: with budget and timetable.")
    assert response.status_code == 302
    client.force_login(head)
    page = client.get(case_url(case)).content.decode()
    first = page.index("Plan v1: build the database.")
    reason = page.index("Add a budget and a timetable.")
    second = page.index("Plan v2: with budget and timetable.")
    assert first < reason < second
    drafts = WorkItem.objects.filter(case=case, step__key="draft_plan").order_by("created_at")
    assert [(d.decision_note, d.outcome) for d in drafts] == [
        ("Plan v1: build the database.", "submitted"),
        ("Plan v2: with budget and timetable.", "submitted"),
    ]
    second_approval = open_item_of(case)
    assert second_approval.step.key == "head_approval" and second_approval.pk != approval.pk
    assert second_approval.produced_by == staff


def test_a_return_without_reason_shows_the_error_at_the_comment_and_changes_nothing(
    client, demo_users, launch
):
    case, _staff, approval = _submitted_draft(client, demo_users, launch)
    head = demo_users("network_work.head")
    login_as(client, head)  # the login is an audit event of its own
    events_before = AuditEvent.objects.count()

    response = decide(client, head, approval, "return", "   ")

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "comment": ["Give the reason for returning the work."]
    }
    html = response.content.decode()
    errored = html.split('<div class="rf-field rf-field-error">')[1].split("</div>\n  </div>")[0]
    assert 'for="id_comment"' in errored
    assert "Give the reason for returning the work." in errored
    approval.refresh_from_db()
    case.refresh_from_db()
    assert approval.is_open and approval.outcome == ""
    assert case.current_step.key == "head_approval" and case.rag == "green"
    assert AuditEvent.objects.count() == events_before
    assert WorkItem.objects.filter(case=case).count() == 2


# --------------------------------------------------------------------------- reassignment


def test_a_coordinator_reassigns_with_a_reason_and_the_reason_is_audited(
    client, demo_users, launch, coordinator
):
    case, _staff, approval = _submitted_draft(client, demo_users, launch)
    # A second member of the department stands in: someone who could act on the approval
    # (the first staff member produced the plan, so they may not decide on it).
    deputy = get_user_model().objects.create_user("network_work.deputy")
    Profile.objects.create(user=deputy, organisation=case.organisation)
    case.lead_department.staff.add(deputy)
    client.force_login(coordinator)

    response = client.post(
        reverse("workflows:reassign", args=[approval.pk]),
        {"to": "network_work.deputy", "reason": "The head is on leave until June."},
    )

    assert response.status_code == 302 and response.url == task_url(approval)
    assert _last_message(response) == "Reassigned."
    approval.refresh_from_db()
    assert approval.assignee == deputy and approval.task.owner == deputy
    event = AuditEvent.objects.get(work_item=approval, verb="task_reassigned")
    assert event.reason == "The head is on leave until June."
    assert event.actor == coordinator
    assert event.data == {"from": "network_work.head", "to": "network_work.deputy"}
    page = client.get(case_url(case)).content.decode()
    assert "The head is on leave until June." in page


def test_a_reassignment_without_reason_is_refused(client, demo_users, launch, coordinator):
    _case, _staff, approval = _submitted_draft(client, demo_users, launch)
    client.force_login(coordinator)

    response = client.post(
        reverse("workflows:reassign", args=[approval.pk]),
        {"to": "network_work.head", "reason": ""},
    )

    # The picker again, the error next to the field it is about.
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    approval.refresh_from_db()
    assert approval.assignee == demo_users("network_work.head")
    assert not AuditEvent.objects.filter(verb="task_reassigned").exists()


# --------------------------------------------------------------------------- launching


def test_a_coordinator_launches_one_measure_then_all_and_a_second_launch_creates_nothing(
    client, coordinator
):
    client.force_login(coordinator)
    url = reverse("workflows:launch")
    assert client.get(url).status_code == 200

    response = client.post(url, {"measure": "2.2"})
    assert response.status_code == 302 and response.url == reverse("workflows:dashboard")
    assert _last_message(response) == "1 case launched."
    assert list(Case.objects.values_list("measure__code", flat=True)) == ["2.2"]

    response = client.post(url, {"all_measures": "on"})
    assert _last_message(response) == "29 cases launched, 1 already open."

    response = client.post(url, {"all_measures": "on"})
    assert _last_message(response) == "0 cases launched, 30 already open."
    assert Case.objects.count() == 30
    assert Case.objects.filter(is_open=True).values("measure").distinct().count() == 30
    assert WorkItem.objects.filter(status="open").count() == 30
    assert set(Case.objects.values_list("launched_by", flat=True)) == {coordinator.pk}


def test_the_launch_page_asks_for_a_measure_when_none_is_chosen(client, coordinator):
    client.force_login(coordinator)

    # What a browser posts when nothing is chosen (the box unticked is simply absent).
    response = client.post(reverse("workflows:launch"), {"measure": ""})

    assert response.status_code == 200
    assert "measure" in response.context["form"].errors
    assert not Case.objects.exists()


def test_launch_measures_all_is_idempotent(catalogue, capsys):
    call_command("launch_measures", "--all")
    first = capsys.readouterr().out
    call_command("launch_measures", "--all")
    second = capsys.readouterr().out

    assert first.splitlines()[-1] == "30 launched, 0 already open"
    assert second.splitlines()[-1] == "0 launched, 30 already open"
    assert Case.objects.count() == 30 == Measure.objects.count()
    assert Case.objects.values("measure").distinct().count() == 30
    assert AuditEvent.objects.filter(verb="case_launched", actor__isnull=True).count() == 30


def test_launch_measures_refuses_an_unknown_code_and_launches_nothing(catalogue):
    with pytest.raises(CommandError, match="Unknown measure code"):
        call_command("launch_measures", "2.2", "9.9")
    assert not Case.objects.exists()


def test_launch_measures_needs_codes_or_all(catalogue):
    with pytest.raises(CommandError, match="--all"):
        call_command("launch_measures")
