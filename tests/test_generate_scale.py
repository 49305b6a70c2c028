"""The scale generator writes consistent rows: pages, services and the sweep work on them."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from workflows.cases import selectors, services
from workflows.models import Case, Organisation, WorkItem
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db


def test_generate_scale_creates_organisations_users_and_cases_that_the_services_can_move(
    demo_users, launch
):
    national_case = launch("3.1")
    out = io.StringIO()
    call_command("generate_scale", "--organisations", "3", "--overdue-share", "0.5", stdout=out)
    assert "3 organisations, 117 users, 90 cases" in out.getvalue()
    orgs = Organisation.objects.filter(code__startswith="scale-")
    assert orgs.count() == 3 and {o.level.key for o in orgs} == {"provincial"}
    assert all(o.path == f"{o.parent.path}{o.pk}/" for o in orgs)
    cases = Case.objects.filter(organisation__in=orgs)
    assert cases.count() == 90
    # Each province's 3.1 case hangs under the national 3.1 case, as a cascade would put it.
    assert set(cases.filter(measure__code="3.1").values_list("parent_case", flat=True)) == {
        national_case.pk
    }
    open_cases = cases.filter(is_open=True)
    # Every open case has exactly one open task, on its current step, with a due date.
    for case in open_cases:
        item = WorkItem.objects.get(case=case, status="open")
        assert item.step_id == case.current_step_id and item.due_at is not None
    assert WorkItem.objects.filter(case__in=cases).count() > 90

    # A generated approval task can be decided through the normal service and flow.
    item = (
        WorkItem.objects.filter(case__in=open_cases, status="open", kind="approve", for_head=True)
        .select_related("department__head", "case")
        .first()
    )
    assert item is not None
    head = item.department.head
    assert item in selectors.work_item_list_inbox(head)
    services.task_approve(item=item, user=head, comment="fine")
    item.case.refresh_from_db()
    assert item.case.current_step.position > item.step.position

    # The sweep handles the generated overdue tasks.
    result = sweep_run(deliver=False)
    assert result.escalations > 0


def test_generate_scale_history_writes_a_sound_chain_cycles_notifications_and_scores(
    demo_users, launch
):
    from workflows.audit.trail import audit_verify
    from workflows.models import AuditEvent, FeedbackCycle, Notification, ScoreEntry

    launch("3.1")
    before = AuditEvent.objects.count()
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    out = io.StringIO()
    call_command(
        "generate_scale",
        "--organisations",
        "3",
        "--history",
        "--history-months",
        "3",
        "--history-events",
        "4000",
        stdout=out,
    )
    assert "history:" in out.getvalue()
    # The trail grew by at least the events asked for, and the chain is still sound.
    assert AuditEvent.objects.count() - before >= 4000
    check = audit_verify()
    assert check.ok, check.problem
    # Events are in time order after the ones already there.
    times = list(
        AuditEvent.objects.filter(pk__gt=last).order_by("pk").values_list("created_at", flat=True)
    )
    assert times == sorted(times)
    assert AuditEvent.objects.filter(verb="feedback_cycle_opened").exists()
    assert FeedbackCycle.objects.filter(status="submitted").exists()
    assert FeedbackCycle.objects.filter(status="missed").exists()
    assert Notification.objects.filter(kind="feedback").exists()
    # The real scoring scored the months from the trail.
    assert ScoreEntry.objects.exists()
    # The pages read the history: the ledger lists the missed cycles (it once failed on them).
    client = Client()
    client.force_login(demo_users("coordinator.office"))
    for url in ("/workflows/ledger.xlsx", "/api/v1/ledger.xlsx?below=1", "/workflows/desk/audit/"):
        assert client.get(url).status_code == 200, url
