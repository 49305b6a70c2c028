"""A notice at every hand-off (issue 17 part 3): through the notification log, to a real SMTP
server on loopback, in the recipient's language, once per hand-off."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from tests.casework import claim, decide, open_item_of, routed_user, submit
from tests.smtp import free_port, start_smtp
from workflows.cases import services
from workflows.models import Notification, NotificationKind, Profile
from workflows.notifications import handoffs
from workflows.notifications.delivery import notifications_deliver_due
from workflows.supervision import extensions, instructions
from workflows.supervision import orders as supervision_orders

PDF = b"%PDF-1.4\n" + b"plan " * 40 + b"\n%%EOF\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def smtp():
    port = free_port()
    controller, inbox = start_smtp(port)
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5,
        SITE_URL="https://reformflow.example.org",
        NOTIFICATION_QUIET_HOURS="",
        NOTIFICATION_DAILY_CAP=100,
    ):
        yield inbox
    controller.stop()


def _deliver(inbox):
    """Send what is due; return the mails received since the last call."""
    before = len(inbox.messages)
    notifications_deliver_due(now=timezone.now() + dt.timedelta(seconds=1))
    return inbox.messages[before:]


def _show(message):
    """One mail as text (pytest -s prints them: the closing note quotes one of each kind)."""
    text = message.get_body(("plain",)).get_content()
    print(f"\n----- To: {message['To']}\nSubject: {message['Subject']}\n\n{text}")


def _events(**filters):
    return sorted(
        n.payload["event"]
        for n in Notification.objects.filter(kind=NotificationKind.HANDOFF, **filters)
    )


def test_every_task_hand_off_reaches_smtp_once_with_measure_and_step(
    client, demo_users, launch, media, smtp
):
    staff = demo_users("network_work.staff")
    case = launch("2.2")
    draft = open_item_of(case)
    # Launch: the draft is assigned to, or queued for, the department's staff.
    mails = _deliver(smtp)
    assert mails and all("2.2" in m["Subject"] for m in mails)
    assert all("Draft implementation plan" in m["Subject"] for m in mails)
    _show(mails[0])
    if draft.assignee_id is None:
        claim(client, staff, draft)
    response = submit(
        client, staff, draft, "The plan.", [SimpleUploadedFile("p.pdf", PDF, "application/pdf")]
    )
    assert response.status_code == 302
    approval = open_item_of(case)
    head = routed_user(approval)
    (waiting,) = [m for m in _deliver(smtp) if m["To"] == head.email]
    assert waiting["Subject"].strip().startswith("[Reformflow] Waiting for your decision: 2.2 ")
    assert "Department head approves the plan" in waiting["Subject"]
    assert f"https://reformflow.example.org/workflows/tasks/{approval.pk}/" in (
        waiting.get_body(("plain",)).get_content()
    )
    _show(waiting)

    decide(client, head, approval, "return", "Add the budget.")
    (returned,) = [m for m in _deliver(smtp) if m["To"] == staff.email]
    assert returned["Subject"].strip().startswith("[Reformflow] Returned to you: 2.2 ")
    assert "Add the budget." in returned.get_body(("plain",)).get_content()
    assert "Add the budget." in returned.get_body(("html",)).get_content()
    _show(returned)

    redo = open_item_of(case)
    submit(client, staff, redo, "The plan, with the budget.")
    approval = open_item_of(case)
    _deliver(smtp)
    decide(client, head, approval, "approve", "Good.")
    decided = [m for m in _deliver(smtp) if "Your work was approved" in m["Subject"]]
    assert [m["To"] for m in decided] == [staff.email]
    _show(decided[0])

    # The same hand-off recorded again (a retry, a double click) is one notice.
    rows = Notification.objects.filter(kind=NotificationKind.HANDOFF).count()
    assert handoffs.work_decided(item=approval.__class__.objects.get(pk=approval.pk)) == 1
    assert handoffs.task_opened(item=open_item_of(case)) >= 1
    assert Notification.objects.filter(kind=NotificationKind.HANDOFF).count() == rows
    assert _deliver(smtp) == []
    assert {"awaiting_decision", "returned", "decided"} <= set(_events())


def test_a_chinese_speaking_users_hand_off_mail_is_in_chinese(
    client, demo_users, launch, media, smtp
):
    staff = demo_users("network_work.staff")
    Profile.objects.filter(user=staff).update(language="zh-hans")
    case = launch("2.2")
    draft = open_item_of(case)
    if draft.assignee_id is None:
        claim(client, staff, draft)
    submit(client, staff, draft, "方案")
    approval = open_item_of(case)
    head = routed_user(approval)
    _deliver(smtp)
    decide(client, head, approval, "return", "请补充预算。")
    (mail,) = [m for m in _deliver(smtp) if m["To"] == staff.email]
    subject = mail["Subject"].strip()
    text = mail.get_body(("plain",)).get_content()
    assert subject.startswith("[Reformflow] 已退回给您：2.2 ")  # a full-width colon
    assert case.measure.title_zh in subject and "起草实施方案" in subject
    assert "举措：" in text and "环节：" in text and "理由： 请补充预算。" in text
    assert "Dear" not in text and "Open the task" not in text
    # The due date in the Chinese style with the zone in words; no ASCII full stop in Chinese.
    assert "北京时间" in text and "Asia/Shanghai" not in text and "年" in text
    assert "已退回给您." not in text
    _show(mail)


def test_extension_orders_and_instructions_notify_their_people(
    client, demo_users, launch, media, smtp
):
    staff = demo_users("network_work.staff")
    head = demo_users("network_work.head")
    case = launch("2.2")
    draft = open_item_of(case)
    if draft.assignee_id is None:
        claim(client, staff, draft)
    _deliver(smtp)
    day = (draft.due_at + dt.timedelta(days=10)).date()
    request = extensions.extension_request(
        item=draft, user=staff, reason="Waiting for the survey.", new_date=day, percent=40
    )
    (asked,) = _deliver(smtp)
    assert asked["To"] == head.email
    assert "Extension request waiting for your decision" in asked["Subject"]
    _show(asked)
    extensions.extension_decide(request=request, user=head, approve=False, note="Not needed.")
    (answer,) = _deliver(smtp)
    assert answer["To"] == staff.email
    assert "Your extension request was refused: 2.2" in answer["Subject"]
    assert "Not needed." in answer.get_body(("plain",)).get_content()
    _show(answer)

    coordinator = demo_users("coordinator.office")
    supervision_orders.order_issue(case=case, by=coordinator, reason="Late plan.", colour="orange")
    orders = _deliver(smtp)
    assert head.email in [m["To"] for m in orders]
    assert all(
        "2.2" in m["Subject"] and "Draft implementation plan" in m["Subject"] for m in orders
    )
    _show(orders[0])
    leader = case.supervising_leader.holder
    instructions.instruction_issue(case=case, leader=leader, text="Report by Friday.")
    (instruction,) = _deliver(smtp)
    assert instruction["To"] == head.email
    assert "Leader instruction 2.2" in instruction["Subject"]
    _show(instruction)
    # Reassigning hands the task to someone: "assigned to you" (once per task and person).
    item = open_item_of(case)
    services.task_reassign(item=item, by=coordinator, to_user=None, reason="Back to the queue.")
    services.task_reassign(item=item, by=coordinator, to_user=staff, reason="Yours again.")
    assert (
        Notification.objects.filter(
            kind=NotificationKind.HANDOFF,
            work_item=item,
            recipient=staff,
            payload__event="assigned",
        ).count()
        == 1
    )


def test_a_hand_off_to_an_away_head_reaches_their_substitute_in_the_substitutes_language(
    client, demo_users, launch, media, smtp
):
    from workflows.common.calendar import local_date
    from workflows.models import Substitution
    from workflows.organisations.substitutes import substitution_end, substitution_set

    staff = demo_users("network_work.staff")
    head = demo_users("network_work.head")
    stand_in = demo_users("grassroots_work.head")
    type(head).objects.filter(pk=head.pk).update(first_name="Li", last_name="Na")
    type(head).objects.filter(pk=stand_in.pk).update(first_name="Wang", last_name="Wei")
    Profile.objects.filter(user=stand_in).update(language="zh-hans")
    today = local_date(timezone.now())
    row = substitution_set(
        person=head, substitute=stand_in, starts_on=today, ends_on=today, by=head
    )
    case = launch("2.2")
    draft = open_item_of(case)
    if draft.assignee_id is None:
        claim(client, staff, draft)
    _deliver(smtp)
    submit(client, staff, draft, "The plan.")
    approval = open_item_of(case)
    assert routed_user(approval).pk == head.pk
    mails = {m["To"]: m for m in _deliver(smtp)}
    assert set(mails) == {head.email, stand_in.email}
    own = mails[head.email]
    assert own["Subject"].strip().startswith("[Reformflow] Waiting for your decision: 2.2 ")
    assert "behalf" not in own.get_body(("plain",)).get_content()
    copy = mails[stand_in.email]
    subject, text = copy["Subject"].strip(), copy.get_body(("plain",)).get_content()
    assert subject.startswith("[Reformflow] 等待您的决定") and subject.endswith("（代 Li Na）")
    assert "代 Li Na：您是其代理人" in text and "Dear" not in text
    assert "代 Li Na" in copy.get_body(("html",)).get_content()
    assert f"/workflows/tasks/{approval.pk}/" in text
    _show(copy)
    (logged,) = Notification.objects.filter(recipient=stand_in, kind=NotificationKind.HANDOFF)
    assert logged.payload["on_behalf_of"] == "Li Na" and logged.work_item_id == approval.pk
    # Recorded again (a retry): still one notice each (the log's dedupe).
    assert handoffs.task_opened(item=approval) == 2
    assert _deliver(smtp) == []

    # After the period, only the person.
    substitution_end(row=Substitution.objects.get(pk=row.pk), by=head)
    decide(client, head, approval, "return", "Add the budget.")
    _deliver(smtp)
    submit(client, staff, open_item_of(case), "The plan, with the budget.")
    mails = _deliver(smtp)
    assert [m["To"] for m in mails] == [head.email]


def test_notice_rows_cost_one_query_for_the_stand_ins_however_many_people(
    demo_users, django_assert_num_queries
):
    from django.contrib.auth import get_user_model

    from workflows.notifications.log import notification_rows

    few = list(get_user_model().objects.filter(is_active=True).select_related("profile")[:2])
    many = list(get_user_model().objects.filter(is_active=True).select_related("profile")[:20])
    for users in (few, many):
        with django_assert_num_queries(1):
            notification_rows(users, kind="reminder", key="k", case=None, now=timezone.now())
