"""RAG follows the facts (issue 17): the rule, and a return's amber clearing on approval."""

import pytest

from tests.casework import claim, decide, open_item_of, routed_user, submit
from workflows.cases.rag import rag_rule
from workflows.models import Case, Rag
from workflows.templatetags.badges import rag_badge


@pytest.mark.parametrize(
    ("deadline", "progress", "returned", "by_rung", "expected"),
    [
        ("green", "green", False, False, "green"),
        ("green", "green", True, False, "amber"),
        ("yellow", "green", False, False, "amber"),
        ("green", "red", False, False, "red"),
        ("red", "yellow", True, False, "red"),
        ("green", "green", False, True, "red"),
    ],
)
def test_the_rule(deadline, progress, returned, by_rung, expected):
    assert (
        rag_rule(
            deadline=deadline, progress=progress, return_outstanding=returned, red_by_rung=by_rung
        )
        == expected
    )


def test_amber_after_a_return_clears_when_the_returned_work_is_approved(client, demo_users, launch):
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    item = open_item_of(case)
    claim(client, staff, item)
    submit(client, staff, item, "Plan v1")
    approval = open_item_of(case)
    head = routed_user(approval)
    decide(client, head, approval, "return", "Add the budget.")
    assert Case.objects.get(pk=case.pk).rag == Rag.AMBER
    redo = open_item_of(case)
    if redo.assignee_id is None:
        claim(client, staff, redo)
    submit(client, staff, redo, "Plan v2")
    assert Case.objects.get(pk=case.pk).rag == Rag.AMBER  # still waiting for approval
    approval = open_item_of(case)
    decide(client, head, approval, "approve", "Fine.")
    assert Case.objects.get(pk=case.pk).rag == Rag.GREEN


def test_the_badge_carries_the_rule_in_both_languages():
    from django.utils import translation

    assert "worse of the two lights" in rag_badge("amber")
    with translation.override("zh-hans"):
        assert "两盏灯" in rag_badge("amber")
