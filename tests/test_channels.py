"""Notices on WeCom and DingTalk, tested against a real HTTP receiver on loopback that checks
each platform's documented format (tests/channel_receiver.py), with e-mail on a real SMTP server.

One row per message and channel; a wrong signature, a 5xx, a timeout or an hour-long outage is
retried with backoff and recorded, never lost, never sent twice, and never holds up the other
channels.
"""

import datetime as dt
import logging
from urllib.parse import quote_plus

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from tests.channel_receiver import DINGTALK, WECOM, PlatformReceiver
from tests.deadline_helpers import beijing
from tests.smtp import free_port, start_smtp
from workflows.common.calendar import due_at_for
from workflows.models import ChannelSettings, Department, Notification, Profile
from workflows.notifications.channels.dingtalk import dingtalk_sign
from workflows.notifications.delivery import notifications_deliver_due
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

ROBOT_KEY = "wecom-robot-key-8f14e45f"
DING_TOKEN = "dingtalk-token-c9f0f895"
DING_SECRET = "SECa87ff679a2f3e71d9181a67b7542122c"
REMINDER_AT = beijing(2027, 3, 19, 9, 30)  # 2.2's draft is due on 22 March: 1 working day left
TASK_LINK = "https://reformflow.example.org/workflows/tasks/{}/"


@pytest.fixture
def receiver(settings):
    receiver = PlatformReceiver(free_port()).start()
    receiver.wecom_robot_keys.add(ROBOT_KEY)
    receiver.dingtalk_robots[DING_TOKEN] = DING_SECRET
    settings.WECOM_API_BASE = receiver.url
    settings.DINGTALK_API_BASE = receiver.url
    settings.CHANNEL_HTTP_TIMEOUT = 1.0
    settings.SITE_URL = "https://reformflow.example.org"
    yield receiver
    receiver.stop()


@pytest.fixture
def item(launch, open_item):
    with time_machine.travel(beijing(2027, 3, 1, 10), tick=False):
        item = open_item(launch("2.2"))
    assert item.due_at == due_at_for(dt.date(2027, 3, 22))
    return item


@pytest.fixture
def staff(demo_users):
    return demo_users("network_work.staff")


def choose(user, *channels, **addresses) -> ChannelSettings:
    row, _ = ChannelSettings.objects.update_or_create(
        user=user, defaults={"channels": list(channels), **addresses}
    )
    return row


def every_channel(user) -> ChannelSettings:
    return choose(
        user,
        "email",
        "wecom",
        "dingtalk",
        wecom_robot_key=ROBOT_KEY,
        dingtalk_robot_token=DING_TOKEN,
        dingtalk_robot_secret=DING_SECRET,
    )


def sweep(moment):
    with time_machine.travel(moment, tick=False):
        return sweep_run(now=moment)


def deliver(moment):
    with time_machine.travel(moment, tick=False):
        return notifications_deliver_due(now=moment)


def rows(**filters) -> dict[str, Notification]:
    return {n.channel: n for n in Notification.objects.filter(**filters)}


def smtp_settings(port: int):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5,
    )


# --------------------------------------------------------------------------- formats


@pytest.mark.without_handoffs
def test_a_reminder_goes_out_on_every_channel_the_person_chose(receiver, item, staff, capsys):
    every_channel(staff)
    port = free_port()
    controller, inbox = start_smtp(port)
    try:
        with smtp_settings(port):
            result = sweep(REMINDER_AT)
    finally:
        controller.stop()

    assert result.reminders == 3 and result.delivered == 3
    logged = rows(work_item=item)
    assert set(logged) == {"email", "wecom", "dingtalk"}
    assert {n.status for n in logged.values()} == {"sent"}
    assert len({n.dedupe_key for n in logged.values()}) == 1  # one message, three channels
    # E-mail, on a real SMTP server, as before.
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == staff.email

    [wecom] = receiver.accepted(WECOM, "/cgi-bin/webhook/send")
    assert wecom.query == {"key": ROBOT_KEY}
    content = wecom.body["markdown"]["content"]
    assert content.startswith("### 2.2 Draft implementation plan: due in 1 working day")
    assert "> **Measure:** 2.2 " in content
    assert "> **Step:** Draft implementation plan" in content
    assert "> **Due:** 22 Mar 2027, 18:00" in content
    assert content.endswith(f"[Open the task]({TASK_LINK.format(item.pk)})")

    [ding] = receiver.accepted(DINGTALK)
    assert set(ding.query) == {"access_token", "timestamp", "sign"}  # the receiver checked sign
    assert ding.query["timestamp"] == str(round(REMINDER_AT.timestamp() * 1000))
    assert ding.body["markdown"]["title"] == logged["dingtalk"].subject
    assert ding.body["markdown"]["text"] == content  # the same card on both platforms
    assert logged["wecom"].subject == (
        "2.2 Draft implementation plan: due in 1 working day (22 Mar 2027)"
    )
    # For the closing note: what the receivers logged (keys masked).
    email = inbox.messages[0]
    headers = "\n".join(f"{k}: {email[k]}" for k in ("From", "To", "Subject", "X-Reformflow-Kind"))
    print(f"\n--- SMTP receiver ---\n{headers}\n\n{email.get_body(('plain',)).get_content()}")
    print("\n--- receiver log ---\n" + receiver.text())
    assert "***" in receiver.text() and ROBOT_KEY not in receiver.text()


@pytest.mark.without_handoffs
def test_the_card_is_in_the_recipients_language(receiver, item, staff):
    Profile.objects.filter(user=staff).update(language="zh-hans")
    choose(staff, "wecom", wecom_robot_key=ROBOT_KEY)
    sweep(REMINDER_AT)
    [wecom] = receiver.accepted(WECOM)
    content = wecom.body["markdown"]["content"]
    print("\n--- the card in Chinese ---\n" + content)
    assert "2.2 起草实施方案" in content and "1 个工作日后到期" in content
    assert (
        "> **步骤：** 起草实施方案" in content and "> **办理时限：** 2027年3月22日 18:00" in content
    )
    assert "打开任务" in content
    assert mail.outbox == []  # WeCom only, as chosen


def test_the_documented_dingtalk_signature():
    # An independent example (the dingding crate's test): timestamp 1700000000000, secret
    # "secret", URL-encoded as the query carries it.
    signature = dingtalk_sign("secret", "1700000000000")
    assert quote_plus(signature) == "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"


@pytest.mark.without_handoffs
def test_a_person_reads_wecom_through_the_app_and_the_token_is_cached(
    receiver, item, staff, settings, launch, open_item
):
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = (
        "ww-corp",
        "corp-secret-1679091c",
        "1000002",
    )
    receiver.wecom_corp = ("ww-corp", "corp-secret-1679091c", 1000002)
    choose(staff, "wecom", wecom_user_id="ZhangSan")
    with time_machine.travel(beijing(2027, 3, 2, 10), tick=False):
        open_item(launch("2.3"))  # a second task of the same person, due a day later
    sweep(REMINDER_AT)  # reminders of both tasks: two messages, one token

    sent = receiver.accepted(WECOM, "/cgi-bin/message/send")
    assert len(sent) == 2
    assert {e.body["touser"] for e in sent} == {"ZhangSan"}
    assert {e.body["agentid"] for e in sent} == {1000002}
    assert len(receiver.requests(WECOM, "/cgi-bin/gettoken")) == 1  # cached in between
    assert receiver.accepted(WECOM, "/cgi-bin/gettoken")[0].query["corpsecret"] == (
        "corp-secret-1679091c"
    )

    # Three days later the token has expired (7200 s): a new one, then the cache again.
    sweep(beijing(2027, 3, 22, 9, 30))
    sweep(beijing(2027, 3, 22, 9, 31))
    assert len(receiver.requests(WECOM, "/cgi-bin/gettoken")) == 2

    # WeCom expires the token early: the app fetches a new one and sends once.
    for token in receiver.tokens:
        receiver.tokens[token] = 0
    before = len(receiver.accepted(WECOM, "/cgi-bin/message/send"))
    moment = beijing(2027, 3, 22, 9, 40)
    Notification.objects.create(
        dedupe_key="test:after-early-expiry",
        channel="wecom",
        address=staff.channel_settings,
        recipient=staff,
        kind="reminder",
        case=item.case,
        work_item=item,
        rung=0,
        due_at=item.due_at,
        next_attempt_at=moment,
    )
    deliver(moment)
    assert len(receiver.requests(WECOM, "/cgi-bin/gettoken")) == 3
    expired = [e for e in receiver.requests(WECOM, "/cgi-bin/message/send") if not e.accepted]
    assert [e.answer["errcode"] for e in expired] == [42001]
    assert len(receiver.accepted(WECOM, "/cgi-bin/message/send")) == before + 1
    assert not Notification.objects.filter(channel="wecom").exclude(status="sent").exists()


# --------------------------------------------------------------------------- failures


def test_a_wrong_dingtalk_signature_is_retried_recorded_and_never_logged(
    receiver, item, staff, caplog
):
    settings_row = choose(
        staff, "dingtalk", dingtalk_robot_token=DING_TOKEN, dingtalk_robot_secret="SECwrong0000"
    )
    caplog.set_level(logging.DEBUG)
    sweep(REMINDER_AT)
    row = Notification.objects.get(work_item=item, channel="dingtalk")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "/robot/send: errcode 310000: sign not match"
    assert row.next_attempt_at == REMINDER_AT + dt.timedelta(minutes=1)
    [refused] = receiver.requests(DINGTALK)
    assert refused.answer == {"errcode": 310000, "errmsg": "sign not match"}
    for secret in ("SECwrong0000", DING_TOKEN):
        assert secret not in caplog.text and secret not in row.last_error

    # The admin puts the right secret in; the next attempt goes through, once.
    settings_row.dingtalk_robot_secret = DING_SECRET
    settings_row.save()
    deliver(REMINDER_AT + dt.timedelta(seconds=30))  # not due yet
    for minutes in (1, 2, 3, 10):
        deliver(REMINDER_AT + dt.timedelta(minutes=minutes))
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(receiver.accepted(DINGTALK)) == 1 and len(receiver.requests(DINGTALK)) == 2


@pytest.mark.without_handoffs
def test_a_5xx_is_retried_with_backoff_and_never_blocks_the_other_channels(receiver, item, staff):
    every_channel(staff)
    receiver.modes[WECOM] = "error"
    sweep(REMINDER_AT)
    logged = rows(work_item=item)
    assert (logged["email"].status, logged["dingtalk"].status) == ("sent", "sent")
    assert len(mail.outbox) == 1 and len(receiver.accepted(DINGTALK)) == 1
    wecom = logged["wecom"]
    assert (wecom.status, wecom.attempts, wecom.last_error) == (
        "pending",
        1,
        "/cgi-bin/webhook/send: HTTP 503",
    )
    deliver(REMINDER_AT + dt.timedelta(minutes=1))  # still failing: 2 minutes until the next
    wecom.refresh_from_db()
    assert (wecom.attempts, wecom.next_attempt_at) == (2, REMINDER_AT + dt.timedelta(minutes=3))

    receiver.modes[WECOM] = "ok"
    for minutes in (2, 3, 4, 30):
        deliver(REMINDER_AT + dt.timedelta(minutes=minutes))
    wecom.refresh_from_db()
    assert (wecom.status, wecom.attempts) == ("sent", 3)
    assert len(receiver.accepted(WECOM)) == 1
    assert len(mail.outbox) == 1 and len(receiver.accepted(DINGTALK)) == 1  # nothing twice


def test_a_slow_receiver_times_out_and_the_message_goes_once_it_answers(receiver, item, staff):
    every_channel(staff)
    receiver.modes[DINGTALK] = "slow"  # answers after 2.5 s; the client waits 1 s
    receiver.slow_seconds = 2.5
    sweep(REMINDER_AT)
    logged = rows(work_item=item)
    assert (logged["email"].status, logged["wecom"].status) == ("sent", "sent")
    ding = logged["dingtalk"]
    assert (ding.status, ding.attempts) == ("pending", 1)
    assert ding.last_error == "/robot/send: no answer within 1 s"

    receiver.modes[DINGTALK] = "ok"
    for minutes in (1, 2, 5):
        deliver(REMINDER_AT + dt.timedelta(minutes=minutes))
    ding.refresh_from_db()
    assert (ding.status, ding.attempts) == ("sent", 2)
    assert len(receiver.accepted(DINGTALK)) == 1


@pytest.mark.without_handoffs
def test_a_channel_down_for_an_hour_delivers_each_message_exactly_once_when_it_is_back(
    receiver, item, staff, demo_users
):
    head = demo_users("network_work.head")
    every_channel(staff)
    choose(head, "email", "wecom", wecom_robot_key=ROBOT_KEY)
    receiver.stop()  # WeCom and DingTalk are unreachable: connections are refused
    rung_1 = beijing(2027, 3, 22, 18, 5)  # the staff member and the head hear of the overdue
    sweep(REMINDER_AT)
    sweep(rung_1)
    waiting = Notification.objects.filter(channel__in=["wecom", "dingtalk"])
    assert waiting.count() == 5 and set(waiting.values_list("status", flat=True)) == {"pending"}
    assert "ConnectError" in waiting.filter(attempts__gt=0).first().last_error
    assert len(mail.outbox) == 3  # e-mail went out meanwhile: reminder, rung 1 to both

    for minute in range(1, 61):  # an hour of sweeps while the platforms stay down
        deliver(rung_1 + dt.timedelta(minutes=minute))
    attempts = list(waiting.values_list("attempts", flat=True))
    assert max(attempts) <= 7  # backoff: 1, 2, 4 … minutes, not one attempt a minute

    receiver.start()  # back, on the same port
    for minute in range(61, 200):
        deliver(rung_1 + dt.timedelta(minutes=minute))
    assert set(waiting.values_list("status", flat=True)) == {"sent"}
    assert len(receiver.accepted(WECOM)) == 3  # staff reminder, staff rung 1, head rung 1
    assert len(receiver.accepted(DINGTALK)) == 2  # staff reminder, staff rung 1
    assert len(receiver.log) == 5  # nothing reached them twice
    sweep(rung_1 + dt.timedelta(hours=4))
    assert len(receiver.log) == 5 and len(mail.outbox) == 3


def test_a_dingtalk_robot_secured_by_keywords_is_not_signed(receiver, item, staff):
    receiver.dingtalk_robots["keyword-robot"] = None
    choose(staff, "dingtalk", dingtalk_robot_token="keyword-robot")
    sweep(REMINDER_AT)
    [ding] = receiver.accepted(DINGTALK)
    assert ding.query == {"access_token": "keyword-robot"}


@pytest.mark.without_handoffs
def test_a_message_with_no_address_on_its_channel_goes_by_email(receiver, item, staff):
    choose(staff, "dingtalk")  # chosen, but no robot anywhere
    sweep(REMINDER_AT)
    assert set(rows(work_item=item)) == {"email"} and len(mail.outbox) == 1
    assert receiver.log == []


# --------------------------------------------------------------------------- choices


def test_choices_by_person_then_department_then_default(receiver, item, staff, demo_users):
    head = demo_users("network_work.head")
    network = Department.objects.get(key="network_work", organisation__parent__isnull=True)
    ChannelSettings.objects.create(department=network, channels=["email", "dingtalk"])
    ChannelSettings.objects.create(
        channels=["wecom"],
        wecom_robot_key=ROBOT_KEY,
        dingtalk_robot_token=DING_TOKEN,
        dingtalk_robot_secret=DING_SECRET,
    )  # the default, with the office's robots
    choose(head, "email")  # the head wants e-mail only
    sweep(beijing(2027, 3, 22, 18, 5))  # rung 1: the staff member and the head
    staff_rows = {n.channel for n in Notification.objects.filter(recipient=staff)}
    head_rows = {n.channel for n in Notification.objects.filter(recipient=head)}
    # The staff member follows the department (e-mail and DingTalk, through the default
    # robot since the department has none of its own); the head their own choice.
    assert (staff_rows, head_rows) == ({"email", "dingtalk"}, {"email"})
    assert len(receiver.accepted(DINGTALK)) == 1


def test_a_department_robot_gets_one_post_for_everyone_it_reaches(receiver, item, demo_users):
    network = Department.objects.get(key="network_work", organisation__parent__isnull=True)
    robot = ChannelSettings.objects.create(
        department=network, channels=["wecom"], wecom_robot_key=ROBOT_KEY
    )
    rung_1 = beijing(2027, 3, 22, 18, 5)
    sweep(rung_1)  # rung 1 reaches the staff member and the head: both read the group
    sweep(rung_1 + dt.timedelta(minutes=1))  # a second sweep records nothing new
    [post] = Notification.objects.filter(channel="wecom")
    assert post.address == robot and post.dedupe_key.endswith(f":g{robot.pk}")
    [wecom] = receiver.accepted(WECOM)
    assert "> **For:** Network Work Department" in wecom.body["markdown"]["content"] or (
        f"> **For:** {network.title_en}" in wecom.body["markdown"]["content"]
    )


def test_a_secret_can_come_from_the_environment(receiver, item, staff, monkeypatch):
    monkeypatch.setenv("RF_TEST_WECOM_KEY", ROBOT_KEY)
    choose(staff, "wecom", wecom_robot_key="env:RF_TEST_WECOM_KEY")
    sweep(REMINDER_AT)
    [wecom] = receiver.accepted(WECOM)
    assert wecom.query == {"key": ROBOT_KEY}
    monkeypatch.delenv("RF_TEST_WECOM_KEY")
    Notification.objects.update(status="pending", next_attempt_at=REMINDER_AT)
    deliver(REMINDER_AT)
    row = Notification.objects.get(channel="wecom")
    assert row.last_error == (
        "the WeCom robot key: the environment variable RF_TEST_WECOM_KEY is not set"
    )


# --------------------------------------------------------------------------- the admin


def test_the_admin_masks_secrets_keeps_them_when_left_blank_and_never_audits_them(
    client, demo_users, staff
):
    from workflows.models import AuditEvent

    client.force_login(demo_users("admin"))
    add = reverse("admin:workflows_channelsettings_add")
    response = client.post(
        add,
        {
            "user": staff.pk,
            "channels": ["wecom", "dingtalk"],
            # A pasted webhook address keeps only its credential.
            "wecom_robot_key": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}",
            "dingtalk_robot_token": DING_TOKEN,
            "dingtalk_robot_secret": DING_SECRET,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = ChannelSettings.objects.get(user=staff)
    assert (row.wecom_robot_key, row.dingtalk_robot_token, row.dingtalk_robot_secret) == (
        ROBOT_KEY,
        DING_TOKEN,
        DING_SECRET,
    )

    change = reverse("admin:workflows_channelsettings_change", args=[row.pk])
    page = client.get(change).content.decode()
    for secret in (ROBOT_KEY, DING_TOKEN, DING_SECRET):
        assert secret not in page
    assert "••••••••" in page
    listing = client.get(reverse("admin:workflows_channelsettings_changelist")).content.decode()
    assert ROBOT_KEY not in listing and "WeCom, DingTalk" in listing

    # Blank secret fields keep what is stored; a ticked box removes it.
    response = client.post(
        change,
        {"user": staff.pk, "channels": ["dingtalk"], "wecom_robot_key_clear": "on"},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.channels, row.wecom_robot_key, row.dingtalk_robot_secret) == (
        ["dingtalk"],
        "",
        DING_SECRET,
    )

    trail = " ".join(
        str(e.data) for e in AuditEvent.objects.filter(verb__in=["admin_added", "admin_changed"])
    )
    assert "[redacted]" in trail and "channels" in trail
    for secret in (ROBOT_KEY, DING_TOKEN, DING_SECRET):
        assert secret not in trail


def test_one_default_and_auditors_never_see_the_credentials(client, demo_users):
    ChannelSettings.objects.create(channels=["email"])
    client.force_login(demo_users("admin"))
    response = client.post(reverse("admin:workflows_channelsettings_add"), {"channels": ["wecom"]})
    assert response.status_code == 200
    assert ChannelSettings.objects.filter(is_default=True).count() == 1

    auditor = demo_users("auditor")
    auditor.is_staff = True
    auditor.save()
    client.force_login(auditor)
    listing = client.get(reverse("admin:workflows_channelsettings_changelist"))
    assert listing.status_code == 403
