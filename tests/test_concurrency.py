"""Two decisions on one task: exactly one wins, the other gets TaskConflict (HTTP 409 in the
API, a message on the pages). The truly concurrent case needs PostgreSQL's row locks."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections

from tests.casework import claim, decide, open_item_of, submit, task_url
from workflows.cases import services
from workflows.models import AuditEvent, WorkItem


def _head_approval(client, demo_users, launch):
    """Case 2.2 with its draft submitted: the head approval is open and assigned to the head."""
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    draft = open_item_of(case)
    claim(client, staff, draft)
    submit(client, staff, draft, "The plan.")
    approval = open_item_of(case)
    assert approval.step.key == "head_approval"
    return case, approval, demo_users("network_work.head")


def _done_head_approvals(case) -> int:
    return WorkItem.objects.filter(case=case, step__key="head_approval", status="done").count()


def test_a_second_approval_of_the_same_task_is_a_conflict(client, demo_users, launch):
    case, approval, head = _head_approval(client, demo_users, launch)
    stale = WorkItem.objects.get(pk=approval.pk)

    services.task_approve(item=approval, user=head, comment="First.")
    with pytest.raises(services.TaskConflict, match="already done by network_work.head"):
        services.task_approve(item=stale, user=head, comment="Second.")

    assert _done_head_approvals(case) == 1
    assert AuditEvent.objects.filter(work_item=approval, verb="approved").count() == 1
    assert open_item_of(case).step.key == "leader_approval"
    assert WorkItem.objects.filter(case=case, step__key="leader_approval").count() == 1


def test_a_second_approval_through_the_page_shows_the_conflict_and_changes_nothing(
    client, demo_users, launch
):
    case, approval, head = _head_approval(client, demo_users, launch)
    assert decide(client, head, approval, "approve").status_code == 302
    events_before = AuditEvent.objects.count()

    response = decide(client, head, approval, "approve")

    assert response.status_code == 302 and response.url == task_url(approval)
    assert [str(m) for m in get_messages(response.wsgi_request)][-1] == (
        "This task is already done by network_work.head; nothing was changed."
    )
    assert AuditEvent.objects.count() == events_before
    assert _done_head_approvals(case) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_on_postgresql_one_wins_one_conflicts(client, demo_users, launch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (set DATABASE_URL to a PostgreSQL database)")
    case, approval, head = _head_approval(client, demo_users, launch)
    barrier = threading.Barrier(2, timeout=10)
    results: list[object] = []

    def approve(label: str) -> None:
        try:
            item = WorkItem.objects.get(pk=approval.pk)
            barrier.wait()
            services.task_approve(item=item, user=head, comment=label)
            results.append("approved")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted on below
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(f"thread {n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()

    assert results.count("approved") == 1, results
    [failure] = [r for r in results if r != "approved"]
    assert isinstance(failure, services.TaskConflict), repr(failure)
    assert _done_head_approvals(case) == 1
    assert AuditEvent.objects.filter(work_item=approval, verb="approved").count() == 1
    assert WorkItem.objects.filter(case=case, step__key="leader_approval").count() == 1
    assert open_item_of(case).step.key == "leader_approval"
