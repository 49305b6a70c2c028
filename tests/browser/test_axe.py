"""axe-core (from the npm registry, served from our own static files: `make assets`) finds no
serious or critical violation on the main pages, in both languages and at both widths."""

from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage

from tests.browser.conftest import DESKTOP, PHONE, ROOT
from workflows.cases import services
from workflows.models import WorkItem

pytestmark = pytest.mark.browser

AXE = ROOT / "static" / "vendor" / "axe.min.js"
# What axe reports, one line per failing rule: id, impact, where, and the help text.
SERIOUS_JS = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3)
      .map(n => n.target.join(" ")).join(", ")}`);
}"""


def axe_violations(page, path: str) -> list[str]:
    page.goto(path, wait_until="networkidle")
    # The page's own origin serves axe (a script from 'self' passes the CSP), no CDN.
    page.add_script_tag(url=staticfiles_storage.url("vendor/axe.min.js"))
    return [f"{path}: {line}" for line in page.evaluate(SERIOUS_JS)]


def test_axe_core_is_installed_from_the_lock_file():
    assert AXE.exists(), f"{AXE} is missing: run `make assets` (npm ci, then the copy)"
    assert Path(ROOT / "package-lock.json").read_text().count('"node_modules/axe-core"') == 1


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
def test_the_main_pages_have_no_serious_accessibility_violation(
    fresh_page, signed_in, launch, demo_users, language, viewport
):
    case = launch("2.2")
    item = WorkItem.objects.get(case=case, status="open")
    services.task_claim(item=item, user=demo_users("network_work.staff"))
    staff = signed_in("network_work.staff")
    coordinator = signed_in("coordinator.office")

    found = axe_violations(fresh_page(viewport=viewport, language=language), "/accounts/login/")
    page = fresh_page(staff, viewport=viewport, language=language)
    for path in ("/workflows/", "/workflows/inbox/", f"/workflows/tasks/{item.pk}/"):
        found += axe_violations(page, path)
    page = fresh_page(coordinator, viewport=viewport, language=language)
    for path in ("/workflows/dashboard/", f"/workflows/cases/{case.pk}/", "/workflows/reports/"):
        found += axe_violations(page, path)

    assert found == [], "\n".join(found)
