"""Urging (催办): who may urge, the notice, the audit event, and one urge per working day."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from tests.casework import open_item_of
from tests.deadline_helpers import beijing
from workflows.models import AuditEvent, Notification, Urge
from workflows.supervision import instructions, orders, urging

LAUNCHED = beijing(2027, 3, 1, 10)  # a Monday


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def case(launch):
    with at(LAUNCHED):
        return launch("2.2")


def test_one_urge_per_item_per_working_day(case, coordinator, demo_users):
    item = open_item_of(case)
    with at(beijing(2027, 3, 5, 10)):  # Friday
        urge = urging.item_urge(user=coordinator, target="task", item=item, note="Please.")
    event = AuditEvent.objects.get(verb="urged")
    assert event.actor == coordinator and event.case == case and event.reason == "Please."
    assert event.data["target"] == "task" and "network_work.staff" in event.data["to"]
    notices = Notification.objects.filter(kind="urge", case=case)
    assert {n.recipient.username for n in notices} >= {"network_work.staff"}
    assert notices.first().payload["by"]
    # Saturday and Sunday belong to Friday's working day: refused, naming the first urge.
    for moment in (beijing(2027, 3, 5, 16), beijing(2027, 3, 6, 10), beijing(2027, 3, 7, 22)):
        with at(moment), pytest.raises(urging.UrgeRefused) as refused:
            urging.item_urge(user=coordinator, target="task", item=item)
        assert "2027-03-05 10:00" in refused.value.messages[0]
    with at(beijing(2027, 3, 8, 9)):  # Monday: a new working day
        urging.item_urge(user=coordinator, target="task", item=item)
    assert Urge.objects.filter(target_id=item.pk).count() == 2
    assert urge.by == coordinator


def test_only_coordinators_and_the_supervising_leader_urge(case, demo_users, auditor):
    item = open_item_of(case)
    leader = demo_users("secretary_publicity_network")
    with at(beijing(2027, 3, 2, 10)):
        for user in (demo_users("network_work.staff"), demo_users("network_work.head"), auditor):
            with pytest.raises(PermissionDenied):
                urging.item_urge(user=user, target="task", item=item)
        urging.item_urge(user=leader, target="task", item=item)
    assert AuditEvent.objects.filter(verb="urged", actor=leader).count() == 1


def test_supervision_items_are_urged_and_closed_ones_refused(case, coordinator, demo_users):
    leader = demo_users("secretary_publicity_network")
    with at(beijing(2027, 3, 2, 10)):
        order = orders.order_issue(case=case, by=coordinator, reason="Report.")
        instruction = instructions.instruction_issue(
            case=case, leader=leader, text="Brief me.", due_date=dt.date(2027, 3, 10)
        )
        urging.item_urge(user=leader, target="order", item=order)
        urging.item_urge(user=coordinator, target="instruction", item=instruction)
        told = Notification.objects.filter(kind="urge").values_list(
            "recipient__username", flat=True
        )
        assert {"network_work.staff", "network_work.head"} <= set(told)
        instructions.instruction_reply(
            instruction=instruction, user=demo_users("network_work.staff"), text="Done."
        )
    with at(beijing(2027, 3, 3, 10)):
        instruction.refresh_from_db()
        with pytest.raises(urging.UrgeRefused):
            urging.item_urge(user=coordinator, target="instruction", item=instruction)


def test_the_page_button_and_the_api(client, case, coordinator, demo_users):
    item = open_item_of(case)
    with at(beijing(2027, 3, 2, 10)):
        client.force_login(coordinator)
        page = client.get(reverse("workflows:task", args=[item.pk])).content.decode()
        assert reverse("workflows:urge", args=["task", item.pk]) in page
        response = client.post(
            reverse("workflows:urge", args=["task", item.pk]),
            {"note": "Today please.", "next": reverse("workflows:task", args=[item.pk])},
            follow=True,
        )
        page = response.content.decode()
        assert "Urged: the people holding it have been notified." in page
        assert "Urged by" in page and "Today please." in page
        again = client.post(f"/api/v1/urge/task/{item.pk}", {"note": "x"})
        assert (
            again.status_code == 400
            and "one urge per item per working day" in again.content.decode()
        )
        staff = demo_users("network_work.staff")
        client.force_login(staff)
        page = client.get(reverse("workflows:task", args=[item.pk])).content.decode()
        assert "Urged by" in page and reverse("workflows:urge", args=["task", item.pk]) not in page
        assert client.post(f"/api/v1/urge/task/{item.pk}").status_code == 403
        assert client.post("/api/v1/urge/nonsense/1").status_code == 404
    with at(beijing(2027, 3, 3, 10)):
        client.force_login(coordinator)
        created = client.post(f"/api/v1/urge/task/{item.pk}", {"note": "Again."})
        assert created.status_code == 201 and created.json()["target"] == "task"


@pytest.mark.without_handoffs
def test_an_urge_mail_reaches_the_holder_in_their_language(
    case, coordinator, demo_users, mailoutbox
):
    from workflows.notifications.delivery import notifications_deliver_due

    staff = demo_users("network_work.staff")
    staff.profile.language = "zh-hans"
    staff.profile.save()
    with at(beijing(2027, 3, 2, 10)):
        urging.item_urge(user=coordinator, target="task", item=open_item_of(case), note="请尽快。")
        notifications_deliver_due(now=beijing(2027, 3, 2, 10))
    (mail,) = [m for m in mailoutbox if staff.email in m.to]
    assert "催办" in mail.subject and "2.2" in mail.subject
    assert "请尽快。" in mail.body
