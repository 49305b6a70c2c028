"""Decisions with their context (issue 17): the decider sees the submitted text, its
attachments with hashes, the goal and target, the earlier rounds and their return reasons;
a returned task shows the reason and starts from the last text; inbox rows carry marks."""

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.casework import claim, decide, login_as, open_item_of, routed_user, submit, task_url
from workflows.cases.decision_context import decision_context

PDF = b"%PDF-1.4\n" + b"the plan's annex " * 20 + b"\n%%EOF\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def _submit_plan(client, demo_users, case, text, name="annex.pdf"):
    item = open_item_of(case)
    staff = demo_users("network_work.staff")
    if item.assignee_id is None:
        claim(client, staff, item)
    upload = SimpleUploadedFile(name, PDF, "application/pdf")
    response = submit(client, staff, item, text, files=[upload])
    assert response.status_code == 302, response.context and response.context["form"].errors
    return staff


def test_the_decider_sees_text_attachment_goal_and_rounds(client, demo_users, launch, media):
    case = launch("2.2")
    _submit_plan(client, demo_users, case, "Round one: merge the two offices.")
    approval = open_item_of(case)
    head = routed_user(approval)
    decide(client, head, approval, "return", "Name the budget line.")
    _submit_plan(client, demo_users, case, "Round two: merge, budget line 7.", name="annex2.pdf")
    approval = open_item_of(case)
    login_as(client, head)
    page = client.get(task_url(approval)).content.decode()
    assert "Round two: merge, budget line 7." in page
    assert "annex2.pdf" in page
    assert hashlib.sha256(PDF).hexdigest() in page
    assert "Name the budget line." in page  # the earlier round's return reason
    assert "Round one: merge the two offices." in page  # the earlier round's text
    assert case.measure.code in page
    ctx = decision_context(approval)
    assert ctx.target_months == case.measure.target_months
    # The submission being decided is shown once, above; earlier rounds hold what came before.
    assert [r.outcome for r in ctx.rounds] == ["submitted", "returned"]
    assert page.count("annex2.pdf") == 1
    assert ctx.return_reason == ""  # the decider is not the one the work was returned to
    # The download link goes through the reach-checked evidence view.
    link = reverse("workflows:evidence", args=[ctx.attachments[0].pk])
    assert link in page
    assert client.get(link).status_code == 200
    # The inbox marks the approval as resubmitted.
    inbox = client.get(reverse("workflows:inbox")).content.decode()
    assert "rf-mark-resubmitted" in inbox and "Resubmitted" in inbox


def test_a_returned_task_shows_the_reason_and_starts_from_the_last_text(
    client, demo_users, launch, media
):
    case = launch("2.2")
    staff = _submit_plan(client, demo_users, case, "First draft of the plan.")
    approval = open_item_of(case)
    decide(client, routed_user(approval), approval, "return", "Add the timetable.")
    redo = open_item_of(case)
    login_as(client, staff)
    response = client.get(task_url(redo))
    page = response.content.decode()
    assert page.index("Add the timetable.") < page.index('name="note"')
    assert page.index('class="rf-returned"') < page.index('class="rf-decision"')
    assert response.context["form"].initial["note"] == "First draft of the plan."
    assert "First draft of the plan.</textarea>" in page
    inbox_or_queue = (
        client.get(reverse("workflows:inbox")).content.decode()
        + client.get(reverse("workflows:queue")).content.decode()
    )
    assert "rf-mark-returned" in inbox_or_queue
    client.post(reverse("set_language"), {"language": "zh-hans", "next": task_url(redo)})
    zh = client.get(task_url(redo)).content.decode()
    assert "退回了此项工作" in zh and "Add the timetable." in zh
    zh_inbox = client.get(reverse("workflows:inbox")).content.decode()
    zh_inbox += client.get(reverse("workflows:queue")).content.decode()
    assert "已退回给您" in zh_inbox


@pytest.mark.parametrize("rounds", [1, 4])
def test_the_task_page_costs_fixed_queries(
    client, demo_users, launch, media, rounds, django_assert_max_num_queries
):
    case = launch("2.2")
    for n in range(rounds):
        _submit_plan(client, demo_users, case, f"Round {n}", name=f"a{n}.pdf")
        approval = open_item_of(case)
        if n < rounds - 1:
            decide(client, routed_user(approval), approval, "return", f"Reason {n}")
    head = routed_user(approval)
    login_as(client, head)
    client.get(task_url(approval))  # warm the per-process caches
    with django_assert_max_num_queries(QUERY_BUDGET) as counted:
        response = client.get(task_url(approval))
    print(f"task page, {rounds} round(s): {len(counted.captured_queries)} queries")
    assert response.status_code == 200
    assert f"Round {rounds - 1}" in response.content.decode()


# Measured: 22 at one round and at four (PostgreSQL and SQLite alike).
# The page with its context (22), the menu's My work count, the urge line and today's
# substitutions (separation of duties across a pair): fixed, whatever the rounds.
QUERY_BUDGET = 26
