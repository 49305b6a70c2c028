"""Extension requests never stick (issue 15, Deliver 7): a head's own request goes to the
supervising leader, the requester can withdraw, and a pending request ends with its task.

Measure 2.2 (lead: network_work; supervising leader: secretary_publicity_network), launched
Mon 1 Mar 2027: its draft is due Mon 22 Mar 18:00.
"""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from tests.casework import advance, open_item_of
from tests.deadline_helpers import beijing
from workflows.common.calendar import due_at_for
from workflows.models import AuditEvent, ExtensionRequest

pytestmark = pytest.mark.django_db

LAUNCHED = beijing(2027, 3, 1, 10)
ASKED = beijing(2027, 3, 19, 10)


@pytest.fixture
def case(launch):
    with time_machine.travel(LAUNCHED, tick=False):
        return launch("2.2")


def post_page(client, user, case, data, moment):
    with time_machine.travel(moment, tick=False):
        client.force_login(user)
        return client.post(reverse("workflows:supervision", args=[case.pk]), data, follow=True)


def page_messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def request_extension(client, user, case, moment=ASKED):
    return post_page(
        client,
        user,
        case,
        {
            "action": "request_extension",
            "new_date": "2027-04-09",
            "percent": 40,
            "reason": "The survey data arrive late.",
        },
        moment,
    )


def test_a_heads_own_request_goes_to_the_supervising_leader(client, case, demo_users):
    head = demo_users("network_work.head")
    leader = demo_users("secretary_publicity_network")
    request_extension(client, head, case)
    request = ExtensionRequest.objects.get()
    # The head cannot decide on their own request, so it waits for the leader, not the head.
    assert request.status == "pending_leader"
    asked = AuditEvent.objects.get(verb="extension_requested")
    assert asked.data["status"] == "pending_leader"
    with time_machine.travel(beijing(2027, 3, 19, 11), tick=False):
        client.force_login(leader)
        page = client.get(reverse("workflows:supervision", args=[case.pk])).content.decode()
    assert 'value="decide_extension"' in page
    post_page(
        client,
        leader,
        case,
        {"action": "decide_extension", "request_id": request.pk, "decision": "approve"},
        beijing(2027, 3, 19, 12),
    )
    request.refresh_from_db()
    assert request.status == "approved"
    assert open_item_of(case).due_at == due_at_for(dt.date(2027, 4, 9))


def test_the_requester_withdraws_a_pending_request(client, case, demo_users):
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    request_extension(client, staff, case)
    request = ExtensionRequest.objects.get()
    with time_machine.travel(beijing(2027, 3, 19, 11), tick=False):
        page = client.get(reverse("workflows:supervision", args=[case.pk])).content.decode()
    assert 'value="withdraw_extension"' in page
    withdraw = {"action": "withdraw_extension", "request_id": request.pk}
    # Only the person who asked withdraws.
    response = post_page(client, head, case, withdraw, beijing(2027, 3, 19, 11))
    assert "Only the person who asked can withdraw" in page_messages(response)
    request.refresh_from_db()
    assert request.status == "pending_head"

    response = post_page(client, staff, case, withdraw, beijing(2027, 3, 19, 12))
    assert "The request is withdrawn." in page_messages(response)
    request.refresh_from_db()
    assert request.status == "withdrawn" and request.decided_at is not None
    event = AuditEvent.objects.get(verb="extension_withdrawn")
    assert (event.actor, event.case, event.data["request"]) == (staff, case, request.pk)
    assert "Withdrawn" in response.content.decode()
    # Nothing is pending any more: the head has nothing to decide, and a new request may go in.
    response = post_page(
        client,
        head,
        case,
        {"action": "decide_extension", "request_id": request.pk, "decision": "approve"},
        beijing(2027, 3, 19, 13),
    )
    assert "This request is withdrawn" in page_messages(response)
    request_extension(client, staff, case, beijing(2027, 3, 19, 14))
    assert ExtensionRequest.objects.filter(status="pending_head").count() == 1


def test_a_pending_request_lapses_when_its_task_ends(client, case, demo_users):
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    request_extension(client, staff, case)
    request = ExtensionRequest.objects.get()
    draft = open_item_of(case)
    # The staff submit the draft after all: the request ends with the task it was about.
    with time_machine.travel(beijing(2027, 3, 19, 15), tick=False):
        advance(client, case)
    request.refresh_from_db()
    assert request.status == "lapsed" and request.decided_at is not None
    lapsed = AuditEvent.objects.get(verb="extension_lapsed")
    assert (lapsed.case, lapsed.work_item_id, lapsed.data["request"]) == (
        case,
        draft.pk,
        request.pk,
    )
    # It was recorded with the submission, in the same transaction.
    submitted = AuditEvent.objects.get(verb="submitted")
    assert lapsed.pk == submitted.pk + 1
    response = post_page(
        client,
        head,
        case,
        {"action": "decide_extension", "request_id": request.pk, "decision": "approve"},
        beijing(2027, 3, 19, 16),
    )
    assert "This request is lapsed" in page_messages(response)
    assert open_item_of(case).step.key != draft.step.key
