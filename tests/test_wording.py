"""Human words: history verbs and step kinds as phrases, audit details as lines, one date style
per language and the time zone in words, through workflows/wording.py."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from tests.casework import case_url
from tests.test_cascade import frozen, national_case, world  # noqa: F401 (fixtures)
from workflows.cases import cascade
from workflows.common import wording
from workflows.models import AuditEvent, Organisation

pytestmark = pytest.mark.django_db

RAW_KEYS = ("task_created", "case_launched", "case_cascaded", "task_assigned", "{'", "': ")


def visible(html: str) -> str:
    """The page's text, without tags, attributes, scripts and styles."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"(?s)<[^>]+>", " ", html))


def test_the_history_says_where_a_case_was_cascaded_in_both_languages(world, frozen, client):  # noqa: F811
    national = national_case(world)
    cascade.case_cascade(
        case=national, by=world("coordinator.office"), organisations=["beijing", "guangdong"]
    )
    client.force_login(world("coordinator.office"))
    names = {o.code: o for o in Organisation.objects.filter(code__in=["beijing", "guangdong"])}

    page = visible(client.get(case_url(national)).content.decode())
    assert f"Cascaded to {names['beijing'].title_en}, {names['guangdong'].title_en}" in page
    assert "Step opened, due" in page and "Case launched" in page
    for key in RAW_KEYS:
        assert key not in page, key

    for query in ("", "?verb=case_cascaded", "?verb=task_created"):
        audit = visible(client.get(reverse("workflows:audit") + query).content.decode())
        for key in (*RAW_KEYS, "draft_plan"):
            assert key not in audit, (query, key)
    audit = visible(client.get(reverse("workflows:audit") + "?verb=case_cascaded").content.decode())
    assert "Cascaded to" in audit and "New cases" in audit and "Deadline cap 14 Jan 2028" in audit
    assert "Existing cases" not in audit  # empty values are left out

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    page = visible(client.get(case_url(national), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    zh = names["beijing"].title_zh or names["beijing"].title_en
    assert f"已下发至 {zh}、" in page
    assert "步骤已开启" in page and "年" in page


def test_every_recorded_verb_has_words_in_both_languages():
    verbs = set(wording.VERBS)
    assert {"task_created", "case_cascaded", "approved", "returned"} <= verbs
    with translation.override("zh-hans"):
        for verb in verbs:
            label = wording.verb_label(verb)
            assert re.search(r"[\u4e00-\u9fff]", label), (verb, label)
        assert wording.kind_label("implement") == "实施"
        assert wording.zone_name() == "北京时间"
    with translation.override("en"):
        assert wording.kind_label("submit") == "Submit"
        assert wording.zone_name() == "Beijing time"


def test_details_are_lines_not_dicts(db):
    event = AuditEvent(verb="task_reassigned", data={"from": "a.b", "to": "c.d", "kind": "submit"})
    with translation.override("en"):
        lines = wording.detail_lines(event.data)
        assert lines == [("From", "a.b"), ("To", "c.d"), ("Kind", "Submit")]
        assert wording.event_sentence(event) == "Step reassigned to c.d"


def test_one_confirmation_saying_where_the_work_went(client, launch):
    from django.contrib.messages import get_messages

    from tests.casework import claim, open_item_of, routed_user, submit

    case = launch("2.2")
    item = open_item_of(case)
    staff = routed_user(item)
    claim(client, staff, item)
    response = submit(client, staff, item, "Plan attached.")
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages[-1] == "Submitted to the head of the Network Work Department."
    # Shown once: as the banner, not again in the toast.
    page = client.get(response.url)
    html = page.content.decode()
    assert html.count("Submitted to the head of the Network Work Department.") == 1
    assert re.search(r"<vf-snackbar[^>]*>\s*</vf-snackbar>", html)

    head = routed_user(open_item_of(case))
    client.force_login(head)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    response = client.post(
        reverse("workflows:task", args=[open_item_of(case).pk]),
        {"action": "decide", "decision": "return", "comment": "请补充材料"},
    )
    message = [str(m) for m in get_messages(response.wsgi_request)][-1]
    assert message.startswith("已退回修改，转") and message.endswith("办理。"), message


def test_launch_and_cascade_messages_use_proper_plurals():
    with translation.override("en"):
        assert wording.launch_message(1, 0) == "1 case launched."
        assert wording.launch_message(2, 1) == "2 cases launched, 1 already open."
        assert wording.cascade_message(1, 0) == "1 child case launched."
        assert wording.cascade_message(0, 2) == "0 child cases launched, 2 already there."
    with translation.override("zh-hans"):
        assert wording.launch_message(2, 1) == "已启动 2 项，1 项已在办理中。"
        assert wording.cascade_message(1, 0) == "已向下级部署 1 项。"


def test_the_side_menu_marks_the_section_of_case_task_and_launch_pages(client, launch, coordinator):
    from tests.casework import open_item_of

    case = launch("2.2")
    client.force_login(coordinator)

    def selected(url):
        html = client.get(url).content.decode()
        return re.findall(r'mdc-list-item--selected"[^>]*href="([^"]+)"', html)

    home, programme, inbox = (reverse(f"workflows:{n}") for n in ("index", "dashboard", "inbox"))
    assert selected(home) == [home]
    assert selected(case_url(case)) == [programme]
    assert selected(reverse("workflows:launch")) == [programme]
    assert selected(reverse("workflows:task", args=[open_item_of(case).pk])) == [inbox]
    assert selected(reverse("workflows:audit")) == []  # left to viewflow's script (by path)


def test_assignments_name_the_person_not_their_user_name(world):  # noqa: F811
    """'Step assigned to Network Work Head', never to 'network_work.head', in the sentence and
    in the detail lines, with the people of a page loaded in one query."""
    head = world("network_work.head")
    head.first_name, head.last_name = "Na", "Li"
    head.save(update_fields=["first_name", "last_name"])
    events = [
        AuditEvent(verb="task_assigned", data={"to": "network_work.head"}),
        AuditEvent(verb="task_reassigned", data={"to": "network_work.head", "from": "nobody"}),
    ]
    wording.events_primed(events)
    with translation.override("en"):
        assert wording.event_sentence(events[0]) == "Step assigned to Na Li"
        details = dict(wording.event_details(events[1]))
    assert "Na Li" in details.values() and "network_work.head" not in details.values()
    assert "nobody" in details.values()  # a name no account has stays as recorded


def test_a_verification_of_the_chain_is_worded_in_both_languages():
    detail_lines = wording.detail_lines
    data = {"ok": True, "count": 3, "broken_event": 7, "problem": "x", "pending": 1, "sealed": 2}
    with translation.override("en"):
        labels = [label for label, _value in detail_lines(data)]
    assert labels == [
        "Chain intact",
        "Events checked",
        "First broken event",
        "Problem",
        "Events awaiting their seal",
        "Sealed before the check",
    ]
    with translation.override("zh-hans"):
        lines = detail_lines(data)
    assert [label for label, _value in lines][:2] == ["哈希链完好", "核验的事件数"]
    assert all(not label.isascii() for label, _value in lines)
