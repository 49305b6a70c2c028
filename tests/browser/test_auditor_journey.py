"""The auditor's journey: the reports desk, a completion report downloaded, and the download
found in the audit trail; nothing on the way offers to change a case."""

import hashlib
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.casework import walk_to_end
from workflows.models import AuditEvent, Report

pytestmark = pytest.mark.browser

# The only forms an auditor may see: language, log out, verify the chain, ask for a report.
READ_ONLY_FORMS = {"/i18n/setlang/", "/accounts/logout/", "/workflows/desk/audit/verify/"}


def test_an_auditor_downloads_a_completion_report_and_finds_the_download_audited(
    login, launch, client, tmp_path
):
    case = launch("2.2")
    walk_to_end(client, case)  # signed off: the completion report renders on commit
    report = Report.objects.get(case=case, kind="completion")
    assert report.status == "ready"

    page = login("auditor")
    page.goto("/workflows/reports/")
    row = page.locator(f"tr[data-report='{report.pk}']")
    expect(row).to_contain_text("2.2")
    expect(row).to_contain_text(report.sha256[:12])
    expect(page.locator("main")).not_to_contain_text("{#")  # no template source leaks
    screenshot(page, "reports")
    actions = set(page.eval_on_selector_all("form[method=post]", "fs => fs.map(f => f.action)"))
    actions = {re.sub(r"^https?://[^/]+", "", a) for a in actions}
    assert actions <= READ_ONLY_FORMS | {reverse("workflows:report_request")}, actions

    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download PDF").click()
    saved = tmp_path / "report.pdf"
    download_info.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == report.sha256

    # Every request that served the file is on record (Chromium may fetch a download twice).
    downloads = AuditEvent.objects.filter(verb="report_downloaded", actor_name="auditor")
    assert downloads.exists()
    assert {event.data["report"] for event in downloads} == {report.pk}
    page.goto("/workflows/desk/audit/?verb=report_downloaded")
    expect(page.locator("main")).to_contain_text("Report downloaded")  # the verb in words
    who = downloads.first().actor
    expect(page.locator("main")).to_contain_text(who.get_full_name() or who.username)

    page.goto(f"/workflows/cases/{case.pk}/")
    actions = set(page.eval_on_selector_all("form[method=post]", "fs => fs.map(f => f.action)"))
    actions = {re.sub(r"^https?://[^/]+", "", a) for a in actions}
    assert actions <= READ_ONLY_FORMS, actions
