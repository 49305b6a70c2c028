"""A substitute's act reads in words on the audit desk, its CSV and the case's history:
"Approved by Wang Wei on behalf of Li Na" / "王伟 代 李娜 已同意", with display names."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone, translation

from tests.casework import open_item_of
from workflows.cases import services
from workflows.common.calendar import local_date
from workflows.models import AuditEvent
from workflows.organisations.substitutes import substitution_set

pytestmark = pytest.mark.django_db
AUDIT = reverse("workflows:audit")


def _text(response) -> str:
    assert response.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def approved_on_behalf(launch, demo_users):
    """The head (Li Na) is away; Wang Wei, standing in, approves the staff's plan."""
    users = get_user_model().objects
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    stand_in = demo_users("grassroots_work.head")
    users.filter(pk=head.pk).update(first_name="Li", last_name="Na")
    users.filter(pk=stand_in.pk).update(first_name="Wang", last_name="Wei")
    today = local_date(timezone.now())
    substitution_set(
        person=head, substitute=stand_in, starts_on=today, ends_on=today + dt.timedelta(1), by=head
    )
    case = launch("2.2")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    services.task_submit(item=draft, user=staff, note="The plan.")
    approval = open_item_of(case)
    services.task_approve(item=approval, user=users.get(pk=stand_in.pk), comment="Fine.")
    event = AuditEvent.objects.get(work_item=approval, verb="approved")
    assert event.data["on_behalf_of"] == "network_work.head"
    return case, head, stand_in


def _chinese_names(head, stand_in):
    users = get_user_model().objects
    users.filter(pk=head.pk).update(first_name="李娜", last_name="")
    users.filter(pk=stand_in.pk).update(first_name="王伟", last_name="")


def test_the_audit_desk_says_who_acted_on_whose_behalf_in_both_languages(
    client, coordinator, approved_on_behalf
):
    _case, head, stand_in = approved_on_behalf
    client.force_login(coordinator)
    page = _text(client.get(AUDIT, {"verb": "approved"}))
    assert "Approved by Wang Wei on behalf of Li Na" in page
    assert "network_work.head" not in page and "on_behalf_of" not in page
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(reverse("workflows:audit_csv"), {"verb": "approved"})
                .getvalue()
                .decode("utf-8-sig")
            )
        )
    )
    assert [row["action"] for row in rows] == ["Approved by Wang Wei on behalf of Li Na"]

    _chinese_names(head, stand_in)
    page = _text(client.get(AUDIT, {"verb": "approved"}, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "王伟 代 李娜 已同意" in page and "on behalf" not in page
    body = (
        client.get(
            reverse("workflows:audit_csv"), {"verb": "approved"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
        .getvalue()
        .decode("utf-8-sig")
    )
    assert [row["action"] for row in csv.DictReader(io.StringIO(body))] == ["王伟 代 李娜 已同意"]


def test_the_case_history_says_who_acted_on_whose_behalf_in_both_languages(
    client, coordinator, approved_on_behalf
):
    case, head, stand_in = approved_on_behalf
    client.force_login(coordinator)
    url = reverse("workflows:case", args=[case.pk])
    page = _text(client.get(url))
    assert "Approved by Wang Wei on behalf of Li Na" in page
    assert "Wang Wei · Approved" not in page  # the sentence names them once

    _chinese_names(head, stand_in)
    page = _text(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "王伟 代 李娜 已同意" in page


def test_a_page_of_events_names_the_people_in_one_query(
    approved_on_behalf, django_assert_num_queries
):
    from workflows.common import wording

    events = list(AuditEvent.objects.select_related("actor").order_by("pk"))
    with django_assert_num_queries(2):  # organisations named, people named
        wording.events_primed(events)
    with django_assert_num_queries(0), translation.override("en"):
        sentences = [wording.event_sentence_by(e) for e in events]
    assert "Approved by Wang Wei on behalf of Li Na" in sentences
