"""Notification manners: quiet hours (22:00-07:00 Beijing time), the per-person daily cap and
each user's choice of immediate mail or the digest."""

import pytest
import time_machine
from django.core import mail

from tests.deadline_helpers import beijing
from workflows.models import Notification, Profile
from workflows.notifications.delivery import notifications_deliver_due
from workflows.notifications.digest import digest_record_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(launch, open_item):
    with time_machine.travel(beijing(2027, 3, 1, 10), tick=False):
        return open_item(launch("2.2"))


def record(item, user, n: int, moment):
    """n reminders for one user, due to be sent at `moment`."""
    return [
        Notification.objects.create(
            dedupe_key=f"test:{item.pk}:{i}:{user.pk}",
            recipient=user,
            kind="reminder",
            case=item.case,
            work_item=item,
            rung=1,
            due_at=item.due_at,
            next_attempt_at=moment,
        )
        for i in range(n)
    ]


def deliver(moment):
    with time_machine.travel(moment, tick=False):
        return notifications_deliver_due(now=moment)


@pytest.mark.without_handoffs
def test_no_mail_in_quiet_hours_it_is_held_until_seven(item, demo_users):
    staff = demo_users("network_work.staff")
    [row] = record(item, staff, 1, beijing(2027, 3, 19, 21, 55))
    result = deliver(beijing(2027, 3, 19, 22, 30))
    row.refresh_from_db()
    assert (result.sent, result.held, len(mail.outbox)) == (0, 1, 0)
    assert row.status == "pending" and row.next_attempt_at == beijing(2027, 3, 20, 7, 0)
    assert deliver(beijing(2027, 3, 20, 6, 59)).sent == 0  # still quiet
    assert deliver(beijing(2027, 3, 20, 7, 0)).sent == 1
    row.refresh_from_db()
    assert row.status == "sent" and mail.outbox[0].to == [staff.email]


@pytest.mark.without_handoffs
def test_quiet_hours_are_a_setting(item, demo_users, settings):
    settings.NOTIFICATION_QUIET_HOURS = ""
    record(item, demo_users("network_work.staff"), 1, beijing(2027, 3, 19, 23))
    assert deliver(beijing(2027, 3, 19, 23, 30)).sent == 1


@pytest.mark.without_handoffs
def test_past_the_daily_cap_reminders_fold_into_the_digest(item, demo_users, settings):
    settings.NOTIFICATION_DAILY_CAP = 2
    staff = demo_users("network_work.staff")
    record(item, staff, 3, beijing(2027, 3, 19, 9))
    result = deliver(beijing(2027, 3, 19, 9, 1))
    assert (result.sent, result.folded) == (2, 1)
    assert len(mail.outbox) == 2
    folded = Notification.objects.get(recipient=staff, status="folded")
    # A new day: the cap starts again.
    Notification.objects.create(
        dedupe_key="next-day",
        recipient=staff,
        kind="reminder",
        case=item.case,
        work_item=item,
        rung=0,
        due_at=item.due_at,
        next_attempt_at=beijing(2027, 3, 22, 9),
    )
    assert deliver(beijing(2027, 3, 22, 9, 1)).sent == 1
    # The digest takes the folded message in.
    with time_machine.travel(beijing(2027, 3, 23, 8, 30), tick=False):
        digest_record_all(now=beijing(2027, 3, 23, 8, 30))
    folded.refresh_from_db()
    assert folded.digested_at == beijing(2027, 3, 23, 8, 30)


@pytest.mark.without_handoffs
def test_a_digest_only_user_gets_no_immediate_mail(item, demo_users):
    staff = demo_users("network_work.staff")
    # Chosen after the message was recorded: delivery still honours it.
    record(item, staff, 1, beijing(2027, 3, 19, 9))
    Profile.objects.filter(user=staff).update(notification_mode="digest")
    result = deliver(beijing(2027, 3, 19, 9, 1))
    assert (result.sent, result.folded, len(mail.outbox)) == (0, 1, 0)


def test_an_auditor_chooses_the_digest_for_themselves_and_the_change_is_audited(client, demo_users):
    from django.urls import reverse

    from workflows.models import AuditEvent

    auditor = demo_users("auditor")
    client.force_login(auditor)

    response = client.post(reverse("workflows:preferences"), {"notification_mode": "digest"})
    again = client.post(reverse("workflows:preferences"), {"notification_mode": "digest"})

    assert response.status_code == again.status_code == 302
    assert Profile.objects.get(user=auditor).notification_mode == "digest"
    # One event for the one change; saving the same choice again changes nothing.
    (event,) = AuditEvent.objects.filter(verb="notification_mode_changed")
    assert (event.actor, event.data) == (auditor, {"from": "immediate", "to": "digest"})
