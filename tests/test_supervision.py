"""Supervision (督查督办) through the real pages and the sweep, with time moved by time-machine.

Measure 2.2 (lead: network_work; partners: grassroots_work, organization_department;
supervising leader: secretary_publicity_network) has steps of 15, 5, 5, 240, 10 and 5 working
days: 280 in all. Launched Mon 1 Mar 2027, its draft is due Mon 22 Mar 18:00. In 2027 the
calendar is the provisional one (Qingming on Mon 5 Apr is a holiday).
"""

import datetime as dt
import io

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from tests.casework import advance, case_url, open_item_of, report_progress
from tests.deadline_helpers import beijing
from workflows.common.calendar import due_at_for
from workflows.models import (
    AuditEvent,
    CycleStatus,
    DeadlineChange,
    ExtensionRequest,
    FeedbackCycle,
    LightChange,
    LightRule,
    Notification,
    OrderStatus,
    SupervisionOrder,
)
from workflows.supervision import lights
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

LAUNCHED = beijing(2027, 3, 1, 10)
SUPERVISION = "workflows:supervision"


@pytest.fixture
def case(launch):
    with time_machine.travel(LAUNCHED, tick=False):
        return launch("2.2")


def at(moment):
    return time_machine.travel(moment, tick=False)


def sweep(moment):
    with at(moment):
        return sweep_run(now=moment)


def post_page(client, user, case, data, moment):
    # Logged in at the travelled time: a session started in 2026 has expired by 2027.
    with at(moment):
        client.force_login(user)
        return client.post(reverse(SUPERVISION, args=[case.pk]), data, follow=True)


def page_messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def lights_of(case):
    case.light.refresh_from_db()
    return case.light.deadline, case.light.progress


# --------------------------------------------------------------------------- traffic lights


def test_both_light_axes_and_the_lapse_history(client, case, coordinator):
    from workflows.deadlines.due_dates import deadline_extend

    assert lights_of(case) == ("green", "green")  # computed at launch
    sweep(beijing(2027, 3, 16, 10))  # 4 working days left (17, 18, 19, 22)
    assert lights_of(case) == ("green", "green")
    sweep(beijing(2027, 3, 17, 10))  # 3 working days left: yellow
    assert lights_of(case) == ("yellow", "green")
    sweep(beijing(2027, 3, 23, 10))  # overdue: red
    assert lights_of(case) == ("red", "green")
    # Progress: 26 working days elapsed of 280 -> 9 % expected, 0 % done: 9 behind, green.
    sweep(beijing(2027, 4, 7, 10))
    assert lights_of(case)[1] == "green" and case.light.expected_percent == 9
    # 27 elapsed -> round(9.64) = 10 % expected: 10 points behind, yellow.
    sweep(beijing(2027, 4, 8, 10))
    assert lights_of(case) == ("red", "yellow") and case.light.expected_percent == 10
    # The coordinator extends the overdue draft: the deadline light recovers in April.
    with at(beijing(2027, 4, 8, 11)):
        deadline_extend(
            item=open_item_of(case), by=coordinator, new_date=dt.date(2027, 4, 30), reason="Scope"
        )
    sweep(beijing(2027, 4, 8, 12))
    assert lights_of(case) == ("green", "yellow")
    history = [
        (c.at.astimezone(LAUNCHED.tzinfo).strftime("%m-%d"), c.axis, c.from_light, c.to_light)
        for c in LightChange.objects.filter(case=case)
    ]
    assert history == [
        ("03-17", "deadline", "green", "yellow"),
        ("03-23", "deadline", "yellow", "red"),
        ("04-08", "progress", "green", "yellow"),
        ("04-08", "deadline", "red", "green"),
    ]
    with at(beijing(2027, 4, 8, 13)):
        client.force_login(coordinator)
        page = client.get(case_url(case)).content.decode()
    assert "Deadline: Yellow → Red" in page
    assert "Deadline: Red → Green (recovered)" in page


def test_light_rules_are_data(case):
    LightRule.objects.filter(axis="progress", light="red").update(threshold=10)
    sweep(beijing(2027, 4, 8, 10))
    assert lights_of(case)[1] == "red"


def test_a_task_light_reads_its_own_deadline(case):
    item = open_item_of(case)
    with at(beijing(2027, 3, 19, 10)):
        assert lights.task_lights(item).deadline == "yellow"
        assert lights.task_lights(item).progress is None  # a draft has no progress axis


@pytest.mark.without_handoffs
def test_the_dashboard_shows_each_measure_light_on_both_axes_as_text(
    client, launch, coordinator, django_assert_max_num_queries, settings
):
    with at(LAUNCHED):
        for code in ("1.1", "1.2", "2.2", "2.5"):
            launch(code)
    sweep(beijing(2027, 3, 23, 10))
    with at(beijing(2027, 3, 23, 11)):
        client.force_login(coordinator)
        # 20: the page's own 16, plus the menu's My work count and today's substitutions; one
        # more where sessions live in the database (no Redis: the embedded default).
        budget = 20 + (settings.SESSION_ENGINE == "django.contrib.sessions.backends.db")
        with django_assert_max_num_queries(budget):
            page = client.get(reverse("workflows:dashboard")).content.decode()
    assert page.count('data-axis="deadline" data-light="red"') == 4
    assert page.count('data-axis="progress" data-light="green"') == 4
    assert '<span class="rf-light-axis">Deadline</span> red' in page
    assert '<span class="rf-light-axis">Progress</span> green' in page


# --------------------------------------------------------------------------- extension requests


def request_extension(client, user, case, moment, new_date="2027-04-09", percent=40):
    return post_page(
        client,
        user,
        case,
        {
            "action": "request_extension",
            "new_date": new_date,
            "percent": percent,
            "reason": "The survey data arrive late.",
        },
        moment,
    )


def decide(client, user, case, request, decision, moment, date="", note=""):
    return post_page(
        client,
        user,
        case,
        {
            "action": "decide_extension",
            "request_id": request.pk,
            "decision": decision,
            "date": date,
            "note": note,
        },
        moment,
    )


def test_an_extension_request_after_the_due_date_is_refused(client, case, demo_users):
    response = request_extension(
        client, demo_users("network_work.staff"), case, beijing(2027, 3, 23)
    )
    assert "has passed: an extension can only be requested before it" in page_messages(response)
    assert not ExtensionRequest.objects.exists()


def test_an_approved_extension_moves_the_due_date_and_changes_the_appraisal(
    client, case, demo_users
):
    from workflows.appraisal.scoring import appraisal_compute, department_ranking

    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    leader = demo_users("secretary_publicity_network")
    request_extension(client, staff, case, beijing(2027, 3, 19))
    request = ExtensionRequest.objects.get()
    assert request.status == "pending_head"
    # The leader cannot go first; the head approves a shorter date than asked.
    response = decide(client, leader, case, request, "approve", beijing(2027, 3, 19, 11))
    assert "The lead department's head decides first." in page_messages(response)
    decide(client, head, case, request, "approve", beijing(2027, 3, 19, 12), date="2027-04-08")
    request.refresh_from_db()
    assert request.status == "pending_leader"
    decide(client, leader, case, request, "approve", beijing(2027, 3, 22, 9))
    request.refresh_from_db()
    item = open_item_of(case)
    assert request.status == "approved" and request.approved_date == dt.date(2027, 4, 8)
    assert item.due_at == due_at_for(dt.date(2027, 4, 8))
    assert item.original_due_at == due_at_for(dt.date(2027, 3, 22))
    change = DeadlineChange.objects.get(work_item=item)
    assert (change.kind, change.by) == ("extended", leader)
    audit = AuditEvent.objects.get(verb="deadline_extended")
    assert audit.data["extension_request"] == request.pk and audit.actor == leader
    assert [(d.stage, d.approved) for d in request.decisions.all()] == [
        ("head", True),
        ("leader", True),
    ]
    # Submitted on 6 April: late against 22 March, on time against the approved 8 April.
    with at(beijing(2027, 4, 6, 10)):
        advance(client, case)
        appraisal_compute(period=dt.date(2027, 3, 1))
        appraisal_compute(period=dt.date(2027, 4, 1))
    assert department_ranking(period=dt.date(2027, 3, 1)) == []
    [april] = department_ranking(period=dt.date(2027, 4, 1))
    assert (april.department.key, april.points, april.on_time, april.extended) == (
        "network_work",
        1,
        1,
        1,
    )
    assert april.on_time_rate is None  # 0 on time / (1 due - 1 approved extension)
    page = client.get(reverse(SUPERVISION, args=[case.pk])).content.decode()
    assert "The survey data arrive late." in page and "Approved" in page


def test_a_refused_extension_keeps_the_original_date(client, case, demo_users):
    from workflows.appraisal.scoring import appraisal_compute, department_ranking

    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    request_extension(client, staff, case, beijing(2027, 3, 19))
    request = ExtensionRequest.objects.get()
    response = decide(client, head, case, request, "refuse", beijing(2027, 3, 19, 12))
    assert "Give the reason for refusing" in page_messages(response)
    decide(client, head, case, request, "refuse", beijing(2027, 3, 19, 12), note="Not justified.")
    request.refresh_from_db()
    assert request.status == "refused"
    assert open_item_of(case).due_at == due_at_for(dt.date(2027, 3, 22))
    assert not DeadlineChange.objects.exists()
    with at(beijing(2027, 4, 6, 10)):
        advance(client, case)
        appraisal_compute(period=dt.date(2027, 3, 1))
    [march] = department_ranking(period=dt.date(2027, 3, 1))
    assert (march.department.key, march.points, march.overdue, march.on_time_rate) == (
        "network_work",
        -1,
        1,
        0.0,
    )


# --------------------------------------------------------------------------- supervision orders


def test_an_unanswered_order_steps_up_blue_orange_red_and_red_asks_for_a_summons(
    client, case, coordinator, demo_users
):
    response = post_page(
        client,
        coordinator,
        case,
        {"action": "issue_order", "colour": "blue", "reason": "No plan draft yet."},
        beijing(2027, 3, 1, 11),
    )
    assert "The supervision order is issued." in page_messages(response)
    blue = SupervisionOrder.objects.get()
    assert blue.response_due_at == due_at_for(dt.date(2027, 3, 8))  # 5 working days
    sweep(beijing(2027, 3, 8, 17))
    assert SupervisionOrder.objects.count() == 1
    sweep(beijing(2027, 3, 8, 18, 1))
    blue.refresh_from_db()
    orange = blue.stepped_to
    assert (blue.status, orange.colour) == ("stepped_up", "orange")
    assert orange.response_due_at == due_at_for(dt.date(2027, 3, 11))  # 3 working days
    sweep(beijing(2027, 3, 11, 18, 1))
    orange.refresh_from_db()
    red = orange.stepped_to
    assert red.colour == "red" and red.response_due_at == due_at_for(dt.date(2027, 3, 15))
    assert red.summons.department_head == demo_users("network_work.head")
    sweep(beijing(2027, 3, 16, 10))  # red is the top: it stays open and overdue
    assert SupervisionOrder.objects.count() == 3
    assert set(
        Notification.objects.filter(kind="supervision").values_list(
            "recipient__username", flat=True
        )
    ) == {"network_work.head", "network_work.staff"}
    post_page(
        client,
        coordinator,
        case,
        {
            "action": "record_summons",
            "target_id": red.summons.pk,
            "held_on": "2027-03-17",
            "outcome": "The head commits to a draft by 24 March.",
        },
        beijing(2027, 3, 17, 15),
    )
    red.summons.refresh_from_db()
    assert red.summons.held_on == dt.date(2027, 3, 17) and red.summons.recorded_by == coordinator
    post_page(
        client,
        demo_users("network_work.head"),
        case,
        {"action": "respond_order", "target_id": red.pk, "text": "Draft by 24 March."},
        beijing(2027, 3, 17, 16),
    )
    red.refresh_from_db()
    assert red.status == "answered"
    page = client.get(reverse(SUPERVISION, args=[case.pk])).content.decode()
    assert "The head commits to a draft by 24 March." in page


def test_an_answered_order_does_not_step_up(client, case, coordinator, demo_users):
    post_page(
        client,
        coordinator,
        case,
        {"action": "issue_order", "colour": "blue", "reason": "Slow start."},
        beijing(2027, 3, 1, 11),
    )
    order = SupervisionOrder.objects.get()
    post_page(
        client,
        demo_users("network_work.staff"),
        case,
        {"action": "respond_order", "target_id": order.pk, "text": "Drafting now."},
        beijing(2027, 3, 3, 11),
    )
    sweep(beijing(2027, 3, 10, 10))
    assert list(SupervisionOrder.objects.values_list("colour", "status")) == [("blue", "answered")]


def test_a_lagging_department_receives_an_orange_order_automatically(case):
    sweep(beijing(2027, 3, 22, 18))  # rung 1: no order
    assert not SupervisionOrder.objects.exists()
    before = len(mail.outbox)
    sweep(beijing(2027, 3, 24, 18))  # rung 2: orange order
    order = SupervisionOrder.objects.get()
    assert (order.colour, order.issued_by, order.escalation.rung) == ("orange", None, 2)
    assert order.department.key == "network_work"
    supervision_mail = [
        m for m in mail.outbox[before:] if m.extra_headers["X-Reformflow-Kind"] == "supervision"
    ]
    assert sorted(m.to[0] for m in supervision_mail) == [
        "network_work.head@example.org",
        "network_work.staff@example.org",
    ]
    assert "Supervision order (Orange)" in supervision_mail[0].subject
    sweep(beijing(2027, 3, 29, 18))  # rung 3: red order supersedes the orange one
    order.refresh_from_db()
    assert order.status == OrderStatus.STEPPED_UP
    assert (order.stepped_to.colour, order.stepped_to.escalation.rung) == ("red", 3)
    sweep(beijing(2027, 3, 29, 18, 5))  # nothing twice
    assert SupervisionOrder.objects.count() == 2


# --------------------------------------------------------------------------- leader instructions


def test_a_leader_instruction_is_tracked_to_its_reply(client, case, demo_users, auditor):
    leader = demo_users("secretary_publicity_network")
    response = post_page(
        client, auditor, case, {"action": "issue_instruction", "text": "No."}, LAUNCHED
    )
    assert response.status_code == 403  # auditors' writes stop at the middleware
    post_page(
        client,
        leader,
        case,
        {
            "action": "issue_instruction",
            "text": "Report the pilots to me.",
            "due_date": "2027-03-10",
        },
        beijing(2027, 3, 2, 10),
    )
    instruction = case.instructions.get()
    assert instruction.due_at == due_at_for(dt.date(2027, 3, 10))
    with at(beijing(2027, 3, 11, 9)):
        client.force_login(demo_users("network_work.staff"))
        page = client.get(case_url(case)).content.decode()
    assert "Report the pilots to me." in page and "overdue" in page
    post_page(
        client,
        demo_users("network_work.staff"),
        case,
        {"action": "reply_instruction", "target_id": instruction.pk, "text": "Two pilots run."},
        beijing(2027, 3, 11, 10),
    )
    instruction.refresh_from_db()
    assert instruction.reply == "Two pilots run." and instruction.replied_at is not None
    replied = AuditEvent.objects.get(verb="instruction_replied")
    assert replied.data == {"instruction": instruction.pk, "late": True}
    with at(beijing(2027, 3, 11, 11)):
        page = client.get(case_url(case)).content.decode()
    panel = page.split('id="supervision"')[1].split("</section>")[0]
    assert "Report the pilots to me." not in panel  # the panel lists only open instructions


# --------------------------------------------------------------------------- appraisal, bulletin


def test_appraisal_figures_ranking_bulletin_and_traceable_points(
    client, launch, demo_users, auditor, coordinator
):
    """By hand, March 2027 (scoring +1 on time, -1 overdue, -2 returned):
    network_work (2.2): draft on time +1, head approval on time +1          = +2
    publicity_education (2.5): draft on time +1, head returns it: its step
        on time +1, the return -2                                             =  0
    grassroots_work (1.3): draft never submitted, overdue -1                  = -1
    """
    from workflows.appraisal.scoring import appraisal_compute

    with at(LAUNCHED):
        c22, c25 = launch("2.2"), launch("2.5")
        launch("1.3")  # grassroots_work: its draft is never submitted
    with at(beijing(2027, 3, 10, 10)):
        advance(client, c22)
        advance(client, c25)
    with at(beijing(2027, 3, 11, 10)):
        advance(client, c22)  # head approves
        item = open_item_of(c25)
        client.force_login(demo_users("publicity_education.head"))  # inside the travel
        client.post(
            reverse("workflows:task", args=[item.pk]),
            {"action": "decide", "decision": "return", "comment": "Too vague."},
        )
    with at(beijing(2027, 4, 1, 10)):
        client.force_login(coordinator)
        client.post(reverse("workflows:appraisal"), {"period": "2027-03"})
    client.force_login(auditor)
    page = client.get(reverse("workflows:appraisal") + "?period=2027-03").content.decode()
    rows = page.split("<tbody>")[1]
    order = [rows.index(name) for name in ("Network", "Publicity", "Grassroots")]
    assert order == sorted(order)
    entries = appraisal_compute(period=dt.date(2027, 3, 1), now=beijing(2027, 4, 1, 10))
    by_dept = {}
    for entry in entries:
        by_dept.setdefault(entry.department.key, []).append((entry.kind, entry.points))
    assert sorted(by_dept["network_work"]) == [("on_time", 1), ("on_time", 1)]
    assert sorted(by_dept["publicity_education"]) == [
        ("on_time", 1),
        ("on_time", 1),
        ("returned", -2),
    ]
    assert by_dept["grassroots_work"] == [("overdue", -1)]
    # Every point names its event: the auditor follows the returned one to the case timeline.
    returned = next(e for e in entries if e.kind == "returned")
    assert returned.event.verb == "returned" and returned.event.reason == "Too vague."
    dept = returned.department
    page = client.get(
        reverse("workflows:appraisal_department", args=[dept.pk]) + "?period=2027-03"
    ).content.decode()
    anchor = f"{case_url(c25)}#event-{returned.event_id}"
    assert anchor in page
    timeline = client.get(case_url(c25)).content.decode()
    assert f'id="event-{returned.event_id}"' in timeline
    # The dashboard names the best and the lagging; the PDF bulletin ranks them.
    dashboard = client.get(reverse("workflows:dashboard")).content.decode()
    bulletin = dashboard.split('class="rf-bulletin"')[1].split("</section>")[0]
    assert "Best" in bulletin and "Network" in bulletin.split("Lagging")[0]
    assert "Grassroots" in bulletin.split("Lagging")[1]
    response = client.get(reverse("workflows:bulletin") + "?period=2027-03")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_the_cap_limits_points_per_rule_and_month(client, launch):
    from workflows.appraisal.scoring import appraisal_compute
    from workflows.models import ScoringRule

    ScoringRule.objects.filter(kind="on_time").update(cap_per_period=1)
    with at(LAUNCHED):
        case = launch("2.2")
    with at(beijing(2027, 3, 10, 10)):
        advance(client, case)
    with at(beijing(2027, 3, 11, 10)):
        advance(client, case)
    entries = appraisal_compute(period=dt.date(2027, 3, 1), now=beijing(2027, 4, 1))
    assert [(e.points, e.rule_points) for e in entries] == [(1, 1), (0, 1)]
    assert entries[1].note.endswith("cap reached")


# --------------------------------------------------------------------------- the ledger


def test_the_ledger_exports_open_with_openpyxl_and_python_docx(client, case, coordinator):
    import docx
    import openpyxl

    sweep(beijing(2027, 3, 23, 10))
    with at(beijing(2027, 3, 23, 11)):
        client.force_login(coordinator)
        xlsx = client.get(reverse("workflows:ledger", args=["xlsx"]))
        docx_response = client.get(reverse("workflows:ledger", args=["docx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[2]][:3] == ["No.", "Measure", "Lead department"]
    row = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == "2.2")
    assert row[3]  # partner departments listed
    assert row[6] == "red 红 / green 绿"
    assert "overdue" in row[7]
    assert sheet.max_row == 2 + 30  # every measure of the plan
    document = docx.Document(io.BytesIO(docx_response.content))
    table = document.tables[0]
    assert table.rows[0].cells[0].text == "No."
    assert any(r.cells[0].text == "2.2" and "red" in r.cells[6].text for r in table.rows)


# --------------------------------------------------------------------------- feedback cycles


def to_implementation(client, case):
    with at(beijing(2027, 3, 2, 10)):
        for _ in range(3):  # draft, head approval, leader approval
            advance(client, case)
    assert open_item_of(case).kind == "implement"


def test_a_missed_cycle_is_recorded_and_carried_forward(client, case, coordinator):
    to_implementation(client, case)
    sweep(beijing(2027, 3, 2, 12))
    march = FeedbackCycle.objects.get()
    assert (march.period_start, march.period_end) == (dt.date(2027, 3, 1), dt.date(2027, 3, 31))
    # 5th working day of April: 1, 2, 6, 7, 8 (Mon 5 April is Qingming).
    assert march.due_at == due_at_for(dt.date(2027, 4, 8))
    sweep(beijing(2027, 4, 2, 9, 30))  # 3 working days before: a reminder
    reminder = Notification.objects.get(kind="feedback")
    assert reminder.recipient.username == "network_work.staff"
    assert reminder.status == "sent" and "progress report" in mail.outbox[-1].subject
    # The period and the due day in words, not ISO dates.
    body = mail.outbox[-1].body
    assert "for 1 Mar 2027 – 31 Mar 2027 is due on 8 Apr 2027" in body and "2027-03" not in body
    april = FeedbackCycle.objects.get(period_start=dt.date(2027, 4, 1))
    sweep(beijing(2027, 4, 9, 10))
    march.refresh_from_db()
    april.refresh_from_db()
    assert march.status == CycleStatus.MISSED and april.carried_from == march
    assert AuditEvent.objects.filter(verb="feedback_missed", data__cycle=march.pk).count() == 1
    sweep(beijing(2027, 4, 9, 10, 1))
    assert FeedbackCycle.objects.filter(status="missed").count() == 1
    with at(beijing(2027, 4, 9, 11)):
        client.force_login(coordinator)
        page = client.get(case_url(case)).content.decode()
    assert "Progress report for 1 Mar 2027 – 31 Mar 2027 missed; carried forward" in page
    page = client.get(reverse(SUPERVISION, args=[case.pk])).content.decode()
    assert "carries forward the missed report of 1 Mar 2027" in page


def test_partner_inputs_are_consolidated_into_the_lead_report(client, case, demo_users):
    to_implementation(client, case)
    staff = demo_users("network_work.staff")
    with at(beijing(2027, 3, 15, 10)):
        report_progress(client, staff, open_item_of(case), 30, "Pilot in two provinces.")
    sweep(beijing(2027, 4, 1, 10))
    cycle = FeedbackCycle.objects.get(period_start=dt.date(2027, 4, 1))
    url = reverse("workflows:cycle", args=[cycle.pk])
    for username, text in [
        ("grassroots_work.staff", "Grassroots unions joined the pilot."),
        ("organization_department.head", "Staffing approved."),
    ]:
        with at(beijing(2027, 4, 20, 10)):
            client.force_login(demo_users(username))
            client.post(url, {"action": "input", "text": text})
    with at(beijing(2027, 4, 20, 11)):
        client.force_login(demo_users("coordinator.office"))  # sees the case, not a partner
        response = client.post(url, {"action": "input", "text": "Not a partner."}, follow=True)
    assert "Only the measure's partner departments give input here." in page_messages(response)
    assert cycle.inputs.count() == 2
    # The lead's form starts from the last report.
    with at(beijing(2027, 4, 21, 10)):
        client.force_login(staff)
        form = client.get(url).context["report_form"]
    assert form.initial == {"percent": 30, "note": "Pilot in two provinces."}
    grassroots = cycle.inputs.get(department__key="grassroots_work")
    with at(beijing(2027, 4, 21, 10)):
        client.post(
            url,
            {
                "action": "report",
                "percent": 45,
                "note": "Pilots running; grassroots unions joined.",
                "inputs": [grassroots.pk],
            },
        )
    cycle.refresh_from_db()
    assert cycle.status == "submitted" and cycle.report.percent == 45
    assert list(cycle.included_inputs.all()) == [grassroots]
    assert cycle.report.work_item == open_item_of(case)
    event = AuditEvent.objects.get(verb="feedback_submitted")
    assert event.data["inputs"] == ["grassroots_work"] and event.data["report"] == cycle.report_id


@pytest.mark.parametrize(
    ("cadence", "day", "bounds"),
    [
        ("weekly", dt.date(2027, 3, 17), (dt.date(2027, 3, 15), dt.date(2027, 3, 21))),
        ("monthly", dt.date(2027, 2, 17), (dt.date(2027, 2, 1), dt.date(2027, 2, 28))),
        ("quarterly", dt.date(2027, 11, 3), (dt.date(2027, 10, 1), dt.date(2027, 12, 31))),
    ],
)
def test_reporting_periods(cadence, day, bounds):
    from workflows.supervision.cycles import period_bounds

    assert period_bounds(cadence, day) == bounds


def test_a_measure_can_report_quarterly(client, case):
    from workflows.models import FeedbackPolicy

    FeedbackPolicy.objects.create(measure=case.measure, cadence="quarterly", due_working_day=5)
    to_implementation(client, case)
    sweep(beijing(2027, 3, 2, 12))
    cycle = FeedbackCycle.objects.get()
    assert (cycle.period_start, cycle.period_end) == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    assert cycle.due_at == due_at_for(dt.date(2027, 4, 8))
