"""Human words in Chinese, in Chromium: the case history as sentences, the audit desk's details
as lines that keep the page narrow, and Chinese dates. Pictures (.tmp.png) to look at."""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.browser.conftest import screenshot
from tests.conftest import DEMO_PASSWORD
from workflows.cases import cascade, launch
from workflows.demo.accounts import demo_seed
from workflows.models import Measure, Profile, WorkItem

pytestmark = pytest.mark.browser


def test_case_history_and_audit_desk_read_as_chinese_words(login, site):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=0)
    users = get_user_model().objects
    office = users.get(username="coordinator.office")
    case, _ = launch.case_launch(measure=Measure.objects.get(code="3.1"), by=office)
    cascade.case_cascade(case=case, by=office, level="provincial")
    Profile.objects.filter(user=office).update(language="zh-hans")

    page = login("coordinator.office", language="zh-CN")
    page.goto(f"/workflows/cases/{case.pk}/")
    history = page.locator(".rf-event").all_inner_texts()
    text = " ".join(history)
    assert "已下发至" in text and "事项已启动" in text, text
    assert not re.search(r"\b(task_created|case_launched|case_cascaded)\b", text)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", page.locator("body").inner_text())
    screenshot(page, "words-case-history-zh", shown_in_readme=False)

    page.goto("/workflows/desk/audit/")
    body = page.locator("body").inner_text()
    assert "{'" not in body and "已下发至" in body
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1400, width  # the details wrap instead of stretching the page
    screenshot(page, "words-audit-desk-zh", shown_in_readme=False)

    page.goto(f"/workflows/tasks/{WorkItem.objects.filter(case=case).order_by('pk').first().pk}/")
    screenshot(page, "words-task-zh", shown_in_readme=False)
