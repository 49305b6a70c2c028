"""Delivery: real SMTP on loopback, retries through an outage, languages, the daily digest."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from tests.deadline_helpers import beijing
from tests.smtp import free_port, start_smtp
from workflows.common.calendar import due_at_for
from workflows.models import Notification, Profile
from workflows.notifications.delivery import notifications_deliver_due
from workflows.notifications.digest import digest_record_all
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(launch, open_item):
    with time_machine.travel(beijing(2027, 3, 1, 10), tick=False):
        item = open_item(launch("2.2"))
    assert item.due_at == due_at_for(dt.date(2027, 3, 22))
    return item


def smtp_settings(port: int):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5,
        SITE_URL="https://reformflow.example.org",
    )


@pytest.mark.without_handoffs
def test_a_reminder_reaches_a_real_smtp_server_with_both_parts(item):
    port = free_port()
    controller, inbox = start_smtp(port)
    try:
        with smtp_settings(port), time_machine.travel(beijing(2027, 3, 19, 9, 30), tick=False):
            sweep_run(now=beijing(2027, 3, 19, 9, 30))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "network_work.staff@example.org"
    assert message["X-Envelope-To"] == "network_work.staff@example.org"
    assert message["Subject"].startswith("[Reformflow] 2.2 Draft implementation plan: due in 1")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Reformflow-Kind"] == "reminder"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    task_link = f"https://reformflow.example.org/workflows/tasks/{item.pk}/"
    assert task_link in text and f'href="{task_link}"' in html
    assert "22 Mar 2027" in text and "22 Mar 2027" in html
    assert "(Beijing time)" in text and "Asia/Shanghai" not in text
    logged = Notification.objects.get(work_item=item)
    assert (logged.status, logged.attempts) == ("sent", 1)
    assert logged.subject == message["Subject"]


@pytest.mark.without_handoffs
def test_an_smtp_outage_is_retried_with_backoff_then_delivered_exactly_once(item):
    port = free_port()  # nothing listens here yet: the server is down
    first_try = beijing(2027, 3, 19, 9, 30)
    with smtp_settings(port), time_machine.travel(first_try, tick=False):
        result = sweep_run(now=first_try)
    assert (result.delivered, result.failed) == (0, 0)
    logged = Notification.objects.get(work_item=item)
    assert (logged.status, logged.attempts) == ("pending", 1)
    assert "Connection refused" in logged.last_error or "Errno" in logged.last_error
    assert logged.next_attempt_at == first_try + dt.timedelta(minutes=1)

    with smtp_settings(port), time_machine.travel(first_try + dt.timedelta(seconds=61), tick=False):
        sweep_run(now=first_try + dt.timedelta(seconds=61))
    logged.refresh_from_db()
    assert (logged.attempts, logged.next_attempt_at) == (
        2,
        first_try + dt.timedelta(minutes=3, seconds=1),
    )

    controller, inbox = start_smtp(port)  # the server is back
    try:
        with smtp_settings(port):
            for minutes in (2, 4, 5, 30):  # the next sweeps: too early, then due, then idle
                moment = first_try + dt.timedelta(minutes=minutes)
                with time_machine.travel(moment, tick=False):
                    sweep_run(now=moment)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    logged.refresh_from_db()
    assert (logged.status, logged.attempts) == ("sent", 3)


@pytest.mark.without_handoffs
def test_a_message_that_keeps_failing_is_given_up_and_recorded(item, settings):
    settings.EMAIL_BACKEND = "tests.test_mail.AlwaysFailingBackend"
    moment = beijing(2027, 3, 19, 9, 30)
    with time_machine.travel(moment, tick=False):
        sweep_run(now=moment)
    logged = Notification.objects.get(work_item=item)
    from workflows.notifications.delivery import MAX_ATTEMPTS

    for _ in range(MAX_ATTEMPTS):
        moment = logged.next_attempt_at
        notifications_deliver_due(now=moment)
        logged.refresh_from_db()
    assert (logged.status, logged.attempts) == ("failed", MAX_ATTEMPTS)
    assert "SMTPServerDisconnected" in logged.last_error


class AlwaysFailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        import smtplib

        raise smtplib.SMTPServerDisconnected("relay went away")


def test_mail_is_in_the_recipients_language(item, demo_users):
    Profile.objects.filter(user=demo_users("network_work.staff")).update(language="zh-hans")
    moment = beijing(2027, 3, 19, 9, 30)
    with time_machine.travel(moment, tick=False):
        sweep_run(now=moment)
    message = mail.outbox[0]
    assert "2.2 起草实施方案" in message.subject
    assert "1 个工作日后到期" in message.subject
    assert "起草实施方案" in message.body
    html = message.alternatives[0][0]
    assert "起草实施方案" in html


def test_user_text_is_escaped_in_the_html_part(item, demo_users):
    staff = demo_users("network_work.staff")
    staff.first_name = "<script>alert(1)</script>"
    staff.last_name = ""
    staff.save()
    moment = beijing(2027, 3, 19, 9, 30)
    with time_machine.travel(moment, tick=False):
        sweep_run(now=moment)
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.without_handoffs
def test_the_daily_digest_lists_overdue_due_soon_and_approvals(item, launch, open_item, demo_users):
    from workflows.cases.services import task_complete

    staff = demo_users("network_work.staff")
    with time_machine.travel(beijing(2027, 3, 2, 10), tick=False):
        other = open_item(launch("2.3"))
    with time_machine.travel(beijing(2027, 3, 18, 10), tick=False):
        task_complete(item=other, user=staff, note="plan")  # the head's approval, due 25 Mar
    Profile.objects.filter(user=staff).update(notification_mode="digest")
    moment = beijing(2027, 3, 23, 8, 30)  # 2.2's draft is a day overdue
    with time_machine.travel(moment, tick=False):
        # Rung 1 on 2.2 and a reminder of 2.3's approval: the head gets both, the staff
        # member (digest-only) neither.
        sweep_run(now=moment)
        assert sorted((m.to[0], m.extra_headers["X-Reformflow-Kind"]) for m in mail.outbox) == [
            ("network_work.head@example.org", "escalation"),
            ("network_work.head@example.org", "reminder"),
        ]
        mail.outbox.clear()
        created = digest_record_all(now=moment)
        notifications_deliver_due(now=moment)
        again = digest_record_all(now=moment)
    assert again == 0  # one digest per user per day
    digests = {m.to[0]: m for m in mail.outbox}
    assert created == len(digests) >= 2
    staff_digest = digests["network_work.staff@example.org"]
    assert "Daily digest: 1 overdue" in staff_digest.subject
    assert "2.2 Draft implementation plan" in staff_digest.body
    head_digest = digests["network_work.head@example.org"]
    assert "1 due soon, 1 awaiting your approval" in head_digest.subject
    assert "2.3" in head_digest.body
    folded = Notification.objects.get(recipient=staff, kind="escalation")
    assert folded.status == "folded" and folded.digested_at == moment
